//! The whole account link through the core, natively, on the in-memory store:
//! the same requests Alexa makes, checked for exact statuses and error codes.

use alexa_oauth::http::{Method, Request};
use alexa_oauth::jwt::{self, SigningKey};
use alexa_oauth::store::Records;
use alexa_oauth::testing::*;
use alexa_oauth::types::ClientId;
use alexa_oauth::Config;
use base64::Engine;
use pollster::block_on;
use serde_json::Value;

fn link_with_body_credentials_then_refresh_and_retry() {
    let s = Server::new();
    let code = s.code("");
    let (status, tokens) = s.token(&exchange(&code), false);
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert!(tokens["expires_in"].is_u64());
    assert_eq!(tokens["scope"], "smart_home");
    let access = tokens["access_token"].as_str().unwrap();
    assert!(access.len() < 1024);
    let key = SigningKey::new(KEY.as_bytes()).unwrap();
    let claims = jwt::verify(access, &[&key], T0 + 1).unwrap();
    assert_eq!(claims.sub, "user-1");
    assert_eq!(claims.client_id, "alexa");
    assert_eq!(claims.exp, T0 + 3600);
    assert_eq!(claims.iss, "http://localhost");

    let rt1 = tokens["refresh_token"].as_str().unwrap().to_owned();
    s.now.set(T0 + 4000);
    let (status, r2) = s.token(
        &format!("grant_type=refresh_token&refresh_token={rt1}"),
        true,
    );
    assert_eq!(status, 200, "{r2}");
    let rt2 = r2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    // The answer was lost: Alexa retries with the previous token and still succeeds.
    let (status, r3) = s.token(
        &format!("grant_type=refresh_token&refresh_token={rt1}"),
        true,
    );
    assert_eq!(status, 200, "{r3}");
    let rt3 = r3["refresh_token"].as_str().unwrap().to_owned();
    // Using the newest token retires the one before it...
    let (status, r4) = s.refresh(&rt3);
    assert_eq!(status, 200, "{r4}");
    // ...so rt1 and the never-used rt2 are now refused.
    for old in [&rt1, &rt2] {
        let (status, e) = s.refresh(old);
        assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    }
}

fn nothing_secret_is_stored_in_clear() {
    let s = Server::new();
    let code = s.code("");
    let (_, tokens) = s.token(&exchange(&code), true);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let secret_part = refresh.split_once('.').unwrap().1;
    for (key, value) in s.dump() {
        for secret in [code.as_str(), secret_part, SECRET, "correct horse", KEY] {
            assert!(
                !key.contains(secret) && !value.contains(secret),
                "{key} holds a secret"
            );
        }
    }
}

fn code_replay_revokes_the_grant() {
    let s = Server::new();
    let code = s.code("");
    let (status, tokens) = s.token(&exchange(&code), false);
    assert_eq!(status, 200);
    let (status, e) = s.token(&exchange(&code), false);
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    let rt = tokens["refresh_token"].as_str().unwrap();
    let (status, e) = s.refresh(rt);
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
}

fn code_expires_after_five_minutes() {
    let s = Server::new();
    let code = s.code("");
    s.now.set(T0 + 300);
    let (status, e) = s.token(&exchange(&code), false);
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
}

fn token_request_redirect_uri_must_match() {
    let s = Server::new();
    let code = s.code("");
    let other = "https://pitangui.amazon.com/api/skill/link/M2AAAAAAAAAAAA";
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}",
        urlenc(other)
    );
    let (status, e) = s.token(&body, false);
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));

    let code = s.code("");
    let (status, e) = s.token(&format!("grant_type=authorization_code&code={code}"), false);
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

fn pkce_s256() {
    let s = Server::new();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let pkce =
        "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
    let code = s.code(pkce);
    let (status, e) = s.token(&exchange(&code), false);
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "missing verifier"
    );

    let code = s.code(pkce);
    let bad = format!(
        "{}&code_verifier={}",
        exchange(&code),
        verifier.replace('d', "e")
    );
    let (status, e) = s.token(&bad, false);
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "wrong verifier"
    );

    let code = s.code(pkce);
    let (status, t) = s.token(
        &format!("{}&code_verifier={verifier}", exchange(&code)),
        true,
    );
    assert_eq!(status, 200, "{t}");

    // A verifier for a code issued without a challenge is refused (downgrade).
    let code = s.code("");
    let (status, e) = s.token(
        &format!("{}&code_verifier={verifier}", exchange(&code)),
        false,
    );
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
}

