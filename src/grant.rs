//! Grants after they exist: refresh-token rotation, revocation, and telling a
//! resource server quickly whether a grant has been revoked.
//!
//! # Rotation that never strands the holder
//! Alexa unlinks an account after one failed refresh, so every way two requests
//! can meet must leave the holder with a working token:
//!
//! - **Successors are derived, not drawn.** The refresh token that follows a code
//!   or a refresh token is `HMAC(k, hash of its predecessor)`, with `k` a sub-key
//!   of `SIGNING_KEY` (see [`Successors`]). Any number of requests presenting one
//!   token, at once or one after another, get the same new token, and write the
//!   same grant state, whichever writes last.
//! - **The previous token gives back the current one** and changes nothing: a
//!   client whose answer was lost retries and gets what it missed.
//! - **A token two or more generations old revokes the family** (RFC 9700
//!   §4.14.2): its holder has provably been overtaken.
//! - **A stale copy of the grant still accepts what followed it.** A KV location
//!   that has not yet seen the last rotations (or a late write that put an older
//!   state back) accepts a token up to [`SUCCESSOR_STEPS`] successors ahead of
//!   the stored current one. That is possible because the successor is derived
//!   from the stored hash; the price is that a KV dump together with
//!   `SIGNING_KEY` yields refresh tokens (the key alone already mints access
//!   tokens).
//!
//! # Revocations that stick
//! A revocation is its own record, a tombstone under `revoked:<grant id>`
//! ([`Tombstone`]), written once and never rewritten by a refresh. A refresh
//! writes the grant record back, but cannot undo a tombstone; two revocations
//! at once write two keys and lose nothing.
//!
//! Access tokens are checked by signature, so a revoked grant's access tokens
//! would live until they expire (an hour). Each isolate keeps a small cache of
//! tombstone lookups per grant ([`RevocationCache`]), trusted for
//! [`REVOCATION_CACHE_SECONDS`]: a revoked grant's access tokens stop at once in
//! the isolate that revoked it, and everywhere within that bound plus KV's own
//! propagation delay (up to 60 s). The cost is one KV read per grant per
//! isolate per `REVOCATION_CACHE_SECONDS`.

use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::crypto::{b64url, ct_eq, hmac_sha256, token_hash};
use crate::error::OAuthError;
use crate::jwt::SigningKey;
use crate::pkce;
use crate::store::{CodeRecord, GrantRecord, Store, StoreError, Tombstone};
use crate::types::{ClientId, CodeVerifier, GrantId, RefreshToken, ScopeSet};

/// How long an isolate trusts a tombstone lookup that found none.
pub const REVOCATION_CACHE_SECONDS: u64 = 30;

/// How many grants an isolate's [`RevocationCache`] remembers before it forgets
/// the oldest lookups.
const REVOCATION_CACHE_ENTRIES: usize = 4096;

/// How far ahead of a stored (possibly stale) current token a presented one may
/// be and still be recognised as one we issued.
pub const SUCCESSOR_STEPS: usize = 4;

/// Grant ids are 16 random bytes in unpadded base64url.
pub fn is_grant_id(s: &str) -> bool {
    s.len() == 22
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The grant a refresh token (`<grant id>.<secret>`) names, if it has that shape.
/// Anything else, an access token included, names none, and costs no storage read.
pub fn refresh_token_grant(token: &str) -> Option<GrantId> {
    let (gid, secret) = token.split_once('.')?;
    (is_grant_id(gid) && secret.len() == 43 && !secret.contains('.')).then(|| GrantId::new(gid))
}

/// The keys refresh tokens are derived with: a sub-key of `SIGNING_KEY`, then one
/// of `SIGNING_KEY_PREVIOUS`, so that a successor derived just before a key
/// rotation is still recognised after it.
pub struct Successors {
    keys: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Successors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Successors({} keys, [redacted])", self.keys.len())
    }
}

impl Successors {
    const LABEL: &'static [u8] = b"alexa-oauth refresh-token successor v1";

