//! `POST /admin/grants`: the grant records, for `admin export` and `admin
//! import`. Only in Durable Object mode, and only with the secret
//! `ADMIN_TOKEN` set: a grant's object can be reached from the Worker alone
//! (wrangler reads KV, not objects). In KV mode `admin` reads the grants in KV
//! itself, and this route is not needed.
//!
//! The body is JSON, one of:
//! - `{"get": [grant id, …]}`: answers `{"grants": [record, …]}` with the
//!   records found, each as the grant's object holds it (a revocation the
//!   object made itself shows as `revoked_at`);
//! - `{"restore": [record, …]}`: writes each record back in its object;
//!   answers `{"restored": n}`;
//! - `{"profile": {"ids": [grant id, …], "profile": profile}}`: puts a
//!   user's [`Profile`] on each grant (`admin user update`), in its object;
//!   answers `{"updated": n}`, the number of grants found.
//!
//! At most [`GRANTS_PER_CALL`] grants per call: each is one call to an object
//! (and a KV read for `get`), and a request may make only so many (50 on the
//! Free plan).
//!
//! Without the right `Authorization: Bearer <ADMIN_TOKEN>` the answer is 404,
//! as for any unknown path, and nothing is read or written.

use serde::{Deserialize, Serialize};

use crate::crypto::ct_eq;
use crate::grant::durable::GRANTS_PER_CALL;
use crate::grant::GrantStore;
use crate::http::{ErrorBody, LogFields, Method, Request, Response};
use crate::store::{GrantRecord, Profile};
use crate::types::GrantId;
use crate::Ctx;

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Call {
    Get(Vec<GrantId>),
    Restore(Vec<GrantRecord>),
    Profile { ids: Vec<GrantId>, profile: Profile },
}

#[derive(Serialize)]
struct Found {
    grants: Vec<GrantRecord>,
}

#[derive(Serialize)]
struct Restored {
    restored: usize,
}

#[derive(Serialize)]
struct Updated {
    updated: usize,
}

/// Handles `POST /admin/grants`.
pub(super) async fn handle<S: GrantStore>(req: &Request, ctx: &Ctx<'_, S>) -> Response {
    let mut log = LogFields::default();
    let response = answer(req, ctx, &mut log).await;
    response.with_log(log)
}

async fn answer<S: GrantStore>(req: &Request, ctx: &Ctx<'_, S>, log: &mut LogFields) -> Response {
    if !authorized(req, ctx) {
        log.reason = Some("admin route off, or not its token");
        return Response::json(404, &ErrorBody::code("not_found"));
    }
    let bad = |reason| Response::json(400, &ErrorBody::new("invalid_request", reason));
    if req.method() != Method::Post {
        return bad("POST a JSON body");
    }
    let Some(call) = req
        .body
        .as_deref()
        .and_then(|b| serde_json::from_slice::<Call>(b).ok())
    else {
        log.reason = Some("unreadable admin call");
        return bad("the body is {\"get\": [ids]}, {\"restore\": [records]} or {\"profile\": …}");
    };
    // Claims go into tokens as they are: checked here, where they enter.
    let claims = match &call {
        Call::Get(_) => Vec::new(),
        Call::Restore(grants) => grants.iter().map(|g| g.claims.as_ref()).collect(),
        Call::Profile { profile, .. } => vec![profile.claims.as_ref()],
    };
    if let Some(Err(e)) = claims
        .into_iter()
        .flatten()
        .map(|c| c.check(true))
        .find(Result::is_err)
    {
        log.reason = Some("claims that no token may carry");
        return Response::json(400, &ErrorBody::new("invalid_request", &e));
    }
    let outcome = match call {
        Call::Get(ids) if ids.len() <= GRANTS_PER_CALL => get(ctx.store, &ids).await,
        Call::Restore(grants) if grants.len() <= GRANTS_PER_CALL => {
            restore(ctx.store, &grants).await
        }
        Call::Profile { ids, profile } if ids.len() <= GRANTS_PER_CALL => {
            update_profile(ctx.store, &ids, &profile).await
        }
        _ => return bad("too many grants in one call"),
    };
    outcome.unwrap_or_else(|e| {
        log.reason = Some("store error");
        Response::json(503, &ErrorBody::new("temporarily_unavailable", &e.0))
    })
}

/// The bearer token matches `ADMIN_TOKEN`, compared in constant time.
fn authorized<S>(req: &Request, ctx: &Ctx<'_, S>) -> bool {
    let Some(expected) = &ctx.config.admin_token else {
        return false;
    };
    req.header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|t| ct_eq(t.trim().as_bytes(), expected.secret().as_bytes()))
}

async fn get<S: GrantStore>(
    store: &S,
    ids: &[GrantId],
) -> Result<Response, crate::store::StoreError> {
    let mut grants = Vec::new();
    for id in ids {
        // A revocation the object made itself travels on the record (as
        // `revoked_at`); one in KV is exported as its tombstone.
        if let Some((grant, _)) = store.grant_with_revocation(id).await? {
            grants.push(grant);
        }
    }
    Ok(Response::json(200, &Found { grants }))
}

async fn restore<S: GrantStore>(
    store: &S,
    grants: &[GrantRecord],
) -> Result<Response, crate::store::StoreError> {
    for grant in grants {
        store.restore_grant(grant).await?;
    }
    Ok(Response::json(
        200,
        &Restored {
            restored: grants.len(),
        },
    ))
}

async fn update_profile<S: GrantStore>(
    store: &S,
    ids: &[GrantId],
    profile: &Profile,
) -> Result<Response, crate::store::StoreError> {
    let mut updated = 0;
    for id in ids {
        updated += usize::from(store.update_profile(id, profile).await?);
    }
    Ok(Response::json(200, &Updated { updated }))
}
