//! Revocation tombstones and the per-isolate cache of their lookups.

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::join;
use crate::store::{GrantRecord, Store, StoreError, Tombstone};
use crate::types::GrantId;

/// How long an isolate trusts a tombstone lookup that found none.
pub const REVOCATION_CACHE_SECONDS: u64 = 30;

/// How many grants an isolate's [`RevocationCache`] remembers before it forgets
/// the oldest lookups.
const REVOCATION_CACHE_ENTRIES: usize = 4096;

/// A grant and whether it is revoked: a tombstone exists, or (for records
/// written before tombstones) the record itself says so. Both are read at once:
/// one round trip, not two.
pub(super) async fn grant_and_revoked<S: Store + ?Sized>(
    store: &S,
    id: &GrantId,
) -> Result<Option<(GrantRecord, bool)>, StoreError> {
    let (grant, tombstone) = join(store.grant(id), store.tombstone(id)).await;
    let tombstone = tombstone?;
    Ok(grant?.map(|g| {
        let revoked = g.revoked_at.is_some() || tombstone.is_some();
        (g, revoked)
    }))
}
/// An isolate's cache of tombstone lookups: grant id → (looked up at, revoked).
#[derive(Default)]
pub struct RevocationCache {
    // Never borrowed across an `.await`: concurrent requests share the isolate.
    seen: RefCell<BTreeMap<String, (u64, bool)>>,
}

impl RevocationCache {
    /// Whether the grant was revoked. A tombstone found is remembered for good; a
    /// lookup that found none is trusted for [`REVOCATION_CACHE_SECONDS`]. When
    /// the store cannot be read, an older lookup is used rather than failing every
    /// request; with none at all the error is returned.
    pub async fn is_revoked<S: Store>(
        &self,
        store: &S,
        gid: &str,
        now: u64,
    ) -> Result<bool, StoreError> {
        let cached = self.seen.borrow().get(gid).copied();
        match cached {
            Some((_, true)) => return Ok(true),
            Some((at, false)) if now < at + REVOCATION_CACHE_SECONDS => return Ok(false),
            _ => {}
        }
        match store.tombstone(&GrantId::new(gid)).await {
            Ok(found) => {
                self.remember(gid, now, found.is_some());
                Ok(found.is_some())
            }
            Err(e) => cached.map(|(_, revoked)| revoked).ok_or(e),
        }
    }

    fn remember(&self, gid: &str, now: u64, revoked: bool) {
        let mut seen = self.seen.borrow_mut();
        if seen.len() >= REVOCATION_CACHE_ENTRIES {
            // Forget expired lookups, then everything if that was not enough.
            seen.retain(|_, (at, revoked)| *revoked || now < *at + REVOCATION_CACHE_SECONDS);
            if seen.len() >= REVOCATION_CACHE_ENTRIES {
                seen.clear();
            }
        }
        seen.insert(gid.to_owned(), (now, revoked));
    }
}

/// Revokes a grant by writing its tombstone (once: an existing one is left as
/// it is). Its refresh tokens stop at once; its access tokens as described in
/// the module doc. Needs no grant record, so it also works where the record is
/// out of reach (Durable Object mode from `admin`).
pub async fn revoke<S: Store + ?Sized>(
    store: &S,
    cache: &RevocationCache,
    gid: &GrantId,
    now: u64,
) -> Result<(), StoreError> {
    if store.tombstone(gid).await?.is_none() {
        store
            .put_tombstone(gid, &Tombstone { revoked_at: now })
            .await?;
    }
    cache.remember(gid.as_str(), now, true);
    Ok(())
}
