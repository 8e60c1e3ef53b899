//! KV mode: a store that holds grant state itself runs the grant operations
//! as read-then-write steps on its own keys ([`super::redeem`],
//! [`super::refresh`]). Workers KV, the memory store of the tests and
//! `admin`'s store through wrangler are such stores.

use super::records::{grant_and_tombstone, is_revoked, put_code, put_grant};
use super::{CodeExchange, GrantStore, Indexing, RefreshExchange, Refreshed, Refusal, Successors};
use crate::crypto::TokenHash;
use crate::store::{
    get_json, keys, CodeRecord, GrantRecord, Profile, Records, Store, StoreError, Tombstone,
};
use crate::types::GrantId;

/// A store that keeps codes and grants under its own keys (see
/// [`crate::store::keys`]); it is a [`GrantStore`] by the implementation
/// below.
pub trait HoldsGrants: Store {}

/// The memory store of the tests holds grant state itself, as Workers KV does.
#[cfg(any(test, feature = "testing"))]
impl HoldsGrants for crate::store::MemoryStore {}

impl<S: HoldsGrants + ?Sized> GrantStore for S {
    async fn store_code(&self, hash: &TokenHash, code: &CodeRecord) -> Result<(), StoreError> {
        put_code(self, hash, code).await
    }
    async fn grant_with_revocation(
        &self,
        id: &GrantId,
    ) -> Result<Option<(GrantRecord, bool)>, StoreError> {
        let (grant, tombstoned) = grant_and_tombstone(self, id).await?;
        Ok(grant.map(|g| {
            let revoked = is_revoked(&g, tombstoned);
            (g, revoked)
        }))
    }
    async fn redeem_code(
        &self,
        successors: &Successors,
        r: &CodeExchange,
    ) -> Result<Result<GrantRecord, Refusal>, StoreError> {
        super::redeem(self, successors, r, Indexing::WithGrant).await
    }
    async fn refresh_grant(
        &self,
        successors: &Successors,
        r: &RefreshExchange,
    ) -> Result<Result<Refreshed, Refusal>, StoreError> {
        super::refresh(self, successors, r).await
    }
    async fn revoke_grant(&self, id: &GrantId, t: &Tombstone) -> Result<(), StoreError> {
        self.put_tombstone(id, t).await
    }
    async fn restore_grant(&self, grant: &GrantRecord) -> Result<(), StoreError> {
        put_grant(self, grant).await
    }
    /// A read and a write, like a refresh's: one racing it may write back
    /// the profile it read (KV has no compare-and-set; docs/skill.md says so).
    async fn update_profile(&self, id: &GrantId, profile: &Profile) -> Result<bool, StoreError> {
        update_profile(self, id, profile).await
    }
}

/// Puts `profile` on the grant stored under its key, if it exists; writes
/// only when that changes it.
pub(super) async fn update_profile<S: Store + ?Sized>(
    store: &S,
    id: &GrantId,
    profile: &Profile,
) -> Result<bool, StoreError> {
    let Some(mut grant) = get_json::<GrantRecord, _>(store, &keys::grant(id)).await? else {
        return Ok(false);
    };
    if profile.apply(&mut grant) {
        put_grant(store, &grant).await?;
    }
    Ok(true)
}
