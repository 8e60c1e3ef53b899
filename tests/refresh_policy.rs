//! The refresh policy per client, natively on both grant stores: `never`
//! keeps the refresh token and writes nothing; `always` rotates, revokes a
//! reused token however deep, and still answers when its write fails. Grants
//! written by the previous version's rules keep working under either policy.

use alexa_oauth::crypto::token_hash;
use alexa_oauth::store::{get_json, keys, put_json, GrantRecord, RefreshRotation};
use alexa_oauth::testing::*;
use alexa_oauth::types::{ClientId, GrantId, ScopeSet, UserId};
use alexa_oauth::Config;
use pollster::block_on;
use serde_json::Value;

use RefreshRotation::{Always, Never};

fn refresh(s: &Server, token: &str) -> (u16, Value) {
    s.refresh(token)
}

/// A refresh that must succeed; its refresh token.
fn refreshed(s: &Server, token: &str) -> String {
    let (status, t) = refresh(s, token);
    assert_eq!(status, 200, "{t}");
    t["refresh_token"].as_str().unwrap().to_owned()
}

fn introspect_active(s: &Server, token: &str) -> bool {
    let (status, body) = s.client_post("/introspect", &format!("token={token}"), "alexa");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["active"] == true
}

fn never_keeps_the_token_and_writes_nothing() {
    let s = Server::without_client_cache();
    s.set_rotation(Never);
    let (_, rt) = s.link();
    let before = s.dump();
    let (tokens, writes) = s.writes_during(|| {
        (0..50)
            .map(|i| {
                s.now.set(T0 + 3600 * i);
                refreshed(&s, &rt)
            })
            .collect::<Vec<_>>()
    });
    assert!(tokens.iter().all(|t| *t == rt), "the same token every time");
    assert_eq!(writes, 0, "50 refreshes write nothing");
    assert_eq!(s.dump(), before, "nothing rewritten");
    // What a refresh reads: the client (here uncached), the grant and its
    // tombstone (one bulk read in the Worker, billed per key); in Durable
    // Object mode the KV tombstone, then the grant and the object's own
    // tombstone in the grant's object.
    let (reads, _) = s.operations();
    assert_eq!(refreshed(&s, &rt), rt);
    let expected = if s.objects.is_some() { 4 } else { 3 };
    assert_eq!(s.operations().0 - reads, expected);
}

fn never_still_checks_revocation_client_and_removal() {
    let s = Server::without_client_cache();
    s.set_rotation(Never);
    let (_, rt) = s.link();
    // Another client presenting the token.
    let (status, _) = s.client_post(
        "/token",
        &format!("grant_type=refresh_token&refresh_token={rt}"),
        "machine",
    );
    assert_eq!(status, 400);
    // A token of this grant that matches nothing: refused, and (under never)
    // not a reason to revoke.
    let gid = rt.split('.').next().unwrap();
    let forged = format!("{gid}.{}", "A".repeat(43));
    let (status, e) = refresh(&s, &forged);
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(refreshed(&s, &rt), rt);
    // The client removed and added again: its older grants never come back.
    s.edit_client("alexa", |c| c.grants_since = Some(T0 + 1));
    assert_eq!(refresh(&s, &rt).0, 400);
    assert!(
        !introspect_active(&s, &rt),
        "introspection agrees with /token"
    );
    s.edit_client("alexa", |c| c.grants_since = None);
    assert!(introspect_active(&s, &rt));
    // Revoked.
    let (status, _) = s.client_post("/revoke", &format!("token={rt}"), "alexa");
    assert_eq!(status, 200);
    let (status, e) = refresh(&s, &rt);
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
}

/// The grant of a refresh token, as stored.
fn grant_of(s: &Server, rt: &str) -> GrantRecord {
    let gid = GrantId::new(rt.split('.').next().unwrap());
    let grant = match &s.objects {
        None => block_on(get_json(&s.store, &keys::grant(&gid))),
        Some(objects) => {
            let object = objects.0.borrow().get(gid.as_str()).unwrap().clone();
            block_on(get_json(&*object, &keys::grant(&gid)))
        }
    };
    grant.unwrap().unwrap()
}

fn with_ttl(ttl: u64) -> Server {
    let server = Server::with_config(Config::from_vars(|k| match k {
        "SIGNING_KEY" => Some(KEY.to_owned()),
        "REFRESH_TOKEN_TTL" => Some(ttl.to_string()),
        _ => None,
    }));
    server.set_rotation(Never);
    server
}