fn client_authentication_failures() {
    let s = Server::new();
    let form = "application/x-www-form-urlencoded";
    let send = |auth: Option<&str>, body: &str| {
        let mut r = Request::new(Method::Post, "/token").with_header("content-type", form);
        if let Some(a) = auth {
            r = r.with_header("authorization", a);
        }
        s.send(r.with_body(body.to_owned()))
    };
    let wrong = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alexa:wrong")
    );
    for (auth, body) in [
        (
            Some(wrong.as_str()),
            "grant_type=refresh_token&refresh_token=x",
        ),
        (None, "grant_type=refresh_token&refresh_token=x"),
        (
            None,
            "grant_type=refresh_token&refresh_token=x&client_id=alexa&client_secret=wrong",
        ),
        (
            None,
            "grant_type=refresh_token&refresh_token=x&client_id=nobody&client_secret=wrong",
        ),
    ] {
        let r = send(auth, body);
        assert_eq!(r.status, 401, "{body}");
        assert!(r
            .get_header("www-authenticate")
            .unwrap()
            .starts_with("Basic"));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["error"], "invalid_client");
    }
}

fn client_credentials_grant() {
    let s = Server::new();
    let r = s.send(
        Request::new(Method::Post, "/token")
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body(format!("grant_type=client_credentials&scope=profile&client_id=machine&client_secret={SECRET}")),
    );
    assert_eq!(r.status, 200, "{}", r.body_text());
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["scope"], "profile");
    assert_eq!(v["expires_in"], 3600);
    assert!(v.get("refresh_token").is_none());
    // A client without the grant gets unauthorized_client.
    let (status, e) = s.token("grant_type=client_credentials", false);
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
}

fn malformed_token_requests() {
    let s = Server::new();
    let (status, e) = s.token("grant_type=password&username=a&password=b", false);
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, e) = s.token(
        "grant_type=authorization_code&grant_type=authorization_code&code=x",
        false,
    );
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, e) = s.token("grant_type=authorization_code", false);
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, e) = s.token(
        &format!("grant_type=authorization_code&code={}", "x".repeat(5000)),
        false,
    );
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_request"))
    );

    let r = s.send(Request::new(Method::Get, "/token"));
    assert_eq!(r.status, 405);
    assert_eq!(r.get_header("allow"), Some("POST"));
    let r = s.send(
        Request::new(Method::Post, "/token")
            .with_header("content-type", "application/json")
            .with_body("{}"),
    );
    assert_eq!(r.status, 400);
    let mut big = Request::new(Method::Post, "/token")
        .with_header("content-type", "application/x-www-form-urlencoded");
    big.body = None;
    assert_eq!(s.send(big).status, 413);
}

