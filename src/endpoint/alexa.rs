//! `POST /alexa/accept-grant` and `POST /alexa/events`: what a skill that
//! sends events to Alexa calls (see [`crate::alexa`]). Both authenticate the
//! client as `/token` does, HTTP Basic or the body (here a JSON body's
//! `client_id` and `client_secret`), and take JSON.

use serde::Serialize;
use serde_json::Value;

use super::front::{self, Rejection};
use crate::alexa::{self, Acceptance, Event, LwaFailure, Reach, Refused};
use crate::error::{ErrorCode, OAuthError};
use crate::form::Params;
use crate::grant::GrantStore;
use crate::http::{ErrorBody, LogFields, Request, Response};
use crate::jwt;
use crate::store::ClientRecord;
use crate::types::{GrantId, Region, UserId};
use crate::Ctx;
use std::rc::Rc;

/// Seconds past `exp` a grantee token is still taken: AcceptGrant follows
/// the token exchange at once, but Alexa's clock is not ours.
const GRANTEE_LEEWAY: u64 = 60;

/// The longest `sub` looked up: longer than any id we issue.
const MAX_SUB_LEN: usize = 128;

#[derive(Serialize)]
struct Accepted {
    accepted: bool,
}

/// A JSON object body of a POST. Read as a [`Value`], which the wasm has
/// anyway: a typed reader per body costs it more.
fn read_json(req: &Request) -> Result<Value, Rejection> {
    let body = front::read_post(req, "this endpoint accepts POST only")?;
    let json = req
        .header("content-type")
        .is_some_and(|t| t.split(';').next().unwrap_or("").trim() == "application/json");
    if !json {
        return Err(OAuthError::invalid_request("Content-Type must be application/json").into());
    }
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or(OAuthError::invalid_request("the body must be a JSON object").into())
}

/// A string member of a JSON body, taken out of it.
fn take_string(body: &mut Value, name: &str) -> Option<String> {
    match body.get_mut(name)?.take() {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// The client's credentials: HTTP Basic, or `client_id` and `client_secret`
/// members of the body.
fn credentials(body: &mut Value) -> Params {
    Params::credentials(
        take_string(body, "client_id"),
        take_string(body, "client_secret"),
    )
}

/// What both endpoints read first: the JSON body, and the client it
/// authenticates.
async fn read_authenticated<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    log: &mut LogFields,
) -> Result<(Value, Rc<ClientRecord>), Rejection> {
    let mut body = read_json(req)?;
    let mut params = credentials(&mut body);
    let client = front::authenticate_request(req, &mut params, ctx, log).await?;
    Ok((body, client))
}

/// The answer, or the RFC 6749 §5.2 error, with the request's log fields.
fn answered(result: Result<Response, Rejection>, mut log: LogFields) -> Response {
    let response = result.unwrap_or_else(|rejection| front::error_response(rejection, &mut log));
    response.with_log(log)
}

/// Handles `POST /alexa/accept-grant`.
pub(super) async fn accept_grant<S: GrantStore>(req: &Request, ctx: &Ctx<'_, S>) -> Response {
    let mut log = LogFields::default();
    let result = accept(req, ctx, &mut log).await;
    answered(result, log)
}

async fn accept<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    log: &mut LogFields,
) -> Result<Response, Rejection> {
    let (mut body, client) = read_authenticated(req, ctx, log).await?;
    // AcceptGrant's `grant.code`, its `grantee.token` (our access token), and
    // the region the directive came to.
    let (Some(code), Some(grantee_token), Some(region)) = (
        take_string(&mut body, "code"),
        take_string(&mut body, "grantee_token"),
        take_string(&mut body, "region"),
    ) else {
        return Err(
            OAuthError::invalid_request("code, grantee_token and region are required").into(),
        );
    };
    let region =
        Region::parse(&region).ok_or(OAuthError::invalid_request("region must be NA, EU or FE"))?;
    const FOREIGN: OAuthError = OAuthError::invalid_grant(
        "grantee_token is not a live access token this client holds for a user",
    );
    let claims = match ctx
        .verify_access_token(&grantee_token, GRANTEE_LEEWAY)
        .await
    {
        Ok(claims) => claims,
        Err(jwt::VerifyError::KeyUnavailable(reason)) => {
            return Err(front::key_unavailable(reason))
        }
        Err(_) => return Err(FOREIGN.into()),
    };
    let Some(gid) = claims
        .gid
        .filter(|_| claims.client_id == client.client_id.as_str())
    else {
        return Err(FOREIGN.into());
    };
    log.sub = Some(claims.sub.clone());
    log.grant_id = Some(gid.clone());
    if ctx.revocations.is_revoked(ctx.store, &gid, ctx.now).await? {
        return Err(FOREIGN.into());
    }
    let acceptance = Acceptance {
        client: &client,
        user: UserId::new(claims.sub),
        grant: GrantId::new(gid),
        region,
        code: &code,
        now: ctx.now,
    };
    let settings = &ctx.config.alexa;
    let fetch = ctx.outbound.fetch;
    match alexa::accept_grant(ctx.store, settings, fetch, ctx.alexa, &acceptance).await {
        Ok(()) => {
            log.reason = Some("event tokens kept");
            Ok(Response::json(200, &Accepted { accepted: true }))
        }
        // The skill answers AcceptGrant with ACCEPT_GRANT_FAILED.
        Err(Refused::Lwa(LwaFailure::Refused(code))) => {
            log.error = Some("accept_grant_failed");
            log.reason = Some("Login with Amazon refused the code");
            let description = format!("Login with Amazon refused the code: {code}");
            let body = ErrorBody::new("accept_grant_failed", &description);
            Ok(Response::json(400, &body))
        }
        Err(refused) => Err(rejection(refused, log)),
    }
}

