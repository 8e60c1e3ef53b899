//! Our side of the round trip, as the provider's OAuth client: its
//! endpoints (presets, or OpenID Connect discovery), the authorization URL, the
//! code exchange (RFC 6749 §4.1.3) and who signed in.

use std::rc::Rc;

use serde_json::Value;

use super::config::allowed_url;
use super::id_token::{self, Expected, Invalid, Jws, KeySet};
use super::{Kind, Provider, ProviderCache};
use crate::form::{append_query, encode_pairs, encode_value};
use crate::outbound::{Answer, Call, FetchError, Outbound};

/// Where a provider's endpoints are, and how it wants us to authenticate.
#[derive(Debug, Clone)]
pub struct Metadata {
    /// OpenID Connect: the `iss` its ID tokens carry.
    pub issuer: Option<String>,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    /// `client_secret_basic` (RFC 6749 §2.3.1) rather than `client_secret_post`.
    pub basic_auth: bool,
}

/// Who signed in at a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub provider: String,
    /// The provider's stable id for the person: never shown in our tokens.
    pub subject: String,
    /// A name to show, for a user created on first sign-in.
    pub display_name: Option<String>,
}

impl Identity {
    /// `<provider>:<subject>`, as `admin user add --identity` takes it.
    pub fn key(&self) -> String {
        format!("{}:{}", self.provider, self.subject)
    }
}

/// Why a sign-in through a provider did not say who signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The provider timed out, failed (5xx) or answered something unreadable:
    /// the person may try again (503).
    Unavailable(&'static str),
    /// The provider's answer does not prove who signed in (a refused code, a
    /// bad ID token).
    Unverified(&'static str),
}

impl Failure {
    pub fn reason(self) -> &'static str {
        match self {
            Self::Unavailable(r) | Self::Unverified(r) => r,
        }
    }
}

impl From<Invalid> for Failure {
    fn from(e: Invalid) -> Self {
        Self::Unverified(e.reason())
    }
}

async fn send(out: &Outbound<'_>, call: Call, what: &'static str) -> Result<Answer, Failure> {
    match out.fetch.fetch(call).await {
        Ok(a) if a.status >= 500 => Err(Failure::Unavailable(what)),
        Ok(a) => Ok(a),
        Err(FetchError::TimedOut) => {
            Err(Failure::Unavailable("the provider did not answer in time"))
        }
        Err(FetchError::Failed) => Err(Failure::Unavailable("the provider could not be reached")),
    }
}

fn get(url: &str, bearer: Option<&str>) -> Call {
    let mut headers = vec![("accept", "application/json".to_owned())];
    if let Some(token) = bearer {
        headers.push(("authorization", format!("Bearer {token}")));
    }
    Call {
        post: false,
        url: url.to_owned(),
        headers,
        body: None,
    }
}

fn json(a: &Answer, what: &'static str) -> Result<Value, Failure> {
    serde_json::from_slice::<Value>(&a.body)
        .ok()
        .filter(Value::is_object)
        .ok_or(Failure::Unavailable(what))
}

const AMAZON_AUTHORIZE: &str = "https://www.amazon.com/ap/oa";
const GITHUB_AUTHORIZE: &str = "https://github.com/login/oauth/authorize";

/// Where the provider's authorization endpoint is expected, known without a
/// discovery lookup: the operator's override, the preset's, or (OpenID
/// Connect) the issuer. The login page lets its forms lead there.
pub fn expected_authorization_url(p: &Provider) -> Option<&str> {
    p.authorize_url.as_deref().or(match p.kind {
        Kind::Amazon => Some(AMAZON_AUTHORIZE),
        Kind::GitHub => Some(GITHUB_AUTHORIZE),
        Kind::Oidc => p.issuer.as_deref(),
    })
}

/// The provider's endpoints: its preset, or its discovery document (cached per
/// isolate), then the operator's overrides.
pub async fn metadata(p: &Provider, out: &Outbound<'_>, now: u64) -> Result<Metadata, Failure> {
    let mut meta = match p.kind {
        Kind::Amazon => Metadata {
            issuer: None,
            authorization_endpoint: AMAZON_AUTHORIZE.into(),
            token_endpoint: "https://api.amazon.com/auth/o2/token".into(),
            userinfo_endpoint: Some("https://api.amazon.com/user/profile".into()),
            jwks_uri: None,
            basic_auth: false,
        },
        Kind::GitHub => Metadata {
            issuer: None,
            authorization_endpoint: GITHUB_AUTHORIZE.into(),
            token_endpoint: "https://github.com/login/oauth/access_token".into(),
            userinfo_endpoint: Some("https://api.github.com/user".into()),
            jwks_uri: None,
            basic_auth: false,
        },
        Kind::Oidc => discover(p, out, now).await?,
    };
    let overrides = [
        (&p.authorize_url, &mut meta.authorization_endpoint),
        (&p.token_url, &mut meta.token_endpoint),
    ];
    for (given, slot) in overrides {
        if let Some(url) = given {
            slot.clone_from(url);
        }
    }
    if p.userinfo_url.is_some() {
        meta.userinfo_endpoint.clone_from(&p.userinfo_url);
    }
    Ok(meta)
}

