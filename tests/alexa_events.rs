//! Alexa's side of the link, natively on both grant stores, against the
//! stand-in LWA and gateways: AcceptGrant keeps the event tokens with one
//! write, events go to the region recorded there with no write, a gateway
//! 401 gets one fresh token, LWA refusing the refresh token forgets the
//! tokens, every refusal writes nothing, and ending a link forgets them.

use alexa_oauth::grant::remove_user;
use alexa_oauth::store::{keys, Records, Store};
use alexa_oauth::testing::*;
use alexa_oauth::types::{ClientId, UserId};
use pollster::block_on;
use serde_json::{json, Value};

const SUB: &str = "user-1";

fn record_key() -> String {
    keys::alexa_events(&UserId::new(SUB), &ClientId::new("alexa"))
}

fn stored(s: &Server) -> Option<String> {
    block_on(s.store.get(&record_key())).unwrap()
}

fn error(v: &Value) -> Option<&str> {
    v["error"].as_str()
}

/// A linked, accepted user: (access token, refresh token).
fn accepted(s: &Server, region: &str) -> (String, String) {
    let (at, rt) = s.link();
    let ((status, body), writes) = s.writes_during(|| s.accept_grant(&at, region));
    assert_eq!((status, &body), (200, &json!({"accepted": true})));
    assert_eq!(writes, 1, "AcceptGrant writes the record, once");
    (at, rt)
}

fn accept_grant_then_events_go_to_the_region_with_no_write() {
    let s = Server::with_alexa_events();
    let (at, _) = accepted(&s, "EU");
    let record = stored(&s).unwrap();
    assert!(!record.contains(EVENTS_CLIENT_SECRET));
    let ((status, _), writes) = s.writes_during(|| s.send_change_report(SUB));
    assert_eq!((status, writes), (202, 0));
    let amazon = &s.outbound.amazon;
    let sent = amazon.delivered.borrow()[0].clone();
    assert_eq!(sent.region, "eu");
    let token = sent.message["event"]["endpoint"]["scope"]["token"]
        .as_str()
        .unwrap();
    assert!(token.starts_with("Atza|"));
    assert_eq!(sent.authorization, format!("Bearer {token}"));
    assert_eq!(sent.message["context"], json!({"properties": []}));
    // AcceptGrant's access token served the first event: no refresh yet.
    assert_eq!(*amazon.lwa_calls.borrow(), ["authorization_code"]);

    // Warm: no read at all. Then, past the isolate's bound, the record and
    // the grant's tombstone are read again, and still nothing is written.
    let reads = s.operations().0;
    assert_eq!(s.send_change_report(SUB).0, 202);
    assert_eq!(s.operations().0 - reads, 0, "a warm event reads nothing");
    s.now
        .set(s.now.get() + alexa_oauth::alexa::RECORD_CACHE_SECONDS);
    let (before_r, before_w) = s.operations();
    assert_eq!(s.send_change_report(SUB).0, 202);
    let (after_r, after_w) = s.operations();
    assert_eq!(after_w - before_w, 0);
    assert!(after_r - before_r <= 3, "record, tombstone, client copy");

    // A Discovery report carries the token in its payload.
    let discovery = json!({"event": {"header": {"namespace": "Alexa.Discovery",
        "name": "AddOrUpdateReport", "payloadVersion": "3", "messageId": "d"},
        "payload": {"endpoints": []}}});
    let (status, _) = s.json_post("/alexa/events", &json!({"sub": SUB, "message": discovery}));
    assert_eq!(status, 202);
    let last = amazon.delivered.borrow().last().unwrap().clone();
    assert!(last.message["event"]["payload"]["scope"]["token"].is_string());

    // A later AcceptGrant of the same link (the user re-enabled the skill in
    // another region) replaces the record.
    assert_eq!(s.accept_grant(&at, "fe").0, 200);
    assert_eq!(s.send_change_report(SUB).0, 202);
    assert_eq!(amazon.delivered.borrow().last().unwrap().region, "fe");
}

