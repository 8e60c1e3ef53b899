//! Grants after they exist: finding one from a refresh token, revoking one, and
//! telling a resource server quickly whether a grant has been revoked.
//!
//! # Revocation without a storage read per request
//! Access tokens are checked by signature alone, so a revoked grant's access
//! tokens would live until they expire (up to an hour). To end them sooner, every
//! revocation also lands in one small KV record, the revocation list (grant id →
//! revocation time, entries older than an access token's lifetime are pruned).
//! Each Worker isolate keeps that list in memory and reads it again when it is
//! older than [`REVOCATION_CACHE_SECONDS`]. So a revoked grant's access tokens stop
//! working at once in the isolate that revoked it, and everywhere within
//! `REVOCATION_CACHE_SECONDS` plus KV's own propagation delay (up to 60 s). The
//! cost per `/userinfo` request is one HMAC and one map lookup; the KV read
//! happens once per isolate per `REVOCATION_CACHE_SECONDS`.

use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use crate::crypto::{ct_eq, token_hash};
use crate::error::OAuthError;
use crate::pkce;
use crate::store::{get_json, put_json, CodeRecord, GrantRecord, Store, StoreError};
use crate::types::{ClientId, CodeVerifier, GrantId, ScopeSet};
use crate::ACCESS_TOKEN_TTL;

/// How long an isolate trusts its copy of the revocation list.
pub const REVOCATION_CACHE_SECONDS: u64 = 30;

/// The KV key of the revocation list.
pub const REVOCATIONS_KEY: &str = "revocations";

/// Grant ids are 16 random bytes in unpadded base64url.
fn is_grant_id(s: &str) -> bool {
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

/// Which of a grant's refresh tokens was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshMatch {
    /// The newest one.
    Current,
    /// The one before it, still honoured for a retry after a lost answer.
    Previous,
    /// An older one, whose successor the client has used: a leaked copy.
    Retired,
}

/// How many retired refresh hashes a grant remembers for reuse detection.
pub const RETIRED_KEPT: usize = 8;

/// Compares a presented refresh token with the grant's, in constant time.
pub fn match_refresh(grant: &GrantRecord, presented: &str) -> Option<RefreshMatch> {
    match_refresh_hash(grant, &token_hash(presented))
}

/// [`match_refresh`] for a token already hashed.
pub fn match_refresh_hash(grant: &GrantRecord, hash: &str) -> Option<RefreshMatch> {
    if ct_eq(hash.as_bytes(), grant.refresh_hash.as_bytes()) {
        return Some(RefreshMatch::Current);
    }
    if let Some(previous) = grant.previous_refresh_hash.as_deref() {
        if ct_eq(hash.as_bytes(), previous.as_bytes()) {
            return Some(RefreshMatch::Previous);
        }
    }
    grant
        .retired_refresh_hashes
        .iter()
        .any(|h| ct_eq(hash.as_bytes(), h.as_bytes()))
        .then_some(RefreshMatch::Retired)
}

/// Moves a grant to a new refresh token after `matched` was presented. When the
/// current token was used, the client has it, so the one before it is retired;
/// on a retry with the previous token, the previous one stays (the client may
/// retry again) and the unreceived current one is simply forgotten.
pub fn rotate(grant: &mut GrantRecord, matched: RefreshMatch, new_hash: String, now: u64) {
    if matched == RefreshMatch::Current {
        let old_previous = grant
            .previous_refresh_hash
            .replace(grant.refresh_hash.clone());
        if let Some(old) = old_previous {
            grant.retired_refresh_hashes.insert(0, old);
            grant.retired_refresh_hashes.truncate(RETIRED_KEPT);
        }
    }
    grant.refresh_hash = new_hash;
    grant.refreshed_at = now;
}

/// Finds the live grant of a refresh token: one that exists, is not revoked,
/// and whose current or previous refresh token this is (not a retired one).
pub async fn find_by_refresh_token<S: Store>(
    store: &S,
    token: &str,
) -> Result<Option<(GrantRecord, RefreshMatch)>, StoreError> {
    let Some(gid) = refresh_token_grant(token) else {
        return Ok(None);
    };
    let Some(grant) = store.grant(&gid).await? else {
        return Ok(None);
    };
    if grant.revoked_at.is_some() {
        return Ok(None);
    }
    Ok(match match_refresh(&grant, token) {
        Some(RefreshMatch::Retired) | None => None,
        Some(m) => Some((grant, m)),
    })
}

/// Recently revoked grants: grant id → when it was revoked.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct RevocationList {
    pub grants: BTreeMap<String, u64>,
}

/// An isolate's copy of the revocation list.
#[derive(Default)]
pub struct RevocationCache {
    // Never borrowed across an `.await`: concurrent requests share the isolate.
    cached: RefCell<Option<(u64, Rc<RevocationList>)>>,
}

