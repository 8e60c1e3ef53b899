//! Hardening, natively: storage faults at every step of a code exchange and a
//! refresh lose and duplicate nothing; refresh-token reuse after its grace
//! revokes the family without breaking Alexa's retry.

use alexa_oauth::http::{Method, Request};
use alexa_oauth::testing::*;

/// The grants in the store and the user's index entries.
fn grants(s: &Server) -> (usize, usize) {
    let dump = s.dump();
    (
        dump.iter().filter(|(k, _)| k.starts_with("grant:")).count(),
        dump.iter()
            .filter(|(k, _)| k.starts_with("usergrant:"))
            .count(),
    )
}

#[test]
fn a_storage_fault_at_any_step_of_the_code_exchange_loses_and_duplicates_nothing() {
    let mut faults_seen = 0;
    for step in 0.. {
        let s = Server::new();
        let code = s.code("");
        s.store.fail_after(step);
        let (status, first) = s.token(&exchange(&code), false);
        s.store.fail_after(usize::MAX);
        if status == 200 {
            // Past the last storage operation: nothing failed.
            assert!(step > 0);
            break;
        }
        faults_seen += 1;
        assert_eq!(
            (status, first["error"].as_str()),
            (503, Some("temporarily_unavailable")),
            "step {step}"
        );
        // Alexa retries the same request; it must succeed, with one grant.
        let (status, tokens) = s.token(&exchange(&code), false);
        assert_eq!(status, 200, "retry after a fault at step {step}: {tokens}");
        assert_eq!(
            grants(&s),
            (1, 1),
            "one grant, indexed once, after a fault at step {step}"
        );
        let rt = tokens["refresh_token"].as_str().unwrap();
        let (status, _) = s.token(
            &format!("grant_type=refresh_token&refresh_token={rt}"),
            false,
        );
        assert_eq!(
            status, 200,
            "the issued refresh token works (fault at step {step})"
        );
        // And the code is spent now.
        let (status, _) = s.token(&exchange(&code), false);
        assert_eq!(status, 400);
    }
    assert!(
        faults_seen >= 4,
        "client, code, grant, index and spend are each faulted ({faults_seen})"
    );
}

#[test]
fn a_storage_fault_at_any_step_of_a_refresh_keeps_the_token_usable() {
    let mut faults_seen = 0;
    for step in 0.. {
        let s = Server::new();
        let (_, rt) = s.link();
        s.store.fail_after(step);
        let (status, first) = s.token(
            &format!("grant_type=refresh_token&refresh_token={rt}"),
            false,
        );
        s.store.fail_after(usize::MAX);
        if status == 200 {
            assert!(step > 0);
            break;
        }
        faults_seen += 1;
        assert_eq!(
            (status, first["error"].as_str()),
            (503, Some("temporarily_unavailable"))
        );
        // The same refresh token still works, and the chain goes on from it.
        let (status, next) = s.token(
            &format!("grant_type=refresh_token&refresh_token={rt}"),
            false,
        );
        assert_eq!(status, 200, "fault at step {step}: {next}");
        let rt2 = next["refresh_token"].as_str().unwrap();
        let (status, _) = s.token(
            &format!("grant_type=refresh_token&refresh_token={rt2}"),
            false,
        );
        assert_eq!(status, 200);
        assert_eq!(grants(&s), (1, 1));
    }
    assert!(
        faults_seen >= 2,
        "client read, grant read and grant write are faulted ({faults_seen})"
    );
}

#[test]
fn retries_get_the_same_token_and_only_a_two_generations_old_one_revokes_the_family() {
    let s = Server::new();
    let (access, rt1) = s.link();
    let refresh = |rt: &str| {
        s.token(
            &format!("grant_type=refresh_token&refresh_token={rt}"),
            true,
        )
    };
    let next = |rt: &str| {
        let (status, t) = refresh(rt);
        assert_eq!(status, 200, "{t}");
        t["refresh_token"].as_str().unwrap().to_owned()
    };
    let rt2 = next(&rt1);
    // Lost answers: every retry with rt1 gets rt2 again, so whichever answer the
    // client kept works.
    assert_eq!(next(&rt1), rt2);
    assert_eq!(next(&rt1), rt2);
    // The client uses rt2: now rt1 is two generations old...
    let rt3 = next(&rt2);
    // ...and rt2 is the previous one: a retry with it gets rt3 again.
    assert_eq!(next(&rt2), rt3);
    // rt1 comes back after its successor's successor exists: the family is revoked.
    let (status, e) = refresh(&rt1);
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    assert!(e["error_description"].as_str().unwrap().contains("revoked"));
    assert_eq!(
        refresh(&rt3).0,
        400,
        "the newest token of the family is dead too"
    );
    let r = s.send(
        Request::new(Method::Get, "/userinfo")
            .with_header("authorization", &format!("Bearer {access}")),
    );
    assert_eq!(r.status, 401, "and so are its access tokens");
}

#[test]
fn tokens_of_one_client_do_not_work_for_another() {
    let s = Server::new();
    let (access, rt) = s.link();
    let (status, body) = s.client_post(
        "/token",
        &format!("grant_type=refresh_token&refresh_token={rt}"),
        "machine",
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = s.client_post("/introspect", &format!("token={access}"), "machine");
    assert_eq!((status, body.as_str()), (200, r#"{"active":false}"#));
}

#[test]
fn failed_logins_lock_the_username_then_unlock() {
    let s = Server::new();
    let q = auth_query(LAYLA, "");
    for i in 1..5 {
        assert_eq!(
            s.login(&q, "alice", "wrong", "login").status,
            401,
            "try {i}"
        );
    }
    let r = s.login(&q, "alice", "wrong", "login");
    assert_eq!(r.status, 429);
    assert_eq!(r.get_header("retry-after"), Some("300"));
    assert!(r.body_text().contains("Too many failed sign-ins"));
    // Locked: even the right password waits, with no password check at all.
    let r = s.login(&q, "alice", "correct horse", "login");
    assert_eq!(r.status, 429);
    assert!(r.get_header("location").is_none());
    s.now.set(T0 + 300);
    assert_eq!(s.login(&q, "alice", "correct horse", "login").status, 302);
}

#[test]
fn failed_logins_from_one_address_lock_it_for_every_username() {
    let s = Server::new();
    let q = auth_query(LAYLA, "");
    for i in 0..19 {
        // A different username each time: only the address limit adds up.
        assert_eq!(
            s.login(&q, &format!("user{i}"), "wrong", "login").status,
            401
        );
    }
    assert_eq!(s.login(&q, "user19", "wrong", "login").status, 429);
    assert_eq!(s.login(&q, "alice", "correct horse", "login").status, 429);
}

#[test]
fn failed_client_authentications_from_one_address_get_429_but_never_lock_the_client() {
    let s = Server::new();
    let bad = |ip: &str| {
        s.send(
            Request::new(Method::Post, "/token")
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_header("cf-connecting-ip", ip)
                .with_body("grant_type=client_credentials&client_id=alexa&client_secret=wrong"),
        )
    };
    for _ in 1..10 {
        assert_eq!(bad("203.0.113.9").status, 401);
    }
    let r = bad("203.0.113.9");
    assert_eq!(r.status, 429);
    assert_eq!(r.get_header("retry-after"), Some("300"));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["error"], "invalid_client");
    // Alexa, from another address, still refreshes: the client itself is never locked.
    let (_, rt) = s.link();
    let (status, _) = s.token(
        &format!("grant_type=refresh_token&refresh_token={rt}"),
        false,
    );
    assert_eq!(status, 200);
}
