//! `admin client …`: register, change, list, show, remove and re-key clients.

use alexa_oauth::crypto::{hash_client_secret, OsRng};
use alexa_oauth::registration;
use alexa_oauth::store::{keys, ClientRecord, ClientRemoval, GrantType, RefreshRotation};
use alexa_oauth::types::{ClientId, RedirectUri, ScopeSet};

use crate::cli::{ClientAdd, ClientUpdate};
use crate::io::{new_client_secret, now, time};
use crate::wrangler::{get, put, Kv};

/// The scopes of `--scope`.
fn parse_scope(scope: &str) -> Result<ScopeSet, String> {
    ScopeSet::parse(scope)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "--scope must be one or more space-separated scope tokens".into())
}

/// The grant types of `--grant-types`.
fn parse_grant_types(list: &str) -> Result<Vec<GrantType>, String> {
    let mut grant_types = Vec::new();
    for g in list.split(',').map(str::trim).filter(|g| !g.is_empty()) {
        let g = GrantType::parse(g).ok_or(format!(
            "unknown grant type {g:?}: use authorization_code, refresh_token, client_credentials"
        ))?;
        if !grant_types.contains(&g) {
            grant_types.push(g);
        }
    }
    Ok(grant_types)
}

/// Adds redirect URIs (checked, in order, without repeats) to `uris`.
fn add_redirects(
    uris: &mut Vec<RedirectUri>,
    alexa: Option<&str>,
    more: &[String],
) -> Result<(), String> {
    let mut new = Vec::new();
    if let Some(vendor) = alexa {
        new.extend(registration::alexa_redirect_uris(vendor).map_err(|e| format!("--alexa: {e}"))?);
    }
    for uri in more {
        new.push(registration::redirect_uri(uri)?);
    }
    for uri in new {
        if !uris.contains(&uri) {
            uris.push(uri);
        }
    }
    Ok(())
}

pub(crate) fn add(kv: &Kv, args: ClientAdd) -> Result<(), String> {
    let client_id = registration::client_id(&args.id).map_err(|e| format!("--id: {e}"))?;
    let scope = parse_scope(&args.scope)?;
    let grant_types = parse_grant_types(&args.grant_types)?;
    let mut uris = Vec::new();
    add_redirects(&mut uris, args.alexa.as_deref(), &args.redirect_uris)?;
    let key = keys::client(&client_id);
    let existing: Option<ClientRecord> = get(kv, &key)?;
    if existing.is_some() && !args.force {
        return Err(format!(
            "a client with id {:?} already exists: change it with `client update`, or replace it with --force",
            args.id
        ));
    }
    let removed: Option<ClientRemoval> = get(kv, &keys::client_removed(&client_id))?;
    let record = ClientRecord {
        client_id,
        name: args.name,
        secret_hash: String::new(),
        previous_secret_hash: None,
        previous_secret_expires_at: None,
        redirect_uris: uris,
        scope,
        grant_types,
        created_at: now(),
        grants_since: None,
        refresh_rotation: args.refresh_rotation.unwrap_or_default(),
        generation: 0,
        lwa_client_id: None,
        lwa_client_secret: None,
    };
    let new_secret_asked = args.new_secret || args.secret_stdin;
    let policy_given = args.refresh_rotation.is_some();
    let (mut record, needs_secret) =
        registration::client_to_add(record, existing, removed, new_secret_asked, policy_given)?;
    let new_secret = if needs_secret {
        let (secret, generated) = new_client_secret(args.secret_stdin)?;
        record.secret_hash = hash_client_secret(&OsRng, &secret);
        Some((secret, generated))
    } else {
        None
    };
    put(kv, &key, &record)?;
    out!(
        "Client {:?} {}.",
        args.id,
        if args.force { "replaced" } else { "added" }
    );
    out!("  client_id:     {}", args.id);
    match &new_secret {
        None => out!("  client_secret: unchanged (kept, with any rotation grace)"),
        Some((secret, true)) => out!(
            "  client_secret: {}   (shown once; only its hash is stored)",
            secret.secret()
        ),
        Some((_, false)) => out!("  client_secret: the one read from stdin"),
    }
    for uri in &record.redirect_uris {
        out!("  redirect_uri:  {uri}");
    }
    out!("  scope:         {}", record.scope);
    out!("  refresh:       {}", rotation(&record));
    Ok(())
}

/// The refresh policy in words, for `add`, `update`, `list` and `show`.
fn rotation(c: &ClientRecord) -> &'static str {
    match c.rotation() {
        RefreshRotation::Never => {
            "rotation never (the refresh token stays; a refresh writes nothing)"
        }
        RefreshRotation::Always => {
            "rotation always (a new refresh token each time; one KV write each)"
        }
    }
}

