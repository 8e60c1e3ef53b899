//! Access tokens a skill verifies offline: ES256 with the served JWK Set,
//! natively (the Worker's WebCrypto path is run by
//! `tests/e2e/es256.test.mjs`). The signatures are checked here with `p256`
//! against the key set the server publishes, not through our own verify.

use alexa_oauth::config::Config;
use alexa_oauth::es256::native::generate_pem;
use alexa_oauth::http::{Method, Request};
use alexa_oauth::testing::*;
use base64::Engine;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde_json::Value;

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

fn es256_server(current: &str, previous: Option<&str>) -> Server {
    let (current, previous) = (current.to_owned(), previous.map(str::to_owned));
    Server::with_config(Config::from_vars(move |k| match k {
        "SIGNING_KEY" => Some(KEY.to_owned()),
        "ACCESS_TOKEN_ALG" => Some("ES256".to_owned()),
        "ES256_PRIVATE_KEY" => Some(current.clone()),
        "ES256_PRIVATE_KEY_PREVIOUS" => previous.clone(),
        _ => None,
    }))
}

fn get_json(s: &Server, path: &str) -> (u16, Value, Option<String>) {
    let r = s.send(Request::new(Method::Get, path));
    let cache = r.get_header("cache-control").map(str::to_owned);
    (
        r.status,
        serde_json::from_str(r.body_text()).unwrap(),
        cache,
    )
}

fn header_of(token: &str) -> Value {
    serde_json::from_slice(&b64(token.split('.').next().unwrap())).unwrap()
}

/// Checks `token`'s signature with the key of the published set its `kid`
/// names, as a skill would.
fn verifies_with_published_keys(s: &Server, token: &str) -> bool {
    let (_, set, _) = get_json(s, "/.well-known/jwks.json");
    let kid = header_of(token)["kid"].as_str().unwrap().to_owned();
    let Some(jwk) = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
    else {
        return false;
    };
    let mut point = vec![4u8];
    point.extend(b64(jwk["x"].as_str().unwrap()));
    point.extend(b64(jwk["y"].as_str().unwrap()));
    let key = VerifyingKey::from_sec1_bytes(&point).unwrap();
    let (signed, sig) = token.rsplit_once('.').unwrap();
    let sig = Signature::from_slice(&b64(sig)).unwrap();
    key.verify(signed.as_bytes(), &sig).is_ok()
}

fn userinfo_status(s: &Server, token: &str) -> u16 {
    s.userinfo(token).status
}

#[test]
fn tokens_are_es256_and_verify_with_the_published_key_set() {
    let s = es256_server(&generate_pem(), None);
    let (access, refresh) = s.link();
    let header = header_of(&access);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "at+jwt");
    assert!(verifies_with_published_keys(&s, &access));
    assert_eq!(userinfo_status(&s, &access), 200);
    let (status, t) = s.refresh(&refresh);
    assert_eq!(status, 200);
    assert!(verifies_with_published_keys(
        &s,
        t["access_token"].as_str().unwrap()
    ));

    let (status, set, cache) = get_json(&s, "/.well-known/jwks.json");
    assert_eq!(status, 200);
    assert_eq!(cache.as_deref(), Some("public, max-age=300"));
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        (
            &keys[0]["kty"],
            &keys[0]["crv"],
            &keys[0]["alg"],
            &keys[0]["use"]
        ),
        (
            &Value::from("EC"),
            &Value::from("P-256"),
            &Value::from("ES256"),
            &Value::from("sig")
        )
    );
    assert!(keys[0].get("d").is_none(), "no private part");
    let (_, meta, _) = get_json(&s, "/.well-known/oauth-authorization-server");
    assert_eq!(meta["jwks_uri"], "http://localhost/.well-known/jwks.json");
}

