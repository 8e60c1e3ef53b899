//! The test fixture shared by `tests/`, `bench/` and `fuzz/` (feature
//! `testing`): the core on the in-memory store, on either grant store, with a
//! clock the test sets, seeded with an Alexa client, a `client_credentials`
//! client and a user.
//!
//! Tests that must hold on both grant stores are plain functions listed in
//! [`on_both_stores!`](crate::on_both_stores), which makes a `#[test]` of each
//! per store.

use crate::crypto::{hash_client_secret, TestRng};
use crate::grant::durable::{self, DurableGrants, ObjectTransport};
use crate::grant::{GrantStore, RevocationCache, Successors};
use crate::http::{Request, Response};
use crate::outbound::Outbound;
use crate::password::hash_password;
use crate::provider::ProviderCache;
use crate::store::{
    keys, put_json, ClientRecord, GrantType, MemoryStore, RefreshRotation, UserRecord,
};
use crate::store::{ClientCache, Records, StoreError};
use crate::throttle::MemoryLimiter;
use crate::types::GrantId;
use crate::types::{ClientId, ClientSecret, Password, RedirectUri, ScopeSet, UserId};
use crate::{handle, Config, Ctx};
use pollster::block_on;

mod amazon;
mod helpers;
mod provider;
mod requests;
pub use amazon::{Amazon, Delivered, EVENTS_CLIENT_ID, EVENTS_CLIENT_SECRET, GATEWAYS, LWA};
pub use helpers::{
    auth_query, check_answer, exchange, form_fields, hidden_fields, query_param, set_cookie,
    unescape_html, urlenc, RFC_ERRORS,
};
pub use provider::{Misbehaviour, StandIn, IDP, IDP_CLIENT_ID, IDP_CLIENT_SECRET};

pub const KEY: &str = "test-signing-key-of-at-least-32-bytes!!";
pub const SECRET: &str = "alexa-client-secret-0123456789abcdef";
pub const LAYLA: &str = "https://layla.amazon.com/api/skill/link/M2AAAAAAAAAAAA";
/// The Alexa client's three regional redirect URIs.
pub const REDIRECTS: [&str; 3] = [
    "https://pitangui.amazon.com/api/skill/link/M2AAAAAAAAAAAA",
    LAYLA,
    "https://alexa.amazon.co.jp/api/skill/link/M2AAAAAAAAAAAA",
];
pub const T0: u64 = 1_800_000_000;

/// Where a login comes from: an address (`CF-Connecting-IP`) and the cookies
/// the browser already holds (`name=value; …`).
#[derive(Debug, Default, Clone)]
pub struct Browser {
    pub ip: Option<String>,
    pub cookie: Option<String>,
}

impl Browser {
    pub fn at(ip: &str) -> Self {
        Self {
            ip: Some(ip.to_owned()),
            cookie: None,
        }
    }
}

/// Which store a [`Server`] made on this thread uses for grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    /// Everything in one KV-like store.
    Kv,
    /// Codes and grants in Durable Objects, in memory.
    Objects,
}

thread_local! {
    // Each #[test] runs on a thread of its own.
    static STORE_MODE: std::cell::Cell<StoreMode> = const { std::cell::Cell::new(StoreMode::Kv) };
}

/// Runs `test` with every [`Server`] it makes on the given store.
pub fn with_store(mode: StoreMode, test: fn()) {
    STORE_MODE.set(mode);
    test();
}

/// Makes a `#[test]` per store of each listed function:
/// `on_both_stores!(a, b)` gives `kv::a`, `kv::b`, `objects::a`, `objects::b`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod kv {
            $(#[test]
            fn $name() {
                $crate::testing::with_store($crate::testing::StoreMode::Kv, super::$name)
            })*
        }
        mod objects {
            $(#[test]
            fn $name() {
                $crate::testing::with_store($crate::testing::StoreMode::Objects, super::$name)
            })*
        }
    };
}

