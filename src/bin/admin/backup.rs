//! `admin export`, `admin import` and `admin stats`: the whole namespace as
//! the JSON lines of [`alexa_oauth::store::backup`], read and written in
//! bulk.

use std::collections::BTreeSet;
use std::path::Path;

use alexa_oauth::store::backup::{self, Entry, Kind, Mode};
use alexa_oauth::types::GrantId;

use crate::io::now;
use crate::route::Route;
use crate::wrangler::Kv;

/// Every record of the namespace, sorted by key: the KV records in bulk
/// (codes left out), and in Durable Object mode each grant its index names,
/// through the Worker.
fn read_all(kv: &Kv, worker: Option<&str>) -> Result<Vec<Entry>, String> {
    let route = kv.durable_grants.then(|| Route::new(worker)).transpose()?;
    let listed: Vec<(String, Option<u64>)> = kv
        .listed("")?
        .into_iter()
        .filter(|(key, _)| match Kind::of(key) {
            // Grant records in KV are stale leftovers in Durable Object mode.
            Some(Kind::Grant) => route.is_none(),
            Some(_) => true,
            None => {
                // Codes, password links and spent sign-in states:
                // short-lived, and of no use restored. Event tokens: Amazon's
                // secrets, which an export never holds.
                let ours = ["code:", "passwordlink:", "signinstate:", "alexaevents:"];
                if !ours.iter().any(|prefix| key.starts_with(prefix)) {
                    eprintln!("admin: left out {key:?}, which is not one of ours");
                }
                false
            }
        })
        .collect();
    let keys: Vec<String> = listed.iter().map(|(k, _)| k.clone()).collect();
    let values = kv.get_many(&keys)?;
    let mut entries = Vec::with_capacity(listed.len());
    for ((key, expiration), value) in listed.into_iter().zip(values) {
        // A key deleted between the listing and the read is gone.
        if let Some(text) = value {
            let mut entry = Entry::from_stored(key, &text, expiration)?;
            // The skill's LWA secret stays in KV: `client update
            // --lwa-client-secret-stdin` sets it again after an import.
            if let Some(fields) = entry.value.as_object_mut() {
                if fields.remove("lwa_client_secret").is_some() {
                    eprintln!(
                        "admin: left out the Login with Amazon secret of {}; after an import, \
                         set it again with `client update --lwa-client-id … --lwa-client-secret-stdin`",
                        entry.key
                    );
                }
            }
            entries.push(entry);
        }
    }
    if let Some(route) = route {
        let ids: BTreeSet<String> = entries
            .iter()
            .filter(|e| matches!(Kind::of(&e.key), Some(Kind::UserGrant | Kind::ClientGrant)))
            .filter_map(|e| e.key.rsplit(':').next().map(str::to_owned))
            .collect();
        let ids: Vec<GrantId> = ids.into_iter().map(GrantId::new).collect();
        for grant in route.get(&ids)? {
            let text = serde_json::to_string(&grant).expect("records serialise");
            entries.push(Entry::from_stored(
                format!("grant:{}", grant.id),
                &text,
                None,
            )?);
        }
    }
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(entries)
}

fn mode(kv: &Kv) -> Mode {
    if kv.durable_grants {
        Mode::Do
    } else {
        Mode::Kv
    }
}

pub(crate) fn export(kv: &Kv, worker: Option<&str>, out: Option<&Path>) -> Result<(), String> {
    let entries = read_all(kv, worker)?;
    let mut text = backup::header_line(mode(kv), now(), entries.len());
    text.push('\n');
    for entry in &entries {
        text.push_str(&backup::entry_line(entry));
        text.push('\n');
    }
    match out {
        Some(path) => write_private(path, &text)?,
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(text.as_bytes())
                .map_err(|e| format!("could not write the export: {e}"))?;
        }
    }
    eprintln!(
        "admin: exported {} records ({} grant mode){}",
        entries.len(),
        mode(kv).as_str(),
        summary(entries.iter().filter_map(|e| Kind::of(&e.key)))
    );
    Ok(())
}

/// An export holds every user's password hash: only its owner may read it.
/// A file that was already there gets mode 0600 too, before anything is
/// written to it (`mode` applies only to a file it creates).
fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let failed = |e: std::io::Error| format!("could not write {}: {e}", path.display());
    let mut file = match crate::host::create_private(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            crate::host::make_private(path).map_err(failed)?;
            // Emptied below, now that only its owner can read it.
            std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(failed)?
        }
        Err(e) => return Err(failed(e)),
    };
    file.set_len(0).map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)
}

