//! `/.well-known/oauth-authorization-server` (RFC 8414): what this server is and
//! where its endpoints are, for tools and for people setting up a skill.

use serde_json::json;

use crate::http::{Request, Response};
use crate::Ctx;

pub(super) fn handle<S>(req: &Request, ctx: &Ctx<'_, S>) -> Response {
    let issuer = ctx.issuer(req);
    let auth_methods = ["client_secret_basic", "client_secret_post"];
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
    });
    if let Some(scopes) = &ctx.config.scopes_supported {
        doc["scopes_supported"] = scopes.split_whitespace().collect::<Vec<_>>().into();
    }
    Response::json(200, &doc).header("cache-control", "public, max-age=300")
}