pub struct Server {
    pub store: MemoryStore,
    pub config: Config,
    pub rng: TestRng,
    pub now: std::cell::Cell<u64>,
    pub revocations: RevocationCache,
    /// The attempt counters, in memory.
    pub limiter: MemoryLimiter,
    /// The isolate's client records.
    pub clients: ClientCache,
    /// Durable Object mode: `Some` on [`StoreMode::Objects`], so that the same
    /// tests run through the same traits on either implementation.
    pub objects: Option<LocalObjects>,
    /// The provider every outbound call reaches.
    pub outbound: StandIn,
    /// The isolate's copies of provider metadata and keys.
    pub provider_cache: ProviderCache,
    /// ES256 through `p256`, when the configuration asks for it.
    pub es256: Option<crate::es256::native::NativeEs256>,
    /// The isolate's event records and LWA access tokens.
    pub alexa: crate::alexa::EventTokenCache,
    /// This server's copy of the operator's texts.
    pub texts: crate::i18n::OverridesCache,
}

/// Grant objects in memory: one store per grant id, each op run by
/// `grant::durable::serve` as a Durable Object would (one at a time), with the
/// successor keys the Worker's objects derive from the same `SIGNING_KEY`.
pub struct LocalObjects(
    pub std::cell::RefCell<std::collections::BTreeMap<String, std::rc::Rc<MemoryStore>>>,
    pub Successors,
);

impl LocalObjects {
    pub fn new(config: &Config) -> Self {
        Self(
            Default::default(),
            Successors::new(config.verification_keys()),
        )
    }
}

impl ObjectTransport for LocalObjects {
    async fn call(&self, grant: &GrantId, op: String) -> Result<String, StoreError> {
        let store = self
            .0
            .borrow_mut()
            .entry(grant.to_string())
            .or_default()
            .clone();
        durable::serve(&*store, &self.1, &op).await
    }
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}

impl Server {
    /// A server whose user has a 1-round password hash, for tests that make many.
    pub fn new_fast() -> Self {
        Self::build(
            Config::from_vars(|k| (k == "SIGNING_KEY").then(|| KEY.to_owned())),
            None,
        )
    }

    pub fn new() -> Self {
        Self::with_config(Config::from_vars(|k| {
            (k == "SIGNING_KEY").then(|| KEY.to_owned())
        }))
    }

    /// A server that reads client records from the store every time, for tests
    /// that change a client or fault the store under it.
    pub fn without_client_cache() -> Self {
        Self::with_config(Config::from_vars(|k| match k {
            "SIGNING_KEY" => Some(KEY.to_owned()),
            "CLIENT_CACHE_SECONDS" => Some("0".to_owned()),
            _ => None,
        }))
    }

