//! What is stored, under which key, and the trait every store implements.
//!
//! Every key is built in [`keys`], whose doc is the key table.
//!
//! # Consistency
//! The Workers KV store is eventually consistent and has no compare-and-set.
//! The default methods below are read-then-write, so two requests at once can
//! both read the same state and both write. [`crate::grant`] makes every such
//! pair write the same thing (derived refresh tokens), keeps revocations out of
//! the grant record (tombstones), and accepts what a stale copy has not seen
//! yet; see `tests/interleavings/` and `tests/consistency.rs`.

mod cache;
pub mod keys;
mod memory;
mod records;

pub use cache::ClientCache;
pub use memory::MemoryStore;
pub use records::{
    ClientRecord, ClientRemoval, ClientView, CodeRecord, GrantRecord, GrantType, IdentityLink,
    RefreshRotation, Tombstone, UserRecord, UserRemoval,
};

use serde::{de::DeserializeOwned, Serialize};

use crate::crypto::TokenHash;
pub use crate::error::StoreError;
use crate::types::{ClientId, GrantId};

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
    /// The user an upstream identity (`<provider>:<subject>`) is allowed to
    /// sign in as. Both the link and the user's own list must name it, so a
    /// stale link left by a removal grants nothing.
    async fn user_by_identity(&self, identity: &str) -> Result<Option<UserRecord>, StoreError> {
        let Some(link) = get_json::<IdentityLink, _>(self, &keys::identity(identity)).await? else {
            return Ok(None);
        };
        let user = self.user(&link.username).await?;
        Ok(user.filter(|u| u.identities.iter().any(|i| i == identity)))
    }
    async fn put_code(&self, hash: &TokenHash, code: &CodeRecord) -> Result<(), StoreError> {
        put_json(self, &keys::code(hash), code, Some(code.expires_at)).await
    }
    async fn code(&self, hash: &TokenHash) -> Result<Option<CodeRecord>, StoreError> {
        get_json(self, &keys::code(hash)).await
    }
    /// Marks a code used; a later redemption is then a replay.
    async fn spend_code(&self, hash: &TokenHash, mut code: CodeRecord) -> Result<(), StoreError> {
        code.used = true;
        put_json(self, &keys::code(hash), &code, Some(code.expires_at)).await
    }
    async fn grant(&self, id: &GrantId) -> Result<Option<GrantRecord>, StoreError> {
        get_json(self, &keys::grant(id)).await
    }
    async fn put_grant(&self, grant: &GrantRecord) -> Result<(), StoreError> {
        put_json(self, &keys::grant(&grant.id), grant, None).await
    }
    async fn tombstone(&self, id: &GrantId) -> Result<Option<Tombstone>, StoreError> {
        get_json(self, &keys::revoked(id)).await
    }
    async fn put_tombstone(&self, id: &GrantId, t: &Tombstone) -> Result<(), StoreError> {
        put_json(self, &keys::revoked(id), t, None).await
    }
    /// A grant and its tombstone, read at once (every refresh needs both).
    /// Workers KV overrides this with one bulk read of both keys.
    async fn grant_and_tombstone(
        &self,
        id: &GrantId,
    ) -> Result<(Option<GrantRecord>, Option<Tombstone>), StoreError> {
        let (grant, tombstone) = crate::grant::join(self.grant(id), self.tombstone(id)).await;
        Ok((grant?, tombstone?))
    }
    /// Stores a new grant and its entries in the user's and the client's
    /// index (what `admin` lists to end them).
    async fn create_grant(&self, grant: &GrantRecord) -> Result<(), StoreError> {
        self.index_grant(grant).await?;
        self.put_grant(grant).await
    }
    /// The index entries of a new grant.
    async fn index_grant(&self, grant: &GrantRecord) -> Result<(), StoreError> {
        let user = keys::user_grant(&grant.user_id, &grant.id);
        self.put(&user, String::new(), None).await?;
        let client = keys::client_grant(&grant.client_id, &grant.id);
        self.put(&client, String::new(), None).await
    }
}

/// A store whose keys can be listed and deleted: what `admin` has (through
/// wrangler) and the Worker does not need.
#[allow(async_fn_in_trait)]
pub trait Keys: Store {
    /// The keys that start with `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

pub async fn get_json<T: DeserializeOwned, S: Store + ?Sized>(
    store: &S,
    key: &str,
) -> Result<Option<T>, StoreError> {
    from_json(key, store.get(key).await?)
}

/// The record stored at `key`, from its JSON text if there is one.
pub fn from_json<T: DeserializeOwned>(
    key: &str,
    text: Option<String>,
) -> Result<Option<T>, StoreError> {
    match text {
        None => Ok(None),
        // A record we cannot read is a store fault, not the caller's bad input.
        // `from_slice` as everywhere else: each reader type is a second copy of
        // serde_json's parser in the wasm.
        Some(text) => serde_json::from_slice(text.as_bytes())
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

/// The expiry to give KV for a record that the core says expires at `at`:
/// never less than 61 s after `now`, because KV refuses anything under 60 s
/// (by its own clock). The core checks every record's own expiry anyway, so
/// keeping one a little longer changes nothing. `now` must be taken after the
/// request's body was read.
pub fn kv_expiration(at: u64, now: u64) -> u64 {
    at.max(now + 61)
}

/// Usernames are matched without regard to case or surrounding spaces, as people
/// type them on phones; the admin command stores them in this form.
pub fn normalize_username(username: &str) -> String {
    let username = username.trim();
    if username.is_ascii() {
        username.to_ascii_lowercase()
    } else {
        unicode_lowercase(username)
    }
}

/// Unicode's full lowercase mapping. In the Worker it is the runtime's own
/// `String.prototype.toLowerCase`, the same mapping (final sigma included),
/// so the wasm carries no case tables (about 8 KB gzipped).
#[cfg(target_arch = "wasm32")]
fn unicode_lowercase(s: &str) -> String {
    js_sys::JsString::from(s).to_lower_case().into()
}

#[cfg(not(target_arch = "wasm32"))]
fn unicode_lowercase(s: &str) -> String {
    s.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::kv_expiration;

    #[test]
    fn kv_expirations_stay_at_least_61_seconds_ahead() {
        assert_eq!(kv_expiration(1_000, 1_000), 1_061);
        assert_eq!(
            kv_expiration(1_300, 1_000),
            1_300,
            "a code's 5 minutes stand"
        );
        assert_eq!(
            kv_expiration(0, 1_000),
            1_061,
            "an expired one is still accepted by KV"
        );
    }
}