/// OpenID Connect Discovery 1.0 §4: `<issuer>/.well-known/openid-configuration`,
/// whose `issuer` must be the configured one (§4.3), a trailing `/` aside.
async fn discover(p: &Provider, out: &Outbound<'_>, now: u64) -> Result<Metadata, Failure> {
    let cache: &ProviderCache = out.cache;
    if let Some(meta) = ProviderCache::get(&cache.discovery, &p.name, now) {
        return Ok(meta);
    }
    let issuer = p.issuer.as_deref().unwrap_or_default();
    let url = format!("{issuer}/.well-known/openid-configuration");
    let bad = Failure::Unavailable("the provider's discovery document is unusable");
    let doc = json(
        &send(out, get(&url, None), "the provider's discovery failed").await?,
        bad.reason(),
    )?;
    let field = |name: &str| {
        doc.get(name)
            .and_then(Value::as_str)
            .filter(|u| allowed_url(u))
            .map(str::to_owned)
    };
    // The configured issuer has no trailing `/`; some providers' do (their ID
    // tokens then carry it too, so it is kept as they write it).
    let named = doc
        .get("issuer")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if named.trim_end_matches('/') != issuer {
        return Err(Failure::Unavailable(
            "the provider's discovery document names another issuer",
        ));
    }
    let methods = doc.get("token_endpoint_auth_methods_supported");
    let supports = |m: &str| {
        methods
            .and_then(Value::as_array)
            .is_none_or(|a| a.iter().any(|v| v == m))
    };
    let meta = Metadata {
        issuer: Some(named.to_owned()),
        authorization_endpoint: field("authorization_endpoint").ok_or(bad)?,
        token_endpoint: field("token_endpoint").ok_or(bad)?,
        userinfo_endpoint: field("userinfo_endpoint"),
        jwks_uri: Some(field("jwks_uri").ok_or(bad)?),
        // The default, when the document lists none, is client_secret_basic.
        basic_auth: supports("client_secret_basic") || !supports("client_secret_post"),
    };
    let mut map = cache.discovery.borrow_mut();
    map.insert(p.name.clone(), (now, meta.clone()));
    Ok(meta)
}

/// The URL the browser is sent to (RFC 6749 §4.1.1, RFC 7636 §4.3; OpenID
/// Connect adds `nonce`).
pub fn authorization_url(
    p: &Provider,
    meta: &Metadata,
    redirect_uri: &str,
    state: &str,
    code_challenge: &str,
    nonce: &str,
) -> String {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", p.client_id.as_str()),
        ("redirect_uri", redirect_uri),
        ("scope", p.scope.as_str()),
        ("state", state),
        ("code_challenge", code_challenge),
        ("code_challenge_method", "S256"),
    ];
    if p.kind == Kind::Oidc {
        pairs.push(("nonce", nonce));
    }
    append_query(&meta.authorization_endpoint, &pairs)
}

/// What the callback carries into the exchange.
pub struct Callback<'a> {
    pub code: &'a str,
    /// The `iss` of the authorization response, if the provider sends one
    /// (RFC 9207): it must be the issuer we sent the browser to.
    pub iss: Option<&'a str>,
    pub redirect_uri: &'a str,
    pub code_verifier: &'a str,
    pub nonce: &'a str,
    pub now: u64,
}

