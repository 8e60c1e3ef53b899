//! The code exchange (RFC 6749 §4.1.3) and the refresh (§6) as decisions made
//! next to the stored grant: on KV as read-then-write steps, in Durable Object
//! mode inside the grant's object.

use serde::{Deserialize, Serialize};

use super::records::{self, grant_and_tombstone, put_grant};
use super::rotation::{
    current_refresh_token, match_refresh, rotate, RefreshMatch, Successors, SUCCESSOR_STEPS,
};
use crate::crypto::TokenHash;
use crate::error::OAuthError;
use crate::pkce::{self, VerifierS256};
use crate::store::{
    ClientView, CodeRecord, GrantRecord, Records, RefreshRotation, Revocation, Store, StoreError,
    Tombstone,
};
use crate::types::{ClientId, GrantId, ScopeSet};

/// Why a code exchange or a refresh was refused. Serialisable, because in
/// Durable Object mode the decision is made inside the grant's object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    UnknownCode,
    ExpiredCode,
    /// The code was redeemed before: its grant is now revoked (RFC 6749 §10.5).
    Replayed,
    /// Issued to another client, or to an earlier life of this client id.
    WrongClient,
    RedirectMissing,
    RedirectMismatch,
    VerifierMissing,
    VerifierMismatch,
    VerifierUnexpected,
    InvalidRefresh,
    /// A retired refresh token came back: the grant is now revoked (RFC 9700 §4.14.2).
    ReusedRefresh,
    /// The code's user was removed (`admin user remove`): its grant is revoked.
    UserRemoved,
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
            UserRemoved => OAuthError::invalid_grant("the code is invalid or expired"),
            InvalidScope => OAuthError::invalid_scope(
                "the requested scope is malformed or exceeds what was granted",
            ),
        }
    }
}

/// A code exchange, as decided next to the stored code (RFC 6749 §4.1.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeExchange {
    /// The grant the code names (codes are `<grant id>.<secret>`); routes the
    /// request to the grant's Durable Object. Checked against the stored code.
    pub grant_id: GrantId,
    pub code_hash: TokenHash,
    pub client_id: ClientId,
    pub redirect_uri: Option<String>,
    /// The PKCE verifier's S256 transform: the verifier itself stays at the edge.
    pub code_verifier: Option<VerifierS256>,
    /// The authenticated client's generation: a code of an earlier life of
    /// the client id redeems nothing.
    #[serde(default)]
    pub client_generation: u64,
    pub now: u64,
}

fn check_code(code: &CodeRecord, r: &CodeExchange) -> Result<(), Refusal> {
    if code.expires_at <= r.now {
        return Err(Refusal::ExpiredCode);
    }
    if code.client_id != r.client_id || code.client_generation < r.client_generation {
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
            if pkce::matches(verifier, challenge) {
                Ok(())
            } else {
                Err(Refusal::VerifierMismatch)
            }
        }
        (Some(_), None) => Err(Refusal::VerifierMissing),
        (None, Some(_)) => Err(Refusal::VerifierUnexpected),
    }
}

/// Where a new grant's index entries (what `admin` lists to end a user's or a
/// client's grants) are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indexing {
    /// In the same store, first: before the grant and before the code is
    /// spent, so that a redemption retried after any failed write finds the
    /// code unspent and writes all of them again (KV mode).
    WithGrant,
    /// By the caller, in KV, when it stores the code: a grant's Durable
    /// Object holds no index (see [`super::durable`]).
    ByCaller,
}

/// The whole code exchange against one store: check the code and what it is
/// bound to, write the grant (after its index entries, per `indexing`), then
/// spend the code. The writes go in that order so that if any fails, the
/// client's retry with the same code finds it unspent and writes the same
/// records again. The grant's first refresh token is the successor of the
/// code, so every redemption that gets through (two at once on KV, or a
/// retry) writes the same record and hands out the same token. A
/// transactional store runs this inside its transaction.
pub async fn redeem<S: Store + ?Sized>(
    store: &S,
    successors: &Successors,
    r: &CodeExchange,
    indexing: Indexing,
) -> Result<Result<GrantRecord, Refusal>, StoreError> {
    let Some(code) = records::code(store, &r.code_hash).await? else {
        return Ok(Err(Refusal::UnknownCode));
    };
    if code.grant_id != r.grant_id {
        return Ok(Err(Refusal::UnknownCode));
    }
    // Another client presenting a spent code is not the code's owner replaying
    // it: it must not end the owner's link.
    if code.used && code.client_id == r.client_id {
        store
            .put_tombstone(
                &code.grant_id,
                &Tombstone::new(r.now, Revocation::CodeReplayed),
            )
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
        claims: code.claims.clone(),
        scope: code.scope.clone(),
        created_at: r.now,
        refresh_hash: crate::crypto::token_hash(first.secret()),
        previous_refresh_hash: None,
        refreshed_at: r.now,
        retired_refresh_hashes: Vec::new(),
        revoked_at: None,
        client_generation: code.client_generation,
    };
    if indexing == Indexing::WithGrant {
        records::index_grant(store, &grant.user_id, &grant.client_id, &grant.id).await?;
    }
    put_grant(store, &grant).await?;
    records::spend_code(store, &r.code_hash, code).await?;
    Ok(Ok(grant))
}

