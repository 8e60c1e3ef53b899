//! Sign-in through an upstream provider, as two steps of `/authorize`:
//!
//! 1. `GET /signin/<provider>?<the authorization request>` (a button on the
//!    login page) checks the request, stores a single-use [`SignInState`] for
//!    10 minutes under the hash of a random `state`, puts that `state` in a
//!    cookie, and sends the browser to the provider.
//! 2. `GET /callback/<provider>?code&state` (the provider's redirect) accepts
//!    only the `state` this browser's cookie holds, spends its record, checks
//!    the authorization request again, exchanges the code
//!    ([`crate::upstream::client`]), and issues our code to a user whom the
//!    operator allowed that identity to sign in as.
//!
//! The PKCE verifier and the OpenID Connect `nonce` are HMACs of the `state`
//! under a key derived from `SIGNING_KEY`, so nothing secret is stored.

use crate::crypto::{b64url, ct_eq, hmac_sha256, sha256_b64url, token_hash};
use crate::error::ErrorCode;
use crate::form::Params;
use crate::http::{LogFields, Method, Request, Response};
use crate::store::{get_json, keys, put_json, SignInState, Store, UserRecord};
use crate::throttle::{self, Limit};
use crate::types::UserId;
use crate::upstream::client::{self, Callback};
use crate::upstream::{Failure, Identity, Provider};
use crate::Ctx;

use super::{finish, issue_code, login_page, unreadable, validate, Refused};

/// How long an upstream sign-in may take, from the button to the callback.
const STATE_TTL: u64 = 10 * 60;

/// The cookie that binds an upstream round trip to the browser that began it.
fn state_cookie(https: bool) -> &'static str {
    if https {
        "__Host-signin-state"
    } else {
        "signin-state"
    }
}

/// The PKCE verifier (RFC 7636 §4.1: 43 characters) or nonce of a `state`.
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

