//! What earns a storage write, natively on both grant stores: every route,
//! asked anonymously, with malformed input or with failing credentials,
//! writes nothing, in KV or in a grant object. The writes that are earned
//! (a completed sign-in's code, a token exchange, a revocation) are counted
//! where `docs/security.md` lists them: `tests/refresh_policy.rs`. (A reused
//! refresh token presented by its own client is a revocation, so it writes
//! a tombstone: that is tested there too.)

use alexa_oauth::http::{Method, Request};
use alexa_oauth::testing::*;

fn post(path: &str, body: &str) -> Request {
    Request::new(Method::Post, path)
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(body.to_owned())
}

/// A link through the provider (this server's alice has no usable
/// password): (access token, refresh token).
fn link(s: &Server) -> (String, String) {
    let (start, cookies) = s.provider_start("idp", "192.0.2.12");
    let back = s.outbound.approve(start.get_header("location").unwrap());
    let r = s.send(
        Request::new(Method::Get, &format!("/callback/idp?{back}")).with_header("cookie", &cookies),
    );
    let code = query_param(r.get_header("location").unwrap(), "code").unwrap();
    let (status, t) = s.token(&exchange(&code), false);
    assert_eq!(status, 200, "{t}");
    let field = |name: &str| t[name].as_str().unwrap().to_owned();
    (field("access_token"), field("refresh_token"))
}

