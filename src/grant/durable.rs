//! Durable Object mode: grant state kept in one object per grant, so that
//! redeeming a code and rotating a refresh token are atomic.
//!
//! Workers KV has no compare-and-set, so with the default store two redemptions
//! of one code at two locations can both succeed (see `tests/consistency.rs`).
//! In this mode each grant (and the code that creates it, since codes are
//! `<grant id>.<secret>`) lives in its own Durable Object. An object handles one
//! event at a time and its storage calls keep other events out, so
//! [`super::redeem`] and [`super::refresh`] run there as one step:
//! of any number of concurrent redemptions exactly one succeeds, and concurrent
//! refreshes are applied one after the other.
//!
//! One object per grant, not per user: a link is the unit that must be
//! consistent, objects for different links never contend, and a grant's object
//! is found from the token alone, with no lookup. Clients, users, throttles and
//! the revocation tombstones stay in KV (read-mostly, cached at the edge).
//!
//! Sans-I/O like the rest of the core: [`DurableGrants`] speaks to the objects
//! through an [`ObjectTransport`] (a Durable Object stub in the Worker, a map of
//! in-memory stores in tests), and [`serve`] is what runs inside an object.

use serde::{Deserialize, Serialize};

use super::records::{index_grant, is_revoked, put_code, put_grant};
use super::{CodeExchange, GrantStore, Indexing, RefreshExchange, Refreshed, Refusal, Successors};
use crate::crypto::TokenHash;
use crate::store::{
    get_json, keys, CodeRecord, GrantRecord, Profile, Records, Store, StoreError, Tombstone,
};
use crate::types::GrantId;

/// The most grants one call to `/admin/grants` reads or restores: each is a
/// call to its object, and a request may make only so many (50 on the Free
/// plan); 16 records also fit the 16 KiB body limit.
pub const GRANTS_PER_CALL: usize = 16;

/// A request to a grant's object: JSON with its name in `op` beside its fields.
/// Read with [`GrantOp::from_json`].
#[derive(Debug, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum GrantOp {
    PutCode {
        hash: TokenHash,
        code: CodeRecord,
    },
    Redeem(CodeExchange),
    Refresh(RefreshExchange),
    Get {
        id: GrantId,
    },
    /// Writes the grant's tombstone in the object too, so that the object's own
    /// decisions see it at once (the KV copy is what everything else reads).
    Revoke {
        id: GrantId,
        tombstone: Tombstone,
    },
    /// An exported grant, written back by `admin import`.
    Restore {
        grant: GrantRecord,
    },
    /// The user's profile, put on the grant by `admin user update`: in the
    /// object, so no refresh can interleave with it.
    Profile {
        id: GrantId,
        profile: Profile,
    },
}

impl GrantOp {
    /// Reads an op in two steps, its name and then its fields from the same
    /// JSON (whose readers skip the `op` member). Not serde's derive for an
    /// internally tagged enum: that buffers the whole value in its `Content`
    /// type, which puts a second reader of every record in the wasm.
    pub fn from_json(json: &str) -> serde_json::Result<Self> {
        // `from_slice`, as everywhere: each reader type is a copy of the parser.
        let json = json.as_bytes();
        #[derive(Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum Name {
            PutCode,
            Redeem,
            Refresh,
            Get,
            Revoke,
            Restore,
            Profile,
        }
        #[derive(Deserialize)]
        struct Op {
            op: Name,
        }
        #[derive(Deserialize)]
        struct PutCode {
            hash: TokenHash,
            code: CodeRecord,
        }
        #[derive(Deserialize)]
        struct Id {
            id: GrantId,
        }
        #[derive(Deserialize)]
        struct Revoke {
            id: GrantId,
            tombstone: Tombstone,
        }
        #[derive(Deserialize)]
        struct Restore {
            grant: GrantRecord,
        }
        #[derive(Deserialize)]
        struct SetProfile {
            id: GrantId,
            profile: Profile,
        }
        Ok(match serde_json::from_slice::<Op>(json)?.op {
            Name::PutCode => {
                let PutCode { hash, code } = serde_json::from_slice(json)?;
                Self::PutCode { hash, code }
            }
            Name::Redeem => Self::Redeem(serde_json::from_slice(json)?),
            Name::Refresh => Self::Refresh(serde_json::from_slice(json)?),
            Name::Get => Self::Get {
                id: serde_json::from_slice::<Id>(json)?.id,
            },
            Name::Revoke => {
                let Revoke { id, tombstone } = serde_json::from_slice(json)?;
                Self::Revoke { id, tombstone }
            }
            Name::Restore => Self::Restore {
                grant: serde_json::from_slice::<Restore>(json)?.grant,
            },
            Name::Profile => {
                let SetProfile { id, profile } = serde_json::from_slice(json)?;
                Self::Profile { id, profile }
            }
        })
    }
}

