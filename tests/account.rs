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

fn an_invitation_sets_a_password_once() {
    let s = with_pages(Server::new());
    let token = invite(&s, "bob");
    let path = format!("/invite/{token}");
    let mut b = Browser::default();
    let (page, writes) = s.writes_during(|| b.get(&s, &path));
    assert_eq!(page.status, 200);
    assert_eq!(writes, 0, "opening the link writes nothing");
    assert!(page.body_text().contains("Welcome"));

    // Two passwords that differ, or a short one: the form again, nothing written.
    for (p, c) in [("long enough 1", "long enough 2"), ("short", "short")] {
        let (r, writes) =
            s.writes_during(|| b.submit(&s, &page, &path, &[("password", p), ("confirm", c)]));
        assert_eq!(r.status, 400, "{}", r.body_text());
        assert_eq!(writes, 0);
    }
    let (r, writes) = s.writes_during(|| {
        b.submit(
            &s,
            &page,
            &path,
            &[("password", "bobs password"), ("confirm", "bobs password")],
        )
    });
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert!(r.body_text().contains("Password set"));
    assert_eq!(writes, 1, "the user record");
    assert!(user(&s, "bob").unwrap().password_hash.is_some());

    // The link is spent: its page says so, and posting it again changes nothing.
    let again = b.get(&s, &path);
    assert_eq!(again.status, 410);
    assert!(again.body_text().contains("already used"));
    let before = user(&s, "bob").unwrap().password_hash;
    let r = b.submit(
        &s,
        &page,
        &path,
        &[("password", "another one!"), ("confirm", "another one!")],
    );
    assert_eq!(r.status, 410);
    assert_eq!(user(&s, "bob").unwrap().password_hash, before);

    // And bob can sign in with it.
    signed_in(&s, &mut Browser::default(), "bob", "bobs password");
}

fn dead_links_get_pages_not_errors() {
    let s = with_pages(Server::new());
    let token = invite(&s, "bob");
    let mut b = Browser::default();
    // Unknown, malformed, or the other purpose's route.
    for path in [
        format!("/invite/{}", "A".repeat(43)),
        "/invite/short".into(),
        format!("/invite/{token}x"),
        format!("/reset/{token}"),
        "/invite/".into(),
    ] {
        let r = b.get(&s, &path);
        assert_eq!(r.status, 404, "{path}");
        assert!(r.body_text().contains("does not work"), "{path}");
    }
    // Expired.
    s.now.set(s.now.get() + 7 * 86_400);
    let r = b.get(&s, &format!("/invite/{token}"));
    assert_eq!(r.status, 410);
    assert!(r.body_text().contains("expired"));
}

fn a_reset_keeps_links_working_and_spends_older_links() {
    let s = with_pages(Server::new());
    let (_, refresh) = s.link();
    let first = make_link(&s, "alice", PasswordLink::RESET, 86_400);
    let second = make_link(&s, "alice", PasswordLink::RESET, 86_400);
    let mut b = Browser::default();
    let path = format!("/reset/{second}");
    let page = b.get(&s, &path);
    assert_eq!(page.status, 200);
    let r = b.submit(
        &s,
        &page,
        &path,
        &[("password", "new horse!"), ("confirm", "new horse!")],
    );
    assert_eq!(r.status, 200, "{}", r.body_text());
    // Alexa's link did not notice.
    assert_eq!(s.refresh(&refresh).0, 200);
    // The other link made before the change is spent too.
    assert_eq!(b.get(&s, &format!("/reset/{first}")).status, 410);
    // The new password signs in; the old one does not.
    signed_in(&s, &mut Browser::default(), "alice", "new horse!");
    let mut other = Browser::default();
    let page = other.get(&s, "/account");
    let r = other.submit(
        &s,
        &page,
        "/account",
        &[
            ("username", "alice"),
            ("password", "correct horse"),
            ("action", "signin"),
        ],
    );
    assert_eq!(r.status, 401);
}