    /// From the signing keys, current first.
    pub fn new<'a>(signing_keys: impl IntoIterator<Item = &'a SigningKey>) -> Successors {
        Successors {
            keys: signing_keys
                .into_iter()
                .map(|k| k.derive(Self::LABEL))
                .collect(),
        }
    }

    fn derive(key: &[u8; 32], grant: &GrantId, from: &str) -> String {
        format!("{grant}.{}", b64url(&hmac_sha256(key, from.as_bytes())))
    }

    /// The refresh token that follows `from` (the stored hash of a code or of a
    /// refresh token), under the current key. `None` with no signing key.
    pub fn next(&self, grant: &GrantId, from: &str) -> Option<RefreshToken> {
        let key = self.keys.first()?;
        Some(RefreshToken::new(Self::derive(key, grant, from)))
    }

    /// The successor of `from`, under any key, whose hash is `hash`: how a grant's
    /// current token is given out again without being stored.
    pub fn find(&self, grant: &GrantId, from: &str, hash: &str) -> Option<RefreshToken> {
        self.keys
            .iter()
            .map(|k| Self::derive(k, grant, from))
            .find(|t| ct_eq(token_hash(t).as_bytes(), hash.as_bytes()))
            .map(RefreshToken::new)
    }

    /// If `presented` (a hash) is a successor of `from` (a hash), the hashes of
    /// the chain from `from`'s successor up to and including `presented`.
    fn chain_to(&self, grant: &GrantId, from: &str, presented: &str) -> Option<Vec<String>> {
        let mut chain = Vec::new();
        let mut from = from.to_owned();
        for _ in 0..SUCCESSOR_STEPS {
            let mut next = None;
            for (i, key) in self.keys.iter().enumerate() {
                let hash = token_hash(&Self::derive(key, grant, &from));
                if ct_eq(hash.as_bytes(), presented.as_bytes()) {
                    chain.push(hash);
                    return Some(chain);
                }
                // The chain goes on under the current key.
                if i == 0 {
                    next = Some(hash);
                }
            }
            from = next?;
            chain.push(from.clone());
        }
        None
    }
}

/// Which of a grant's refresh tokens was presented.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RefreshMatch {
    /// The newest one the grant record knows.
    Current,
    /// The one before it: a retry after a lost answer, or a copy. Gets the
    /// current token again.
    Previous,
    /// A token that followed the current one: this copy of the grant is stale
    /// (KV propagation, or a late write). The hashes from the stored current
    /// one's successor up to the presented one.
    Ahead(Vec<String>),
    /// An older one, whose successor's successor exists: a leaked copy.
    Retired,
}

/// How many retired refresh hashes a grant remembers for reuse detection.
pub const RETIRED_KEPT: usize = 8;

/// Places a presented refresh token (its hash) in the grant's chain, comparing in
/// constant time.
fn match_refresh(grant: &GrantRecord, successors: &Successors, hash: &str) -> Option<RefreshMatch> {
    let eq = |stored: &str| ct_eq(hash.as_bytes(), stored.as_bytes());
    if eq(&grant.refresh_hash) {
        return Some(RefreshMatch::Current);
    }
    if grant.previous_refresh_hash.as_deref().is_some_and(eq) {
        return Some(RefreshMatch::Previous);
    }
    if grant.retired_refresh_hashes.iter().any(|h| eq(h)) {
        return Some(RefreshMatch::Retired);
    }
    successors
        .chain_to(&grant.id, &grant.refresh_hash, hash)
        .map(RefreshMatch::Ahead)
}

/// Moves a grant on to the successor of `presented` (which the client holds).
/// Everything before `presented` is retired. A pure function of the stored
/// state and the presented token, so concurrent refreshes write the same state.
fn rotate(
    grant: &mut GrantRecord,
    successors: &Successors,
    matched: RefreshMatch,
    now: u64,
) -> Option<()> {
    let presented = match matched {
        RefreshMatch::Current => grant.refresh_hash.clone(),
        RefreshMatch::Ahead(mut chain) => {
            let presented = chain.pop()?;
            // Newest first: the stored current token and the skipped ones.
            let mut retired: Vec<String> = chain.into_iter().rev().collect();
            retired.push(std::mem::take(&mut grant.refresh_hash));
            retire(grant, retired);
            presented
        }
        RefreshMatch::Previous | RefreshMatch::Retired => return Some(()),
    };
    let next = successors.next(&grant.id, &presented)?;
    if let Some(old) = grant.previous_refresh_hash.replace(presented) {
        retire(grant, vec![old]);
    }
    grant.refresh_hash = token_hash(next.secret());
    grant.refreshed_at = now;
    Some(())
}

