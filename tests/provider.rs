//! Sign-in through a provider, natively, against the stand-in
//! provider of `alexa_oauth::testing`: the whole link, each misbehaviour, the
//! allow-list and open sign-up.

use alexa_oauth::http::{Method, Request, Response};
use alexa_oauth::testing::{
    auth_query, exchange, query_param, set_cookie, Misbehaviour, Server, IDP, IDP_CLIENT_ID,
    IDP_CLIENT_SECRET, LAYLA,
};

/// The login page's button for `provider`, pressed: (the provider's
/// authorization URL, the browser's cookies).
fn start(s: &Server, provider: &str) -> (String, String) {
    let (r, cookies) = s.provider_start(provider, "192.0.2.9");
    assert_eq!(r.status, 303, "{}", r.body_text());
    (r.get_header("location").unwrap().to_owned(), cookies)
}

fn callback(s: &Server, provider: &str, query: &str, cookie: &str) -> Response {
    s.send(
        Request::new(Method::Get, &format!("/callback/{provider}?{query}"))
            .with_header("cookie", cookie),
    )
}

/// The whole round trip; the callback's answer.
fn sign_in(s: &Server, provider: &str) -> Response {
    let (url, cookie) = start(s, provider);
    let back = s.outbound.approve(&url);
    callback(s, provider, &back, &cookie)
}

fn code_of(r: &Response) -> Option<String> {
    let loc = r.get_header("location")?;
    loc.starts_with(LAYLA).then(|| query_param(loc, "code"))?
}

/// The `sub` the code's access token names, through /userinfo.
fn linked_sub(s: &Server, r: &Response) -> String {
    assert_eq!(r.status, 302, "{}", r.body_text());
    assert!(r
        .get_header("location")
        .unwrap()
        .ends_with("&state=st%20ate%2F1"));
    let (status, t) = s.token(&exchange(&code_of(r).unwrap()), false);
    assert_eq!(status, 200, "{t}");
    let info = s.send(Request::new(Method::Get, "/userinfo").with_header(
        "authorization",
        &format!("Bearer {}", t["access_token"].as_str().unwrap()),
    ));
    let info: serde_json::Value = serde_json::from_slice(&info.body).unwrap();
    info["sub"].as_str().unwrap().to_owned()
}

#[test]
fn a_whole_link_through_an_openid_connect_provider() {
    let s = Server::with_providers(&[]);
    let (url, _) = start(&s, "idp");
    assert!(url.starts_with(&format!("{IDP}/authorize?")), "{url}");
    for (name, want) in [
        ("client_id", Some(IDP_CLIENT_ID)),
        ("redirect_uri", Some("http://localhost/callback/idp")),
        ("response_type", Some("code")),
        ("scope", Some("openid profile")),
        ("code_challenge_method", Some("S256")),
    ] {
        assert_eq!(query_param(&url, name).as_deref(), want, "{name}");
    }
    assert_eq!(query_param(&url, "code_challenge").unwrap().len(), 43);
    assert!(query_param(&url, "nonce").is_some());
    let r = sign_in(&s, "idp");
    assert_eq!(r.log.provider.as_deref(), Some("idp"));
    assert_eq!(
        linked_sub(&s, &r),
        "user-1",
        "our own sub, not the upstream one"
    );
    // The client secret went in the body, as the discovery document asked.
    assert!(!r.body_text().contains(IDP_CLIENT_SECRET));
}

#[test]
fn the_amazon_preset_reads_login_with_amazons_profile() {
    let s = Server::with_providers(&[]);
    let (url, _) = start(&s, "amazon");
    assert_eq!(query_param(&url, "scope").as_deref(), Some("profile"));
    assert!(
        query_param(&url, "nonce").is_none(),
        "LWA is not OpenID Connect"
    );
    let r = sign_in(&s, "amazon");
    assert_eq!(linked_sub(&s, &r), "user-1");
    let fetched = s.outbound.fetched.borrow();
    assert!(
        fetched.iter().any(|u| u.ends_with("/user/profile")),
        "{fetched:?}"
    );
}

#[test]
fn each_misbehaviour_ends_with_no_code_and_no_crash() {
    for (mode, status) in [
        (Misbehaviour::BadSignature, 401),
        (Misbehaviour::WrongAudience, 401),
        (Misbehaviour::WrongNonce, 401),
        (Misbehaviour::Expired, 401),
        (Misbehaviour::UnknownKid, 401),
        (Misbehaviour::TokenError, 503),
    ] {
        let s = Server::with_providers(&[]);
        let (url, cookie) = start(&s, "idp");
        s.outbound.mode.set(mode);
        let r = callback(&s, "idp", &s.outbound.approve(&url), &cookie);
        assert_eq!(r.status, status, "{mode:?}: {}", r.body_text());
        assert!(code_of(&r).is_none(), "{mode:?}");
        // The page leads back to the login form, which still holds the request.
        assert!(
            r.body_text()
                .contains("href=\"/authorize?response_type=code"),
            "{mode:?}"
        );
        assert!(r.log.reason.is_some(), "{mode:?}");
    }
}

