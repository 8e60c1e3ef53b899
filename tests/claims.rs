//! A user's identities and own claims, natively on both grant stores: they
//! ride in each access token and come back at `/userinfo`; `admin user
//! update`'s rewrite of the grants ([`Profile`]) reaches the tokens issued
//! after it, and changes nothing a refresh depends on.

use std::collections::BTreeMap;

use alexa_oauth::claims::UserClaims;
use alexa_oauth::config::Config;
use alexa_oauth::crypto::b64url_decode;
use alexa_oauth::grant::GrantStore;
use alexa_oauth::http::{Method, Request};
use alexa_oauth::store::{get_json, keys, GrantRecord, Profile, RefreshRotation, UserRecord};
use alexa_oauth::testing::*;
use alexa_oauth::types::GrantId;
use pollster::block_on;
use serde_json::{json, Value};

const ADMIN_TOKEN: &str = "an admin token of at least thirty-two bytes";

fn server() -> Server {
    Server::with_config(Config::from_vars(|k| match k {
        "SIGNING_KEY" => Some(KEY.to_owned()),
        "ADMIN_TOKEN" => Some(ADMIN_TOKEN.to_owned()),
        _ => None,
    }))
}

/// Sets alice's identities and own claims, as `admin user update` does.
fn set_user(s: &Server, identities: &[&str], claims: &[(&str, &str)]) -> UserRecord {
    let mut user: UserRecord = block_on(get_json(&s.store, &keys::user("alice")))
        .unwrap()
        .unwrap();
    user.identities = identities.iter().map(|i| (*i).to_owned()).collect();
    let map: BTreeMap<String, String> = claims
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    user.claims = UserClaims::from_map(&map);
    let text = serde_json::to_string(&user).unwrap();
    block_on(alexa_oauth::store::Store::put(
        &s.store,
        &keys::user("alice"),
        text,
        None,
    ))
    .unwrap();
    user
}

/// What `admin user update` does to one grant: directly in KV mode, through
/// `/admin/grants` in Durable Object mode (the objects cannot be reached
/// otherwise).
fn rewrite_grant(s: &Server, gid: &str, user: &UserRecord) {
    let profile = Profile::of(user);
    match &s.objects {
        None => {
            let found = block_on(s.store.update_profile(&GrantId::new(gid), &profile)).unwrap();
            assert!(found);
        }
        Some(_) => {
            let body = json!({ "profile": { "ids": [gid], "profile": profile } });
            let r = s.send(
                Request::new(Method::Post, "/admin/grants")
                    .with_header("authorization", &format!("Bearer {ADMIN_TOKEN}"))
                    .with_body(body.to_string()),
            );
            assert_eq!(r.status, 200, "{}", r.body_text());
            assert_eq!(
                serde_json::from_str::<Value>(r.body_text()).unwrap()["updated"],
                1
            );
        }
    }
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&b64url_decode(part).unwrap()).unwrap()
}

fn userinfo(s: &Server, token: &str) -> Value {
    let r = s.send(
        Request::new(Method::Get, "/userinfo")
            .with_header("authorization", &format!("Bearer {token}")),
    );
    assert_eq!(r.status, 200, "{}", r.body_text());
    serde_json::from_str(r.body_text()).unwrap()
}

fn access_of(answer: &Value) -> String {
    answer["access_token"].as_str().unwrap().to_owned()
}

