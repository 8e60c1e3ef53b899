//! Signing in with a password, wherever a person does it (the login page,
//! the account page): every attempt counts against the limits first (see
//! [`crate::throttle`]), then the password is checked, in the same time
//! whether or not the user exists.

use crate::csrf;
use crate::http::Request;
use crate::password::{verify_dummy, verify_password, Verdict};
use crate::registration;
use crate::store::{Records, Store, UserRecord};
use crate::throttle::{self, Limit};
use crate::types::Password;
use crate::Ctx;

/// The key of the login form's CSRF tokens and of device cookies, a
/// sub-key of `SIGNING_KEY`; `None` without one. The account page checks
/// device cookies with it too, so a known browser is exempt there as well.
pub(super) fn login_key<S>(ctx: &Ctx<'_, S>) -> Option<[u8; 32]> {
    let key = ctx.config.signing_key.as_ref().ok()?;
    Some(key.derive(b"login-form-csrf"))
}

/// How an attempt ended.
pub(super) enum Attempt {
    SignedIn(UserRecord),
    /// Wrong username or password; the reason is for the log.
    Refused(&'static str),
    /// Over a limit: try again after [`Limit::PERIOD`].
    TooMany,
    /// The limiter or the store could not be reached.
    Unavailable,
}

/// One attempt to sign in as `username` (already normalised). A browser
/// that signed in as this user before (its device cookie, checked with
/// `csrf_key`) is exempt from the per-username limit.
pub(super) async fn with_password<S: Store>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    username: &str,
    password: &Password,
    csrf_key: &[u8; 32],
) -> Attempt {
    let address = throttle::address(req);
    let user_key = throttle::user_key(username);
    let known_device = req
        .cookie(csrf::DEVICE_COOKIE)
        .is_some_and(|v| csrf::check_device(csrf_key, v, username, ctx.now));
    let mut attempts = vec![
        (Limit::LoginUserAddress, format!("{user_key}@{address}")),
        (Limit::LoginAddress, address),
    ];
    if !known_device {
        attempts.push((Limit::LoginUser, user_key));
    }
    for (limit, key) in &attempts {
        match ctx.limiter.hit(*limit, key, ctx.now).await {
            Ok(true) => {}
            Ok(false) => return Attempt::TooMany,
            Err(_) => return Attempt::Unavailable,
        }
    }
    // A username longer than any registered one names nobody: no storage read.
    let user = if username.len() > registration::MAX_USERNAME {
        None
    } else {
        match ctx.store.user(username).await {
            Ok(user) => user,
            Err(_) => return Attempt::Unavailable,
        }
    };
    let hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let verdict = match hash {
        Some(hash) => verify_password(ctx.pbkdf2, hash, password).await,
        // No such user, or one who signs in only through a provider.
        None => {
            verify_dummy(ctx.pbkdf2, password).await; // Same time as a real check.
            Verdict::NoMatch
        }
    };
    match (user, verdict) {
        (Some(user), Verdict::Match) => Attempt::SignedIn(user),
        (_, Verdict::Unusable(why)) => Attempt::Refused(why),
        _ => Attempt::Refused("wrong username or password"),
    }
}
