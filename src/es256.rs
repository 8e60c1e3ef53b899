//! Access tokens a skill can verify offline: ES256 (ECDSA on P-256 with
//! SHA-256, RFC 7518 §3.4) with the private key in the secret
//! `ES256_PRIVATE_KEY`, and the public keys served as a JWK Set (RFC 7517) at
//! `/.well-known/jwks.json`.
//!
//! Sans-I/O like the rest of the core: the signing and verifying is done by
//! an [`Es256`] passed in, WebCrypto in the Worker (`worker_glue/es256.rs`)
//! and the `p256` crate natively ([`native`]). What is here is what both
//! share: reading the secret, the key ids, the JWK Set.

use std::future::Future;
use std::pin::Pin;

use serde::Serialize;

use crate::crypto::{b64url, sha256_b64url};

/// A public key, as the JWK Set serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicJwk {
    pub kty: &'static str,
    pub crv: &'static str,
    /// The affine coordinates, 32 bytes each, base64url without padding.
    pub x: String,
    pub y: String,
    /// The RFC 7638 thumbprint ([`thumbprint`]).
    pub kid: String,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
}

impl PublicJwk {
    /// The JWK of a P-256 public point `(x, y)`.
    pub fn p256(x: &[u8], y: &[u8]) -> Self {
        Self::from_coordinates(b64url(x), b64url(y))
    }

    /// The JWK of a P-256 public point whose coordinates are already
    /// base64url (as WebCrypto exports them).
    pub fn from_coordinates(x: String, y: String) -> Self {
        Self {
            kid: thumbprint(&x, &y),
            kty: "EC",
            crv: "P-256",
            x,
            y,
            alg: "ES256",
            use_: "sig",
        }
    }
}

/// The JWK thumbprint (RFC 7638 §3) of a P-256 key: the SHA-256 of its
/// required members, in lexicographic order with no whitespace.
pub fn thumbprint(x: &str, y: &str) -> String {
    sha256_b64url(&format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#
    ))
}

/// `/.well-known/jwks.json`'s body.
#[derive(Serialize)]
pub struct KeySet<'a> {
    pub keys: &'a [PublicJwk],
}

/// The DER bytes of a PKCS#8 private key given as PEM, as `openssl genpkey`
/// and `admin key generate` print it. Also accepted, for places where a
/// secret cannot hold line breaks: the PEM with its line breaks written as
/// `\n`, or the base64 body alone.
pub fn pkcs8_der(secret: &str) -> Option<Vec<u8>> {
    let body: String = secret
        .replace("\\n", "\n")
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    if secret.contains("-----BEGIN") && !secret.contains("-----BEGIN PRIVATE KEY-----") {
        // "EC PRIVATE KEY" (SEC 1) and the rest are other formats.
        return None;
    }
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()
        .filter(|der| !der.is_empty())
}

pub type Signed<'a> = Pin<Box<dyn Future<Output = Option<Vec<u8>>> + 'a>>;
pub type Verified<'a> = Pin<Box<dyn Future<Output = bool> + 'a>>;

/// What is logged, and given as the reason of a refused request, when one of
/// the two secrets is not a key that can be used.
pub const CURRENT_UNUSABLE: &str = "ES256_PRIVATE_KEY is not a usable P-256 private key";
pub const PREVIOUS_UNUSABLE: &str = "ES256_PRIVATE_KEY_PREVIOUS is not a usable P-256 private key";

/// ES256 with this deployment's keys: the current one signs, it and the
/// previous one verify.
pub trait Es256 {
    /// The public keys that could be used, the current one first.
    fn keys(&self) -> &[PublicJwk];
    /// The current key's id; `None` when `ES256_PRIVATE_KEY` is unusable, and
    /// nothing can be signed.
    fn signing_kid(&self) -> Option<&str>;
    /// Why a configured key is missing from [`Es256::keys`], if one is. A
    /// token naming a key we lack may then be ours: refusing it would unlink
    /// its user, so it is a configuration error, never `invalid_token`.
    fn unusable(&self) -> Option<&'static str>;
    /// The signature of `input` with the current key, `r || s` (64 bytes,
    /// RFC 7518 §3.4); `None` if the runtime could not sign.
    fn sign<'a>(&'a self, input: &'a [u8]) -> Signed<'a>;
    /// Whether `sig` is a signature of `input` by the key named `kid`.
    fn verify<'a>(&'a self, kid: &'a str, input: &'a [u8], sig: &'a [u8]) -> Verified<'a>;
}

/// The deployment's keys, each imported on its own, so that a bad
/// `ES256_PRIVATE_KEY_PREVIOUS` during a rotation never throws away a good
/// current key (nor the reverse). `S` is a runtime's signing key, `V` its
/// verifying key.
pub struct KeyRing<S, V> {
    signing: Option<S>,
    verifying: Vec<V>,
    keys: Vec<PublicJwk>,
    unusable: Vec<&'static str>,
}

