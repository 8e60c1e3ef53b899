//! `admin texts …`: the operator's page texts, which override the built-in
//! catalogues or add a language (see `alexa_oauth::i18n`). All of them live
//! in one KV record, so a page reads them in one read per isolate a minute.

use std::path::Path;

use alexa_oauth::i18n::{self, Sources};
use alexa_oauth::store::keys;

use crate::wrangler::{get, put, Kv};

fn stored(kv: &Kv) -> Result<Sources, String> {
    Ok(get::<Sources>(kv, keys::TEXTS)?.unwrap_or_default())
}

/// Stores `file` as the operator's catalogue for `tag`, once it checks out.
pub(crate) fn set(kv: &Kv, tag: &str, file: &Path) -> Result<(), String> {
    if !i18n::is_tag(tag) {
        return Err(format!(
            "{tag:?} is not a language tag (letters, digits, -)"
        ));
    }
    let source = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    i18n::check(&source).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut all = stored(kv)?;
    all.insert(tag.to_owned(), source);
    put(kv, keys::TEXTS, &all)?;
    println!("texts for {tag} stored; pages use them within a minute");
    Ok(())
}

/// Forgets the operator's catalogue for `tag`.
pub(crate) fn remove(kv: &Kv, tag: &str) -> Result<(), String> {
    let mut all = stored(kv)?;
    if all.remove(tag).is_none() {
        return Err(format!("no texts of yours for {tag}"));
    }
    put(kv, keys::TEXTS, &all)?;
    println!("texts for {tag} removed; pages use the built-in ones within a minute");
    Ok(())
}

/// The languages: built in, and which the operator has texts for.
pub(crate) fn list(kv: &Kv) -> Result<(), String> {
    let all = stored(kv)?;
    for tag in i18n::built_in_tags() {
        let own = if all.contains_key(tag) {
            "  (with your texts)"
        } else {
            ""
        };
        println!("{tag}{own}");
    }
    for tag in all.keys().filter(|t| i18n::built_in_source(t).is_none()) {
        println!("{tag}  (yours)");
    }
    Ok(())
}

/// Prints the catalogue of `tag`, the operator's if stored, else the
/// built-in one: the file to start an edit from.
pub(crate) fn show(kv: &Kv, tag: &str) -> Result<(), String> {
    let all = stored(kv)?;
    let source = all
        .get(tag)
        .map(String::as_str)
        .or_else(|| i18n::built_in_source(tag));
    print!("{}", source.ok_or_else(|| format!("no texts for {tag}"))?);
    Ok(())
}
