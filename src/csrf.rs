//! The login form's CSRF protection, and the device cookie.
//!
//! The browser holds a random nonce in a cookie; the form carries
//! `<expiry>.<HMAC(key, nonce, expiry, the authorization request)>`. A posted
//! form is accepted only with the cookie it was made for, before its expiry,
//! for the exact request it was shown for: another site cannot post a login
//! into someone's browser, and a form cannot be replayed for another client,
//! redirect URI, state, scope or PKCE challenge.

use crate::crypto::{b64url, ct_eq, hmac_sha256};

/// The nonce cookie's name (see [`crate::http::Cookie`] for its prefix over
/// https).
pub(crate) const COOKIE: &str = "login-csrf";

/// Whether a cookie value has the shape of a nonce we set (16 random bytes,
/// unpadded base64url), so a browser's existing nonce can be kept.
pub(crate) fn is_nonce(value: &str) -> bool {
    value.len() == 22
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The bytes a token signs. Length-prefixed, so no two different field lists
/// give the same bytes.
fn input(nonce: &str, exp: u64, request: &[&str]) -> Vec<u8> {
    let exp = exp.to_string();
    let mut out = Vec::new();
    for f in [nonce, exp.as_str()].iter().chain(request) {
        out.extend_from_slice(&(f.len() as u32).to_be_bytes());
        out.extend_from_slice(f.as_bytes());
    }
    out
}

/// The token for a form shown to the browser holding `nonce`, valid until
/// `exp`, for the request described by `request`.
pub(crate) fn token(key: &[u8], nonce: &str, exp: u64, request: &[&str]) -> String {
    format!(
        "{exp}.{}",
        b64url(&hmac_sha256(key, &input(nonce, exp, request)))
    )
}

/// Whether a posted token was made for this nonce and request, and is unexpired.
/// Compared in constant time.
pub(crate) fn check(key: &[u8], nonce: &str, token: &str, request: &[&str], now: u64) -> bool {
    let Some((exp, _)) = token.split_once('.') else {
        return false;
    };
    let Ok(exp) = exp.parse::<u64>() else {
        return false;
    };
    exp > now
        && ct_eq(
            self::token(key, nonce, exp, request).as_bytes(),
            token.as_bytes(),
        )
}

/// The device cookie: set after a successful sign-in, it exempts this browser
/// from the per-username attempt limit for that user (see [`crate::throttle`]).
pub(crate) const DEVICE_COOKIE: &str = "login-device";

/// How long a device cookie is honoured: a year.
pub(crate) const DEVICE_TTL: u64 = 365 * 24 * 3600;

/// A device cookie's value for `username`, valid until `exp`.
pub(crate) fn device_token(key: &[u8], username: &str, exp: u64) -> String {
    token(key, "device", exp, &[username])
}

/// Whether a device cookie was made for `username` and is unexpired.
pub(crate) fn check_device(key: &[u8], value: &str, username: &str, now: u64) -> bool {
    check(key, "device", value, &[username], now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"a csrf key of some length";
    const NONCE: &str = "AAAAAAAAAAAAAAAAAAAAAA";
    const REQUEST: [&str; 3] = ["alexa", "https://layla.amazon.com/cb", "state"];

    #[test]
    fn a_token_checks_for_its_nonce_and_request_until_it_expires() {
        let t = token(KEY, NONCE, 100, &REQUEST);
        assert!(check(KEY, NONCE, &t, &REQUEST, 99));
        assert!(!check(KEY, NONCE, &t, &REQUEST, 100), "expired");
        assert!(
            !check(KEY, "BBBBBBBBBBBBBBBBBBBBBB", &t, &REQUEST, 0),
            "other browser"
        );
        assert!(!check(b"another key", NONCE, &t, &REQUEST, 0), "other key");
        let other = ["alexa", "https://evil.example/cb", "state"];
        assert!(!check(KEY, NONCE, &t, &other, 0), "other request");
    }

    #[test]
    fn fields_cannot_be_shifted_into_each_other() {
        let t = token(KEY, NONCE, 100, &["ab", "c"]);
        assert!(!check(KEY, NONCE, &t, &["a", "bc"], 0));
    }

    #[test]
    fn malformed_tokens_and_a_moved_expiry_fail() {
        let t = token(KEY, NONCE, 100, &REQUEST);
        let (_, mac) = t.split_once('.').unwrap();
        for bad in ["", "100", "x.y", &format!("200.{mac}")] {
            assert!(!check(KEY, NONCE, bad, &REQUEST, 0), "{bad:?}");
        }
    }

    #[test]
    fn a_device_cookie_is_for_one_user() {
        let t = device_token(KEY, "alice", 100);
        assert!(check_device(KEY, &t, "alice", 99));
        assert!(!check_device(KEY, &t, "bob", 99));
        assert!(!check_device(KEY, &t, "alice", 100));
        assert!(!check(KEY, NONCE, &t, &["alice"], 0), "not a CSRF token");
    }

    #[test]
    fn nonces() {
        assert!(is_nonce(NONCE));
        assert!(!is_nonce("short"));
        assert!(!is_nonce("AAAAAAAAAAAAAAAAAAAAA="));
    }
}