/// A refresh, as decided next to the stored grant (RFC 6749 §6).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshExchange {
    pub grant_id: GrantId,
    pub presented_hash: TokenHash,
    /// The authenticated client, as its grants see it.
    pub client: ClientView,
    /// A narrower scope asked for; must be within the grant's.
    pub scope: Option<ScopeSet>,
    pub now: u64,
    pub ttl: Option<u64>,
}

/// Which refresh token a successful refresh hands out. The decision is made
/// next to the stored grant, which (in Durable Object mode) never sees the
/// presented token itself, only its hash; the token endpoint holds the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Handout {
    /// The presented token: it stays the grant's token (no rotation, or a
    /// rotation whose successor would fall outside the window after a failed
    /// write).
    Presented,
    /// The grant's current token, derived again from its previous one: a retry
    /// with the previous token after a lost answer.
    Current,
    /// The successor of the presented token: a rotation.
    Successor,
}

/// How a refresh went, for the log line: each path has a reason of its own,
/// so that a second holder of a token shows in the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefreshPath {
    /// The grant's token under `never`: nothing written.
    Kept,
    /// The grant's token under `never`, and the day's last use recorded
    /// (only with `REFRESH_TOKEN_TTL`).
    KeptAndRecorded,
    /// Rotated, and the grant written.
    Rotated,
    /// Rotated, but the write failed: the successor is handed out anyway,
    /// and accepted as "ahead" next time.
    RotatedUnwritten,
    /// A token ahead of the stored one (a stale copy, or an earlier unwritten
    /// rotation), moved on.
    CaughtUp,
    /// The previous token: the current one handed out again.
    Retry,
}

impl RefreshPath {
    /// The log line's reason, where the path is not the usual one.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            Self::Kept | Self::Rotated => None,
            Self::KeptAndRecorded => Some("last use recorded"),
            Self::RotatedUnwritten => Some("grant write failed; successor handed out"),
            Self::CaughtUp => Some("refresh token ahead of the stored one"),
            Self::Retry => Some("previous refresh token: current one again"),
        }
    }
}

/// A successful refresh: the grant, the scope to issue, and which refresh
/// token to hand out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refreshed {
    pub grant: GrantRecord,
    pub scope: ScopeSet,
    pub handout: Handout,
    pub path: RefreshPath,
}

/// A `never` grant records its last use at most this often, and only when
/// `REFRESH_TOKEN_TTL` is set: one write per grant per day at most.
pub const LAST_USE_INTERVAL: u64 = 86_400;

/// Whether a grant may still be used by `client` at `now`: the one rule that
/// `/token` (refresh) and `/introspect` both apply. A grant is dead when it is
/// revoked, belongs to another client, or to an earlier life of this client
/// id (removed and added again: an earlier generation, or for clients re-added
/// by older versions, a grant older than `grants_since`), or has been idle
/// longer than `REFRESH_TOKEN_TTL`. A `never` grant's last use is recorded at
/// most once per [`LAST_USE_INTERVAL`], so its idle time is counted from the
/// recorded use plus that interval: it never expires sooner than the TTL
/// after its real last use.
///
/// A grant of a *later* generation than `client` is live: `client` is then an
/// isolate's copy from before the id was removed and added again, and the
/// grant was made by the new life (its code is stamped from a fresh read). A
/// removal that came after the grant wrote its tombstone.
pub fn is_live(
    grant: &GrantRecord,
    revoked: bool,
    client: &ClientView,
    ttl: Option<u64>,
    now: u64,
) -> bool {
    let slack = match client.rotation {
        RefreshRotation::Never => LAST_USE_INTERVAL,
        RefreshRotation::Always => 0,
    };
    !revoked
        && grant.client_id == client.id
        && grant.client_generation >= client.generation
        && client
            .grants_since
            .is_none_or(|since| grant.created_at >= since)
        && ttl.is_none_or(|ttl| now < grant.refreshed_at.saturating_add(ttl).saturating_add(slack))
}

