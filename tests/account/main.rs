//! The account pages natively, on both grant stores: invitations and reset
//! links (one use, expiry, unknown links), `/account` (sign-in under the
//! limits, the list of links, ending one, changing the password), CSRF, and
//! that nothing is written but by a form that does something.

use std::collections::BTreeMap;

use alexa_oauth::crypto::token_hash;
use alexa_oauth::http::{Method, Request, Response};
use alexa_oauth::store::{get_json, keys, put_json, PasswordLink, UserRecord};
use alexa_oauth::testing::*;
use alexa_oauth::types::UserId;
use pollster::block_on;

/// A browser: its cookies, kept across requests.
#[derive(Default)]
struct Browser {
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn send(&mut self, s: &Server, mut req: Request) -> Response {
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.with_header("cookie", &jar.join("; "));
        }
        let r = s.send(req.with_header("cf-connecting-ip", "203.0.113.9"));
        for (name, value) in &r.headers {
            if name.eq_ignore_ascii_case("set-cookie") {
                let pair = value.split(';').next().unwrap();
                let (k, v) = pair.split_once('=').unwrap();
                if v.is_empty() {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        r
    }

    fn get(&mut self, s: &Server, path: &str) -> Response {
        self.send(s, Request::new(Method::Get, path))
    }

    /// Posts the form of `page` that posts to `action`, its hidden fields and
    /// `fields`.
    fn submit(
        &mut self,
        s: &Server,
        page: &Response,
        action: &str,
        fields: &[(&str, &str)],
    ) -> Response {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        // The hidden fields (of the first such form), but those `fields` set.
        for (k, v) in form_fields(page.body_text(), action) {
            if !fields.iter().any(|(name, _)| *name == k) {
                form.append_pair(&k, &v);
            }
        }
        for (k, v) in fields {
            form.append_pair(k, v);
        }
        self.send(
            s,
            Request::new(Method::Post, action)
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_body(form.finish()),
        )
    }
}

/// A server with `ACCOUNT_PAGES` on: the pages exist only there.
fn with_pages(mut s: Server) -> Server {
    s.config.account_pages = true;
    s
}

fn user(s: &Server, username: &str) -> Option<UserRecord> {
    block_on(get_json(&s.store, &keys::user(username))).unwrap()
}

/// What `admin user invite/reset-link` store: a link for `username`.
fn make_link(s: &Server, username: &str, purpose: &str, valid_for: u64) -> String {
    let u = user(s, username).unwrap();
    let token = alexa_oauth::crypto::random_string(&s.rng, 32);
    let link = PasswordLink {
        purpose: purpose.into(),
        username: username.into(),
        user_id: u.id.clone(),
        fingerprint: PasswordLink::fingerprint(&u),
        expires_at: s.now.get() + valid_for,
    };
    let key = keys::password_link(&token_hash(&token));
    block_on(put_json(&s.store, &key, &link, Some(link.expires_at))).unwrap();
    token
}

fn invite(s: &Server, username: &str) -> String {
    let u = UserRecord {
        id: UserId::new("user-bob"),
        username: username.into(),
        display_name: "Bob".into(),
        password_hash: None,
        identities: vec![],
        created_at: T0,
        claims: None,
    };
    block_on(put_json(&s.store, &keys::user(username), &u, None)).unwrap();
    make_link(s, username, PasswordLink::INVITE, 7 * 86_400)
}

fn signed_in(s: &Server, b: &mut Browser, username: &str, password: &str) -> Response {
    let page = b.get(s, "/account");
    assert_eq!(page.status, 200);
    let r = b.submit(
        s,
        &page,
        "/account",
        &[
            ("username", username),
            ("password", password),
            ("action", "signin"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body_text());
    let page = b.get(s, "/account");
    assert_eq!(page.status, 200);
    assert!(
        page.body_text().contains("Signed in as"),
        "{}",
        page.body_text()
    );
    page
}

mod links;
mod page;
mod providers;

#[test]
fn the_pages_answer_only_where_account_pages_is_on() {
    // One build: the setting alone decides, read when the Worker starts.
    let paths = [
        "/account",
        "/invite/some-token",
        "/reset/some-token",
        "/account/signin/idp",
    ];
    let off = Server::new();
    for path in paths {
        let r = off.send(Request::new(Method::Get, path));
        assert_eq!(r.status, 404, "{path} with ACCOUNT_PAGES unset");
        assert!(
            r.body_text().contains("not_found"),
            "{path}: no page at all"
        );
    }
    let on = Server::with_config(alexa_oauth::Config::from_vars(|k| match k {
        "SIGNING_KEY" => Some(KEY.to_owned()),
        "ACCOUNT_PAGES" => Some(" On ".to_owned()),
        _ => None,
    }));
    assert!(on.config.account_pages);
    assert_eq!(on.send(Request::new(Method::Get, "/account")).status, 200);
    // An unknown link is a page that says so, not a missing route.
    let dead = on.send(Request::new(Method::Get, "/invite/some-token"));
    assert!(dead.body_text().contains("does not work"));
    for value in ["off", "false", "", "yes"] {
        let c =
            alexa_oauth::Config::from_vars(|k| (k == "ACCOUNT_PAGES").then(|| value.to_owned()));
        assert!(!c.account_pages, "ACCOUNT_PAGES={value:?}");
    }
}
