//! Property tests: no input makes the core panic or answer anything but a
//! success or an RFC error (and never a 5xx for bad input).

use alexa_oauth::http::{Method, Request, Response};
use alexa_oauth::testing::*;
use proptest::prelude::*;

fn check(r: &Response) -> Result<(), TestCaseError> {
    check_answer(r).map_err(TestCaseError::fail)
}

/// Parameter soup: real names and values mixed with noise.
fn form() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("grant_type"),
        Just("code"),
        Just("refresh_token"),
        Just("redirect_uri"),
        Just("client_id"),
        Just("client_secret"),
        Just("scope"),
        Just("state"),
        Just("code_verifier"),
        Just("response_type"),
        Just("code_challenge"),
        Just("code_challenge_method"),
        Just("token"),
        Just("csrf"),
        Just("x"),
    ];
    let value = prop_oneof![
        Just("authorization_code".to_owned()),
        Just("refresh_token".to_owned()),
        Just("client_credentials".to_owned()),
        Just("alexa".to_owned()),
        Just(SECRET.to_owned()),
        Just("code".to_owned()),
        Just("S256".to_owned()),
        Just(urlenc(LAYLA)),
        Just("smart_home".to_owned()),
        "[ -~]{0,40}",
        "%[0-9a-fA-F]{2}",
        ".{0,20}",
    ];
    proptest::collection::vec((name, value), 0..8).prop_map(|pairs| {
        pairs
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn token_requests(body in form(), basic in any::<bool>(), raw in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut req = Request::new(Method::Post, "/token").with_header("content-type", "application/x-www-form-urlencoded");
        if basic {
            req = req.with_header("authorization", "Basic YWxleGE6YWxleGEtY2xpZW50LXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm");
        }
        let mut bytes = body.into_bytes();
        bytes.extend(raw);
        let req = req.with_body(bytes);
        for s in both_stores() {
            check(&s.send(req.clone()))?;
        }
    }

    #[test]
    fn authorize_requests(query in form(), post in any::<bool>(), cookie in "[ -~]{0,30}") {
        let req = if post {
            Request::new(Method::Post, "/authorize")
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_header("cookie", &cookie)
                .with_body(query)
        } else {
            Request::new(Method::Get, &format!("/authorize?{query}"))
        };
        for s in both_stores() {
            check(&s.send(req.clone()))?;
        }
    }

    #[test]
    fn provider_requests(query in form(), cookie in "[ -~]{0,30}", which in 0u8..4, pending in any::<bool>()) {
        let s = Server::with_providers(&[]);
        let path = ["/signin/idp", "/signin/amazon", "/callback/idp", "/callback/amazon"][which as usize];
        let (query, cookie) = if pending {
            // A real sign-in under way, so a fuzzed code or error reaches the exchange.
            let (r, cookies) = s.provider_start("idp", "192.0.2.1");
            let state = query_param(r.get_header("location").unwrap(), "state").unwrap();
            (format!("state={state}&{query}"), cookies)
        } else {
            (query, cookie)
        };
        let r = s.send(Request::new(Method::Get, &format!("{path}?{query}")).with_header("cookie", &cookie));
        check(&r)?;
        prop_assert!(r.status != 503, "the stand-in answers: {}", r.body_text());
    }

    #[test]
    fn any_path_method_and_bearer(path in "/[a-z/._-]{0,20}", bearer in "[ -~]{0,80}", m in 0u8..4) {
        let method = [Method::Get, Method::Post, Method::Head, Method::Other][m as usize];
        for s in both_stores() {
            let r = s.send(Request::new(method, &path).with_header("authorization", &format!("Bearer {bearer}")));
            check(&r)?;
            let r = s.send(Request::new(method, "/userinfo").with_header("authorization", &bearer));
            check(&r)?;
        }
    }
}

/// The cheap test server on each grant store.
fn both_stores() -> [Server; 2] {
    [StoreMode::Kv, StoreMode::Objects].map(|mode| {
        let mut s = Server::new_fast();
        if mode == StoreMode::Objects {
            s.objects = Some(LocalObjects::new(&s.config));
            s.config.durable_grants = true;
        }
        s
    })
}
