//! Checking an OpenID Connect ID token (OpenID Connect Core 1.0 §3.1.3.7): a
//! JWS (RFC 7515) signed with RS256 or ES256 by a key in the provider's JWKS
//! (RFC 7517), whose `iss`, `aud`, `exp`, `iat` and `nonce` must hold.

use serde::Deserialize;
use serde_json::Value;

use super::{Alg, Signatures};
use crate::crypto::{b64url_decode, ct_eq};

/// Clock skew allowed between us and the provider, in seconds.
const LEEWAY: u64 = 60;

/// A provider's public keys: each JWK kept as its JSON for WebCrypto.
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<(Option<String>, String)>,
}

impl KeySet {
    /// Reads a JWKS document (`{"keys": [...]}`); `None` if it is not one.
    pub fn parse(body: &[u8]) -> Option<Self> {
        let doc: Value = serde_json::from_slice(body).ok()?;
        let keys = doc.get("keys")?.as_array()?;
        Some(Self {
            keys: keys
                .iter()
                .filter(|k| k.get("use").is_none_or(|u| u == "sig"))
                .map(|k| {
                    let kid = k.get("kid").and_then(Value::as_str).map(str::to_owned);
                    (kid, k.to_string())
                })
                .collect(),
        })
    }

    /// The key a token's header names; without a `kid`, the only key there is.
    pub fn find(&self, kid: Option<&str>) -> Option<&str> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|(k, _)| k.as_deref() == Some(kid))
                .map(|(_, jwk)| jwk.as_str()),
            None if self.keys.len() == 1 => Some(&self.keys[0].1),
            None => None,
        }
    }
}

/// Why an ID token was refused. Each names the rule it broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    Malformed,
    /// `alg` is not RS256 or ES256 (`none` and `HS256` included).
    Algorithm,
    /// No key in the JWKS has the token's `kid`, even after a refetch.
    UnknownKey,
    Signature,
    Issuer,
    Audience,
    Expired,
    IssuedInFuture,
    Nonce,
    NoSubject,
}

impl Invalid {
    pub fn reason(self) -> &'static str {
        match self {
            Self::Malformed => "the ID token is malformed",
            Self::Algorithm => "the ID token's alg is not RS256 or ES256",
            Self::UnknownKey => "the ID token's kid is not in the provider's JWKS",
            Self::Signature => "the ID token's signature is wrong",
            Self::Issuer => "the ID token's iss is not the provider's issuer",
            Self::Audience => "the ID token's aud is not our client id",
            Self::Expired => "the ID token has expired",
            Self::IssuedInFuture => "the ID token's iat is in the future",
            Self::Nonce => "the ID token's nonce is not the one we sent",
            Self::NoSubject => "the ID token has no sub",
        }
    }
}

/// A JWS in compact form, split but not yet trusted.
pub struct Jws<'a> {
    pub alg: Alg,
    pub kid: Option<String>,
    signed: &'a str,
    signature: Vec<u8>,
    claims: Value,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

impl<'a> Jws<'a> {
    pub fn parse(token: &'a str) -> Result<Self, Invalid> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Invalid::Malformed);
        };
        let decode = |s: &str| b64url_decode(s).ok_or(Invalid::Malformed);
        let header: Header = serde_json::from_slice(&decode(h)?).map_err(|_| Invalid::Malformed)?;
        let alg = match header.alg.as_str() {
            "RS256" => Alg::Rs256,
            "ES256" => Alg::Es256,
            _ => return Err(Invalid::Algorithm),
        };
        let claims: Value = serde_json::from_slice(&decode(p)?).map_err(|_| Invalid::Malformed)?;
        if !claims.is_object() {
            return Err(Invalid::Malformed);
        }
        Ok(Self {
            alg,
            kid: header.kid,
            signed: &token[..h.len() + 1 + p.len()],
            signature: decode(s)?,
            claims,
        })
    }

    /// Checks the signature with `jwk`.
    pub async fn verify(&self, sigs: &dyn Signatures, jwk: &str) -> Result<(), Invalid> {
        match sigs
            .verify(self.alg, jwk, self.signed.as_bytes(), &self.signature)
            .await
        {
            Ok(true) => Ok(()),
            _ => Err(Invalid::Signature),
        }
    }

    /// The claims, once the signature has been checked.
    pub fn claims(&self) -> &Value {
        &self.claims
    }
}

/// What the claims must say.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now: u64,
}

