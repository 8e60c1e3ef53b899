//! Access tokens: JWTs (RFC 7519) signed with HMAC-SHA256 (RFC 7518 §3.2), or
//! with ES256 where the deployment has a key for it (see `src/es256.rs`),
//! in the shape of RFC 9068 (`typ: at+jwt`, `client_id`, `scope`, `jti`).
//!
//! Signed tokens let a resource server check a token without a storage read; the
//! `kid` header names the key, so a new key can be rolled in while tokens signed
//! with the previous one still verify.

use crate::claims::UserClaims;
use crate::crypto::{b64url, b64url_decode, hmac_sha256, HmacSha256};
use hmac::Mac;
use serde::{Deserialize, Serialize};

/// An HMAC signing key and its id.
pub struct SigningKey {
    kid: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey(kid={}, [redacted])", self.kid)
    }
}

/// Shortest signing key accepted, in bytes (RFC 7518 §3.2: at least the hash size).
pub const MIN_KEY_BYTES: usize = 32;

impl SigningKey {
    /// A key from its secret. The `kid` is derived from the secret (a truncated
    /// HMAC of a fixed label), so it is stable across deploys without more
    /// configuration and says nothing useful about the key.
    pub fn new(secret: &[u8]) -> Option<Self> {
        if secret.len() < MIN_KEY_BYTES {
            return None;
        }
        let kid = b64url(&hmac_sha256(secret, b"alexa-oauth key id")[..9]);
        Some(Self {
            kid,
            secret: secret.to_vec(),
        })
    }

    /// A sub-key for another purpose (e.g. the login form's CSRF tokens), so no two
    /// uses ever share a key.
    pub fn derive(&self, label: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.secret, label)
    }
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The audience (RFC 9068 §2.2, which requires it): the client the token
    /// was issued to, which is the skill that presents it. `None` only in a
    /// token from before it was added, which still verifies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// The user's stable id, or the client id for `client_credentials`.
    pub sub: String,
    pub client_id: String,
    pub scope: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
    /// The grant this token was issued under, so a revoked grant can be recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    /// The user's display name, so `/userinfo` needs no storage read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The user's provider identities and own claims (see
    /// [`crate::claims`]), as top-level members of the payload after the
    /// ones above: appended when signing, taken back out by [`Jws::claims`].
    #[serde(skip)]
    pub extra: Option<UserClaims>,
}

impl Claims {
    /// The payload's JSON: the claims above, then the user's own.
    fn payload(&self) -> Vec<u8> {
        let mut json = self.protocol_json();
        if let Some(extra) = &self.extra {
            extra.splice_into(&mut json);
        }
        json
    }

    /// The JSON of the fields above alone. Not inlined: signing and
    /// verifying share one copy in the wasm.
    #[inline(never)]
    fn protocol_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("claims serialise")
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
}

/// Signs `claims` with `key`: `base64url(header).base64url(claims).base64url(mac)`.
pub fn sign(claims: &Claims, key: &SigningKey) -> String {
    let header = Header {
        alg: "HS256".into(),
        typ: "at+jwt".into(),
        kid: key.kid.clone(),
    };
    let mut token = b64url(&serde_json::to_vec(&header).expect("header serialises"));
    token.push('.');
    token.push_str(&b64url(&claims.payload()));
    let mac = hmac_sha256(&key.secret, token.as_bytes());
    token.push('.');
    token.push_str(&b64url(&mac));
    token
}

