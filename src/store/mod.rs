//! What is stored, under which key, and the trait every store implements.
//!
//! Every key is built in [`keys`], whose doc is the key table.
//!
//! [`Store`] has the primitives only (get, put, a bulk get), which each store
//! implements. The records that live in KV in both grant modes (clients,
//! users, identities, tombstones) are read and written through [`Records`],
//! which every store has and none can override. Grant state (codes and
//! grants), whose home depends on the mode, is reached only through
//! [`crate::grant::GrantStore`].
//!
//! # Consistency
//! The Workers KV store is eventually consistent and has no compare-and-set,
//! so two requests at once can both read the same state and both write.
//! [`crate::grant`] makes every such pair write the same thing (derived
//! refresh tokens), keeps revocations out of the grant record (tombstones),
//! and accepts what a stale copy has not seen yet; see `tests/interleavings/`
//! and `tests/consistency.rs`.

pub mod backup;
mod cache;
mod join;
pub mod keys;
#[cfg(any(test, feature = "testing"))]
mod memory;
mod records;

pub use cache::ClientCache;
pub(crate) use join::join;
#[cfg(any(test, feature = "testing"))]
pub use memory::MemoryStore;
pub use records::{
    ClientRecord, ClientRemoval, ClientView, CodeRecord, EventTokens, GrantRecord, IdentityLink,
    PasswordLink, Profile, RefreshRotation, Revocation, Tombstone, UserRecord, UserRemoval,
};

use serde::{de::DeserializeOwned, Serialize};

pub use crate::error::StoreError;
/// The grant types live with the other protocol values, in [`crate::types`].
pub use crate::types::GrantType;
use crate::types::{ClientId, GrantId};

/// A key-value store: the primitives each store implements.
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
    /// Removes a key. Only the stores that end links override it (Workers
    /// KV, the memory store, `admin`'s); a Durable Object never deletes.
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let _ = key;
        Err(StoreError("this store cannot delete keys".into()))
    }
    /// Two keys read at once. By default two gets side by side; Workers KV
    /// makes it one bulk read (one call and one round trip; KV still bills a
    /// read per key).
    async fn get_two(
        &self,
        a: &str,
        b: &str,
    ) -> Result<(Option<String>, Option<String>), StoreError> {
        let (a, b) = join(self.get(a), self.get(b)).await;
        Ok((a?, b?))
    }
    /// At most `limit` of the keys that start with `prefix`, in key order, in
    /// one list operation (KV bills each, 1,000 a day on the Free plan): the
    /// account page lists a user's grants. Only stores that can list
    /// override it (Workers KV, the memory store, `admin`'s).
    async fn keys_with_prefix(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let _ = (prefix, limit);
        Err(StoreError("this store cannot list keys".into()))
    }
}

/// The records every store holds the same way, in both grant modes. A
/// blanket implementation: no store can override one.
#[allow(async_fn_in_trait)]
pub trait Records: Store {
    async fn client(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        get_json(self, &keys::client(id)).await
    }
    async fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        get_json(self, &keys::user(username)).await
    }
    /// The user a provider identity (`<provider>:<subject>`) is allowed to
    /// sign in as. Both the link and the user's own list must name it, so a
    /// stale link left by a removal grants nothing.
    async fn user_by_identity(&self, identity: &str) -> Result<Option<UserRecord>, StoreError> {
        let Some(link) = get_json::<IdentityLink, _>(self, &keys::identity(identity)).await? else {
            return Ok(None);
        };
        let user = self.user(&link.username).await?;
        Ok(user.filter(|u| u.identities.iter().any(|i| i == identity)))
    }
    /// Writes `user`, then an identity link naming it for each of its
    /// identities: the two halves of the allow-list ([`Self::user_by_identity`]
    /// needs both), written by this one operation. The user record goes first:
    /// it alone decides, so a removed identity stops at once. Deleting the
    /// links of identities the user no longer has is the caller's.
    async fn put_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        put_json(self, &keys::user(&user.username), user, None).await?;
        for identity in &user.identities {
            let link = IdentityLink {
                username: user.username.clone(),
            };
            put_json(self, &keys::identity(identity), &link, None).await?;
        }
        Ok(())
    }
    /// A grant's revocation, in KV (see [`crate::grant`]).
    async fn tombstone(&self, id: &GrantId) -> Result<Option<Tombstone>, StoreError> {
        get_json(self, &keys::revoked(id)).await
    }
    /// Whether a grant has a tombstone: what every decision needs, so its
    /// content is not read (a damaged one still revokes).
    async fn is_tombstoned(&self, id: &GrantId) -> Result<bool, StoreError> {
        Ok(self.get(&keys::revoked(id)).await?.is_some())
    }
    async fn put_tombstone(&self, id: &GrantId, t: &Tombstone) -> Result<(), StoreError> {
        put_json(self, &keys::revoked(id), t, None).await
    }
}

impl<S: Store + ?Sized> Records for S {}

/// A store whose keys can be listed and deleted: what `admin` has (through
/// wrangler) and the Worker does not need.
#[allow(async_fn_in_trait)]
pub trait Listing: Store {
    /// The keys that start with `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
    /// Many keys' values, in order. One at a time by default; `admin`'s store
    /// makes it a bulk read (a command per key costs it about a second).
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(self.get(key).await?);
        }
        Ok(values)
    }
    /// Writes many values (without expiry). One at a time by default; a bulk
    /// write in `admin`'s store.
    async fn put_many(&self, entries: &[(String, String)]) -> Result<(), StoreError> {
        for (key, value) in entries {
            self.put(key, value.clone(), None).await?;
        }
        Ok(())
    }
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
