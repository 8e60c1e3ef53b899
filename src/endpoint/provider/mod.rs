//! Sign-in through a provider (an OpenID Connect provider, or Login with
//! Amazon: [`crate::provider`]), in two steps:
//!
//! 1. A start: `POST /signin/<provider>` from a button of the login page (a
//!    form of its own carrying the page's hidden fields, checked here with
//!    the login form's CSRF token), or `POST /account/signin/<provider>` from
//!    the account pages (checked there). Either way [`begin`] puts the
//!    pending sign-in and where it returns ([`Return`]) in a cookie sealed for
//!    this browser ([`state`]), for 10 minutes, and sends the browser to the
//!    provider. It writes nothing. A `GET /signin/…` (an old link, or another
//!    site's) shows the login page for the same request and never leaves for
//!    the provider.
//! 2. `GET /callback/<provider>?code&state` (the provider's redirect) accepts
//!    only the `state` this browser's cookie holds, clears the cookie,
//!    exchanges the code ([`crate::provider::client`]), and then, for
//!    `/authorize`, checks the authorization request again and issues our
//!    code to a user whom the operator allowed that identity to sign in as;
//!    for an account page, hands the identity to the router ([`Outcome`]),
//!    which the account pages finish with. This room knows nothing of them.
//!
//! The PKCE verifier and the OpenID Connect `nonce` are HMACs of the `state`
//! under a key derived from `SIGNING_KEY`, so nothing secret is stored.

use crate::crypto::{b64url, hmac_sha256, sha256_b64url};
use crate::csrf;
use crate::error::ErrorCode;
use crate::form::Params;
use crate::grant::GrantStore;
use crate::http::{Cookie, LogFields, Method, Request, Response};
use crate::i18n::{Phrase, Text};
use crate::provider::client;
use crate::provider::{Failure, Provider};
use crate::store::Store;
use crate::throttle::{self, Limit};
use crate::Ctx;

use super::authorize::{
    finish, form_expired, form_is_ours, form_params, login_page, unreadable, validate, ClientCopy,
    Refused,
};
use super::forms::origin_of;

mod callback;
mod state;

pub(in crate::endpoint) use callback::{callback, Outcome, Vouched};

use state::PendingSignIn;
pub(in crate::endpoint) use state::{Page, Return};

/// How long a sign-in through a provider may take, from the button to the callback.
const STATE_TTL: u64 = 10 * 60;

/// The cookie that carries a pending sign-in (see [`state`]).
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

/// The provider a path names, if `SIGN_IN_PROVIDERS` names it.
pub(in crate::endpoint) fn named<'c, S>(ctx: &'c Ctx<'_, S>, name: &str) -> Option<&'c Provider> {
    ctx.config.providers.get(name)
}

/// The provider a step's path names, if the step takes the request's
/// method: besides GET, only `/signin/…` takes POST. A HEAD (a link checker,
/// a prefetch) must not start or spend a sign-in.
fn step_provider<'c, S>(
    req: &Request,
    ctx: &'c Ctx<'_, S>,
    name: &str,
    post: bool,
    log: &mut LogFields,
) -> Result<&'c Provider, Refused> {
    let p = named(ctx, name).ok_or(Refused::Page {
        status: 404,
        title: Text::unknown_provider_title,
        detail: Text::unknown_provider.into(),
        error: ErrorCode::InvalidRequest,
        reason: "no such sign-in provider",
    })?;
    log.provider = Some(p.name.clone());
    match req.method() {
        Method::Get => Ok(p),
        Method::Post if post => Ok(p),
        _ => Err(Refused::Page {
            status: 405,
            title: Text::method_title,
            detail: Text::method_detail.into(),
            error: ErrorCode::InvalidRequest,
            reason: "method not allowed",
        }),
    }
}

/// A step's answer, with the shared error pages and log fields.
fn conclude(result: Result<Response, Refused>, mut log: LogFields, post: bool) -> Response {
    let mut response = finish(result, &mut log);
    if response.status == 405 {
        response = response.header("allow", if post { "GET, POST" } else { "GET" });
    }
    response.with_log(log)
}

