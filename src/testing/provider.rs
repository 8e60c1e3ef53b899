//! A stand-in provider for native tests: an OpenID Connect provider at
//! [`IDP`] (discovery, JWKS, token) that also answers Login with Amazon's
//! profile, with switchable misbehaviours. Its "signatures" are HMACs under the
//! key id: the core's checks are what these tests exercise; real RS256 and
//! ES256 signatures are checked by WebCrypto in the end-to-end tests.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use serde_json::{json, Value};

use super::query_param;
use crate::crypto::{b64url, ct_eq, hmac_sha256, sha256_b64url};
use crate::form::Params;
use crate::outbound::{Answer, Call, Fetch, FetchError, Fetched};
use crate::provider::{Alg, Checked, Signatures};

/// The stand-in's issuer.
pub const IDP: &str = "https://idp.test";
/// Our client id and secret there.
pub const IDP_CLIENT_ID: &str = "our-client-at-idp";
pub const IDP_CLIENT_SECRET: &str = "idp-client-secret-never-logged";

/// What the stand-in does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    None,
    BadSignature,
    WrongAudience,
    WrongNonce,
    Expired,
    /// Signs with a key its JWKS does not list.
    UnknownKid,
    /// The token endpoint answers 500.
    TokenError,
    /// No answer within the timeout.
    Slow,
}

struct Pending {
    nonce: Option<String>,
    challenge: String,
    redirect_uri: String,
}

pub struct StandIn {
    pub mode: Cell<Misbehaviour>,
    /// Who the authorize step signs in.
    pub subject: RefCell<String>,
    /// The key id tokens are signed with; the JWKS lists only this one.
    pub kid: RefCell<String>,
    /// The provider's clock.
    pub now: Cell<u64>,
    /// Every URL fetched, in order.
    pub fetched: RefCell<Vec<String>>,
    /// Names its issuer with a trailing `/`, in discovery and ID tokens (as
    /// some providers do).
    pub slash_issuer: Cell<bool>,
    codes: RefCell<HashMap<String, Pending>>,
    /// Login with Amazon and the event gateways, on the same outbound path.
    pub amazon: super::amazon::Amazon,
}

impl Default for StandIn {
    fn default() -> Self {
        Self {
            mode: Cell::new(Misbehaviour::None),
            subject: RefCell::new("subject-alice".into()),
            kid: RefCell::new("k1".into()),
            now: Cell::new(0),
            fetched: RefCell::default(),
            slash_issuer: Cell::new(false),
            codes: RefCell::default(),
            amazon: Default::default(),
        }
    }
}

impl StandIn {
    /// How many fetched URLs contain `part`.
    pub fn fetches(&self, part: &str) -> usize {
        self.fetched
            .borrow()
            .iter()
            .filter(|u| u.contains(part))
            .count()
    }

    /// The issuer as this provider writes it.
    fn issuer(&self) -> String {
        let slash = if self.slash_issuer.get() { "/" } else { "" };
        format!("{IDP}{slash}")
    }

    /// The provider's authorization endpoint, approving at once: the query of
    /// its redirect back to us (`code` and `state`).
    pub fn approve(&self, authorize_url: &str) -> String {
        let get = |name| query_param(authorize_url, name).unwrap_or_default();
        let code = format!("idp-code-{}", self.codes.borrow().len());
        self.codes.borrow_mut().insert(
            code.clone(),
            Pending {
                nonce: query_param(authorize_url, "nonce"),
                challenge: get("code_challenge"),
                redirect_uri: get("redirect_uri"),
            },
        );
        format!("code={code}&state={}", get("state"))
    }