/// Handles `POST /alexa/events`.
pub(super) async fn events<S: GrantStore>(req: &Request, ctx: &Ctx<'_, S>) -> Response {
    let mut log = LogFields::default();
    let result = send(req, ctx, &mut log).await;
    answered(result, log)
}

async fn send<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    log: &mut LogFields,
) -> Result<Response, Rejection> {
    let (mut body, client) = read_authenticated(req, ctx, log).await?;
    let (Some(sub), Some(message)) = (take_string(&mut body, "sub"), body.get_mut("message"))
    else {
        return Err(OAuthError::invalid_request("sub and message are required").into());
    };
    log.sub = Some(sub.chars().take(MAX_SUB_LEN).collect());
    let reach = Reach {
        store: ctx.store,
        settings: &ctx.config.alexa,
        fetch: ctx.outbound.fetch,
        cache: ctx.alexa,
        revocations: ctx.revocations,
    };
    let event = Event {
        client: &client,
        user: UserId::new(sub),
        message: message.take(),
        now: ctx.now,
    };
    let outcome = match event.user.as_str().len() {
        1..=MAX_SUB_LEN => alexa::send_event(&reach, event).await,
        _ => Err(Refused::NoTokens),
    };
    match outcome {
        Ok(answer) => {
            log.reason = Some(if answer.status < 300 {
                "event sent"
            } else {
                "the Alexa event gateway refused the event"
            });
            let mut r = Response::new(answer.status);
            if !answer.body.is_empty() {
                r = r.header("content-type", "application/json");
            }
            r.body = answer.body;
            Ok(r)
        }
        Err(Refused::NoTokens) => {
            const WHY: &str =
                "no event tokens for this user and client: no AcceptGrant, or the link ended";
            log.error = Some("not_found");
            log.reason = Some(WHY);
            Ok(Response::json(404, &ErrorBody::new("not_found", WHY)))
        }
        Err(Refused::ReauthorizationRequired) => {
            const WHY: &str = "Login with Amazon refused the user's refresh token: the tokens are forgotten until the user links again";
            log.error = Some("reauthorization_required");
            log.reason = Some(WHY);
            Ok(Response::json(
                409,
                &ErrorBody::new("reauthorization_required", WHY),
            ))
        }
        Err(refused) => Err(rejection(refused, log)),
    }
}

/// The answer to the refusals both endpoints share.
fn rejection(refused: Refused, log: &mut LogFields) -> Rejection {
    let error = match refused {
        Refused::Config(why) => OAuthError::new(ErrorCode::ServerError, why),
        Refused::BadMessage(why) => OAuthError::invalid_request(why),
        Refused::Unavailable(why) => OAuthError::new(ErrorCode::TemporarilyUnavailable, why),
        Refused::Store(e) => e.into(),
        // Answered by each endpoint before this.
        Refused::Lwa(_) | Refused::NoTokens | Refused::ReauthorizationRequired => {
            OAuthError::new(ErrorCode::ServerError, "unexpected refusal")
        }
    };
    log.reason = Some(error.description);
    error.into()
}
