//! Grants after they exist: the refresh policy of each client, refresh-token
//! rotation, revocation, and telling a resource server quickly whether a grant
//! has been revoked.
//!
//! # The refresh policy
//! A client registered with rotation `never` (the default) keeps one refresh
//! token per grant: a refresh checks the grant ([`is_live`]) and writes
//! nothing. Rotation `always` follows the rules below. See [`refresh`].
//!
//! # Rotation that never strands the holder
//! A refused refresh can end a link (we infer; Amazon does not say whether
//! Alexa retries), so every way two requests can meet must leave the holder
//! with a working token:
//!
//! - **Successors are derived, not drawn.** The refresh token that follows a code
//!   or a refresh token is `HMAC(k, hash of its predecessor)`, with `k` a sub-key
//!   of `SIGNING_KEY` (see [`Successors`]). Any number of requests presenting one
//!   token, at once or one after another, get the same new token, and write the
//!   same grant state, whichever writes last.
//! - **The previous token gives back the current one** and changes nothing: a
//!   client whose answer was lost retries and gets what it missed.
//! - **Any other token of the grant revokes the family** (RFC 9700 §4.14.2):
//!   one two or more generations old, or one that matches nothing at all,
//!   shows that its holder was overtaken, however long ago.
//! - **A stale copy of the grant still accepts what followed it.** A KV location
//!   that has not yet seen the last rotations (or a late write that put an older
//!   state back) accepts a token up to [`SUCCESSOR_STEPS`] successors ahead of
//!   the stored current one. That is possible because the successor is derived
//!   from the stored hash; the price is that a KV dump together with
//!   `SIGNING_KEY` yields refresh tokens (the key alone already mints access
//!   tokens).
//!
//! # Revocations that stick
//! A revocation is its own record, a tombstone under `revoked:<grant id>`
//! ([`crate::store::Tombstone`]), written once and never rewritten by a refresh. A refresh
//! writes the grant record back, but cannot undo a tombstone; two revocations
//! at once write two keys and lose nothing.
//!
//! Access tokens are checked by signature, so a revoked grant's access tokens
//! would live until they expire (an hour). Each isolate keeps a small cache of
//! tombstone lookups per grant ([`RevocationCache`]), trusted for
//! [`REVOCATION_CACHE_SECONDS`]: a revoked grant's access tokens stop at once in
//! the isolate that revoked it, and everywhere within that bound plus KV's own
//! propagation delay (up to 60 s). The cost is one KV read per grant per
//! isolate per `REVOCATION_CACHE_SECONDS`.

pub mod durable;
mod exchange;
pub mod kv;
mod records;
mod removal;
mod revocation;
mod rotation;

pub use exchange::{
    is_live, redeem, refresh, CodeExchange, Handout, Indexing, RefreshExchange, RefreshPath,
    Refreshed, Refusal, LAST_USE_INTERVAL,
};
pub use removal::{end_indexed, remove_user};
pub use revocation::{revoke, RevocationCache, REVOCATION_CACHE_SECONDS};
pub use rotation::{current_refresh_token, Successors, RETIRED_KEPT, SUCCESSOR_STEPS};

use crate::crypto::{token_hash, TokenHash};
use crate::store::{CodeRecord, GrantRecord, Profile, Store, StoreError, Tombstone};
use crate::types::GrantId;

/// Grant ids are 16 random bytes in unpadded base64url.
pub fn is_grant_id(s: &str) -> bool {
    s.len() == 22
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The grant a refresh token (`<grant id>.<secret>`) names, if it has that shape.
/// Anything else, an access token included, names none, and costs no storage read.
pub fn grant_named_by_refresh_token(token: &str) -> Option<GrantId> {
    let (gid, secret) = token.split_once('.')?;
    (is_grant_id(gid) && secret.len() == 43 && !secret.contains('.')).then(|| GrantId::new(gid))
}

/// The grant a code names, if it has the `<grant id>.<secret>` shape.
pub fn grant_named_by_code(code: &str) -> Option<GrantId> {
    let (gid, secret) = code.split_once('.')?;
    (is_grant_id(gid) && secret.len() == 43).then(|| GrantId::new(gid))
}

/// Finds the live grant of a refresh token: one that exists, is not revoked, and
/// of which this is the current, the previous or a successor token (not a
/// retired one). Changes nothing.
pub async fn find_by_refresh_token<S: GrantStore>(
    store: &S,
    successors: &Successors,
    token: &str,
) -> Result<Option<GrantRecord>, StoreError> {
    let Some(gid) = grant_named_by_refresh_token(token) else {
        return Ok(None);
    };
    let Some((grant, false)) = store.grant_with_revocation(&gid).await? else {
        return Ok(None);
    };
    Ok(
        match rotation::match_refresh(&grant, successors, &token_hash(token)) {
            Some(rotation::RefreshMatch::Retired) | None => None,
            Some(_) => Some(grant),
        },
    )
}

/// Where grant state lives: the one seam between the grant modes, whose
/// methods are exactly the operations whose home differs. Two
/// implementations: [`kv`] (every store that holds grant state itself: Workers
/// KV, the memory store, `admin`'s) and [`durable::DurableGrants`] (each grant
/// in its Durable Object). Everything else a store holds is the same in both
/// modes and is read through [`crate::store::Records`].
#[allow(async_fn_in_trait)] // Futures stay on one thread in the Worker and in tests.
pub trait GrantStore: Store {
    /// Stores a new code, where its grant will live.
    async fn store_code(&self, hash: &TokenHash, code: &CodeRecord) -> Result<(), StoreError>;
    /// A grant, and whether it is revoked (a tombstone, or a record from
    /// before tombstones that says so).
    async fn grant_with_revocation(
        &self,
        id: &GrantId,
    ) -> Result<Option<(GrantRecord, bool)>, StoreError>;
    /// The code exchange (see [`redeem`]).
    async fn redeem_code(
        &self,
        successors: &Successors,
        r: &CodeExchange,
    ) -> Result<Result<GrantRecord, Refusal>, StoreError>;
    /// A refresh (see [`refresh`]).
    async fn refresh_grant(
        &self,
        successors: &Successors,
        r: &RefreshExchange,
    ) -> Result<Result<Refreshed, Refusal>, StoreError>;
    /// Writes a grant's tombstone where every refresh and `/userinfo` sees it.
    async fn revoke_grant(&self, id: &GrantId, t: &Tombstone) -> Result<(), StoreError>;
    /// Writes an exported grant record back as it is, where this mode keeps
    /// grants: `admin import` (through `/admin/grants` in Durable Object
    /// mode). Its index entries and tombstone are KV records of their own.
    async fn restore_grant(&self, grant: &GrantRecord) -> Result<(), StoreError>;
    /// Puts the user's current [`Profile`] on a grant (`admin user update`),
    /// changing nothing else; whether the grant exists.
    async fn update_profile(&self, id: &GrantId, profile: &Profile) -> Result<bool, StoreError>;
}
