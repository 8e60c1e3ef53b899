//! The endpoints, one file each, and the router that picks one by path. Each
//! endpoint's `handle` has the same shape: read the request, decide through the
//! core, answer with the request's log fields.

mod account;
mod admin;
mod alexa;
mod authorize;
mod discovery;
mod forms;
mod front;
mod introspect;
mod provider;
mod revoke;
mod sign_in;
mod token;
mod userinfo;

use std::borrow::Cow;

use crate::form::Params;
use crate::grant::GrantStore;
use crate::http::{ErrorBody, Method, Request, Response};
use crate::{i18n, page, Ctx};

/// The routes whose last segment is a secret: a password link's token.
const INVITE: &str = "/invite/";
const RESET: &str = "/reset/";

/// The path as a log line may show it. A password link's token is replaced,
/// as a query string is left out, so that nobody who reads the logs can use
/// the link before its owner. Any path that holds `/invite/` or `/reset/`,
/// in any case, is cut there: a mistyped link is still a live token.
pub fn log_path(path: &str) -> Cow<'_, str> {
    // Every request's line comes through here: no copy of the path unless
    // it is cut.
    let bytes = path.as_bytes();
    let cut = (0..bytes.len()).find_map(|at| {
        [INVITE, RESET].iter().find_map(|route| {
            let end = at + route.len();
            let hit = bytes.get(at..end)?.eq_ignore_ascii_case(route.as_bytes());
            hit.then_some(end)
        })
    });
    match cut {
        Some(at) if at < path.len() => Cow::Owned(format!("{}<token>", &path[..at])),
        _ => Cow::Borrowed(path),
    }
}

/// Routes one request to its endpoint, and does what holds for every answer:
/// the common headers ([`Response::with_common_headers`]), and a redirect
/// that answers a POST is a 303. RFC 9700 §4.12: after a form post carrying
/// credentials, 303, so that no browser repeats the POST (and the password)
/// at the redirect target; the endpoints redirect with a plain 302.
pub async fn handle<S: GrantStore>(req: &Request, ctx: &Ctx<'_, S>) -> Response {
    let mut response = route(req, ctx).await;
    if req.method() == Method::Post && response.status == 302 {
        response.status = 303;
    }
    in_language(req, ctx, response)
        .await
        .with_common_headers(req)
}

/// Renders the page an endpoint answered with (if any) in the language the
/// request gets ([`i18n::choose`]): the one a step before chose, the `lang`
/// field of the form or query, `ui_locales`, then `Accept-Language`.
async fn in_language<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    mut response: Response,
) -> Response {
    let Some(pending) = response.page.take() else {
        return response;
    };
    let overrides = ctx.texts.get(ctx.store, ctx.now).await;
    let langs = i18n::Languages::new(&overrides);
    let query = Params::parse(req.query.as_bytes()).unwrap_or_default();
    let form = match req.method() {
        Method::Post => forms::read(req).unwrap_or_default(),
        _ => Params::default(),
    };
    let carried = pending.lang.as_deref();
    let carried = carried.or(form.get("lang")).or(query.get("lang"));
    let ui_locales = query.get("ui_locales").or(form.get("ui_locales"));
    let header = req.header("accept-language");
    let chosen = i18n::choose(&langs, carried, ui_locales, header);
    let tag = chosen.texts.tag().to_owned();
    response.body = pending.view.render(chosen.texts).into_bytes();
    let response = response.header("content-language", tag);
    match chosen.by_header {
        true => response.header("vary", "Accept-Language"),
        false => response,
    }
}

/// Every endpoint, in one place. All are in every build; the settings decide
/// which answer (the account pages only where `ACCOUNT_PAGES` is on, the admin
/// route only in Durable Object mode, a provider's routes only for a provider
/// `SIGN_IN_PROVIDERS` names).
async fn route<S: GrantStore>(req: &Request, ctx: &Ctx<'_, S>) -> Response {
    let path = req.path.as_str();
    let pages = ctx.config.account_pages;
    if let Some(name) = path.strip_prefix("/signin/") {
        return provider::start(req, ctx, name).await;
    }
    if let Some(name) = path.strip_prefix("/callback/") {
        // The account pages finish what their buttons started.
        return match provider::callback(req, ctx, name).await {
            provider::Outcome::Answer(r) => r,
            provider::Outcome::Vouched(v) => {
                let lang = v.lang.clone();
                account::provider_finish(req, ctx, v)
                    .await
                    .in_language(lang)
            }
        };
    }
    if let (true, Some(name)) = (pages, path.strip_prefix("/account/signin/")) {
        return account::provider_start(req, ctx, name).await;
    }
    if let (true, Some(token)) = (pages, path.strip_prefix(INVITE)) {
        return account::password_link(req, ctx, account::Purpose::Invite, token).await;
    }
    if let (true, Some(token)) = (pages, path.strip_prefix(RESET)) {
        return account::password_link(req, ctx, account::Purpose::Reset, token).await;
    }
    match path {
        "/authorize" => authorize::handle(req, ctx).await,
        "/token" => token::handle(req, ctx).await,
        "/userinfo" => userinfo::handle(req, ctx).await,
        "/introspect" => introspect::handle(req, ctx).await,
        "/revoke" => revoke::handle(req, ctx).await,
        "/alexa/accept-grant" => alexa::accept_grant(req, ctx).await,
        "/alexa/events" => alexa::events(req, ctx).await,
        "/account" if pages => account::account(req, ctx).await,
        "/admin/grants" if ctx.config.durable_grants => admin::handle(req, ctx).await,
        "/.well-known/oauth-authorization-server" => discovery::handle(req, ctx),
        "/.well-known/jwks.json" => discovery::jwks(ctx),
        "/static/login.css" => page::stylesheet(),
        "/demo/callback" if ctx.config.demo_callback => page::demo_callback(req),
        "/" if req.method() == Method::Get => {
            let issuer = ctx.issuer(req);
            Response::json(
                200,
                &Service {
                    service: "alexa-oauth",
                    authorization_endpoint: format!("{issuer}/authorize"),
                    token_endpoint: format!("{issuer}/token"),
                },
            )
        }
        _ => Response::json(404, &ErrorBody::code("not_found")),
    }
}

/// `GET /`: what this is and where a skill's two endpoints are.
#[derive(serde::Serialize)]
struct Service {
    service: &'static str,
    authorization_endpoint: String,
    token_endpoint: String,
}

#[cfg(test)]
mod tests {
    use super::log_path;

    #[test]
    fn a_password_links_token_never_reaches_a_log_line() {
        for (path, logged) in [
            ("/invite/AbC.dEf-123", "/invite/<token>"),
            ("/reset/AbC.dEf-123", "/reset/<token>"),
            ("/RESET/AbC", "/RESET/<token>"),
            ("/account/../invite/AbC/x", "/account/../invite/<token>"),
            ("/invite/", "/invite/"),
            ("/token", "/token"),
            ("/callback/google", "/callback/google"),
        ] {
            assert_eq!(log_path(path), logged, "{path}");
        }
    }
}
