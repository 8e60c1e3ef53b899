//! The file `admin export` writes and `admin import` reads: JSON lines.
//!
//! The first line is a [`Header`] (format, version, the grant mode it was
//! taken in). Every other line is one record, an [`Entry`]: its KV key (see
//! [`super::keys`]), its value as JSON (index entries are `""`), and its KV
//! expiry if it has one. The lines are the same in both grant modes: a grant
//! is `grant:<id>` whether it lived in KV or in its Durable Object, so a file
//! taken in one mode loads in the other.
//!
//! Secrets appear only as the hashes that are stored. Codes are left out: one
//! lives five minutes, and Alexa redeems it within seconds. So are the
//! secrets kept readable for Amazon: a client's LWA secret and the event
//! tokens of AcceptGrant (see [`crate::alexa`]).
//!
//! [`parse`] checks every line before anything is written: a known key, a
//! value that reads as that key's record, a record that names its own key, no
//! key twice. A damaged file is refused with the number of its first bad line.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    ClientRecord, ClientRemoval, GrantRecord, IdentityLink, Tombstone, UserRecord, UserRemoval,
};

/// The `format` of every export's header.
pub const FORMAT: &str = "alexa-oauth-export";
/// The version of the line format; a reader refuses a newer one.
pub const VERSION: u32 = 1;

/// Where grants live (`GRANT_STORE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Everything in KV.
    Kv,
    /// Grants in Durable Objects, the rest in KV.
    Do,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "kv" => Some(Self::Kv),
            "do" => Some(Self::Do),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kv => "kv",
            Self::Do => "do",
        }
    }
}

/// The first line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// The grant mode the deployment was in.
    pub mode: Mode,
    pub exported_at: u64,
    /// How many records follow, so a cut-off file is told from a whole one.
    pub records: usize,
}

/// One record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub key: String,
    pub value: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<u64>,
}

impl Entry {
    /// An entry from a stored key and its text; the text must be JSON or
    /// empty (what every record and index entry is).
    pub fn from_stored(key: String, text: &str, expiration: Option<u64>) -> Result<Self, String> {
        let value = if text.is_empty() {
            Value::String(String::new())
        } else {
            serde_json::from_slice(text.as_bytes()).map_err(|e| format!("{key}: not JSON: {e}"))?
        };
        Ok(Self {
            key,
            value,
            expiration,
        })
    }

    /// The text to store under the key.
    pub fn stored_text(&self) -> String {
        match &self.value {
            Value::String(s) if s.is_empty() => String::new(),
            v => v.to_string(),
        }
    }

    /// What kind of record this is, checked (see the module doc).
    pub fn check(&self) -> Result<Kind, String> {
        let kind = Kind::of(&self.key).ok_or_else(|| format!("unknown key {:?}", self.key))?;
        kind.check(&self.key, &self.value)?;
        Ok(kind)
    }
}

/// The kinds of record an export holds, by key prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Client,
    ClientRemoved,
    User,
    UserRemoved,
    Identity,
    Grant,
    Revoked,
    UserGrant,
    ClientGrant,
    /// The operator's page texts (one record, `texts`).
    Texts,
}

impl Kind {
    const PREFIXES: [(&'static str, Self); 9] = [
        ("client:", Self::Client),
        ("clientremoved:", Self::ClientRemoved),
        ("user:", Self::User),
        ("userremoved:", Self::UserRemoved),
        ("identity:", Self::Identity),
        ("grant:", Self::Grant),
        ("revoked:", Self::Revoked),
        ("usergrant:", Self::UserGrant),
        ("clientgrant:", Self::ClientGrant),
    ];

    /// The kind of a key; `None` for one an export never holds (a code, or a
    /// key of something else).
    pub fn of(key: &str) -> Option<Self> {
        if key == super::keys::TEXTS {
            return Some(Self::Texts);
        }
        Self::PREFIXES
            .iter()
            .find(|(p, _)| key.len() > p.len() && key.starts_with(p))
            .map(|(_, k)| *k)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Client => "clients",
            Self::ClientRemoved => "client removals",
            Self::User => "users",
            Self::UserRemoved => "user removals",
            Self::Identity => "identities",
            Self::Grant => "grants",
            Self::Revoked => "tombstones",
            Self::UserGrant => "user index entries",
            Self::ClientGrant => "client index entries",
            Self::Texts => "page texts",
        }
    }

