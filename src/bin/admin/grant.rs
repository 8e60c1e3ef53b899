//! `admin grant …`: list a user's grants and end one.

use alexa_oauth::grant::{self, RevocationCache};
use alexa_oauth::store::{keys, GrantRecord, Records};
use alexa_oauth::types::GrantId;
use pollster::block_on;

use crate::io::{now, time};
use crate::user::{load_user, user_grant_ids, user_grants};
use crate::wrangler::{get, Kv};

/// Revokes through the core, so the tombstone is written exactly as
/// `/revoke` writes it.
pub(crate) fn revoke(kv: &Kv, grant: &GrantId) -> Result<(), String> {
    block_on(grant::revoke(kv, &RevocationCache::default(), grant, now())).map_err(|e| e.0)
}

pub(crate) fn is_revoked(kv: &Kv, grant: &GrantRecord) -> Result<Option<u64>, String> {
    if let Some(at) = grant.revoked_at {
        return Ok(Some(at));
    }
    let tombstone = block_on(kv.tombstone(&grant.id)).map_err(|e| e.0)?;
    Ok(tombstone.map(|t| t.revoked_at))
}

pub(crate) fn list(kv: &Kv, username: &str) -> Result<(), String> {
    let user = load_user(kv, username)?;
    if kv.durable_grants {
        // The records are in the grants' objects: ids and revocations only.
        for gid in user_grant_ids(kv, &user.id)? {
            let state = match block_on(kv.tombstone(&gid)).map_err(|e| e.0)? {
                Some(t) => format!("revoked {}", time(t.revoked_at)),
                None => "not revoked (details are in its Durable Object)".to_owned(),
            };
            out!("{gid}\t{state}");
        }
        return Ok(());
    }
    for g in user_grants(kv, &user.id)? {
        let state = match is_revoked(kv, &g)? {
            Some(t) => format!("revoked {}", time(t)),
            None => "active".to_owned(),
        };
        out!(
            "{}\tclient={}\tscope={}\tlinked {}\tlast refresh {}\t{state}",
            g.id,
            g.client_id,
            g.scope,
            time(g.created_at),
            time(g.refreshed_at)
        );
    }
    Ok(())
}

pub(crate) fn revoke_by_id(kv: &Kv, id: &str) -> Result<(), String> {
    let gid = GrantId::new(id);
    if kv.durable_grants {
        // The record is in the grant's object, out of wrangler's reach; the
        // tombstone goes to KV, where every refresh looks first.
        if !grant::is_grant_id(id) {
            return Err(format!("{id:?} is not a grant id"));
        }
    } else if get::<GrantRecord>(kv, &keys::grant(&gid))?.is_none() {
        return Err(format!("no grant with id {id:?}"));
    }
    revoke(kv, &gid)?;
    out!("Grant {id} ended: its refresh tokens no longer work, its access tokens stop within the revocation bound.");
    Ok(())
}
