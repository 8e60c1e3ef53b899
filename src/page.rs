//! The HTML pages, filled from the templates in `static/`.
//!
//! Every value put into a page goes through [`escape_html`]; templates hold no
//! script, so the Content-Security-Policy can forbid all scripts.

use crate::form::Params;
use crate::http::{Request, Response};

const LOGIN: &str = include_str!("../static/login.html");
const MESSAGE: &str = include_str!("../static/message.html");
const STYLESHEET: &str = include_str!("../static/login.css");

/// What the login page shows and carries.
pub(crate) struct Login<'a> {
    pub client_name: &'a str,
    pub scopes: Vec<&'a str>,
    /// An inline error, already worded for a person.
    pub error: Option<&'a str>,
    pub username: &'a str,
    /// Hidden fields: the authorization request and the CSRF token.
    pub hidden: Vec<(&'static str, String)>,
}

pub(crate) fn render_login(login: &Login<'_>) -> String {
    let scopes: String = login
        .scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", escape_html(s)))
        .collect();
    let error = login
        .error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape_html(e)))
        .unwrap_or_default();
    let hidden: String = login
        .hidden
        .iter()
        .map(|(n, v)| {
            format!(
                "<input type=\"hidden\" name=\"{n}\" value=\"{}\">",
                escape_html(v)
            )
        })
        .collect::<Vec<_>>()
        .join("\n    ");
    // Filled in one pass per placeholder; values are escaped, so no value can
    // introduce a placeholder or markup.
    LOGIN
        .replace("{{client_name}}", &escape_html(login.client_name))
        .replace("{{scopes}}", &scopes)
        .replace("{{error}}", &error)
        .replace("{{username}}", &escape_html(login.username))
        // After a failed try the username is filled in: the password is next.
        .replace(
            "{{username_focus}}",
            if login.username.is_empty() {
                " autofocus"
            } else {
                ""
            },
        )
        .replace(
            "{{password_focus}}",
            if login.username.is_empty() {
                ""
            } else {
                " autofocus"
            },
        )
        .replace("{{hidden}}", &hidden)
}

/// Escapes text for HTML element content and double-quoted attributes.
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A short HTML page that explains an error to a person. Used where redirecting
/// back to the client would be unsafe (unknown client or redirect URI).
pub(crate) fn error_page(status: u16, title: &str, detail: &str, https: bool) -> Response {
    let body = render_message(&escape_html(title), &escape_html(detail));
    Response::html(status, body, https)
}

/// A page with a title and one paragraph; both already escaped.
pub(crate) fn render_message(title_html: &str, detail_html: &str) -> String {
    MESSAGE
        .replace("{{title}}", title_html)
        .replace("{{detail}}", detail_html)
}

pub(crate) fn stylesheet() -> Response {
    let mut r = Response::new(200)
        .header("content-type", "text/css; charset=utf-8")
        .header("cache-control", "public, max-age=3600")
        .header("x-content-type-options", "nosniff");
    r.body = STYLESHEET.as_bytes().to_vec();
    r
}

/// `/demo/callback`, on only with `DEMO_CALLBACK=true` (local development): shows
/// the code and state a link produced, and how to exchange the code.
pub(crate) fn demo_callback(req: &Request) -> Response {
    let params = Params::parse(req.query.as_bytes()).unwrap_or_default();
    let detail = match (params.get("code"), params.get("error")) {
        (Some(code), _) => format!(
            "Linked. The code below is what Alexa would exchange at /token within 5 minutes:</p>\
             <pre>code={}\nstate={}</pre><p>Exchange it with the curl command that <code>npm run dev</code> printed.",
            escape_html(code),
            escape_html(params.get("state").unwrap_or(""))
        ),
        (None, Some(error)) => format!("The link ended with error={}.", escape_html(error)),
        (None, None) => "Nothing to show.".to_owned(),
    };
    Response::html(
        200,
        render_message("Demo callback", &detail),
        req.is_https(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escaping() {
        assert_eq!(
            escape_html("<a href=\"x\">'&"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"
        );
    }
}