/// ": 2 clients, 5 users, …" for the kinds given.
fn summary(kinds: impl Iterator<Item = Kind>) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for kind in kinds {
        *counts.entry(kind).or_insert(0usize) += 1;
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(kind, n)| format!("{n} {}", kind.name()))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join(", "))
    }
}

pub(crate) fn import(
    kv: &Kv,
    worker: Option<&str>,
    file: &Path,
    force: bool,
    yes: bool,
    dry_run: bool,
) -> Result<(), String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("could not read {}: {e}", file.display()))?;
    // Every line is checked before anything is written.
    let (header, entries) = backup::parse(&text)
        .map_err(|e| format!("{}: {e}; nothing was written", file.display()))?;
    let route = kv.durable_grants.then(|| Route::new(worker)).transpose()?;

    let existing: BTreeSet<String> = kv.list("")?.into_iter().collect();
    let (overwrite, add): (Vec<&Entry>, Vec<&Entry>) = entries
        .iter()
        .map(|(_, e)| e)
        .partition(|e| existing.contains(&e.key));
    let plan = format!(
        "{} from {} ({} mode, exported {}) into this {} mode namespace: {} to add{}, \
         {} to overwrite{}; the namespace holds {} keys.",
        if dry_run { "Would import" } else { "Importing" },
        file.display(),
        header.mode.as_str(),
        crate::io::time(header.exported_at),
        mode(kv).as_str(),
        add.len(),
        summary(add.iter().filter_map(|e| Kind::of(&e.key))),
        overwrite.len(),
        summary(overwrite.iter().filter_map(|e| Kind::of(&e.key))),
        existing.len(),
    );
    out!("{plan}");
    if route.is_some() {
        out!(
            "  Grants in the file go to their Durable Objects (a grant already there is replaced)."
        );
    }
    // What a --force import would undo, said before anything is written.
    let users: Vec<String> = overwrite
        .iter()
        .filter(|e| Kind::of(&e.key) == Some(Kind::User))
        .map(|e| e.key.clone())
        .collect();
    let current = users.iter().cloned().zip(kv.get_many(&users)?);
    let current = current.filter_map(|(k, v)| Some((k, v?))).collect();
    let undone = backup::brought_back(&entries, &existing, &current);
    for line in &undone {
        out!("  ! {line}");
    }
    if dry_run {
        return Ok(());
    }
    if !existing.is_empty() && force && !undone.is_empty() && !yes {
        crate::io::confirm(&format!(
            "{} change(s) made since the export would be undone",
            undone.len()
        ))?;
    }
    if !existing.is_empty() && !force {
        let first: Vec<&str> = overwrite.iter().take(5).map(|e| e.key.as_str()).collect();
        return Err(format!(
            "the namespace is not empty ({} keys{}). Nothing was written: import into a \
             fresh namespace, or pass --force to write over it.",
            existing.len(),
            if first.is_empty() {
                String::new()
            } else {
                format!("; overwritten would be {} …", first.join(", "))
            }
        ));
    }
    if let Some(route) = &route {
        // Reachable before anything is written in KV.
        route.check()?;
    }
    let now = now();
    let mut kv_entries = Vec::new();
    let mut grants = Vec::new();
    let mut expired = 0;
    for (kind, entry) in entries {
        if entry.expiration.is_some_and(|at| at <= now + 60) {
            // KV refuses an expiry less than a minute ahead; it is gone anyway.
            expired += 1;
        } else if kind == Kind::Grant && route.is_some() {
            grants.push(entry.value);
        } else {
            kv_entries.push((entry.key.clone(), entry.stored_text(), entry.expiration));
        }
    }
    kv.put_many(&kv_entries)?;
    if let Some(route) = &route {
        route.restore(&grants)?;
    }
    out!(
        "Imported {} records in KV{}{}.",
        kv_entries.len(),
        if route.is_some() {
            format!(" and {} grants in their Durable Objects", grants.len())
        } else {
            String::new()
        },
        if expired > 0 {
            format!("; {expired} expired ones left out")
        } else {
            String::new()
        }
    );
    Ok(())
}

pub(crate) fn stats(kv: &Kv, worker: Option<&str>) -> Result<(), String> {
    let entries = read_all(kv, worker)?;
    let kinds: Vec<(Kind, Entry)> = entries
        .into_iter()
        .filter_map(|e| Some((Kind::of(&e.key)?, e)))
        .collect();
    let c = backup::counts(&kinds);
    out!("users\t{}", c.users);
    out!("clients\t{}", c.clients);
    out!("identities\t{}", c.identities);
    out!("grants live\t{}", c.grants_live);
    out!("grants revoked\t{}", c.grants_revoked);
    Ok(())
}