fn every_route_asked_anonymously_or_wrongly_writes_nothing() {
    let s = Server::with_providers(&[]);
    let (access, rt) = link(&s);
    let gid = rt.split('.').next().unwrap().to_owned();
    let q = auth_query(LAYLA, "");
    let body_creds = format!("client_id=alexa&client_secret={SECRET}");
    let requests = vec![
        // The login page, and forms that fail.
        Request::new(Method::Get, &format!("/authorize?{q}")),
        Request::new(Method::Get, "/authorize?response_type=code&client_id=alexa"),
        Request::new(Method::Get, "/authorize?client_id=nobody"),
        Request::new(Method::Get, &format!("/authorize?{q}&scope=admin")),
        post(
            "/authorize",
            &format!("{q}&username=alice&password=wrong&action=login"),
        ),
        post("/authorize", "%%%"),
        Request::new(Method::Other, "/authorize"),
        // Sign-in through a provider, not from our page, and bad callbacks.
        Request::new(Method::Get, &format!("/signin/idp?{q}")),
        post("/signin/idp", &q),
        Request::new(Method::Get, "/signin/nobody"),
        Request::new(Method::Get, "/callback/idp?code=x&state=y"),
        Request::new(Method::Get, "/callback/idp?error=access_denied&state=y")
            .with_header("cookie", "signin-state=forged.value"),
        // The token endpoint, every way of failing.
        post("/token", ""),
        post("/token", "grant_type=password"),
        post("/token", "grant_type=refresh_token&refresh_token=x"),
        post(
            "/token",
            &format!(
                "grant_type=refresh_token&refresh_token={rt}&client_id=alexa&client_secret=wrong"
            ),
        ),
        post(
            "/token",
            &format!("grant_type=refresh_token&refresh_token={rt}&scope=admin&{body_creds}"),
        ),
        post(
            "/token",
            &format!(
                "grant_type=authorization_code&code={gid}.{}&{body_creds}",
                "B".repeat(43)
            ),
        ),
        post(
            "/token",
            &format!("grant_type=authorization_code&code=nonsense&{body_creds}"),
        ),
        post("/token", "grant_type=client_credentials"),
        // The client-authenticated endpoints without a client, or another's.
        post("/revoke", &format!("token={rt}")),
        post(
            "/revoke",
            &format!("token={rt}&client_id=machine&client_secret=wrong"),
        ),
        post("/introspect", &format!("token={rt}")),
        post("/introspect", &format!("token={access}&{body_creds}")),
        // Alexa's side of the link, without a client, or with a bad grantee token.
        Request::new(Method::Post, "/alexa/accept-grant")
            .with_header("content-type", "application/json")
            .with_body(format!(r#"{{"code":"c","grantee_token":"{access}","region":"NA"}}"#)),
        Request::new(Method::Post, "/alexa/accept-grant")
            .with_header("content-type", "application/json")
            .with_body(r#"{"code":"c","grantee_token":"x.y.z","region":"NA","client_id":"alexa","client_secret":"wrong"}"#),
        Request::new(Method::Post, "/alexa/events")
            .with_header("content-type", "application/json")
            .with_body(r#"{"sub":"user-1","message":{"event":{"endpoint":{}}}}"#),
        Request::new(Method::Get, "/alexa/events"),
        // The skill's side.
        Request::new(Method::Get, "/userinfo"),
        Request::new(Method::Get, "/userinfo").with_header("authorization", "Bearer x.y.z"),
        Request::new(Method::Get, "/userinfo")
            .with_header("authorization", &format!("Bearer {access}")),
        // Everything else.
        Request::new(Method::Get, "/.well-known/oauth-authorization-server"),
        Request::new(Method::Get, "/.well-known/jwks.json"),
        // The admin route is off without ADMIN_TOKEN, and answers 404 to a
        // restore without its bearer secret.
        post("/admin/grants", r#"{"restore": []}"#),
        post("/admin/grants", r#"{"restore": []}"#).with_header("authorization", "Bearer guess"),
        // The account pages, signed out: the page, a sign-in that fails, a
        // forged end of a link, and links nobody issued.
        Request::new(Method::Get, "/account"),
        post(
            "/account",
            "action=signin&username=alice&password=wrong&csrf=1.x",
        ),
        post("/account", &format!("action=end&grant={gid}&csrf=1.x")),
        post(
            "/account",
            "action=password&current=x&password=yyyyyyyy&confirm=yyyyyyyy",
        ),
        Request::new(Method::Get, &format!("/invite/{}", "A".repeat(43))),
        post(
            &format!("/reset/{}", "A".repeat(43)),
            "password=yyyyyyyy&confirm=yyyyyyyy",
        ),
        Request::new(Method::Get, "/static/login.css"),
        Request::new(Method::Get, "/demo/callback?code=x"),
        Request::new(Method::Get, "/"),
        Request::new(Method::Get, "/nothing-here"),
    ];
    for req in requests {
        let what = format!("{:?} {} {}", req.method, req.path, req.query);
        let (r, writes) = s.writes_during(|| s.send(req));
        assert!(r.status < 500 || r.status == 503, "{what}: {}", r.status);
        assert_eq!(writes, 0, "{what} ({}) wrote", r.status);
    }
    // A sign-in through the provider that fails at the provider, or for an
    // identity nobody allowed, writes nothing either.
    for failing in [Misbehaviour::BadSignature, Misbehaviour::TokenError] {
        let (r, writes) = s.writes_during(|| {
            let (start, cookies) = s.provider_start("idp", "192.0.2.10");
            let back = s.outbound.approve(start.get_header("location").unwrap());
            s.outbound.mode.set(failing);
            let r = s.send(
                Request::new(Method::Get, &format!("/callback/idp?{back}"))
                    .with_header("cookie", &cookies),
            );
            s.outbound.mode.set(Misbehaviour::None);
            r
        });
        assert!(r.status >= 400, "{failing:?}");
        assert_eq!(writes, 0, "{failing:?} wrote");
    }
    *s.outbound.subject.borrow_mut() = "a-stranger".into();
    let (r, writes) = s.writes_during(|| {
        let (start, cookies) = s.provider_start("idp", "192.0.2.11");
        let back = s.outbound.approve(start.get_header("location").unwrap());
        s.send(
            Request::new(Method::Get, &format!("/callback/idp?{back}"))
                .with_header("cookie", &cookies),
        )
    });
    assert_eq!((r.status, writes), (403, 0), "an identity nobody allowed");
}

alexa_oauth::on_both_stores!(every_route_asked_anonymously_or_wrongly_writes_nothing);
