//! Signing in with a password: `POST /authorize`, the login form's submission
//! (or its Cancel button).

use super::{
    form_expired, form_is_ours, form_key, form_params, issue_code, login_page, validate,
    AuthRequest, ClientCopy, Refused,
};
use crate::csrf;
use crate::endpoint::sign_in::{self, Attempt};
use crate::error::{ErrorCode, OAuthError};
use crate::grant::GrantStore;
use crate::http::{Cookie, LogFields, Request, Response};
use crate::i18n::{Phrase, Text};
use crate::registration::normalize_username;
use crate::throttle::Limit;
use crate::types::Password;
use crate::Ctx;

/// The form submission: sign in, or cancel.
pub(super) async fn post<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    log: &mut LogFields,
) -> Result<Response, Refused> {
    let mut params = form_params(req)?;
    let ar = validate(&params, ctx, log, ClientCopy::Cached).await?;
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
            title: Text::password_off_title,
            detail: Text::password_off.into(),
            error: ErrorCode::AccessDenied,
            reason: "PASSWORD_SIGN_IN is false",
        });
    }
    let username = normalize_username(params.get("username").unwrap_or(""));
    let password = Password::new(params.take("password").unwrap_or_default());
    if username.is_empty() || password.secret().is_empty() {
        let msg = Text::enter_credentials.into();
        return login_page(req, ctx, &ar, Some(msg), &username, 400);
    }
    let user = match sign_in::with_password(req, ctx, &username, &password, &csrf_key).await {
        Attempt::SignedIn(user) => user,
        Attempt::Refused(why) => {
            log.reason = Some(why);
            let msg = Text::wrong_password.into();
            return login_page(req, ctx, &ar, Some(msg), &username, 401);
        }
        Attempt::TooMany => return too_many_tries(req, ctx, &ar, &username, Limit::PERIOD, log),
        Attempt::Unavailable => return Err(Refused::Unavailable),
    };
    log.sub = Some(user.id.to_string());
    let device = csrf::device_token(&csrf_key, &username, ctx.now + csrf::DEVICE_TTL);
    let device = Cookie {
        name: csrf::DEVICE_COOKIE,
        value: &device,
        max_age: csrf::DEVICE_TTL,
    };
    Ok(issue_code(ctx, &params, user, log)
        .await?
        .set_cookie(req, device))
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
    let msg = Phrase::with(Text::too_many_minutes, "minutes", minutes.to_string());
    let page = login_page(req, ctx, ar, Some(msg), username, 429)?;
    Ok(page.header("retry-after", wait.to_string()))
}
