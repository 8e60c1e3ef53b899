//! Export and import, natively: the file format's checks, the Durable Object
//! mode's `/admin/grants` route, and a link carried from one grant mode to the
//! other, after which Alexa's refresh token still refreshes and `/userinfo`
//! names the same `sub`. (`admin export` and `admin import` themselves are run
//! under `wrangler dev` by `tests/e2e/export.test.mjs`.)

use alexa_oauth::config::Config;
use alexa_oauth::http::{Method, Request};
use alexa_oauth::store::backup::{self, Entry, Kind, Mode};
use alexa_oauth::store::{GrantRecord, Store};
use alexa_oauth::testing::*;
use pollster::block_on;
use serde_json::{json, Value};

const ADMIN_TOKEN: &str = "an admin token of at least thirty-two bytes";

fn server(mode: StoreMode) -> Server {
    let mut s = Server::with_config(Config::from_vars(|k| match k {
        "SIGNING_KEY" => Some(KEY.to_owned()),
        "ADMIN_TOKEN" => Some(ADMIN_TOKEN.to_owned()),
        _ => None,
    }));
    s.objects = (mode == StoreMode::Objects).then(|| LocalObjects::new(&s.config));
    s.config.durable_grants = mode == StoreMode::Objects;
    s
}

fn admin_call(s: &Server, token: &str, body: &Value) -> (u16, Value) {
    let r = s.send(
        Request::new(Method::Post, "/admin/grants")
            .with_header("authorization", &format!("Bearer {token}"))
            .with_body(body.to_string()),
    );
    let body = serde_json::from_str(r.body_text()).unwrap_or(Value::Null);
    (r.status, body)
}

/// What `admin export` does: every KV record but codes, and in Durable
/// Object mode each indexed grant through the route.
fn export(s: &Server, mode: Mode) -> String {
    let mut entries: Vec<Entry> = s
        .store
        .dump()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("code:"))
        .map(|(k, v)| Entry::from_stored(k, &v, None).unwrap())
        .collect();
    if mode == Mode::Do {
        let ids: Vec<String> = entries
            .iter()
            .filter_map(|e| e.key.strip_prefix("usergrant:"))
            .map(|k| k.rsplit(':').next().unwrap().to_owned())
            .collect();
        let (status, found) = admin_call(s, ADMIN_TOKEN, &json!({ "get": ids }));
        assert_eq!(status, 200, "{found}");
        for g in found["grants"].as_array().unwrap() {
            let id = g["id"].as_str().unwrap();
            entries.push(Entry::from_stored(format!("grant:{id}"), &g.to_string(), None).unwrap());
        }
    }
    let mut out = vec![backup::header_line(mode, T0, entries.len())];
    out.extend(entries.iter().map(backup::entry_line));
    out.join("\n")
}

/// What `admin import` does into an empty namespace.
fn import(s: &Server, mode: Mode, file: &str) {
    let (_, entries) = backup::parse(file).unwrap();
    let mut grants = Vec::new();
    for (kind, entry) in entries {
        if kind == Kind::Grant && mode == Mode::Do {
            grants.push(entry.value);
        } else {
            block_on(s.store.put(&entry.key, entry.stored_text(), None)).unwrap();
        }
    }
    if !grants.is_empty() {
        let (status, body) = admin_call(s, ADMIN_TOKEN, &json!({ "restore": grants }));
        assert_eq!(status, 200, "{body}");
    }
}

