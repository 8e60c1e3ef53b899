//! What is stored, under which key, and the trait every store implements.
//!
//! # Key scheme (one namespace, JSON values)
//!
//! | key                | value            | written by            | expires                  |
//! |--------------------|------------------|-----------------------|--------------------------|
//! | `client:<id>`      | [`ClientRecord`] | `admin client add`    | never                    |
//! | `user:<username>`  | [`UserRecord`]   | `admin user add`      | never                    |
//! | `code:<sha256>`    | [`CodeRecord`]   | `/authorize` (login)  | with the code (5 min)    |
//! | `grant:<grant id>` | [`GrantRecord`]  | `/token`              | never                    |
//! | `revoked:<grant id>` | [`Tombstone`]  | any revocation        | never                    |
//! | `usergrant:<user id>:<grant id>` | empty | `/token` (code), KV mode | never |
//! | `throttle:<limit>:<hash>` | failure counter | failed logins and client auth | with its window |
//!
//! Codes and refresh tokens appear only as SHA-256 hashes. Both are
//! `<grant id>.<secret>`, so a refresh reads exactly one grant. In Durable Object
//! mode the `code:` and `grant:` records live in the grant's object instead
//! (see [`crate::objects`]).
//!
//! # Consistency
//! The Workers KV store is eventually consistent and has no compare-and-set.
//! The default methods below are read-then-write, so two requests at once can
//! both read the same state and both write. [`crate::grant`] makes every such
//! pair write the same thing (derived refresh tokens), keeps revocations out of
//! the grant record (tombstones), and accepts what a stale copy has not seen
//! yet; see `tests/interleavings.rs` and `tests/consistency.rs`.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::types::{ClientId, GrantId, RedirectUri, ScopeSet, UserId};

/// The store could not be read or written (a KV error or rate limit). Answered as
/// `temporarily_unavailable`, never as a panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

/// The grant types of RFC 6749 this server implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// §4.1.3
    AuthorizationCode,
    /// §6
    RefreshToken,
    /// §4.4
    ClientCredentials,
}

impl GrantType {
    pub fn parse(s: &str) -> Option<GrantType> {
        match s {
            "authorization_code" => Some(GrantType::AuthorizationCode),
            "refresh_token" => Some(GrantType::RefreshToken),
            "client_credentials" => Some(GrantType::ClientCredentials),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }
}

/// A registered client (RFC 6749 §2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientRecord {
    pub client_id: ClientId,
    /// Shown on the login page ("<name> wants to …").
    pub name: String,
    /// See [`crate::crypto::hash_client_secret`].
    pub secret_hash: String,
    /// The secret before the last `admin client rotate-secret`, accepted until
    /// `previous_secret_expires_at` so a live skill is not cut off mid-change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<u64>,
    /// Matched by exact string equality.
    pub redirect_uris: Vec<RedirectUri>,
    /// The scopes the client may ask for; also the default when it asks for none.
    pub scope: ScopeSet,
    pub grant_types: Vec<GrantType>,
    pub created_at: u64,
}

impl ClientRecord {
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

/// A user who can log in on the authorization page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    /// The stable `sub`; the username can change, this cannot.
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    /// See [`crate::password::hash_password`].
    pub password_hash: String,
    pub created_at: u64,
}

/// An authorization code, stored under the hash of the code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeRecord {
    pub client_id: ClientId,
    /// The `redirect_uri` of the authorization request, if one was given; the
    /// token request must then repeat it (RFC 6749 §4.1.3).
    pub redirect_uri: Option<RedirectUri>,
    pub user_id: UserId,
    /// The user's display name at login, carried into the grant and its tokens.
    #[serde(default)]
    pub display_name: String,
    pub scope: ScopeSet,
    /// The S256 `code_challenge`, if PKCE was used.
    pub code_challenge: Option<String>,
    pub expires_at: u64,
    /// The grant this code creates, chosen up front so that a replay of the
    /// code can find and revoke it (RFC 6749 §10.5).
    pub grant_id: GrantId,
    /// Set on first redemption; a second redemption is a replay.
    #[serde(default)]
    pub used: bool,
}

/// One link between a user and a client, and the state of its refresh tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    pub id: GrantId,
    pub client_id: ClientId,
    pub user_id: UserId,
    #[serde(default)]
    pub display_name: String,
    pub scope: ScopeSet,
    pub created_at: u64,
    /// Hash of the newest refresh token.
    pub refresh_hash: String,
    /// Hash of the refresh token it replaced. It stays valid until the newest one is
    /// used, so a client whose refresh answer was lost can retry (Alexa unlinks the
    /// account after one failed refresh).
    pub previous_refresh_hash: Option<String>,
    /// When the newest refresh token was issued (for the optional refresh TTL).
    pub refreshed_at: u64,
    /// Hashes of refresh tokens the client has provably moved past (it used their
    /// successor). Presenting one again means a copy leaked: the grant is revoked
    /// (RFC 9700 §4.14.2). The newest few are kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired_refresh_hashes: Vec<String>,
    /// Set by versions before tombstones; still honoured, never written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<u64>,
}

/// A grant's revocation, kept apart from the grant record so that no refresh
/// writing the record back can undo it (see [`crate::grant`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    pub revoked_at: u64,
}

pub mod keys {
    use crate::types::{ClientId, GrantId, UserId};

    pub fn client(id: &ClientId) -> String {
        format!("client:{id}")
    }
    pub fn user(username: &str) -> String {
        format!("user:{username}")
    }
    pub fn code(hash: &str) -> String {
        format!("code:{hash}")
    }
    pub fn grant(id: &GrantId) -> String {
        format!("grant:{id}")
    }
    /// A grant's [`super::Tombstone`].
    pub fn revoked(id: &GrantId) -> String {
        format!("revoked:{id}")
    }
    /// An empty marker per grant, so a user's grants can be listed by prefix.
    pub fn user_grant(user: &UserId, grant: &GrantId) -> String {
        format!("usergrant:{user}:{grant}")
    }
    pub fn user_grants_prefix(user: &UserId) -> String {
        format!("usergrant:{user}:")
    }
}