fn retire(grant: &mut GrantRecord, newest_first: Vec<String>) {
    let kept = &mut grant.retired_refresh_hashes;
    for (i, h) in newest_first.into_iter().enumerate() {
        if !h.is_empty() && !kept.contains(&h) {
            kept.insert(i, h);
        }
    }
    kept.truncate(RETIRED_KEPT);
}

/// The refresh token a grant's holder now has: the successor of its previous
/// token (or, for a grant just made, of its code), found again from the stored
/// hashes.
pub fn current_refresh_token(
    successors: &Successors,
    grant: &GrantRecord,
    code_hash: Option<&str>,
) -> Option<RefreshToken> {
    let from = grant.previous_refresh_hash.as_deref().or(code_hash)?;
    successors.find(&grant.id, from, &grant.refresh_hash)
}

/// Whether a grant is revoked: a tombstone exists, or (for records written
/// before tombstones) the record itself says so.
async fn is_revoked<S: Store + ?Sized>(store: &S, grant: &GrantRecord) -> Result<bool, StoreError> {
    Ok(grant.revoked_at.is_some() || store.tombstone(&grant.id).await?.is_some())
}

/// Finds the live grant of a refresh token: one that exists, is not revoked, and
/// of which this is the current, the previous or a successor token (not a
/// retired one). Changes nothing.
pub async fn find_by_refresh_token<S: Store>(
    store: &S,
    successors: &Successors,
    token: &str,
) -> Result<Option<GrantRecord>, StoreError> {
    let Some(gid) = refresh_token_grant(token) else {
        return Ok(None);
    };
    let Some(grant) = store.grant(&gid).await? else {
        return Ok(None);
    };
    if is_revoked(store, &grant).await? {
        return Ok(None);
    }
    Ok(
        match match_refresh(&grant, successors, &token_hash(token)) {
            Some(RefreshMatch::Retired) | None => None,
            Some(_) => Some(grant),
        },
    )
}

/// An isolate's cache of tombstone lookups: grant id → (looked up at, revoked).
#[derive(Default)]
pub struct RevocationCache {
    // Never borrowed across an `.await`: concurrent requests share the isolate.
    seen: RefCell<BTreeMap<String, (u64, bool)>>,
}

impl RevocationCache {
    /// Whether the grant was revoked. A tombstone found is remembered for good; a
    /// lookup that found none is trusted for [`REVOCATION_CACHE_SECONDS`]. When
    /// the store cannot be read, an older lookup is used rather than failing every
    /// request; with none at all the error is returned.
    pub async fn is_revoked<S: Store>(
        &self,
        store: &S,
        gid: &str,
        now: u64,
    ) -> Result<bool, StoreError> {
        let cached = self.seen.borrow().get(gid).copied();
        match cached {
            Some((_, true)) => return Ok(true),
            Some((at, false)) if now < at + REVOCATION_CACHE_SECONDS => return Ok(false),
            _ => {}
        }
        match store.tombstone(&GrantId::new(gid)).await {
            Ok(found) => {
                self.remember(gid, now, found.is_some());
                Ok(found.is_some())
            }
            Err(e) => cached.map(|(_, revoked)| revoked).ok_or(e),
        }
    }

    fn remember(&self, gid: &str, now: u64, revoked: bool) {
        let mut seen = self.seen.borrow_mut();
        if seen.len() >= REVOCATION_CACHE_ENTRIES {
            // Forget expired lookups, then everything if that was not enough.
            seen.retain(|_, (at, revoked)| *revoked || now < *at + REVOCATION_CACHE_SECONDS);
            if seen.len() >= REVOCATION_CACHE_ENTRIES {
                seen.clear();
            }
        }
        seen.insert(gid.to_owned(), (now, revoked));
    }
}

