//! The skill's side, natively: /userinfo, /introspect, /revoke, discovery, key
//! rotation, and the bound within which a revoked grant stops working.

use alexa_oauth::crypto::b64url;
use alexa_oauth::grant::{RevocationCache, REVOCATION_CACHE_SECONDS};
use alexa_oauth::http::{Method, Request, Response};
use alexa_oauth::testing::*;
use alexa_oauth::Config;
use serde_json::Value;

const OLD_KEY: &str = "the-previous-signing-key-32-bytes-long!!";

fn userinfo(s: &Server, token: &str) -> Response {
    s.send(
        Request::new(Method::Get, "/userinfo")
            .with_header("authorization", &format!("Bearer {token}")),
    )
}

fn assert_invalid_token(r: &Response, why: &str) {
    assert_eq!(r.status, 401, "{why}: {}", r.body_text());
    let challenge = r.get_header("www-authenticate").unwrap();
    assert!(challenge.starts_with("Bearer "), "{why}");
    assert!(
        challenge.contains("error=\"invalid_token\""),
        "{why}: {challenge}"
    );
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap()
}

/// A token with its payload or header replaced by `edit`, keeping the signature.
fn tampered(token: &str, part: usize, edit: impl Fn(&mut Value)) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut v: Value =
        serde_json::from_slice(&alexa_oauth::crypto::b64url_decode(&parts[part]).unwrap()).unwrap();
    edit(&mut v);
    parts[part] = b64url(v.to_string().as_bytes());
    parts.join(".")
}

fn userinfo_gives_the_user_for_a_valid_token() {
    let s = Server::new();
    let (access, _) = s.link();
    let r = userinfo(&s, &access);
    assert_eq!(r.status, 200, "{}", r.body_text());
    let v = json(r.body_text());
    assert_eq!(v["sub"], "user-1");
    assert_eq!(v["name"], "Alice");
    // RFC 6750 §2.2: the form body works too.
    let r = s.send(
        Request::new(Method::Post, "/userinfo")
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body(format!("access_token={access}")),
    );
    assert_eq!(r.status, 200);
}

fn userinfo_refuses_missing_malformed_tampered_expired_and_foreign_tokens() {
    let s = Server::new();
    let (access, refresh) = s.link();

    // No token at all, or credentials of another scheme: a bare challenge.
    for header in [
        None,
        Some("Basic YWxleGE6c2VjcmV0"),
        Some("Basic"),
        Some("Digest x=y"),
    ] {
        let mut req = Request::new(Method::Get, "/userinfo");
        if let Some(h) = header {
            req = req.with_header("authorization", h);
        }
        let r = s.send(req);
        assert_eq!(r.status, 401, "{header:?}");
        let challenge = r.get_header("www-authenticate").unwrap();
        assert!(
            challenge.starts_with("Bearer") && !challenge.contains("error="),
            "§3.1: {challenge}"
        );
    }

    let (signed, sig) = access.rsplit_once('.').unwrap();
    let cases = [
        ("garbage", "garbage".to_owned()),
        (
            "changed payload",
            tampered(&access, 1, |c| c["sub"] = "someone-else".into()),
        ),
        (
            "alg none",
            format!("{}.", tampered(signed, 0, |h| h["alg"] = "none".into())),
        ),
        (
            "alg HS512",
            tampered(&access, 0, |h| h["alg"] = "HS512".into()),
        ),
        ("truncated signature", format!("{signed}.{}", &sig[..20])),
        ("no signature", format!("{signed}.")),
        ("refresh token as bearer", refresh.clone()),
    ];
    for (why, token) in &cases {
        assert_invalid_token(&userinfo(&s, token), why);
    }
    // Expired: an hour and the minute of leeway later.
    s.now.set(T0 + 3600 + 60);
    assert_invalid_token(&userinfo(&s, &access), "expired");
}

fn an_access_token_is_not_a_refresh_token() {
    let s = Server::new();
    let (access, _) = s.link();
    let (status, e) = s.refresh(&access);
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
}

