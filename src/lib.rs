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
//! This list is the project's one file map; the README links here, and
//! `npm test` checks that every path it names exists.
//!
//! The endpoints, in `src/endpoint/`:
//! - `endpoint/mod.rs`: the router, from a path to its endpoint; the headers
//!   every answer gets.
//! - `endpoint/authorize/mod.rs`: `/authorize` (RFC 6749 §4.1.1-2): check the
//!   request (`check.rs`), show the login page, sign in with a password
//!   (`password.rs`), issue the code.
//! - `endpoint/provider/mod.rs`: sign-in through a provider, `/signin/<provider>`
//!   and `/callback/<provider>` (`callback.rs`), with the pending sign-in
//!   sealed in a cookie (`state.rs`) and where it returns (`Return`).
//! - `endpoint/sign_in.rs`: a password sign-in under the attempt limits,
//!   shared by the login page and the account page.
//! - `endpoint/forms.rs`: the shared front of the pages' forms: the CSRF
//!   nonce, reading a form, its CSRF check, the providers' buttons.
//! - `endpoint/account/mod.rs` (where `ACCOUNT_PAGES` is on): `/account`;
//!   its sessions (`session.rs`), `/invite/<token>` and `/reset/<token>`
//!   (`password_link.rs`), and its provider buttons,
//!   `/account/signin/<provider>` (`with_provider.rs`).
//! - `endpoint/token.rs`: `/token` and its three grants (§4.1.3, §4.4, §6).
//! - `endpoint/userinfo.rs`: `/userinfo`, the skill's way from a token to a user (RFC 6750).
//! - `endpoint/introspect.rs`: `/introspect` (RFC 7662).
//! - `endpoint/revoke.rs`: `/revoke` (RFC 7009).
//! - `endpoint/admin.rs`: `/admin/grants` (Durable Object mode, with
//!   `ADMIN_TOKEN`): the grants, for `admin export` and `admin import`.
//! - `endpoint/alexa.rs`: `/alexa/accept-grant` and `/alexa/events`, for a
//!   skill that sends events to Alexa ([`alexa`]).
//! - `endpoint/discovery.rs`: `/.well-known/oauth-authorization-server` (RFC 8414).
//! - `endpoint/front.rs`: the shared JSON front of the client-authenticated
//!   endpoints: reading the form, rejections, RFC 6749 §5.2 error answers.
//!
//! The rules:
//! - [`grant`]: the refresh policy, refresh-token rotation, code redemption,
//!   revocation tombstones, removals; the grant store of each mode
//!   (`grant/kv.rs`, `grant/durable.rs`).
//! - [`client_auth`]: client authentication, Basic or body (§2.3.1).
//! - [`registration`]: what a valid client, redirect URI and username are, and
//!   how `admin` adds a client.
//! - [`users`]: what adding, replacing and changing a user keeps, that an
//!   identity signs in as one user, password links: `admin` and the account
//!   pages share them.
//! - [`jwt`]: access tokens as HS256 JWTs (RFC 7519, RFC 9068), or ES256
//!   ([`es256`]).
//! - [`claims`]: a user's own claims and identities, as token members.
//! - [`pkce`]: PKCE S256 (RFC 7636).
//! - [`password`]: PBKDF2 password hashes.
//! - `csrf`: the CSRF tokens of every form, and the device cookie.
//! - [`throttle`]: limits on sign-in attempts and failed client authentications.
//! - [`provider`]: sign-in through Amazon, Google, GitHub or an OpenID Connect
//!   provider (the provider's side; our endpoints are in `endpoint/provider/`).
//! - [`config`]: the settings, and the `GRANT_STORE` rule.
//! - [`alexa`]: Alexa's side of the link: AcceptGrant's event tokens from
//!   Login with Amazon (`alexa/lwa.rs` speaks to it), and events sent to the
//!   user's region (`alexa/events.rs`, with the isolate's copies); our
//!   endpoints are in `endpoint/alexa.rs`.
//!
//! Storage:
//! - [`store`]: the `Store` trait, the records, every KV key ([`store::keys`]),
//!   the client cache, the in-memory store of the tests, and the file of
//!   `admin export` and `import` ([`store::backup`]).
//!
//! The leaves, which import nothing of the crate:
//! - [`types`]: identifier newtypes, redacted secret types, the grant types.
//! - [`error`]: RFC 6749 error codes, and the store's error.
//! - [`http`]: the request and response the core speaks.
//! - [`outbound`]: the calls the core makes out (providers, Login with Amazon,
//!   the Alexa gateways), through a `Fetch` the glue or a test passes in.
//!
//! And:
//! - [`crypto`]: randomness, token hashes, constant-time comparison.
//! - [`form`]: form and query decoding.
//! - `page`: the HTML pages, from `static/`.
//! - `worker_glue/` (wasm32 only): the Worker's entry point, KV, secrets, the
//!   clock, and the runtime's WebCrypto and `fetch` for the core.
//! - `testing` (feature `testing`): the fixture shared by tests, benches and fuzz targets.
//! - `src/bin/admin/`: the native `admin` command that writes clients and users.

