//! Protocol values as types: identifiers that can be printed, and secrets that cannot.
//!
//! Identifiers (`ClientId`, `RedirectUri`, `Scope`, …) are plain newtypes so that a
//! redirect URI can never be passed where a client id is expected. Secrets
//! (`AuthorizationCode`, `RefreshToken`, `ClientSecret`, `Password`, `CodeVerifier`)
//! print `[redacted]` in `Debug`, are read only through `secret()`, and are not
//! `Clone`, so a copy has to be made on purpose.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest value accepted for any single protocol parameter (ids, URIs, tokens).
/// Longer values are refused as `invalid_request` before any storage work.
pub const MAX_PARAM_LEN: usize = 2048;

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

identifier!(
    /// A registered client's identifier (RFC 6749 §2.2).
    ClientId
);
identifier!(
    /// A redirection endpoint URI (RFC 6749 §3.1.2). Compared by exact string
    /// equality only: no normalisation of case, trailing slash, port or query.
    RedirectUri
);
identifier!(
    /// The stable, opaque user id used as the token's `sub`; never the username.
    UserId
);
identifier!(
    /// One grant: the link between one user and one client, created by one code.
    /// Every refresh token of that link names it.
    GrantId
);

/// One scope token (RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scope(String);

impl Scope {
    pub fn parse(token: &str) -> Option<Self> {
        let ok = !token.is_empty()
            && token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        ok.then(|| Self(token.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Scope {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s).ok_or_else(|| format!("invalid scope token {s:?}"))
    }
}

impl From<Scope> for String {
    fn from(s: Scope) -> Self {
        s.0
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scope({:?})", self.0)
    }
}

/// A set of scope tokens, kept in the order first given, without duplicates.
/// Serialised as the RFC's space-separated string.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    /// Parses a space-separated `scope` parameter. `None` if any token is invalid.
    pub fn parse(value: &str) -> Option<Self> {
        let mut set = Self::default();
        for token in value.split(' ').filter(|t| !t.is_empty()) {
            let scope = Scope::parse(token)?;
            if !set.0.contains(&scope) {
                set.0.push(scope);
            }
        }
        Some(set)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }
    /// The scope to grant when `requested` is asked of `self` (RFC 6749 §3.3, §6):
    /// all of `self` when nothing is asked, else the request if it is non-empty
    /// and within `self`; `None` means `invalid_scope`.
    pub fn narrowed_to(&self, requested: Option<&Self>) -> Option<Self> {
        match requested {
            None => Some(self.clone()),
            Some(r) => (!r.is_empty() && r.is_subset_of(self)).then(|| r.clone()),
        }
    }

    /// True when every scope of `self` is also in `allowed`.
    pub fn is_subset_of(&self, allowed: &Self) -> bool {
        self.0.iter().all(|s| allowed.0.contains(s))
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(&s.0)?;
        }
        Ok(())
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScopeSet({:?})", self.to_string())
    }
}

impl TryFrom<String> for ScopeSet {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s).ok_or_else(|| format!("invalid scope {s:?}"))
    }
}

impl From<ScopeSet> for String {
    fn from(s: ScopeSet) -> Self {
        s.to_string()
    }
}

macro_rules! secret {
    // `stored`: a secret the server must keep in readable form (Amazon's
    // tokens and the skill's LWA secret), so it reads and writes as a string.
    (stored $(#[$doc:meta])* $name:ident) => {
        secret!($(#[$doc])* #[derive(serde::Serialize, serde::Deserialize, Clone)] #[serde(transparent)] $name);
    };
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            /// The secret value itself. Every call site is a place where it can leak.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret!(
    /// An authorization code (RFC 6749 §4.1.2). Stored only as a hash.
    AuthorizationCode
);
secret!(
    /// A refresh token (RFC 6749 §1.5), `<grant id>.<secret>`. Stored only as a hash.
    RefreshToken
);
secret!(
    /// A signed access token (RFC 6749 §1.4, here a JWT per RFC 9068).
    AccessToken
);
secret!(
    /// A client secret (RFC 6749 §2.3.1). Stored only as a hash.
    ClientSecret
);
secret!(
    /// A user's password, as typed on the login form.
    Password
);
secret!(
    /// `ES256_PRIVATE_KEY` (or its `_PREVIOUS`): a P-256 private key, PKCS#8.
    Es256PrivateKey
);
secret!(
    /// `ADMIN_TOKEN`: the bearer secret of `/admin/grants` (Durable Object
    /// mode), with which `admin export` and `admin import` reach the grants.
    AdminToken
);
secret!(
    /// A PKCE code verifier (RFC 7636 §4.1).
    CodeVerifier
);
secret!(stored
    /// A skill's "Send Alexa Events" client secret at Login with Amazon:
    /// `admin client update --lwa-client-secret-stdin`, or `LWA_CLIENT_SECRET`.
    /// Sent to LWA, so kept as it is; `admin export` leaves it out.
    LwaClientSecret
);
secret!(stored
    /// Login with Amazon's refresh token (`Atzr|…`) for one user's events,
    /// from AcceptGrant. Sent to LWA, so kept as it is; `admin export`
    /// leaves it out.
    LwaRefreshToken
);
secret!(
    /// Login with Amazon's access token (`Atza|…`), for the event gateway:
    /// held only in the isolate.
    LwaAccessToken
);

/// An Alexa region, as its event gateway is chosen (North America, Europe,
/// the Far East): what the skill's Lambda saw AcceptGrant arrive in.
///
/// Read and written as `NA`, `EU` or `FE` through a string, not serde's
/// enum derive (the same answer in less wasm, as `RefreshRotation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Region {
    Na,
    Eu,
    Fe,
}

impl Region {
    pub const ALL: [Self; 3] = [Self::Na, Self::Eu, Self::Fe];

    /// `NA`, `EU` or `FE`, in any case.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Na => "NA",
            Self::Eu => "EU",
            Self::Fe => "FE",
        }
    }
}

impl TryFrom<String> for Region {
    type Error = &'static str;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).ok_or("region is NA, EU or FE")
    }
}

impl From<Region> for &'static str {
    fn from(r: Region) -> Self {
        r.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = ClientSecret::new("hunter2");
        assert_eq!(format!("{s:?}"), "ClientSecret([redacted])");
        assert_eq!(s.secret(), "hunter2");
    }

    #[test]
    fn scope_sets_parse_dedupe_and_check_subsets() {
        let set = ScopeSet::parse("a  b a").unwrap();
        assert_eq!(set.to_string(), "a b");
        assert!(ScopeSet::parse("a \"b").is_none());
        assert!(ScopeSet::parse("a\\b").is_none());
        assert!(ScopeSet::parse("a\tb").is_none());
        let all = ScopeSet::parse("a b c").unwrap();
        assert!(set.is_subset_of(&all));
        assert!(!all.is_subset_of(&set));
    }
}

/// The grant types of RFC 6749 this server implements. Stored as their
/// names, read through [`Self::parse`] (smaller wasm than serde's enum
/// derive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum GrantType {
    /// §4.1.3
    AuthorizationCode,
    /// §6
    RefreshToken,
    /// §4.4
    ClientCredentials,
}

impl GrantType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "authorization_code" => Some(Self::AuthorizationCode),
            "refresh_token" => Some(Self::RefreshToken),
            "client_credentials" => Some(Self::ClientCredentials),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }
}

impl TryFrom<String> for GrantType {
    type Error = &'static str;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).ok_or("unknown grant type")
    }
}

impl From<GrantType> for &'static str {
    fn from(g: GrantType) -> Self {
        g.as_str()
    }
}