fn a_gateway_401_gets_one_fresh_token_and_a_new_refresh_token_is_written() {
    let s = Server::with_alexa_events();
    accepted(&s, "NA");
    let amazon = &s.outbound.amazon;
    amazon.expire_access_tokens();
    let ((status, _), writes) = s.writes_during(|| s.send_change_report(SUB));
    assert_eq!((status, writes), (202, 0), "LWA kept its refresh token");
    assert_eq!(amazon.lwa_calls.borrow().len(), 2);
    assert_eq!(amazon.delivered.borrow()[0].region, "na");

    // LWA handing out a new refresh token is the one write.
    amazon.rotate.set(true);
    amazon.expire_access_tokens();
    let before = stored(&s).unwrap();
    let ((status, _), writes) = s.writes_during(|| s.send_change_report(SUB));
    assert_eq!((status, writes), (202, 1));
    assert_ne!(stored(&s).unwrap(), before);
    // The next refresh uses the new one.
    amazon.expire_access_tokens();
    assert_eq!(s.send_change_report(SUB).0, 202);

    // A token past its hour is refreshed before it is sent.
    let calls = amazon.lwa_calls.borrow().len();
    s.now.set(s.now.get() + 3600);
    assert_eq!(s.send_change_report(SUB).0, 202);
    assert_eq!(amazon.lwa_calls.borrow().len(), calls + 1);
}

fn lwa_refusing_the_refresh_token_forgets_the_tokens() {
    let s = Server::with_alexa_events();
    accepted(&s, "NA");
    s.outbound.amazon.forget_everything();
    let (status, body) = s.send_change_report(SUB);
    assert_eq!(
        (status, error(&body)),
        (409, Some("reauthorization_required"))
    );
    assert!(stored(&s).is_none());
    let (status, body) = s.send_change_report(SUB);
    assert_eq!((status, error(&body)), (404, Some("not_found")));
}

fn every_refusal_writes_nothing() {
    let s = Server::with_alexa_events();
    let (at, _) = s.link();
    let amazon = &s.outbound.amazon;
    let cases: Vec<(Value, u16, &str)> = vec![
        // LWA refuses a code it does not know (spent, or another skill's).
        (
            json!({"code": "ANspent", "grantee_token": at, "region": "NA"}),
            400,
            "accept_grant_failed",
        ),
        (
            json!({"code": amazon.grant_code(), "grantee_token": "not.a.token", "region": "NA"}),
            400,
            "invalid_grant",
        ),
        (
            json!({"code": amazon.grant_code(), "grantee_token": at, "region": "SA"}),
            400,
            "invalid_request",
        ),
        (
            json!({"code": amazon.grant_code(), "grantee_token": at}),
            400,
            "invalid_request",
        ),
    ];
    for (body, want, code) in cases {
        let ((status, answer), writes) =
            s.writes_during(|| s.json_post("/alexa/accept-grant", &body));
        assert_eq!(
            (status, error(&answer), writes),
            (want, Some(code), 0),
            "{body}"
        );
    }
    // Bad client credentials.
    let r = s.send(
        alexa_oauth::http::Request::new(alexa_oauth::http::Method::Post, "/alexa/accept-grant")
            .with_header("content-type", "application/json")
            .with_body(
                json!({"code": "c", "grantee_token": at, "region": "NA",
                              "client_id": "alexa", "client_secret": "wrong"})
                .to_string(),
            ),
    );
    assert_eq!(r.status, 401);
    // A token of another client: the machine client's own.
    let (status, t) = s.client_post("/token", "grant_type=client_credentials", "machine");
    assert_eq!(status, 200, "{t}");
    let machine: Value = serde_json::from_str(&t).unwrap();
    let body = json!({"code": amazon.grant_code(), "region": "NA",
                      "grantee_token": machine["access_token"], });
    assert_eq!(
        error(&s.json_post("/alexa/accept-grant", &body).1),
        Some("invalid_grant")
    );
    // LWA down: try again later.
    amazon.lwa_down.set(true);
    let ((status, _), writes) = s.writes_during(|| s.accept_grant(&at, "NA"));
    assert_eq!((status, writes), (503, 0));
    amazon.lwa_down.set(false);
    // No record, a bad message, a sub of nobody, a form body.
    assert_eq!(s.send_change_report(SUB).0, 404);
    assert_eq!(s.accept_grant(&at, "NA").0, 200);
    for (body, want) in [
        (
            json!({"sub": SUB, "message": {"event": {"header": {"namespace": "Alexa"}}}}),
            400,
        ),
        (json!({"sub": SUB, "message": "text"}), 400),
        (
            json!({"sub": "nobody", "message": {"event": {"endpoint": {}}}}),
            404,
        ),
        (
            json!({"sub": "x".repeat(500), "message": {"event": {"endpoint": {}}}}),
            404,
        ),
        (json!({"message": {}}), 400),
    ] {
        let ((status, _), writes) = s.writes_during(|| s.json_post("/alexa/events", &body));
        assert_eq!((status, writes), (want, 0), "{body}");
    }
    let (status, _) = s.client_post("/alexa/events", "sub=user-1", "alexa");
    assert_eq!(status, 400, "JSON only");
    // A gateway that does not answer.
    amazon.gateway_slow.set(true);
    assert_eq!(s.send_change_report(SUB).0, 503);
}

