//! `admin client …`: register, list, show, remove and re-key clients.

use alexa_oauth::crypto::{hash_client_secret, OsRng};
use alexa_oauth::registration;
use alexa_oauth::store::{keys, ClientRecord, GrantType};
use alexa_oauth::types::{ClientId, RedirectUri, ScopeSet};

use crate::cli::ClientAdd;
use crate::io::{new_client_secret, now, time};
use crate::wrangler::{get, put, Kv};

pub(crate) fn add(kv: &Kv, args: ClientAdd) -> Result<(), String> {
    let client_id = registration::client_id(&args.id).map_err(|e| format!("--id: {e}"))?;
    let scope = ScopeSet::parse(&args.scope)
        .filter(|s| !s.is_empty())
        .ok_or("--scope must be one or more space-separated scope tokens")?;
    let mut grant_types = Vec::new();
    for g in args
        .grant_types
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
    {
        let g = GrantType::parse(g).ok_or(format!(
            "unknown grant type {g:?}: use authorization_code, refresh_token, client_credentials"
        ))?;
        if !grant_types.contains(&g) {
            grant_types.push(g);
        }
    }
    let mut uris: Vec<RedirectUri> = Vec::new();
    if let Some(vendor) = &args.alexa {
        uris.extend(
            registration::alexa_redirect_uris(vendor).map_err(|e| format!("--alexa: {e}"))?,
        );
    }
    for uri in &args.redirect_uris {
        uris.push(registration::redirect_uri(uri)?);
    }
    uris.dedup();
    if grant_types.contains(&GrantType::AuthorizationCode) && uris.is_empty() {
        return Err(
            "an authorization_code client needs --alexa VENDOR_ID or --redirect-uri".into(),
        );
    }
    let key = keys::client(&client_id);
    if !args.force && get::<serde_json::Value>(kv, &key)?.is_some() {
        return Err(format!(
            "a client with id {:?} already exists (use --force to replace it)",
            args.id
        ));
    }
    let (secret, generated) = new_client_secret(args.secret_stdin)?;
    let record = ClientRecord {
        client_id,
        name: args.name,
        secret_hash: hash_client_secret(&OsRng, &secret),
        previous_secret_hash: None,
        previous_secret_expires_at: None,
        redirect_uris: uris.clone(),
        scope,
        grant_types,
        created_at: now(),
    };
    put(kv, &key, &record)?;
    out!("Client {:?} added.", args.id);
    out!("  client_id:     {}", args.id);
    if generated {
        out!(
            "  client_secret: {}   (shown once; only its hash is stored)",
            secret.secret()
        );
    }
    for uri in &uris {
        out!("  redirect_uri:  {uri}");
    }
    out!("  scope:         {}", record.scope);
    Ok(())
}

pub(crate) fn list(kv: &Kv) -> Result<(), String> {
    for key in kv.list("client:")? {
        let Some(c) = get::<ClientRecord>(kv, &key)? else {
            continue;
        };
        let grants: Vec<_> = c.grant_types.iter().map(|g| g.as_str()).collect();
        out!(
            "{}\t{}\tscope={}\tgrants={}\tredirect_uris={}",
            c.client_id,
            c.name,
            c.scope,
            grants.join(","),
            c.redirect_uris.len()
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
    kv.delete(&keys::client(&c.client_id))?;
    out!("Client {id:?} removed. Its refresh tokens no longer work; its access tokens expire within an hour.");
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
