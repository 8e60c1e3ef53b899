//! Revocation tombstones and the per-isolate cache of their lookups.

use std::cell::RefCell;

use super::GrantStore;
use crate::store::{Records, Revocation, Store, StoreError, Tombstone};
use crate::types::GrantId;

/// How long an isolate trusts a tombstone lookup that found none.
pub const REVOCATION_CACHE_SECONDS: u64 = 30;

/// How many grants an isolate's [`RevocationCache`] remembers before it forgets
/// the oldest lookups.
const REVOCATION_CACHE_ENTRIES: usize = 4096;

/// An isolate's cache of tombstone lookups: grant id, looked up at, revoked.
#[derive(Default)]
pub struct RevocationCache {
    // Sorted by grant id, for binary search: a map type of its own would cost
    // the wasm several KiB. Never borrowed across an `.await`: concurrent
    // requests share the isolate.
    seen: RefCell<Vec<(String, u64, bool)>>,
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
        let cached = {
            let seen = self.seen.borrow();
            Self::find(&seen, gid).ok().map(|i| (seen[i].1, seen[i].2))
        };
        match cached {
            Some((_, true)) => return Ok(true),
            Some((at, false)) if now < at + REVOCATION_CACHE_SECONDS => return Ok(false),
            _ => {}
        }
        match store.is_tombstoned(&GrantId::new(gid)).await {
            Ok(found) => {
                self.remember(gid, now, found);
                Ok(found)
            }
            Err(e) => cached.map(|(_, revoked)| revoked).ok_or(e),
        }
    }

    fn find(seen: &[(String, u64, bool)], gid: &str) -> Result<usize, usize> {
        seen.binary_search_by(|(g, _, _)| g.as_str().cmp(gid))
    }

    /// Records a lookup. A revocation stays: a lookup that started before it and
    /// ends after it cannot make the grant look live again.
    fn remember(&self, gid: &str, now: u64, revoked: bool) {
        let mut seen = self.seen.borrow_mut();
        if seen.len() >= REVOCATION_CACHE_ENTRIES {
            // Forget expired lookups, then everything if that was not enough.
            seen.retain(|(_, at, revoked)| *revoked || now < *at + REVOCATION_CACHE_SECONDS);
            if seen.len() >= REVOCATION_CACHE_ENTRIES {
                seen.clear();
            }
        }
        match Self::find(&seen, gid) {
            Ok(i) => {
                let entry = &mut seen[i];
                entry.1 = now;
                entry.2 |= revoked;
            }
            Err(i) => seen.insert(i, (gid.to_owned(), now, revoked)),
        }
    }
}

/// Revokes a grant by writing its tombstone (once: an existing one is left as
/// it is). Its refresh tokens stop at once; its access tokens as described in
/// the module doc. Needs no grant record, so it also works where the record is
/// out of reach (Durable Object mode from `admin`).
pub async fn revoke<S: GrantStore + ?Sized>(
    store: &S,
    cache: &RevocationCache,
    gid: &GrantId,
    now: u64,
    why: Revocation,
) -> Result<(), StoreError> {
    if !store.is_tombstoned(gid).await? {
        store.revoke_grant(gid, &Tombstone::new(now, why)).await?;
    }
    cache.remember(gid.as_str(), now, true);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use pollster::block_on;

    #[test]
    fn lookups_are_trusted_for_the_bound_and_a_revocation_for_good() {
        let store = MemoryStore::default();
        let cache = RevocationCache::default();
        let (a, b) = (GrantId::new("a"), GrantId::new("b"));
        assert!(!block_on(cache.is_revoked(&store, "a", 100)).unwrap());
        assert!(!block_on(cache.is_revoked(&store, "b", 100)).unwrap());
        block_on(store.put_tombstone(&a, &Tombstone::new(101, Revocation::Admin))).unwrap();
        assert!(
            !block_on(cache.is_revoked(&store, "a", 101)).unwrap(),
            "within the bound the lookup is trusted"
        );
        assert!(block_on(cache.is_revoked(&store, "a", 100 + REVOCATION_CACHE_SECONDS)).unwrap());
        // A lookup that read no tombstone before the revocation and reports
        // after it does not undo what the cache learnt.
        cache.remember("a", 200, false);
        assert!(block_on(cache.is_revoked(&store, "a", 200)).unwrap());
        block_on(revoke(&store, &cache, &b, 102, Revocation::Client)).unwrap();
        assert!(
            block_on(cache.is_revoked(&store, "b", 102)).unwrap(),
            "at once here"
        );
    }

    #[test]
    fn many_grants_stay_sorted_and_findable() {
        let cache = RevocationCache::default();
        for i in (0..500).rev() {
            cache.remember(&format!("g{i:03}"), 1, i % 7 == 0);
        }
        let seen = cache.seen.borrow();
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0));
        for i in 0..500 {
            let at = RevocationCache::find(&seen, &format!("g{i:03}")).unwrap();
            assert_eq!(seen[at].2, i % 7 == 0);
        }
    }

    #[test]
    fn a_full_cache_forgets_expired_lookups_and_keeps_revocations() {
        let cache = RevocationCache::default();
        for i in 0..REVOCATION_CACHE_ENTRIES {
            cache.remember(&format!("g{i:05}"), 1, i == 3);
        }
        cache.remember("new", 1 + REVOCATION_CACHE_SECONDS, false);
        let seen = cache.seen.borrow();
        assert_eq!(seen.len(), 2, "the revoked one and the new one");
        assert!(RevocationCache::find(&seen, "g00003").is_ok());
    }
}