fn another_client_never_sends_with_this_clients_tokens() {
    let s = Server::with_alexa_events();
    accepted(&s, "NA");
    // The machine client has the same secret in the fixture.
    let message = json!({"event": {"endpoint": {"endpointId": "x"}}});
    let r = s.send(
        alexa_oauth::http::Request::new(alexa_oauth::http::Method::Post, "/alexa/events")
            .with_header("content-type", "application/json")
            .with_body(
                json!({"sub": SUB, "message": message, "client_id": "machine",
                              "client_secret": SECRET})
                .to_string(),
            ),
    );
    assert_eq!(r.status, 404, "{}", r.body_text());
    assert!(s.outbound.amazon.delivered.borrow().is_empty());
}

fn a_client_without_lwa_credentials_is_a_configuration_error() {
    let s = Server::with_alexa_events();
    s.edit_client("alexa", |c| c.lwa_client_secret = None);
    let (at, _) = s.link();
    let ((status, body), writes) = s.writes_during(|| s.accept_grant(&at, "NA"));
    assert_eq!(
        (status, error(&body), writes),
        (500, Some("server_error"), 0)
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("--lwa-client-id"));
}

fn ending_a_link_forgets_its_event_tokens() {
    // /revoke with the refresh token.
    let s = Server::with_alexa_events();
    let (_, rt) = accepted(&s, "NA");
    let (status, _) = s.client_post("/revoke", &format!("token={rt}"), "alexa");
    assert_eq!(status, 200);
    assert!(stored(&s).is_none());
    assert_eq!(s.send_change_report(SUB).0, 404);

    // /revoke with the access token.
    let s = Server::with_alexa_events();
    let (at, _) = accepted(&s, "NA");
    s.client_post("/revoke", &format!("token={at}"), "alexa");
    assert!(stored(&s).is_none());

    // A later link's record is not the earlier link's to forget.
    let s = Server::with_alexa_events();
    let (_, first) = s.link();
    let (_, second) = accepted(&s, "NA");
    s.client_post("/revoke", &format!("token={first}"), "alexa");
    assert!(stored(&s).is_some(), "the second link's tokens stay");
    s.client_post("/revoke", &format!("token={second}"), "alexa");
    assert!(stored(&s).is_none());

    // A tombstone written any other way (here a replayed code's) ends the
    // events, and the record goes with the first event that finds it.
    let s = Server::with_alexa_events();
    let code = s.code("");
    let (_, t) = s.token(&exchange(&code), false);
    let at = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(s.accept_grant(&at, "NA").0, 200);
    let (status, replay) = s.token(&exchange(&code), false);
    assert_eq!(status, 400, "the replay revokes: {replay}");
    assert_eq!(s.send_change_report(SUB).0, 404);
    assert!(stored(&s).is_none());

    // By its grant alone (admin grant revoke in Durable Object mode): the
    // record that names it goes, no other.
    let s = Server::with_alexa_events();
    let (at, _) = accepted(&s, "NA");
    let other = keys::alexa_events(&UserId::new("someone-else"), &ClientId::new("alexa"));
    let text = stored(&s)
        .unwrap()
        .replace("\"grant_id\":\"", "\"grant_id\":\"x");
    block_on(s.store.put(&other, text, None)).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            at.split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let gid = alexa_oauth::types::GrantId::new(claims["gid"].as_str().unwrap());
    block_on(alexa_oauth::alexa::forget_grant(&s.store, &gid)).unwrap();
    assert!(stored(&s).is_none());
    assert!(block_on(s.store.get(&other)).unwrap().is_some());

    // The user's removal.
    let s = Server::with_alexa_events();
    accepted(&s, "NA");
    let alice = block_on(s.store.user("alice")).unwrap().unwrap();
    block_on(remove_user(&s.store, &alice, s.now.get(), async || {})).unwrap();
    assert!(stored(&s).is_none());
    // `admin` reached the store, not this isolate: its copy and its
    // revocation lookups last their bound.
    s.now
        .set(s.now.get() + alexa_oauth::alexa::RECORD_CACHE_SECONDS);
    assert_eq!(s.send_change_report(SUB).0, 404);
}

alexa_oauth::on_both_stores!(
    accept_grant_then_events_go_to_the_region_with_no_write,
    a_gateway_401_gets_one_fresh_token_and_a_new_refresh_token_is_written,
    lwa_refusing_the_refresh_token_forgets_the_tokens,
    every_refusal_writes_nothing,
    another_client_never_sends_with_this_clients_tokens,
    a_client_without_lwa_credentials_is_a_configuration_error,
    ending_a_link_forgets_its_event_tokens,
);
