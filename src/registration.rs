//! What a client or user must look like to be registered. `admin` applies these
//! rules when it writes records; the Worker relies on them when it reads them
//! (a registered redirect URI is an absolute http(s) URL, a client id needs no
//! encoding).

use crate::store::{ClientRecord, ClientRemoval, GrantType};
use crate::types::{ClientId, ClientSecret, Password, RedirectUri};

/// Characters that need no encoding anywhere (RFC 3986 §2.3). Client ids and
/// secrets keep to them because whether Alexa percent-encodes them inside HTTP
/// Basic is not documented.
fn is_unreserved(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Longest client id, in bytes.
pub const MAX_CLIENT_ID: usize = 64;
/// Longest username, in bytes.
pub const MAX_USERNAME: usize = 128;
/// Shortest client secret an operator may bring.
pub const MIN_CLIENT_SECRET: usize = 32;
/// Shortest password, in characters.
pub const MIN_PASSWORD: usize = 8;

pub fn client_id(id: &str) -> Result<ClientId, &'static str> {
    if id.is_empty() || id.len() > MAX_CLIENT_ID || !is_unreserved(id) {
        return Err(
            "a client id is 1-64 characters of A-Z a-z 0-9 - . _ ~ (Alexa sends it unencoded)",
        );
    }
    Ok(ClientId::new(id))
}

/// A client secret an operator brings (generated ones are 256 random bits).
pub fn client_secret(secret: String) -> Result<ClientSecret, &'static str> {
    if secret.len() < MIN_CLIENT_SECRET || !is_unreserved(&secret) {
        return Err("a client secret is at least 32 characters of A-Z a-z 0-9 - . _ ~");
    }
    Ok(ClientSecret::new(secret))
}

/// The stored form of a username (see [`normalize_username`]), if it is valid.
pub fn username(username: &str) -> Result<String, &'static str> {
    let username = normalize_username(username);
    if username.is_empty()
        || username.len() > MAX_USERNAME
        || username.chars().any(char::is_whitespace)
    {
        return Err("a username is 1-128 characters without spaces");
    }
    Ok(username)
}

/// A provider identity as the allow-list keeps it: `<provider>:<subject>`,
/// the provider's name in lower case (as in `SIGN_IN_PROVIDERS`) and its id
/// for the person exactly as it sends it (`amazon:amzn1.account.AF…`).
pub fn identity(identity: &str) -> Result<String, &'static str> {
    const WHAT: &str = "an identity is <provider>:<subject>, e.g. amazon:amzn1.account.XXXX";
    let (provider, subject) = identity.trim().split_once(':').ok_or(WHAT)?;
    let provider = provider.to_ascii_lowercase();
    let name_ok = !provider.is_empty()
        && provider
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !name_ok
        || subject.is_empty()
        || subject.len() > 255
        || subject.contains(char::is_whitespace)
    {
        return Err(WHAT);
    }
    Ok(format!("{provider}:{subject}"))
}

pub fn password(password: Password) -> Result<Password, &'static str> {
    if password.secret().chars().count() < MIN_PASSWORD {
        return Err("a password is at least 8 characters");
    }
    Ok(password)
}

/// RFC 6749 §3.1.2: absolute, no fragment. HTTPS, except on loopback for
/// development.
pub fn redirect_uri(uri: &str) -> Result<RedirectUri, String> {
    let parsed =
        url::Url::parse(uri).map_err(|e| format!("redirect URI {uri:?} is not a URL: {e}"))?;
    if parsed.fragment().is_some() {
        return Err(format!(
            "redirect URI {uri:?} has a fragment (#...), which RFC 6749 §3.1.2 forbids"
        ));
    }
    let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
        return Err(format!(
            "redirect URI {uri:?} must use https (http only for localhost)"
        ));
    }
    Ok(RedirectUri::new(uri))
}

/// The three regional redirect URLs the Alexa console lists for a vendor id:
/// North America, Europe and India, and Japan and Australia.
pub fn alexa_redirect_uris(vendor_id: &str) -> Result<[RedirectUri; 3], &'static str> {
    if vendor_id.is_empty() || !vendor_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err("an Alexa vendor id is the last part of the console's redirect URLs, e.g. M2AAAAAAAAAAAA");
    }
    Ok([
        "pitangui.amazon.com",
        "layla.amazon.com",
        "alexa.amazon.co.jp",
    ]
    .map(|host| RedirectUri::new(format!("https://{host}/api/skill/link/{vendor_id}"))))
}

/// Usernames are matched without regard to case or surrounding spaces, as people
/// type them on phones; the admin command stores them in this form.
pub fn normalize_username(username: &str) -> String {
    let username = username.trim();
    if username.is_ascii() {
        username.to_ascii_lowercase()
    } else {
        unicode_lowercase(username)
    }
}

/// Unicode's full lowercase mapping. In the Worker it is the runtime's own
/// `String.prototype.toLowerCase`, the same mapping (final sigma included),
/// so the wasm carries no case tables (about 8 KB gzipped).
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
fn unicode_lowercase(s: &str) -> String {
    js_sys::JsString::from(s).to_lower_case().into()
}

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
fn unicode_lowercase(s: &str) -> String {
    s.to_lowercase()
}

/// A client record is complete when an `authorization_code` client has a
/// redirect URI to send its codes to.
pub fn check_complete(c: &ClientRecord) -> Result<(), &'static str> {
    if c.allows(GrantType::AuthorizationCode) && c.redirect_uris.is_empty() {
        return Err(
            "an authorization_code client needs a redirect URI (--alexa VENDOR_ID or a URI)",
        );
    }
    Ok(())
}

