//! Durable Object mode: grant state kept in one object per grant, so that
//! redeeming a code and rotating a refresh token are atomic.
//!
//! Workers KV has no compare-and-set, so with the default store two redemptions
//! of one code at two locations can both succeed (see `tests/consistency.rs`).
//! In this mode each grant (and the code that creates it, since codes are
//! `<grant id>.<secret>`) lives in its own Durable Object. An object handles one
//! event at a time and its storage calls keep other events out, so
//! [`crate::grant::redeem`] and [`crate::grant::refresh`] run there as one step:
//! of any number of concurrent redemptions exactly one succeeds, and concurrent
//! refreshes are applied one after the other.
//!
//! One object per grant, not per user: a link is the unit that must be
//! consistent, objects for different links never contend, and a grant's object
//! is found from the token alone, with no lookup. Clients, users, throttles and
//! the revocation tombstones stay in KV (read-mostly, cached at the edge).
//!
//! Sans-I/O like the rest of the core: [`ObjectStore`] speaks to the objects
//! through an [`ObjectTransport`] (a Durable Object stub in the Worker, a map of
//! in-memory stores in tests), and [`serve`] is what runs inside an object.

use serde::{Deserialize, Serialize};

use crate::crypto::TokenHash;
use crate::grant::{self, GrantStore, Redeem, Refresh, Refusal, Successors};
use crate::store::{CodeRecord, GrantRecord, Store, StoreError, Tombstone};
use crate::types::GrantId;

/// A request to a grant's object.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum GrantOp {
    PutCode {
        hash: TokenHash,
        code: CodeRecord,
    },
    Redeem(Redeem),
    Refresh(Refresh),
    Get {
        id: GrantId,
    },
    Put {
        grant: GrantRecord,
    },
    /// Writes the grant's tombstone in the object too, so that the object's own
    /// decisions see it at once (the KV copy is what everything else reads).
    Revoke {
        id: GrantId,
        tombstone: Tombstone,
    },
}

type Redeemed = Result<GrantRecord, Refusal>;
type Refreshed = Result<grant::Refreshed, Refusal>;

/// Runs one request inside a grant's object, on that object's storage; the
/// answer is JSON. Called by the Worker's Durable Object class, which derives
/// `successors` from the same signing keys as the Worker.
pub async fn serve<S: Store>(
    storage: &S,
    successors: &Successors,
    op: &str,
) -> Result<String, StoreError> {
    let op: GrantOp = serde_json::from_slice(op.as_bytes())
        .map_err(|e| StoreError(format!("bad grant op: {e}")))?;
    let json = match op {
        GrantOp::PutCode { hash, code } => to_json(&storage.put_code(&hash, &code).await?),
        GrantOp::Redeem(r) => to_json(&grant::redeem(storage, successors, &r).await?),
        GrantOp::Refresh(r) => to_json(&grant::refresh(storage, successors, &r).await?),
        GrantOp::Get { id } => {
            // The object's own revocations (a replayed code, a reused refresh
            // token) show on the record it hands out.
            let mut grant = storage.grant(&id).await?;
            if let (Some(g), Some(t)) = (grant.as_mut(), storage.tombstone(&id).await?) {
                g.revoked_at.get_or_insert(t.revoked_at);
            }
            to_json(&grant)
        }
        GrantOp::Put { grant } => to_json(&storage.put_grant(&grant).await?),
        GrantOp::Revoke { id, tombstone } => {
            to_json(&storage.put_tombstone(&id, &tombstone).await?)
        }
    };
    Ok(json)
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("answers serialise")
}

/// How the Worker reaches the object named by a grant id.
#[allow(async_fn_in_trait)]
pub trait ObjectTransport {
    /// Sends a [`GrantOp`] (as JSON) to the grant's object; returns its answer.
    async fn call(&self, grant: &GrantId, op: String) -> Result<String, StoreError>;
}

/// The store of Durable Object mode: grant state in the grant's object, the rest
/// in KV (`kv`).
pub struct ObjectStore<'a, K, T> {
    pub kv: &'a K,
    pub objects: &'a T,
}