fn the_account_page_lists_and_ends_links() {
    let s = with_pages(Server::new());
    let (access, refresh) = s.link();
    let mut b = Browser::default();
    let page = signed_in(&s, &mut b, "alice", "correct horse");
    assert!(
        page.body_text().contains("Test Skill"),
        "{}",
        page.body_text()
    );
    assert!(page.body_text().contains("smart_home"));
    let gid = refresh.split('.').next().unwrap();
    assert!(page.body_text().contains(gid));

    // Ending it: a tombstone, and the next refresh is refused.
    let (r, writes) =
        s.writes_during(|| b.submit(&s, &page, "/account", &[("grant", gid), ("action", "end")]));
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert!(r.body_text().contains("Link ended"));
    // What holds for a skill that checks tokens offline too: the access
    // token's lifetime, not the 90 s of this server's own checks.
    assert!(r.body_text().contains("within 60 minutes at the latest"));
    // The tombstone (in Durable Object mode also the object's own copy).
    assert_eq!(writes, if s.objects.is_some() { 2 } else { 1 });
    let (status, body) = s.refresh(&refresh);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    let r = s.send(
        Request::new(Method::Get, "/userinfo")
            .with_header("authorization", &format!("Bearer {access}")),
    );
    assert_eq!(r.status, 401, "this isolate knows at once");
    // The page no longer lists it.
    let page = b.get(&s, "/account");
    assert!(!page.body_text().contains(gid));
    assert!(page.body_text().contains("No service holds a link"));
}

fn ending_a_link_at_the_account_page_forgets_its_event_tokens() {
    let s = with_pages(Server::with_alexa_events());
    let (access, refresh) = s.link();
    assert_eq!(s.accept_grant(&access, "EU").0, 200);
    let record = keys::alexa_events(
        &UserId::new("user-1"),
        &alexa_oauth::types::ClientId::new("alexa"),
    );
    assert!(
        block_on(get_json::<serde_json::Value, _>(&s.store, &record))
            .unwrap()
            .is_some()
    );
    let mut b = Browser::default();
    let page = signed_in(&s, &mut b, "alice", "correct horse");
    let gid = refresh.split('.').next().unwrap();
    let r = b.submit(&s, &page, "/account", &[("grant", gid), ("action", "end")]);
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert!(
        block_on(get_json::<serde_json::Value, _>(&s.store, &record))
            .unwrap()
            .is_none()
    );
    assert_eq!(s.send_change_report("user-1").0, 404);
}

fn one_cannot_end_another_users_link() {
    let s = with_pages(Server::new());
    let (_, refresh) = s.link(); // alice's
    invite(&s, "bob");
    let u = user(&s, "bob").unwrap();
    let hash = alexa_oauth::password::hash_password(
        &s.rng,
        &alexa_oauth::types::Password::new("bobs password"),
    );
    let bob = UserRecord {
        password_hash: Some(hash),
        ..u
    };
    block_on(put_json(&s.store, &keys::user("bob"), &bob, None)).unwrap();
    let mut b = Browser::default();
    let page = signed_in(&s, &mut b, "bob", "bobs password");
    let gid = refresh.split('.').next().unwrap();
    let (r, writes) =
        s.writes_during(|| b.submit(&s, &page, "/account", &[("grant", gid), ("action", "end")]));
    assert_eq!(r.status, 404);
    assert_eq!(writes, 0);
    assert_eq!(s.refresh(&refresh).0, 200);
}

fn forms_need_their_csrf_token_and_a_session() {
    let s = with_pages(Server::new());
    let (_, refresh) = s.link();
    let gid = refresh.split('.').next().unwrap();
    let mut b = Browser::default();
    let page = signed_in(&s, &mut b, "alice", "correct horse");
    // Another site's post: the session cookie goes along (SameSite=Lax
    // aside), the token does not.
    let (r, writes) = s.writes_during(|| {
        b.send(
            &s,
            Request::new(Method::Post, "/account")
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_body(format!("action=end&grant={gid}&csrf=1999999999.AAAA")),
        )
    });
    assert_eq!(r.status, 403);
    assert_eq!(writes, 0);
    assert_eq!(s.refresh(&refresh).0, 200);
    // A signed-out browser's form does nothing either.
    let mut other = Browser::default();
    let (r, writes) = s.writes_during(|| {
        other.submit(&s, &page, "/account", &[("grant", gid), ("action", "end")])
    });
    assert!(r.status == 403 || r.status == 401, "{}", r.status);
    assert_eq!(writes, 0);
    // Signing out ends the session.
    let r = b.submit(&s, &page, "/account", &[("action", "signout")]);
    assert_eq!(r.status, 303);
    assert!(!b.get(&s, "/account").body_text().contains("Signed in as"));
}

