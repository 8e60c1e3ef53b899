//! `/introspect` (RFC 7662): tells an authenticated client whether a token it
//! holds is active. Unlike `/userinfo` this reads the grant record, so it is exact
//! rather than bounded. A client learns only about its own tokens; everything
//! else, unknown, expired or revoked, is `{"active": false}` (§2.2).

use serde::Serialize;

use super::front::{self, Rejection};
use crate::grant;
use crate::grant::GrantStore;
use crate::http::{LogFields, Request, Response};
use crate::jwt;
use crate::store::ClientRecord;
use crate::Ctx;

/// Handles `POST /introspect`.
pub(super) async fn handle<S: GrantStore>(req: &Request, ctx: &Ctx<'_, S>) -> Response {
    let mut log = LogFields::default();
    let response = match introspect(req, ctx, &mut log).await {
        Ok(body) => Response::json(200, &body).header("pragma", "no-cache"),
        Err(rejection) => front::error_response(rejection, &mut log),
    };
    response.with_log(log)
}

async fn introspect<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    log: &mut LogFields,
) -> Result<Introspection, Rejection> {
    let mut params = front::read_form(req, "the introspection endpoint accepts POST only")?;
    let client = front::authenticate_request(req, &mut params, ctx, log).await?;
    let token = params
        .take("token")
        .ok_or(crate::error::OAuthError::invalid_request(
            "token is missing",
        ))?;
    // token_type_hint is only a hint (§2.1); the token's shape says what it is.
    // Anything not described is inactive.
    let answer = describe(&token, &client, ctx).await?.unwrap_or_default();
    log.grant_id = grant::grant_named_by_refresh_token(&token).map(|g| g.to_string());
    log.sub.clone_from(&answer.sub);
    Ok(answer)
}

async fn describe<S: GrantStore>(
    token: &str,
    client: &ClientRecord,
    ctx: &Ctx<'_, S>,
) -> Result<Option<Introspection>, Rejection> {
    if let Some(grant) =
        grant::find_by_refresh_token(ctx.store, ctx.config.successors(), token).await?
    {
        // The rule `/token` applies to a refresh, so the two never disagree.
        let ttl = ctx.config.refresh_token_ttl;
        let live = grant::is_live(&grant, false, &client.view(), ttl, ctx.now);
        if !live {
            return Ok(None);
        }
        return Ok(Some(Introspection {
            active: true,
            token_type: Some("refresh_token"),
            sub: Some(grant.user_id.to_string()),
            client_id: Some(grant.client_id.as_str().to_owned()),
            scope: Some(grant.scope.to_string()),
            iat: Some(grant.refreshed_at),
            exp: ttl.map(|ttl| grant.refreshed_at + ttl),
            ..Introspection::default()
        }));
    }
    let claims = match ctx.verify_access_token(token, 0).await {
        Ok(claims) => claims,
        Err(jwt::VerifyError::KeyUnavailable(reason)) => {
            return Err(front::key_unavailable(reason))
        }
        Err(_) => return Ok(None),
    };
    if claims.client_id != client.client_id.as_str() {
        return Ok(None);
    }
    if let Some(gid) = &claims.gid {
        // Read, not cached: introspection is the authoritative answer.
        let gid = crate::types::GrantId::new(gid.as_str());
        let grant = ctx.store.grant_with_revocation(&gid).await?;
        let live = grant
            .is_some_and(|(g, revoked)| grant::is_live(&g, revoked, &client.view(), None, ctx.now));
        if !live {
            return Ok(None);
        }
    }
    Ok(Some(Introspection {
        active: true,
        token_type: Some("Bearer"),
        sub: Some(claims.sub),
        client_id: Some(claims.client_id),
        scope: Some(claims.scope),
        exp: Some(claims.exp),
        iat: Some(claims.iat),
        iss: Some(claims.iss),
        aud: claims.aud,
        jti: Some(claims.jti),
    }))
}

/// An introspection answer (RFC 7662 §2.2): `active`, and for an active token
/// what it is. An inactive one says nothing else.
#[derive(Debug, Default, Serialize)]
struct Introspection {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
}
