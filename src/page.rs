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
    /// One "Sign in with …" link per provider: (href, label).
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

/// The account page: the sign-in form, or (`me`) the person's links and
/// forms to end one, change the password and sign out.
#[derive(Template)]
#[template(path = "account.html")]
pub(crate) struct Account<'a> {
    pub(crate) notice: Option<&'a str>,
    pub(crate) error: Option<&'a str>,
    pub(crate) me: Option<Me>,
    /// The CSRF token every form of the page carries.
    pub(crate) csrf: String,
    /// The sign-in form's username, after a failed try.
    pub(crate) username: &'a str,
    pub(crate) min_password: usize,
    /// One "Sign in with …" button per provider: (action, label).
    pub(crate) providers: Vec<(String, &'a str)>,
    /// Where such a sign-in returns: `account`.
    pub(crate) next: &'a str,
    /// Whether the password form is shown (`PASSWORD_SIGN_IN`).
    pub(crate) password_sign_in: bool,
}

/// Who is signed in at `/account`, and what holds a link to them.
pub(crate) struct Me {
    pub(crate) name: String,
    pub(crate) username: String,
    pub(crate) links: Vec<LinkRow>,
    /// Whether the user has a password (to change).
    pub(crate) password: bool,
}

/// One link (grant) as the account page lists it.
pub(crate) struct LinkRow {
    pub(crate) id: String,
    pub(crate) client: String,
    pub(crate) created: String,
    pub(crate) scopes: String,
}

/// The page an invitation or reset link opens: choose a password.
#[derive(Template)]
#[template(path = "set_password.html")]
pub(crate) struct SetPassword<'a> {
    pub(crate) title: &'a str,
    pub(crate) intro: &'a str,
    pub(crate) error: Option<&'a str>,
    /// The link's own path, which the form posts back to.
    pub(crate) action: &'a str,
    pub(crate) csrf: String,
    pub(crate) username: &'a str,
    pub(crate) button: &'a str,
    pub(crate) min_password: usize,
    /// Invitations: one "Use … instead" button per provider, whose identity
    /// then signs in as this user: (action, label).
    pub(crate) providers: Vec<(String, &'a str)>,
    /// Where such a sign-in returns (`invite/<token>`).
    pub(crate) next: &'a str,
    /// Whether the password form is shown (`PASSWORD_SIGN_IN`).
    pub(crate) password_sign_in: bool,
}

/// An HTML answer from a template.
pub(crate) fn html(status: u16, page: &impl Template) -> Response {
    Response::html(status, render(page))
}

/// A message page whose one button leads to `to` (a path of ours), `label`.
pub(crate) fn message(status: u16, title: &str, detail: &str, onward: (&str, &str)) -> Response {
    let page = Message {
        title,
        detail,
        code: None,
        state: "",
        again: Some(onward.0),
        onward: Some(onward.1),
    };
    Response::html(status, render(&page))
}

/// A Unix time as its UTC date, `2026-12-03` (Howard Hinnant's
/// days-to-civil algorithm: no date crate for one line of a page).
pub(crate) fn date(unix: u64) -> String {
    let z = (unix / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
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
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(1_796_256_000), "2026-12-03");
        assert_eq!(date(4_107_542_399), "2100-02-28");
    }

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
