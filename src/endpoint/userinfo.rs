//! `/userinfo`: turns an access token into the user it was issued for. This is
//! the call the skill's backend makes on every Alexa directive, so it verifies
//! the token's signature and expiry, and catches a revoked grant through the
//! isolate's cache of revocation tombstones (see [`crate::grant`] for the
//! bound) rather than a storage read per request.
//!
//! Errors follow RFC 6750 §3: 401 with `WWW-Authenticate: Bearer`, carrying
//! `error="invalid_token"` when a token was presented, and no error at all when
//! none was (§3.1).

use serde::Serialize;

use crate::form::{is_form_content_type, Params};
use crate::http::{ErrorBody, LogFields, Method, Request, Response};
use crate::jwt;
use crate::store::Store;
use crate::Ctx;

const REALM: &str = "Bearer realm=\"userinfo\"";

/// Seconds past `exp` an access token is still answered for: Alexa may send
/// a directive with a token a moment before it expires, and a skill that
/// then answers `INVALID_AUTHORIZATION_CREDENTIAL` unlinks its user. A
/// revoked grant's tokens are refused regardless.
const EXPIRY_LEEWAY: u64 = 60;

/// Handles `GET` and `POST /userinfo`.
pub(super) async fn handle<S: Store>(req: &Request, ctx: &Ctx<'_, S>) -> Response {
    let mut log = LogFields::default();
    let response = userinfo(req, ctx, &mut log).await;
    response.with_log(log)
}

fn challenge(log: &mut LogFields, reason: &'static str) -> Response {
    log.error = Some("invalid_token");
    log.reason = Some(reason);
    let header = format!("{REALM}, error=\"invalid_token\", error_description=\"{reason}\"");
    Response::json(401, &ErrorBody::new("invalid_token", reason)).header("www-authenticate", header)
}

/// RFC 6750 §2.1 (header) and §2.2 (form body); never more than one.
fn bearer_token(req: &Request) -> Result<Option<String>, &'static str> {
    let header = match req.header("authorization") {
        None => None,
        Some(h) => {
            let h = h.trim();
            let (scheme, token) = h.split_once(' ').unwrap_or((h, ""));
            // RFC 6750 §3.1: credentials of another scheme (Basic, say) are no
            // bearer token at all: a 401 challenge, not a 400.
            if !scheme.eq_ignore_ascii_case("bearer") {
                None
            } else if token.trim().is_empty() {
                return Err("malformed Authorization header");
            } else {
                Some(token.trim().to_owned())
            }
        }
    };
    let body = if req.method() == Method::Post
        && req.header("content-type").is_some_and(is_form_content_type)
    {
        let params =
            Params::parse(req.body.as_deref().unwrap_or_default()).map_err(|e| e.description)?;
        params.get("access_token").map(str::to_owned)
    } else {
        None
    };
    match (header, body) {
        (Some(_), Some(_)) => Err("a token was sent in more than one way"),
        (h, b) => Ok(h.or(b)),
    }
}

async fn userinfo<S: Store>(req: &Request, ctx: &Ctx<'_, S>, log: &mut LogFields) -> Response {
    if !matches!(req.method(), Method::Get | Method::Head | Method::Post) {
        log.error = Some("invalid_request");
        return Response::json(405, &ErrorBody::code("invalid_request"))
            .header("allow", "GET, POST");
    }
    let token = match bearer_token(req) {
        Ok(Some(token)) => token,
        Ok(None) => {
            log.reason = Some("no token");
            // RFC 6750 §3.1: no token at all gets a bare challenge, no error code.
            return Response::json(401, &NoError {}).header("www-authenticate", REALM);
        }
        Err(reason) => {
            log.error = Some("invalid_request");
            log.reason = Some(reason);
            let header = format!("{REALM}, error=\"invalid_request\"");
            return Response::json(400, &ErrorBody::new("invalid_request", reason))
                .header("www-authenticate", header);
        }
    };
    let claims = match ctx.verify_access_token(&token, EXPIRY_LEEWAY).await {
        Ok(claims) => claims,
        Err(jwt::VerifyError::Expired) => return challenge(log, "the access token expired"),
        // Ours to fix, not the skill's: a 401 here would unlink its user.
        Err(jwt::VerifyError::KeyUnavailable(reason)) => {
            log.error = Some("server_error");
            log.reason = Some(reason);
            return Response::json(500, &ErrorBody::new("server_error", reason));
        }
        Err(_) => return challenge(log, "the access token is not valid"),
    };
    log.client_id = Some(claims.client_id.clone());
    log.grant_id.clone_from(&claims.gid);
    log.sub = Some(claims.sub.clone());
    // client_credentials tokens name no user.
    let Some(gid) = &claims.gid else {
        return challenge(log, "the access token was not issued for a user");
    };
    match ctx.revocations.is_revoked(ctx.store, gid, ctx.now).await {
        Ok(false) => {}
        Ok(true) => return challenge(log, "the access token was revoked"),
        Err(_) => {
            log.error = Some("temporarily_unavailable");
            return Response::json(503, &ErrorBody::code("temporarily_unavailable"))
                .header("retry-after", "2");
        }
    }
    let mut answer = Response::json(
        200,
        &UserInfo {
            sub: &claims.sub,
            name: claims.name.as_deref().unwrap_or_default(),
        },
    );
    if let Some(extra) = &claims.extra {
        extra.splice_into(&mut answer.body);
    }
    answer
}

/// The answer about the token's user (OpenID Connect Core §5.3.2's `sub` and
/// `name`): what the skill's backend turns a token into. The user's upstream
/// `identities` and own claims follow, as the token carries them: what
/// `admin user update` changes shows in the tokens issued after it.
#[derive(Serialize)]
struct UserInfo<'a> {
    sub: &'a str,
    name: &'a str,
}

/// `{}`: a 401 for a request with no token says nothing more.
#[derive(Serialize)]
struct NoError {}
