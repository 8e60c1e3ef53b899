//! The authorization endpoint through the core, on both stores: errors that
//! redirect with `state` and ones that may not redirect at all, the login
//! form's failures and CSRF binding, escaping and the log fields.

use alexa_oauth::http::{Method, Request};
use alexa_oauth::testing::*;

fn authorize_errors_redirect_with_state() {
    let s = Server::new();
    let cases = [
        ("&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=plain", "invalid_request"),
        ("&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "invalid_request"),
        ("&code_challenge_method=S256", "invalid_request"),
    ];
    for (extra, error) in cases {
        let r = s.send(Request::new(
            Method::Get,
            &format!("/authorize?{}", auth_query(LAYLA, extra)),
        ));
        assert_eq!(r.status, 302, "{extra}");
        let loc = r.get_header("location").unwrap();
        assert_eq!(query_param(loc, "error").as_deref(), Some(error), "{extra}");
        assert_eq!(query_param(loc, "state").as_deref(), Some("st ate/1"));
        assert!(loc.starts_with(LAYLA));
    }
    let r = s.send(Request::new(
        Method::Get,
        &format!(
            "/authorize?{}",
            auth_query(LAYLA, "").replace("response_type=code", "response_type=token")
        ),
    ));
    assert_eq!(
        query_param(r.get_header("location").unwrap(), "error").as_deref(),
        Some("unsupported_response_type")
    );
    let r = s.send(Request::new(
        Method::Get,
        &format!(
            "/authorize?{}",
            auth_query(LAYLA, "").replace("scope=smart_home", "scope=admin")
        ),
    ));
    assert_eq!(
        query_param(r.get_header("location").unwrap(), "error").as_deref(),
        Some("invalid_scope")
    );
}

fn unregistered_redirect_uris_get_a_page_never_a_redirect() {
    let s = Server::new();
    for uri in [
        format!("{LAYLA}/"),
        "https://layla.amazon.com/api/skill/link/M2BBBBBBBBBBBB".to_owned(),
        LAYLA.replace("https", "http"),
        format!("{LAYLA}?x=1"),
        LAYLA.replace("layla", "LAYLA"),
        LAYLA.replace(".com/", ".com:443/"),
        "https://evil.example/cb".to_owned(),
    ] {
        let r = s.send(Request::new(
            Method::Get,
            &format!("/authorize?{}", auth_query(&uri, "")),
        ));
        assert_eq!(r.status, 400, "{uri}");
        assert!(r.get_header("location").is_none());
        assert!(r
            .get_header("content-type")
            .unwrap()
            .starts_with("text/html"));
    }
    let r = s.send(Request::new(
        Method::Get,
        &format!(
            "/authorize?{}",
            auth_query(LAYLA, "").replace("client_id=alexa", "client_id=nobody")
        ),
    ));
    assert_eq!(r.status, 400);
    assert!(r.get_header("location").is_none());
}

fn bad_password_shows_the_form_again_and_cancel_denies() {
    let s = Server::new();
    let r = s.login(&auth_query(LAYLA, ""), "alice", "wrong", "login");
    assert_eq!(r.status, 401);
    assert!(r.get_header("location").is_none());
    assert!(r.body_text().contains("Incorrect username or password"));
    assert!(r.body_text().contains("name=\"password\""));
    let r = s.login(&auth_query(LAYLA, ""), "nobody", "wrong", "login");
    assert_eq!(r.status, 401);
    // Usernames match without regard to case.
    let r = s.login(&auth_query(LAYLA, ""), " Alice ", "correct horse", "login");
    assert_eq!(r.status, 303);
    let r = s.login(&auth_query(LAYLA, ""), "", "", "cancel");
    assert_eq!(r.status, 303);
    let loc = r.get_header("location").unwrap();
    assert_eq!(query_param(loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(loc, "state").as_deref(), Some("st ate/1"));
    assert!(query_param(loc, "code").is_none());
}

fn login_without_the_csrf_cookie_is_refused() {
    let s = Server::new();
    let page = s.send(Request::new(
        Method::Get,
        &format!("/authorize?{}", auth_query(LAYLA, "")),
    ));
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in hidden_fields(page.body_text()) {
        form.append_pair(&name, &value);
    }
    form.append_pair("username", "alice")
        .append_pair("password", "correct horse");
    let body = form.finish();
    let post = |cookie: &str| {
        s.send(
            Request::new(Method::Post, "/authorize")
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_header("cookie", cookie)
                .with_body(body.clone()),
        )
    };
    assert_eq!(post("").status, 403);
    assert_eq!(post("login-csrf=AAAAAAAAAAAAAAAAAAAAAA").status, 403);
    assert_eq!(post(&set_cookie(&page)).status, 303);
}

fn login_page_escapes_state_and_forbids_framing() {
    let s = Server::new();
    let q = auth_query(LAYLA, "").replace(
        "state=st+ate%2F1",
        "state=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    );
    let r = s.send(Request::new(Method::Get, &format!("/authorize?{q}")));
    assert_eq!(r.status, 200);
    assert!(!r.body_text().contains("<script>"));
    assert!(r.body_text().contains("&#34;&#62;&#60;script&#62;"));
    assert_eq!(r.get_header("x-frame-options"), Some("DENY"));
    let csp = r.get_header("content-security-policy").unwrap();
    assert!(csp.contains("frame-ancestors 'none'"));
    assert!(csp.contains("form-action 'self' https://layla.amazon.com"));
    assert!(r.body_text().contains("Test Skill"));
    assert!(r.body_text().contains("<code>smart_home</code>"));
}

fn authorize_error_pages_keep_their_error_and_reason_in_the_log() {
    let s = Server::new();
    let cases = [
        (
            "client_id=alexa&client_id=x",
            "invalid_request",
            "a parameter is repeated",
        ),
        (
            "client_id=nobody&response_type=code",
            "invalid_request",
            "unknown client_id",
        ),
        (
            "client_id=alexa&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2F",
            "invalid_request",
            "redirect_uri is not registered for this client",
        ),
    ];
    for (query, error, reason) in cases {
        let r = s.send(Request::new(Method::Get, &format!("/authorize?{query}")));
        assert_eq!(r.status, 400, "{query}");
        assert_eq!(r.log.error, Some(error), "{query}");
        assert_eq!(r.log.reason, Some(reason), "{query}");
    }
}

alexa_oauth::on_both_stores!(
    authorize_errors_redirect_with_state,
    unregistered_redirect_uris_get_a_page_never_a_redirect,
    bad_password_shows_the_form_again_and_cancel_denies,
    login_without_the_csrf_cookie_is_refused,
    login_page_escapes_state_and_forbids_framing,
    authorize_error_pages_keep_their_error_and_reason_in_the_log,
);