/// A key-value store with typed accessors. Implementors provide `get` and `put`;
/// the rest has read-then-write defaults that a transactional store may override.
#[allow(async_fn_in_trait)] // Futures stay on one thread in the Worker and in tests.
pub trait Store {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Writes `value`; `expires_at` (Unix seconds) lets the store drop it later.
    async fn put(
        &self,
        key: &str,
        value: String,
        expires_at: Option<u64>,
    ) -> Result<(), StoreError>;

    async fn client(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        get_json(self, &keys::client(id)).await
    }
    async fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        get_json(self, &keys::user(username)).await
    }
    async fn put_code(&self, hash: &str, code: &CodeRecord) -> Result<(), StoreError> {
        put_json(self, &keys::code(hash), code, Some(code.expires_at)).await
    }
    async fn code(&self, hash: &str) -> Result<Option<CodeRecord>, StoreError> {
        get_json(self, &keys::code(hash)).await
    }
    /// Marks a code used; a later redemption is then a replay.
    async fn spend_code(&self, hash: &str, mut code: CodeRecord) -> Result<(), StoreError> {
        code.used = true;
        put_json(self, &keys::code(hash), &code, Some(code.expires_at)).await
    }
    async fn grant(&self, id: &GrantId) -> Result<Option<GrantRecord>, StoreError> {
        get_json(self, &keys::grant(id)).await
    }
    async fn put_grant(&self, grant: &GrantRecord) -> Result<(), StoreError> {
        put_json(self, &keys::grant(&grant.id), grant, None).await
    }
    /// The code exchange, checked and written as one step where the store can
    /// make it atomic (see [`crate::grant::redeem`]).
    async fn redeem_code(
        &self,
        successors: &crate::grant::Successors,
        r: &crate::grant::Redeem,
    ) -> Result<Result<GrantRecord, crate::grant::Refusal>, StoreError> {
        crate::grant::redeem(self, successors, r).await
    }
    /// A refresh, checked and written as one step where the store can make it
    /// atomic (see [`crate::grant::refresh`]).
    async fn refresh_grant(
        &self,
        successors: &crate::grant::Successors,
        r: &crate::grant::Refresh,
    ) -> Result<Result<(GrantRecord, ScopeSet), crate::grant::Refusal>, StoreError> {
        crate::grant::refresh(self, successors, r).await
    }
    async fn tombstone(&self, id: &GrantId) -> Result<Option<Tombstone>, StoreError> {
        get_json(self, &keys::revoked(id)).await
    }
    async fn put_tombstone(&self, id: &GrantId, t: &Tombstone) -> Result<(), StoreError> {
        put_json(self, &keys::revoked(id), t, None).await
    }
    /// Stores a new grant and its entry in the user's index.
    async fn create_grant(&self, grant: &GrantRecord) -> Result<(), StoreError> {
        self.put(
            &keys::user_grant(&grant.user_id, &grant.id),
            String::new(),
            None,
        )
        .await?;
        self.put_grant(grant).await
    }
}

pub async fn get_json<T: DeserializeOwned, S: Store + ?Sized>(
    store: &S,
    key: &str,
) -> Result<Option<T>, StoreError> {
    match store.get(key).await? {
        None => Ok(None),
        // A record we cannot read is a store fault, not the caller's bad input.
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StoreError(format!("corrupt record at {key}: {e}"))),
    }
}

pub async fn put_json<T: Serialize, S: Store + ?Sized>(
    store: &S,
    key: &str,
    value: &T,
    expires_at: Option<u64>,
) -> Result<(), StoreError> {
    let text = serde_json::to_string(value).expect("records serialise");
    store.put(key, text, expires_at).await
}

/// An in-memory store for tests. Expiry is not enforced here; the core checks
/// every record's own expiry time, so behaviour does not depend on the store
/// dropping old keys.
pub struct MemoryStore {
    map: RefCell<BTreeMap<String, String>>,
    /// Operations left before every later one fails (see [`MemoryStore::fail_after`]).
    ops_left: std::cell::Cell<usize>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            map: RefCell::default(),
            ops_left: std::cell::Cell::new(usize::MAX),
        }
    }
}

impl MemoryStore {
    /// Lets `n` more operations succeed, then fails every one after them, as a
    /// KV outage or rate limit would. `usize::MAX` ends the fault.
    pub fn fail_after(&self, n: usize) {
        self.ops_left.set(n);
    }

    fn operation(&self) -> Result<(), StoreError> {
        let left = self.ops_left.get();
        if left == 0 {
            return Err(StoreError("injected failure".into()));
        }
        if left != usize::MAX {
            self.ops_left.set(left - 1);
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.map.borrow().len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.borrow().is_empty()
    }
    /// Every stored key and value, for tests that check nothing secret is stored.
    pub fn dump(&self) -> Vec<(String, String)> {
        self.map
            .borrow()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.operation()?;
        Ok(self.map.borrow().get(key).cloned())
    }
    async fn put(&self, key: &str, value: String, _: Option<u64>) -> Result<(), StoreError> {
        self.operation()?;
        self.map.borrow_mut().insert(key.to_owned(), value);
        Ok(())
    }
}

/// Usernames are matched without regard to case or surrounding spaces, as people
/// type them on phones; the admin command stores them in this form.
pub fn normalize_username(username: &str) -> String {
    username.trim().to_lowercase()
}