fn wrong_passwords_count_against_the_limits() {
    let s = with_pages(Server::new_fast());
    let mut b = Browser::default();
    let page = b.get(&s, "/account");
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let (r, writes) = s.writes_during(|| {
            b.submit(
                &s,
                &page,
                "/account",
                &[
                    ("username", "alice"),
                    ("password", "wrong"),
                    ("action", "signin"),
                ],
            )
        });
        assert_eq!(writes, 0);
        statuses.push(r.status);
    }
    // One address may try one username 5 times a minute.
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    // The login page shares the count.
    let from = alexa_oauth::testing::Browser::at("203.0.113.9");
    let r = s.login_from(&auth_query(LAYLA, ""), "alice", "wrong", "login", &from);
    assert_eq!(r.status, 429);
}

fn changing_the_password() {
    let s = with_pages(Server::new());
    let (_, refresh) = s.link();
    let mut b = Browser::default();
    let page = signed_in(&s, &mut b, "alice", "correct horse");
    let change = |b: &mut Browser, current: &str, new: &str, confirm: &str| {
        let fields = [
            ("current", current),
            ("password", new),
            ("confirm", confirm),
            ("action", "password"),
        ];
        s.writes_during(|| b.submit(&s, &page, "/account", &fields))
    };
    let (r, writes) = change(&mut b, "not it", "new password", "new password");
    assert_eq!((r.status, writes), (401, 0));
    let (r, writes) = change(&mut b, "correct horse", "new password", "new passwort");
    assert_eq!((r.status, writes), (400, 0));
    let (r, writes) = change(&mut b, "correct horse", "new password", "new password");
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(writes, 1);
    assert!(r.body_text().contains("Your password was changed"));
    // The session goes on with a new cookie; the link keeps working.
    assert!(b.get(&s, "/account").body_text().contains("Signed in as"));
    assert_eq!(s.refresh(&refresh).0, 200);
    signed_in(&s, &mut Browser::default(), "alice", "new password");
}

fn a_session_ends_with_a_password_change_elsewhere_and_in_15_minutes() {
    let s = with_pages(Server::new());
    let mut b = Browser::default();
    signed_in(&s, &mut b, "alice", "correct horse");
    s.now.set(s.now.get() + 15 * 60);
    assert!(!b.get(&s, "/account").body_text().contains("Signed in as"));

    let mut b = Browser::default();
    signed_in(&s, &mut b, "alice", "correct horse");
    let token = make_link(&s, "alice", PasswordLink::RESET, 3600);
    let mut other = Browser::default();
    let path = format!("/reset/{token}");
    let page = other.get(&s, &path);
    other.submit(
        &s,
        &page,
        &path,
        &[("password", "elsewhere!"), ("confirm", "elsewhere!")],
    );
    assert!(!b.get(&s, "/account").body_text().contains("Signed in as"));
}

/// `PASSWORD_SIGN_IN = "false"` closes every door a password opens: the
/// account page's sign-in and password change, reset links, and the
/// invitation's password form (its provider buttons stay).
fn password_sign_in_off_holds_on_the_account_pages() {
    let s = with_pages(Server::with_providers(&[("PASSWORD_SIGN_IN", "false")]));
    // Alice with a password that would sign in, were passwords on.
    let mut alice = user(&s, "alice").unwrap();
    alice.password_hash = user(&Server::new(), "alice").unwrap().password_hash;
    block_on(put_json(&s.store, &keys::user("alice"), &alice, None)).unwrap();
    let off = |r: &Response| r.status == 403 && r.body_text().contains("Password sign-in is off");

    let mut b = Browser::default();
    let page = b.get(&s, "/account");
    assert!(page.body_text().contains("Sign in with"));
    assert!(
        !page.body_text().contains("type=\"password\""),
        "{}",
        page.body_text()
    );
    // A sign-in posted with a good CSRF token (from a server whose
    // passwords are on: the token depends on the key and this browser only).
    let on = with_pages(Server::with_providers(&[]));
    let form = b.get(&on, "/account");
    let (r, writes) = s.writes_during(|| {
        b.submit(
            &s,
            &form,
            "/account",
            &[
                ("username", "alice"),
                ("password", "correct horse"),
                ("action", "signin"),
            ],
        )
    });
    assert!(off(&r), "{} {}", r.status, r.body_text());
    assert_eq!(writes, 0);

    // Signed in through the provider: no password form, and no change.
    let page = b.get(&s, "/account");
    assert_eq!(through_provider(&s, &mut b, &page).status, 302);
    let page = b.get(&s, "/account");
    assert!(page.body_text().contains("Signed in as"));
    assert!(!page.body_text().contains("Change your password"));
    let fields = [
        ("action", "password"),
        ("current", "correct horse"),
        ("password", "a new one!"),
        ("confirm", "a new one!"),
    ];
    let (r, writes) = s.writes_during(|| b.submit(&s, &page, "/account", &fields));
    assert!(off(&r), "{} {}", r.status, r.body_text());
    assert_eq!(writes, 0);

    // A reset link is dead; an invitation offers the providers only.
    let reset = make_link(&s, "alice", PasswordLink::RESET, 3600);
    assert!(off(&Browser::default().get(&s, &format!("/reset/{reset}"))));
    let path = format!("/invite/{}", invite(&s, "bob"));
    let mut c = Browser::default();
    let page = c.get(&s, &path);
    assert_eq!(page.status, 200);
    assert!(
        page.body_text().contains("Sign in with"),
        "{}",
        page.body_text()
    );
    assert!(
        !page.body_text().contains("type=\"password\""),
        "{}",
        page.body_text()
    );
    let post = Request::new(Method::Post, &path)
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body("password=bobs+password&confirm=bobs+password");
    let (r, writes) = s.writes_during(|| c.send(&s, post));
    assert!(off(&r), "{} {}", r.status, r.body_text());
    assert_eq!(writes, 0);
    assert!(user(&s, "bob").unwrap().password_hash.is_none());
}