    /// The value reads as this kind's record, and the record names its key.
    fn check(self, key: &str, value: &Value) -> Result<(), String> {
        fn read<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, String> {
            T::deserialize(value).map_err(|e| format!("not a valid record: {e}"))
        }
        let rest = &key[key.find(':').map_or(0, |i| i + 1)..];
        let names = |what: &str, named: &str| {
            (named == rest)
                .then_some(())
                .ok_or_else(|| format!("the record's {what} is {named:?}, the key says {rest:?}"))
        };
        match self {
            Self::Client => names("client_id", read::<ClientRecord>(value)?.client_id.as_str()),
            Self::User => {
                let user = read::<UserRecord>(value)?;
                user.claims.as_ref().map_or(Ok(()), |c| c.check(false))?;
                names("username", &user.username)
            }
            Self::Grant => {
                let grant = read::<GrantRecord>(value)?;
                grant.claims.as_ref().map_or(Ok(()), |c| c.check(true))?;
                if !crate::grant::is_grant_id(rest) {
                    return Err(format!("{rest:?} is not a grant id"));
                }
                names("id", grant.id.as_str())
            }
            Self::ClientRemoved => read::<ClientRemoval>(value).map(drop),
            Self::UserRemoved => read::<UserRemoval>(value).map(drop),
            Self::Identity => read::<IdentityLink>(value).map(drop),
            Self::Revoked => read::<Tombstone>(value).map(drop),
            Self::Texts => read::<crate::i18n::Sources>(value)?
                .values()
                .try_for_each(|source| crate::i18n::check(source)),
            Self::UserGrant | Self::ClientGrant => match value {
                Value::String(s) if s.is_empty() && rest.contains(':') => Ok(()),
                _ => Err("an index entry is an empty string under <id>:<grant id>".into()),
            },
        }
    }
}

/// What importing `entries` over a namespace in use would bring back that
/// was changed or removed since the export, in words for the operator: an
/// older password, an identity taken off a user, a user who was removed.
/// `existing` is every key the namespace holds; `current` the stored text
/// of the users the import would overwrite.
pub fn brought_back(
    entries: &[(Kind, Entry)],
    existing: &std::collections::BTreeSet<String>,
    current: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    let mut said = Vec::new();
    for (kind, entry) in entries {
        match kind {
            Kind::User => {
                let Ok(old) = UserRecord::deserialize(&entry.value) else {
                    continue;
                };
                let now = current
                    .get(&entry.key)
                    .and_then(|text| serde_json::from_slice::<UserRecord>(text.as_bytes()).ok());
                let Some(now) = now else {
                    let removal = super::keys::user_removed(&old.id);
                    if existing.contains(&removal) {
                        said.push(format!("user {}, removed since, comes back", old.username));
                    }
                    continue;
                };
                if old.password_hash.is_some() && old.password_hash != now.password_hash {
                    said.push(format!(
                        "user {}: the password from the export replaces the one set since",
                        old.username
                    ));
                }
                for identity in old
                    .identities
                    .iter()
                    .filter(|i| !now.identities.contains(i))
                {
                    said.push(format!(
                        "user {}: identity {identity}, removed since, comes back",
                        old.username
                    ));
                }
            }
            Kind::Identity if !existing.contains(&entry.key) => {
                let identity = &entry.key[entry.key.find(':').map_or(0, |i| i + 1)..];
                said.push(format!(
                    "identity {identity}, removed since, signs in again"
                ));
            }
            _ => {}
        }
    }
    said
}

