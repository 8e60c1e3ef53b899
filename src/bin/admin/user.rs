//! `admin user …`: add, list, re-password and remove users.

use alexa_oauth::crypto::{random_string, OsRng};
use alexa_oauth::password::hash_password;
use alexa_oauth::registration;
use alexa_oauth::store::{keys, normalize_username, GrantRecord, Store, UserRecord};
use alexa_oauth::types::{GrantId, UserId};
use pollster::block_on;

use crate::cli::UserAdd;
use crate::grant::revoke;
use crate::io::{now, read_password};
use crate::wrangler::{get, put, Kv};

pub(crate) fn add(kv: &Kv, args: UserAdd) -> Result<(), String> {
    let username =
        registration::username(&args.username).map_err(|e| format!("--username: {e}"))?;
    let password = read_password()?;
    let key = keys::user(&username);
    let existing: Option<UserRecord> = get(kv, &key)?;
    if existing.is_some() && !args.force {
        return Err(format!(
            "a user named {username:?} already exists (use --force to replace it)"
        ));
    }
    let record = UserRecord {
        // A replaced user keeps its id, so its links keep working.
        id: existing
            .as_ref()
            .map(|u| u.id.clone())
            .unwrap_or_else(|| UserId::new(random_string(&OsRng, 16))),
        display_name: args.display_name.unwrap_or_else(|| username.clone()),
        password_hash: hash_password(&OsRng, &password),
        created_at: existing.map(|u| u.created_at).unwrap_or_else(now),
        username: username.clone(),
    };
    put(kv, &key, &record)?;
    out!("User {username:?} added (sub {}).", record.id);
    Ok(())
}

pub(crate) fn load_user(kv: &Kv, username: &str) -> Result<UserRecord, String> {
    let username = normalize_username(username);
    get(kv, &keys::user(&username))?.ok_or_else(|| format!("no user named {username:?}"))
}

pub(crate) fn list(kv: &Kv) -> Result<(), String> {
    for key in kv.list("user:")? {
        out!("{}", key.trim_start_matches("user:"));
    }
    Ok(())
}

pub(crate) fn passwd(kv: &Kv, username: &str) -> Result<(), String> {
    let mut user = load_user(kv, username)?;
    user.password_hash = hash_password(&OsRng, &read_password()?);
    put(kv, &keys::user(&user.username), &user)?;
    out!("Password of {:?} changed.", user.username);
    Ok(())
}

/// The ids in a user's grant index (written in both modes).
pub(crate) fn user_grant_ids(kv: &Kv, user: &UserId) -> Result<Vec<GrantId>, String> {
    Ok(kv
        .list(&keys::user_grants_prefix(user))?
        .iter()
        .map(|key| GrantId::new(key.rsplit(':').next().unwrap_or_default()))
        .collect())
}

/// A user's grant records (KV mode: in Durable Object mode they are in the
/// grants' objects).
pub(crate) fn user_grants(kv: &Kv, user: &UserId) -> Result<Vec<GrantRecord>, String> {
    let mut grants = Vec::new();
    for gid in user_grant_ids(kv, user)? {
        if let Some(g) = get(kv, &keys::grant(&gid))? {
            grants.push(g);
        }
    }
    Ok(grants)
}

pub(crate) fn remove(kv: &Kv, username: &str) -> Result<(), String> {
    let user = load_user(kv, username)?;
    // Tombstones in KV end grants in both modes; the index is read, not the
    // records (in Durable Object mode those are out of reach).
    let mut ended = 0;
    for gid in user_grant_ids(kv, &user.id)? {
        if block_on(kv.tombstone(&gid)).map_err(|e| e.0)?.is_none() {
            revoke(kv, &gid)?;
            ended += 1;
        }
    }
    kv.delete(&keys::user(&user.username))?;
    out!("User {:?} removed; {ended} grant(s) ended.", user.username);
    Ok(())
}
