//! The token endpoint (RFC 6749 §3.2): `authorization_code` (§4.1.3),
//! `refresh_token` (§6) and `client_credentials` (§4.4).
//!
//! Every answer is JSON with `Cache-Control: no-store` (§5.1). Errors are the
//! codes of §5.2; bad input is never a 5xx.

use serde::Serialize;

use super::front::{self, Rejection};
use crate::crypto::{random_string, token_hash};
use crate::error::{ErrorCode, OAuthError};
use crate::form::Params;
use crate::grant::GrantStore;
use crate::grant::{self, Handout, Refusal};
use crate::http::{LogFields, Request, Response};
use crate::jwt::{self, Claims};
use crate::pkce;
use crate::store::{keys, GrantRecord, GrantType, Revocation};
use crate::types::{AccessToken, CodeVerifier, GrantId, RefreshToken, ScopeSet};
use crate::Ctx;

/// What a successful grant hands back (§5.1).
struct Issued {
    access_token: AccessToken,
    refresh_token: Option<RefreshToken>,
    scope: ScopeSet,
}

/// Handles `/token`.
pub(super) async fn handle<S: GrantStore>(req: &Request, ctx: &Ctx<'_, S>) -> Response {
    let mut log = LogFields::default();
    let response = match grant(req, ctx, &mut log).await {
        Ok(issued) => success(issued, ctx.config.access_token_ttl),
        Err(rejection) => front::error_response(rejection, &mut log),
    };
    response.with_log(log)
}

async fn grant<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    log: &mut LogFields,
) -> Result<Issued, Rejection> {
    let mut params = front::read_form(req, "the token endpoint accepts POST only")?;
    let grant_type = params.require("grant_type", "grant_type is missing")?;
    log.grant_type = Some(grant_type.chars().take(32).collect());
    let grant_type = GrantType::parse(grant_type).ok_or(OAuthError::new(
        ErrorCode::UnsupportedGrantType,
        "grant_type must be authorization_code, refresh_token or client_credentials",
    ))?;
    let client = front::authenticate_request(req, &mut params, ctx, log).await?;
    if !client.allows(grant_type) {
        return Err(OAuthError::unauthorized_client(
            "this client is not registered for this grant type",
        )
        .into());
    }
    let key = ctx.config.signing_key.as_ref().map_err(|_| {
        OAuthError::new(
            ErrorCode::ServerError,
            "the server has no signing key configured",
        )
    })?;
    // A deployment that cannot sign as it is configured refuses here, before
    // a code is spent or a grant touched, and never signs with something else.
    if ctx.config.access_token_alg_error.is_some() {
        return Err(UNUSABLE_ALG.into());
    }
    if ctx.config.es256.is_some() && ctx.es256.and_then(|k| k.signing_kid()).is_none() {
        return Err(NO_ES256_KEY.into());
    }
    let successors = ctx.config.successors();
    let issuer = ctx.issuer(req);
    let claims = |sub: &str, scope: &ScopeSet, grant: Option<&GrantRecord>| Claims {
        iss: issuer.clone(),
        aud: Some(client.client_id.to_string()),
        sub: sub.to_owned(),
        client_id: client.client_id.to_string(),
        scope: scope.to_string(),
        iat: ctx.now,
        exp: ctx.now + ctx.config.access_token_ttl,
        jti: random_string(ctx.rng, 16),
        gid: grant.map(|g| g.id.to_string()),
        name: grant
            .map(|g| g.display_name.clone())
            .filter(|n| !n.is_empty()),
        extra: grant.and_then(|g| g.claims.clone()),
    };

    match grant_type {
        GrantType::AuthorizationCode => {
            let code = params.require("code", "code is missing")?;
            // Codes are `<grant id>.<secret>`; anything else was never issued.
            let grant_id = grant::grant_named_by_code(code).ok_or(Refusal::UnknownCode.error())?;
            log.grant_id = Some(grant_id.to_string());
            let redeem = grant::CodeExchange {
                grant_id,
                code_hash: token_hash(code),
                client_id: client.client_id.clone(),
                redirect_uri: params.get("redirect_uri").map(str::to_owned),
                code_verifier: params
                    .take("code_verifier")
                    .map(|v| pkce::s256(&CodeVerifier::new(v))),
                client_generation: client.generation,
                now: ctx.now,
            };
            let grant = match ctx.store.redeem_code(successors, &redeem).await? {
                Ok(grant) => grant,
                Err(refusal) => {
                    if refusal == Refusal::Replayed {
                        // §10.5: the store revoked the grant; end its access tokens too.
                        end_access_tokens(ctx, &redeem.grant_id, Revocation::CodeReplayed).await?;
                    }
                    return Err(refusal.error().into());
                }
            };
            // A user removed since the code was issued: the removal's sweep
            // may have run before this grant existed, so end it here. A read
            // that fails must not fail the exchange (the code is spent now,
            // and the retry would be a replay); the removal's second sweep
            // ends such a grant instead.
            let removed = keys::user_removed(&grant.user_id);
            if let Ok(Some(_)) = ctx.store.get(&removed).await {
                end_access_tokens(ctx, &grant.id, Revocation::UserRemoved).await?;
                return Err(Refusal::UserRemoved.error().into());
            }
            log.sub = Some(grant.user_id.to_string());
            let refresh = grant::current_refresh_token(successors, &grant, Some(&redeem.code_hash))
                .ok_or(NO_KEY)?;
            Ok(Issued {
                access_token: sign(
                    ctx,
                    &claims(grant.user_id.as_str(), &grant.scope, Some(&grant)),
                    key,
                )
                .await?,
                refresh_token: client.allows(GrantType::RefreshToken).then_some(refresh),
                scope: grant.scope,
            })
        }
        GrantType::RefreshToken => {
            const INVALID: Refusal = Refusal::InvalidRefresh;
            let presented = params.require("refresh_token", "refresh_token is missing")?;
            // An access token or anything else not shaped like a refresh token is
            // refused here, without a storage read.
            let grant_id = grant::grant_named_by_refresh_token(presented).ok_or(INVALID.error())?;
            log.grant_id = Some(grant_id.to_string());
            let scope = requested_scope(&params)?;
            let request = grant::RefreshExchange {
                grant_id,
                presented_hash: token_hash(presented),
                client: client.view(),
                scope,
                now: ctx.now,
                ttl: ctx.config.refresh_token_ttl,
            };
            let done = match ctx.store.refresh_grant(successors, &request).await? {
                Ok(done) => done,
                Err(refusal) => {
                    if refusal == Refusal::ReusedRefresh {
                        // RFC 9700 §4.14.2: the store revoked the family; end its
                        // access tokens too.
                        end_access_tokens(ctx, &request.grant_id, Revocation::RefreshReused)
                            .await?;
                    }
                    return Err(refusal.error().into());
                }
            };
            log.reason = done.path.reason();
            let grant = &done.grant;
            log.sub = Some(grant.user_id.to_string());
            let refresh = match done.handout {
                Handout::Presented => Some(RefreshToken::new(presented.to_owned())),
                Handout::Current => grant::current_refresh_token(successors, grant, None),
                Handout::Successor => successors.next(&grant.id, &request.presented_hash),
            };
            Ok(Issued {
                access_token: sign(
                    ctx,
                    &claims(grant.user_id.as_str(), &done.scope, Some(grant)),
                    key,
                )
                .await?,
                refresh_token: Some(refresh.ok_or(NO_KEY)?),
                scope: done.scope,
            })
        }
        GrantType::ClientCredentials => {
            let scope = client
                .scope
                .narrowed_to(requested_scope(&params)?.as_ref())
                .ok_or(Refusal::InvalidScope.error())?;
            Ok(Issued {
                access_token: sign(ctx, &claims(client.client_id.as_str(), &scope, None), key)
                    .await?,
                refresh_token: None,
                scope,
            })
        }
    }
}

