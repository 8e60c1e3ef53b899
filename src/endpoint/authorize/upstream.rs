//! Sign-in through an upstream provider, as two steps of `/authorize`:
//!
//! 1. `POST /signin/<provider>` (a button on the login page, a form of its own
//!    carrying the page's hidden fields) checks the request and the login
//!    form's CSRF token, so a sign-in through a provider starts only from our
//!    own page in this browser. It then puts the pending sign-in in a cookie
//!    sealed for this browser ([`sign_in_state`](super::sign_in_state)), for
//!    10 minutes, and sends the browser to the provider. It writes nothing.
//!    A `GET` (an old link, or another site's) shows the login page for the
//!    same request and never leaves for the provider.
//! 2. `GET /callback/<provider>?code&state` (the provider's redirect) accepts
//!    only the `state` this browser's cookie holds, clears the cookie, checks
//!    the authorization request again, exchanges the code
//!    ([`crate::upstream::client`]), and issues our code to a user whom the
//!    operator allowed that identity to sign in as.
//!
//! The PKCE verifier and the OpenID Connect `nonce` are HMACs of the `state`
//! under a key derived from `SIGNING_KEY`, so nothing secret is stored.

use crate::crypto::{b64url, ct_eq, hmac_sha256, sha256_b64url, token_hash};
use crate::csrf;
use crate::error::ErrorCode;
use crate::form::Params;
use crate::grant::GrantStore;
use crate::http::{Cookie, ErrorBody, LogFields, Method, Request, Response};
use crate::store::{keys, kv_expiration, Records, Store, UserRecord};
use crate::throttle::{self, Limit};
use crate::types::UserId;
use crate::upstream::client::{self, Callback};
use crate::upstream::{Failure, Identity, Provider};
use crate::Ctx;

use super::sign_in_state::{self, PendingSignIn};
use super::{
    finish, form_expired, form_is_ours, form_params, issue_code, login_page, unreadable, validate,
    ClientCopy, Refused,
};

/// How long an upstream sign-in may take, from the button to the callback.
const STATE_TTL: u64 = 10 * 60;

/// The cookie that carries a pending sign-in (see [`sign_in_state`]).
const STATE_COOKIE: &str = "signin-state";

/// The labels of what is derived under the sign-in key: the PKCE verifier and
/// the nonce of a `state`, and the id of a user created on first sign-in.
const PKCE: &[u8] = b"upstream-pkce";
const NONCE: &[u8] = b"upstream-nonce";
const USER_ID: &[u8] = b"upstream-user-id";

/// The PKCE verifier (RFC 7636 §4.1: 43 characters) or nonce of a `state`, or
/// a user id.
///
/// Each derivation has a label of its own, so that no crafted input to one
/// (a `state`, an identity) gives another's value.
fn derived(key: &[u8; 32], label: &[u8], state: &str) -> String {
    let mut msg = label.to_vec();
    msg.extend_from_slice(state.as_bytes());
    b64url(&hmac_sha256(key, &msg))
}

/// The provider a path names, or a 404 page.
fn provider<'c, S>(ctx: &'c Ctx<'_, S>, name: &str) -> Result<&'c Provider, Refused> {
    ctx.config.providers.get(name).ok_or(Refused::Page {
        status: 404,
        title: "Unknown sign-in provider",
        detail: "This service does not offer sign-in with that provider.",
        error: ErrorCode::InvalidRequest,
        reason: "no such sign-in provider",
    })
}