/// Exchanges the provider's code and finds out who signed in.
pub async fn identify(
    p: &Provider,
    out: &Outbound<'_>,
    cb: &Callback<'_>,
) -> Result<Identity, Failure> {
    let meta = metadata(p, out, cb.now).await?;
    if cb.iss.is_some() && cb.iss != meta.issuer.as_deref() {
        return Err(Failure::Unverified(
            "the authorization response's iss is not the provider's issuer",
        ));
    }
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", cb.code),
        ("redirect_uri", cb.redirect_uri),
        ("code_verifier", cb.code_verifier),
    ];
    let mut headers = vec![
        (
            "content-type",
            "application/x-www-form-urlencoded".to_owned(),
        ),
        ("accept", "application/json".to_owned()),
    ];
    if meta.basic_auth {
        let pair = format!(
            "{}:{}",
            encode_value(&p.client_id),
            encode_value(p.client_secret.secret())
        );
        let basic = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pair);
        headers.push(("authorization", format!("Basic {basic}")));
    } else {
        form.push(("client_id", &p.client_id));
        form.push(("client_secret", p.client_secret.secret()));
    }
    let call = Call {
        post: true,
        url: meta.token_endpoint.clone(),
        headers,
        body: Some(encode_pairs(&form)),
    };
    let answer = send(out, call, "the provider's token endpoint failed").await?;
    let tokens = json(&answer, "the provider's token answer is not JSON")?;
    // GitHub answers a refused code with 200 and an `error` field.
    let error = tokens.get("error").and_then(Value::as_str);
    if answer.status == 401 || error == Some("invalid_client") {
        // The operator's to fix: the log says so (RFC 6749 §5.2).
        return Err(Failure::Unverified(
            "the provider refused our client id or secret",
        ));
    }
    if answer.status != 200 || error.is_some() {
        return Err(Failure::Unverified("the provider refused the code"));
    }
    let access_token = tokens.get("access_token").and_then(Value::as_str);
    let unreadable = Failure::Unavailable("the provider's token answer has no access_token");
    match p.kind {
        Kind::Oidc => {
            let Some(id_token) = tokens.get("id_token").and_then(Value::as_str) else {
                return Err(Failure::Unavailable(
                    "the provider's token answer has no id_token",
                ));
            };
            oidc_identity(p, &meta, out, id_token, cb).await
        }
        Kind::Amazon => {
            let profile = profile(&meta, out, access_token.ok_or(unreadable)?, vec![]).await?;
            // Login with Amazon's profile: {"user_id": "amzn1.account.…", "name", "email"}.
            identity(p, &profile, "user_id", &["name", "email"])
        }
        Kind::GitHub => {
            // GitHub's API refuses requests without a User-Agent.
            let extra = vec![
                ("user-agent", "alexa-oauth".to_owned()),
                ("x-github-api-version", "2022-11-28".to_owned()),
            ];
            let user = profile(&meta, out, access_token.ok_or(unreadable)?, extra).await?;
            identity(p, &user, "id", &["name", "login"])
        }
    }
}

async fn profile(
    meta: &Metadata,
    out: &Outbound<'_>,
    access_token: &str,
    extra: Vec<(&'static str, String)>,
) -> Result<Value, Failure> {
    let url = meta
        .userinfo_endpoint
        .as_deref()
        .ok_or(Failure::Unavailable("the provider has no profile endpoint"))?;
    let mut call = get(url, Some(access_token));
    call.headers.extend(extra);
    let answer = send(out, call, "the provider's profile endpoint failed").await?;
    if answer.status != 200 {
        return Err(Failure::Unverified(
            "the provider refused its own access token",
        ));
    }
    json(&answer, "the provider's profile is not JSON")
}

/// An identity from a profile: `subject` is a string or a number there.
fn identity(p: &Provider, doc: &Value, subject: &str, names: &[&str]) -> Result<Identity, Failure> {
    let subject = match doc.get(subject) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(Failure::Unavailable("the provider's profile names nobody")),
    };
    let display_name = names
        .iter()
        .find_map(|n| {
            doc.get(*n)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        })
        .map(|s| s.chars().take(128).collect());
    Ok(Identity {
        provider: p.name.clone(),
        subject,
        display_name,
    })
}

async fn oidc_identity(
    p: &Provider,
    meta: &Metadata,
    out: &Outbound<'_>,
    token: &str,
    cb: &Callback<'_>,
) -> Result<Identity, Failure> {
    let jws = Jws::parse(token)?;
    let mut keys = keys(p, meta, out, cb.now, false).await?;
    if keys.find(jws.kid.as_deref()).is_none() {
        // A key we have not seen: the provider may have rotated. Fetch once.
        keys = self::keys(p, meta, out, cb.now, true).await?;
    }
    let jwk = keys.find(jws.kid.as_deref()).ok_or(Invalid::UnknownKey)?;
    jws.verify(out.signatures, jwk).await?;
    let claims = jws.claims();
    let subject = id_token::check_claims(
        claims,
        &Expected {
            issuer: meta.issuer.as_deref().unwrap_or_default(),
            client_id: &p.client_id,
            nonce: cb.nonce,
            now: cb.now,
        },
    )?;
    let mut id = identity(p, claims, "sub", &["name", "preferred_username", "email"])?;
    id.subject = subject;
    Ok(id)
}

/// The provider's JWKS, from this isolate's copy unless `refetch`.
async fn keys(
    p: &Provider,
    meta: &Metadata,
    out: &Outbound<'_>,
    now: u64,
    refetch: bool,
) -> Result<Rc<KeySet>, Failure> {
    if !refetch {
        if let Some(keys) = ProviderCache::get(&out.cache.jwks, &p.name, now) {
            return Ok(keys);
        }
    }
    let url = meta
        .jwks_uri
        .as_deref()
        .ok_or(Failure::Unavailable("the provider has no jwks_uri"))?;
    let answer = send(out, get(url, None), "the provider's JWKS failed").await?;
    let keys = KeySet::parse(&answer.body)
        .ok_or(Failure::Unavailable("the provider's JWKS is unreadable"))?;
    let keys = Rc::new(keys);
    let mut map = out.cache.jwks.borrow_mut();
    map.insert(p.name.clone(), (now, keys.clone()));
    Ok(keys)
}