fn never_with_a_ttl_records_the_last_use_at_most_once_a_day() {
    const DAY: u64 = 86_400;
    let s = with_ttl(30 * DAY);
    let (_, rt) = s.link();
    // Hourly for three days: one write a day.
    let (_, writes) = s.writes_during(|| {
        for hour in 1..=72 {
            s.now.set(T0 + hour * 3600);
            assert_eq!(refreshed(&s, &rt), rt);
        }
    });
    assert_eq!(writes, 3, "one write per day of use");
    assert_eq!(grant_of(&s, &rt).refreshed_at, T0 + 72 * 3600);
    // Idle: still usable the full TTL after the last use, and not long after.
    let last = T0 + 72 * 3600;
    s.now.set(last + 30 * DAY - 1);
    assert_eq!(refreshed(&s, &rt), rt);
    s.now.set(last + 30 * DAY - 1 + 31 * DAY + DAY);
    assert_eq!(refresh(&s, &rt).0, 400, "expired after the TTL of disuse");
    // A failed write of the last use does not fail the refresh.
    let s = with_ttl(30 * DAY);
    let (_, rt) = s.link();
    s.now.set(T0 + 2 * DAY);
    s.store.fail_writes(true);
    if let Some(objects) = &s.objects {
        for store in objects.0.borrow().values() {
            store.fail_writes(true);
        }
    }
    assert_eq!(refreshed(&s, &rt), rt);
}

/// Refreshes `rt` forward `n` times; the last token.
fn forward(s: &Server, rt: &str, n: usize) -> String {
    (0..n).fold(rt.to_owned(), |t, _| refreshed(s, &t))
}

fn always_revokes_a_reused_token_whatever_its_depth() {
    for depth in [2, 10, 40] {
        let s = Server::without_client_cache();
        s.set_rotation(Always);
        let (_, holder) = s.link();
        // A leaked copy refreshed forward `depth` times.
        let thief = forward(&s, &holder, depth);
        let (status, e) = refresh(&s, &holder);
        assert_eq!(
            (status, e["error"].as_str()),
            (400, Some("invalid_grant")),
            "depth {depth}"
        );
        assert!(
            e["error_description"].as_str().unwrap().contains("revoked"),
            "depth {depth}: {e}"
        );
        assert_eq!(refresh(&s, &thief).0, 400, "depth {depth}: both chains end");
    }
}

fn always_answers_when_the_grant_write_fails() {
    let s = Server::without_client_cache();
    s.set_rotation(Always);
    let (_, rt) = s.link();
    let fail = |on: bool| {
        s.store.fail_writes(on);
        if let Some(objects) = &s.objects {
            for store in objects.0.borrow().values() {
                store.fail_writes(on);
            }
        }
    };
    // A day past the write quota, refreshed hourly: every refresh answers,
    // and the chain never leaves the window the stored token accepts.
    fail(true);
    let mut t = rt.clone();
    for hour in 1..=30 {
        s.now.set(T0 + hour * 3600);
        t = refreshed(&s, &t);
    }
    fail(false);
    let next = refreshed(&s, &t);
    assert_ne!(next, t, "rotates again once writes work");
    assert_eq!(refreshed(&s, &next), refreshed(&s, &next), "and goes on");
}

fn a_client_switched_to_always_rotates_and_back_to_never_keeps() {
    let s = Server::without_client_cache();
    s.set_rotation(Never);
    let (_, rt) = s.link();
    assert_eq!(refreshed(&s, &rt), rt);
    s.set_rotation(Always);
    let rt2 = refreshed(&s, &rt);
    assert_ne!(rt2, rt);
    assert_eq!(refreshed(&s, &rt), rt2, "the previous one is a retry");
    s.set_rotation(Never);
    let (kept, writes) = s.writes_during(|| (refreshed(&s, &rt2), refreshed(&s, &rt)));
    assert_eq!(
        kept,
        (rt2.clone(), rt2),
        "current kept, previous gives current"
    );
    assert_eq!(writes, 0);
}

/// A grant as the version before derived refresh tokens wrote it: a random
/// current token and a random previous one.
fn grant_from_before_derived_tokens(s: &Server) -> (String, String) {
    let gid = "QUJDREVGR0hJSktMTU5PUA";
    let (previous, current) = (
        format!("{gid}.{}", "p".repeat(43)),
        format!("{gid}.{}", "c".repeat(43)),
    );
    let grant = GrantRecord {
        id: GrantId::new(gid),
        client_id: ClientId::new("alexa"),
        user_id: UserId::new("user-1"),
        display_name: "Alice".into(),
        claims: None,
        scope: ScopeSet::parse("smart_home").unwrap(),
        created_at: T0,
        refresh_hash: token_hash(&current),
        previous_refresh_hash: Some(token_hash(&previous)),
        refreshed_at: T0,
        retired_refresh_hashes: vec![],
        revoked_at: None,
        client_generation: 0,
    };
    match &s.objects {
        None => block_on(put_json(&s.store, &keys::grant(&grant.id), &grant, None)).unwrap(),
        Some(objects) => {
            let object = std::rc::Rc::new(alexa_oauth::store::MemoryStore::default());
            block_on(put_json(&*object, &keys::grant(&grant.id), &grant, None)).unwrap();
            objects.0.borrow_mut().insert(gid.to_owned(), object);
        }
    }
    (previous, current)
}

