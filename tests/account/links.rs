//! Invitation and reset links: one use, expiry, unknown links, and links
//! that keep working across a reset.

use super::*;

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

alexa_oauth::on_both_stores!(
    an_invitation_sets_a_password_once,
    dead_links_get_pages_not_errors,
    a_reset_keeps_links_working_and_spends_older_links,
);