#[test]
fn a_tampered_or_foreign_token_is_refused() {
    let s = es256_server(&generate_pem(), None);
    let (access, _) = s.link();
    let (signed, sig) = access.rsplit_once('.').unwrap();
    let mut bytes = b64(sig);
    bytes[10] ^= 1;
    let tampered = format!(
        "{signed}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes)
    );
    assert_eq!(userinfo_status(&s, &tampered), 401);
    // The same claims signed by a key nobody published.
    let stranger = es256_server(&generate_pem(), None);
    let (foreign, _) = stranger.link();
    assert_eq!(userinfo_status(&s, &foreign), 401);
    assert!(!verifies_with_published_keys(&s, &foreign));
    // alg confusion: an ES256 header over an HMAC made with the signing key.
    let payload = access.split('.').nth(1).unwrap();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        format!(
            r#"{{"alg":"HS256","typ":"at+jwt","kid":"{}"}}"#,
            header_of(&access)["kid"].as_str().unwrap()
        )
        .as_bytes(),
    );
    let forged = format!("{header}.{payload}.{sig}");
    assert_eq!(userinfo_status(&s, &forged), 401);
}

#[test]
fn the_previous_key_still_verifies_and_hs256_tokens_keep_working_during_a_move() {
    let (old, new) = (generate_pem(), generate_pem());
    let before = es256_server(&old, None);
    let (old_token, _) = before.link();
    let after = es256_server(&new, Some(&old));
    let (status, set, _) = get_json(&after, "/.well-known/jwks.json");
    assert_eq!(status, 200);
    assert_eq!(
        set["keys"].as_array().unwrap().len(),
        2,
        "current and previous"
    );
    assert_eq!(userinfo_status(&after, &old_token), 200);
    assert!(verifies_with_published_keys(&after, &old_token));
    let (new_token, _) = after.link();
    assert_ne!(header_of(&new_token)["kid"], header_of(&old_token)["kid"]);
    assert_eq!(
        set["keys"][0]["kid"],
        header_of(&new_token)["kid"],
        "current first"
    );

    // A token from before the move to ES256 (HS256, same SIGNING_KEY).
    let hs = Server::new();
    let (hs_token, _) = hs.link();
    assert_eq!(header_of(&hs_token)["alg"], "HS256");
    assert_eq!(userinfo_status(&after, &hs_token), 200);
    // An HS256 server publishes no key and names no key set.
    let (_, none, _) = get_json(&hs, "/.well-known/jwks.json");
    assert_eq!(none["keys"].as_array().unwrap().len(), 0);
    let (_, meta, _) = get_json(&hs, "/.well-known/oauth-authorization-server");
    assert!(meta.get("jwks_uri").is_none());
}

#[test]
fn a_missing_or_unusable_key_is_a_configuration_error_not_a_silent_change() {
    let missing = Config::from_vars(|k| match k {
        "SIGNING_KEY" => Some(KEY.to_owned()),
        "ACCESS_TOKEN_ALG" => Some("es256".to_owned()),
        _ => None,
    });
    assert!(missing
        .access_token_alg_error
        .as_ref()
        .is_some_and(|e| e.0.contains("ES256_PRIVATE_KEY is not set")));
    let unknown = Config::from_vars(|k| match k {
        "SIGNING_KEY" => Some(KEY.to_owned()),
        "ACCESS_TOKEN_ALG" => Some("RS256".to_owned()),
        _ => None,
    });
    assert!(unknown.access_token_alg_error.is_some());
    // A key that is not a P-256 PKCS#8 key: the token endpoint says the
    // server is misconfigured rather than hand out tokens nobody can check.
    // Each refuses before the store is touched: the code is not spent, so
    // Alexa's retry works once the operator has fixed the setting.
    let unset = Server::with_config(missing);
    let unknown = Server::with_config(unknown);
    for mut s in [es256_server("not a key", None), unset, unknown] {
        let code = s.code("");
        let writes = s.operations().1;
        let (status, body) = s.token(&exchange(&code), false);
        assert_eq!(
            (status, body["error"].as_str()),
            (500, Some("server_error")),
            "{body}"
        );
        assert_eq!(s.operations().1, writes, "nothing written: {body}");
        // The setting put right (HS256 here): the same code redeems.
        (s.config.es256, s.config.access_token_alg_error) = (None, None);
        let (status, body) = s.token(&exchange(&code), false);
        assert_eq!(status, 200, "the code is still good: {body}");
    }
}