impl<K: Store, T: ObjectTransport> ObjectStore<'_, K, T> {
    async fn call<R: serde::de::DeserializeOwned>(
        &self,
        grant: &GrantId,
        op: GrantOp,
    ) -> Result<R, StoreError> {
        let answer = self.objects.call(grant, to_json(&op)).await?;
        serde_json::from_slice(answer.as_bytes())
            .map_err(|e| StoreError(format!("bad answer from grant object: {e}")))
    }
}

impl<K: Store, T: ObjectTransport> Store for ObjectStore<'_, K, T> {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.kv.get(key).await
    }
    async fn put(
        &self,
        key: &str,
        value: String,
        expires_at: Option<u64>,
    ) -> Result<(), StoreError> {
        self.kv.put(key, value, expires_at).await
    }
    async fn put_code(&self, hash: &TokenHash, code: &CodeRecord) -> Result<(), StoreError> {
        let op = GrantOp::PutCode {
            hash: hash.clone(),
            code: code.clone(),
        };
        self.call(&code.grant_id, op).await
    }
    async fn tombstone(&self, id: &GrantId) -> Result<Option<Tombstone>, StoreError> {
        self.kv.tombstone(id).await
    }
    async fn put_tombstone(&self, id: &GrantId, tombstone: &Tombstone) -> Result<(), StoreError> {
        self.kv.put_tombstone(id, tombstone).await?;
        let op = GrantOp::Revoke {
            id: id.clone(),
            tombstone: tombstone.clone(),
        };
        self.call(id, op).await
    }
    async fn grant(&self, id: &GrantId) -> Result<Option<GrantRecord>, StoreError> {
        self.call(id, GrantOp::Get { id: id.clone() }).await
    }
    async fn put_grant(&self, grant: &GrantRecord) -> Result<(), StoreError> {
        self.call(
            &grant.id,
            GrantOp::Put {
                grant: grant.clone(),
            },
        )
        .await
    }
    async fn create_grant(&self, grant: &GrantRecord) -> Result<(), StoreError> {
        self.put_grant(grant).await
    }
}

/// The grant decisions run inside the grant's object, with the object's own
/// successor keys (derived from the same `SIGNING_KEY`), so the ones passed here
/// are not needed.
impl<K: Store, T: ObjectTransport> GrantStore for ObjectStore<'_, K, T> {
    async fn redeem_code(&self, _: &Successors, r: &Redeem) -> Result<Redeemed, StoreError> {
        let redeemed: Redeemed = self.call(&r.grant_id, GrantOp::Redeem(r.clone())).await?;
        if let Ok(grant) = &redeemed {
            // The KV indexes `admin` lists to end a user's or a client's grants.
            // Best effort: failing the answer now would make the client's retry
            // a replay, which revokes the grant it just got.
            let _ = self.kv.index_grant(grant).await;
        }
        Ok(redeemed)
    }
    /// Revocations written where the object cannot see them (`admin` writes only
    /// KV) are checked here, before the object rotates anything.
    async fn refresh_grant(&self, _: &Successors, r: &Refresh) -> Result<Refreshed, StoreError> {
        if self.kv.tombstone(&r.grant_id).await?.is_some() {
            return Ok(Err(Refusal::InvalidRefresh));
        }
        self.call(&r.grant_id, GrantOp::Refresh(r.clone())).await
    }
}

/// A grant object's own storage, with no user index: listing a user's grants
/// is not available in this mode (the admin command says so).
pub struct ObjectStorage<'a, S>(pub &'a S);

impl<S: Store> Store for ObjectStorage<'_, S> {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.0.get(key).await
    }
    async fn put(
        &self,
        key: &str,
        value: String,
        expires_at: Option<u64>,
    ) -> Result<(), StoreError> {
        self.0.put(key, value, expires_at).await
    }
    async fn create_grant(&self, grant: &GrantRecord) -> Result<(), StoreError> {
        self.put_grant(grant).await
    }
}
