//! The pure check of an authorization request (RFC 6749 §4.1.1, §4.1.2.1):
//! what it asks for, and how a refusal may be answered.
//!
//! A [`RegisteredRedirect`] can only be made here, by matching a registered
//! URI, so a refusal can only be redirected to a URI that matched.

use crate::i18n::{Phrase, Text};
use std::rc::Rc;

use crate::error::{ErrorCode, OAuthError};
use crate::form::Params;
use crate::pkce;
use crate::store::{ClientRecord, GrantType};
use crate::types::{RedirectUri, ScopeSet};

/// A redirect URI that matched one the client registered (§3.1.2.3). Made only
/// by [`match_redirect`], so nothing can be redirected to a URI that did not.
pub(in crate::endpoint) struct RegisteredRedirect(RedirectUri);

impl RegisteredRedirect {
    pub(in crate::endpoint) fn as_str(&self) -> &str {
        self.0.as_str()
    }
    pub(in crate::endpoint) fn uri(&self) -> &RedirectUri {
        &self.0
    }
}

/// A checked authorization request.
pub(in crate::endpoint) struct AuthRequest {
    pub(in crate::endpoint) client: Rc<ClientRecord>,
    pub(in crate::endpoint) redirect: RegisteredRedirect,
    /// Whether `redirect_uri` was in the request (it must then be repeated at /token).
    pub(in crate::endpoint) redirect_given: bool,
    pub(in crate::endpoint) state: Option<String>,
    pub(in crate::endpoint) scope: ScopeSet,
    pub(in crate::endpoint) code_challenge: Option<String>,
}

impl AuthRequest {
    /// What a login form's CSRF token is bound to: the whole request.
    pub(in crate::endpoint) fn csrf_fields(&self) -> [String; 5] {
        [
            self.client.client_id.to_string(),
            self.redirect.as_str().to_owned(),
            self.state.clone().unwrap_or_default(),
            self.scope.to_string(),
            self.code_challenge.clone().unwrap_or_default(),
        ]
    }

    /// The request's parameters as the login page carries them in hidden
    /// fields, and a provider sign-in carries them to its callback.
    pub(in crate::endpoint) fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            ("response_type", "code".to_owned()),
            ("client_id", self.client.client_id.to_string()),
            ("scope", self.scope.to_string()),
        ];
        if self.redirect_given {
            pairs.push(("redirect_uri", self.redirect.as_str().to_owned()));
        }
        if let Some(state) = &self.state {
            pairs.push(("state", state.clone()));
        }
        if let Some(challenge) = &self.code_challenge {
            pairs.push(("code_challenge", challenge.clone()));
            pairs.push(("code_challenge_method", "S256".to_owned()));
        }
        pairs
    }

    /// [`Self::pairs`] as a query string.
    pub(in crate::endpoint) fn query(&self) -> String {
        let pairs = self.pairs();
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
        crate::form::encode_pairs(&pairs)
    }
}

/// Why a request gets no code, and how that may be answered (§4.1.2.1).
pub(in crate::endpoint) enum Refused {
    /// The client or its redirect URI is in doubt, or the request cannot be read:
    /// a page for the person, never a redirect.
    Page {
        status: u16,
        title: Text,
        detail: Phrase,
        error: ErrorCode,
        reason: &'static str,
    },
    /// Back to the client at a registered redirect URI, with `error`,
    /// `error_description` and the unchanged `state`.
    Redirect {
        to: RegisteredRedirect,
        state: Option<String>,
        error: OAuthError,
    },
    /// Storage could not be read or written: a page asking to retry.
    Unavailable,
    /// A sign-in through a provider failed: a page with a link back
    /// to the login form, which still holds the authorization request.
    SignInFailed {
        status: u16,
        title: Text,
        detail: Phrase,
        /// `/authorize?<the pending request>`.
        again: String,
        error: ErrorCode,
        reason: &'static str,
    },
    /// `SIGNING_KEY` is missing: a page naming the fix.
    NotConfigured,
}