fn key_rotation_previous_key_still_verifies_removed_key_does_not() {
    // Tokens issued under the old key...
    let old = Server::with_config(Config::from_vars(|k| {
        (k == "SIGNING_KEY").then(|| OLD_KEY.to_owned())
    }));
    let (access, _) = old.link();

    // ...still verify once it is the previous key...
    let rotated = Server::with_config(Config::from_vars(|k| match k {
        "SIGNING_KEY" => Some(KEY.to_owned()),
        "SIGNING_KEY_PREVIOUS" => Some(OLD_KEY.to_owned()),
        _ => None,
    }));
    assert_eq!(userinfo(&rotated, &access).status, 200);
    // ...new tokens are signed with the new key...
    let (fresh, _) = rotated.link();
    let kid = |t: &str| {
        json(
            std::str::from_utf8(
                &alexa_oauth::crypto::b64url_decode(t.split('.').next().unwrap()).unwrap(),
            )
            .unwrap(),
        )["kid"]
            .clone()
    };
    assert_ne!(kid(&access), kid(&fresh));
    // ...and once the old key is removed, its tokens are refused.
    let removed = Server::new();
    assert_invalid_token(&userinfo(&removed, &access), "signed with a removed key");
    assert_eq!(userinfo(&removed, &fresh).status, 200);
}

fn revoking_a_refresh_token_ends_the_grant_within_the_stated_bound() {
    let s = Server::new();
    let (access, refresh) = s.link();
    // Another isolate has looked up the grant's tombstone before the revocation.
    let other = RevocationCache::default();
    let via_other = |s: &Server| {
        s.send_via(
            &other,
            Request::new(Method::Get, "/userinfo")
                .with_header("authorization", &format!("Bearer {access}")),
        )
    };
    assert_eq!(via_other(&s).status, 200);
    let fetched = s.now.get();

    s.now.set(fetched + 5);
    let (status, body) = s.client_post("/revoke", &format!("token={refresh}"), "alexa");
    assert_eq!(status, 200, "{body}");
    // The revoking isolate refuses at once; refresh tokens of the grant are dead everywhere.
    assert_invalid_token(&userinfo(&s, &access), "revoked, same isolate");
    let (status, e) = s.refresh(&refresh);
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    // The other isolate trusts its copy until it is REVOCATION_CACHE_SECONDS old...
    s.now.set(fetched + REVOCATION_CACHE_SECONDS - 1);
    assert_eq!(
        via_other(&s).status,
        200,
        "within the bound the stale copy is used"
    );
    // ...and not a second longer.
    s.now.set(fetched + REVOCATION_CACHE_SECONDS);
    assert_invalid_token(&via_other(&s), "revoked, other isolate after the bound");
}

