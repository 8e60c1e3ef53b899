//! `admin grant …`: list a user's grants, show one, end one.

use alexa_oauth::grant::{self, RevocationCache};
use alexa_oauth::store::{
    from_json, keys, ClientRecord, GrantRecord, Records, Revocation, Tombstone, UserRecord,
    UserRemoval,
};
use alexa_oauth::types::{GrantId, UserId};
use pollster::block_on;

use crate::io::{now, time};
use crate::route::Route;
use crate::user::{load_user, user_grant_ids, user_grants};
use crate::wrangler::{get, Kv};

/// Revokes through the core, so the tombstone is written exactly as
/// `/revoke` writes it.
pub(crate) fn revoke(kv: &Kv, grant: &GrantId, why: Revocation) -> Result<(), String> {
    block_on(grant::revoke(
        kv,
        &RevocationCache::default(),
        grant,
        now(),
        why,
    ))
    .map_err(|e| e.0)
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
    }
    let record = match kv.durable_grants {
        true => None,
        false => Some(
            get::<GrantRecord>(kv, &keys::grant(&gid))?
                .ok_or_else(|| format!("no grant with id {id:?}"))?,
        ),
    };
    revoke(kv, &gid, Revocation::Admin)?;
    // Its event tokens for Alexa: by its user and client where the grant
    // record says them; in Durable Object mode, where it is out of reach,
    // found among all the event records by the grant they name.
    let forgotten = match &record {
        Some(g) => {
            let cache = alexa_oauth::alexa::EventTokenCache::default();
            block_on(alexa_oauth::alexa::forget(
                kv,
                &cache,
                &g.user_id,
                &g.client_id,
                &gid,
            ))
        }
        None => block_on(alexa_oauth::alexa::forget_grant(kv, &gid)),
    };
    forgotten.map_err(|e| e.0)?;
    out!("Grant {id} ended: its refresh tokens no longer work, its access tokens stop within the revocation bound.");
    Ok(())
}

/// `admin grant show`: the grant's record (through the Worker in Durable
/// Object mode) and what decides whether it works, read in one bulk call.
pub(crate) fn show(kv: &Kv, worker: Option<&str>, id: &str) -> Result<(), String> {
    if !grant::is_grant_id(id) {
        return Err(format!("{id:?} is not a grant id"));
    }
    let gid = GrantId::new(id);
    let record = if kv.durable_grants {
        Route::new(worker)?.get(std::slice::from_ref(&gid))?.pop()
    } else {
        get::<GrantRecord>(kv, &keys::grant(&gid))?
    };
    let g = record.ok_or_else(|| format!("no grant with id {id:?}"))?;
    let wanted = [
        keys::revoked(&g.id),
        keys::client(&g.client_id),
        keys::user_removed(&g.user_id),
    ];
    let [tombstone, client, removal] = <[Option<String>; 3]>::try_from(kv.get_many(&wanted)?)
        .map_err(|_| "unexpected answer from wrangler kv bulk get")?;
    let tombstone: Option<Tombstone> = from_json(&wanted[0], tombstone).map_err(|e| e.0)?;
    let client: Option<ClientRecord> = from_json(&wanted[1], client).map_err(|e| e.0)?;
    let removal: Option<UserRemoval> = from_json(&wanted[2], removal).map_err(|e| e.0)?;
    let username = user_with_sub(kv, &g.user_id)?;

    out!("grant\t{}", g.id);
    match (&username, &removal) {
        (Some(name), _) => out!("user\t{name} (sub {})", g.user_id),
        (None, Some(r)) => out!("user\tremoved {} (sub {})", time(r.removed_at), g.user_id),
        (None, None) => out!("user\tnone has sub {}", g.user_id),
    }
    match &client {
        Some(c) => out!("client\t{} ({:?})", g.client_id, c.name),
        None => out!("client\t{} (removed)", g.client_id),
    }
    out!("scope\t{}", g.scope);
    out!("linked\t{}", time(g.created_at));
    out!(
        "last use\t{} (recorded at most once a day)",
        time(g.refreshed_at)
    );
    if let Some(c) = &client {
        out!("refresh policy\t{}", c.rotation().as_str());
    }
    let state = if let Some(t) = &tombstone {
        format!(
            "revoked {}: {}",
            time(t.revoked_at),
            Revocation::describe(t.why)
        )
    } else if let Some(at) = g.revoked_at {
        format!(
            "revoked {}: by its Durable Object (its code presented twice, or a refresh \
             token it had moved past came back)",
            time(at)
        )
    } else if let Some(r) = &removal {
        format!("ended {}: its user was removed", time(r.removed_at))
    } else if let Some(c) = client
        .as_ref()
        .filter(|c| c.generation == g.client_generation)
    {
        match c.grants_since {
            Some(since) if g.created_at < since => "ended: its client was removed".to_owned(),
            _ => "active (unless REFRESH_TOKEN_TTL has passed since its last use)".to_owned(),
        }
    } else {
        "ended: its client was removed".to_owned()
    };
    out!("state\t{state}");
    Ok(())
}

/// The username whose record has this `sub`: every user record, read in
/// bulk (users are few; nothing indexes them by `sub`).
fn user_with_sub(kv: &Kv, sub: &UserId) -> Result<Option<String>, String> {
    let keys = kv.list("user:")?;
    for (key, text) in keys.iter().zip(kv.get_many(&keys)?) {
        if let Some(user) = from_json::<UserRecord>(key, text).map_err(|e| e.0)? {
            if &user.id == sub {
                return Ok(Some(user.username));
            }
        }
    }
    Ok(None)
}
