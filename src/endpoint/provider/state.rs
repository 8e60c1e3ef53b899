//! The state of a sign-in through a provider, between `/signin/<provider>`
//! and `/callback/<provider>`, carried by the browser in a cookie rather than
//! stored: a start writes nothing, so nobody can spend the KV write quota by
//! starting sign-ins.
//!
//! The cookie is `<payload>.<mac>`: the payload (base64url JSON) names the
//! provider, where the sign-in returns ([`Return`]), the expiry and the `state`
//! sent to the provider; the MAC is an HMAC under a sub-key of `SIGNING_KEY`
//! over the payload and the browser's login-form nonce cookie, so the cookie
//! works only in the browser whose login page started the sign-in, only
//! unchanged, and only until it expires. The callback clears it; a replayed
//! callback also meets the provider's own single-use code.

use serde::{Deserialize, Serialize};

use crate::crypto::{b64url, b64url_decode, ct_eq, hmac_sha256};

/// A sign-in under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct PendingSignIn {
    /// The provider's name.
    #[serde(rename = "p")]
    pub provider: String,
    /// Where the sign-in returns, as two strings ([`Self::to`]): a derived
    /// enum would cost the wasm more than these two fields.
    #[serde(rename = "r")]
    request: String,
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    /// Unix seconds.
    #[serde(rename = "e")]
    pub expires_at: u64,
    /// The `state` sent to the provider, which must come back with the code.
    #[serde(rename = "s")]
    pub state: String,
    /// The language of the page the sign-in started from, for the pages
    /// after the return.
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

impl PendingSignIn {
    pub(super) fn new(
        provider: String,
        to: Return,
        expires_at: u64,
        state: String,
        lang: Option<String>,
    ) -> Self {
        let (request, next) = match to {
            Return::Authorize(request) => (request, None),
            Return::Page(Page::Account) => (String::new(), Some("account".to_owned())),
            Return::Page(Page::Invite(token)) => (String::new(), Some(format!("invite/{token}"))),
        };
        Self {
            provider,
            request,
            next,
            expires_at,
            state,
            lang,
        }
    }

    /// Where the sign-in returns; `None` for a `next` no page of ours sets.
    pub(super) fn to(&self) -> Option<Return> {
        match self.next.as_deref() {
            None => Some(Return::Authorize(self.request.clone())),
            Some("account") => Some(Return::Page(Page::Account)),
            Some(next) => next
                .strip_prefix("invite/")
                .map(|token| Return::Page(Page::Invite(token.to_owned()))),
        }
    }
}

/// Where a sign-in through a provider returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::endpoint) enum Return {
    /// The pending `/authorize` request, as a query; checked again on
    /// return, then a code.
    Authorize(String),
    /// One of the account pages, which finish the sign-in themselves.
    Page(Page),
}

/// The account page a sign-in through a provider returns to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::endpoint) enum Page {
    /// `/account`: a session for the user the identity signs in as.
    Account,
    /// `/invite/<token>`: the invited user's account, taken up with the
    /// identity.
    Invite(String),
}

impl Page {
    /// The page's path: where its buttons are, and the way back to them.
    pub(in crate::endpoint) fn path(&self) -> String {
        match self {
            Self::Account => "/account".to_owned(),
            Self::Invite(token) => format!("/invite/{token}"),
        }
    }
}

impl Return {
    /// Where a failed sign-in offers to try again.
    pub(super) fn again(&self) -> String {
        match self {
            Self::Authorize(request) => format!("/authorize?{request}"),
            Self::Page(page) => page.path(),
        }
    }
}

/// Browsers keep cookies of about 4 KiB; a larger one would be dropped
/// silently and the sign-in would fail at the callback instead of here.
pub(super) const MAX_COOKIE: usize = 3_800;

fn mac(key: &[u8; 32], nonce: &str, payload: &str) -> String {
    let mut msg = (nonce.len() as u32).to_be_bytes().to_vec();
    msg.extend_from_slice(nonce.as_bytes());
    msg.extend_from_slice(payload.as_bytes());
    b64url(&hmac_sha256(key, &msg))
}

/// The cookie value for `pending`, bound to the browser's `nonce`.
pub(super) fn seal(key: &[u8; 32], nonce: &str, pending: &PendingSignIn) -> String {
    let json = serde_json::to_vec(pending).expect("a pending sign-in serialises");
    let payload = b64url(&json);
    let mac = mac(key, nonce, &payload);
    format!("{payload}.{mac}")
}

/// The pending sign-in a cookie carries, if it was sealed for this browser's
/// `nonce`, unchanged, and has not expired.
pub(super) fn open(key: &[u8; 32], nonce: &str, cookie: &str, now: u64) -> Option<PendingSignIn> {
    let (payload, given) = cookie.rsplit_once('.')?;
    if !ct_eq(mac(key, nonce, payload).as_bytes(), given.as_bytes()) {
        return None;
    }
    let json = b64url_decode(payload)?;
    let pending: PendingSignIn = serde_json::from_slice(&json).ok()?;
    (pending.expires_at > now).then_some(pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> PendingSignIn {
        let to = Return::Authorize("response_type=code&client_id=alexa".into());
        PendingSignIn::new("idp".into(), to, 1_600, "s".repeat(32), Some("de".into()))
    }

    #[test]
    fn where_it_returns_survives_the_cookie() {
        for to in [
            Return::Authorize("a=b".into()),
            Return::Page(Page::Account),
            Return::Page(Page::Invite("tok".into())),
        ] {
            let p = PendingSignIn::new("idp".into(), to.clone(), 9, "s".into(), None);
            let back: PendingSignIn =
                serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
            assert_eq!(back.to(), Some(to));
        }
        let mut odd = pending();
        odd.next = Some("elsewhere".into());
        assert_eq!(odd.to(), None);
    }

    #[test]
    fn a_cookie_opens_only_unchanged_in_its_browser_before_its_expiry() {
        let key = [7; 32];
        let cookie = seal(&key, "nonce-a", &pending());
        assert_eq!(open(&key, "nonce-a", &cookie, 1_000), Some(pending()));
        assert_eq!(
            open(&key, "nonce-b", &cookie, 1_000),
            None,
            "another browser"
        );
        assert_eq!(
            open(&[8; 32], "nonce-a", &cookie, 1_000),
            None,
            "another key"
        );
        assert_eq!(open(&key, "nonce-a", &cookie, 1_600), None, "expired");
        let mut other = pending();
        other.provider = "amazon".into();
        let forged = format!(
            "{}.{}",
            seal(&key, "x", &other).split('.').next().unwrap(),
            cookie.split('.').nth(1).unwrap()
        );
        assert_eq!(
            open(&key, "nonce-a", &forged, 1_000),
            None,
            "a changed payload"
        );
        for junk in ["", ".", "abc", "a.b.c"] {
            assert_eq!(open(&key, "nonce-a", junk, 1_000), None, "{junk:?}");
        }
    }
}