pub mod alexa;
pub mod claims;
pub mod client_auth;
pub mod config;
pub mod crypto;
mod csrf;
mod endpoint;
pub mod error;
pub mod es256;
pub mod form;
pub mod grant;
pub mod http;
pub mod i18n;
pub mod jwt;
pub mod outbound;
mod page;
pub mod password;
pub mod pkce;
pub mod provider;
pub mod registration;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod throttle;
pub mod types;
pub mod users;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod worker_glue;

pub use config::{
    durable_grants_in_wrangler_toml, is_durable_grant_store, var_in_wrangler_toml, Config,
    ConfigError, ACCESS_TOKEN_TTL, ACCESS_TOKEN_TTL_RANGE, CODE_TTL,
};
pub use endpoint::{handle, log_path};

use crypto::Rng;
use http::Request;

/// Everything a handler is given besides the request.
pub struct Ctx<'a, S> {
    pub store: &'a S,
    pub config: &'a Config,
    /// Unix time in seconds.
    pub now: u64,
    pub rng: &'a dyn Rng,
    /// This isolate's cache of revocation tombstones.
    pub revocations: &'a grant::RevocationCache,
    /// The attempt counters (the Rate Limiting bindings).
    pub limiter: &'a dyn throttle::Limiter,
    /// PBKDF2 for sign-in: WebCrypto in the Worker, pure Rust natively.
    pub pbkdf2: &'a dyn password::Pbkdf2,
    /// This isolate's copies of client records.
    pub clients: &'a store::ClientCache,
    /// Outbound HTTP and signature checks: providers, LWA and the Alexa gateways.
    pub outbound: outbound::Outbound<'a>,
    /// This isolate's copies of event records and LWA access tokens.
    pub alexa: &'a alexa::EventTokenCache,
    /// This isolate's copy of the operator's page texts.
    pub texts: &'a i18n::OverridesCache,
    /// ES256 with the deployment's keys, when `ACCESS_TOKEN_ALG` is ES256 and
    /// they could be read.
    pub es256: Option<&'a dyn es256::Es256>,
}

impl<S> Ctx<'_, S> {
    /// An access token's claims, once its signature checks out with the key
    /// its `alg` and `kid` name (HS256 always; ES256 where the deployment has
    /// it) and it has not expired more than `leeway` seconds ago.
    pub async fn verify_access_token(
        &self,
        token: &str,
        leeway: u64,
    ) -> Result<jwt::Claims, jwt::VerifyError> {
        let jws = jwt::Jws::parse(token)?;
        match jws.alg() {
            "HS256" => jws.check_hmac(&self.config.verification_keys())?,
            "ES256" => {
                let keys = self.es256.ok_or(jwt::VerifyError::WrongAlgorithm)?;
                if !keys.keys().iter().any(|k| k.kid == jws.kid()) {
                    // A key we should hold but could not use may have signed it.
                    return Err(keys.unusable().map_or(
                        jwt::VerifyError::UnknownKey,
                        jwt::VerifyError::KeyUnavailable,
                    ));
                }
                if !keys.verify(jws.kid(), jws.signed(), jws.signature()).await {
                    return Err(jwt::VerifyError::BadSignature);
                }
            }
            _ => return Err(jwt::VerifyError::WrongAlgorithm),
        }
        jws.claims(self.now, leeway)
    }

    /// The `iss` of our tokens: the configured issuer or the request's origin.
    pub fn issuer(&self, req: &Request) -> String {
        self.config
            .issuer
            .clone()
            .unwrap_or_else(|| req.origin.clone())
    }
}