    fn token(&self, call: &Call) -> Answer {
        let form = Params::parse(call.body.as_deref().unwrap_or("").as_bytes()).unwrap_or_default();
        let basic = call.headers.iter().any(|(n, _)| *n == "authorization");
        let secret_ok = basic || form.get("client_secret") == Some(IDP_CLIENT_SECRET);
        let pending = form
            .get("code")
            .and_then(|c| self.codes.borrow_mut().remove(c));
        if !secret_ok {
            return answer(401, json!({"error": "invalid_client"}));
        }
        let Some(p) = pending.filter(|p| {
            sha256_b64url(form.get("code_verifier").unwrap_or("")) == p.challenge
                && form.get("redirect_uri") == Some(p.redirect_uri.as_str())
        }) else {
            return answer(400, json!({"error": "invalid_grant"}));
        };
        let now = self.now.get();
        let mode = self.mode.get();
        let mut tokens = json!({"access_token": "idp-access-token", "token_type": "bearer",
                                "expires_in": 3600});
        if let Some(nonce) = p.nonce {
            let claims = json!({
                "iss": self.issuer(),
                "aud": if mode == Misbehaviour::WrongAudience { "someone-else" } else { IDP_CLIENT_ID },
                "sub": *self.subject.borrow(),
                "name": "Alice Upstream",
                "iat": now,
                "exp": if mode == Misbehaviour::Expired { now - 3600 } else { now + 600 },
                "nonce": if mode == Misbehaviour::WrongNonce { "another-nonce".into() } else { nonce },
            });
            let kid = match mode {
                Misbehaviour::UnknownKid => "not-in-jwks".to_owned(),
                _ => self.kid.borrow().clone(),
            };
            let header = json!({"alg": "ES256", "kid": kid});
            let signed = format!(
                "{}.{}",
                b64url(header.to_string().as_bytes()),
                b64url(claims.to_string().as_bytes())
            );
            let key = match mode {
                Misbehaviour::BadSignature => "forged".to_owned(),
                _ => kid,
            };
            let sig = b64url(&hmac_sha256(key.as_bytes(), signed.as_bytes()));
            tokens["id_token"] = json!(format!("{signed}.{sig}"));
        }
        answer(200, tokens)
    }
}

fn answer(status: u16, body: Value) -> Answer {
    Answer {
        status,
        body: body.to_string().into_bytes(),
    }
}

impl Fetch for StandIn {
    fn fetch(&self, call: Call) -> Fetched<'_> {
        self.fetched.borrow_mut().push(call.url.clone());
        if let Some(result) = self.amazon.fetch(&call) {
            return Box::pin(std::future::ready(result));
        }
        let path = call
            .url
            .strip_prefix(IDP)
            .unwrap_or("")
            .split('?')
            .next()
            .unwrap_or("");
        let result = match (path, self.mode.get()) {
            (_, Misbehaviour::Slow) => Err(FetchError::TimedOut),
            ("/.well-known/openid-configuration", _) => Ok(answer(
                200,
                json!({
                    "issuer": self.issuer(),
                    "authorization_endpoint": format!("{IDP}/authorize"),
                    "token_endpoint": format!("{IDP}/token"),
                    "userinfo_endpoint": format!("{IDP}/userinfo"),
                    "jwks_uri": format!("{IDP}/jwks"),
                    "token_endpoint_auth_methods_supported": ["client_secret_post"],
                }),
            )),
            ("/jwks", _) => Ok(answer(
                200,
                json!({"keys": [{"kty": "EC", "kid": *self.kid.borrow()}]}),
            )),
            ("/token", Misbehaviour::TokenError) => Ok(answer(500, json!({}))),
            ("/token", _) => Ok(self.token(&call)),
            ("/user/profile", _) => Ok(answer(
                200,
                json!({"user_id": format!("amzn1.account.{}", self.subject.borrow()),
                       "name": "Alice Amazon", "email": "alice@example.com"}),
            )),
            _ => Err(FetchError::Failed),
        };
        Box::pin(std::future::ready(result))
    }
}

impl Signatures for StandIn {
    fn verify<'a>(&'a self, _: Alg, jwk: &'a str, signed: &'a [u8], sig: &'a [u8]) -> Checked<'a> {
        let jwk: Value = serde_json::from_str(jwk).unwrap_or_default();
        let kid = jwk["kid"].as_str().unwrap_or("");
        let ok = ct_eq(&hmac_sha256(kid.as_bytes(), signed), sig);
        Box::pin(std::future::ready(Ok(ok)))
    }
}