/// A failed step at the provider as a page with a way back to the login form.
fn failed(p: &Provider, f: Failure, again: String, log: &mut LogFields) -> Refused {
    log.reason = Some(f.reason());
    let (status, title, detail, error) = match f {
        Failure::Unavailable(_) => (
            503,
            Text::try_again_title,
            Phrase::with(Text::provider_unavailable, "provider", &p.label),
            ErrorCode::TemporarilyUnavailable,
        ),
        Failure::Unverified(_) => (
            401,
            Text::sign_in_failed_title,
            Phrase::with(Text::provider_unconfirmed, "provider", &p.label),
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
    let mut log = LogFields::default();
    let result = match step_provider(req, ctx, name, true, &mut log) {
        Ok(p) => start_from_login_page(req, ctx, p, &mut log).await,
        Err(refused) => Err(refused),
    };
    conclude(result, log, true)
}

async fn start_from_login_page<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    p: &Provider,
    log: &mut LogFields,
) -> Result<Response, Refused> {
    if req.method() == Method::Get {
        // Not from our page: the login page for the same request, whose
        // button starts the sign-in. Nothing leaves for the provider.
        let params = Params::parse(req.query.as_bytes()).map_err(unreadable)?;
        let ar = validate(&params, ctx, log, ClientCopy::Cached).await?;
        log.reason = Some("a sign-in through a provider starts from the login page");
        return login_page(req, ctx, &ar, None, "", 200);
    }
    let params = form_params(req)?;
    let ar = validate(&params, ctx, log, ClientCopy::Cached).await?;
    if !form_is_ours(req, ctx, &params, &ar)? {
        return form_expired(req, ctx, &ar, log);
    }
    // Holds back an address that starts sign-ins in a loop (each costs a
    // provider metadata lookup and a redirect), as it does password tries.
    if !address_allowed(req, ctx, log).await? {
        return login_page(req, ctx, &ar, Some(Text::too_many.into()), "", 429);
    }
    // The request as the login page carries it, checked again on return.
    to_provider(req, ctx, p, Return::Authorize(ar.query()), log).await
}

/// Sends the browser to the provider for a start the account pages checked
/// (their form's CSRF token and the per-address limit): `to` is the page
/// the sign-in returns to.
pub(in crate::endpoint) async fn begin<S: Store>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    p: &Provider,
    to: Page,
    mut log: LogFields,
) -> Response {
    log.provider = Some(p.name.clone());
    log.reason = Some("a sign-in from the account pages");
    let result = to_provider(req, ctx, p, Return::Page(to), &mut log).await;
    conclude(result, log, true)
}

/// Sends the browser to the provider, with the pending sign-in sealed in a
/// cookie for this browser. The caller has checked the form's CSRF token, so
/// the nonce cookie is there.
async fn to_provider<S: Store>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    p: &Provider,
    to: Return,
    log: &mut LogFields,
) -> Result<Response, Refused> {
    let key = signing_key(ctx)?;
    let meta = client::metadata(p, &ctx.outbound, ctx.now).await;
    let meta = meta.map_err(|f| failed(p, f, to.again(), log))?;
    let state = crate::crypto::random_string(ctx.rng, 24);
    let nonce = req.cookie(csrf::COOKIE).unwrap_or_default();
    let pending = PendingSignIn::new(
        p.name.clone(),
        to,
        ctx.now + STATE_TTL,
        state.clone(),
        page_language(req),
    );
    let sealed = state::seal(&state_key(ctx)?, nonce, &pending);
    if sealed.len() > state::MAX_COOKIE {
        return Err(Refused::page(
            Text::state_too_long_title,
            Text::state_too_long,
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
    let expected = client::expected_authorization_url(p).and_then(origin_of);
    let answer = if origin_of(&meta.authorization_endpoint) == expected {
        Response::redirect(url)
    } else {
        let label = Phrase::with(Text::continue_to, "provider", &p.label);
        let detail = Phrase::with(Text::continue_with, "provider", &p.label);
        crate::page::onward_page(label.clone(), detail, &url, label)
    };
    Ok(answer.set_cookie(req, cookie))
}

/// The language tag the starting page's form carried (its `lang` field),
/// if it looks like one: it travels in the cookie, so it is kept short.
fn page_language(req: &Request) -> Option<String> {
    let form = super::forms::read(req).ok()?;
    let tag = form.get("lang")?;
    crate::i18n::is_tag(tag).then(|| tag.to_owned())
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