impl RevocationCache {
    /// Whether the grant was revoked, from a copy at most
    /// [`REVOCATION_CACHE_SECONDS`] old. When the store cannot be read, an older
    /// copy is used rather than failing every request; with no copy at all the
    /// error is returned.
    pub async fn is_revoked<S: Store>(
        &self,
        store: &S,
        gid: &str,
        now: u64,
    ) -> Result<bool, StoreError> {
        let cached = self.cached.borrow().clone();
        let list = match cached {
            Some((fetched, list)) if now < fetched + REVOCATION_CACHE_SECONDS => list,
            stale => match get_json::<RevocationList, _>(store, REVOCATIONS_KEY).await {
                Ok(list) => {
                    let list = Rc::new(list.unwrap_or_default());
                    *self.cached.borrow_mut() = Some((now, list.clone()));
                    list
                }
                Err(e) => stale.map(|(_, list)| list).ok_or(e)?,
            },
        };
        Ok(list.grants.contains_key(gid))
    }

    fn remember(&self, list: RevocationList, now: u64) {
        *self.cached.borrow_mut() = Some((now, Rc::new(list)));
    }
}

/// Revokes a grant: its refresh tokens stop at once (the grant record says so),
/// its access tokens as described in the module doc.
///
/// The list is read, changed and written back; two revocations at the same
/// moment in different locations can lose one list entry, in which case that
/// grant's access tokens live until they expire (its refresh tokens still end).
pub async fn revoke<S: Store>(
    store: &S,
    cache: &RevocationCache,
    grant: &mut GrantRecord,
    now: u64,
) -> Result<(), StoreError> {
    if grant.revoked_at.is_none() {
        grant.revoked_at = Some(now);
        store.put_grant(grant).await?;
    }
    let mut list = get_json::<RevocationList, _>(store, REVOCATIONS_KEY)
        .await?
        .unwrap_or_default();
    // After an access token's lifetime, every token of the grant has expired.
    list.grants
        .retain(|_, revoked| revoked.saturating_add(ACCESS_TOKEN_TTL) > now);
    list.grants.insert(grant.id.to_string(), now);
    put_json(store, REVOCATIONS_KEY, &list, None).await?;
    cache.remember(list, now);
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
    /// The hash of the refresh token the new grant starts with.
    pub refresh_hash: String,
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
/// and writes the same grant id again: nothing is lost or duplicated. A
/// transactional store runs this inside its transaction.
pub async fn redeem<S: Store + ?Sized>(
    store: &S,
    r: &Redeem,
) -> Result<Result<GrantRecord, Refusal>, StoreError> {
    let Some(code) = store.code(&r.code_hash).await? else {
        return Ok(Err(Refusal::UnknownCode));
    };
    if code.grant_id != r.grant_id {
        return Ok(Err(Refusal::UnknownCode));
    }
    if code.used {
        if let Some(mut grant) = store.grant(&code.grant_id).await? {
            if grant.revoked_at.is_none() {
                grant.revoked_at = Some(r.now);
                store.put_grant(&grant).await?;
            }
        }
        return Ok(Err(Refusal::Replayed));
    }
    if let Err(refusal) = check_code(&code, r) {
        return Ok(Err(refusal));
    }
    let grant = GrantRecord {
        id: code.grant_id.clone(),
        client_id: code.client_id.clone(),
        user_id: code.user_id.clone(),
        display_name: code.display_name.clone(),
        scope: code.scope.clone(),
        created_at: r.now,
        refresh_hash: r.refresh_hash.clone(),
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
    pub new_hash: String,
    pub now: u64,
    pub ttl: Option<u64>,
}

/// The whole refresh against one store: check the token against the grant,
/// rotate, write. Returns the grant as written and the scope to issue.
pub async fn refresh<S: Store + ?Sized>(
    store: &S,
    r: &Refresh,
) -> Result<Result<(GrantRecord, ScopeSet), Refusal>, StoreError> {
    let Some(mut grant) = store.grant(&r.grant_id).await? else {
        return Ok(Err(Refusal::InvalidRefresh));
    };
    if grant.client_id != r.client_id || grant.revoked_at.is_some() {
        return Ok(Err(Refusal::InvalidRefresh));
    }
    if r.ttl
        .is_some_and(|ttl| r.now >= grant.refreshed_at.saturating_add(ttl))
    {
        return Ok(Err(Refusal::InvalidRefresh));
    }
    let matched = match match_refresh_hash(&grant, &r.presented_hash) {
        None => return Ok(Err(Refusal::InvalidRefresh)),
        Some(RefreshMatch::Retired) => {
            grant.revoked_at = Some(r.now);
            store.put_grant(&grant).await?;
            return Ok(Err(Refusal::ReusedRefresh));
        }
        Some(m) => m,
    };
    let Some(scope) = grant.scope.narrowed_to(r.scope.as_ref()) else {
        return Ok(Err(Refusal::InvalidScope));
    };
    rotate(&mut grant, matched, r.new_hash.clone(), r.now);
    store.put_grant(&grant).await?;
    Ok(Ok((grant, scope)))
}