#[test]
fn a_provider_that_does_not_answer_gets_a_try_again_page() {
    let s = Server::with_providers(&[]);
    s.outbound.mode.set(Misbehaviour::Slow);
    // Discovery times out: the button leads to the retry page, not the provider.
    let (page, _) = s.provider_start("idp", "192.0.2.9");
    assert_eq!(page.status, 503);
    assert!(page.body_text().contains("Back to sign-in"));
    s.outbound.mode.set(Misbehaviour::None);
    let r = sign_in(&s, "idp");
    assert_eq!(r.status, 302, "a retry works");
}

#[test]
fn declined_consent_goes_back_to_the_login_form() {
    let s = Server::with_providers(&[]);
    let (url, cookie) = start(&s, "idp");
    let state = query_param(&url, "state").unwrap();
    let r = callback(
        &s,
        "idp",
        &format!("error=access_denied&state={state}"),
        &cookie,
    );
    assert_eq!(r.status, 403);
    assert!(r
        .body_text()
        .contains("Signing in with idp did not complete."));
    assert!(
        r.body_text().contains("name=\"csrf\""),
        "the login form, still usable"
    );
    assert!(code_of(&r).is_none());
}

#[test]
fn a_state_must_be_this_browsers_and_is_single_use() {
    let s = Server::with_providers(&[]);
    let (url, cookie) = start(&s, "idp");
    let back = s.outbound.approve(&url);
    let tampered = back.replace("state=", "state=x");
    assert_eq!(callback(&s, "idp", &tampered, &cookie).status, 400);
    assert_eq!(callback(&s, "idp", &back, "signin-state=other").status, 400);
    assert_eq!(
        callback(&s, "amazon", &back, &cookie).status,
        400,
        "another provider's"
    );
    let r = callback(&s, "idp", &back, &cookie);
    assert_eq!(r.status, 302, "the tampered tries did not spend it");
    assert_eq!(
        set_cookie(&r),
        "signin-state=",
        "spent: the browser drops it"
    );
    // A replay with the old cookie meets the provider's single-use code.
    let again = callback(&s, "idp", &back, &cookie);
    assert!(code_of(&again).is_none(), "single use: {}", again.status);
    // And with a fresh provider code for the same state, the state itself is
    // spent: no second code, nothing written, and every try counts against
    // the address's limit.
    let (replay, writes) =
        s.writes_during(|| callback(&s, "idp", &s.outbound.approve(&url), &cookie));
    assert_eq!(replay.status, 400, "{}", replay.body_text());
    assert!(replay.body_text().contains("This sign-in has expired"));
    assert_eq!(writes, 0);
    let limited = (0..30)
        .map(|_| callback(&s, "idp", &s.outbound.approve(&url), &cookie).status)
        .position(|status| status == 429);
    assert!(limited.is_some_and(|at| at < 20), "{limited:?}");
    // Another browser's cookies: its own nonce does not open this one's state.
    let (url, cookie) = start(&s, "idp");
    let (_, other) = start(&s, "idp");
    let theirs = other.split("; ").next().unwrap();
    let mine = cookie.split("; ").nth(1).unwrap();
    let r = callback(
        &s,
        "idp",
        &s.outbound.approve(&url),
        &format!("{theirs}; {mine}"),
    );
    assert_eq!(r.status, 400, "bound to the browser that started it");
    // Ten minutes later a state is dead.
    let (url, cookie) = start(&s, "idp");
    s.now.set(s.now.get() + 601);
    assert_eq!(
        callback(&s, "idp", &s.outbound.approve(&url), &cookie).status,
        400
    );
}

#[test]
fn only_allowed_identities_link_unless_open_sign_up_is_on() {
    let s = Server::with_providers(&[]);
    *s.outbound.subject.borrow_mut() = "a-stranger".into();
    let r = sign_in(&s, "idp");
    assert_eq!(r.status, 403);
    assert!(r
        .body_text()
        .contains("This idp account is not allowed to link here."));
    assert_eq!(r.log.reason, Some("the identity is not on the allow-list"));

    let open = Server::with_providers(&[("IDP_AUTO_CREATE", "true")]);
    *open.outbound.subject.borrow_mut() = "a-stranger".into();
    let created = sign_in(&open, "idp");
    assert_eq!(
        created.log.reason,
        Some("user created on first sign-in"),
        "one writer per log field: the later success does not overwrite it"
    );
    let first = linked_sub(&open, &created);
    let second = linked_sub(&open, &sign_in(&open, "idp"));
    assert_eq!(first, second, "one user per identity");
    assert!(!first.contains("a-stranger"), "our own sub: {first}");
}

