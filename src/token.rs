//! The token endpoint (RFC 6749 §3.2): `authorization_code` (§4.1.3),
//! `refresh_token` (§6) and `client_credentials` (§4.4).
//!
//! Every answer is JSON with `Cache-Control: no-store` (§5.1). Errors are the
//! codes of §5.2; bad input is never a 5xx.

use serde_json::json;

use crate::client_auth::{self, Rejection};
use crate::crypto::{random_string, token_hash};
use crate::error::{ErrorCode, OAuthError};
use crate::form::Params;
use crate::grant::{self, RefreshMatch};
use crate::http::{LogFields, Request, Response};
use crate::jwt::{self, Claims};
use crate::pkce;
use crate::store::{ClientRecord, CodeRecord, GrantRecord, GrantType, Store};
use crate::types::{CodeVerifier, GrantId, RefreshToken, ScopeSet};
use crate::{Ctx, ACCESS_TOKEN_TTL};

/// What a successful grant hands back (§5.1).
struct Issued {
    access_token: String,
    refresh_token: Option<RefreshToken>,
    scope: ScopeSet,
}

/// Handles `/token`.
pub async fn handle<S: Store>(req: &Request, ctx: &Ctx<'_, S>) -> Response {
    let mut log = LogFields::default();
    let response = match grant(req, ctx, &mut log).await {
        Ok(issued) => success(issued),
        Err(rejection) => client_auth::error_response(rejection, &mut log),
    };
    response.with_log(log)
}

async fn grant<S: Store>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    log: &mut LogFields,
) -> Result<Issued, Rejection> {
    let mut params = client_auth::read_form(req, "the token endpoint accepts POST only")?;
    let grant_type = params.require("grant_type", "grant_type is missing")?;
    log.grant_type = Some(grant_type.chars().take(32).collect());
    let grant_type = GrantType::parse(grant_type).ok_or(OAuthError::new(
        ErrorCode::UnsupportedGrantType,
        "grant_type must be authorization_code, refresh_token or client_credentials",
    ))?;
    let client =
        client_auth::authenticate_request(req, &mut params, ctx.store, ctx.now, log).await?;
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
    let issuer = ctx.issuer(req);
    let access = |sub: &str, scope: &ScopeSet, grant: Option<&GrantRecord>| {
        let claims = Claims {
            iss: issuer.clone(),
            sub: sub.to_owned(),
            client_id: client.client_id.to_string(),
            scope: scope.to_string(),
            iat: ctx.now,
            exp: ctx.now + ACCESS_TOKEN_TTL,
            jti: random_string(ctx.rng, 16),
            gid: grant.map(|g| g.id.to_string()),
            name: grant
                .map(|g| g.display_name.clone())
                .filter(|n| !n.is_empty()),
        };
        jwt::sign(&claims, key)
    };

    match grant_type {
        GrantType::AuthorizationCode => {
            let (mut grant, code_hash, code) = authorization_code(&params, &client, ctx).await?;
            let refresh = new_refresh_token(ctx, &grant.id);
            grant.refresh_hash = token_hash(refresh.secret());
            // The grant first, then the code is spent. If either write fails, the
            // client's retry with the same code finds it unspent and writes the
            // same grant id again: a storage fault neither loses nor duplicates a grant.
            ctx.store.create_grant(&grant).await?;
            ctx.store.spend_code(&code_hash, code).await?;
            Ok(Issued {
                access_token: access(grant.user_id.as_str(), &grant.scope, Some(&grant)),
                refresh_token: client.allows(GrantType::RefreshToken).then_some(refresh),
                scope: grant.scope,
            })
        }
        GrantType::RefreshToken => {
            let (grant, refresh, scope) = refresh_token(&params, &client, ctx).await?;
            Ok(Issued {
                access_token: access(grant.user_id.as_str(), &scope, Some(&grant)),
                refresh_token: Some(refresh),
                scope,
            })
        }
        GrantType::ClientCredentials => {
            let scope = requested_scope(&params, &client.scope)?;
            Ok(Issued {
                access_token: access(client.client_id.as_str(), &scope, None),
                refresh_token: None,
                scope,
            })
        }
    }
}

/// `scope` of a token request: absent means all of `allowed`; otherwise it must
/// be a subset of it (§3.3, §6).
fn requested_scope(params: &Params, allowed: &ScopeSet) -> Result<ScopeSet, OAuthError> {
    match params.get("scope") {
        None => Ok(allowed.clone()),
        Some(s) => {
            let scope = ScopeSet::parse(s)
                .filter(|s| !s.is_empty() && s.is_subset_of(allowed))
                .ok_or(OAuthError::invalid_scope(
                    "the requested scope is malformed or exceeds what was granted",
                ))?;
            Ok(scope)
        }
    }
}

fn new_refresh_token<S>(ctx: &Ctx<'_, S>, grant: &GrantId) -> RefreshToken {
    RefreshToken::new(format!("{grant}.{}", random_string(ctx.rng, 32)))
}

