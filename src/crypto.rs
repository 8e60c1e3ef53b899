//! Randomness, hashing of stored secrets, and constant-time comparison.
//!
//! Randomness is passed in as a [`Rng`] so tests are deterministic; the Worker
//! and the admin command use [`OsRng`] (WebCrypto's `getRandomValues` in wasm).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::types::ClientSecret;

pub type HmacSha256 = Hmac<Sha256>;

/// A source of random bytes.
pub trait Rng {
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's (or the Worker runtime's) cryptographic generator.
pub struct OsRng;

impl Rng for OsRng {
    fn fill(&self, buf: &mut [u8]) {
        // Without randomness nothing we issue would be safe; there is no fallback.
        getrandom::fill(buf).expect("no system randomness");
    }
}

/// `n` random bytes as unpadded base64url: the form of every code, token and id we issue.
pub fn random_string(rng: &dyn Rng, n: usize) -> String {
    let mut buf = vec![0u8; n];
    rng.fill(&mut buf);
    B64URL.encode(buf)
}

pub fn b64url(bytes: &[u8]) -> String {
    B64URL.encode(bytes)
}

pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    B64URL.decode(s).ok()
}

/// The stored form of a code or refresh token: its SHA-256, as base64url. Made
/// only by [`token_hash`] (or read back from storage), so a raw code or token
/// cannot be passed where its hash belongs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Equality in constant time.
    pub fn ct_eq(&self, other: &Self) -> bool {
        ct_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Enough to tell two apart in a test failure; not the whole value.
        write!(f, "TokenHash({}…)", self.0.get(..6).unwrap_or(""))
    }
}

/// Hashes a high-entropy secret (a code or refresh token) for storage. These
/// secrets carry 256 random bits, so a plain hash is enough to make a leaked
/// store useless; no salt or stretching is needed.
pub fn token_hash(secret: &str) -> TokenHash {
    TokenHash(sha256_b64url(secret))
}

/// SHA-256 as unpadded base64url (PKCE's S256 transform, RFC 7636 §4.2).
pub fn sha256_b64url(s: &str) -> String {
    B64URL.encode(Sha256::digest(s.as_bytes()))
}

/// Equality that takes the same time wherever the inputs differ.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// HMAC-SHA256 of `msg` under `key`.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// Stored form of a client secret: `sha256$<salt>$<hash>`, both base64url.
///
/// Client secrets are generated with 256 random bits (or, when an operator brings
/// their own, required to be long), so a salted SHA-256 suffices and keeps the token
/// endpoint fast; passwords, which people choose, get PBKDF2 instead.
pub fn hash_client_secret(rng: &dyn Rng, secret: &ClientSecret) -> String {
    let mut salt = [0u8; 16];
    rng.fill(&mut salt);
    let hash = hmac_sha256(&salt, secret.secret().as_bytes());
    format!("sha256${}${}", B64URL.encode(salt), B64URL.encode(hash))
}

/// Checks a presented client secret against its stored form, in constant time.
pub fn verify_client_secret(stored: &str, presented: &ClientSecret) -> bool {
    let mut parts = stored.split('$');
    let (Some("sha256"), Some(salt), Some(hash), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Some(salt), Some(hash)) = (b64url_decode(salt), b64url_decode(hash)) else {
        return false;
    };
    ct_eq(&hmac_sha256(&salt, presented.secret().as_bytes()), &hash)
}

/// A deterministic [`Rng`] for tests: a counter run through SHA-256.
#[cfg(any(test, feature = "testing"))]
#[derive(Default)]
pub struct TestRng(std::cell::Cell<u64>);

#[cfg(any(test, feature = "testing"))]
impl Rng for TestRng {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(32) {
            let n = self.0.get();
            self.0.set(n + 1);
            let block = Sha256::digest(n.to_le_bytes());
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_secret_round_trip() {
        let rng = TestRng::default();
        let stored = hash_client_secret(&rng, &ClientSecret::new("s3cret-s3cret"));
        assert!(stored.starts_with("sha256$"));
        assert!(!stored.contains("s3cret"));
        assert!(verify_client_secret(
            &stored,
            &ClientSecret::new("s3cret-s3cret")
        ));
        assert!(!verify_client_secret(
            &stored,
            &ClientSecret::new("s3cret-s3creT")
        ));
        assert!(!verify_client_secret("garbage", &ClientSecret::new("x")));
    }

    #[test]
    fn random_strings_are_distinct_and_url_safe() {
        let rng = TestRng::default();
        let a = random_string(&rng, 32);
        let b = random_string(&rng, 32);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    #[test]
    fn sha256_vector() {
        // FIPS 180-2 "abc", base64url.
        assert_eq!(
            token_hash("abc").as_str(),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }
}
