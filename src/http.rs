//! A plain description of an HTTP exchange, so the core never sees the runtime.
//!
//! The glue (`src/worker_glue/`) turns a Worker request into a [`Request`] and a
//! [`Response`] back into a Worker response; tests build them directly.

use serde::Serialize;

/// Largest request body read, in bytes. A larger body is refused with
/// `invalid_request` (413) before it is parsed.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Largest body of `POST /alexa/events`: an Alexa event message, which a
/// Discovery report of many endpoints makes far longer than any form.
pub const MAX_EVENT_BODY_BYTES: usize = 256 * 1024;

/// The body limit of a path: [`MAX_EVENT_BODY_BYTES`] for events,
/// [`MAX_BODY_BYTES`] for everything else.
pub fn max_body_bytes(path: &str) -> usize {
    if path == "/alexa/events" {
        MAX_EVENT_BODY_BYTES
    } else {
        MAX_BODY_BYTES
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Other,
}

impl Method {
    /// From the request line's method, which is case-sensitive (RFC 9110 §9.1).
    pub fn from_name(name: &str) -> Self {
        match name {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "POST" => Self::Post,
            _ => Self::Other,
        }
    }

    /// The name a log line shows; `OTHER` for every method we do not serve.
    pub fn name(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Other => "OTHER",
        }
    }
}

/// What the core needs of a request. Its `Debug` shows no header value and no
/// body: both can hold secrets.
#[derive(Default, Clone)]
pub struct Request {
    pub method: Option<Method>,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// `scheme://host[:port]` as the client reached us; the default issuer.
    pub origin: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body, or `None` when it was larger than [`MAX_BODY_BYTES`] and not read.
    pub body: Option<Vec<u8>>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("origin", &self.origin)
            .field("headers", &names)
            .field("body_bytes", &self.body.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

impl Request {
    pub fn new(method: Method, target: &str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Self {
            method: Some(method),
            path: path.to_owned(),
            query: query.to_owned(),
            origin: "http://localhost".to_owned(),
            headers: Vec::new(),
            body: Some(Vec::new()),
        }
    }
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn method(&self) -> Method {
        self.method.unwrap_or(Method::Other)
    }
    pub fn is_https(&self) -> bool {
        self.origin.starts_with("https://")
    }
    /// The value of one of our cookies (see [`Cookie`]), if the request
    /// carries it: `name` is given without its `__Host-` prefix.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        let https = self.is_https();
        self.header("cookie")?
            .split(';')
            .filter_map(|c| c.trim().split_once('='))
            .find(|(n, _)| Cookie::is_named(n, name, https))
            .map(|(_, v)| v)
    }
}

/// One of our cookies, and the one place their rule is kept: always
/// `HttpOnly`, `SameSite=Lax` and `Path=/`; over https also `Secure`, with the
/// name prefixed `__Host-`, which binds the cookie to this exact origin (and
/// which browsers accept only with `Secure`, `Path=/` and no `Domain`, so
/// plain-http local development uses the bare name).
#[derive(Debug)]
pub struct Cookie<'a> {
    pub name: &'static str,
    pub value: &'a str,
    /// Seconds; 0 clears the cookie.
    pub max_age: u64,
}

impl Cookie<'_> {
    fn is_named(sent: &str, name: &str, https: bool) -> bool {
        match sent.strip_prefix("__Host-") {
            Some(bare) => https && bare == name,
            None => !https && sent == name,
        }
    }

    /// The `Set-Cookie` value for an answer to `req`.
    pub fn for_request(&self, req: &Request) -> String {
        let (prefix, secure) = if req.is_https() {
            ("__Host-", "; Secure")
        } else {
            ("", "")
        };
        format!(
            "{prefix}{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
            self.name, self.value, self.max_age
        )
    }
}

/// What the core answers. The glue copies it into a runtime response as is.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// What this request did, for the one log line per request. Never a secret.
    pub log: LogFields,
    /// A page the router renders into `body` in the request's language.
    pub(crate) page: Option<Box<Pending>>,
}

/// A page not yet rendered, and the language a step before chose for it
/// (a provider's return carries the one its start was shown in).
pub(crate) struct Pending {
    pub(crate) view: crate::page::View,
    pub(crate) lang: Option<String>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("page")
    }
}

/// The body of an error answer: RFC 6749 §5.2 at the endpoints that
/// authenticate clients, RFC 6750 §3 at `/userinfo`.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<&'a str>,
}

impl<'a> ErrorBody<'a> {
    pub fn new(error: &'a str, description: &'a str) -> Self {
        Self {
            error,
            error_description: Some(description),
        }
    }

    /// Just the code, as RFC 6750 §3.1 shows it for some errors.
    pub fn code(error: &'a str) -> Self {
        Self {
            error,
            error_description: None,
        }
    }
}