fn tokens_and_userinfo_carry_identities_and_claims() {
    let s = server();
    set_user(
        &s,
        &["amazon:amzn1.account.X"],
        &[
            ("bridge_url", "https://bridge.example/a?b=\"c\""),
            ("tier", "gold"),
        ],
    );
    let (access, _) = s.link();
    let p = payload(&access);
    assert_eq!(p["bridge_url"], "https://bridge.example/a?b=\"c\"");
    assert_eq!(p["identities"], json!(["amazon:amzn1.account.X"]));
    assert_eq!(p["sub"], "user-1", "the protocol claims are untouched");
    assert_eq!(p["aud"], "alexa", "RFC 9068: the audience is the client");

    let info = userinfo(&s, &access);
    assert_eq!(
        info,
        json!({
            "sub": "user-1",
            "name": "Alice",
            "identities": ["amazon:amzn1.account.X"],
            "bridge_url": "https://bridge.example/a?b=\"c\"",
            "tier": "gold",
        })
    );
    // Introspection still works on the longer token.
    let (status, body) = s.client_post("/introspect", &format!("token={access}"), "alexa");
    assert_eq!(status, 200);
    let body = serde_json::from_str::<Value>(&body).unwrap();
    assert_eq!(
        (&body["active"], &body["aud"]),
        (&json!(true), &json!("alexa"))
    );
}

fn a_user_without_any_answers_as_before() {
    let s = server();
    let (access, _) = s.link();
    assert_eq!(
        userinfo(&s, &access),
        json!({ "sub": "user-1", "name": "Alice" })
    );
    let p = payload(&access);
    assert!(p.get("identities").is_none());
}

fn an_update_reaches_the_next_token_and_keeps_the_link_working() {
    for rotation in [RefreshRotation::Never, RefreshRotation::Always] {
        let s = server();
        s.set_rotation(rotation);
        set_user(&s, &[], &[("bridge_url", "https://old.example")]);
        let (access, refresh) = s.link();
        let gid = refresh.split('.').next().unwrap().to_owned();
        assert_eq!(userinfo(&s, &access)["bridge_url"], "https://old.example");

        // Renamed, a new value, an identity added.
        let mut user = set_user(&s, &["google:42"], &[("bridge_url", "https://new.example")]);
        user.display_name = "Alice B".into();
        rewrite_grant(&s, &gid, &user);

        // The token issued before keeps what it was signed with.
        assert_eq!(userinfo(&s, &access)["bridge_url"], "https://old.example");
        let (status, answer) = s.refresh(&refresh);
        assert_eq!(status, 200, "{rotation:?}: {answer}");
        let info = userinfo(&s, &access_of(&answer));
        assert_eq!(info["bridge_url"], "https://new.example", "{rotation:?}");
        assert_eq!(info["name"], "Alice B");
        assert_eq!(info["identities"], json!(["google:42"]));

        // The rewrite touched nothing a refresh depends on: the same refresh
        // token (never) or its successor (always) refreshes again.
        let next = answer["refresh_token"].as_str().unwrap().to_owned();
        let (status, body) = s.refresh(&next);
        assert_eq!(status, 200, "{rotation:?}: {body}");

        // A claim removed is gone from the next token.
        let user = set_user(&s, &[], &[]);
        rewrite_grant(&s, &gid, &user);
        let next = body["refresh_token"].as_str().unwrap().to_owned();
        let (_, answer) = s.refresh(&next);
        let info = userinfo(&s, &access_of(&answer));
        assert!(info.get("bridge_url").is_none(), "{info}");
        assert!(info.get("identities").is_none(), "{info}");
    }
}

fn an_unknown_grant_is_reported_not_created() {
    let s = server();
    let user = set_user(&s, &[], &[("a", "1")]);
    let gid = "AAAAAAAAAAAAAAAAAAAAAA";
    match &s.objects {
        None => {
            let found = block_on(
                s.store
                    .update_profile(&GrantId::new(gid), &Profile::of(&user)),
            );
            assert!(!found.unwrap());
        }
        Some(_) => {
            let body = json!({ "profile": { "ids": [gid], "profile": Profile::of(&user) } });
            let r = s.send(
                Request::new(Method::Post, "/admin/grants")
                    .with_header("authorization", &format!("Bearer {ADMIN_TOKEN}"))
                    .with_body(body.to_string()),
            );
            assert_eq!(r.body_text(), r#"{"updated":0}"#);
        }
    }
    assert!(!s.dump().iter().any(|(k, _)| k.starts_with("grant:")));
}

/// The grant record keeps a copy, so a refresh reads nothing more than
/// before (the grant and the client).
fn the_grant_holds_the_copy() {
    let s = server();
    set_user(&s, &["google:1"], &[("x_id", "7")]);
    let (_, refresh) = s.link();
    let gid = refresh.split('.').next().unwrap();
    let grant: GrantRecord = s
        .dump()
        .into_iter()
        .find(|(k, _)| *k == format!("grant:{gid}"))
        .map(|(_, v)| serde_json::from_str(&v).unwrap())
        .unwrap();
    let claims = grant.claims.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(claims.as_json()).unwrap(),
        json!({ "identities": ["google:1"], "x_id": "7" })
    );
}