pub(crate) fn update(kv: &Kv, args: ClientUpdate) -> Result<(), String> {
    let mut c = load(kv, &args.id)?;
    if let Some(name) = args.name {
        c.name = name;
    }
    add_redirects(
        &mut c.redirect_uris,
        args.alexa.as_deref(),
        &args.add_redirect_uris,
    )?;
    for uri in &args.remove_redirect_uris {
        let before = c.redirect_uris.len();
        c.redirect_uris.retain(|r| r.as_str() != uri);
        if c.redirect_uris.len() == before {
            return Err(format!(
                "{uri:?} is not registered for client {:?}",
                args.id
            ));
        }
    }
    if let Some(scope) = &args.scope {
        c.scope = parse_scope(scope)?;
    }
    if let Some(grant_types) = &args.grant_types {
        c.grant_types = parse_grant_types(grant_types)?;
    }
    if let Some(rotation) = args.refresh_rotation {
        c.refresh_rotation = rotation;
    }
    if let Some(id) = args.lwa_client_id {
        let secret = crate::io::read_lwa_client_secret()?;
        c.lwa_client_id = Some(id);
        c.lwa_client_secret = Some(secret);
    }
    if args.no_lwa_client {
        c.lwa_client_id = None;
        c.lwa_client_secret = None;
    }
    registration::check_complete(&c)?;
    put(kv, &keys::client(&c.client_id), &c)?;
    out!("Client {:?} updated; its secret is unchanged.", args.id);
    for uri in &c.redirect_uris {
        out!("  redirect_uri:  {uri}");
    }
    out!("  scope:         {}", c.scope);
    out!("  refresh:       {}", rotation(&c));
    out!("  events client: {}", lwa_client(&c));
    Ok(())
}

/// Which Login with Amazon client the client's events use; never its secret.
fn lwa_client(c: &ClientRecord) -> String {
    match &c.lwa_client_id {
        Some(id) => format!("{id} (Login with Amazon, for /alexa/events)"),
        None => "none of its own (LWA_CLIENT_ID, if set)".into(),
    }
}

pub(crate) fn list(kv: &Kv) -> Result<(), String> {
    for key in kv.list("client:")? {
        let Some(c) = get::<ClientRecord>(kv, &key)? else {
            continue;
        };
        let grants: Vec<_> = c.grant_types.iter().map(|g| g.as_str()).collect();
        out!(
            "{}\t{}\tscope={}\tgrants={}\tredirect_uris={}\trefresh_rotation={}",
            c.client_id,
            c.name,
            c.scope,
            grants.join(","),
            c.redirect_uris.len(),
            c.rotation().as_str()
        );
    }
    Ok(())
}

fn load(kv: &Kv, id: &str) -> Result<ClientRecord, String> {
    get(kv, &keys::client(&ClientId::new(id)))?.ok_or_else(|| format!("no client with id {id:?}"))
}

pub(crate) fn show(kv: &Kv, id: &str) -> Result<(), String> {
    let c = load(kv, id)?;
    out!("client_id:    {}", c.client_id);
    out!("name:         {}", c.name);
    out!("scope:        {}", c.scope);
    let grants: Vec<_> = c.grant_types.iter().map(|g| g.as_str()).collect();
    out!("grant_types:  {}", grants.join(","));
    out!("refresh:      {}", rotation(&c));
    out!("events:       {}", lwa_client(&c));
    for uri in &c.redirect_uris {
        out!("redirect_uri: {uri}");
    }
    out!("created:      {}", time(c.created_at));
    if let Some(until) = c.previous_secret_expires_at.filter(|&u| u > now()) {
        out!("old secret:   accepted until {}", time(until));
    }
    Ok(())
}

pub(crate) fn remove(kv: &Kv, id: &str) -> Result<(), String> {
    let c = load(kv, id)?;
    // The trace first: if anything below fails, a re-added client still
    // refuses the old grants.
    let removal = registration::removal_of(&c, now());
    put(kv, &keys::client_removed(&c.client_id), &removal)?;
    let index = keys::client_grants_prefix(&c.client_id);
    let ended = pollster::block_on(alexa_oauth::grant::end_indexed(
        kv,
        &index,
        now(),
        alexa_oauth::store::Revocation::ClientRemoved,
    ))
    .map_err(|e| e.0)?;
    kv.delete(&keys::client(&c.client_id))?;
    out!(
        "Client {id:?} removed; {ended} grant(s) ended: their refresh tokens no longer work, \
         their access tokens stop within the revocation bound. Adding the id again \
         does not bring them back."
    );
    Ok(())
}

pub(crate) fn rotate_secret(
    kv: &Kv,
    id: &str,
    grace: u64,
    secret_stdin: bool,
) -> Result<(), String> {
    let mut c = load(kv, id)?;
    let (secret, generated) = new_client_secret(secret_stdin)?;
    let old = std::mem::replace(&mut c.secret_hash, hash_client_secret(&OsRng, &secret));
    (c.previous_secret_hash, c.previous_secret_expires_at) = if grace > 0 {
        (Some(old), Some(now() + grace))
    } else {
        (None, None)
    };
    put(kv, &keys::client(&c.client_id), &c)?;
    out!("Client {id:?} has a new secret.");
    if generated {
        out!(
            "  client_secret: {}   (shown once; only its hash is stored)",
            secret.secret()
        );
    }
    match c.previous_secret_expires_at {
        Some(until) => out!("  the old secret is accepted until {}", time(until)),
        None => out!("  the old secret no longer works"),
    }
    Ok(())
}