/// Checks the claims of a token whose signature holds; gives its `sub`.
pub fn check_claims(claims: &Value, want: &Expected<'_>) -> Result<String, Invalid> {
    let str_claim = |name: &str| claims.get(name).and_then(Value::as_str);
    let num_claim = |name: &str| claims.get(name).and_then(Value::as_u64);
    if str_claim("iss") != Some(want.issuer) {
        return Err(Invalid::Issuer);
    }
    // §3.1.3.7 (3)-(5): our id among the audiences; with several, `azp` is us.
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == want.client_id,
        Some(Value::Array(auds)) => {
            auds.iter().any(|a| a == want.client_id)
                && (auds.len() == 1 || str_claim("azp") == Some(want.client_id))
        }
        _ => false,
    };
    if !audience_ok {
        return Err(Invalid::Audience);
    }
    match num_claim("exp") {
        Some(exp) if exp + LEEWAY > want.now => {}
        _ => return Err(Invalid::Expired),
    }
    match num_claim("iat") {
        Some(iat) if iat <= want.now + LEEWAY => {}
        _ => return Err(Invalid::IssuedInFuture),
    }
    let nonce = str_claim("nonce").unwrap_or("");
    if !ct_eq(nonce.as_bytes(), want.nonce.as_bytes()) {
        return Err(Invalid::Nonce);
    }
    match str_claim("sub") {
        Some(sub) if !sub.is_empty() => Ok(sub.to_owned()),
        _ => Err(Invalid::NoSubject),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::b64url;
    use serde_json::json;

    fn token(header: Value, claims: Value) -> String {
        format!(
            "{}.{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes()),
            b64url(b"sig")
        )
    }

    fn want() -> Expected<'static> {
        Expected {
            issuer: "https://idp.example",
            client_id: "us",
            nonce: "n-1",
            now: 1_000_000,
        }
    }

    fn good() -> Value {
        json!({"iss": "https://idp.example", "aud": "us", "exp": 1_000_600, "iat": 1_000_000,
               "nonce": "n-1", "sub": "248289761001"})
    }

    #[test]
    fn only_rs256_and_es256_are_accepted() {
        for alg in ["none", "HS256", "RS512", "PS256"] {
            let t = token(json!({"alg": alg}), good());
            assert_eq!(Jws::parse(&t).err(), Some(Invalid::Algorithm), "{alg}");
        }
        let t = token(json!({"alg": "ES256", "kid": "k1"}), good());
        let jws = Jws::parse(&t).unwrap();
        assert_eq!((jws.alg, jws.kid.as_deref()), (Alg::Es256, Some("k1")));
        assert!(jws.signed.ends_with(t.split('.').nth(1).unwrap()));
        assert_eq!(jws.signature, b"sig");
        for bad in ["", "a.b", "a.b.c.d", "!.!.!"] {
            assert_eq!(Jws::parse(bad).err(), Some(Invalid::Malformed), "{bad}");
        }
    }

    #[test]
    fn each_claim_rule_refuses_its_own_breach() {
        assert_eq!(check_claims(&good(), &want()).unwrap(), "248289761001");
        let with = |k: &str, v: Value| {
            let mut c = good();
            c[k] = v;
            check_claims(&c, &want()).err()
        };
        assert_eq!(
            with("iss", json!("https://evil.example")),
            Some(Invalid::Issuer)
        );
        assert_eq!(with("aud", json!("them")), Some(Invalid::Audience));
        assert_eq!(with("aud", json!(["us", "them"])), Some(Invalid::Audience));
        assert_eq!(with("aud", json!(["us"])), None);
        assert_eq!(with("exp", json!(1_000_000 - 61)), Some(Invalid::Expired));
        assert_eq!(with("exp", json!(1_000_000 - 30)), None, "leeway");
        assert_eq!(
            with("iat", json!(1_000_000 + 120)),
            Some(Invalid::IssuedInFuture)
        );
        assert_eq!(with("nonce", json!("n-2")), Some(Invalid::Nonce));
        assert_eq!(with("nonce", Value::Null), Some(Invalid::Nonce));
        assert_eq!(with("sub", json!("")), Some(Invalid::NoSubject));
        let mut c = good();
        c["aud"] = json!(["us", "them"]);
        c["azp"] = json!("us");
        assert!(check_claims(&c, &want()).is_ok());
    }

    #[test]
    fn keys_are_found_by_kid() {
        let set = KeySet::parse(
            br#"{"keys":[{"kid":"a","kty":"RSA"},{"kid":"b","kty":"EC"},{"kid":"c","use":"enc"}]}"#,
        )
        .unwrap();
        assert!(set.find(Some("b")).unwrap().contains("\"EC\""));
        assert!(
            set.find(Some("c")).is_none(),
            "an encryption key signs nothing"
        );
        assert!(set.find(None).is_none(), "no kid among several keys");
        assert!(KeySet::parse(b"[]").is_none());
    }
}
