//! Login with Amazon's token endpoint, as a skill's "Send Alexa Events"
//! client: AcceptGrant's code exchanged (RFC 6749 §4.1.3), refresh tokens
//! used (§6).

use serde_json::Value;

use super::LwaClient;
use crate::form::encode_pairs;
use crate::outbound::{Call, Fetch, FetchError};
use crate::types::{LwaAccessToken, LwaRefreshToken};

/// What LWA answered a token request with.
#[derive(Debug)]
pub(super) struct LwaTokens {
    pub(super) access_token: LwaAccessToken,
    pub(super) refresh_token: Option<LwaRefreshToken>,
    pub(super) expires_in: u64,
}

/// Why LWA gave no tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LwaFailure {
    /// LWA refused (RFC 6749 §5.2): `invalid_grant` for a spent or dead
    /// code or refresh token, `invalid_client` for the wrong credentials.
    /// The code is LWA's, kept to a short token of letters and `_`.
    Refused(String),
    /// No answer in time, a 5xx, or one that is not a token answer.
    Unavailable(&'static str),
}

/// What a token request to LWA is for.
pub(super) enum LwaGrant<'a> {
    Code(&'a str),
    Refresh(&'a LwaRefreshToken),
}

/// A token request to LWA (RFC 6749 §4.1.3, §6), form-encoded with the
/// credentials in the body, as LWA takes them.
pub(super) async fn lwa_token(
    fetch: &dyn Fetch,
    url: &str,
    client: &LwaClient,
    grant: LwaGrant<'_>,
) -> Result<LwaTokens, LwaFailure> {
    let (grant_type, name, value) = match grant {
        LwaGrant::Code(code) => ("authorization_code", "code", code),
        LwaGrant::Refresh(token) => ("refresh_token", "refresh_token", token.secret()),
    };
    let body = encode_pairs(&[
        ("grant_type", grant_type),
        (name, value),
        ("client_id", &client.id),
        ("client_secret", client.secret.secret()),
    ]);
    let call = Call {
        post: true,
        url: url.to_owned(),
        headers: vec![
            (
                "content-type",
                "application/x-www-form-urlencoded;charset=UTF-8".to_owned(),
            ),
            ("accept", "application/json".to_owned()),
        ],
        body: Some(body),
    };
    let answer = fetch.fetch(call).await.map_err(|e| {
        LwaFailure::Unavailable(match e {
            FetchError::TimedOut => "Login with Amazon did not answer in time",
            FetchError::Failed => "Login with Amazon could not be reached",
        })
    })?;
    // Read as a `Value`, as every provider's answer is (`provider::client`):
    // a typed reader per answer costs the wasm more.
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
    match answer.status {
        200 => Ok(LwaTokens {
            access_token: LwaAccessToken::new(text("access_token").ok_or(
                LwaFailure::Unavailable("Login with Amazon's answer is not a token answer"),
            )?),
            refresh_token: text("refresh_token").map(LwaRefreshToken::new),
            expires_in: body
                .get("expires_in")
                .and_then(Value::as_u64)
                .unwrap_or(3600),
        }),
        400..=499 => {
            let code: String = text("error")
                .unwrap_or_default()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(40)
                .collect();
            Err(LwaFailure::Refused(if code.is_empty() {
                format!("HTTP {}", answer.status)
            } else {
                code
            }))
        }
        _ => Err(LwaFailure::Unavailable(
            "Login with Amazon failed to answer (HTTP 5xx)",
        )),
    }
}
