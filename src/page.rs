//! The HTML pages, from the templates in `static/`, compiled by askama.
//!
//! askama escapes every value for HTML, and a misspelt field or a template
//! error is a build error. Templates hold no script, so the
//! Content-Security-Policy can forbid all scripts.

use askama::Template;

use crate::form::Params;
use crate::http::{Request, Response};

const STYLESHEET: &str = include_str!("../static/login.css");

/// The login page: what it shows and the fields it carries.
#[derive(Template)]
#[template(path = "login.html")]
pub(crate) struct Login<'a> {
    pub(crate) client_name: &'a str,
    pub(crate) scopes: Vec<&'a str>,
    /// An inline error, already worded for a person.
    pub(crate) error: Option<&'a str>,
    pub(crate) username: &'a str,
    /// Hidden fields: the authorization request and the CSRF token.
    pub(crate) hidden: Vec<(&'static str, String)>,
    /// One "Sign in with …" link per upstream provider: (href, label).
    pub(crate) providers: Vec<(String, &'a str)>,
    /// Whether the username and password form is shown.
    pub(crate) password: bool,
}

/// A page with a title and one paragraph; with `code`, the demo callback.
#[derive(Template)]
#[template(path = "message.html")]
struct Message<'a> {
    title: &'a str,
    detail: &'a str,
    code: Option<&'a str>,
    state: &'a str,
    /// A link onward: "Back to sign-in" unless `onward` names it.
    again: Option<&'a str>,
    onward: Option<&'a str>,
}

/// Renders a template. Writing into a `String` fails only if a value's
/// `Display` does, which none of ours can; a plain page stands in regardless.
fn render(page: &impl Template) -> String {
    page.render()
        .unwrap_or_else(|_| "<!doctype html><title>Error</title>".to_owned())
}

pub(crate) fn render_login(login: &Login<'_>) -> String {
    render(login)
}

/// A short HTML page that explains an error to a person. Used where redirecting
/// back to the client would be unsafe (unknown client or redirect URI).
pub(crate) fn error_page(status: u16, title: &str, detail: &str) -> Response {
    let page = Message {
        title,
        detail,
        code: None,
        state: "",
        again: None,
        onward: None,
    };
    Response::html(status, render(&page))
}

/// An error page with a link back to the login form (`again`, a path of ours).
#[cfg(feature = "upstream")]
pub(crate) fn retry_page(status: u16, title: &str, detail: &str, again: &str) -> Response {
    let page = Message {
        title,
        detail,
        code: None,
        state: "",
        again: Some(again),
        onward: None,
    };
    Response::html(status, render(&page))
}

/// A page whose one button leads on to `to`, named `label`: a link, where a
/// redirect would be refused by the login page's `form-action`.
#[cfg(feature = "upstream")]
pub(crate) fn onward_page(title: &str, detail: &str, to: &str, label: &str) -> Response {
    let page = Message {
        title,
        detail,
        code: None,
        state: "",
        again: Some(to),
        onward: Some(label),
    };
    Response::html(200, render(&page))
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
    let error = params
        .get("error")
        .map(|e| format!("The link ended with error={e}."));
    let page = Message {
        title: "Demo callback",
        detail: match (params.get("code"), &error) {
            (Some(_), _) => {
                "Linked. The code below is what Alexa would exchange at /token within 5 minutes:"
            }
            (None, Some(error)) => error,
            (None, None) => "Nothing to show.",
        },
        code: params.get("code"),
        state: params.get("state").unwrap_or(""),
        again: None,
        onward: None,
    };
    Response::html(200, render(&page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_is_escaped() {
        let evil = "<script>x</script>\"'&";
        let html = render_login(&Login {
            client_name: evil,
            scopes: vec![evil],
            error: Some(evil),
            username: evil,
            hidden: vec![("state", evil.to_owned())],
            providers: vec![(evil.to_owned(), evil)],
            password: true,
        });
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("\"'&"), "{html}");
        assert!(html.contains("&#60;script&#62;"), "{html}");
        let page = error_page(400, evil, evil);
        assert!(!page.body_text().contains("<script>"));
    }

    #[test]
    fn the_password_takes_focus_after_a_failed_try() {
        let login = |username| Login {
            client_name: "Skill",
            scopes: vec!["smart_home"],
            error: None,
            username,
            hidden: vec![("csrf", "t".to_owned())],
            providers: vec![],
            password: true,
        };
        let first = render_login(&login(""));
        assert!(first.contains("required autofocus>\n    <label for=\"password\">"));
        let again = render_login(&login("alice"));
        assert!(again.contains("current-password\" required autofocus>"));
        assert!(again.contains("<input type=\"hidden\" name=\"csrf\" value=\"t\">"));
    }
}
