//! The account pages' provider buttons: a session through a provider, an
//! invitation taken up with an identity, and the start's own checks.

use super::*;

/// Signs in through the stand-in provider from `page`'s button whose form
/// carries `next`: the callback's answer.
pub(crate) fn through_provider(s: &Server, b: &mut Browser, page: &Response) -> Response {
    let start = b.submit(s, page, "/account/signin/idp", &[]);
    assert_eq!(start.status, 303, "{}", start.body_text());
    let back = s.outbound.approve(start.get_header("location").unwrap());
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
    *s.outbound.subject.borrow_mut() = "a-stranger".into();
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
    *s.outbound.subject.borrow_mut() = "subject-bob".into();
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
    *s.outbound.subject.borrow_mut() = "subject-alice".into();
    let mut c = Browser::default();
    let page = c.get(&s, &path);
    let (r, writes) = s.writes_during(|| through_provider(&s, &mut c, &page));
    assert_eq!(r.status, 409, "{}", r.body_text());
    assert_eq!(writes, 0);
    assert_eq!(c.get(&s, &path).status, 200, "the invitation still works");
}

alexa_oauth::on_both_stores!(
    signing_in_to_the_account_page_through_a_provider,
    an_invitation_taken_up_through_a_provider,
);