/// Why a token was refused. Callers answer `invalid_token` for all of them; the
/// distinction is for logs and tests.
#[derive(Debug, PartialEq, Eq)]
pub enum VerifyError {
    Malformed,
    /// `alg` is not one this deployment signs with (RFC 8725 §3.1: never
    /// trust the header's choice).
    WrongAlgorithm,
    UnknownKey,
    BadSignature,
    Expired,
    /// The token names a key this deployment is configured with but could
    /// not use: a configuration error (the reason names the setting), never
    /// the token's fault, so never `invalid_token`.
    KeyUnavailable(&'static str),
}

/// Verifies an HS256 token against any of `keys` (chosen by `kid`) and checks
/// `exp`.
pub fn verify(token: &str, keys: &[&SigningKey], now: u64) -> Result<Claims, VerifyError> {
    let jws = Jws::parse(token)?;
    if jws.header.alg != "HS256" {
        return Err(VerifyError::WrongAlgorithm);
    }
    jws.check_hmac(keys)?;
    jws.claims(now, 0)
}

/// A token taken apart, its signature not yet checked.
pub struct Jws<'a> {
    header: Header,
    /// `base64url(header).base64url(claims)`: what the signature covers.
    signed: &'a str,
    payload: &'a str,
    sig: Vec<u8>,
}

impl<'a> Jws<'a> {
    pub fn parse(token: &'a str) -> Result<Self, VerifyError> {
        if token.len() > 4096 {
            return Err(VerifyError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VerifyError::Malformed);
        };
        let header: Header = b64url_decode(h)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(VerifyError::Malformed)?;
        Ok(Self {
            header,
            signed: &token[..h.len() + 1 + p.len()],
            payload: p,
            sig: b64url_decode(s).ok_or(VerifyError::Malformed)?,
        })
    }

    /// The header's `alg`. Only a check of the signature with the key that
    /// `alg` and `kid` name makes the token valid (RFC 8725 §3.1).
    pub fn alg(&self) -> &str {
        &self.header.alg
    }

    pub fn kid(&self) -> &str {
        &self.header.kid
    }

    pub fn signed(&self) -> &[u8] {
        self.signed.as_bytes()
    }

    pub fn signature(&self) -> &[u8] {
        &self.sig
    }

    /// Checks an HS256 signature against the key the `kid` names.
    pub fn check_hmac(&self, keys: &[&SigningKey]) -> Result<(), VerifyError> {
        let key = keys
            .iter()
            .find(|k| k.kid == self.header.kid)
            .ok_or(VerifyError::UnknownKey)?;
        let mut mac = HmacSha256::new_from_slice(&key.secret).expect("any key length");
        mac.update(self.signed.as_bytes());
        // verify_slice compares in constant time and refuses a truncated tag.
        mac.verify_slice(&self.sig)
            .map_err(|_| VerifyError::BadSignature)
    }

    /// The claims, once the signature was checked; expired when `exp` is
    /// `leeway` seconds or more before `now`.
    pub fn claims(&self, now: u64, leeway: u64) -> Result<Claims, VerifyError> {
        let payload = b64url_decode(self.payload).ok_or(VerifyError::Malformed)?;
        let mut claims: Claims =
            serde_json::from_slice(&payload).map_err(|_| VerifyError::Malformed)?;
        // Every payload is `Claims::payload`'s: the fields above as serde
        // writes them, then the extra members.
        claims.extra = UserClaims::spliced(&claims.protocol_json(), &payload);
        if claims.exp.saturating_add(leeway) <= now {
            return Err(VerifyError::Expired);
        }
        Ok(claims)
    }
}

