//! Removing a user so that none of their grants ever works again.
//!
//! KV has no transactions, so a code exchange can race the removal: it may
//! have read the user's state before the removal began and write its grant
//! (and the grant's index entry) after the sweep listed the index. Two things
//! close that:
//! - the removal first writes a trace, `userremoved:<sub>`, which the token
//!   endpoint reads after every code exchange: a grant made for a removed user
//!   is revoked at once and the exchange refused, so a code issued before the
//!   removal and redeemed after it gives nothing;
//! - the sweep runs twice, the second time after `settle` (long enough for the
//!   trace and the index to be seen everywhere: KV's propagation delay), which
//!   catches an exchange that read the store before the trace existed.
//!
//! The user's event tokens for Alexa are deleted after the sweeps.

use crate::store::{
    keys, put_json, Listing, Revocation, StoreError, Tombstone, UserRecord, UserRemoval,
};
use crate::types::GrantId;

/// Removes `user` and ends every grant of theirs (see the module doc);
/// `settle` waits between the two sweeps. Returns how many grants it ended.
pub async fn remove_user<S: Listing>(
    store: &S,
    user: &UserRecord,
    now: u64,
    settle: impl AsyncFnOnce(),
) -> Result<usize, StoreError> {
    let trace = UserRemoval { removed_at: now };
    put_json(store, &keys::user_removed(&user.id), &trace, None).await?;
    store.delete(&keys::user(&user.username)).await?;
    for identity in &user.identities {
        store.delete(&keys::identity(identity)).await?;
    }
    let index = keys::user_grants_prefix(&user.id);
    let mut ended = end_indexed(store, &index, now, Revocation::UserRemoved).await?;
    settle().await;
    ended += end_indexed(store, &index, now, Revocation::UserRemoved).await?;
    // Their event tokens for Alexa, after the second sweep: an AcceptGrant
    // racing the removal wrote its record before its grant's tombstone was
    // seen, or is refused by it.
    for key in store.list(&keys::alexa_events_prefix(&user.id)).await? {
        store.delete(&key).await?;
    }
    Ok(ended)
}

/// Writes the tombstone of each grant in an index (a user's or a client's,
/// by its key prefix) that has none, in KV, where both grant modes look
/// first: one listing, one bulk read and one bulk write through `admin`'s
/// store, however many grants. Returns how many it ended.
pub async fn end_indexed<S: Listing>(
    store: &S,
    index: &str,
    now: u64,
    why: Revocation,
) -> Result<usize, StoreError> {
    let tombstones: Vec<String> = store
        .list(index)
        .await?
        .iter()
        .map(|key| keys::revoked(&GrantId::new(key.rsplit(':').next().unwrap_or_default())))
        .collect();
    let found = store.get_many(&tombstones).await?;
    let tombstone = serde_json::to_string(&Tombstone::new(now, why)).expect("serialises");
    let missing: Vec<(String, String)> = tombstones
        .into_iter()
        .zip(found)
        .filter(|(_, found)| found.is_none())
        .map(|(key, _)| (key, tombstone.clone()))
        .collect();
    store.put_many(&missing).await?;
    Ok(missing.len())
}