fn revoke_answers_200_for_unknown_tokens_and_spares_other_clients_grants() {
    let s = Server::new();
    let (access, refresh) = s.link();
    for token in [
        "nope",
        "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert_eq!(
            s.client_post("/revoke", &format!("token={token}"), "alexa")
                .0,
            200
        );
    }
    // The machine client cannot revoke the Alexa client's grant.
    assert_eq!(
        s.client_post("/revoke", &format!("token={refresh}"), "machine")
            .0,
        200
    );
    assert_eq!(
        s.client_post("/revoke", &format!("token={access}"), "machine")
            .0,
        200
    );
    assert_eq!(userinfo(&s, &access).status, 200);
    let (status, _) = s.refresh(&refresh);
    assert_eq!(status, 200);
    // Wrong credentials are still an error.
    let (status, body) = s.client_post("/revoke", "token=x", "nobody");
    assert_eq!(
        (status, json(&body)["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // Revoking an access token ends its grant too.
    assert_eq!(
        s.client_post("/revoke", &format!("token={access}"), "alexa")
            .0,
        200
    );
    assert_invalid_token(&userinfo(&s, &access), "revoked through its access token");
}

fn introspection() {
    let s = Server::new();
    let (access, refresh) = s.link();
    let introspect = |token: &str, client: &str| {
        let (status, body) = s.client_post("/introspect", &format!("token={token}"), client);
        assert_eq!(status, 200, "{body}");
        json(&body)
    };
    let v = introspect(&access, "alexa");
    assert_eq!(v["active"], true);
    assert_eq!(v["sub"], "user-1");
    assert_eq!(v["client_id"], "alexa");
    assert_eq!(v["scope"], "smart_home");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["exp"], T0 + 3600);
    assert_eq!(v["iat"], T0);
    let v = introspect(&refresh, "alexa");
    assert_eq!(v["active"], true);
    assert_eq!(v["token_type"], "refresh_token");

    let inactive = serde_json::json!({"active": false});
    assert_eq!(introspect("unknown", "alexa"), inactive);
    assert_eq!(
        introspect(&access, "machine"),
        inactive,
        "another client's token"
    );
    assert_eq!(
        introspect(&refresh, "machine"),
        inactive,
        "another client's token"
    );
    let (status, _) = s.client_post("/revoke", &format!("token={refresh}"), "alexa");
    assert_eq!(status, 200);
    assert_eq!(introspect(&access, "alexa"), inactive, "revoked");
    assert_eq!(introspect(&refresh, "alexa"), inactive, "revoked");
    let (access2, _) = s.link();
    s.now.set(T0 + 3600);
    assert_eq!(introspect(&access2, "alexa"), inactive, "expired");
    let (status, body) = s.client_post("/introspect", "token=x", "nobody");
    assert_eq!(
        (status, json(&body)["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

fn discovery_document() {
    let s = Server::new();
    let r = s.send(Request::new(
        Method::Get,
        "/.well-known/oauth-authorization-server",
    ));
    assert_eq!(r.status, 200);
    let v = json(r.body_text());
    assert_eq!(v["issuer"], "http://localhost");
    assert_eq!(v["token_endpoint"], "http://localhost/token");
    assert_eq!(v["authorization_endpoint"], "http://localhost/authorize");
    assert_eq!(
        v["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(v["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        v["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    for endpoint in [
        "userinfo_endpoint",
        "introspection_endpoint",
        "revocation_endpoint",
    ] {
        assert!(v[endpoint]
            .as_str()
            .unwrap()
            .starts_with("http://localhost/"));
    }
}

/// RFC 7009 §2.1: a client revokes what it holds, and an access token a
/// day past its expiry still names its grant.
fn an_expired_access_token_still_ends_its_grant() {
    let s = Server::new();
    let (access, refresh) = s.link();
    s.now.set(s.now.get() + 86_400);
    // Another client's expired token ends nothing.
    assert_eq!(
        s.client_post("/revoke", &format!("token={access}"), "machine")
            .0,
        200
    );
    assert_eq!(s.refresh(&refresh).0, 200);
    // A forged one (right shape, wrong signature) ends nothing either.
    let (signed, _) = access.rsplit_once('.').unwrap();
    let forged = format!("{signed}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(
        s.client_post("/revoke", &format!("token={forged}"), "alexa")
            .0,
        200
    );
    assert_eq!(s.refresh(&refresh).0, 200);
    assert_eq!(
        s.client_post("/revoke", &format!("token={access}"), "alexa")
            .0,
        200
    );
    let (status, body) = s.refresh(&refresh);
    assert_eq!(status, 400, "{body}");
}

alexa_oauth::on_both_stores!(
    an_expired_access_token_still_ends_its_grant,
    userinfo_gives_the_user_for_a_valid_token,
    userinfo_refuses_missing_malformed_tampered_expired_and_foreign_tokens,
    an_access_token_is_not_a_refresh_token,
    key_rotation_previous_key_still_verifies_removed_key_does_not,
    revoking_a_refresh_token_ends_the_grant_within_the_stated_bound,
    revoke_answers_200_for_unknown_tokens_and_spares_other_clients_grants,
    introspection,
    discovery_document,
);