    /// A server whose Alexa client sends events: LWA and the gateways are
    /// the [`Amazon`] stand-in, and the client has the events credentials
    /// (as `admin client update --lwa-client-id` gives it).
    pub fn with_alexa_events() -> Self {
        let vars = [
            ("SIGNING_KEY", KEY),
            ("LWA_TOKEN_URL", LWA),
            ("ALEXA_GATEWAY_NA", GATEWAYS[0]),
            ("ALEXA_GATEWAY_EU", GATEWAYS[1]),
            ("ALEXA_GATEWAY_FE", GATEWAYS[2]),
        ];
        let server = Self::build(
            Config::from_vars(|k| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }),
            Some("correct horse"),
        );
        server.edit_client("alexa", |c| {
            c.lwa_client_id = Some(EVENTS_CLIENT_ID.into());
            c.lwa_client_secret = Some(crate::types::LwaClientSecret::new(EVENTS_CLIENT_SECRET));
        });
        server
    }

    /// A server with two providers on the [`StandIn`]: `idp`
    /// (OpenID Connect, with `extra` settings) and the `amazon` preset pointed
    /// at it. Alice may sign in through `idp:subject-alice` and
    /// `amazon:amzn1.account.subject-alice`.
    pub fn with_providers(extra: &[(&str, &str)]) -> Self {
        let mut vars: Vec<(String, String)> = [
            ("SIGNING_KEY", KEY),
            ("SIGN_IN_PROVIDERS", "idp amazon"),
            ("IDP_ISSUER", IDP),
            ("IDP_CLIENT_ID", IDP_CLIENT_ID),
            ("IDP_CLIENT_SECRET", IDP_CLIENT_SECRET),
            ("AMAZON_CLIENT_ID", IDP_CLIENT_ID),
            ("AMAZON_CLIENT_SECRET", IDP_CLIENT_SECRET),
            ("AMAZON_AUTHORIZE_URL", "https://idp.test/authorize"),
            ("AMAZON_TOKEN_URL", "https://idp.test/token"),
            ("AMAZON_USERINFO_URL", "https://idp.test/user/profile"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        vars.reverse(); // `extra` first, so it overrides.
        let server = Self::build(
            Config::from_vars(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())),
            None,
        );
        for identity in ["idp:subject-alice", "amazon:amzn1.account.subject-alice"] {
            server.allow_identity("alice", identity);
        }
        server
    }

    /// Adds an identity to a user's allow-list, as `admin user update
    /// --add-identity` does.
    pub fn allow_identity(&self, username: &str, identity: &str) {
        let mut user = block_on(self.store.user(username)).unwrap().unwrap();
        user.identities.push(identity.to_owned());
        block_on(self.store.put_user(&user)).unwrap();
    }

    /// What reaches providers: the [`StandIn`].
    pub fn outbound(&self) -> Outbound<'_> {
        self.outbound.now.set(self.now.get());
        Outbound {
            fetch: &self.outbound,
            signatures: &self.outbound,
            cache: &self.provider_cache,
        }
    }

    pub fn with_config(config: Config) -> Self {
        Self::build(config, Some("correct horse"))
    }

    /// `password`: alice's password, hashed as in production; `None` for a cheap
    /// hash no password matches.
    fn build(mut config: Config, password: Option<&str>) -> Self {
        // The Worker picks its store by GRANT_STORE; the fixture by the mode
        // the test runs in, and says so to the code that reads the setting.
        config.durable_grants = STORE_MODE.get() == StoreMode::Objects;
        let client_cache_seconds = config.client_cache_seconds;
        let es256 = config.es256.as_ref().map(|k| {
            crate::es256::native::NativeEs256::new(
                k.current.secret(),
                k.previous.as_ref().map(|p| p.secret()),
            )
        });
        let server = Self {
            store: MemoryStore::default(),
            objects: (STORE_MODE.get() == StoreMode::Objects).then(|| LocalObjects::new(&config)),
            config,
            rng: TestRng::default(),
            now: std::cell::Cell::new(T0),
            revocations: RevocationCache::default(),
            limiter: MemoryLimiter::default(),
            clients: ClientCache::new(client_cache_seconds),
            outbound: StandIn::default(),
            provider_cache: ProviderCache::default(),
            es256,
            alexa: Default::default(),
            texts: Default::default(),
        };
        let client = ClientRecord {
            client_id: ClientId::new("alexa"),
            name: "Test Skill".into(),
            secret_hash: hash_client_secret(&server.rng, &ClientSecret::new(SECRET)),
            previous_secret_hash: None,
            previous_secret_expires_at: None,
            redirect_uris: REDIRECTS.map(RedirectUri::new).to_vec(),
            scope: ScopeSet::parse("smart_home profile").unwrap(),
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            created_at: T0,
            grants_since: None,
            // The rotation rules are what most suites exercise; the tests of
            // the default policy set `Never` (`Server::set_rotation`).
            refresh_rotation: RefreshRotation::Always,
            generation: 0,
            lwa_client_id: None,
            lwa_client_secret: None,
        };
        let mut machine = client.clone();
        machine.client_id = ClientId::new("machine");
        machine.grant_types = vec![GrantType::ClientCredentials];
        machine.redirect_uris = vec![];
        let user = UserRecord {
            id: UserId::new("user-1"),
            username: "alice".into(),
            display_name: "Alice".into(),
            password_hash: Some(match password {
                Some(p) => hash_password(&server.rng, &Password::new(p)),
                None => "pbkdf2-sha256$1$AAAA$AAAA".into(),
            }),
            identities: vec![],
            created_at: T0,
            claims: None,
        };
        for c in [&client, &machine] {
            server.put_client(c);
        }
        block_on(put_json(&server.store, &keys::user("alice"), &user, None)).unwrap();
        server
    }

    /// Writes a client record into the store, as `admin` does.
    pub fn put_client(&self, client: &ClientRecord) {
        block_on(put_json(
            &self.store,
            &keys::client(&client.client_id),
            client,
            None,
        ))
        .unwrap();
    }

    /// Sets the Alexa client's refresh policy, as `admin client update
    /// --refresh-rotation` does.
    pub fn set_rotation(&self, rotation: RefreshRotation) {
        self.edit_client("alexa", |c| c.refresh_rotation = rotation);
    }

    /// Storage operations so far, in KV and in every grant object:
    /// (reads, writes).
    pub fn operations(&self) -> (usize, usize) {
        let mut ops = self.store.operations();
        if let Some(objects) = &self.objects {
            for store in objects.0.borrow().values() {
                let (r, w) = store.operations();
                ops = (ops.0 + r, ops.1 + w);
            }
        }
        ops
    }

    /// Writes made while `f` runs, in KV and in every grant object.
    pub fn writes_during<T>(&self, f: impl FnOnce() -> T) -> (T, usize) {
        let before = self.operations().1;
        let out = f();
        (out, self.operations().1 - before)
    }

    /// Changes a stored client record, as `admin client update` would.
    pub fn edit_client(&self, id: &str, edit: impl FnOnce(&mut ClientRecord)) {
        let mut client = block_on(self.store.client(&ClientId::new(id)))
            .unwrap()
            .unwrap();
        edit(&mut client);
        self.put_client(&client);
    }

    pub fn send(&self, req: Request) -> Response {
        self.send_via(&self.revocations, req)
    }

    /// Sends through another isolate's revocation cache (same store, same clock).
    pub fn send_via(&self, revocations: &RevocationCache, req: Request) -> Response {
        match &self.objects {
            None => self.send_on(&self.store, revocations, req),
            Some(objects) => {
                let store = DurableGrants {
                    kv: &self.store,
                    objects,
                };
                self.send_on(&store, revocations, req)
            }
        }
    }

    /// The core's context for a request on `store`, through `revocations`
    /// (one isolate's cache): the one place a test builds a [`Ctx`].
    pub fn ctx<'s, S>(&'s self, store: &'s S, revocations: &'s RevocationCache) -> Ctx<'s, S> {
        Ctx {
            store,
            config: &self.config,
            now: self.now.get(),
            rng: &self.rng,
            revocations,
            limiter: &self.limiter,
            pbkdf2: &crate::password::RustPbkdf2,
            clients: &self.clients,
            outbound: self.outbound(),
            alexa: &self.alexa,
            texts: &self.texts,
            es256: self.es256.as_ref().map(|k| k as &dyn crate::es256::Es256),
        }
    }

    /// Sends on a store of the test's own (a gated or two-location one), with
    /// this server's configuration, clock and caches.
    pub fn send_on<S: GrantStore>(
        &self,
        store: &S,
        revocations: &RevocationCache,
        req: Request,
    ) -> Response {
        block_on(handle(&req, &self.ctx(store, revocations)))
    }

    /// Every stored key and value, in KV and in the grant objects.
    pub fn dump(&self) -> Vec<(String, String)> {
        let mut all = self.store.dump();
        if let Some(objects) = &self.objects {
            for store in objects.0.borrow().values() {
                all.extend(store.dump());
            }
        }
        all
    }
}