/// Runs one step with the shared log fields and error pages. `allowed` is
/// the one method the step takes besides GET (`/signin/…` takes POST), or
/// GET only: a HEAD (a link checker, a prefetch) must not start or spend a
/// sign-in.
async fn answer<'c, S: Store, F>(
    req: &'c Request,
    ctx: &'c Ctx<'c, S>,
    name: &str,
    post: bool,
    step: F,
) -> Response
where
    F: AsyncFnOnce(&'c Provider, &mut LogFields) -> Result<Response, Refused>,
{
    let mut log = LogFields::default();
    let allowed = match req.method() {
        Method::Get => true,
        Method::Post => post,
        _ => false,
    };
    let result = match (allowed, provider(ctx, name)) {
        (true, Ok(p)) => {
            log.provider = Some(p.name.clone());
            step(p, &mut log).await
        }
        (_, Err(refused)) => Err(refused),
        (false, Ok(_)) => Err(Refused::Page {
            status: 405,
            title: "Method not allowed",
            detail: "This address does not take that method.",
            error: ErrorCode::InvalidRequest,
            reason: "method not allowed",
        }),
    };
    let mut response = finish(result, &mut log);
    if response.status == 405 {
        response = response.header("allow", if post { "GET, POST" } else { "GET" });
    }
    response.with_log(log)
}

/// A failed upstream step as a page with a way back to the login form.
fn failed(p: &Provider, f: Failure, again: String, log: &mut LogFields) -> Refused {
    log.reason = Some(f.reason());
    let (status, title, detail, error) = match f {
        Failure::Unavailable(_) => (
            503,
            "Please try again",
            format!(
                "{} did not answer as expected. Go back and try again.",
                p.label
            ),
            ErrorCode::TemporarilyUnavailable,
        ),
        Failure::Unverified(_) => (
            401,
            "Sign-in failed",
            format!(
                "Signing in with {} could not be confirmed. Go back and try again.",
                p.label
            ),
            ErrorCode::AccessDenied,
        ),
    };
    Refused::SignInFailed {
        status,
        title,
        detail,
        again,
        error,
        reason: f.reason(),
    }
}

/// `POST /signin/<provider>` from the login page; a `GET` shows that page.
pub(in crate::endpoint) async fn start<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    name: &str,
) -> Response {
    answer(
        req,
        ctx,
        name,
        true,
        async |p: &Provider, log: &mut LogFields| {
            if req.method() == Method::Get {
                // Not from our page: the login page for the same request, whose
                // button starts the sign-in. Nothing leaves for the provider.
                let params = Params::parse(req.query.as_bytes()).map_err(unreadable)?;
                let ar = validate(&params, ctx, log, ClientCopy::Cached).await?;
                log.reason = Some("a sign-in through a provider starts from the login page");
                return login_page(req, ctx, &ar, None, "", 200);
            }
            let params = form_params(req)?;
            // A button of the account pages (where they are on): their own
            // checks, then the same way to the provider.
            if ctx.config.account_pages && params.get("next").is_some() {
                let next = match crate::endpoint::account::provider_start(req, ctx, &params).await {
                    Ok(next) => next,
                    Err(page) => return Ok(page),
                };
                log.reason = Some("a sign-in from the account pages");
                return to_provider(
                    req,
                    ctx,
                    p,
                    String::new(),
                    Some(next),
                    "/account".into(),
                    log,
                )
                .await;
            }
            let ar = validate(&params, ctx, log, ClientCopy::Cached).await?;
            if !form_is_ours(req, ctx, &params, &ar)? {
                return form_expired(req, ctx, &ar, log);
            }
            // Holds back an address that starts sign-ins in a loop (each costs a
            // provider metadata lookup and a redirect), as it does password tries.
            if !address_allowed(req, ctx, log).await? {
                let msg = "Too many sign-ins from here. Try again in a minute.";
                return login_page(req, ctx, &ar, Some(msg), "", 429);
            }
            // The request as the login page carries it, checked again on return.
            let request = ar.query();
            let again = format!("/authorize?{request}");
            to_provider(req, ctx, p, request, None, again, log).await
        },
    )
    .await
}

/// Sends the browser to the provider, with the pending sign-in (`request`,
/// or `next` for the account pages) sealed in a cookie for this browser.
/// The caller has checked the form's CSRF token, so the nonce cookie is there.
async fn to_provider<S: Store>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    p: &Provider,
    request: String,
    next: Option<String>,
    again: String,
    log: &mut LogFields,
) -> Result<Response, Refused> {
    let key = signing_key(ctx)?;
    let meta = client::metadata(p, &ctx.upstream, ctx.now).await;
    let meta = meta.map_err(|f| failed(p, f, again, log))?;
    let state = crate::crypto::random_string(ctx.rng, 24);
    let nonce = req.cookie(csrf::COOKIE).unwrap_or_default();
    let pending = PendingSignIn {
        provider: p.name.clone(),
        request,
        expires_at: ctx.now + STATE_TTL,
        state: state.clone(),
        next,
    };
    let sealed = sign_in_state::seal(&state_key(ctx)?, nonce, &pending);
    if sealed.len() > sign_in_state::MAX_COOKIE {
        return Err(Refused::page(
            "This link request is too long",
            "Its state is too long to carry through a sign-in with a provider.",
            "the pending request is too long for a cookie",
        ));
    }
    let url = client::authorization_url(
        p,
        &meta,
        &callback_uri(req, ctx, p),
        &state,
        &sha256_b64url(&derived(&key, PKCE, &state)),
        &derived(&key, NONCE, &state),
    );
    let cookie = Cookie {
        name: STATE_COOKIE,
        value: &sealed,
        max_age: STATE_TTL,
    };
    // The page's `form-action` allows the origin it expected; a discovered
    // endpoint elsewhere is reached by a link instead.
    let expected = client::expected_authorization_url(p).and_then(super::origin_of);
    let answer = if super::origin_of(&meta.authorization_endpoint) == expected {
        Response::redirect(url)
    } else {
        let label = format!("Continue to {}", p.label);
        let detail = format!("Sign in with {} to continue.", p.label);
        crate::page::onward_page(&label, &detail, &url, &label)
    };
    Ok(answer.set_cookie(req, cookie))
}