#[test]
fn userinfo_answers_a_minute_past_expiry_but_never_for_a_revoked_grant() {
    for s in [es256_server(&generate_pem(), None), Server::new()] {
        let (access, refresh) = s.link();
        let start = s.now.get();
        s.now.set(start + 3600 + 30);
        assert_eq!(userinfo_status(&s, &access), 200, "30 s past exp");
        s.now.set(start + 3600 + 60);
        assert_eq!(userinfo_status(&s, &access), 401, "60 s past exp");
        s.now.set(start + 3600 + 30);
        let (status, _) = s.client_post("/revoke", &format!("token={refresh}"), "alexa");
        assert_eq!(status, 200);
        assert_eq!(
            userinfo_status(&s, &access),
            401,
            "revoked, within the leeway"
        );
        // Introspection keeps to `exp`.
        let (_, body) = s.client_post("/introspect", &format!("token={access}"), "alexa");
        assert!(body.contains("\"active\":false"), "{body}");
    }
}

/// One bad key must not take the good one with it: a rotation with a broken
/// `ES256_PRIVATE_KEY_PREVIOUS` keeps signing and verifying with the current
/// key; a broken current key keeps verifying with the previous one. A token a
/// missing key may have signed is a configuration error (500, which a skill
/// maps to `INTERNAL_ERROR`), never a 401 that would unlink its user.
#[test]
fn each_key_is_used_on_its_own_and_a_missing_one_is_never_a_401() {
    let (old, new) = (generate_pem(), generate_pem());
    let (old_token, _) = es256_server(&old, None).link();
    let (new_token, _) = es256_server(&new, None).link();

    // A bad previous key: the current key signs, verifies and is served.
    let s = es256_server(&new, Some("not a key"));
    let (_, set, _) = get_json(&s, "/.well-known/jwks.json");
    assert_eq!(set["keys"].as_array().unwrap().len(), 1);
    let (access, refresh) = s.link();
    assert!(verifies_with_published_keys(&s, &access));
    assert_eq!(userinfo_status(&s, &access), 200);
    assert_eq!(userinfo_status(&s, &new_token), 200);
    assert_eq!(s.refresh(&refresh).0, 200);
    // The old token names the key that could not be read.
    let r = s.userinfo(&old_token);
    assert_eq!(r.status, 500, "{}", r.body_text());
    assert!(
        r.body_text().contains("ES256_PRIVATE_KEY_PREVIOUS"),
        "{}",
        r.body_text()
    );
    let (status, body) = s.client_post("/introspect", &format!("token={old_token}"), "alexa");
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("server_error"), "{body}");

    // A bad current key: nothing is signed, but the previous key verifies.
    let s = es256_server("not a key", Some(&old));
    let (_, set, _) = get_json(&s, "/.well-known/jwks.json");
    assert_eq!(set["keys"].as_array().unwrap().len(), 1);
    assert_eq!(userinfo_status(&s, &old_token), 200);
    assert!(verifies_with_published_keys(&s, &old_token));
    let (status, body) = s.token(&exchange(&s.code("")), false);
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("server_error")),
        "{body}"
    );
    let r = s.userinfo(&new_token);
    assert_eq!(r.status, 500, "{}", r.body_text());
    assert!(
        r.body_text().contains("ES256_PRIVATE_KEY is"),
        "{}",
        r.body_text()
    );

    // Both bad: an empty set, and still never a 401 for a token of ours.
    let s = es256_server("not a key", Some("nor this"));
    let (_, set, _) = get_json(&s, "/.well-known/jwks.json");
    assert_eq!(set["keys"].as_array().unwrap().len(), 0);
    for token in [&old_token, &new_token] {
        assert_eq!(userinfo_status(&s, token), 500);
        let (status, _) = s.client_post("/revoke", &format!("token={token}"), "alexa");
        assert_eq!(status, 500);
    }

    // With every key usable, an unknown kid is the token's fault again.
    let s = es256_server(&new, None);
    assert_eq!(userinfo_status(&s, &old_token), 401);
}
