//! Client authentication at the token endpoint (RFC 6749 §2.3.1).
//!
//! Alexa's console offers "HTTP Basic" (`client_secret_basic`) and "Credentials
//! in request body" (`client_secret_post`); both are accepted for every client.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::rc::Rc;

use crate::crypto::verify_client_secret;
use crate::error::OAuthError;
use crate::form::Params;
use crate::http::Request;
use crate::store::{ClientCache, ClientRecord, Store};
use crate::types::{ClientId, ClientSecret, MAX_PARAM_LEN};

/// The credentials a request presented, before they are checked.
#[derive(Debug)]
pub struct Credentials {
    pub client_id: ClientId,
    pub secret: Option<ClientSecret>,
}

/// Decodes one half of a Basic credential: RFC 6749 §2.3.1 says the id and the
/// secret are form-url-encoded before base64, so `+` is a space and `%XX` a byte.
fn form_decode(s: &str) -> Option<String> {
    let plus_as_space = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") || rest.len() > 2 * MAX_PARAM_LEN {
        return None;
    }
    let decoded = STANDARD.decode(rest.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// Takes the client's credentials from the `Authorization` header or the body,
/// removing `client_secret` from `params` so it is held only as a secret type.
///
/// A secret in both places, or none anywhere, is `invalid_client`. A `client_id`
/// in the body beside Basic is accepted if it names the same client.
pub fn extract(req: &Request, params: &mut Params) -> Result<Credentials, OAuthError> {
    let body_secret = params.take("client_secret").map(ClientSecret::new);
    let body_id = params.get("client_id");
    match req.header("authorization") {
        Some(header) => {
            let (id, secret) = parse_basic(header).ok_or(OAuthError::invalid_client(
                "the Authorization header is not valid HTTP Basic",
            ))?;
            if body_secret.is_some() {
                return Err(OAuthError::invalid_client(
                    "client credentials were sent both in the header and in the body",
                ));
            }
            if body_id.is_some_and(|b| b != id) {
                return Err(OAuthError::invalid_client(
                    "client_id in the body differs from the one in the Authorization header",
                ));
            }
            Ok(Credentials {
                client_id: ClientId::new(id),
                secret: (!secret.is_empty()).then(|| ClientSecret::new(secret)),
            })
        }
        None => {
            let id = body_id.ok_or(OAuthError::invalid_client("no client credentials"))?;
            Ok(Credentials {
                client_id: ClientId::new(id),
                secret: body_secret,
            })
        }
    }
}

/// Checks credentials against the registered client, comparing the secret in
/// constant time. The secret before a rotation is accepted until its grace
/// period ends. Every failure reads the same to the caller.
pub async fn authenticate<S: Store>(
    store: &S,
    clients: &ClientCache,
    creds: &Credentials,
    now: u64,
) -> Result<Rc<ClientRecord>, OAuthError> {
    const FAILED: OAuthError = OAuthError::invalid_client("client authentication failed");
    let secret = creds.secret.as_ref().ok_or(FAILED)?;
    // Longer than any registered id: unknown, without a storage read.
    if creds.client_id.as_str().len() > crate::registration::MAX_CLIENT_ID {
        return Err(FAILED);
    }
    let (client, fresh) = clients
        .get(store, &creds.client_id, now)
        .await?
        .ok_or(FAILED)?;
    if accepts(&client, secret, now) {
        return Ok(client);
    }
    if fresh {
        return Err(FAILED);
    }
    // A cached copy may predate a rotation: one fresh read, so a new secret
    // works at once.
    let client = clients
        .reload(store, &creds.client_id, now)
        .await?
        .ok_or(FAILED)?;
    if accepts(&client, secret, now) {
        Ok(client)
    } else {
        Err(FAILED)
    }
}

/// The current secret, or the previous one within its grace.
fn accepts(client: &ClientRecord, secret: &ClientSecret, now: u64) -> bool {
    let current = verify_client_secret(&client.secret_hash, secret);
    let previous = match (
        &client.previous_secret_hash,
        client.previous_secret_expires_at,
    ) {
        (Some(hash), Some(until)) if now < until => verify_client_secret(hash, secret),
        _ => false,
    };
    current || previous
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    fn req(auth: Option<&str>) -> Request {
        let r = Request::new(Method::Post, "/token");
        match auth {
            Some(a) => r.with_header("Authorization", a),
            None => r,
        }
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn basic_is_form_decoded() {
        let mut p = Params::parse(b"").unwrap();
        let c = extract(&req(Some(&basic("my%20client", "a+b%3Ac"))), &mut p).unwrap();
        assert_eq!(c.client_id.as_str(), "my client");
        assert_eq!(c.secret.unwrap().secret(), "a b:c");
    }

    #[test]
    fn body_credentials() {
        let mut p = Params::parse(b"client_id=alexa&client_secret=s").unwrap();
        let c = extract(&req(None), &mut p).unwrap();
        assert_eq!(c.client_id.as_str(), "alexa");
        assert_eq!(c.secret.unwrap().secret(), "s");
        assert!(p.get("client_secret").is_none());
    }

    #[test]
    fn conflicts_and_absence() {
        let mut p = Params::parse(b"client_secret=s").unwrap();
        assert!(extract(&req(Some(&basic("a", "s"))), &mut p).is_err());
        let mut p = Params::parse(b"client_id=b").unwrap();
        assert!(extract(&req(Some(&basic("a", "s"))), &mut p).is_err());
        let mut p = Params::parse(b"client_id=a").unwrap();
        assert!(extract(&req(Some(&basic("a", "s"))), &mut p).is_ok());
        let mut p = Params::parse(b"").unwrap();
        assert!(extract(&req(None), &mut p).is_err());
        assert!(extract(&req(Some("Bearer xyz")), &mut p).is_err());
        assert!(extract(&req(Some("Basic !!!")), &mut p).is_err());
    }
}
