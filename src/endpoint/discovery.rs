//! `/.well-known/oauth-authorization-server` (RFC 8414): what this server is and
//! where its endpoints are, for tools and for people setting up a skill.

use serde::Serialize;

use crate::http::{Request, Response};
use crate::Ctx;

/// How clients may authenticate at the token, introspection and revocation
/// endpoints.
const AUTH_METHODS: [&str; 2] = ["client_secret_basic", "client_secret_post"];

/// The metadata document (RFC 8414 §2).
#[derive(Serialize)]
struct Metadata<'a> {
    issuer: &'a str,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    /// Where the ES256 public keys are (RFC 8414 §2), when tokens are ES256.
    #[serde(skip_serializing_if = "Option::is_none")]
    jwks_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes_supported: Option<Vec<&'a str>>,
    response_types_supported: [&'static str; 1],
    response_modes_supported: [&'static str; 1],
    grant_types_supported: [&'static str; 3],
    code_challenge_methods_supported: [&'static str; 1],
    token_endpoint_auth_methods_supported: [&'static str; 2],
    introspection_endpoint_auth_methods_supported: [&'static str; 2],
    revocation_endpoint_auth_methods_supported: [&'static str; 2],
}

pub(super) fn handle<S>(req: &Request, ctx: &Ctx<'_, S>) -> Response {
    let issuer = ctx.issuer(req);
    let doc = Metadata {
        issuer: &issuer,
        authorization_endpoint: format!("{issuer}/authorize"),
        token_endpoint: format!("{issuer}/token"),
        userinfo_endpoint: format!("{issuer}/userinfo"),
        introspection_endpoint: format!("{issuer}/introspect"),
        revocation_endpoint: format!("{issuer}/revoke"),
        jwks_uri: ctx
            .es256
            .is_some()
            .then(|| format!("{issuer}/.well-known/jwks.json")),
        scopes_supported: ctx
            .config
            .scopes_supported
            .as_deref()
            .map(|s| s.split_whitespace().collect()),
        response_types_supported: ["code"],
        response_modes_supported: ["query"],
        grant_types_supported: ["authorization_code", "refresh_token", "client_credentials"],
        code_challenge_methods_supported: ["S256"],
        token_endpoint_auth_methods_supported: AUTH_METHODS,
        introspection_endpoint_auth_methods_supported: AUTH_METHODS,
        revocation_endpoint_auth_methods_supported: AUTH_METHODS,
    };
    Response::json(200, &doc).header("cache-control", "public, max-age=300")
}

/// `/.well-known/jwks.json`: the public keys access tokens are signed with
/// (RFC 7517 §5), the current one first, then the previous one; none while
/// tokens are HS256. Cached five minutes: a skill that meets a `kid` its copy
/// lacks (a rotation) fetches it again.
pub(super) fn jwks<S>(ctx: &Ctx<'_, S>) -> Response {
    let keys = ctx.es256.map_or(&[][..], |k| k.keys());
    Response::json(200, &crate::es256::KeySet { keys })
        .header("cache-control", "public, max-age=300")
}
