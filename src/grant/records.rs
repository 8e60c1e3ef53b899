//! Grant state, read and written as records: codes, grants and their index
//! entries. Private to `grant`: in Durable Object mode this state lives in the
//! grant's object, so everything else reaches it only through
//! [`GrantStore`](super::GrantStore), never by reading a store directly.

use crate::crypto::TokenHash;
use crate::store::StoreError;
use crate::store::{from_json, get_json, keys, put_json, CodeRecord, GrantRecord, Store};
use crate::types::{ClientId, GrantId, UserId};

pub(super) async fn code<S: Store + ?Sized>(
    store: &S,
    hash: &TokenHash,
) -> Result<Option<CodeRecord>, StoreError> {
    get_json(store, &keys::code(hash)).await
}

pub(super) async fn put_code<S: Store + ?Sized>(
    store: &S,
    hash: &TokenHash,
    code: &CodeRecord,
) -> Result<(), StoreError> {
    put_json(store, &keys::code(hash), code, Some(code.expires_at)).await
}

/// Marks a code used; a later redemption is then a replay.
pub(super) async fn spend_code<S: Store + ?Sized>(
    store: &S,
    hash: &TokenHash,
    mut code: CodeRecord,
) -> Result<(), StoreError> {
    code.used = true;
    put_code(store, hash, &code).await
}

pub(super) async fn put_grant<S: Store + ?Sized>(
    store: &S,
    grant: &GrantRecord,
) -> Result<(), StoreError> {
    put_json(store, &keys::grant(&grant.id), grant, None).await
}

/// A grant, and whether it has a tombstone, read at once (every refresh
/// needs both). The tombstone's content is not read: its existence decides.
pub(super) async fn grant_and_tombstone<S: Store + ?Sized>(
    store: &S,
    id: &GrantId,
) -> Result<(Option<GrantRecord>, bool), StoreError> {
    let grant = keys::grant(id);
    let (g, t) = store.get_two(&grant, &keys::revoked(id)).await?;
    Ok((from_json(&grant, g)?, t.is_some()))
}

/// The index entries of a grant, in the user's and the client's index (what
/// `admin` lists to end them, and `admin export` reads).
pub(super) async fn index_grant<S: Store + ?Sized>(
    store: &S,
    user: &UserId,
    client: &ClientId,
    grant: &GrantId,
) -> Result<(), StoreError> {
    store
        .put(&keys::user_grant(user, grant), String::new(), None)
        .await?;
    store
        .put(&keys::client_grant(client, grant), String::new(), None)
        .await
}

/// Whether a grant is revoked: its tombstone exists (`tombstoned`), or, for a
/// record from before tombstones, the record itself says so.
pub(super) fn is_revoked(grant: &GrantRecord, tombstoned: bool) -> bool {
    tombstoned || grant.revoked_at.is_some()
}