/// The fields of a request's log line that only the core knows.
#[derive(Debug, Default, Clone)]
pub struct LogFields {
    pub client_id: Option<String>,
    pub grant_type: Option<String>,
    /// The RFC error code, if the answer is an error.
    pub error: Option<&'static str>,
    /// Why, in words. Never a secret or an echoed value.
    pub reason: Option<&'static str>,
    /// The provider of a sign-in through one.
    pub provider: Option<String>,
    /// Who signed in there, `<provider>:<subject>`: an identifier, not a
    /// secret, logged so that an operator can allow a refused person.
    pub identity: Option<String>,
    /// The grant a request concerns, where known: an identifier (the first
    /// part of its codes and refresh tokens), never the token itself. With
    /// `sub`, the trail of one link or one person in the logs.
    pub grant_id: Option<String>,
    /// The user's `sub`, where known.
    pub sub: Option<String>,
}

/// Headers every HTML page carries: no framing, no sniffing, no referrer (codes
/// travel in URLs), and a CSP that allows only our own stylesheet. (`no-store`
/// and HSTS are the router's, for every answer.)
const HTML_SECURITY_HEADERS: [(&str, &str); 4] = [
    (
        "content-security-policy",
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
];

impl Response {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            log: LogFields::default(),
            page: None,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The first value of a header (tests and the glue use it).
    pub fn get_header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A JSON answer. Bodies are typed structs, not `serde_json::Value`: a
    /// struct's fields say what the answer holds, and a map type of its own
    /// costs the Worker's wasm several KiB.
    pub fn json(status: u16, body: &impl Serialize) -> Self {
        let mut r = Self::new(status).header("content-type", "application/json");
        r.body = serde_json::to_vec(body).expect("answers serialise");
        r
    }

    /// An HTML page with the security headers every page of ours carries.
    pub fn html(status: u16, body: String) -> Self {
        let mut r = Self::new(status).header("content-type", "text/html; charset=utf-8");
        for (name, value) in HTML_SECURITY_HEADERS {
            r = r.header(name, value);
        }
        r.body = body.into_bytes();
        r
    }

    /// A page of ours, rendered by the router in the request's language.
    pub(crate) fn page(status: u16, view: crate::page::View) -> Self {
        let mut r = Self::html(status, String::new());
        r.page = Some(Box::new(Pending { view, lang: None }));
        r
    }

    /// Renders its page (if it has one) in `lang`, whatever the request asks.
    pub(crate) fn in_language(mut self, lang: Option<String>) -> Self {
        if let (Some(page), Some(lang)) = (self.page.as_mut(), lang) {
            page.lang = Some(lang);
        }
        self
    }

    /// A 302 to `location`, which the caller has already checked is allowed.
    pub fn redirect(location: String) -> Self {
        Self::new(302)
            .header("location", location)
            .header("referrer-policy", "no-referrer")
    }

    /// Sets one of our cookies (see [`Cookie`]) for an answer to `req`.
    pub fn set_cookie(self, req: &Request, cookie: Cookie<'_>) -> Self {
        self.header("set-cookie", cookie.for_request(req))
    }

    /// What every answer gets, added once by the router: `Cache-Control:
    /// no-store` unless the answer chose its own caching (the stylesheet,
    /// discovery), since tokens, codes and pages for one person must not be
    /// cached (RFC 6749 §5.1); and over https, HSTS.
    pub fn with_common_headers(mut self, req: &Request) -> Self {
        if self.get_header("cache-control").is_none() {
            self = self.header("cache-control", "no-store");
        }
        if req.is_https() {
            self = self.header("strict-transport-security", "max-age=31536000");
        }
        self
    }

    /// Lets the page's form lead to `origin`: browsers apply CSP `form-action` to
    /// the redirect that follows a form post, so the login form must allow the
    /// client's redirect URI or the browser would stop the final 302.
    pub fn allow_form_target(mut self, origin: &str) -> Self {
        for (name, value) in &mut self.headers {
            if *name == "content-security-policy" {
                *value = value.replace(
                    "form-action 'self'",
                    &format!("form-action 'self' {origin}"),
                );
            }
        }
        self
    }

    pub fn with_log(mut self, log: LogFields) -> Self {
        self.log = log;
        self
    }

    pub fn body_text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("")
    }
}

#[cfg(test)]
mod cookie_tests {
    use super::{Cookie, Method, Request};

    fn at(origin: &str, cookie: &str) -> Request {
        let mut r = Request::new(Method::Get, "/").with_header("cookie", cookie);
        r.origin = origin.to_owned();
        r
    }

    #[test]
    fn the_host_prefix_goes_with_secure_and_https_only() {
        let c = Cookie {
            name: "login-csrf",
            value: "v",
            max_age: 60,
        };
        let https = at("https://auth.example", "");
        assert_eq!(
            c.for_request(&https),
            "__Host-login-csrf=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
        let http = at("http://localhost:8787", "");
        assert_eq!(
            c.for_request(&http),
            "login-csrf=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
        );
        // Read back only under the name this scheme sets.
        let both = "login-csrf=plain; __Host-login-csrf=host";
        assert_eq!(at("https://a", both).cookie("login-csrf"), Some("host"));
        assert_eq!(at("http://a", both).cookie("login-csrf"), Some("plain"));
    }
}
