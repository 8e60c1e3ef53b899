//! A session of the account pages: a cookie, not a record, 15 minutes.
//!
//! Its value is `<username>.<exp>.<mac of username>.<mac of username and
//! the password's fingerprint>`. The first MAC is checked before the user is
//! read, so a forged cookie costs no storage read; the second binds the
//! session to how the user signed in, so a password change anywhere ends
//! every session opened with the old one.

use crate::crypto::{b64url, b64url_decode};
use crate::csrf;
use crate::error::StoreError;
use crate::http::{Cookie, Request, Response};
use crate::store::{PasswordLink, Records, Store, UserRecord};
use crate::Ctx;

/// The cookie's name (`__Host-account` over https).
const COOKIE: &str = "account";
/// How long a session lasts.
const TTL: u64 = 15 * 60;

/// `r` with a new session for `user`, under `key`.
pub(super) fn open(
    r: Response,
    req: &Request,
    key: &[u8; 32],
    user: &UserRecord,
    now: u64,
) -> Response {
    let exp = now + TTL;
    let name = &user.username;
    let fingerprint = PasswordLink::fingerprint(user);
    let who = csrf::token(key, "session", exp, &[name]);
    let how = csrf::token(key, "session-sign-in", exp, &[name, &fingerprint]);
    let how = how.split_once('.').map_or("", |(_, mac)| mac);
    let value = format!("{}.{who}.{how}", b64url(name.as_bytes()));
    let cookie = Cookie {
        name: COOKIE,
        value: &value,
        max_age: TTL,
    };
    r.set_cookie(req, cookie)
}

/// `r`, ending the browser's session.
pub(super) fn close(r: Response, req: &Request) -> Response {
    let cookie = Cookie {
        name: COOKIE,
        value: "",
        max_age: 0,
    };
    r.set_cookie(req, cookie)
}

/// The signed-in user, if the request carries a live session for one whose
/// password has not changed since.
pub(super) async fn user<S: Store>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    key: &[u8; 32],
) -> Result<Option<UserRecord>, StoreError> {
    let parts: Vec<&str> = req.cookie(COOKIE).unwrap_or_default().split('.').collect();
    let [name, exp, who, how] = parts[..] else {
        return Ok(None);
    };
    let Some(username) = b64url_decode(name).and_then(|b| String::from_utf8(b).ok()) else {
        return Ok(None);
    };
    let who = format!("{exp}.{who}");
    if !csrf::check(key, "session", &who, &[&username], ctx.now) {
        return Ok(None);
    }
    let Some(user) = ctx.store.user(&username).await? else {
        return Ok(None);
    };
    let fingerprint = PasswordLink::fingerprint(&user);
    let how = format!("{exp}.{how}");
    let live = csrf::check(
        key,
        "session-sign-in",
        &how,
        &[&username, &fingerprint],
        ctx.now,
    );
    Ok(live.then_some(user))
}