/// A view of `/account` costs one bounded list and a bounded number of
/// reads however many index entries the user has (KV bills each list, 1,000
/// a day on the Free plan).
fn a_view_reads_a_bounded_number_of_keys() {
    let s = with_pages(Server::new());
    s.link();
    let alice = user(&s, "alice").unwrap();
    // 300 index entries of links whose grants are gone.
    for i in 0..300 {
        let dead = alexa_oauth::types::GrantId::new(format!("{i:0>22}"));
        let key = keys::user_grant(&alice.id, &dead);
        block_on(alexa_oauth::store::Store::put(
            &s.store,
            &key,
            String::new(),
            None,
        ))
        .unwrap();
    }
    let mut b = Browser::default();
    signed_in(&s, &mut b, "alice", "correct horse");
    let before = s.operations().0;
    let page = b.get(&s, "/account");
    let reads = s.operations().0 - before;
    assert!(page.body_text().contains("Signed in as"));
    // At most 100 entries, each a grant and its tombstone (and in Durable
    // Object mode its object), where all 301 were read before.
    assert!(reads <= 3 * 100 + 10, "{reads} reads for one view");
    // With fewer entries the live link is listed as ever.
    let s = with_pages(Server::new());
    let (_, refresh) = s.link();
    let gid = refresh.split('.').next().unwrap().to_owned();
    let page = signed_in(&s, &mut Browser::default(), "alice", "correct horse");
    assert!(page.body_text().contains(&gid));
}

alexa_oauth::on_both_stores!(
    ending_a_link_at_the_account_page_forgets_its_event_tokens,
    a_view_reads_a_bounded_number_of_keys,
    password_sign_in_off_holds_on_the_account_pages,
    an_invitation_sets_a_password_once,
    dead_links_get_pages_not_errors,
    a_reset_keeps_links_working_and_spends_older_links,
    the_account_page_lists_and_ends_links,
    one_cannot_end_another_users_link,
    forms_need_their_csrf_token_and_a_session,
    wrong_passwords_count_against_the_limits,
    changing_the_password,
    a_session_ends_with_a_password_change_elsewhere_and_in_15_minutes,
    signing_in_to_the_account_page_through_a_provider,
    a_forged_session_is_none_and_reads_nothing,
    an_invitation_taken_up_through_a_provider,
);

/// A session cookie someone made up (a real username, any MACs) is no
/// session, and costs no storage read; a real one, altered, is none either.
fn a_forged_session_is_none_and_reads_nothing() {
    let s = with_pages(Server::new());
    let name = alexa_oauth::crypto::b64url(b"alice");
    for forged in [
        format!("{name}.1999999999.AAAA.BBBB"),
        format!("{name}.1999999999"),
        "garbage".to_owned(),
    ] {
        let before = s.operations().0;
        let r = s.send(
            Request::new(Method::Get, "/account")
                .with_header("cookie", &format!("account={forged}")),
        );
        assert_eq!(r.status, 200);
        assert!(!r.body_text().contains("Signed in as"), "{forged}");
        assert_eq!(s.operations().0, before, "{forged}: no read");
    }
    let mut b = Browser::default();
    signed_in(&s, &mut b, "alice", "correct horse");
    let real = b.cookies["account"].clone();
    let (head, tail) = real.rsplit_once('.').unwrap();
    let altered = format!("{head}.{}", tail.chars().rev().collect::<String>());
    let r = s.send(
        Request::new(Method::Get, "/account").with_header("cookie", &format!("account={altered}")),
    );
    assert!(!r.body_text().contains("Signed in as"));
}