/// Counts a start or a callback against the per-address sign-in limit;
/// `false` (and the log's reason) once the address is over it.
async fn address_allowed<S>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    log: &mut LogFields,
) -> Result<bool, Refused> {
    let allowed = ctx
        .limiter
        .hit(Limit::LoginAddress, &throttle::address(req), ctx.now)
        .await
        .map_err(|_| Refused::Unavailable)?;
    if !allowed {
        log.reason = Some("too many sign-ins from this address");
    }
    Ok(allowed)
}

/// The key that seals the pending sign-in cookie.
fn state_key<S>(ctx: &Ctx<'_, S>) -> Result<[u8; 32], Refused> {
    let key = ctx.config.signing_key.as_ref();
    Ok(key
        .map_err(|_| Refused::NotConfigured)?
        .derive(b"upstream-sign-in-state"))
}

fn signing_key<S>(ctx: &Ctx<'_, S>) -> Result<[u8; 32], Refused> {
    let key = ctx.config.signing_key.as_ref();
    Ok(key
        .map_err(|_| Refused::NotConfigured)?
        .derive(b"upstream-sign-in"))
}

/// The redirect URI registered at the provider: `<issuer>/callback/<name>`.
fn callback_uri<S>(req: &Request, ctx: &Ctx<'_, S>, p: &Provider) -> String {
    format!("{}/callback/{}", ctx.issuer(req), p.name)
}

/// `GET /callback/<provider>`.
pub(in crate::endpoint) async fn callback<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    name: &str,
) -> Response {
    answer(
        req,
        ctx,
        name,
        false,
        async |p: &Provider, log: &mut LogFields| {
            let params = Params::parse(req.query.as_bytes()).map_err(unreadable)?;
            let stale = |reason| Refused::Page {
                status: 400,
                title: "This sign-in has expired",
                detail: "It was not started in this browser, was already used, or took longer \
                         than 10 minutes. Go back to the Alexa app and link again.",
                error: ErrorCode::InvalidRequest,
                reason,
            };
            // The browser binding: the pending sign-in must be sealed for this
            // browser, and its `state` must be the one that came back (RFC 9700
            // §4.7.1), so nobody can finish another's sign-in.
            let nonce = req.cookie(csrf::COOKIE).unwrap_or("");
            let sealed = req.cookie(STATE_COOKIE).unwrap_or("");
            let record = sign_in_state::open(&state_key(ctx)?, nonce, sealed, ctx.now);
            let Some(record) = record else {
                return Err(stale("no pending sign-in in this browser, or it expired"));
            };
            let state = params.get("state").unwrap_or("");
            if !ct_eq(state.as_bytes(), record.state.as_bytes()) {
                return Err(stale("the state is not this browser's"));
            }
            if record.provider != p.name {
                return Err(stale("the pending sign-in is another provider's"));
            }
            // A sealed state lasts 10 minutes and the cookie could be kept:
            // each callback costs a code exchange at the provider, so it
            // counts against the address's limit, as a start does.
            if !address_allowed(req, ctx, log).await? {
                return Err(Refused::Page {
                    status: 429,
                    title: "Too many sign-ins",
                    detail: "Too many sign-ins from here. Try again in a minute.",
                    error: ErrorCode::AccessDenied,
                    reason: "too many sign-ins from this address",
                });
            }
            let spent = Cookie {
                name: STATE_COOKIE,
                value: "",
                max_age: 0,
            };
            if let Some(next) = &record.next {
                if !ctx.config.account_pages {
                    // Turned off since this sign-in started.
                    log.reason = Some("the account pages are off");
                    return Ok(
                        Response::json(404, &ErrorBody::code("not_found")).set_cookie(req, spent)
                    );
                }
                if params.get("error").is_some() || params.get("code").is_none() {
                    log.reason = Some("the provider sent no code");
                    let msg = format!("Signing in with {} did not complete.", p.label);
                    let r = crate::page::retry_page(403, "Sign-in failed", &msg, "/account");
                    return Ok(r.set_cookie(req, spent));
                }
                let identity = identity_of(req, ctx, p, &params, state, "/account", log).await?;
                let r =
                    crate::endpoint::account::provider_finish(req, ctx, next, &identity, p, log)
                        .await;
                return Ok(r.set_cookie(req, spent));
            }
            let again = format!("/authorize?{}", record.request);
            let pending = Params::parse(record.request.as_bytes()).map_err(unreadable)?;
            let ar = validate(&pending, ctx, log, ClientCopy::Cached).await?;
            if let Some(error) = params.get("error") {
                log.reason = Some(match error {
                    "access_denied" => "the person declined at the provider",
                    _ => "the provider answered with an error",
                });
                let msg = format!("Signing in with {} did not complete.", p.label);
                return login_page(req, ctx, &ar, Some(&msg), "", 403);
            }
            if params.get("code").is_none() {
                return Err(stale("the provider sent no code"));
            }
            // A state mints one code: a kept cookie with a fresh provider code
            // gets the expired page, and writes nothing.
            let spent_key = keys::spent_sign_in_state(&token_hash(state));
            let used = ctx.store.get(&spent_key).await;
            if used.map_err(|_| Refused::Unavailable)?.is_some() {
                return Err(stale("the state was already used"));
            }
            let identity = identity_of(req, ctx, p, &params, state, &again, log).await?;
            let user = user_for(ctx, p, &identity, &signing_key(ctx)?, again, log).await?;
            let until = kv_expiration(record.expires_at, ctx.now);
            let marked = ctx.store.put(&spent_key, String::new(), Some(until)).await;
            marked.map_err(|_| Refused::Unavailable)?;
            if log.reason.is_none() {
                log.reason = Some("signed in through the provider");
            }
            log.sub = Some(user.id.to_string());
            Ok(issue_code(ctx, &pending, user, log)
                .await?
                .set_cookie(req, spent))
        },
    )
    .await
}

