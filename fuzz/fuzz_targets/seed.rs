// Shared by the targets that run whole requests: the core on the in-memory
// store, with one Alexa client (secret SECRET) and one user.
use alexa_oauth::crypto::{hash_client_secret, TestRng};
use alexa_oauth::grant::RevocationCache;
use alexa_oauth::http::{Request, Response};
use alexa_oauth::store::{keys, put_json, ClientRecord, GrantType, MemoryStore, UserRecord};
use alexa_oauth::types::{ClientId, ClientSecret, RedirectUri, ScopeSet, UserId};
use alexa_oauth::{handle, Config, Ctx};

pub const SECRET: &str = "alexa-client-secret-0123456789abcdef";
pub const REDIRECTS: [&str; 3] = [
    "https://pitangui.amazon.com/api/skill/link/M2AAAAAAAAAAAA",
    "https://layla.amazon.com/api/skill/link/M2AAAAAAAAAAAA",
    "https://alexa.amazon.co.jp/api/skill/link/M2AAAAAAAAAAAA",
];

pub struct Seeded {
    pub store: MemoryStore,
    pub config: Config,
    rng: TestRng,
    revocations: RevocationCache,
}

pub fn seeded() -> Seeded {
    let s = Seeded {
        store: MemoryStore::default(),
        config: Config::from_vars(|k| (k == "SIGNING_KEY").then(|| "fuzz-signing-key-of-at-least-32-bytes!!".to_owned())),
        rng: TestRng::default(),
        revocations: RevocationCache::default(),
    };
    let client = ClientRecord {
        client_id: ClientId::new("alexa"),
        name: "Fuzz".into(),
        secret_hash: hash_client_secret(&s.rng, &ClientSecret::new(SECRET)),
        previous_secret_hash: None,
        previous_secret_expires_at: None,
        redirect_uris: REDIRECTS.map(RedirectUri::new).to_vec(),
        scope: ScopeSet::parse("smart_home profile").unwrap(),
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken, GrantType::ClientCredentials],
        created_at: 0,
    };
    // A cheap password hash: the fuzzer should explore parsing, not PBKDF2.
    let user = UserRecord {
        id: UserId::new("user-1"),
        username: "alice".into(),
        display_name: "Alice".into(),
        password_hash: "pbkdf2-sha256$1$AAAA$AAAA".into(),
        created_at: 0,
    };
    pollster::block_on(async {
        put_json(&s.store, &keys::client(&client.client_id), &client, None).await.unwrap();
        put_json(&s.store, &keys::user("alice"), &user, None).await.unwrap();
    });
    s
}

impl Seeded {
    pub fn send(&self, req: &Request) -> Response {
        let ctx = Ctx { store: &self.store, config: &self.config, now: 1_800_000_000, rng: &self.rng, revocations: &self.revocations };
        pollster::block_on(handle(req, &ctx))
    }
}

/// Every answer is a success or an RFC error: never a 5xx but a storage 503.
pub fn assert_rfc_answer(r: &Response) {
    assert!(matches!(r.status, 200 | 302 | 400 | 401 | 403 | 404 | 405 | 413 | 429), "status {}", r.status);
    if r.status >= 400 && r.get_header("content-type") == Some("application/json") {
        let v: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON error body");
        let code = v["error"].as_str().unwrap_or("");
        assert!(
            ["invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type", "invalid_scope", "invalid_token", "not_found", "temporarily_unavailable"].contains(&code)
                || (r.status == 401 && code.is_empty()),
            "not an RFC error: {v}"
        );
    }
}