/// The whole refresh against one store: check the token against the grant and
/// its tombstone, then act on the client's policy.
///
/// - `never`: the presented token stays the grant's token; nothing is written
///   (except, with a TTL, the last use once a day).
/// - `always`: rotate to the successor and write the grant. If that write
///   fails, the successor is handed out all the same: it is one step ahead of
///   the stored token, which the successor window accepts next time.
///
/// Under either policy the previous token gives back the current one and
/// writes nothing, and a retired token revokes the grant. Under `always`, a
/// well-formed token of this grant, presented by its own client, that matches
/// nothing at all also revokes it (RFC 9700 §4.14.2): its holder was
/// overtaken, however many refreshes ago.
pub async fn refresh<S: Store + ?Sized>(
    store: &S,
    successors: &Successors,
    r: &RefreshExchange,
) -> Result<Result<Refreshed, Refusal>, StoreError> {
    let (grant, tombstoned) = grant_and_tombstone(store, &r.grant_id).await?;
    let Some(mut grant) = grant else {
        return Ok(Err(Refusal::InvalidRefresh));
    };
    let revoked = records::is_revoked(&grant, tombstoned);
    if !is_live(&grant, revoked, &r.client, r.ttl, r.now) {
        return Ok(Err(Refusal::InvalidRefresh));
    }
    let matched = match match_refresh(&grant, successors, &r.presented_hash) {
        None if r.client.rotation == RefreshRotation::Never => {
            return Ok(Err(Refusal::InvalidRefresh));
        }
        None | Some(RefreshMatch::Retired) => {
            store
                .put_tombstone(&grant.id, &Tombstone::new(r.now, Revocation::RefreshReused))
                .await?;
            return Ok(Err(Refusal::ReusedRefresh));
        }
        Some(m) => m,
    };
    let Some(scope) = grant.scope.narrowed_to(r.scope.as_ref()) else {
        return Ok(Err(Refusal::InvalidScope));
    };
    let done = |grant, handout, path| {
        Ok(Ok(Refreshed {
            grant,
            scope,
            handout,
            path,
        }))
    };
    if matched == RefreshMatch::Previous {
        if current_refresh_token(successors, &grant, None).is_some() {
            return done(grant, Handout::Current, RefreshPath::Retry);
        }
        // The current token cannot be derived again: it was drawn at random
        // by a version before derived tokens (or derived under a key since
        // rotated out twice). The client holds the previous one.
        if r.client.rotation == RefreshRotation::Never {
            return done(grant, Handout::Presented, RefreshPath::Retry);
        }
    }
    if r.client.rotation == RefreshRotation::Never {
        let path = if r.ttl.is_some() && r.now >= grant.refreshed_at + LAST_USE_INTERVAL {
            grant.refreshed_at = r.now;
            // A failed write only leaves the last use unrecorded until the
            // next refresh; the refresh itself succeeds.
            match put_grant(store, &grant).await {
                Ok(()) => RefreshPath::KeptAndRecorded,
                Err(_) => RefreshPath::Kept,
            }
        } else {
            RefreshPath::Kept
        };
        return done(grant, Handout::Presented, path);
    }
    // Whether the successor, if its write fails, is still found next time
    // from the stored token: within the window ahead of it.
    let (path, findable) = match &matched {
        RefreshMatch::Ahead(chain) => (RefreshPath::CaughtUp, chain.len() < SUCCESSOR_STEPS),
        RefreshMatch::Previous => (RefreshPath::Rotated, false),
        _ => (RefreshPath::Rotated, true),
    };
    if rotate(&mut grant, successors, matched, r.now).is_none() {
        return Err(StoreError("no signing key to derive refresh tokens".into()));
    }
    match put_grant(store, &grant).await {
        Ok(()) => done(grant, Handout::Successor, path),
        // The successor stays findable while it is within the window;
        // beyond it, the presented token (already ahead) is handed out again.
        Err(_) if findable => done(grant, Handout::Successor, RefreshPath::RotatedUnwritten),
        Err(_) => done(grant, Handout::Presented, RefreshPath::RotatedUnwritten),
    }
}
