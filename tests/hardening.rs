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
        let (status, _) = s.refresh(rt);
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
        let (status, first) = s.refresh(&rt);
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
        let (status, next) = s.refresh(&rt);
        assert_eq!(status, 200, "fault at step {step}: {next}");
        let rt2 = next["refresh_token"].as_str().unwrap();
        let (status, _) = s.refresh(rt2);
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
fn one_address_gets_five_tries_a_minute_at_one_username() {
    let s = Server::new();
    let q = auth_query(LAYLA, "");
    let here = Browser::at("203.0.113.1");
    for i in 1..=5 {
        let r = s.login_from(&q, "alice", "wrong", "login", &here);
        assert_eq!(r.status, 401, "try {i}");
    }
    let r = s.login_from(&q, "alice", "correct horse", "login", &here);
    assert_eq!(r.status, 429, "even the right password waits, unchecked");
    assert_eq!(r.get_header("retry-after"), Some("60"));
    assert!(r.body_text().contains("Too many failed sign-ins"));
    assert!(r.get_header("location").is_none());
    // Another address is not affected, and the minute passes.
    let elsewhere = Browser::at("198.51.100.2");
    let r = s.login_from(&q, "alice", "correct horse", "login", &elsewhere);
    assert_eq!(r.status, 303);
    s.now.set(T0 + 60);
    let r = s.login_from(&q, "alice", "correct horse", "login", &here);
    assert_eq!(r.status, 303);
}

#[test]
fn one_address_gets_twenty_tries_a_minute_at_any_usernames() {
    let s = Server::new_fast();
    let q = auth_query(LAYLA, "");
    let here = Browser::at("2001:db8:1:2::1");
    for i in 0..20 {
        let r = s.login_from(&q, &format!("user{i}"), "wrong", "login", &here);
        assert_eq!(r.status, 401, "try {i}");
    }
    // Another address in the same /64 is the same address.
    let neighbour = Browser::at("2001:db8:1:2:ffff::9");
    let r = s.login_from(&q, "user20", "wrong", "login", &neighbour);
    assert_eq!(r.status, 429);
}

#[test]
fn a_distributed_attack_does_not_keep_a_known_browser_out_and_a_slow_one_locks_nothing() {
    let s = Server::new();
    let q = auth_query(LAYLA, "");
    // The owner linked from this browser once: it holds a device cookie.
    let phone = Browser::at("198.51.100.7");
    let r = s.login_from(&q, "alice", "correct horse", "login", &phone);
    assert_eq!(r.status, 303);
    let device = r
        .get_header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    let phone = Browser {
        cookie: Some(device.to_owned()),
        ..phone
    };
    // A minute later, thirty tries from many addresses lock the username...
    s.now.set(T0 + 60);
    for i in 0..30 {
        let bot = Browser::at(&format!("203.0.113.{}", 1 + i / 5));
        assert_eq!(
            s.login_from(&q, "alice", "wrong", "login", &bot).status,
            401
        );
    }
    let new_phone = Browser::at("198.51.100.8");
    let r = s.login_from(&q, "alice", "correct horse", "login", &new_phone);
    assert_eq!(r.status, 429, "a new browser waits out the attack");
    // ...but not for the browser that signed in as alice before.
    let r = s.login_from(&q, "alice", "correct horse", "login", &phone);
    assert_eq!(r.status, 303, "{}", r.body_text());

    // One wrong try a minute, for an hour, locks nothing.
    let slow = Browser::at("192.0.2.1");
    for minute in 2..=62 {
        s.now.set(T0 + 60 * minute);
        assert_eq!(
            s.login_from(&q, "alice", "wrong", "login", &slow).status,
            401
        );
    }
    let r = s.login_from(&q, "alice", "correct horse", "login", &new_phone);
    assert_eq!(r.status, 303);
}

#[test]
fn failed_tries_cost_no_storage_write_and_a_limiter_that_cannot_count_refuses() {
    let s = Server::new_fast();
    let q = auth_query(LAYLA, "");
    let before = s.store.dump();
    for _ in 0..8 {
        s.login(&q, "alice", "wrong", "login");
        s.client_post("/token", "grant_type=client_credentials", "nobody");
    }
    assert_eq!(s.store.dump(), before, "no KV write for a failure");
    s.limiter.broken.set(true);
    let r = s.login(&q, "alice", "wrong", "login");
    assert_eq!(r.status, 503, "not let through uncounted");
    let (status, body) = s.client_post("/token", "grant_type=client_credentials", "nobody");
    assert_eq!(status, 503, "{body}");
    // A right secret never needs the counter.
    let (status, body) = s.client_post("/token", "grant_type=client_credentials", "machine");
    assert_eq!(status, 200, "{body}");
}

#[test]
fn failed_client_authentications_from_one_address_get_429_but_a_right_secret_passes() {
    let s = Server::new();
    let post = |ip: &str, secret: &str| {
        s.send(
            Request::new(Method::Post, "/token")
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_header("cf-connecting-ip", ip)
                .with_body(format!(
                    "grant_type=client_credentials&client_id=machine&client_secret={secret}"
                )),
        )
    };
    // Someone's own skill, pointed at us with a wrong secret, from Amazon's address.
    for _ in 0..10 {
        assert_eq!(post("203.0.113.9", "wrong").status, 401);
    }
    let r = post("203.0.113.9", "wrong");
    assert_eq!(r.status, 429);
    assert_eq!(r.get_header("retry-after"), Some("60"));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["error"], "invalid_client");
    // The real client, from the same address, still gets through.
    let r = post("203.0.113.9", SECRET);
    assert_eq!(r.status, 200, "{}", r.body_text());
}
