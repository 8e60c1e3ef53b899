//! A user's own claims: values the operator stores per user (`admin user
//! update --claim bridge_url=https://…`), carried as top-level members of the
//! user's access tokens and answered at `/userinfo`.
//!
//! They travel as JSON text ([`UserClaims`]): `admin` builds and checks them,
//! the user record holds them, and the Worker copies them from the user into
//! the code, the grant and each token without parsing them, so they cost the
//! wasm almost nothing. A grant holds a copy (as it holds the display name),
//! so a refresh reads nothing more; `admin user update` rewrites that copy in
//! the user's grants.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Names a user's claim may not take: those registered for JWTs (RFC 7519
/// §4.1) and for access tokens (RFC 9068 §2.2 and §7.2), OpenID Connect's
/// standard and ID token claims (Core §5.1 and §2), others from the IANA JWT
/// registry a verifier may act on (`cnf`, `act`, `sid`, …), and the ones this
/// server's tokens carry (`gid`, `identities`).
pub const RESERVED: &[&str] = &[
    // RFC 7519 §4.1
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti", // RFC 9068
    "client_id",
    "scope",
    "roles",
    "groups",
    "entitlements", // OIDC Core §2
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "c_hash",
    "sid", // OIDC Core §5.1
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
    // RFC 7800, RFC 8693, RFC 8417
    "cnf",
    "act",
    "may_act",
    "events",
    "typ",
    "cty",
    "alg",
    "kid",
    "jwk", // this server's
    "gid",
    "identities",
];

/// The most bytes a user's claims and identities may take together as JSON:
/// an access token should stay under 2 KB, as Login with Amazon's own do, and
/// the rest of an ES256 token takes about 700 bytes.
pub const MAX_BYTES: usize = 1024;

/// Why a claim was refused, in words for the operator.
pub fn check_name(name: &str) -> Result<(), String> {
    if RESERVED.contains(&name) {
        return Err(format!(
            "`{name}` is a registered JWT or OpenID Connect claim name; choose another \
             (a prefix such as `x_{name}` will do)"
        ));
    }
    let well_formed = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "claim name `{name}`: use 1 to 64 of a-z, 0-9 and _, starting with a letter"
        ))
    }
}

/// A JSON object of claims, kept as its text: a user's own claims (in the
/// user record), or every member a user's access tokens carry beyond the
/// protocol's (in a code and a grant: the identities, then the own claims).
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserClaims(String);

impl UserClaims {
    /// The claims of `map`; `None` when it is empty. Names are not checked
    /// here: [`check_name`] is for what an operator types.
    pub fn from_map(map: &BTreeMap<String, String>) -> Option<Self> {
        (!map.is_empty()).then(|| Self(serde_json::to_string(map).expect("strings serialise")))
    }

    /// The claims as a map: what `admin` shows and edits. Values that are not
    /// strings (never written by `admin`) are shown as their JSON.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        serde_json::from_slice::<BTreeMap<String, &RawValue>>(self.0.as_bytes())
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                let value = serde_json::from_slice::<String>(v.get().as_bytes())
                    .unwrap_or_else(|_| v.get().to_owned());
                (k, value)
            })
            .collect()
    }

    /// What a user's access tokens carry beyond the protocol's members:
    /// `identities` (`<provider>:<subject>`), then the user's own claims.
    pub fn for_tokens(identities: &[String], own: Option<&Self>) -> Option<Self> {
        let mut json = b"{}".to_vec();
        if !identities.is_empty() {
            json = br#"{"identities":"#.to_vec();
            json.extend(serde_json::to_vec(identities).expect("strings serialise"));
            json.push(b'}');
        }
        if let Some(own) = own {
            own.splice_into(&mut json);
        }
        (json.len() > 2).then(|| Self(String::from_utf8(json).expect("JSON is UTF-8")))
    }

    /// Appends these claims to the JSON object `json` (which ends in `}`),
    /// as members of its own. Text that is not an object is left out.
    pub fn splice_into(&self, json: &mut Vec<u8>) {
        let inner = self.inner().unwrap_or_default();
        if inner.is_empty() || json.pop() != Some(b'}') {
            return;
        }
        if json.last() != Some(&b'{') {
            json.push(b',');
        }
        json.extend_from_slice(inner.as_bytes());
        json.push(b'}');
    }

    /// The members [`Self::splice_into`] appended to `base` (an object's
    /// JSON) to give `joined`; `None` if `joined` is not `base` and more.
    /// This takes a token's extra claims back out of its payload with no
    /// JSON parsing of its own: a payload is the protocol claims as serde
    /// writes them (see [`crate::jwt::Claims`]), then these.
    pub fn spliced(base: &[u8], joined: &[u8]) -> Option<Self> {
        let open = base.strip_suffix(b"}")?;
        let rest = joined.strip_prefix(open)?.strip_suffix(b"}")?;
        let rest = if open == b"{" {
            rest
        } else {
            rest.strip_prefix(b",")?
        };
        if rest.is_empty() {
            return None;
        }
        let mut text = String::from("{");
        text.push_str(std::str::from_utf8(rest).ok()?);
        text.push('}');
        Some(Self(text))
    }

    /// Checks claims that come from outside the Worker (an import, a
    /// restore, a profile update): a JSON object of at most [`MAX_BYTES`],
    /// each name once, each passing [`check_name`], so that no record can
    /// slip a `sub`, `exp` or `client_id` into a token. `identities`, an
    /// array of strings, is allowed where `tokens` (a code's or a grant's
    /// copy, see [`Self::for_tokens`]).
    pub fn check(&self, tokens: bool) -> Result<(), String> {
        if self.0.len() > MAX_BYTES {
            return Err(format!(
                "claims of {} bytes, over {MAX_BYTES}",
                self.0.len()
            ));
        }
        let members = serde_json::from_slice::<Members>(self.0.as_bytes())
            .map_err(|_| "claims are not a JSON object".to_owned())?;
        let mut seen = std::collections::BTreeSet::new();
        for (name, value) in &members.0 {
            if !seen.insert(name.as_str()) {
                return Err(format!("claim `{name}` appears twice"));
            }
            if tokens && name == "identities" {
                serde_json::from_slice::<Vec<String>>(value.get().as_bytes())
                    .map_err(|_| "`identities` is not a list of strings".to_owned())?;
                continue;
            }
            check_name(name)?;
        }
        Ok(())
    }

    fn inner(&self) -> Option<&str> {
        let inner = self.0.trim().strip_prefix('{')?.strip_suffix('}')?;
        Some(inner.trim())
    }

    /// The JSON text, as stored.
    pub fn as_json(&self) -> &str {
        &self.0
    }
}

