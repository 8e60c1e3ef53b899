//! Sign-in through an identity provider: Login with Amazon, Google,
//! GitHub, or any OpenID Connect provider.
//!
//! The login page shows one link per configured provider ([`Providers`]). The
//! round trip is the authorization code flow with PKCE S256 (RFC 6749 §4.1,
//! RFC 7636), plus a `nonce` for OpenID Connect; the endpoint side (the state
//! record, the browser binding, who may link) is in
//! `endpoint/provider/`. This module speaks to the provider:
//! [`client`] builds the authorization URL, exchanges the code and finds out who
//! signed in; [`id_token`] checks an OpenID Connect ID token.
//!
//! Outbound HTTP and signature checks are passed in ([`Fetch`](crate::outbound::Fetch),
//! [`Signatures`]): `fetch` and WebCrypto in the Worker, stand-ins in the tests.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

pub mod client;
mod config;
pub mod id_token;

pub use client::{Failure, Identity};
pub use config::{allowed_url, Kind, Provider, ProviderSecret, Providers};

/// The JWS algorithms an ID token may use (RFC 7518 §3.1); anything else,
/// `none` and `HS256` included, is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA on P-256 with SHA-256; the signature is `r || s`, 64 bytes.
    Es256,
}

pub type Checked<'a> = Pin<Box<dyn Future<Output = Result<bool, String>> + 'a>>;

/// Checks a JWS signature with a public key given as a JWK (RFC 7517), in
/// JSON: WebCrypto in the Worker.
pub trait Signatures {
    fn verify<'a>(&'a self, alg: Alg, jwk: &'a str, signed: &'a [u8], sig: &'a [u8])
        -> Checked<'a>;
}

/// How long an isolate keeps a provider's discovery document and keys. A key
/// the copy lacks (a rotation) is fetched at once whatever its age.
pub const CACHE_SECONDS: u64 = 3600;

/// Per-isolate copies of each provider's discovery document and JWKS.
#[derive(Debug, Default)]
pub struct ProviderCache {
    discovery: RefCell<HashMap<String, (u64, client::Metadata)>>,
    jwks: RefCell<HashMap<String, (u64, std::rc::Rc<id_token::KeySet>)>>,
}

impl ProviderCache {
    fn get<T: Clone>(map: &RefCell<HashMap<String, (u64, T)>>, name: &str, now: u64) -> Option<T> {
        let map = map.borrow();
        let (at, value) = map.get(name)?;
        (now < at + CACHE_SECONDS).then(|| value.clone())
    }
}
