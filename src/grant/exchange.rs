//! The code exchange (RFC 6749 §4.1.3) and the refresh (§6) as decisions made
//! next to the stored grant: on KV as read-then-write steps, in Durable Object
//! mode inside the grant's object.

use serde::{Deserialize, Serialize};

use super::revocation::grant_and_revoked;
use super::rotation::{current_refresh_token, match_refresh, rotate, RefreshMatch, Successors};
use crate::crypto::TokenHash;
use crate::error::OAuthError;
use crate::pkce::{self, VerifierS256};
use crate::store::{CodeRecord, GrantRecord, Store, StoreError, Tombstone};
use crate::types::{ClientId, GrantId, ScopeSet};

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
    pub code_hash: TokenHash,
    pub client_id: ClientId,
    pub redirect_uri: Option<String>,
    /// The PKCE verifier's S256 transform: the verifier itself stays at the edge.
    pub code_verifier: Option<VerifierS256>,
    pub now: u64,
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
        refresh_hash: crate::crypto::token_hash(first.secret()),
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
    pub presented_hash: TokenHash,
    pub client_id: ClientId,
    /// A narrower scope asked for; must be within the grant's.
    pub scope: Option<ScopeSet>,
    pub now: u64,
    pub ttl: Option<u64>,
    /// The client's `grants_since`: older grants belonged to a removed client.
    #[serde(default)]
    pub client_grants_since: Option<u64>,
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
    let Some((mut grant, revoked)) = grant_and_revoked(store, &r.grant_id).await? else {
        return Ok(Err(Refusal::InvalidRefresh));
    };
    if revoked
        || grant.client_id != r.client_id
        || r.client_grants_since
            .is_some_and(|since| grant.created_at < since)
    {
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
