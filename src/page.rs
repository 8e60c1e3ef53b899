//! The HTML pages, from the templates in `static/`, compiled by askama.
//!
//! askama escapes every value for HTML, and a misspelt field or a template
//! error is a build error. Templates hold no script, so the
//! Content-Security-Policy can forbid all scripts.

use askama::Template;

use crate::form::Params;
use crate::http::{Request, Response};
use crate::i18n::{Phrase, Text, Texts};

const STYLESHEET: &str = include_str!("../static/login.css");

/// A page to render, in no language yet: endpoints answer with one
/// ([`Response::page`]) and the router renders it in the request's language
/// ([`crate::i18n`]). Each page's `t` is set then.
pub(crate) enum View {
    Login(Login),
    Message(Message),
    Account(Account),
    SetPassword(SetPassword),
}

impl View {
    /// The page in the language of `t`.
    pub(crate) fn render(self, t: Texts) -> String {
        match self {
            Self::Login(mut p) => render_with(&mut p, t, |p| &mut p.t),
            Self::Message(mut p) => render_with(&mut p, t, |p| &mut p.t),
            Self::Account(mut p) => render_with(&mut p, t, |p| &mut p.t),
            Self::SetPassword(mut p) => render_with(&mut p, t, |p| &mut p.t),
        }
    }
}

fn render_with<P: Template>(page: &mut P, t: Texts, slot: fn(&mut P) -> &mut Texts) -> String {
    *slot(page) = t;
    render(page)
}

/// The login page: what it shows and the fields it carries.
#[derive(Template)]
#[template(path = "login.html")]
pub(crate) struct Login {
    pub(crate) t: Texts,
    pub(crate) client_name: String,
    pub(crate) scopes: Vec<String>,
    /// An inline error, for a person.
    pub(crate) error: Option<Phrase>,
    pub(crate) username: String,
    /// Hidden fields: the authorization request and the CSRF token.
    pub(crate) hidden: Vec<(&'static str, String)>,
    /// One "Sign in with …" button per provider: (action, label).
    pub(crate) providers: Vec<(String, String)>,
    /// Whether the username and password form is shown.
    pub(crate) password: bool,
}

/// A page with a title and one paragraph; with `code`, the demo callback.
#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct Message {
    t: Texts,
    title: Phrase,
    detail: Phrase,
    code: Option<String>,
    state: String,
    /// A link onward: "Back to sign-in" unless `onward` names it.
    again: Option<String>,
    onward: Option<Phrase>,
}

impl Message {
    fn new(title: impl Into<Phrase>, detail: impl Into<Phrase>) -> Self {
        Self {
            t: Texts::default(),
            title: title.into(),
            detail: detail.into(),
            code: None,
            state: String::new(),
            again: None,
            onward: None,
        }
    }
}