impl<S, V> KeyRing<S, V> {
    /// From what importing each key gave: the current key's signing and
    /// verifying halves, and the previous key's verifying half where one is
    /// set (`Some(None)`: set but unusable).
    pub fn new(
        current: Option<(S, V, PublicJwk)>,
        previous: Option<Option<(V, PublicJwk)>>,
    ) -> Self {
        let mut ring = Self {
            signing: None,
            verifying: Vec::new(),
            keys: Vec::new(),
            unusable: Vec::new(),
        };
        match current {
            Some((signing, verifying, jwk)) => {
                ring.signing = Some(signing);
                ring.verifying.push(verifying);
                ring.keys.push(jwk);
            }
            None => ring.unusable.push(CURRENT_UNUSABLE),
        }
        match previous {
            Some(Some((verifying, jwk))) => {
                ring.verifying.push(verifying);
                ring.keys.push(jwk);
            }
            Some(None) => ring.unusable.push(PREVIOUS_UNUSABLE),
            None => {}
        }
        ring
    }

    pub fn keys(&self) -> &[PublicJwk] {
        &self.keys
    }

    pub fn signing(&self) -> Option<&S> {
        self.signing.as_ref()
    }

    /// The current key's id, when it signs.
    pub fn signing_kid(&self) -> Option<&str> {
        self.signing.as_ref().map(|_| self.keys[0].kid.as_str())
    }

    /// The verifying key that `kid` names.
    pub fn verifying(&self, kid: &str) -> Option<&V> {
        let i = self.keys.iter().position(|k| k.kid == kid)?;
        self.verifying.get(i)
    }

    /// Every reason a configured key is missing, for the log.
    pub fn unusable_all(&self) -> &[&'static str] {
        &self.unusable
    }

    /// The first of them.
    pub fn unusable(&self) -> Option<&'static str> {
        self.unusable.first().copied()
    }
}

/// ES256 through the `p256` crate: the tests' signer, and `admin key
/// generate`'s keys.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub mod native {
    use p256::ecdsa::signature::{Signer, Verifier};
    use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
    use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};

    use super::{pkcs8_der, Es256, KeyRing, PublicJwk, Signed, Verified};

    /// A new private key, as PKCS#8 PEM.
    pub fn generate_pem() -> String {
        let key = SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        key.to_pkcs8_pem(LineEnding::LF)
            .expect("a P-256 key encodes")
            .to_string()
    }

    /// The deployment's keys: `current` signs; both verify.
    pub struct NativeEs256(KeyRing<SigningKey, VerifyingKey>);

    impl NativeEs256 {
        /// From the secrets' values (see [`pkcs8_der`]), each read on its
        /// own: one that is not a P-256 PKCS#8 key is left out and named by
        /// [`Es256::unusable`].
        pub fn new(current: &str, previous: Option<&str>) -> Self {
            let read = |pem: &str| SigningKey::from_pkcs8_der(&pkcs8_der(pem)?).ok();
            let public = |v: VerifyingKey| {
                let point = v.to_encoded_point(false);
                let jwk = PublicJwk::p256(
                    point.x().expect("uncompressed"),
                    point.y().expect("uncompressed"),
                );
                (v, jwk)
            };
            let current = read(current).map(|s| {
                let (v, jwk) = public(*s.verifying_key());
                (s, v, jwk)
            });
            let previous = previous.map(|p| read(p).map(|s| public(*s.verifying_key())));
            Self(KeyRing::new(current, previous))
        }
    }

    impl Es256 for NativeEs256 {
        fn keys(&self) -> &[PublicJwk] {
            self.0.keys()
        }
        fn signing_kid(&self) -> Option<&str> {
            self.0.signing_kid()
        }
        fn unusable(&self) -> Option<&'static str> {
            self.0.unusable()
        }
        fn sign<'a>(&'a self, input: &'a [u8]) -> Signed<'a> {
            let sig = self
                .0
                .signing()
                .map(|key| Signer::<Signature>::sign(key, input).to_bytes().to_vec());
            Box::pin(std::future::ready(sig))
        }
        fn verify<'a>(&'a self, kid: &'a str, input: &'a [u8], sig: &'a [u8]) -> Verified<'a> {
            let ok = self
                .0
                .verifying(kid)
                .zip(Signature::from_slice(sig).ok())
                .is_some_and(|(key, sig)| key.verify(input, &sig).is_ok());
            Box::pin(std::future::ready(ok))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thumbprint_is_rfc_7638s() {
        // RFC 7638 §3.1 shows an RSA key; for EC the members are crv, kty, x,
        // y. This key and its thumbprint come from `jose` (npm), computed
        // independently: calculateJwkThumbprint({kty, crv, x, y}).
        let x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
        let y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
        assert_eq!(
            thumbprint(x, y),
            "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"
        );
    }

    #[test]
    fn pem_in_any_of_its_forms() {
        let pem = native::generate_pem();
        let der = pkcs8_der(&pem).unwrap();
        assert_eq!(pkcs8_der(&pem.replace('\n', "\\n")), Some(der.clone()));
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        assert_eq!(pkcs8_der(&body), Some(der));
        assert_eq!(
            pkcs8_der("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----"),
            None
        );
        assert_eq!(pkcs8_der(""), None);
        assert_eq!(
            native::NativeEs256::new("not a key", None).unusable(),
            Some(CURRENT_UNUSABLE)
        );
    }
}