impl Refused {
    /// A 400 page for a request that cannot be trusted or read.
    pub(in crate::endpoint) fn page(
        title: Text,
        detail: impl Into<Phrase>,
        reason: &'static str,
    ) -> Self {
        Self::Page {
            status: 400,
            title,
            detail: detail.into(),
            error: ErrorCode::InvalidRequest,
            reason,
        }
    }

    /// An error for the client of a checked request.
    pub(in crate::endpoint) fn to_client(ar: &AuthRequest, error: OAuthError) -> Self {
        Self::Redirect {
            to: RegisteredRedirect(ar.redirect.0.clone()),
            state: ar.state.clone(),
            error,
        }
    }
}

/// §3.1.2.3: exact match against the registered URIs; without a `redirect_uri`,
/// only a client with a single registered URI can be served. The bool says
/// whether the request named it.
fn match_redirect(
    client: &ClientRecord,
    given: Option<&str>,
) -> Result<(RegisteredRedirect, bool), Refused> {
    match given {
        Some(uri) => match client.redirect_uris.iter().find(|r| r.as_str() == uri) {
            Some(r) => Ok((RegisteredRedirect(r.clone()), true)),
            None => Err(Refused::page(
                Text::unregistered_redirect_title,
                Text::unregistered_redirect,
                "redirect_uri is not registered for this client",
            )),
        },
        None if client.redirect_uris.len() == 1 => {
            Ok((RegisteredRedirect(client.redirect_uris[0].clone()), false))
        }
        None => Err(Refused::page(
            Text::incomplete_title,
            Text::no_redirect,
            "redirect_uri is missing and the client has several",
        )),
    }
}

/// Checks an authorization request against its client (`None`: unknown or
/// absent). Pure: no storage, no time.
pub(in crate::endpoint) fn check(
    params: &Params,
    client: Option<Rc<ClientRecord>>,
) -> Result<AuthRequest, Refused> {
    let Some(client) = client else {
        return Err(match params.get("client_id") {
            None => Refused::page(
                Text::incomplete_title,
                Text::no_client,
                "client_id is missing",
            ),
            Some(_) => Refused::page(
                Text::unknown_client_title,
                Text::unknown_client,
                "unknown client_id",
            ),
        });
    };
    let (redirect, redirect_given) = match_redirect(&client, params.get("redirect_uri"))?;
    let mut ar = AuthRequest {
        client,
        redirect,
        redirect_given,
        state: params.get("state").map(str::to_owned),
        scope: ScopeSet::default(),
        code_challenge: None,
    };
    // From here on the redirect URI is trusted: errors go back to the client.
    let fail = |ar: &AuthRequest, e| Err(Refused::to_client(ar, e));
    match params.get("response_type") {
        Some("code") => {}
        None => return fail(&ar, OAuthError::invalid_request("response_type is missing")),
        Some(_) => {
            let e = OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            );
            return fail(&ar, e);
        }
    }
    if !ar.client.allows(GrantType::AuthorizationCode) {
        let e =
            OAuthError::unauthorized_client("this client may not use the authorization code grant");
        return fail(&ar, e);
    }
    let scope = match params.get("scope") {
        None => ar.client.scope.narrowed_to(None),
        Some(s) => ScopeSet::parse(s).and_then(|s| ar.client.scope.narrowed_to(Some(&s))),
    };
    ar.scope = match scope {
        Some(s) => s,
        None => {
            let e = OAuthError::invalid_scope(
                "the requested scope is malformed or not allowed for this client",
            );
            return fail(&ar, e);
        }
    };
    // RFC 7636 §4.3, §4.4.1: S256 only; a challenge without a method means `plain`.
    let pkce_error = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, None) => None,
        (Some(challenge), Some("S256")) if pkce::is_valid_challenge(challenge) => {
            ar.code_challenge = Some(challenge.to_owned());
            None
        }
        (Some(_), Some("S256")) => Some("code_challenge is not a valid S256 challenge"),
        (None, Some(_)) => Some("code_challenge_method without code_challenge"),
        (Some(_), _) => Some("code_challenge_method must be S256; plain is not supported"),
    };
    match pkce_error {
        Some(e) => fail(&ar, OAuthError::invalid_request(e)),
        None => Ok(ar),
    }
}