/// What `admin client add` writes for `new` (a record with everything the
/// command was given, and no secret yet). Returns the record and whether it
/// still needs a secret.
///
/// - **Replacing** (`existing`, with `--force`): the client keeps its secret
///   (and a rotation's grace), its creation time, its generation and its
///   refresh policy unless `policy_given`, unless a new secret is asked for
///   (`new_secret`): every linked user's refresh would otherwise fail. It
///   keeps its Login with Amazon events client always.
/// - **Adding again after a removal** (`removed`): the next generation, so the
///   removed client's grants, and any a cached copy of it made after the
///   removal, never come back. No clock is compared.
pub fn client_to_add(
    mut new: ClientRecord,
    existing: Option<ClientRecord>,
    removed: Option<ClientRemoval>,
    new_secret: bool,
    policy_given: bool,
) -> Result<(ClientRecord, bool), &'static str> {
    check_complete(&new)?;
    if let Some(removed) = removed {
        new.generation = removed.generation.saturating_add(1);
    }
    // The skill's events client is not ours to forget on a replace.
    if let Some(old) = &existing {
        new.lwa_client_id.clone_from(&old.lwa_client_id);
        new.lwa_client_secret.clone_from(&old.lwa_client_secret);
    }
    let Some(old) = existing.filter(|_| !new_secret) else {
        return Ok((new, true));
    };
    new.secret_hash = old.secret_hash;
    new.previous_secret_hash = old.previous_secret_hash;
    new.previous_secret_expires_at = old.previous_secret_expires_at;
    new.created_at = old.created_at;
    new.grants_since = old.grants_since;
    new.generation = old.generation;
    if !policy_given {
        new.refresh_rotation = old.refresh_rotation;
    }
    Ok((new, false))
}

/// The trace `admin client remove` leaves, from the record it removes.
pub fn removal_of(client: &ClientRecord, now: u64) -> ClientRemoval {
    ClientRemoval {
        removed_at: now,
        generation: client.generation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids() {
        assert!(client_id("alexa-skill.v1~x").is_ok());
        for bad in ["", "a b", "a:b", "a%20", &"a".repeat(65)] {
            assert!(client_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn redirect_uris() {
        assert!(redirect_uri("https://layla.amazon.com/api/skill/link/M2").is_ok());
        assert!(redirect_uri("http://localhost:8787/cb").is_ok());
        for bad in [
            "http://example.com/cb",
            "https://a.example/cb#frag",
            "/relative",
            "javascript:alert(1)",
        ] {
            assert!(redirect_uri(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn usernames_are_stored_normalised() {
        assert_eq!(username("  Alice ").unwrap(), "alice");
        assert!(username("a b").is_err());
        assert!(username(&"a".repeat(129)).is_err());
    }

    #[test]
    fn alexa_vendor_ids() {
        let uris = alexa_redirect_uris("M2AAAAAAAAAAAA").unwrap();
        assert_eq!(
            uris[2].as_str(),
            "https://alexa.amazon.co.jp/api/skill/link/M2AAAAAAAAAAAA"
        );
        assert!(alexa_redirect_uris("M2/../x").is_err());
    }

    fn record(id: &str) -> ClientRecord {
        ClientRecord {
            client_id: ClientId::new(id),
            name: "n".into(),
            secret_hash: String::new(),
            previous_secret_hash: None,
            previous_secret_expires_at: None,
            redirect_uris: vec![RedirectUri::new(
                "https://layla.amazon.com/api/skill/link/M2",
            )],
            scope: crate::types::ScopeSet::parse("a").unwrap(),
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            created_at: 100,
            grants_since: None,
            refresh_rotation: Default::default(),
            generation: 0,
            lwa_client_id: None,
            lwa_client_secret: None,
        }
    }

    #[test]
    fn a_replaced_client_keeps_its_secret_generation_and_policy_unless_asked() {
        use crate::store::RefreshRotation::{Always, Never};
        let mut old = record("a");
        old.secret_hash = "old-hash".into();
        old.generation = 3;
        old.refresh_rotation = Always;
        let (kept, needs_secret) =
            client_to_add(record("a"), Some(old.clone()), None, false, false).unwrap();
        assert!(!needs_secret);
        assert_eq!(kept.secret_hash, "old-hash");
        assert_eq!((kept.generation, kept.refresh_rotation), (3, Always));
        let (policy, _) = client_to_add(record("a"), Some(old.clone()), None, false, true).unwrap();
        assert_eq!(policy.refresh_rotation, Never, "the policy given wins");
        let (fresh, needs_secret) =
            client_to_add(record("a"), Some(old), None, true, false).unwrap();
        assert!(needs_secret && fresh.secret_hash.is_empty());
    }

    #[test]
    fn a_client_added_again_after_a_removal_is_the_next_generation_whatever_the_clocks() {
        let mut removed_one = record("a");
        removed_one.generation = 4;
        // The admin machine's clock far ahead of, or behind, the Worker's:
        // no time is compared, only generations.
        for now in [0, u64::MAX / 2] {
            let removal = removal_of(&removed_one, now);
            let (again, _) = client_to_add(record("a"), None, Some(removal), false, false).unwrap();
            assert_eq!(again.generation, 5);
            assert_eq!(again.grants_since, None);
        }
    }

    #[test]
    fn an_authorization_code_client_needs_a_redirect_uri() {
        let mut c = record("a");
        c.redirect_uris.clear();
        assert!(client_to_add(c.clone(), None, None, false, false).is_err());
        c.grant_types = vec![GrantType::ClientCredentials];
        assert!(check_complete(&c).is_ok());
    }
}