fn storage_failure_is_temporarily_unavailable_not_a_panic() {
    let s = Server::without_client_cache();
    let code = s.code("");
    s.store.fail_after(0);
    let (status, e) = s.token(&exchange(&code), false);
    assert_eq!(
        (status, e["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    let r = s.send(Request::new(
        Method::Get,
        &format!("/authorize?{}", auth_query(LAYLA, "")),
    ));
    assert_eq!(r.status, 503);
    assert!(r.get_header("retry-after").is_some());
}

fn missing_signing_key_is_server_error() {
    let s = Server::with_config(Config::from_vars(|_| None));
    let (status, e) = s.token("grant_type=refresh_token&refresh_token=a.b", false);
    // The client is checked first; then the missing key stops issuing.
    assert_eq!((status, e["error"].as_str()), (500, Some("server_error")));
}

fn oversized_identifiers_are_refused_before_any_storage_read() {
    let s = Server::new();
    let long = "a".repeat(600);
    // Every storage operation fails from here on: a read would be a 503.
    s.store.fail_after(0);
    let (status, body) = s.client_post("/token", "grant_type=client_credentials", &long);
    assert_eq!(status, 401, "{body}");
    let r = s.send(Request::new(
        Method::Get,
        &format!("/authorize?response_type=code&client_id={long}"),
    ));
    assert_eq!(r.status, 400, "{}", r.body_text());
    s.store.fail_after(usize::MAX);
    // A username longer than any registered one: refused like a wrong one, after
    // the client read only (the user read would fail).
    let post = s.login_post(
        &auth_query(LAYLA, ""),
        &long,
        "x",
        "login",
        &Browser::default(),
    );
    s.store.fail_after(1);
    let r = s.send(post);
    assert_eq!(r.status, 401, "{}", r.body_text());
}

fn a_spent_code_presented_by_another_client_does_not_revoke_the_owners_grant() {
    let s = Server::new();
    let code = s.code("");
    let (status, linked) = s.token(&exchange(&code), false);
    assert_eq!(status, 200);
    // Another client of the same server, allowed the code grant, replays it.
    let mut other = block_on(s.store.client(&ClientId::new("alexa")))
        .unwrap()
        .unwrap();
    other.client_id = ClientId::new("other");
    s.put_client(&other);
    let (status, body) = s.client_post("/token", &exchange(&code), "other");
    assert_eq!(status, 400, "{body}");
    let rt = linked["refresh_token"].as_str().unwrap();
    let (status, body) = s.refresh(rt);
    assert_eq!(status, 200, "the owner stays linked: {body}");
}

fn grants_of_a_removed_client_never_come_back_under_its_id() {
    let s = Server::without_client_cache();
    let (_, rt) = s.link();
    // What `admin client remove` then `client add` leave: the same id, with the
    // removal time as `grants_since`.
    s.edit_client("alexa", |c| c.grants_since = Some(T0 + 1));
    s.now.set(T0 + 10);
    let (status, e) = s.refresh(&rt);
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    // A link made after the re-add works.
    let (_, fresh) = s.link();
    let (status, _) = s.refresh(&fresh);
    assert_eq!(status, 200);
}

/// Gives a client a new secret in the store, as `rotate-secret --grace 0` does.
fn set_secret(s: &Server, id: &str, secret: &str) {
    s.edit_client(id, |c| {
        c.secret_hash = alexa_oauth::crypto::hash_client_secret(
            &alexa_oauth::crypto::TestRng::default(),
            &alexa_oauth::types::ClientSecret::new(secret),
        );
    });
}

fn the_client_cache_keeps_a_rotated_out_secret_at_most_its_bound_and_a_new_one_works_at_once() {
    let s = Server::new();
    let cc = |secret: &str| {
        let r = s.send(
            Request::new(Method::Post, "/token")
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_body(format!(
                    "grant_type=client_credentials&client_id=machine&client_secret={secret}"
                )),
        );
        r.status
    };
    assert_eq!(cc(SECRET), 200, "now cached");
    let new_secret = "another-client-secret-0123456789abcdef";
    set_secret(&s, "machine", new_secret);
    // The isolate's copy still has the old secret: accepted within the bound...
    s.now.set(T0 + 29);
    assert_eq!(cc(SECRET), 200, "within the bound");
    // ...and not after it.
    s.now.set(T0 + 30);
    assert_eq!(cc(SECRET), 401, "after the bound");
    assert_eq!(cc(new_secret), 200);
    // A new secret presented to a stale copy works at once (one fresh read).
    set_secret(&s, "machine", SECRET);
    assert_eq!(cc(SECRET), 200, "new secret at once");
}

alexa_oauth::on_both_stores!(
    the_client_cache_keeps_a_rotated_out_secret_at_most_its_bound_and_a_new_one_works_at_once,
    grants_of_a_removed_client_never_come_back_under_its_id,
    oversized_identifiers_are_refused_before_any_storage_read,
    a_spent_code_presented_by_another_client_does_not_revoke_the_owners_grant,
    link_with_body_credentials_then_refresh_and_retry,
    nothing_secret_is_stored_in_clear,
    code_replay_revokes_the_grant,
    code_expires_after_five_minutes,
    token_request_redirect_uri_must_match,
    pkce_s256,
    client_authentication_failures,
    client_credentials_grant,
    malformed_token_requests,
    storage_failure_is_temporarily_unavailable_not_a_panic,
    missing_signing_key_is_server_error,
);
