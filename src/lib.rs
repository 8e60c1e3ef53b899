//! An OAuth 2.0 authorization server (RFC 6749) for Alexa account linking, run as
//! a Cloudflare Worker.
//!
//! The protocol lives in a core that does no I/O of its own: it is handed a parsed
//! [`http::Request`], the time, a source of randomness, the configuration and a
//! [`store::Store`], and gives back an [`http::Response`]. It builds and is tested
//! natively; only `worker_glue` speaks to the Workers runtime.
//!
//! # Layout
//!
//! - [`authorize`]: `/authorize`, the login form, and issuing codes (RFC 6749 §4.1.1-2).
//! - [`token`]: `/token` and its three grants (§4.1.3, §4.4, §6).
//! - [`userinfo`]: `/userinfo`, the skill's way from a token to a user (RFC 6750).
//! - [`introspect`]: `/introspect` (RFC 7662).
//! - [`revoke`]: `/revoke` (RFC 7009).
//! - [`discovery`]: `/.well-known/oauth-authorization-server` (RFC 8414).
//! - [`grant`]: refresh-token rotation, code redemption, revocation tombstones and their cache.
//! - [`client_auth`]: client authentication, Basic or body (§2.3.1).
//! - [`jwt`]: access tokens as HS256 JWTs (RFC 7519, RFC 9068).
//! - [`pkce`]: PKCE S256 (RFC 7636).
//! - [`password`]: PBKDF2 password hashes.
//! - [`crypto`]: randomness, token hashes, constant-time comparison.
//! - [`throttle`]: limits on failed logins and client authentications.
//! - [`store`]: records, the KV key scheme, the `Store` trait and an in-memory store.
//! - [`objects`]: Durable Object mode, one object per grant for atomic codes and refreshes.
//! - [`types`]: identifier newtypes and redacted secret types.
//! - [`error`]: RFC 6749 error codes.
//! - [`form`]: form and query decoding, HTML escaping.
//! - [`http`]: the request and response the core speaks.
//! - [`page`]: the HTML pages, from `static/`.
//! - `worker_glue` (wasm32 only): the Worker's entry point, KV, secrets and the clock.
//! - `bin/admin.rs`: the native `admin` command that writes clients and users.

pub mod authorize;
pub mod client_auth;
pub mod crypto;
pub mod discovery;
pub mod error;
pub mod form;
pub mod grant;
pub mod http;
pub mod introspect;
pub mod jwt;
pub mod objects;
pub mod page;
pub mod password;
pub mod pkce;
pub mod revoke;
pub mod store;
pub mod throttle;
pub mod token;
pub mod types;
pub mod userinfo;

#[cfg(target_arch = "wasm32")]
mod worker_glue;

use crypto::Rng;
use http::{Method, Request, Response};
use jwt::SigningKey;
use store::Store;

/// Access tokens live one hour, as Alexa expects (`expires_in: 3600`).
pub const ACCESS_TOKEN_TTL: u64 = 3600;
/// Authorization codes live five minutes (RFC 6749 §4.1.2 recommends at most ten).
pub const CODE_TTL: u64 = 300;

/// Settings read once from the Worker's environment.
#[derive(Debug)]
pub struct Config {
    /// `ISSUER`; when unset, the origin the request came to.
    pub issuer: Option<String>,
    /// `SIGNING_KEY`; the error says what is wrong and how to fix it.
    pub signing_key: Result<SigningKey, ConfigError>,
    /// `SIGNING_KEY_PREVIOUS`: verifies tokens signed before a key rotation; signs nothing.
    pub previous_signing_key: Option<SigningKey>,
    /// `SCOPES_SUPPORTED`, space separated, for the discovery document.
    pub scopes_supported: Option<String>,
    /// `REFRESH_TOKEN_TTL` in seconds; unset or `0` means refresh tokens never expire.
    pub refresh_token_ttl: Option<u64>,
    /// `DEMO_CALLBACK=true` serves `/demo/callback`, a page that shows the code, for
    /// trying a link in a browser during local development.
    pub demo_callback: bool,
    /// `LOG_REQUESTS=false` turns off the per-request log line (on by default).
    pub log_requests: bool,
    /// `GRANT_STORE=DO` keeps grant state in Durable Objects; `KV` (the default)
    /// keeps everything in KV.
    pub durable_grants: bool,
}

