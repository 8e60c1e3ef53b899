//! Small helpers for tests that speak HTTP to the core: what an answer to bad
//! input may be, building an Alexa authorization query, reading the login
//! page's hidden fields, cookies and query parameters.

use serde_json::Value;

use super::{IDP, LAYLA, REDIRECTS};
use crate::http::Response;

/// Every error code an answer of ours may carry.
pub const RFC_ERRORS: [&str; 9] = [
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_token",
    "not_found",
    "temporarily_unavailable",
];

/// Whether an answer is what bad input may get: below 500, a JSON error only
/// with an RFC error code, and a redirect only to a registered URI (or the
/// stand-in provider's authorization endpoint), with no header injection. Shared by the property tests and the fuzz targets.
pub fn check_answer(r: &Response) -> Result<(), String> {
    if r.status >= 500 {
        return Err(format!("5xx for bad input: {} {}", r.status, r.body_text()));
    }
    if r.get_header("content-type") == Some("application/json") && r.status >= 400 {
        let v: Value = serde_json::from_slice(&r.body).map_err(|e| e.to_string())?;
        let code = v["error"].as_str().unwrap_or("");
        if !(RFC_ERRORS.contains(&code) || (r.status == 401 && code.is_empty())) {
            return Err(format!("not an RFC error: {v}"));
        }
    }
    if r.status == 302 {
        let loc = r.get_header("location").unwrap_or("");
        let registered = REDIRECTS.iter().any(|u| loc.starts_with(&format!("{u}?")));
        // Or the stand-in provider's authorization endpoint, for `/signin/…`.
        if !registered && !loc.starts_with(&format!("{IDP}/authorize?")) {
            return Err(format!("redirect to {loc}"));
        }
        if loc.contains(['\r', '\n', ' ']) {
            return Err(format!("header injection: {loc:?}"));
        }
    }
    Ok(())
}

pub fn auth_query(redirect: &str, extra: &str) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", "alexa")
        .append_pair("redirect_uri", redirect)
        .append_pair("state", "st ate/1")
        .append_pair("scope", "smart_home");
    format!("{}{extra}", q.finish())
}

pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    form_fields(html, "/authorize")
}

/// The hidden fields of the page's form that posts to `action` (each provider
/// button is a form of its own, with the same fields).
pub fn form_fields(html: &str, action: &str) -> Vec<(String, String)> {
    let at = html
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form posting to {action}"));
    let form = &html[at..];
    let form = &form[..form.find("</form>").unwrap_or(form.len())];
    form.split("<input type=\"hidden\" ")
        .skip(1)
        .map(|chunk| {
            let name = chunk
                .split("name=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let value = chunk
                .split("value=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            (name.to_owned(), unescape_html(value))
        })
        .collect()
}

/// Decodes the entities our pages use: numeric ones and `&amp;`, `&lt;`,
/// `&gt;`, `&quot;`.
pub fn unescape_html(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            _ => entity
                .strip_prefix('#')
                .and_then(|n| n.parse().ok())
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `name=value` of the first cookie an answer sets.
pub fn set_cookie(r: &Response) -> String {
    let header = r.get_header("set-cookie").expect("a Set-Cookie header");
    header.split(';').next().unwrap_or_default().to_owned()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub fn exchange(code: &str) -> String {
    format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}",
        urlenc(LAYLA)
    )
}

pub fn urlenc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