/// An object's members in order, duplicates kept (a map would keep only the
/// last of two `sub`s, which is what a verifier may do).
struct Members(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Visit)
    }
}

impl PartialEq for UserClaims {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for UserClaims {}

impl std::fmt::Debug for UserClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> UserClaims {
        let map = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        UserClaims::from_map(&map).unwrap()
    }

    #[test]
    fn names() {
        assert!(check_name("bridge_url").is_ok());
        assert!(check_name("sub").unwrap_err().contains("registered"));
        assert!(check_name("email").unwrap_err().contains("registered"));
        assert!(check_name("gid").is_err());
        assert!(check_name("Bridge").is_err());
        assert!(check_name("1x").is_err());
        assert!(check_name("").is_err());
        assert!(check_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn claims_from_outside_are_checked() {
        let text = |t: &str| serde_json::from_value::<UserClaims>(serde_json::json!(t)).unwrap();
        assert!(claims(&[("bridge_url", "b")]).check(false).is_ok());
        let tokens = UserClaims::for_tokens(&["idp:1".into()], Some(&claims(&[("tier", "gold")])));
        assert!(tokens.as_ref().unwrap().check(true).is_ok());
        assert!(
            tokens.unwrap().check(false).is_err(),
            "identities only in a token copy"
        );
        for bad in [
            r#"{"sub":"someone-else"}"#,
            r#"{"tier":"a","tier":"b"}"#,
            r#"{"exp":99999999999}"#,
            r#"{"Client_Id":"x"}"#,
            r#"["x"]"#,
            "not json",
            r#"{"identities":"idp:1"}"#,
        ] {
            assert!(text(bad).check(true).is_err(), "{bad}");
        }
        let big = format!(r#"{{"x":"{}"}}"#, "a".repeat(MAX_BYTES));
        assert!(text(&big).check(false).is_err());
    }

    #[test]
    fn splices_as_members() {
        let c = claims(&[("bridge_url", "https://h.example/\"q\""), ("tier", "gold")]);
        let mut json = br#"{"sub":"u1"}"#.to_vec();
        c.splice_into(&mut json);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["sub"], "u1");
        assert_eq!(v["bridge_url"], "https://h.example/\"q\"");
        assert_eq!(v["tier"], "gold");

        let mut empty = b"{}".to_vec();
        c.splice_into(&mut empty);
        assert!(serde_json::from_slice::<serde_json::Value>(&empty).is_ok());
    }

    #[test]
    fn not_an_object_is_left_out() {
        let odd: UserClaims = serde_json::from_str(r#""[\"x\"]""#).unwrap();
        let mut json = br#"{"sub":"u1"}"#.to_vec();
        odd.splice_into(&mut json);
        assert_eq!(json, br#"{"sub":"u1"}"#);
    }

    #[test]
    fn for_tokens_puts_identities_then_own_claims() {
        let own = claims(&[("bridge_url", "b")]);
        let ids = ["google:1".to_owned()];
        let all = UserClaims::for_tokens(&ids, Some(&own)).unwrap();
        let v: serde_json::Value = serde_json::from_str(all.as_json()).unwrap();
        assert_eq!(v["identities"][0], "google:1");
        assert_eq!(v["bridge_url"], "b");
        assert_eq!(
            UserClaims::for_tokens(&[], Some(&own)).unwrap().as_json(),
            r#"{"bridge_url":"b"}"#
        );
        assert!(UserClaims::for_tokens(&[], None).is_none());
    }

    #[test]
    fn spliced_gives_back_what_was_appended() {
        let own = claims(&[("a", "1"), ("b", "x,}")]);
        for base in [&br#"{"sub":"u"}"#[..], b"{}"] {
            let mut joined = base.to_vec();
            own.splice_into(&mut joined);
            assert_eq!(UserClaims::spliced(base, &joined), Some(own.clone()));
            assert_eq!(UserClaims::spliced(base, base), None);
        }
        // Not an extension of the base: nothing.
        let base = br#"{"sub":"u"}"#;
        assert_eq!(UserClaims::spliced(base, br#"{"sub":"v","a":"1"}"#), None);
        assert_eq!(UserClaims::spliced(base, br#"{"sub":"u"x"a":"1"}"#), None);
    }

    #[test]
    fn round_trips_in_a_record() {
        #[derive(Serialize, Deserialize)]
        struct R {
            #[serde(default, skip_serializing_if = "Option::is_none")]
            claims: Option<UserClaims>,
        }
        let r = R {
            claims: Some(claims(&[("a", "1")])),
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(text, r#"{"claims":"{\"a\":\"1\"}"}"#);
        let back: R = serde_json::from_str(&text).unwrap();
        assert_eq!(back.claims, r.claims);
        let none: R = serde_json::from_str("{}").unwrap();
        assert!(none.claims.is_none());
    }
}