#[test]
fn a_rotated_provider_key_is_fetched_once() {
    let s = Server::with_providers(&[]);
    assert_eq!(sign_in(&s, "idp").status, 302);
    *s.outbound.kid.borrow_mut() = "k2".into();
    assert_eq!(sign_in(&s, "idp").status, 302);
    assert_eq!(sign_in(&s, "idp").status, 302);
    let jwks = s.outbound.fetches("/jwks");
    assert_eq!(jwks, 2, "the first sign-in, then the rotation");
    let discovery = s.outbound.fetches("openid-configuration");
    assert_eq!(discovery, 1, "cached per isolate");
}

#[test]
fn password_sign_in_can_be_turned_off() {
    let s = Server::with_providers(&[("PASSWORD_SIGN_IN", "false")]);
    let page = s.send(Request::new(
        Method::Get,
        &format!("/authorize?{}", auth_query(LAYLA, "")),
    ));
    assert!(!page.body_text().contains("type=\"password\""));
    assert!(page.body_text().contains("Sign in with Amazon"));
    let r = s.login(&auth_query(LAYLA, ""), "alice", "correct horse", "login");
    assert_eq!(r.status, 403);
    let cancel = s.login(&auth_query(LAYLA, ""), "", "", "cancel");
    assert!(cancel
        .get_header("location")
        .unwrap()
        .contains("error=access_denied"));
}

#[test]
fn an_unknown_provider_or_method_is_a_page_not_a_crash() {
    let s = Server::with_providers(&[]);
    let r = s.send(Request::new(Method::Get, "/signin/nope?x=1"));
    assert_eq!(r.status, 404);
    for method in [Method::Post, Method::Head] {
        let r = s.send(Request::new(method, "/callback/idp"));
        assert_eq!((r.status, r.get_header("allow")), (405, Some("GET")));
    }
    let r = s.send(Request::new(Method::Head, "/signin/idp"));
    assert_eq!((r.status, r.get_header("allow")), (405, Some("GET, POST")));
    let r = s.send(Request::new(Method::Get, "/signin/idp?client_id=unknown"));
    assert_eq!(r.status, 400, "the request is checked before leaving");
}

#[test]
fn each_start_counts_against_the_per_address_limit() {
    let s = Server::with_providers(&[]);
    let statuses: Vec<u16> = (0..21)
        .map(|_| s.provider_start("idp", "192.0.2.1").0.status)
        .collect();
    assert!(statuses[..20].iter().all(|&s| s == 303), "{statuses:?}");
    assert_eq!(statuses[20], 429, "bounded per address");
    assert_eq!(
        s.provider_start("idp", "192.0.2.2").0.status,
        303,
        "another address is not held up"
    );
}

#[test]
fn a_thousand_starts_write_nothing() {
    let s = Server::with_providers(&[]);
    let (statuses, writes) = s.writes_during(|| {
        (0..1000)
            .map(|i| {
                let ip = format!("198.51.{}.{}", i / 250, i % 250);
                s.provider_start("idp", &ip).0.status
            })
            .collect::<Vec<_>>()
    });
    assert!(statuses.iter().all(|&st| st == 303), "{statuses:?}");
    assert_eq!(writes, 0, "a start is carried by the browser, not stored");
}

#[test]
fn a_start_that_is_not_from_our_login_page_reaches_no_provider() {
    let s = Server::with_providers(&[]);
    let query = auth_query(LAYLA, "");
    // A link on another site, followed in a fresh browser.
    let link = s.send(Request::new(Method::Get, &format!("/signin/idp?{query}")));
    assert_eq!(link.status, 200, "{}", link.body_text());
    assert!(link.body_text().contains("name=\"csrf\""), "our login page");
    // A form on another site: the Alexa request, with or without a token,
    // but not this browser's.
    let (_, theirs) = s.provider_start("idp", "192.0.2.7");
    for (body, cookie) in [
        (query.clone(), None),
        (
            format!("{query}&csrf=9999999999.AAAA"),
            Some("login-csrf=AAAAAAAAAAAAAAAAAAAAAA"),
        ),
        (
            format!("{query}&csrf=9999999999.AAAA"),
            Some(theirs.split("; ").next().unwrap()),
        ),
    ] {
        let mut req = Request::new(Method::Post, "/signin/idp")
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body(body);
        if let Some(c) = cookie {
            req = req.with_header("cookie", c);
        }
        let r = s.send(req);
        assert_eq!(r.status, 403, "{}", r.body_text());
        assert!(r.get_header("location").is_none());
        assert!(r.body_text().contains("This form has expired"));
    }
    // One real start above, from the login page; none of the others went as
    // far as looking the provider up.
    assert_eq!(s.outbound.fetches("openid-configuration"), 1);
}