/// The account page: the sign-in form, or (`me`) the person's links and
/// forms to end one, change the password and sign out.
#[derive(Template)]
#[template(path = "account.html")]
pub(crate) struct Account {
    pub(crate) t: Texts,
    pub(crate) notice: Option<Phrase>,
    pub(crate) error: Option<Phrase>,
    pub(crate) me: Option<Me>,
    /// The CSRF token every form of the page carries.
    pub(crate) csrf: String,
    /// The sign-in form's username, after a failed try.
    pub(crate) username: String,
    pub(crate) min_password: usize,
    /// One "Sign in with …" button per provider: (action, label).
    pub(crate) providers: Vec<(String, String)>,
    /// Where such a sign-in returns: `account`.
    pub(crate) next: &'static str,
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
pub(crate) struct SetPassword {
    pub(crate) t: Texts,
    pub(crate) title: Text,
    pub(crate) intro: Text,
    pub(crate) error: Option<Phrase>,
    /// The link's own path, which the form posts back to.
    pub(crate) action: String,
    pub(crate) csrf: String,
    pub(crate) username: String,
    pub(crate) button: Text,
    pub(crate) min_password: usize,
    /// Invitations: one "Use … instead" button per provider, whose identity
    /// then signs in as this user: (action, label).
    pub(crate) providers: Vec<(String, String)>,
    /// Where such a sign-in returns (`invite/<token>`).
    pub(crate) next: String,
    /// Whether the password form is shown (`PASSWORD_SIGN_IN`).
    pub(crate) password_sign_in: bool,
}

/// A message page whose one button leads to `onward.0` (a path of ours),
/// named `onward.1`.
pub(crate) fn message(
    status: u16,
    title: impl Into<Phrase>,
    detail: impl Into<Phrase>,
    onward: (&str, Text),
) -> Response {
    let page = Message {
        again: Some(onward.0.to_owned()),
        onward: Some(onward.1.into()),
        ..Message::new(title, detail)
    };
    Response::page(status, View::Message(page))
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

/// A short HTML page that explains an error to a person. Used where redirecting
/// back to the client would be unsafe (unknown client or redirect URI).
pub(crate) fn error_page(status: u16, title: Text, detail: impl Into<Phrase>) -> Response {
    Response::page(status, View::Message(Message::new(title, detail)))
}

/// An error page with a link back to the login form (`again`, a path of ours).
pub(crate) fn retry_page(
    status: u16,
    title: Text,
    detail: impl Into<Phrase>,
    again: &str,
) -> Response {
    let page = Message {
        again: Some(again.to_owned()),
        ..Message::new(title, detail)
    };
    Response::page(status, View::Message(page))
}

/// A page whose one button leads on to `to`, named `label`: a link, where a
/// redirect would be refused by the login page's `form-action`.
pub(crate) fn onward_page(title: Phrase, detail: Phrase, to: &str, label: Phrase) -> Response {
    let page = Message {
        again: Some(to.to_owned()),
        onward: Some(label),
        ..Message::new(title, detail)
    };
    Response::page(200, View::Message(page))
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
        (Some(_), _) => Text::demo_linked.into(),
        (None, Some(error)) => Phrase::with(Text::demo_error, "error", error),
        (None, None) => Text::demo_nothing.into(),
    };
    let page = Message {
        code: params.get("code").map(str::to_owned),
        state: params.get("state").unwrap_or("").to_owned(),
        ..Message::new(Text::demo_title, detail)
    };
    Response::page(200, View::Message(page))
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

    fn login(username: &str, evil: &str) -> Login {
        Login {
            t: Texts::default(),
            client_name: evil.to_owned(),
            scopes: vec![evil.to_owned()],
            error: Some(Phrase::with(Text::provider_incomplete, "provider", evil)),
            username: username.to_owned(),
            hidden: vec![("csrf", "t".to_owned()), ("state", evil.to_owned())],
            providers: vec![(evil.to_owned(), evil.to_owned())],
            password: true,
        }
    }

    #[test]
    fn every_value_is_escaped() {
        let evil = "<script>x</script>\"'&";
        let html = View::Login(login(evil, evil)).render(Texts::default());
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("\"'&"), "{html}");
        assert!(html.contains("&#60;script&#62;"), "{html}");
        let page = error_page(
            400,
            Text::invalid_request_title,
            Phrase::with(Text::invalid_request, "why", evil),
        );
        let html = page.page.unwrap().view.render(Texts::default());
        assert!(!html.contains("<script>"), "{html}");
    }

    #[test]
    fn the_password_takes_focus_after_a_failed_try() {
        let first = View::Login(login("", "Skill")).render(Texts::default());
        assert!(
            first.contains("required autofocus>\n    <label for=\"password\">"),
            "{first}"
        );
        let again = View::Login(login("alice", "Skill")).render(Texts::default());
        assert!(again.contains("current-password\" required autofocus>"));
        assert!(again.contains("<input type=\"hidden\" name=\"csrf\" value=\"t\">"));
    }
}
