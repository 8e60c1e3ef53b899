//! User passwords: PBKDF2-HMAC-SHA256 with a per-user salt.
//!
//! 100,000 iterations is the most workerd's WebCrypto will run, and the figure
//! the Worker can afford per login. The stored form names the iteration count, so
//! it can be raised later without breaking existing users.

use crate::crypto::{b64url, b64url_decode, ct_eq, Rng};
use crate::types::Password;
use sha2::Sha256;

pub const ITERATIONS: u32 = 100_000;

fn derive(password: &[u8], salt: &[u8], rounds: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, rounds, &mut out);
    out
}

/// Stored form: `pbkdf2-sha256$<iterations>$<salt>$<hash>` (base64url).
pub fn hash_password(rng: &dyn Rng, password: &Password) -> String {
    let mut salt = [0u8; 16];
    rng.fill(&mut salt);
    let hash = derive(password.secret().as_bytes(), &salt, ITERATIONS);
    format!(
        "pbkdf2-sha256${ITERATIONS}${}${}",
        b64url(&salt),
        b64url(&hash)
    )
}

/// Checks a password against its stored form in constant time. A malformed
/// stored form never matches.
pub fn verify_password(stored: &str, password: &Password) -> bool {
    let mut parts = stored.split('$');
    let (Some("pbkdf2-sha256"), Some(rounds), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Ok(rounds), Some(salt), Some(hash)) = (
        rounds.parse::<u32>(),
        b64url_decode(salt),
        b64url_decode(hash),
    ) else {
        return false;
    };
    if !(1..=10_000_000).contains(&rounds) {
        return false;
    }
    ct_eq(&derive(password.secret().as_bytes(), &salt, rounds), &hash)
}

/// Spends the same time as a real check, for logins with an unknown username, so
/// that response time does not tell which usernames exist.
pub fn verify_dummy(password: &Password) {
    let _ = derive(
        password.secret().as_bytes(),
        b"no-such-user-salt",
        ITERATIONS,
    );
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
        assert!(verify_password(&stored, &Password::new("correct horse")));
        assert!(!verify_password(&stored, &Password::new("correct hors")));
        assert!(!verify_password(
            "pbkdf2-sha256$0$AA$AA",
            &Password::new("")
        ));
    }
}