/// Revokes a grant by writing its tombstone (once: an existing one is left as
/// it is). Its refresh tokens stop at once; its access tokens as described in
/// the module doc. Needs no grant record, so it also works where the record is
/// out of reach (Durable Object mode from `admin`).
pub async fn revoke<S: Store + ?Sized>(
    store: &S,
    cache: &RevocationCache,
    gid: &GrantId,
    now: u64,
) -> Result<(), StoreError> {
    if store.tombstone(gid).await?.is_none() {
        store
            .put_tombstone(gid, &Tombstone { revoked_at: now })
            .await?;
    }
    cache.remember(gid.as_str(), now, true);
    Ok(())
}
/// Why a code exchange or a refresh was refused. Serialisable, because in
/// Durable Object mode the decision is made inside the grant's object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    UnknownCode,
    ExpiredCode,
    /// The code was redeemed before: its grant is now revoked (RFC 6749 §10.5).
    Replayed,
    WrongClient,
    RedirectMissing,
    RedirectMismatch,
    VerifierMissing,
    VerifierMismatch,
    VerifierUnexpected,
    InvalidRefresh,
    /// A retired refresh token came back: the grant is now revoked (RFC 9700 §4.14.2).
    ReusedRefresh,
    InvalidScope,
}

impl Refusal {
    /// The RFC 6749 §5.2 error the token endpoint answers.
    pub fn error(self) -> OAuthError {
        use Refusal::*;
        match self {
            UnknownCode | ExpiredCode => {
                OAuthError::invalid_grant("the code is invalid or expired")
            }
            Replayed => {
                OAuthError::invalid_grant("the code was already used; its tokens are revoked")
            }
            WrongClient => OAuthError::invalid_grant("the code was issued to another client"),
            RedirectMissing => {
                OAuthError::invalid_request("redirect_uri is required: it was given at /authorize")
            }
            RedirectMismatch => {
                OAuthError::invalid_grant("redirect_uri differs from the one given at /authorize")
            }
            VerifierMissing => {
                OAuthError::invalid_grant("code_verifier is required: PKCE was used at /authorize")
            }
            VerifierMismatch => OAuthError::invalid_grant("code_verifier does not match"),
            // RFC 9700 §2.1.1: a verifier for a code issued without a challenge is
            // a sign of a PKCE downgrade attack.
            VerifierUnexpected => OAuthError::invalid_grant(
                "code_verifier sent, but no code_challenge was given at /authorize",
            ),
            InvalidRefresh => {
                OAuthError::invalid_grant("the refresh token is invalid, expired or revoked")
            }
            ReusedRefresh => OAuthError::invalid_grant(
                "a refresh token was reused after it was replaced; the grant is revoked",
            ),
            InvalidScope => OAuthError::invalid_scope(
                "the requested scope is malformed or exceeds what was granted",
            ),
        }
    }
}

/// A code exchange, as decided next to the stored code (RFC 6749 §4.1.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Redeem {
    /// The grant the code names (codes are `<grant id>.<secret>`); routes the
    /// request to the grant's Durable Object. Checked against the stored code.
    pub grant_id: GrantId,
    pub code_hash: String,
    pub client_id: ClientId,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub now: u64,
}

/// The grant a code names, if it has the `<grant id>.<secret>` shape.
pub fn code_grant(code: &str) -> Option<GrantId> {
    let (gid, secret) = code.split_once('.')?;
    (is_grant_id(gid) && secret.len() == 43).then(|| GrantId::new(gid))
}

fn check_code(code: &CodeRecord, r: &Redeem) -> Result<(), Refusal> {
    if code.expires_at <= r.now {
        return Err(Refusal::ExpiredCode);
    }
    if code.client_id != r.client_id {
        return Err(Refusal::WrongClient);
    }
    if let Some(bound) = &code.redirect_uri {
        match r.redirect_uri.as_deref() {
            None => return Err(Refusal::RedirectMissing),
            Some(uri) if uri != bound.as_str() => return Err(Refusal::RedirectMismatch),
            Some(_) => {}
        }
    }
    match (&code.code_challenge, &r.code_verifier) {
        (None, None) => Ok(()),
        (Some(challenge), Some(verifier)) => {
            let ok = pkce::verify_s256(&CodeVerifier::new(verifier.as_str()), challenge);
            if ok {
                Ok(())
            } else {
                Err(Refusal::VerifierMismatch)
            }
        }
        (Some(_), None) => Err(Refusal::VerifierMissing),
        (None, Some(_)) => Err(Refusal::VerifierUnexpected),
    }
}