fn grants_from_the_previous_version_keep_working_under_either_policy() {
    for rotation in [Never, Always] {
        let s = Server::without_client_cache();
        s.set_rotation(rotation);
        let (previous, current) = grant_from_before_derived_tokens(&s);
        // The retry with the previous token, refused before this version.
        let after_retry = refreshed(&s, &previous);
        let next = refreshed(&s, &after_retry);
        match rotation {
            Never => assert_eq!((&after_retry, &next), (&previous, &previous)),
            Always => assert_ne!(next, after_retry, "rotates from it"),
        }
        assert_eq!(
            refreshed(&s, &after_retry),
            next,
            "{rotation:?}: retry again"
        );
        let _ = current;
    }
    // The current one, under either policy.
    for rotation in [Never, Always] {
        let s = Server::without_client_cache();
        s.set_rotation(rotation);
        let (_, current) = grant_from_before_derived_tokens(&s);
        let next = refreshed(&s, &current);
        assert_eq!(next == current, rotation == Never, "{rotation:?}");
        assert_eq!(refreshed(&s, &next), refreshed(&s, &next));
    }
}

/// The writes of a link, as `docs/cost.md` states them.
fn a_link_makes_the_writes_the_docs_state() {
    let s = Server::without_client_cache();
    s.set_rotation(Never);
    // The user's and the client's index entries go with the grant in KV
    // mode, and with the code (before it exists) in Durable Object mode.
    let index = |kv: bool| if kv { 0 } else { 2 };
    let durable = s.objects.is_some();
    let (code, code_writes) = s.writes_during(|| s.code(""));
    assert_eq!(code_writes, 1 + index(!durable), "the code");
    let ((status, t), exchange_writes) = s.writes_during(|| s.token(&exchange(&code), false));
    assert_eq!(status, 200, "{t}");
    // The grant, the spent code.
    assert_eq!(exchange_writes, 2 + index(durable));
}

fn access_token_ttl_is_configurable_within_amazons_range() {
    let with = |ttl: &str| {
        let ttl = ttl.to_owned();
        Server::with_config(Config::from_vars(move |k| match k {
            "SIGNING_KEY" => Some(KEY.to_owned()),
            "ACCESS_TOKEN_TTL" => Some(ttl.clone()),
            _ => None,
        }))
    };
    let s = with("7200");
    let code = s.code("");
    let (_, t) = s.token(&exchange(&code), false);
    assert_eq!(t["expires_in"], 7200);
    for bad in ["359", "86401", "1h", "-1"] {
        let c = Config::from_vars(|k| match k {
            "SIGNING_KEY" => Some(KEY.to_owned()),
            "ACCESS_TOKEN_TTL" => Some(bad.to_owned()),
            _ => None,
        });
        assert_eq!(c.access_token_ttl, 3600, "{bad}");
        assert!(c.access_token_ttl_error.is_some(), "{bad}");
    }
    let c = Config::from_vars(|k| (k == "SIGNING_KEY").then(|| KEY.to_owned()));
    assert_eq!((c.access_token_ttl, c.access_token_ttl_error), (3600, None));
}

/// The log line of a refresh and of `/userinfo` names the grant and the user
/// (identifiers, never the tokens): the trail of one link.
fn log_lines_name_the_grant_and_the_user() {
    use alexa_oauth::http::{Method, Request};
    let s = Server::without_client_cache();
    let (access, rt) = s.link();
    let gid = rt.split('.').next().unwrap();
    let r = s.send(
        Request::new(Method::Post, "/token")
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body(format!(
                "grant_type=refresh_token&refresh_token={rt}&client_id=alexa&client_secret={SECRET}"
            )),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        (r.log.grant_id.as_deref(), r.log.sub.as_deref()),
        (Some(gid), Some("user-1"))
    );
    let u = s.userinfo(&access);
    assert_eq!(
        (u.log.grant_id.as_deref(), u.log.sub.as_deref()),
        (Some(gid), Some("user-1"))
    );
}

alexa_oauth::on_both_stores!(
    log_lines_name_the_grant_and_the_user,
    never_keeps_the_token_and_writes_nothing,
    never_still_checks_revocation_client_and_removal,
    never_with_a_ttl_records_the_last_use_at_most_once_a_day,
    always_revokes_a_reused_token_whatever_its_depth,
    always_answers_when_the_grant_write_fails,
    a_client_switched_to_always_rotates_and_back_to_never_keeps,
    grants_from_the_previous_version_keep_working_under_either_policy,
    a_link_makes_the_writes_the_docs_state,
    access_token_ttl_is_configurable_within_amazons_range,
);
