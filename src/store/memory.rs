//! An in-memory [`Store`] for tests, with injected faults.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use super::{Listing, Store};
use crate::error::StoreError;

/// An in-memory store for tests. Expiry is not enforced here; the core checks
/// every record's own expiry time, so behaviour does not depend on the store
/// dropping old keys.
pub struct MemoryStore {
    map: RefCell<BTreeMap<String, String>>,
    /// Operations left before every later one fails (see [`MemoryStore::fail_after`]).
    ops_left: Cell<usize>,
    /// Whether writes fail while reads succeed (see [`MemoryStore::fail_writes`]).
    fail_writes: Cell<bool>,
    /// Reads and writes so far (a bulk read counts each key, as KV bills it).
    reads: Cell<usize>,
    writes: Cell<usize>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            map: RefCell::default(),
            ops_left: Cell::new(usize::MAX),
            fail_writes: Cell::new(false),
            reads: Cell::new(0),
            writes: Cell::new(0),
        }
    }
}

impl MemoryStore {
    /// Lets `n` more operations succeed, then fails every one after them, as a
    /// KV outage or rate limit would. `usize::MAX` ends the fault.
    pub fn fail_after(&self, n: usize) {
        self.ops_left.set(n);
    }

    /// Makes every write fail while reads still succeed, as KV does past the
    /// day's write quota or with two writes to one key in a second (429).
    pub fn fail_writes(&self, on: bool) {
        self.fail_writes.set(on);
    }

    /// Reads and writes so far, successful or not: (reads, writes).
    pub fn operations(&self) -> (usize, usize) {
        (self.reads.get(), self.writes.get())
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
        self.reads.set(self.reads.get() + 1);
        self.operation()?;
        Ok(self.map.borrow().get(key).cloned())
    }
    async fn put(&self, key: &str, value: String, _: Option<u64>) -> Result<(), StoreError> {
        self.writes.set(self.writes.get() + 1);
        self.operation()?;
        if self.fail_writes.get() {
            return Err(StoreError("injected write failure (KV 429)".into()));
        }
        self.map.borrow_mut().insert(key.to_owned(), value);
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.writes.set(self.writes.get() + 1);
        self.operation()?;
        self.map.borrow_mut().remove(key);
        Ok(())
    }
    async fn keys_with_prefix(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let mut keys = self.list(prefix).await?;
        keys.truncate(limit);
        Ok(keys)
    }
}

impl Listing for MemoryStore {
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.operation()?;
        let map = self.map.borrow();
        Ok(map
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
}