type Redeemed = Result<GrantRecord, Refusal>;
type Refreshed_ = Result<Refreshed, Refusal>;

/// Runs one request inside a grant's object, on that object's own storage
/// (which holds no index: [`Indexing::ByCaller`]); the answer is JSON. Called
/// by the Worker's Durable Object class, which derives `successors` from the
/// same signing keys as the Worker.
pub async fn serve<S: Store>(
    storage: &S,
    successors: &Successors,
    op: &str,
) -> Result<String, StoreError> {
    let op = GrantOp::from_json(op).map_err(|e| StoreError(format!("bad grant op: {e}")))?;
    let json = match op {
        GrantOp::PutCode { hash, code } => to_json(&put_code(storage, &hash, &code).await?),
        GrantOp::Redeem(r) => {
            let redeemed = super::redeem(storage, successors, &r, Indexing::ByCaller).await?;
            to_json(&redeemed)
        }
        GrantOp::Refresh(r) => to_json(&super::refresh(storage, successors, &r).await?),
        GrantOp::Get { id } => {
            // The object's own revocations (a replayed code, a reused refresh
            // token) show on the record it hands out.
            let (grant, tombstone) = crate::store::join(
                get_json::<GrantRecord, _>(storage, &keys::grant(&id)),
                storage.tombstone(&id),
            )
            .await;
            let mut grant = grant?;
            if let (Some(g), Some(t)) = (grant.as_mut(), tombstone?) {
                g.revoked_at.get_or_insert(t.revoked_at);
            }
            to_json(&grant)
        }
        GrantOp::Revoke { id, tombstone } => {
            to_json(&storage.put_tombstone(&id, &tombstone).await?)
        }
        GrantOp::Restore { grant } => to_json(&put_grant(storage, &grant).await?),
        GrantOp::Profile { id, profile } => {
            to_json(&super::kv::update_profile(storage, &id, &profile).await?)
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

/// The store of Durable Object mode: grant state in the grant's object, the
/// rest (clients, users, tombstones, indexes) in KV (`kv`).
pub struct DurableGrants<'a, K, T> {
    pub kv: &'a K,
    pub objects: &'a T,
}

impl<K: Store, T: ObjectTransport> DurableGrants<'_, K, T> {
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

/// Everything but grant state is in KV.
impl<K: Store, T: ObjectTransport> Store for DurableGrants<'_, K, T> {
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
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.kv.delete(key).await
    }
    async fn get_two(
        &self,
        a: &str,
        b: &str,
    ) -> Result<(Option<String>, Option<String>), StoreError> {
        self.kv.get_two(a, b).await
    }
    async fn keys_with_prefix(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.kv.keys_with_prefix(prefix, limit).await
    }
}