/// Signs in through the stand-in provider from `page`'s button whose form
/// carries `next`: the callback's answer.
fn through_provider(s: &Server, b: &mut Browser, page: &Response) -> Response {
    let start = b.submit(s, page, "/account/signin/idp", &[]);
    assert_eq!(start.status, 303, "{}", start.body_text());
    let back = s.upstream.approve(start.get_header("location").unwrap());
    b.get(s, &format!("/callback/idp?{back}"))
}

fn signing_in_to_the_account_page_through_a_provider() {
    let s = with_pages(Server::with_providers(&[]));
    let mut b = Browser::default();
    let page = b.get(&s, "/account");
    assert!(
        page.body_text().contains("Sign in with"),
        "{}",
        page.body_text()
    );
    let (r, writes) = s.writes_during(|| through_provider(&s, &mut b, &page));
    assert_eq!(r.status, 302, "{}", r.body_text());
    assert_eq!(r.get_header("location"), Some("/account"));
    assert_eq!(writes, 0, "a session is a cookie");
    assert!(b
        .get(&s, "/account")
        .body_text()
        .contains("Signed in as <strong>Alice"));

    // The account pages' start takes a POST of their own form, for a
    // provider that exists; anything else leaves for no provider.
    let get = s.send(Request::new(Method::Get, "/account/signin/idp"));
    assert_eq!(get.status, 405);
    assert_eq!(get.get_header("allow"), Some("POST"));
    let mut stranger = Browser::default();
    let post = |path: &str| {
        Request::new(Method::Post, path)
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body("next=account&csrf=1999999999.AAAA")
    };
    let (forged, writes) = s.writes_during(|| stranger.send(&s, post("/account/signin/idp")));
    assert_eq!(forged.status, 403, "{}", forged.body_text());
    assert!(forged.get_header("location").is_none());
    assert_eq!(writes, 0);
    assert_eq!(
        stranger.send(&s, post("/account/signin/nobody")).status,
        404
    );
    // Nor does the login page's start take the account pages' form.
    let login_start = stranger.send(&s, post("/signin/idp"));
    assert!(login_start.get_header("location").is_none());

    // An identity nobody allowed signs in to nothing.
    *s.upstream.subject.borrow_mut() = "a-stranger".into();
    let mut other = Browser::default();
    let page = other.get(&s, "/account");
    let (r, writes) = s.writes_during(|| through_provider(&s, &mut other, &page));
    assert_eq!(r.status, 403, "{}", r.body_text());
    assert_eq!(writes, 0);
}

fn an_invitation_taken_up_through_a_provider() {
    let s = with_pages(Server::with_providers(&[]));
    let token = invite(&s, "bob");
    let path = format!("/invite/{token}");
    *s.upstream.subject.borrow_mut() = "subject-bob".into();
    let mut b = Browser::default();
    let page = b.get(&s, &path);
    assert!(page.body_text().contains("instead of a password"));
    let r = through_provider(&s, &mut b, &page);
    assert_eq!(r.status, 302, "{}", r.body_text());
    let bob = user(&s, "bob").unwrap();
    assert_eq!(bob.identities, ["idp:subject-bob"]);
    assert!(bob.password_hash.is_none());
    assert!(b
        .get(&s, "/account")
        .body_text()
        .contains("Signed in as <strong>Bob"));
    // Spent.
    assert_eq!(b.get(&s, &path).status, 410);

    // An identity that already signs in as someone else is refused.
    let token = invite(&s, "carol");
    let path = format!("/invite/{token}");
    *s.upstream.subject.borrow_mut() = "subject-alice".into();
    let mut c = Browser::default();
    let page = c.get(&s, &path);
    let (r, writes) = s.writes_during(|| through_provider(&s, &mut c, &page));
    assert_eq!(r.status, 409, "{}", r.body_text());
    assert_eq!(writes, 0);
    assert_eq!(c.get(&s, &path).status, 200, "the invitation still works");
}

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