/// The `scope` parameter of a token request, if any (§3.3); a malformed one is
/// `invalid_scope`.
fn requested_scope(params: &Params) -> Result<Option<ScopeSet>, OAuthError> {
    params
        .get("scope")
        .map(|s| ScopeSet::parse(s).ok_or(Refusal::InvalidScope.error()))
        .transpose()
}

/// A grant whose current refresh token cannot be derived again: only possible
/// without a signing key, which is refused above.
const NO_KEY: OAuthError = OAuthError::new(
    ErrorCode::ServerError,
    "the refresh token could not be derived",
);

/// Signs an access token: with ES256 when the deployment has it, else HS256.
async fn sign<S>(
    ctx: &Ctx<'_, S>,
    claims: &Claims,
    key: &jwt::SigningKey,
) -> Result<AccessToken, OAuthError> {
    if ctx.config.es256.is_some() {
        let keys = ctx.es256.ok_or(NO_ES256_KEY)?;
        return jwt::sign_es256(claims, keys)
            .await
            .map(AccessToken::new)
            .ok_or(NO_ES256_KEY);
    }
    Ok(AccessToken::new(jwt::sign(claims, key)))
}

/// `ACCESS_TOKEN_ALG` is unknown, or ES256 without `ES256_PRIVATE_KEY`
/// (logged with its fix when the Worker reads its settings).
const UNUSABLE_ALG: OAuthError = OAuthError::new(
    ErrorCode::ServerError,
    "the server's ACCESS_TOKEN_ALG setting is not usable",
);

/// `ES256_PRIVATE_KEY` is set but could not be read or used (logged with its
/// fix when the Worker loads it).
const NO_ES256_KEY: OAuthError = OAuthError::new(
    ErrorCode::ServerError,
    "the server's ES256 key is not usable",
);

/// Writes the tombstone of a grant the store has just revoked (in KV too, in
/// Durable Object mode) and remembers it in this isolate, so its access
/// tokens stop working at `/userinfo` (see [`crate::grant`]).
async fn end_access_tokens<S: GrantStore>(
    ctx: &Ctx<'_, S>,
    grant_id: &GrantId,
    why: Revocation,
) -> Result<(), OAuthError> {
    grant::revoke(ctx.store, ctx.revocations, grant_id, ctx.now, why).await?;
    Ok(())
}

/// A successful token answer (RFC 6749 §5.1). `expires_in` is an integer:
/// Alexa refuses anything else.
#[derive(Serialize)]
struct TokenAnswer<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    scope: String,
}

fn success(issued: Issued, expires_in: u64) -> Response {
    let body = TokenAnswer {
        access_token: issued.access_token.secret(),
        token_type: "Bearer",
        expires_in,
        refresh_token: issued.refresh_token.as_ref().map(|r| r.secret()),
        scope: issued.scope.to_string(),
    };
    // §5.1: token answers must not be cached.
    Response::json(200, &body).header("pragma", "no-cache")
}