/// §4.1.3: checks a code and returns the grant it creates (its refresh hash is
/// filled in by the caller), the code's hash and record (to spend it).
async fn authorization_code<S: Store>(
    params: &Params,
    client: &ClientRecord,
    ctx: &Ctx<'_, S>,
) -> Result<(GrantRecord, String, CodeRecord), OAuthError> {
    let code_hash = token_hash(params.require("code", "code is missing")?);
    let code = ctx
        .store
        .code(&code_hash)
        .await?
        .ok_or(OAuthError::invalid_grant("the code is invalid or expired"))?;
    if code.used {
        // §10.5: a code used twice may have been stolen; end what it granted.
        if let Some(mut grant) = ctx.store.grant(&code.grant_id).await? {
            grant::revoke(ctx.store, ctx.revocations, &mut grant, ctx.now).await?;
        }
        return Err(OAuthError::invalid_grant(
            "the code was already used; its tokens are revoked",
        ));
    }
    if code.expires_at <= ctx.now {
        return Err(OAuthError::invalid_grant("the code is invalid or expired"));
    }
    if code.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "the code was issued to another client",
        ));
    }
    if let Some(bound) = &code.redirect_uri {
        match params.get("redirect_uri") {
            None => {
                return Err(OAuthError::invalid_request(
                    "redirect_uri is required: it was given at /authorize",
                ))
            }
            Some(uri) if uri != bound.as_str() => {
                return Err(OAuthError::invalid_grant(
                    "redirect_uri differs from the one given at /authorize",
                ))
            }
            Some(_) => {}
        }
    }
    match (&code.code_challenge, params.get("code_verifier")) {
        (None, None) => {}
        (Some(challenge), Some(verifier)) => {
            if !pkce::verify_s256(&CodeVerifier::new(verifier), challenge) {
                return Err(OAuthError::invalid_grant("code_verifier does not match"));
            }
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier is required: PKCE was used at /authorize",
            ))
        }
        // RFC 9700 §2.1.1: a verifier for a code issued without a challenge is a
        // sign of a PKCE downgrade attack.
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier sent, but no code_challenge was given at /authorize",
            ))
        }
    }
    let grant = GrantRecord {
        id: code.grant_id.clone(),
        client_id: code.client_id.clone(),
        user_id: code.user_id.clone(),
        display_name: code.display_name.clone(),
        scope: code.scope.clone(),
        created_at: ctx.now,
        refresh_hash: String::new(),
        previous_refresh_hash: None,
        refreshed_at: ctx.now,
        retired_refresh_hashes: Vec::new(),
        revoked_at: None,
    };
    Ok((grant, code_hash, code))
}

/// §6: checks a refresh token and rotates it. The token it replaces stays valid
/// until the new one is used, so a retry after a lost answer still works.
async fn refresh_token<S: Store>(
    params: &Params,
    client: &ClientRecord,
    ctx: &Ctx<'_, S>,
) -> Result<(GrantRecord, RefreshToken, ScopeSet), OAuthError> {
    const INVALID: OAuthError =
        OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
    let presented = params.require("refresh_token", "refresh_token is missing")?;
    // An access token or anything else not shaped like a refresh token is refused
    // here, without a storage read.
    let grant_id = grant::refresh_token_grant(presented).ok_or(INVALID)?;
    let mut grant = ctx.store.grant(&grant_id).await?.ok_or(INVALID)?;
    if grant.client_id != client.client_id || grant.revoked_at.is_some() {
        return Err(INVALID);
    }
    if let Some(ttl) = ctx.config.refresh_token_ttl {
        if ctx.now >= grant.refreshed_at.saturating_add(ttl) {
            return Err(INVALID);
        }
    }
    let matched = grant::match_refresh(&grant, presented).ok_or(INVALID)?;
    if matched == RefreshMatch::Retired {
        // RFC 9700 §4.14.2: an old refresh token came back after its successor was
        // used, so a copy is in someone else's hands. End the whole family.
        grant::revoke(ctx.store, ctx.revocations, &mut grant, ctx.now).await?;
        return Err(OAuthError::invalid_grant(
            "a refresh token was reused after it was replaced; the grant is revoked",
        ));
    }
    let scope = requested_scope(params, &grant.scope)?;
    let refresh = new_refresh_token(ctx, &grant.id);
    grant::rotate(&mut grant, matched, token_hash(refresh.secret()), ctx.now);
    ctx.store.put_grant(&grant).await?;
    Ok((grant, refresh, scope))
}

fn success(issued: Issued) -> Response {
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_TTL,
        "scope": issued.scope.to_string(),
    });
    if let Some(refresh) = issued.refresh_token {
        body["refresh_token"] = refresh.secret().into();
    }
    // §5.1: token answers must not be cached.
    Response::json(200, &body)
        .header("cache-control", "no-store")
        .header("pragma", "no-cache")
}