/// A configuration mistake the operator must fix. Logged with its fix; the
/// endpoints answer `server_error` until then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub &'static str);

impl Config {
    /// Reads the settings through `var` (the Worker's env, or a test's map).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Config {
        let signing_key = match var("SIGNING_KEY") {
            None => Err(ConfigError(
                "SIGNING_KEY is not set. Locally: run `npm run dev`, which writes one to .dev.vars. \
                 In production: `openssl rand -base64 48 | npx wrangler secret put SIGNING_KEY`.",
            )),
            Some(k) => SigningKey::new(k.trim().as_bytes()).ok_or(ConfigError(
                "SIGNING_KEY is shorter than 32 bytes. Set a longer one: \
                 `openssl rand -base64 48 | npx wrangler secret put SIGNING_KEY`.",
            )),
        };
        Config {
            previous_signing_key: var("SIGNING_KEY_PREVIOUS")
                .and_then(|k| SigningKey::new(k.trim().as_bytes())),
            scopes_supported: var("SCOPES_SUPPORTED").filter(|s| !s.trim().is_empty()),
            issuer: var("ISSUER")
                .map(|s| s.trim_end_matches('/').to_owned())
                .filter(|s| !s.is_empty()),
            signing_key,
            refresh_token_ttl: var("REFRESH_TOKEN_TTL")
                .and_then(|s| s.trim().parse().ok())
                .filter(|&n: &u64| n > 0),
            demo_callback: var("DEMO_CALLBACK").is_some_and(|v| v == "true"),
            log_requests: var("LOG_REQUESTS").is_none_or(|v| v != "false"),
            durable_grants: var("GRANT_STORE").is_some_and(|v| v.eq_ignore_ascii_case("DO")),
        }
    }
}

impl Config {
    /// Every key a token may be signed with: the current one, then the previous.
    pub fn verification_keys(&self) -> Vec<&SigningKey> {
        self.signing_key
            .iter()
            .chain(self.previous_signing_key.iter())
            .collect()
    }

    /// The keys refresh tokens are derived with (see [`grant::Successors`]).
    pub fn successors(&self) -> grant::Successors {
        grant::Successors::new(self.verification_keys())
    }
}

/// Everything a handler is given besides the request.
pub struct Ctx<'a, S> {
    pub store: &'a S,
    pub config: &'a Config,
    /// Unix time in seconds.
    pub now: u64,
    pub rng: &'a dyn Rng,
    /// This isolate's copy of the revocation list.
    pub revocations: &'a grant::RevocationCache,
}

impl<S> Ctx<'_, S> {
    /// The `iss` of our tokens: the configured issuer or the request's origin.
    pub fn issuer(&self, req: &Request) -> String {
        self.config
            .issuer
            .clone()
            .unwrap_or_else(|| req.origin.clone())
    }
}

/// Routes one request to its endpoint.
pub async fn handle<S: Store>(req: &Request, ctx: &Ctx<'_, S>) -> Response {
    match req.path.as_str() {
        "/authorize" => authorize::handle(req, ctx).await,
        "/token" => token::handle(req, ctx).await,
        "/userinfo" => userinfo::handle(req, ctx).await,
        "/introspect" => introspect::handle(req, ctx).await,
        "/revoke" => revoke::handle(req, ctx).await,
        "/.well-known/oauth-authorization-server" => discovery::handle(req, ctx),
        "/static/login.css" => page::stylesheet(),
        "/demo/callback" if ctx.config.demo_callback => page::demo_callback(req),
        "/" if req.method() == Method::Get => Response::json(
            200,
            &serde_json::json!({
                "service": "alexa-oauth",
                "authorization_endpoint": format!("{}/authorize", ctx.issuer(req)),
                "token_endpoint": format!("{}/token", ctx.issuer(req)),
            }),
        ),
        _ => Response::json(404, &serde_json::json!({"error": "not_found"})),
    }
}