/// Claims enter by `admin --claim`, by an import and by `/admin/grants`;
/// each refuses a name that a verifier acts on, or one given twice (a JSON
/// reader keeps the last of two `sub`s, so a spliced one would win).
fn claims_are_checked_wherever_they_enter() {
    use alexa_oauth::store::backup::{self, Mode};
    let s = server();
    set_user(&s, &[], &[("tier", "gold")]);
    let (_, refresh) = s.link();
    let gid = refresh.split('.').next().unwrap();
    let grant: Value = match &s.objects {
        None => s
            .dump()
            .into_iter()
            .find(|(k, _)| *k == format!("grant:{gid}"))
            .map(|(_, v)| serde_json::from_str(&v).unwrap())
            .unwrap(),
        Some(_) => {
            let body = json!({ "get": [gid] });
            let r = s.send(
                Request::new(Method::Post, "/admin/grants")
                    .with_header("authorization", &format!("Bearer {ADMIN_TOKEN}"))
                    .with_body(body.to_string()),
            );
            serde_json::from_str::<Value>(r.body_text()).unwrap()["grants"][0].clone()
        }
    };
    let alice = serde_json::to_value(set_user(&s, &[], &[("tier", "gold")])).unwrap();
    let file = |key: &str, value: &Value| {
        let line = json!({ "key": key, "value": value });
        format!("{}\n{line}", backup::header_line(Mode::Kv, T0, 1))
    };
    assert!(backup::parse(&file("user:alice", &alice)).is_ok());
    assert!(backup::parse(&file(&format!("grant:{gid}"), &grant)).is_ok());
    for bad in [
        r#"{"sub":"someone-else"}"#,
        r#"{"tier":"a","tier":"b"}"#,
        r#"{"client_id":"x"}"#,
    ] {
        let mut user = alice.clone();
        user["claims"] = json!(bad);
        let e = backup::parse(&file("user:alice", &user)).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let mut forged = grant.clone();
        forged["claims"] = json!(bad);
        assert!(
            backup::parse(&file(&format!("grant:{gid}"), &forged)).is_err(),
            "{bad}"
        );

        // The Durable Object route: a restore or a profile, refused whole.
        if s.objects.is_some() {
            for body in [
                json!({ "restore": [grant.clone(), forged.clone()] }),
                json!({ "profile": { "ids": [gid], "profile": { "display_name": "A", "claims": bad } } }),
            ] {
                let (r, writes) = s.writes_during(|| {
                    s.send(
                        Request::new(Method::Post, "/admin/grants")
                            .with_header("authorization", &format!("Bearer {ADMIN_TOKEN}"))
                            .with_body(body.to_string()),
                    )
                });
                assert_eq!(r.status, 400, "{bad}: {}", r.body_text());
                assert_eq!(writes, 0);
            }
        }
    }
    // The link is untouched: the next token carries the claims it had.
    let (status, answer) = s.refresh(&refresh);
    assert_eq!(status, 200, "{answer}");
    let p = payload(&access_of(&answer));
    assert_eq!(p["tier"], "gold");
    assert_eq!(p["sub"], "user-1");
}

alexa_oauth::on_both_stores!(
    claims_are_checked_wherever_they_enter,
    tokens_and_userinfo_carry_identities_and_claims,
    a_user_without_any_answers_as_before,
    an_update_reaches_the_next_token_and_keeps_the_link_working,
    an_unknown_grant_is_reported_not_created,
    the_grant_holds_the_copy,
);
