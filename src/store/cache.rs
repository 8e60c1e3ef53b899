//! Client records cached per isolate, so that a refresh usually reads only its
//! grant.
//!
//! A record is trusted for [`ClientCache`]'s bound (`CLIENT_CACHE_SECONDS`,
//! default 30 s). So a removed client, or a secret replaced by `rotate-secret`,
//! takes effect within that bound plus KV's propagation delay. A *new* secret
//! works at once: a secret that does not match the cached record makes one
//! fresh read. Unknown ids are never cached. What must act at once goes through
//! the grant records and their tombstones (`admin client remove` writes one per
//! grant), which this cache never holds. A code is stamped from a fresh read
//! (its client's generation), so a copy of a client's earlier life never
//! decides which life a new grant belongs to.

use std::cell::RefCell;
use std::rc::Rc;

use super::{ClientRecord, Records, Store};
use crate::error::StoreError;
use crate::types::ClientId;

/// The most client records an isolate keeps.
const ENTRIES: usize = 256;

/// An isolate's copies of client records.
#[derive(Debug, Default)]
pub struct ClientCache {
    /// Seconds a copy is trusted; 0 reads the store every time.
    ttl: u64,
    // Never borrowed across an `.await`: concurrent requests share the isolate.
    // A list, not a map: a deployment has a client or two, and a map type of
    // its own would cost wasm size.
    seen: RefCell<Vec<(u64, Rc<ClientRecord>)>>,
}

impl ClientCache {
    pub fn new(ttl: u64) -> Self {
        Self {
            ttl,
            seen: RefCell::default(),
        }
    }

    /// The client, from a copy at most the bound old; the bool says whether it
    /// was just read from the store.
    pub async fn get<S: Store + ?Sized>(
        &self,
        store: &S,
        id: &ClientId,
        now: u64,
    ) -> Result<Option<(Rc<ClientRecord>, bool)>, StoreError> {
        let cached = self
            .seen
            .borrow()
            .iter()
            .find(|(_, c)| c.client_id == *id)
            .cloned();
        if let Some((at, client)) = cached {
            if now < at.saturating_add(self.ttl) {
                return Ok(Some((client, false)));
            }
        }
        Ok(self.reload(store, id, now).await?.map(|c| (c, true)))
    }

    /// Reads the client from the store, and keeps the copy.
    pub async fn reload<S: Store + ?Sized>(
        &self,
        store: &S,
        id: &ClientId,
        now: u64,
    ) -> Result<Option<Rc<ClientRecord>>, StoreError> {
        let found = store.client(id).await?.map(Rc::new);
        let mut seen = self.seen.borrow_mut();
        seen.retain(|(_, c)| c.client_id != *id);
        if let Some(client) = found.as_ref().filter(|_| self.ttl > 0) {
            if seen.len() >= ENTRIES {
                seen.clear();
            }
            seen.push((now, client.clone()));
        }
        Ok(found)
    }
}
