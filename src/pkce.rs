//! Proof Key for Code Exchange (RFC 7636), S256 only.
//!
//! `plain` is refused: it protects nothing once the authorization request is
//! seen, and Alexa sends S256 when PKCE is turned on.

use serde::{Deserialize, Serialize};

use crate::crypto::{ct_eq, sha256_b64url};
use crate::types::CodeVerifier;

/// A code verifier as it travels to the stored code (into a Durable Object, in
/// that mode): its S256 transform, never the verifier itself. A malformed
/// verifier becomes a value no challenge matches.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VerifierS256(String);

impl std::fmt::Debug for VerifierS256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifierS256([redacted])")
    }
}

/// RFC 7636 §4.1/§4.2: 43 to 128 characters of `[A-Za-z0-9-._~]`. An S256
/// challenge is base64url of 32 bytes, so exactly 43 of `[A-Za-z0-9-_]`.
fn is_pkce_string(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether a `code_challenge` is a well-formed S256 challenge.
pub fn is_valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && is_pkce_string(challenge, 43, 43) && !challenge.contains(['.', '~'])
}

/// RFC 7636 §4.2: `BASE64URL(SHA256(ASCII(code_verifier)))`, taken as soon as
/// the verifier arrives.
pub fn s256(verifier: &CodeVerifier) -> VerifierS256 {
    if is_pkce_string(verifier.secret(), 43, 128) {
        VerifierS256(sha256_b64url(verifier.secret()))
    } else {
        VerifierS256(String::new())
    }
}

/// RFC 7636 §4.6: the transformed verifier equals the challenge, compared in
/// constant time. A malformed verifier never matches.
pub fn matches(verifier: &VerifierS256, challenge: &str) -> bool {
    !verifier.0.is_empty() && ct_eq(verifier.0.as_bytes(), challenge.as_bytes())
}

/// [`s256`] and [`matches()`] in one step.
pub fn verify_s256(verifier: &CodeVerifier, challenge: &str) -> bool {
    matches(&s256(verifier), challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7636_appendix_b() {
        let verifier = CodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(is_valid_challenge(challenge));
        assert!(verify_s256(&verifier, challenge));
        assert!(!verify_s256(
            &CodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"),
            challenge
        ));
    }

    #[test]
    fn malformed_values() {
        assert!(!is_valid_challenge("short"));
        assert!(!is_valid_challenge(&"a".repeat(44)));
        assert!(!verify_s256(&CodeVerifier::new("too-short"), "x"));
    }
}
