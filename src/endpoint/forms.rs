//! The shared front of the pages' forms: the login page (`/authorize`), the
//! account page and the invitation and reset pages. Each form carries a CSRF
//! token bound to the browser's nonce cookie and to what the form acts on
//! ([`crate::csrf`]); each page that shows providers' buttons lets their
//! forms end at the providers.

use crate::crypto::random_string;
use crate::csrf;
use crate::form::{is_form_content_type, Params};
use crate::http::{Cookie, Request, Response};
use crate::Ctx;

/// How long a form stays valid, and its nonce cookie.
pub(super) const FORM_TTL: u64 = 30 * 60;

/// The browser's CSRF nonce: the one it holds if it is one of ours (so two
/// open tabs both work), or a new one that the answer sets.
pub(super) struct Nonce {
    value: String,
    new: bool,
}

impl Nonce {
    pub(super) fn of<S>(req: &Request, ctx: &Ctx<'_, S>) -> Self {
        match req.cookie(csrf::COOKIE).filter(|n| csrf::is_nonce(n)) {
            Some(n) => Self {
                value: n.to_owned(),
                new: false,
            },
            None => Self {
                value: random_string(ctx.rng, 16),
                new: true,
            },
        }
    }

    /// A CSRF token for a form shown with this nonce, acting on `fields`.
    pub(super) fn token(&self, key: &[u8; 32], now: u64, fields: &[&str]) -> String {
        csrf::token(key, &self.value, now + FORM_TTL, fields)
    }

    /// The page `r`, with the nonce's cookie if the nonce is new.
    pub(super) fn set_on(&self, r: Response, req: &Request) -> Response {
        if !self.new {
            return r;
        }
        let cookie = Cookie {
            name: csrf::COOKIE,
            value: &self.value,
            max_age: FORM_TTL,
        };
        r.set_cookie(req, cookie)
    }
}

/// Why a posted form could not be read.
pub(super) enum Unreadable {
    /// Past the path's body limit (the glue leaves no body).
    TooLarge,
    /// Not `application/x-www-form-urlencoded`, or not decodable.
    NotAForm(&'static str),
}

/// A posted form's parameters: a url-encoded body within the path's limit.
pub(super) fn read(req: &Request) -> Result<Params, Unreadable> {
    let body = req.body.as_deref().ok_or(Unreadable::TooLarge)?;
    if !req.header("content-type").is_some_and(is_form_content_type) {
        return Err(Unreadable::NotAForm(
            "the form must be application/x-www-form-urlencoded",
        ));
    }
    Params::parse(body).map_err(|e| Unreadable::NotAForm(e.description))
}

/// Whether a posted form carries a CSRF token made under `key` for this
/// browser's nonce cookie and for `fields`, and not yet expired.
pub(super) fn is_ours(
    req: &Request,
    params: &Params,
    key: &[u8; 32],
    fields: &[&str],
    now: u64,
) -> bool {
    match (req.cookie(csrf::COOKIE), params.get("csrf")) {
        (Some(nonce), Some(token)) => csrf::check(key, nonce, token, fields, now),
        _ => false,
    }
}

/// The providers' buttons, as (the form's action, the label): each posts to
/// `<base>/<provider>` (`/signin` from the login page, `/account/signin`
/// from the account pages). None where `SIGN_IN_PROVIDERS` names none.
pub(super) fn provider_buttons<S>(ctx: &Ctx<'_, S>, base: &str) -> Vec<(String, String)> {
    let providers = ctx.config.providers.list.iter();
    providers
        .map(|p| (format!("{base}/{}", p.name), p.label.clone()))
        .collect()
}

/// Lets the providers' buttons end at the providers: `form-action` governs
/// the redirect a form post is answered with, too.
pub(super) fn allow_providers<S>(r: Response, ctx: &Ctx<'_, S>) -> Response {
    ctx.config.providers.list.iter().fold(r, |r, p| {
        let url = crate::provider::client::expected_authorization_url(p);
        match url.and_then(origin_of) {
            Some(origin) => r.allow_form_target(origin),
            None => r,
        }
    })
}

/// `scheme://authority` of a registered redirect URI (registration checked it is
/// an absolute http(s) URL). Done by hand: a URL parser would bring IDNA tables
/// into the wasm for a value that is already known to be well formed.
pub(super) fn origin_of(uri: &str) -> Option<&str> {
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))?;
    let authority = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    (authority > 0).then(|| &uri[..uri.len() - rest.len() + authority])
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://layla.amazon.com/api/skill/link/M2"),
            Some("https://layla.amazon.com")
        );
        assert_eq!(
            origin_of("http://localhost:8787/demo/callback"),
            Some("http://localhost:8787")
        );
        assert_eq!(
            origin_of("https://a.example?x=1"),
            Some("https://a.example")
        );
        assert_eq!(origin_of("https://"), None);
        assert_eq!(origin_of("myapp:/cb"), None);
    }
}