/// The identity the provider vouches for, from the code on the callback
/// (checked to carry this browser's `state`).
async fn identity_of<S: Store>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    p: &Provider,
    params: &Params,
    state: &str,
    again: &str,
    log: &mut LogFields,
) -> Result<Identity, Refused> {
    let key = signing_key(ctx)?;
    let cb = Callback {
        code: params.get("code").unwrap_or_default(),
        iss: params.get("iss"),
        redirect_uri: &callback_uri(req, ctx, p),
        code_verifier: &derived(&key, PKCE, state),
        nonce: &derived(&key, NONCE, state),
        now: ctx.now,
    };
    let identity = client::sign_in(p, &ctx.upstream, &cb).await;
    let identity = identity.map_err(|f| failed(p, f, again.to_owned(), log))?;
    log.identity = Some(identity.key());
    Ok(identity)
}

/// The user an identity may sign in as: from the operator's allow-list, or new
/// when the provider has `AUTO_CREATE`.
async fn user_for<S: GrantStore>(
    ctx: &Ctx<'_, S>,
    p: &Provider,
    identity: &Identity,
    key: &[u8; 32],
    again: String,
    log: &mut LogFields,
) -> Result<UserRecord, Refused> {
    let id_key = identity.key();
    let found = ctx.store.user_by_identity(&id_key).await;
    if let Some(user) = found.map_err(|_| Refused::Unavailable)? {
        return Ok(user);
    }
    if !p.auto_create {
        log.reason = Some("the identity is not on the allow-list");
        return Err(Refused::SignInFailed {
            status: 403,
            title: "Not allowed",
            detail: format!(
                "This {} account is not allowed to link here. Ask the operator of this \
                 service to allow it, or sign in with another account.",
                p.label
            ),
            again,
            error: ErrorCode::AccessDenied,
            reason: "the identity is not on the allow-list",
        });
    }
    // Open sign-up. The id and username are derived from the identity, so two
    // first sign-ins at once write the same records.
    let derived_id = derived(key, USER_ID, &id_key);
    let user = UserRecord {
        id: UserId::new(&derived_id[..22]),
        username: format!("{}-{}", p.name, &derived_id[22..34]).to_ascii_lowercase(),
        display_name: identity
            .display_name
            .clone()
            .unwrap_or_else(|| format!("{} user", p.label)),
        password_hash: None,
        identities: vec![id_key.clone()],
        created_at: ctx.now,
        claims: None,
    };
    ctx.store
        .put_user(&user)
        .await
        .map_err(|_| Refused::Unavailable)?;
    log.reason = Some("user created on first sign-in");
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_identity_derives_another_derivations_value() {
        let key = [9; 32];
        let state = "s".repeat(32);
        // An identity crafted to be the PKCE derivation's input, as it would
        // have been without labels of their own.
        let crafted = format!("{}{state}", std::str::from_utf8(PKCE).unwrap());
        for (label, other) in [(PKCE, "pkce"), (NONCE, "nonce")] {
            assert_ne!(
                derived(&key, USER_ID, &crafted),
                derived(&key, label, &state),
                "{other}"
            );
        }
        assert_ne!(derived(&key, PKCE, &state), derived(&key, NONCE, &state));
    }
}