/// The whole code exchange against one store: check the code and what it is
/// bound to, write the grant, then spend the code. The grant goes first so that
/// if either write fails, the client's retry with the same code finds it unspent
/// and writes the same grant again. The grant's first refresh token is the
/// successor of the code, so every redemption that gets through (two at once on
/// KV, or a retry) writes the same record and hands out the same token. A
/// transactional store runs this inside its transaction.
pub async fn redeem<S: Store + ?Sized>(
    store: &S,
    successors: &Successors,
    r: &Redeem,
) -> Result<Result<GrantRecord, Refusal>, StoreError> {
    let Some(code) = store.code(&r.code_hash).await? else {
        return Ok(Err(Refusal::UnknownCode));
    };
    if code.grant_id != r.grant_id {
        return Ok(Err(Refusal::UnknownCode));
    }
    // Another client presenting a spent code is not the code's owner replaying
    // it: it must not end the owner's link.
    if code.used && code.client_id == r.client_id {
        store
            .put_tombstone(&code.grant_id, &Tombstone { revoked_at: r.now })
            .await?;
        return Ok(Err(Refusal::Replayed));
    }
    if let Err(refusal) = check_code(&code, r) {
        return Ok(Err(refusal));
    }
    let Some(first) = successors.next(&code.grant_id, &r.code_hash) else {
        return Err(StoreError("no signing key to derive refresh tokens".into()));
    };
    let grant = GrantRecord {
        id: code.grant_id.clone(),
        client_id: code.client_id.clone(),
        user_id: code.user_id.clone(),
        display_name: code.display_name.clone(),
        scope: code.scope.clone(),
        created_at: r.now,
        refresh_hash: token_hash(first.secret()),
        previous_refresh_hash: None,
        refreshed_at: r.now,
        retired_refresh_hashes: Vec::new(),
        revoked_at: None,
    };
    store.create_grant(&grant).await?;
    store.spend_code(&r.code_hash, code).await?;
    Ok(Ok(grant))
}

/// A refresh, as decided next to the stored grant (RFC 6749 §6).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refresh {
    pub grant_id: GrantId,
    pub presented_hash: String,
    pub client_id: ClientId,
    /// A narrower scope asked for; must be within the grant's.
    pub scope: Option<ScopeSet>,
    pub now: u64,
    pub ttl: Option<u64>,
}

