//! `/revoke` (RFC 7009): an authenticated client ends a grant by presenting one
//! of its tokens. Revoking a refresh token ends the whole grant: every refresh
//! token of that link at once, and its access tokens as [`crate::grant`]
//! describes. Revoking an access token ends its grant the same way (§2.1 allows
//! it, and a signed access token cannot be revoked alone).
//!
//! An access token past its expiry still ends its grant: a skill that kept
//! only its last access token can end the link with it.
//!
//! The grant's event tokens for Alexa are forgotten with it ([`crate::alexa`]).
//!
//! The answer is 200 for an unknown or foreign token too (§2.2), so it tells
//! nothing; another client's tokens are left alone.

use super::front::{self, Rejection};
use crate::error::OAuthError;
use crate::grant;
use crate::grant::GrantStore;
use crate::http::{LogFields, Request, Response};
use crate::jwt;

use crate::alexa;
use crate::store::Revocation;
use crate::types::{GrantId, UserId};
use crate::Ctx;

/// Handles `POST /revoke`.
pub(super) async fn handle<S: GrantStore>(req: &Request, ctx: &Ctx<'_, S>) -> Response {
    let mut log = LogFields::default();
    let response = match revoke(req, ctx, &mut log).await {
        Ok(()) => Response::new(200),
        Err(rejection) => front::error_response(rejection, &mut log),
    };
    response.with_log(log)
}

async fn revoke<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    log: &mut LogFields,
) -> Result<(), Rejection> {
    let mut params = front::read_form(req, "the revocation endpoint accepts POST only")?;
    let client = front::authenticate_request(req, &mut params, ctx, log).await?;
    let token = params
        .take("token")
        .ok_or(OAuthError::invalid_request("token is missing"))?;

    // The grant, and its user, whose event tokens go with it.
    let found = match grant::grant_named_by_refresh_token(&token) {
        // Only the holder of a live refresh token of the grant may end it.
        Some(_) => grant::find_by_refresh_token(ctx.store, ctx.config.successors(), &token)
            .await?
            .filter(|g| g.client_id == client.client_id)
            .map(|g| (g.id, g.user_id)),
        // An expired access token still names its grant, and the client
        // holds it: its signature is what makes it ours (§2.1: the client
        // revokes what it holds), its age does not matter.
        None => match ctx.verify_access_token(&token, u64::MAX).await {
            Err(jwt::VerifyError::KeyUnavailable(reason)) => {
                return Err(front::key_unavailable(reason))
            }
            claims => claims
                .ok()
                .filter(|c| c.client_id == client.client_id.as_str())
                .and_then(|c| Some((GrantId::new(c.gid?), UserId::new(c.sub)))),
        },
    };
    let Some((grant_id, user)) = found else {
        log.reason = Some("unknown, expired or already revoked token");
        return Ok(());
    };
    log.grant_id = Some(grant_id.to_string());
    grant::revoke(
        ctx.store,
        ctx.revocations,
        &grant_id,
        ctx.now,
        Revocation::Client,
    )
    .await?;
    alexa::forget(ctx.store, ctx.alexa, &user, &client.client_id, &grant_id).await?;
    log.reason = Some("grant revoked");
    Ok(())
}