/// A line that cannot be loaded: its number (the header is line 1) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// The header line of an export of `records` records.
pub fn header_line(mode: Mode, exported_at: u64, records: usize) -> String {
    serde_json::to_string(&Header {
        format: FORMAT.into(),
        version: VERSION,
        mode,
        exported_at,
        records,
    })
    .expect("headers serialise")
}

/// One record's line.
pub fn entry_line(entry: &Entry) -> String {
    serde_json::to_string(entry).expect("entries serialise")
}

/// Reads a whole export, checking every line (see the module doc). Blank
/// lines are allowed.
pub fn parse(text: &str) -> Result<(Header, Vec<(Kind, Entry)>), LineError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty());
    let err = |line, message: String| LineError { line, message };
    let (n, first) = lines
        .next()
        .ok_or_else(|| err(1, "the file is empty".into()))?;
    let header: Header = serde_json::from_slice(first.as_bytes())
        .map_err(|e| err(n, format!("not an export header: {e}")))?;
    if header.format != FORMAT {
        return Err(err(
            n,
            format!("the format is {:?}, not {FORMAT:?}", header.format),
        ));
    }
    if header.version > VERSION {
        return Err(err(
            n,
            format!(
                "version {} is newer than this admin reads ({VERSION}): update it",
                header.version
            ),
        ));
    }
    let mut entries = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut last = n;
    for (n, line) in lines {
        last = n;
        let entry: Entry = serde_json::from_slice(line.as_bytes())
            .map_err(|e| err(n, format!("not a record line: {e}")))?;
        let kind = entry.check().map_err(|m| err(n, m))?;
        if !seen.insert(entry.key.clone()) {
            return Err(err(n, format!("{} appears twice", entry.key)));
        }
        entries.push((kind, entry));
    }
    if entries.len() != header.records {
        return Err(err(
            last + 1,
            format!(
                "the header announces {} records, the file holds {}: it is cut off or added to",
                header.records,
                entries.len()
            ),
        ));
    }
    Ok((header, entries))
}

/// The counts `admin stats` prints.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    pub users: usize,
    pub clients: usize,
    pub identities: usize,
    pub grants_live: usize,
    pub grants_revoked: usize,
}

/// Counts a namespace's records. A grant is revoked when it has a tombstone
/// or says so itself, when its client is gone or a later one of the same id,
/// or when its user was removed; otherwise live (a refresh-token TTL is not
/// counted: it depends on the Worker's setting).
pub fn counts(entries: &[(Kind, Entry)]) -> Counts {
    let by_key: std::collections::BTreeMap<&str, &Value> = entries
        .iter()
        .map(|(_, e)| (e.key.as_str(), &e.value))
        .collect();
    let value = |key: &str| by_key.get(key).copied();
    let mut counts = Counts::default();
    for (kind, entry) in entries {
        match kind {
            Kind::User => counts.users += 1,
            Kind::Client => counts.clients += 1,
            Kind::Identity => counts.identities += 1,
            Kind::Grant => {
                let Ok(grant) = GrantRecord::deserialize(&entry.value) else {
                    continue;
                };
                let client = value(&super::keys::client(&grant.client_id))
                    .and_then(|v| ClientRecord::deserialize(v).ok());
                let revoked = grant.revoked_at.is_some()
                    || value(&super::keys::revoked(&grant.id)).is_some()
                    || value(&super::keys::user_removed(&grant.user_id)).is_some()
                    || client.is_none_or(|c| {
                        c.generation != grant.client_generation
                            || c.grants_since.is_some_and(|t| grant.created_at < t)
                    });
                if revoked {
                    counts.grants_revoked += 1;
                } else {
                    counts.grants_live += 1;
                }
            }
            _ => {}
        }
    }
    counts
}