/// The grant decisions run inside the grant's object, with the object's own
/// successor keys (derived from the same `SIGNING_KEY`), so the ones passed here
/// are not needed.
impl<K: Store, T: ObjectTransport> GrantStore for DurableGrants<'_, K, T> {
    /// The grant's index entries go to KV first, before the code exists: no
    /// grant can then be missing from the index that `admin` sweeps and
    /// exports (objects cannot be listed). A code never redeemed leaves
    /// entries that name no grant, which every reader skips.
    async fn store_code(&self, hash: &TokenHash, code: &CodeRecord) -> Result<(), StoreError> {
        index_grant(self.kv, &code.user_id, &code.client_id, &code.grant_id).await?;
        let op = GrantOp::PutCode {
            hash: hash.clone(),
            code: code.clone(),
        };
        self.call(&code.grant_id, op).await
    }
    /// Revoked when either the object or KV (where `admin` writes) says so.
    async fn grant_with_revocation(
        &self,
        id: &GrantId,
    ) -> Result<Option<(GrantRecord, bool)>, StoreError> {
        let object = self.call::<Option<GrantRecord>>(id, GrantOp::Get { id: id.clone() });
        let (grant, tombstoned) = crate::store::join(object, self.kv.is_tombstoned(id)).await;
        let tombstoned = tombstoned?;
        Ok(grant?.map(|g| {
            let revoked = is_revoked(&g, tombstoned);
            (g, revoked)
        }))
    }
    async fn redeem_code(&self, _: &Successors, r: &CodeExchange) -> Result<Redeemed, StoreError> {
        self.call(&r.grant_id, GrantOp::Redeem(r.clone())).await
    }
    /// Revocations written where the object cannot see them (`admin` writes only
    /// KV) are checked here, before the object rotates anything.
    async fn refresh_grant(
        &self,
        _: &Successors,
        r: &RefreshExchange,
    ) -> Result<Refreshed_, StoreError> {
        if self.kv.is_tombstoned(&r.grant_id).await? {
            return Ok(Err(Refusal::InvalidRefresh));
        }
        self.call(&r.grant_id, GrantOp::Refresh(r.clone())).await
    }
    /// In KV, which every refresh and `/userinfo` reads, and in the object, so
    /// its own decisions see it at once.
    async fn revoke_grant(&self, id: &GrantId, tombstone: &Tombstone) -> Result<(), StoreError> {
        self.kv.put_tombstone(id, tombstone).await?;
        let op = GrantOp::Revoke {
            id: id.clone(),
            tombstone: tombstone.clone(),
        };
        self.call(id, op).await
    }
    async fn restore_grant(&self, grant: &GrantRecord) -> Result<(), StoreError> {
        let op = GrantOp::Restore {
            grant: grant.clone(),
        };
        self.call(&grant.id, op).await
    }
    async fn update_profile(&self, id: &GrantId, profile: &Profile) -> Result<bool, StoreError> {
        let op = GrantOp::Profile {
            id: id.clone(),
            profile: profile.clone(),
        };
        self.call(id, op).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_op_is_read_back_as_written_whatever_the_member_order() {
        let revoke = GrantOp::Revoke {
            id: GrantId::new("g1"),
            tombstone: Tombstone::new(7, crate::store::Revocation::Admin),
        };
        let json = to_json(&revoke);
        assert_eq!(
            json,
            r#"{"op":"revoke","id":"g1","tombstone":{"revoked_at":7,"why":2}}"#
        );
        assert_eq!(to_json(&GrantOp::from_json(&json).unwrap()), json);
        // The name last, as another writer may put it.
        let get = GrantOp::from_json(r#"{"id":"g2","op":"get"}"#).unwrap();
        assert!(matches!(get, GrantOp::Get { id } if id.as_str() == "g2"));
        for bad in [
            r#"{"op":"drop","id":"g"}"#,
            r#"{"op":"get"}"#,
            r#"{"id":"g"}"#,
            "[]",
        ] {
            assert!(GrantOp::from_json(bad).is_err(), "{bad}");
        }
    }
}
