//! The errors the core answers with: the error codes of RFC 6749 and the
//! error a store fails with ([`StoreError`], answered as
//! `temporarily_unavailable`).
//!
//! At the token endpoint an error is a JSON body (§5.2). At the authorization
//! endpoint it is a redirect back to the client (§4.1.2.1), except when the client
//! or its redirect URI cannot be trusted: then the user sees an HTML page and no
//! redirect happens at all (§4.1.2.1, first paragraph; §10.15).

use std::fmt;

/// An RFC 6749 error code. The doc comment of each variant says where the RFC defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// §4.1.2.1, §5.2: a required parameter is missing, a parameter is repeated or
    /// malformed, or the request is otherwise malformed.
    InvalidRequest,
    /// §5.2: client authentication failed (unknown client, no credentials, wrong
    /// secret, or an unsupported authentication method).
    InvalidClient,
    /// §5.2: the authorization code or refresh token is invalid, expired, revoked,
    /// does not match the redirect URI, or was issued to another client.
    InvalidGrant,
    /// §4.1.2.1, §5.2: the client is not allowed to use this grant or response type.
    UnauthorizedClient,
    /// §5.2: the grant type is not supported by this server.
    UnsupportedGrantType,
    /// §4.1.2.1: the response type is not supported by this server.
    UnsupportedResponseType,
    /// §4.1.2.1, §5.2: the requested scope is invalid, unknown, malformed, or
    /// exceeds what the client (or the grant) may have.
    InvalidScope,
    /// §4.1.2.1: the resource owner denied the request.
    AccessDenied,
    /// §4.1.2.1: the server met a condition it did not expect (here: its own
    /// configuration is incomplete). Answered with 500.
    ServerError,
    /// §4.1.2.1: the server cannot handle the request now (storage unavailable).
    /// Answered with 503 and `Retry-After`.
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The RFC's string for this code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// The HTTP status for this code as a token-endpoint answer (§5.2: 400, except
    /// 401 for `invalid_client`).
    pub fn token_status(self) -> u16 {
        match self {
            Self::InvalidClient => 401,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error with the human-readable `error_description` sent beside the code.
/// The description never contains a secret or an echoed parameter value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: &'static str,
}

impl OAuthError {
    pub const fn new(code: ErrorCode, description: &'static str) -> Self {
        Self { code, description }
    }
    pub const fn invalid_request(description: &'static str) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }
    pub const fn invalid_client(description: &'static str) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }
    pub const fn invalid_grant(description: &'static str) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }
    pub const fn invalid_scope(description: &'static str) -> Self {
        Self::new(ErrorCode::InvalidScope, description)
    }
    pub const fn unauthorized_client(description: &'static str) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, description)
    }
    pub const fn temporarily_unavailable() -> Self {
        Self::new(
            ErrorCode::TemporarilyUnavailable,
            "storage is temporarily unavailable; retry shortly",
        )
    }
}

/// The store could not be read or written (a KV error or rate limit). Answered as
/// `temporarily_unavailable`, never as a panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl From<StoreError> for OAuthError {
    fn from(_: StoreError) -> Self {
        Self::temporarily_unavailable()
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}