/// Signs `claims` with ES256 (RFC 7518 §3.4) with the deployment's current
/// key; `None` if the runtime could not sign.
pub async fn sign_es256(claims: &Claims, keys: &dyn crate::es256::Es256) -> Option<String> {
    let header = Header {
        alg: "ES256".into(),
        typ: "at+jwt".into(),
        kid: keys.signing_kid()?.to_owned(),
    };
    let mut token = b64url(&serde_json::to_vec(&header).expect("header serialises"));
    token.push('.');
    token.push_str(&b64url(&claims.payload()));
    let sig = keys.sign(token.as_bytes()).await?;
    token.push('.');
    token.push_str(&b64url(&sig));
    Some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str) -> SigningKey {
        SigningKey::new(secret.as_bytes()).unwrap()
    }

    fn claims() -> Claims {
        Claims {
            iss: "https://auth.example".into(),
            aud: Some("alexa".into()),
            sub: "u_1".into(),
            client_id: "alexa".into(),
            scope: "smart_home".into(),
            iat: 1_000,
            exp: 4_600,
            jti: "j1".into(),
            gid: None,
            name: None,
            extra: None,
        }
    }

    #[test]
    fn users_claims_travel_as_top_level_members() {
        let k = key("0123456789abcdef0123456789abcdef");
        let mut c = claims();
        let map = [("bridge_url".to_owned(), "https://b.example".to_owned())].into();
        let ids = ["google:1".to_owned()];
        c.extra = UserClaims::for_tokens(&ids, UserClaims::from_map(&map).as_ref());
        let token = sign(&c, &k);
        let payload = b64url_decode(token.split('.').nth(1).unwrap()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(v["bridge_url"], "https://b.example");
        assert_eq!(v["identities"][0], "google:1");
        assert_eq!(verify(&token, &[&k], 2_000).unwrap(), c);
        assert_eq!(v["aud"], "alexa", "RFC 9068 §2.2");

        // A token from before `aud` was written keeps verifying, with its
        // user's claims, for the hour it has left.
        c.aud = None;
        let old = sign(&c, &k);
        assert_eq!(verify(&old, &[&k], 2_000).unwrap(), c);
    }

    #[test]
    fn known_vector() {
        // The HS256 MAC of a fixed signing input, computed independently with
        // `printf '%s' "$input" | openssl dgst -sha256 -hmac "$key" -binary | basenc --base64url`.
        let k = key("0123456789abcdef0123456789abcdef");
        let input = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1XzEifQ";
        assert_eq!(
            b64url(&hmac_sha256(&k.secret, input.as_bytes())),
            "c9ykQMBzPYN-mCRASOITJtOzeKOynYnnDy_Uj9TXuj0"
        );
    }

    #[test]
    fn sign_then_verify() {
        let k = key("0123456789abcdef0123456789abcdef");
        let token = sign(&claims(), &k);
        assert!(token.len() < 1024);
        assert_eq!(verify(&token, &[&k], 1_001).unwrap(), claims());
    }

    #[test]
    fn refuses_expiry_tampering_and_other_keys() {
        let k = key("0123456789abcdef0123456789abcdef");
        let token = sign(&claims(), &k);
        assert_eq!(verify(&token, &[&k], 4_600), Err(VerifyError::Expired));
        let other = key("fedcba9876543210fedcba9876543210");
        assert_eq!(
            verify(&token, &[&other], 1_001),
            Err(VerifyError::UnknownKey)
        );
        // Changed payload.
        let mut c = claims();
        c.sub = "u_2".into();
        let forged = sign(&c, &k);
        let mixed = format!(
            "{}.{}.{}",
            token.split('.').next().unwrap(),
            forged.split('.').nth(1).unwrap(),
            token.split('.').nth(2).unwrap()
        );
        assert_eq!(verify(&mixed, &[&k], 1_001), Err(VerifyError::BadSignature));
        // Truncated signature.
        let (signed, sig) = token.rsplit_once('.').unwrap();
        let truncated = format!("{signed}.{}", b64url(&b64url_decode(sig).unwrap()[..16]));
        assert_eq!(
            verify(&truncated, &[&k], 1_001),
            Err(VerifyError::BadSignature)
        );
        let chopped = &token[..token.len() - 4];
        assert!(verify(chopped, &[&k], 1_001).is_err());
        // alg: none.
        let none_header = b64url(br#"{"alg":"none","typ":"at+jwt","kid":"x"}"#);
        let none = format!("{none_header}.{}.", token.split('.').nth(1).unwrap());
        assert_eq!(
            verify(&none, &[&k], 1_001),
            Err(VerifyError::WrongAlgorithm)
        );
    }
}