fn sub_of(s: &Server, access: &str) -> String {
    let r = s.userinfo(access);
    assert_eq!(r.status, 200, "{}", r.body_text());
    serde_json::from_str::<Value>(r.body_text()).unwrap()["sub"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_link_survives_export_and_import_into_either_mode() {
    for (from, to) in [
        (StoreMode::Kv, StoreMode::Kv),
        (StoreMode::Kv, StoreMode::Objects),
        (StoreMode::Objects, StoreMode::Kv),
        (StoreMode::Objects, StoreMode::Objects),
    ] {
        let mode = |m| {
            if m == StoreMode::Kv {
                Mode::Kv
            } else {
                Mode::Do
            }
        };
        let a = server(from);
        let (access, refresh) = a.link();
        let sub = sub_of(&a, &access);
        // One more rotation, so the grant holds a previous token too.
        let (status, rotated) = a.refresh(&refresh);
        assert_eq!(status, 200, "{rotated}");
        let refresh = rotated["refresh_token"].as_str().unwrap().to_owned();
        // A second link, revoked: it must stay revoked after the move.
        let (_, revoked_rt) = a.link();
        let (status, _) = a.client_post("/revoke", &format!("token={revoked_rt}"), "alexa");
        assert_eq!(status, 200);

        let file = export(&a, mode(from));
        let b = server(to);
        // The fixture's own client and user are what the file restores.
        import(&b, mode(to), &file);
        let (status, t) = b.refresh(&refresh);
        assert_eq!(status, 200, "{from:?} -> {to:?}: {t}");
        assert_eq!(
            sub_of(&b, t["access_token"].as_str().unwrap()),
            sub,
            "{from:?} -> {to:?}"
        );
        let (status, _) = b.refresh(&revoked_rt);
        assert_eq!(
            status, 400,
            "{from:?} -> {to:?}: the revoked link stays ended"
        );
        let counts = backup::counts(&backup::parse(&file).unwrap().1);
        assert_eq!((counts.grants_live, counts.grants_revoked), (1, 1));
        assert_eq!((counts.users, counts.clients), (1, 2));
    }
}

#[test]
fn a_revocation_made_inside_a_grant_object_travels_on_the_record() {
    let a = server(StoreMode::Objects);
    let code = a.code("");
    let (status, _) = a.token(&exchange(&code), false);
    assert_eq!(status, 200);
    // A replayed code: the object revokes the grant in its own storage.
    let (status, _) = a.token(&exchange(&code), false);
    assert_eq!(status, 400);
    let file = export(&a, Mode::Do);
    let (_, entries) = backup::parse(&file).unwrap();
    let grant = entries.iter().find(|(k, _)| *k == Kind::Grant).unwrap();
    let record: GrantRecord = serde_json::from_value(grant.1.value.clone()).unwrap();
    assert!(record.revoked_at.is_some());
}

#[test]
fn the_route_is_off_without_its_token_and_then_reads_and_writes_nothing() {
    let off = Server::new();
    let (status, _) = admin_call(&off, ADMIN_TOKEN, &json!({ "get": [] }));
    assert_eq!(status, 404, "no ADMIN_TOKEN: no route");
    let short = Server::with_config(Config::from_vars(|k| match k {
        "SIGNING_KEY" => Some(KEY.to_owned()),
        "ADMIN_TOKEN" => Some("too short".to_owned()),
        _ => None,
    }));
    let (status, _) = admin_call(&short, "too short", &json!({ "get": [] }));
    assert_eq!(status, 404, "a short ADMIN_TOKEN turns nothing on");

    let s = server(StoreMode::Objects);
    let (_, refresh) = s.link();
    let gid = refresh.split('.').next().unwrap();
    let before = s.operations();
    for token in ["", "wrong", &ADMIN_TOKEN[1..], &format!("{ADMIN_TOKEN}x")] {
        let (status, _) = admin_call(&s, token, &json!({ "get": [gid] }));
        assert_eq!(status, 404, "{token:?}");
    }
    assert_eq!(
        s.operations(),
        before,
        "a refused call reads and writes nothing"
    );
    let (status, body) = admin_call(&s, ADMIN_TOKEN, &json!({ "get": [gid] }));
    assert_eq!((status, body["grants"][0]["id"].as_str()), (200, Some(gid)));

    let too_many: Vec<&str> = vec![gid; alexa_oauth::grant::durable::GRANTS_PER_CALL + 1];
    let (status, _) = admin_call(&s, ADMIN_TOKEN, &json!({ "get": too_many }));
    assert_eq!(status, 400);
    let (status, _) = admin_call(&s, ADMIN_TOKEN, &json!({ "delete": [gid] }));
    assert_eq!(status, 400);
}

#[test]
fn a_damaged_file_is_refused_with_its_line_number() {
    let s = server(StoreMode::Kv);
    s.link();
    let file = export(&s, Mode::Kv);
    let lines: Vec<&str> = file.lines().collect();
    assert!(backup::parse(&file).is_ok());

    let with = |n: usize, line: &str| {
        let mut l = lines.clone();
        l[n - 1] = line;
        backup::parse(&l.join("\n")).unwrap_err()
    };
    let e = with(3, "{\"key\": \"user:alice\", \"value\": ");
    assert_eq!(e.line, 3, "{e}");
    let e = with(2, r#"{"key":"code:abc","value":{}}"#);
    assert!(e.message.contains("unknown key"), "{e}");
    let e = with(
        2,
        r#"{"key":"user:bob","value":{"id":"x","username":"alice","display_name":"A","created_at":1}}"#,
    );
    assert!(e.message.contains("the key says \"bob\""), "{e}");
    let e = with(
        1,
        r#"{"format":"something-else","version":1,"mode":"kv","exported_at":1,"records":0}"#,
    );
    assert_eq!(e.line, 1, "{e}");
    let e = with(1, lines[1]);
    assert_eq!(e.line, 1, "{e}");
    // A line lost from the end is seen through the header's count.
    let cut = lines[..lines.len() - 1].join("\n");
    let e = backup::parse(&cut).unwrap_err();
    assert!(e.message.contains("cut off"), "{e}");
    // The same key twice.
    let mut twice = lines.clone();
    twice.push(lines[1]);
    let header = backup::header_line(Mode::Kv, T0, lines.len());
    twice[0] = &header;
    let e = backup::parse(&twice.join("\n")).unwrap_err();
    assert!(e.message.contains("twice"), "{e}");
}

#[test]
fn an_import_over_a_namespace_in_use_says_what_it_would_undo() {
    use alexa_oauth::store::{keys, UserRecord, UserRemoval};
    let s = server(StoreMode::Kv);
    s.allow_identity("alice", "google:1");
    let file = export(&s, Mode::Kv);
    let (_, entries) = backup::parse(&file).unwrap();
    let state = |s: &Server| {
        let dump = s.store.dump();
        let existing = dump.iter().map(|(k, _)| k.clone()).collect();
        let users = dump
            .into_iter()
            .filter(|(k, _)| k.starts_with("user:"))
            .collect();
        (existing, users)
    };
    let (existing, users) = state(&s);
    assert!(
        backup::brought_back(&entries, &existing, &users).is_empty(),
        "nothing changed"
    );

    // Since the export: a new password, the identity taken off.
    let mut alice: UserRecord =
        block_on(alexa_oauth::store::get_json(&s.store, &keys::user("alice")))
            .unwrap()
            .unwrap();
    alice.password_hash = Some("pbkdf2-sha256$100000$c2FsdA$aGFzaA".into());
    alice.identities.clear();
    block_on(alexa_oauth::store::put_json(
        &s.store,
        &keys::user("alice"),
        &alice,
        None,
    ))
    .unwrap();
    block_on(s.store.delete("identity:google:1")).unwrap();
    let (existing, users) = state(&s);
    let said = backup::brought_back(&entries, &existing, &users);
    assert_eq!(
        said,
        [
            "identity google:1, removed since, signs in again",
            "user alice: the password from the export replaces the one set since",
            "user alice: identity google:1, removed since, comes back",
        ],
        "{said:?}"
    );

    // Then removed: the import would bring the user back.
    block_on(s.store.delete(&keys::user("alice"))).unwrap();
    let removal = UserRemoval { removed_at: T0 };
    block_on(alexa_oauth::store::put_json(
        &s.store,
        &keys::user_removed(&alice.id),
        &removal,
        None,
    ))
    .unwrap();
    let (existing, users) = state(&s);
    let said = backup::brought_back(&entries, &existing, &users);
    assert!(
        said.contains(&"user alice, removed since, comes back".to_owned()),
        "{said:?}"
    );
}