/// The whole refresh against one store: check the token against the grant and
/// its tombstone, rotate, write. Returns the grant as written (its current
/// token is the one to hand out, see [`current_refresh_token`]) and the scope
/// to issue. A retry with the previous token writes nothing.
pub async fn refresh<S: Store + ?Sized>(
    store: &S,
    successors: &Successors,
    r: &Refresh,
) -> Result<Result<(GrantRecord, ScopeSet), Refusal>, StoreError> {
    let Some(mut grant) = store.grant(&r.grant_id).await? else {
        return Ok(Err(Refusal::InvalidRefresh));
    };
    if grant.client_id != r.client_id || is_revoked(store, &grant).await? {
        return Ok(Err(Refusal::InvalidRefresh));
    }
    if r.ttl
        .is_some_and(|ttl| r.now >= grant.refreshed_at.saturating_add(ttl))
    {
        return Ok(Err(Refusal::InvalidRefresh));
    }
    let matched = match match_refresh(&grant, successors, &r.presented_hash) {
        None => return Ok(Err(Refusal::InvalidRefresh)),
        Some(RefreshMatch::Retired) => {
            store
                .put_tombstone(&grant.id, &Tombstone { revoked_at: r.now })
                .await?;
            return Ok(Err(Refusal::ReusedRefresh));
        }
        Some(m) => m,
    };
    let Some(scope) = grant.scope.narrowed_to(r.scope.as_ref()) else {
        return Ok(Err(Refusal::InvalidScope));
    };
    if matched == RefreshMatch::Previous {
        // The current token again, if it can still be derived (it cannot only
        // after two key rotations since it was issued).
        return Ok(match current_refresh_token(successors, &grant, None) {
            Some(_) => Ok((grant, scope)),
            None => Err(Refusal::InvalidRefresh),
        });
    }
    if rotate(&mut grant, successors, matched, r.now).is_none() {
        return Err(StoreError("no signing key to derive refresh tokens".into()));
    }
    store.put_grant(&grant).await?;
    Ok(Ok((grant, scope)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::UserId;

    fn keys() -> (SigningKey, SigningKey) {
        (
            SigningKey::new(&[1; 32]).unwrap(),
            SigningKey::new(&[2; 32]).unwrap(),
        )
    }

    fn grant(successors: &Successors) -> (GrantRecord, String) {
        let id = GrantId::new("AAAAAAAAAAAAAAAAAAAAAA");
        let first = successors.next(&id, "code-hash").unwrap();
        let g = GrantRecord {
            id,
            client_id: ClientId::new("alexa"),
            user_id: UserId::new("u"),
            display_name: String::new(),
            scope: ScopeSet::parse("a").unwrap(),
            created_at: 0,
            refresh_hash: token_hash(first.secret()),
            previous_refresh_hash: None,
            refreshed_at: 0,
            retired_refresh_hashes: vec![],
            revoked_at: None,
        };
        (g, first.secret().to_owned())
    }

    /// The rotation rule, one row per kind of presented token.
    #[test]
    fn rotation_table() {
        let (k1, _) = keys();
        let s = Successors::new([&k1]);
        let (mut g, t1) = grant(&s);
        // t1 → t2 → t3: the holder has t3; t1 is retired, t2 previous.
        rotate(&mut g, &s, RefreshMatch::Current, 1).unwrap();
        rotate(&mut g, &s, RefreshMatch::Current, 2).unwrap();
        let t2 = s.next(&g.id, &token_hash(&t1)).unwrap().secret().to_owned();
        let t3 = current_refresh_token(&s, &g, None)
            .unwrap()
            .secret()
            .to_owned();
        let t4 = s.next(&g.id, &token_hash(&t3)).unwrap().secret().to_owned();
        let t5 = s.next(&g.id, &token_hash(&t4)).unwrap().secret().to_owned();
        let far = {
            let mut t = t5.clone();
            for _ in 0..SUCCESSOR_STEPS {
                t = s.next(&g.id, &token_hash(&t)).unwrap().secret().to_owned();
            }
            t
        };
        let cases: [(&str, &str, Option<RefreshMatch>); 6] = [
            ("current", &t3, Some(RefreshMatch::Current)),
            ("previous", &t2, Some(RefreshMatch::Previous)),
            ("two generations old", &t1, Some(RefreshMatch::Retired)),
            (
                "one ahead (stale copy)",
                &t4,
                Some(RefreshMatch::Ahead(vec![token_hash(&t4)])),
            ),
            ("never issued", "AAAAAAAAAAAAAAAAAAAAAA.x", None),
            ("too far ahead", &far, None),
        ];
        for (what, token, expected) in cases {
            assert_eq!(
                match_refresh(&g, &s, &token_hash(token)),
                expected,
                "{what}"
            );
        }
        // Two ahead: the skipped one is retired along with the stored current.
        let mut ahead = g.clone();
        let m = match_refresh(&ahead, &s, &token_hash(&t5)).unwrap();
        rotate(&mut ahead, &s, m, 3).unwrap();
        assert_eq!(
            ahead.previous_refresh_hash.as_deref(),
            Some(token_hash(&t5).as_str())
        );
        assert!(ahead.retired_refresh_hashes.contains(&token_hash(&t4)));
        assert!(ahead.retired_refresh_hashes.contains(&token_hash(&t3)));
    }

    #[test]
    fn a_successor_from_before_a_key_rotation_is_found_after_it() {
        let (k1, k2) = keys();
        let before = Successors::new([&k1]);
        let (g, _) = grant(&before);
        let after = Successors::new([&k2, &k1]);
        assert!(after.find(&g.id, "code-hash", &g.refresh_hash).is_some());
        assert!(Successors::new([&k2])
            .find(&g.id, "code-hash", &g.refresh_hash)
            .is_none());
    }

    #[test]
    fn rotation_is_a_function_of_the_state_and_the_token() {
        let (k1, _) = keys();
        let s = Successors::new([&k1]);
        let (g, _) = grant(&s);
        let (mut a, mut b) = (g.clone(), g.clone());
        rotate(&mut a, &s, RefreshMatch::Current, 7).unwrap();
        rotate(&mut b, &s, RefreshMatch::Current, 7).unwrap();
        assert_eq!(a, b);
    }
}