#[test]
fn a_finished_sign_in_clears_its_state_cookie() {
    let s = Server::with_providers(&[]);
    let r = sign_in(&s, "idp");
    assert_eq!(r.status, 302);
    assert_eq!(set_cookie(&r), "signin-state=");
}

#[test]
fn an_issuer_written_with_a_trailing_slash_is_the_same_issuer() {
    let s = Server::with_providers(&[]);
    s.outbound.slash_issuer.set(true);
    assert_eq!(linked_sub(&s, &sign_in(&s, "idp")), "user-1");
}

#[test]
fn a_wrong_client_secret_at_the_provider_is_named_in_the_log() {
    let s = Server::with_providers(&[("AMAZON_CLIENT_SECRET", "not-the-secret")]);
    let r = sign_in(&s, "amazon");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.log.reason,
        Some("the provider refused our client id or secret")
    );
}

#[test]
fn an_authorization_response_from_another_issuer_is_refused() {
    // RFC 9207: a provider that names itself in the response must be ours.
    let s = Server::with_providers(&[]);
    let (url, cookie) = start(&s, "idp");
    let back = s.outbound.approve(&url);
    let r = callback(
        &s,
        "idp",
        &format!("{back}&iss=https%3A%2F%2Fevil.example"),
        &cookie,
    );
    assert_eq!(r.status, 401);
    let (url, cookie) = start(&s, "idp");
    let back = s.outbound.approve(&url);
    let r = callback(
        &s,
        "idp",
        &format!("{back}&iss=https%3A%2F%2Fidp.test"),
        &cookie,
    );
    assert_eq!(r.status, 302, "{}", r.body_text());
}

#[test]
fn the_presets_send_the_browser_to_the_real_providers() {
    let s = Server::with_config(alexa_oauth::Config::from_vars(|k| {
        let v = match k {
            "SIGNING_KEY" => alexa_oauth::testing::KEY,
            "SIGN_IN_PROVIDERS" => "amazon github google",
            "AMAZON_CLIENT_ID" | "GITHUB_CLIENT_ID" | "GOOGLE_CLIENT_ID" => "id",
            "AMAZON_CLIENT_SECRET" | "GITHUB_CLIENT_SECRET" | "GOOGLE_CLIENT_SECRET" => "secret",
            _ => return None,
        };
        Some(v.to_owned())
    }));
    for (name, to, scope) in [
        ("amazon", "https://www.amazon.com/ap/oa?", "profile"),
        (
            "github",
            "https://github.com/login/oauth/authorize?",
            "read:user",
        ),
    ] {
        let (r, _) = s.provider_start(name, "192.0.2.3");
        let to_provider = r.get_header("location").unwrap();
        assert!(to_provider.starts_with(to), "{to_provider}");
        assert_eq!(query_param(to_provider, "scope").as_deref(), Some(scope));
    }
    // Google is found through discovery at accounts.google.com, which the
    // stand-in does not answer: the retry page, and the URL it tried.
    let (r, _) = s.provider_start("google", "192.0.2.3");
    assert_eq!(r.status, 503);
    let fetched = s.outbound.fetched.borrow();
    assert_eq!(
        fetched.last().map(String::as_str),
        Some("https://accounts.google.com/.well-known/openid-configuration")
    );
}

#[test]
fn the_login_page_lets_its_provider_forms_lead_to_the_providers() {
    // A form's redirect is governed by the page's `form-action`: without the
    // provider's origin there, a browser stops at our 303.
    let s = Server::with_providers(&[]);
    let page = s.send(Request::new(
        Method::Get,
        &format!("/authorize?{}", auth_query(LAYLA, "")),
    ));
    let csp = page.get_header("content-security-policy").unwrap();
    let form_action = csp
        .split(';')
        .find(|d| d.trim().starts_with("form-action"))
        .unwrap();
    for origin in [
        "'self'",
        "https://layla.amazon.com",
        IDP,
        "https://idp.test",
    ] {
        assert!(form_action.contains(origin), "{origin} in {form_action}");
    }
    let (r, _) = s.provider_start("idp", "192.0.2.4");
    let to = r.get_header("location").unwrap();
    assert!(form_action.contains(to.split("/authorize").next().unwrap()));
}