/// Runs one step with the shared log fields and error pages.
async fn answer<'c, S: Store, F>(
    req: &'c Request,
    ctx: &'c Ctx<'c, S>,
    name: &str,
    step: F,
) -> Response
where
    F: AsyncFnOnce(&'c Provider, &mut LogFields) -> Result<Response, Refused>,
{
    let mut log = LogFields::default();
    // GET only: a HEAD (a link checker, a prefetch) must not spend a state or
    // write one.
    let result = match (req.method(), provider(ctx, name)) {
        (Method::Get, Ok(p)) => {
            log.provider = Some(p.name.clone());
            step(p, &mut log).await
        }
        (_, Err(refused)) => Err(refused),
        (_, Ok(_)) => Err(Refused::Page {
            status: 405,
            title: "Method not allowed",
            detail: "This address takes GET only.",
            error: ErrorCode::InvalidRequest,
            reason: "method not allowed",
        }),
    };
    let response = finish(result, req.is_https(), &mut log);
    let response = match response.status {
        405 => response.header("allow", "GET"),
        _ => response,
    };
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

/// `GET /signin/<provider>`.
pub(in crate::endpoint) async fn start<S: Store>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    name: &str,
) -> Response {
    answer(req, ctx, name, async |p: &Provider, log: &mut LogFields| {
        let params = Params::parse(req.query.as_bytes()).map_err(unreadable)?;
        let ar = validate(&params, ctx, log).await?;
        let again = format!("/authorize?{}", req.query);
        // Each start writes a KV record: the per-address sign-in limit bounds that.
        let allowed = ctx
            .limiter
            .hit(Limit::LoginAddress, &throttle::address(req), ctx.now)
            .await;
        if !allowed.map_err(|_| Refused::Unavailable)? {
            log.reason = Some("too many sign-ins from this address");
            let msg = "Too many sign-ins from here. Try again in a minute.";
            return login_page(req, ctx, &ar, Some(msg), "", 429);
        }
        let key = signing_key(ctx)?;
        let meta = client::metadata(p, &ctx.upstream, ctx.now).await;
        let meta = meta.map_err(|f| failed(p, f, again.clone(), log))?;
        let state = crate::crypto::random_string(ctx.rng, 24);
        let record = SignInState {
            provider: p.name.clone(),
            request: req.query.clone(),
            expires_at: ctx.now + STATE_TTL,
            used: false,
        };
        let at = keys::sign_in(&token_hash(&state));
        put_json(ctx.store, &at, &record, Some(record.expires_at))
            .await
            .map_err(|_| Refused::Unavailable)?;
        let url = client::authorization_url(
            p,
            &meta,
            &callback_uri(req, ctx, p),
            &state,
            &sha256_b64url(&derived(&key, b"upstream-pkce", &state)),
            &derived(&key, b"upstream-nonce", &state),
        );
        let https = req.is_https();
        let cookie = format!(
            "{}={state}; Path=/; Max-Age={STATE_TTL}; HttpOnly; SameSite=Lax{}",
            state_cookie(https),
            if https { "; Secure" } else { "" },
        );
        Ok(Response::redirect(url).header("set-cookie", cookie))
    })
    .await
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
pub(in crate::endpoint) async fn callback<S: Store>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    name: &str,
) -> Response {
    answer(req, ctx, name, async |p: &Provider, log: &mut LogFields| {
        let params = Params::parse(req.query.as_bytes()).map_err(unreadable)?;
        let stale = |reason| Refused::Page {
            status: 400,
            title: "This sign-in has expired",
            detail: "It was not started in this browser, was already used, or took longer \
                         than 10 minutes. Go back to the Alexa app and link again.",
            error: ErrorCode::InvalidRequest,
            reason,
        };
        // The browser binding: the `state` must be the one this browser's
        // cookie holds (RFC 9700 §4.7.1), so nobody can finish another's sign-in.
        let state = params.get("state").unwrap_or("");
        let cookie = req.cookie(state_cookie(req.is_https())).unwrap_or("");
        if state.is_empty() || !ct_eq(state.as_bytes(), cookie.as_bytes()) {
            return Err(stale("the state is not this browser's"));
        }
        let at = keys::sign_in(&token_hash(state));
        let record: Option<SignInState> = get_json(ctx.store, &at)
            .await
            .map_err(|_| Refused::Unavailable)?;
        let Some(mut record) = record else {
            return Err(stale("no such sign-in state"));
        };
        if record.used || record.expires_at <= ctx.now || record.provider != p.name {
            return Err(stale(
                "the sign-in state was used, expired or is another provider's",
            ));
        }
        record.used = true;
        put_json(ctx.store, &at, &record, Some(record.expires_at))
            .await
            .map_err(|_| Refused::Unavailable)?;
        let again = format!("/authorize?{}", record.request);
        let pending = Params::parse(record.request.as_bytes()).map_err(unreadable)?;
        let ar = validate(&pending, ctx, log).await?;
        if let Some(error) = params.get("error") {
            log.reason = Some(match error {
                "access_denied" => "the person declined at the provider",
                _ => "the provider answered with an error",
            });
            let msg = format!("Signing in with {} did not complete.", p.label);
            return login_page(req, ctx, &ar, Some(&msg), "", 403);
        }
        let Some(code) = params.get("code") else {
            return Err(stale("the provider sent no code"));
        };
        let key = signing_key(ctx)?;
        let cb = Callback {
            code,
            iss: params.get("iss"),
            redirect_uri: &callback_uri(req, ctx, p),
            code_verifier: &derived(&key, b"upstream-pkce", state),
            nonce: &derived(&key, b"upstream-nonce", state),
            now: ctx.now,
        };
        let identity = client::sign_in(p, &ctx.upstream, &cb).await;
        let identity = identity.map_err(|f| failed(p, f, again.clone(), log))?;
        log.identity = Some(identity.key());
        let user = user_for(ctx, p, &identity, &key, again, log).await?;
        log.reason = Some("signed in through the provider");
        let https = req.is_https();
        let spent = format!(
            "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{}",
            state_cookie(https),
            if https { "; Secure" } else { "" }
        );
        Ok(issue_code(ctx, &ar, user)
            .await?
            .header("set-cookie", spent))
    })
    .await
}

/// The user an identity may sign in as: from the operator's allow-list, or new
/// when the provider has `AUTO_CREATE`.
async fn user_for<S: Store>(
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
    let derived_id = b64url(&hmac_sha256(key, id_key.as_bytes()));
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
    };
    let link = crate::store::IdentityLink {
        username: user.username.clone(),
    };
    let unavailable = |_| Refused::Unavailable;
    put_json(ctx.store, &keys::user(&user.username), &user, None)
        .await
        .map_err(unavailable)?;
    put_json(ctx.store, &keys::identity(&id_key), &link, None)
        .await
        .map_err(unavailable)?;
    log.reason = Some("user created on first sign-in");
    Ok(user)
}
