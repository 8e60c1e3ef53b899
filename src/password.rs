//! User passwords: PBKDF2-HMAC-SHA256 with a per-user salt.
//!
//! 100,000 iterations is the most a deployed Worker's WebCrypto will run, and
//! the figure the Worker can afford per login. The stored form names the
//! iteration count. The derivation itself is passed in ([`Pbkdf2`]): the Worker
//! uses WebCrypto, `admin` and the tests pure Rust, on one stored format.

use std::future::Future;
use std::pin::Pin;

use crate::crypto::{b64url, b64url_decode, ct_eq, Rng};
use crate::types::Password;
use sha2::Sha256;

/// The iteration count `admin` writes.
pub const ITERATIONS: u32 = 100_000;
/// The most deployed Workers' WebCrypto will run (`wrangler dev` does not
/// enforce it): a stored hash above it is refused before any work.
pub const MAX_ITERATIONS: u32 = 100_000;
const _: () = assert!(ITERATIONS <= MAX_ITERATIONS);

/// A PBKDF2-HMAC-SHA256 derivation of 32 bytes, or why it could not be done.
pub type Derived<'a> = Pin<Box<dyn Future<Output = Result<[u8; 32], String>> + 'a>>;

/// PBKDF2-HMAC-SHA256, passed in: in pure Rust natively ([`RustPbkdf2`], for
/// `admin` and the tests), with WebCrypto in the Worker, whose native code is
/// about three times faster than the same loop in wasm.
pub trait Pbkdf2 {
    fn derive<'a>(&'a self, password: &'a [u8], salt: &'a [u8], rounds: u32) -> Derived<'a>;
}

/// PBKDF2 in pure Rust.
#[derive(Debug, Default)]
pub struct RustPbkdf2;

impl Pbkdf2 for RustPbkdf2 {
    fn derive<'a>(&'a self, password: &'a [u8], salt: &'a [u8], rounds: u32) -> Derived<'a> {
        Box::pin(std::future::ready(Ok(derive(password, salt, rounds))))
    }
}

fn derive(password: &[u8], salt: &[u8], rounds: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, rounds, &mut out);
    out
}

/// Stored form: `pbkdf2-sha256$<iterations>$<salt>$<hash>` (base64url).
pub fn hash_password(rng: &dyn Rng, password: &Password) -> String {
    let mut salt = [0u8; 16];
    rng.fill(&mut salt);
    stored_form(
        &salt,
        &derive(password.secret().as_bytes(), &salt, ITERATIONS),
    )
}

/// The same, through `kdf`: the Worker sets passwords (invitations, resets,
/// the account page) with WebCrypto, which runs 100,000 rounds within its
/// CPU limits where the same loop in wasm would not.
pub async fn hash_password_with(
    kdf: &dyn Pbkdf2,
    rng: &dyn Rng,
    password: &Password,
) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rng.fill(&mut salt);
    let hash = kdf
        .derive(password.secret().as_bytes(), &salt, ITERATIONS)
        .await?;
    Ok(stored_form(&salt, &hash))
}

fn stored_form(salt: &[u8], hash: &[u8]) -> String {
    format!(
        "pbkdf2-sha256${ITERATIONS}${}${}",
        b64url(salt),
        b64url(hash)
    )
}

/// What checking a password against its stored form found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Match,
    NoMatch,
    /// The stored form cannot be checked here; the reason is for the log.
    Unusable(&'static str),
}

/// Checks a password against its stored form, comparing in constant time. A
/// malformed stored form never matches; one above [`MAX_ITERATIONS`] is
/// refused before any work.
pub async fn verify_password(kdf: &dyn Pbkdf2, stored: &str, password: &Password) -> Verdict {
    let mut parts = stored.split('$');
    let (Some("pbkdf2-sha256"), Some(rounds), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Verdict::Unusable("the stored password hash is malformed");
    };
    let (Ok(rounds), Some(salt), Some(hash)) = (
        rounds.parse::<u32>(),
        b64url_decode(salt),
        b64url_decode(hash),
    ) else {
        return Verdict::Unusable("the stored password hash is malformed");
    };
    if rounds > MAX_ITERATIONS {
        return Verdict::Unusable(
            "the stored password hash has more than 100,000 PBKDF2 iterations, which deployed \
             Workers refuse: set the password again with `admin user passwd`",
        );
    }
    if rounds == 0 {
        return Verdict::Unusable("the stored password hash is malformed");
    }
    match kdf
        .derive(password.secret().as_bytes(), &salt, rounds)
        .await
    {
        Ok(derived) if ct_eq(&derived, &hash) => Verdict::Match,
        Ok(_) => Verdict::NoMatch,
        Err(_) => Verdict::Unusable("PBKDF2 failed in the runtime"),
    }
}

/// Spends the same time as a real check, for logins with an unknown username, so
/// that response time does not tell which usernames exist.
pub async fn verify_dummy(kdf: &dyn Pbkdf2, password: &Password) {
    let salt = b"no-such-user-salt";
    let _ = kdf
        .derive(password.secret().as_bytes(), salt, ITERATIONS)
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::TestRng;

    #[test]
    fn rfc_6070_style_vector() {
        // PBKDF2-HMAC-SHA256, P="password", S="salt", c=1 (RFC 7914 §11 uses the
        // same construction; this vector is the widely published one).
        let out = derive(b"password", b"salt", 1);
        assert_eq!(out[..8], [0x12, 0x0f, 0xb6, 0xcf, 0xfc, 0xf8, 0xb3, 0x2c]);
    }

    #[test]
    fn round_trip() {
        let rng = TestRng::default();
        let stored = hash_password(&rng, &Password::new("correct horse"));
        assert!(stored.starts_with("pbkdf2-sha256$100000$"));
        let check = |stored: &str, p: &str| {
            pollster::block_on(verify_password(&RustPbkdf2, stored, &Password::new(p)))
        };
        assert_eq!(check(&stored, "correct horse"), Verdict::Match);
        assert_eq!(check(&stored, "correct hors"), Verdict::NoMatch);
        assert!(matches!(
            check("pbkdf2-sha256$0$AA$AA", ""),
            Verdict::Unusable(_)
        ));
        assert!(matches!(check("garbage", ""), Verdict::Unusable(_)));
        let with = pollster::block_on(hash_password_with(
            &RustPbkdf2,
            &rng,
            &Password::new("correct horse"),
        ))
        .unwrap();
        assert_eq!(check(&with, "correct horse"), Verdict::Match);
        assert_ne!(with, stored, "a salt of its own");
        let too_many = stored.replace("$100000$", "$100001$");
        assert!(matches!(
            check(&too_many, "correct horse"),
            Verdict::Unusable(why) if why.contains("100,000")
        ));
    }
}
