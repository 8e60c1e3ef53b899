//! Signing in with a password: `POST /authorize`, the login form's submission
//! (or its Cancel button).

use super::{
    form_expired, form_is_ours, form_key, form_params, issue_code, login_page, validate,
    AuthRequest, Refused,
};
use crate::csrf;
use crate::error::{ErrorCode, OAuthError};
use crate::grant::GrantStore;
use crate::http::{Cookie, LogFields, Request, Response};
use crate::password::{verify_dummy, verify_password, Verdict};
use crate::registration::{self, normalize_username};
use crate::store::Records;
use crate::throttle::{self, Limit};
use crate::types::Password;
use crate::Ctx;

/// The form submission: sign in, or cancel.
pub(super) async fn post<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    log: &mut LogFields,
) -> Result<Response, Refused> {
    let mut params = form_params(req)?;
    let ar = validate(&params, ctx, log).await?;
    if !form_is_ours(req, ctx, &params, &ar)? {
        return form_expired(req, ctx, &ar, log);
    }
    let csrf_key = form_key(ctx)?;
    if params.get("action") == Some("cancel") {
        let e = OAuthError::new(ErrorCode::AccessDenied, "the user cancelled the request");
        return Err(Refused::to_client(&ar, e));
    }

    if !ctx.config.password_sign_in {
        return Err(Refused::Page {
            status: 403,
            title: "Password sign-in is off",
            detail: "This service signs people in through the buttons on its sign-in page only.",
            error: ErrorCode::AccessDenied,
            reason: "PASSWORD_SIGN_IN is false",
        });
    }
    let username = normalize_username(params.get("username").unwrap_or(""));
    let password = Password::new(params.take("password").unwrap_or_default());
    if username.is_empty() || password.secret().is_empty() {
        let msg = "Enter your username and password.";
        return login_page(req, ctx, &ar, Some(msg), &username, 400);
    }
    // Brute force: every attempt counts, before any password work (see
    // `crate::throttle` for the rule). A browser that signed in as this user
    // before is exempt from the per-username limit.
    let address = throttle::address(req);
    let user_key = throttle::user_key(&username);
    let known_device = req
        .cookie(csrf::DEVICE_COOKIE)
        .is_some_and(|v| csrf::check_device(&csrf_key, v, &username, ctx.now));
    let mut attempts = vec![
        (Limit::LoginUserAddress, format!("{user_key}@{address}")),
        (Limit::LoginAddress, address),
    ];
    if !known_device {
        attempts.push((Limit::LoginUser, user_key));
    }
    for (limit, key) in &attempts {
        let allowed = ctx.limiter.hit(*limit, key, ctx.now).await;
        if !allowed.map_err(|_| Refused::Unavailable)? {
            return too_many_tries(req, ctx, &ar, &username, Limit::PERIOD, log);
        }
    }
    // A username longer than any registered one names nobody: no storage read.
    let user = if username.len() > registration::MAX_USERNAME {
        None
    } else {
        ctx.store
            .user(&username)
            .await
            .map_err(|_| Refused::Unavailable)?
    };
    let hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let verdict = match hash {
        Some(hash) => verify_password(ctx.pbkdf2, hash, &password).await,
        // No such user, or one who signs in only through a provider.
        None => {
            verify_dummy(ctx.pbkdf2, &password).await; // Same time as a real check.
            Verdict::NoMatch
        }
    };
    let user = match (user, verdict) {
        (Some(user), Verdict::Match) => user,
        (_, verdict) => {
            log.reason = Some(match verdict {
                Verdict::Unusable(why) => why,
                _ => "wrong username or password",
            });
            let msg = "Incorrect username or password.";
            return login_page(req, ctx, &ar, Some(msg), &username, 401);
        }
    };
    log.sub = Some(user.id.to_string());
    let device = csrf::device_token(&csrf_key, &username, ctx.now + csrf::DEVICE_TTL);
    let device = Cookie {
        name: csrf::DEVICE_COOKIE,
        value: &device,
        max_age: csrf::DEVICE_TTL,
    };
    Ok(issue_code(ctx, &ar, user).await?.set_cookie(req, device))
}

/// 429: the login form again, saying when to retry.
fn too_many_tries<S>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    ar: &AuthRequest,
    username: &str,
    wait: u64,
    log: &mut LogFields,
) -> Result<Response, Refused> {
    log.reason = Some("too many failed sign-ins");
    let minutes = wait.div_ceil(60);
    let msg = format!(
        "Too many failed sign-ins. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    );
    let page = login_page(req, ctx, ar, Some(&msg), username, 429)?;
    Ok(page.header("retry-after", wait.to_string()))
}
