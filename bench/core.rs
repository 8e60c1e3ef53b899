//! Native microbenchmarks of the core: `cargo bench --bench core`.
//! JWT sign and verify, the authorization request's checks, a code exchange
//! and a refresh on the in-memory store, and a PBKDF2 verify.

use alexa_oauth::crypto::{token_hash, TestRng};
use alexa_oauth::grant::GrantStore;
use alexa_oauth::http::{Method, Request};
use alexa_oauth::jwt::{self, Claims, SigningKey};
use alexa_oauth::password::{hash_password, verify_password, RustPbkdf2, Verdict, ITERATIONS};
use alexa_oauth::store::CodeRecord;
use alexa_oauth::testing::*;
use alexa_oauth::types::{ClientId, GrantId, Password, RedirectUri, ScopeSet, UserId};
use divan::{black_box, Bencher};
use pollster::block_on;

fn main() {
    divan::main();
}

fn claims() -> Claims {
    Claims {
        iss: "https://auth.example.com".into(),
        aud: Some("alexa-skill".into()),
        sub: "dW5pcXVlLXVzZXItaWQ".into(),
        client_id: "alexa-skill".into(),
        scope: "smart_home".into(),
        iat: 1_800_000_000,
        exp: 1_800_003_600,
        jti: "cmFuZG9tLWp0aS12YWx1ZQ".into(),
        gid: Some("Z3JhbnQtaWQtdmFsdWUxMg".into()),
        name: Some("Alice".into()),
        extra: None,
    }
}

#[divan::bench]
fn jwt_sign(b: Bencher) {
    let key = SigningKey::new(KEY.as_bytes()).unwrap();
    let c = claims();
    b.bench(|| jwt::sign(black_box(&c), &key));
}

#[divan::bench]
fn jwt_verify(b: Bencher) {
    let key = SigningKey::new(KEY.as_bytes()).unwrap();
    let token = jwt::sign(&claims(), &key);
    b.bench(|| jwt::verify(black_box(&token), &[&key], 1_800_000_001).unwrap());
}

/// GET /authorize: checks the client, redirect URI, scope and PKCE, renders the login page.
#[divan::bench]
fn authorize_validation(b: Bencher) {
    let s = Server::new_fast();
    let target = format!(
        "/authorize?{}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        auth_query(LAYLA, "")
    );
    b.bench_local(|| {
        let r = s.send(Request::new(Method::Get, &target));
        assert_eq!(r.status, 200);
    });
}

/// POST /token with a fresh code each time (stored directly, as a login would).
#[divan::bench]
fn code_exchange(b: Bencher) {
    let s = Server::new_fast();
    let rng = TestRng::default();
    b.with_inputs(|| {
        let gid = alexa_oauth::crypto::random_string(&rng, 16);
        let code = format!("{gid}.{}", alexa_oauth::crypto::random_string(&rng, 32));
        let record = CodeRecord {
            client_id: ClientId::new("alexa"),
            redirect_uri: Some(RedirectUri::new(LAYLA)),
            user_id: UserId::new("user-1"),
            display_name: "Alice".into(),
            claims: None,
            scope: ScopeSet::parse("smart_home").unwrap(),
            code_challenge: None,
            expires_at: T0 + 300,
            grant_id: GrantId::new(gid),
            used: false,
            client_generation: 0,
        };
        block_on(s.store.store_code(&token_hash(&code), &record)).unwrap();
        code
    })
    .bench_local_values(|code| {
        let (status, _) = s.token(&exchange(&code), true);
        assert_eq!(status, 200);
    });
}

/// POST /token grant_type=refresh_token along one chain.
#[divan::bench]
fn refresh(b: Bencher) {
    let s = Server::new();
    let rt = std::cell::RefCell::new(s.link().1);
    b.bench_local(|| {
        let body = format!("grant_type=refresh_token&refresh_token={}", rt.borrow());
        let (status, t) = s.token(&body, true);
        assert_eq!(status, 200);
        *rt.borrow_mut() = t["refresh_token"].as_str().unwrap().to_owned();
    });
}

/// One password check at the production cost (100,000 iterations): slow on purpose.
/// A 16 KiB form of distinct parameters: the worst case of the repeat check.
#[divan::bench]
fn form_parse_16_kib(b: Bencher) {
    let body: String = (0..1600)
        .map(|i| format!("p{i:04}=x"))
        .collect::<Vec<_>>()
        .join("&");
    assert!(body.len() <= 16 * 1024);
    b.bench(|| alexa_oauth::form::Params::parse(black_box(body.as_bytes())).is_ok());
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn pbkdf2_verify(b: Bencher) {
    let stored = hash_password(&TestRng::default(), &Password::new("correct horse"));
    assert!(stored.contains(&ITERATIONS.to_string()));
    let password = Password::new("correct horse");
    b.bench(|| {
        let verdict = block_on(verify_password(&RustPbkdf2, &stored, &password));
        assert_eq!(verdict, Verdict::Match);
    });
}
