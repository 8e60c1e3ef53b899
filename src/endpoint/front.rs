//! The shared JSON front of the client-authenticated endpoints (`/token`,
//! `/introspect`, `/revoke`): reading the form, authenticating the client with
//! its per-address limit, and answering errors as RFC 6749 §5.2 says.

use crate::client_auth::{authenticate, extract};
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::form::{is_form_content_type, Params};
use crate::http::{ErrorBody, LogFields, Method, Request, Response};
use std::rc::Rc;

use crate::store::{ClientRecord, Store};
use crate::throttle::{self, Limit};
use crate::Ctx;

/// An error answer of a client-authenticated endpoint: an RFC 6749 §5.2 error and,
/// where the method or size is at fault, the HTTP status that says so.
#[derive(Debug)]
pub(super) struct Rejection {
    pub status: Option<u16>,
    pub error: OAuthError,
    /// Seconds for `Retry-After`, when the client is throttled.
    pub retry_after: Option<u64>,
}

impl From<OAuthError> for Rejection {
    fn from(error: OAuthError) -> Self {
        Self {
            status: None,
            error,
            retry_after: None,
        }
    }
}

impl From<StoreError> for Rejection {
    fn from(e: StoreError) -> Self {
        OAuthError::from(e).into()
    }
}

/// The shared front of `/token`, `/introspect` and `/revoke`: a POST whose body is
/// a form of at most 16 KiB (RFC 6749 §3.2, RFC 7662 §2.1, RFC 7009 §2.1).
pub(super) fn read_form(req: &Request, endpoint: &'static str) -> Result<Params, Rejection> {
    let body = read_post(req, endpoint)?;
    if !req.header("content-type").is_some_and(is_form_content_type) {
        return Err(OAuthError::invalid_request(
            "Content-Type must be application/x-www-form-urlencoded",
        )
        .into());
    }
    Ok(Params::parse(body)?)
}

/// A POST's body, within its path's limit: anything else is a 405 (with
/// `endpoint` saying what is allowed) or a 413.
pub(super) fn read_post<'r>(
    req: &'r Request,
    endpoint: &'static str,
) -> Result<&'r [u8], Rejection> {
    if req.method() != Method::Post {
        let error = OAuthError::invalid_request(endpoint);
        return Err(Rejection {
            status: Some(405),
            error,
            retry_after: None,
        });
    }
    req.body.as_deref().ok_or(Rejection {
        status: Some(413),
        error: OAuthError::invalid_request("the request body is larger than this endpoint takes"),
        retry_after: None,
    })
}

/// Extracts and checks the client's credentials, noting the client in the log.
/// The secret is checked first, so a right one always passes. A failed check
/// counts against the caller's address (see [`crate::throttle`]); over the
/// limit the answer becomes a 429 with `Retry-After`, and a limiter that
/// cannot count makes it a 503.
pub(super) async fn authenticate_request<S: Store>(
    req: &Request,
    params: &mut Params,
    ctx: &Ctx<'_, S>,
    log: &mut LogFields,
) -> Result<Rc<ClientRecord>, Rejection> {
    let creds = extract(req, params)?;
    log.client_id = Some(creds.client_id.as_str().chars().take(64).collect());
    match authenticate(ctx.store, ctx.clients, &creds, ctx.now).await {
        Err(e) if e.code == ErrorCode::InvalidClient => {
            let address = throttle::address(req);
            let counted = ctx
                .limiter
                .hit(Limit::ClientAuthAddress, &address, ctx.now)
                .await;
            match counted {
                Ok(true) => Err(e.into()),
                Ok(false) => Err(Rejection {
                    status: Some(429),
                    error: OAuthError::invalid_client(
                        "too many failed client authentications from this address; retry later",
                    ),
                    retry_after: Some(Limit::PERIOD),
                }),
                Err(_) => Err(OAuthError::temporarily_unavailable().into()),
            }
        }
        other => other.map_err(Rejection::from),
    }
}

/// A token that names one of our keys which could not be used: a 500 with
/// the setting to fix, which a skill maps to `INTERNAL_ERROR` and not to an
/// unlink (see [`crate::jwt::VerifyError::KeyUnavailable`]).
pub(super) fn key_unavailable(reason: &'static str) -> Rejection {
    OAuthError::new(ErrorCode::ServerError, reason).into()
}

/// The JSON error answer (RFC 6749 §5.2) of a client-authenticated endpoint.
/// `invalid_client` is always a 401 with a `WWW-Authenticate` challenge (an HTTP
/// 401 must carry one); a 503 says when to retry; a 405 says what is allowed.
pub(super) fn error_response(rejection: Rejection, log: &mut LogFields) -> Response {
    let err = rejection.error;
    let retry_after = rejection.retry_after;
    log.error = Some(err.code.as_str());
    log.reason = Some(err.description);
    let body = ErrorBody::new(err.code.as_str(), err.description);
    let status = rejection.status.unwrap_or(err.code.token_status());
    let mut r = Response::json(status, &body).header("pragma", "no-cache");
    if let Some(wait) = retry_after {
        r = r.header("retry-after", wait.to_string());
    }
    match (status, err.code) {
        (405, _) => r = r.header("allow", "POST"),
        (_, ErrorCode::InvalidClient) => {
            r = r.header(
                "www-authenticate",
                "Basic realm=\"oauth\", charset=\"UTF-8\"",
            )
        }
        (_, ErrorCode::TemporarilyUnavailable) => r = r.header("retry-after", "2"),
        _ => {}
    }
    r
}
