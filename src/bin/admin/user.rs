//! `admin user …`: add, list, re-password and remove users.

use alexa_oauth::crypto::{random_string, OsRng};
use alexa_oauth::password::hash_password;
use alexa_oauth::registration;
use alexa_oauth::registration::normalize_username;
use std::collections::BTreeMap;

use alexa_oauth::claims::UserClaims;
use alexa_oauth::store::{keys, GrantRecord, PasswordLink, Profile, UserRecord};
use alexa_oauth::types::{GrantId, UserId};
use alexa_oauth::users::{self, NewUser, UserChange, UserError};
use pollster::block_on;

use crate::cli::{UserAdd, UserInvite, UserResetLink, UserUpdate};
use crate::io::{now, read_password};
use crate::wrangler::{get, Kv};

pub(crate) fn add(kv: &Kv, worker: Option<&str>, args: UserAdd) -> Result<(), String> {
    let username =
        registration::username(&args.username).map_err(|e| format!("--username: {e}"))?;
    let identities = identities(&args.identity, "--identity")?;
    let claims = edit_claims(BTreeMap::new(), &args.claim, &[])?;
    let password = match args.password_stdin {
        true => Some(read_password()?),
        false => None,
    };
    let new = NewUser {
        display_name: args.display_name.unwrap_or_else(|| username.clone()),
        password_hash: password.map(|p| hash_password(&OsRng, &p)),
        identities: identities.clone(),
        claims: UserClaims::from_map(&claims),
        username: username.clone(),
    };
    let id = UserId::new(random_string(&OsRng, 16));
    let added = block_on(users::add(kv, new, args.force, id, now()));
    let (record, replaced) = added.map_err(|e| match e {
        UserError::Exists => {
            format!("a user named {username:?} already exists (use --force to replace it)")
        }
        e => said(e),
    })?;
    out!("User {username:?} added (sub {}).", record.id);
    for identity in &identities {
        out!("  may sign in as {identity}");
    }
    if replaced.is_some() {
        update_grants(kv, worker, &record)?;
    }
    Ok(())
}

/// What a refusal of the user rules says.
fn said(e: UserError) -> String {
    match e {
        UserError::Exists => "the user already exists".into(),
        UserError::IdentityTaken { identity, username } => format!(
            "{identity} already signs in as {username:?}; remove it there first \
             (user update --username {username} --remove-identity {identity})"
        ),
        UserError::NoWayToSignIn => "the user has no password, so removing every identity \
             would leave no way to sign in (set one first: user passwd)"
            .into(),
        UserError::TooLarge(size) => format!(
            "the user's identities and claims would take {size} bytes of each access token; \
             the limit is {} (tokens should stay under 2 KB)",
            alexa_oauth::claims::MAX_BYTES
        ),
        UserError::Store(e) => e.0,
    }
}

/// The user's claims after `--claim NAME=VALUE` and `--remove-claim NAME`.
fn edit_claims(
    mut claims: BTreeMap<String, String>,
    set: &[String],
    remove: &[String],
) -> Result<BTreeMap<String, String>, String> {
    for name in remove {
        if claims.remove(name).is_none() {
            return Err(format!("--remove-claim: the user has no claim {name:?}"));
        }
    }
    for pair in set {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("--claim {pair:?}: write NAME=VALUE"))?;
        alexa_oauth::claims::check_name(name).map_err(|e| format!("--claim: {e}"))?;
        claims.insert(name.to_owned(), value.to_owned());
    }
    Ok(claims)
}

/// Puts the user's display name, identities and claims on each of their
/// grants, so that the access tokens those links get next carry them.
fn update_grants(kv: &Kv, worker: Option<&str>, user: &UserRecord) -> Result<(), String> {
    let ids = user_grant_ids(kv, &user.id)?;
    if ids.is_empty() {
        return Ok(());
    }
    let profile = Profile::of(user);
    let updated = if kv.durable_grants {
        match worker {
            Some(_) => crate::route::Route::new(worker)?.update_profile(&ids, &profile)?,
            None => {
                out!(
                    "The user's {} link(s) keep the old values: in Durable Object mode, \
                     run this again with --worker URL to update them.",
                    ids.len()
                );
                return Ok(());
            }
        }
    } else {
        let keys: Vec<String> = ids.iter().map(keys::grant).collect();
        let mut changed = Vec::new();
        let mut found = 0;
        for (key, text) in keys.iter().zip(kv.get_many(&keys)?) {
            let grant: Option<GrantRecord> =
                alexa_oauth::store::from_json(key, text).map_err(|e| e.0)?;
            if let Some(mut grant) = grant {
                found += 1;
                if profile.apply(&mut grant) {
                    changed.push((
                        key.clone(),
                        serde_json::to_string(&grant).expect("serialises"),
                        None,
                    ));
                }
            }
        }
        kv.put_many(&changed)?;
        found
    };
    out!("{updated} link(s) carry the new values in their next access token.");
    Ok(())
}

