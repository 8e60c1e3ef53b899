//! `/account`: sign-in under the limits, the list of links, ending one,
//! changing the password, sessions, CSRF, and bounded reads.

use super::*;

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
    assert_eq!(providers::through_provider(&s, &mut b, &page).status, 302);
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

/// session, and costs no storage read; a real one, altered, is none either.
fn a_forged_session_is_none_and_reads_nothing() {
    let s = with_pages(Server::new());
    let name = alexa_oauth::crypto::b64url(b"alice");
    // The isolate's first page reads the operator's texts (once a minute).
    s.send(Request::new(Method::Get, "/account"));
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

alexa_oauth::on_both_stores!(
    the_account_page_lists_and_ends_links,
    ending_a_link_at_the_account_page_forgets_its_event_tokens,
    one_cannot_end_another_users_link,
    forms_need_their_csrf_token_and_a_session,
    wrong_passwords_count_against_the_limits,
    changing_the_password,
    a_session_ends_with_a_password_change_elsewhere_and_in_15_minutes,
    password_sign_in_off_holds_on_the_account_pages,
    a_view_reads_a_bounded_number_of_keys,
    a_forged_session_is_none_and_reads_nothing,
);