/// Checked `<provider>:<subject>` values.
fn identities(given: &[String], flag: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for identity in given {
        let identity = registration::identity(identity).map_err(|e| format!("{flag}: {e}"))?;
        if !out.contains(&identity) {
            out.push(identity);
        }
    }
    Ok(out)
}

pub(crate) fn update(kv: &Kv, worker: Option<&str>, args: UserUpdate) -> Result<(), String> {
    let user = load_user(kv, &args.username)?;
    let claims = user.claims.as_ref().map(UserClaims::to_map);
    let claims = edit_claims(claims.unwrap_or_default(), &args.claim, &args.remove_claim)?;
    let change = UserChange {
        display_name: args.display_name,
        claims: Some(UserClaims::from_map(&claims)),
        add_identities: identities(&args.add_identity, "--add-identity")?,
        remove_identities: identities(&args.remove_identity, "--remove-identity")?,
    };
    let (add, remove) = (
        change.add_identities.clone(),
        change.remove_identities.clone(),
    );
    let user = block_on(users::update(kv, user, change)).map_err(|e| match e {
        UserError::NoWayToSignIn => format!(
            "{:?} has no password, so removing every identity would leave no way to sign in \
             (set one first: user passwd)",
            args.username
        ),
        e => said(e),
    })?;
    for identity in &remove {
        out!("{identity} may no longer sign in as {:?}.", user.username);
    }
    for identity in &add {
        out!("{identity} may sign in as {:?}.", user.username);
    }
    out!("User {:?} updated.", user.username);
    update_grants(kv, worker, &user)
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

/// `admin user show`: the user and their grants, never a hash.
pub(crate) fn show(kv: &Kv, worker: Option<&str>, username: &str) -> Result<(), String> {
    let user = load_user(kv, username)?;
    out!("username\t{}", user.username);
    out!("sub\t{}", user.id);
    out!("display name\t{}", user.display_name);
    out!(
        "password\t{}",
        if user.password_hash.is_some() {
            "set"
        } else {
            "none (signs in through a provider)"
        }
    );
    for identity in &user.identities {
        out!("identity\t{identity}");
    }
    for (name, value) in user
        .claims
        .as_ref()
        .map(UserClaims::to_map)
        .unwrap_or_default()
    {
        out!("claim\t{name}={value}");
    }
    let ids = user_grant_ids(kv, &user.id)?;
    let grants: Vec<GrantRecord> = if kv.durable_grants {
        match worker {
            Some(_) => crate::route::Route::new(worker)?.get(&ids)?,
            None => {
                for gid in &ids {
                    out!("grant\t{gid}\t(details through the Worker: --worker URL)");
                }
                return Ok(());
            }
        }
    } else {
        let keys: Vec<String> = ids.iter().map(keys::grant).collect();
        let mut grants = Vec::new();
        for (key, text) in keys.iter().zip(kv.get_many(&keys)?) {
            grants.extend(alexa_oauth::store::from_json(key, text).map_err(|e| e.0)?);
        }
        grants
    };
    for g in grants {
        out!(
            "grant\t{}\tclient={}\tcreated {}",
            g.id,
            g.client_id,
            crate::io::time(g.created_at)
        );
    }
    Ok(())
}

pub(crate) fn passwd(kv: &Kv, username: &str) -> Result<(), String> {
    let user = load_user(kv, username)?;
    let hash = hash_password(&OsRng, &read_password()?);
    let user = block_on(users::set_password(kv, user, hash)).map_err(|e| e.0)?;
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

pub(crate) fn remove(kv: &Kv, username: &str, settle: u64) -> Result<(), String> {
    let user = load_user(kv, username)?;
    // Through the core (see `grant::remove_user`): tombstones in KV end
    // grants in both modes; the index is read, not the records.
    let wait = async || {
        if settle > 0 {
            out!("Waiting {settle} s for KV to settle, then sweeping again…");
            std::thread::sleep(std::time::Duration::from_secs(settle));
        }
    };
    let ended =
        block_on(alexa_oauth::grant::remove_user(kv, &user, now(), wait)).map_err(|e| e.0)?;
    out!("User {:?} removed; {ended} grant(s) ended.", user.username);
    Ok(())
}

/// `admin user invite`: a user with no password yet, and a link to choose one.
pub(crate) fn invite(kv: &Kv, args: UserInvite) -> Result<(), String> {
    let username =
        registration::username(&args.username).map_err(|e| format!("--username: {e}"))?;
    let base = base_url(args.base_url)?;
    let new = NewUser {
        display_name: args.display_name.unwrap_or_else(|| username.clone()),
        password_hash: None,
        identities: Vec::new(),
        claims: None,
        username: username.clone(),
    };
    let id = UserId::new(random_string(&OsRng, 16));
    let (user, _) = block_on(users::add(kv, new, false, id, now())).map_err(|e| match e {
        UserError::Exists => format!(
            "a user named {username:?} already exists; for a new password, use \
             `user reset-link --username {username}`"
        ),
        e => said(e),
    })?;
    let (token, expires_at) = password_link(kv, &user, PasswordLink::INVITE, args.valid_for)?;
    out!(
        "User {username:?} invited (sub {}). Send them this link; it works once, until {}:",
        user.id,
        crate::io::time(expires_at)
    );
    out!("{base}/invite/{token}");
    Ok(())
}

/// `admin user reset-link`: a link to choose a new password.
pub(crate) fn reset_link(kv: &Kv, args: UserResetLink) -> Result<(), String> {
    let base = base_url(args.base_url)?;
    let user = load_user(kv, &args.username)?;
    let (token, expires_at) = password_link(kv, &user, PasswordLink::RESET, args.valid_for)?;
    out!(
        "A link for {:?} to choose a new password; it works once, until {}. Their links \
         keep working:",
        user.username,
        crate::io::time(expires_at)
    );
    out!("{base}/reset/{token}");
    Ok(())
}

/// Stores a new link for `user` (only its token's hash) and gives the token.
fn password_link(
    kv: &Kv,
    user: &UserRecord,
    purpose: &str,
    valid_for: u64,
) -> Result<(String, u64), String> {
    let token = random_string(&OsRng, 32);
    let expires_at = now() + valid_for;
    let hash = alexa_oauth::crypto::token_hash(&token);
    block_on(users::put_password_link(
        kv, user, purpose, &hash, expires_at,
    ))
    .map_err(|e| e.0)?;
    if !account_pages_on() {
        eprintln!(
            "admin: note: ACCOUNT_PAGES is not on in wrangler.toml, so unless it is set \
             elsewhere (the dashboard, .dev.vars) the Worker has no page for this link \
             (docs/account.md)"
        );
    }
    Ok((token, expires_at))
}

/// ACCOUNT_PAGES as `admin` can see it: the environment, else wrangler.toml.
fn account_pages_on() -> bool {
    let toml = std::fs::read_to_string("wrangler.toml").unwrap_or_default();
    std::env::var("ACCOUNT_PAGES")
        .ok()
        .or_else(|| alexa_oauth::var_in_wrangler_toml(&toml, "ACCOUNT_PAGES"))
        .is_some_and(|v| alexa_oauth::config::is_on(&v))
}

/// Where links point: `--base-url`, else `ISSUER` in wrangler.toml.
fn base_url(given: Option<String>) -> Result<String, String> {
    let toml = std::fs::read_to_string("wrangler.toml").unwrap_or_default();
    let base = given
        .or_else(|| alexa_oauth::var_in_wrangler_toml(&toml, "ISSUER"))
        .ok_or(
            "where does the Worker answer? Pass --base-url https://<its domain>, or set \
             ISSUER in wrangler.toml's [vars]",
        )?;
    crate::io::https_or_loopback("--base-url", &base)
}
