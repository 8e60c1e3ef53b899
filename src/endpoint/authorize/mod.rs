//! The authorization endpoint (RFC 6749 §3.1, §4.1.1-§4.1.2): the login page, and
//! a code for the client once the user has signed in.
//!
//! The spine: `GET /authorize` checks the request ([`check`]) and shows the
//! login page; the person signs in by one of two methods side by side, a
//! password (`POST /authorize`, [`password`]) or a provider
//! ([`super::provider`]); both end in [`issue_code`]. Every step checks the request again in full from
//! what the browser sends (hidden fields, or the sealed pending sign-in), so
//! nothing the browser sends is trusted.
//!
//! The check ([`check`]) is pure and says how a refusal may be answered
//! ([`Refused`]): a page while the client or redirect URI is in doubt (§4.1.2.1,
//! §10.15), or a redirect to a URI that matched a registered one
//! ([`RegisteredRedirect`], which only the match can make). [`render`] is the
//! one place a refusal becomes a response and fills its log fields.

use crate::claims::UserClaims;
use crate::crypto::{random_string, token_hash};
use crate::error::{ErrorCode, OAuthError};
use crate::form::{append_query, Params};
use crate::grant::GrantStore;
use crate::http::{LogFields, Method, Request, Response};
use crate::i18n::{Phrase, Text, Texts};
use crate::page::{self, Login, View};
use crate::registration;
use crate::store::{CodeRecord, UserRecord};
use crate::types::{AuthorizationCode, ClientId, GrantId};
use crate::{Ctx, CODE_TTL};

mod check;
mod password;

use super::forms::{self, Nonce, Unreadable};
use check::check;
pub(in crate::endpoint) use check::{AuthRequest, Refused};

/// The one place a refusal becomes a response, with its log fields.
fn render(refused: Refused, log: &mut LogFields) -> Response {
    let (error, reason, response) = match refused {
        Refused::Page {
            status,
            title,
            detail,
            error,
            reason,
        } => (error, reason, page::error_page(status, title, detail)),
        Refused::Redirect { to, state, error } => {
            let mut pairs = vec![
                ("error", error.code.as_str()),
                ("error_description", error.description),
            ];
            if let Some(state) = &state {
                pairs.push(("state", state));
            }
            let r = Response::redirect(append_query(to.as_str(), &pairs));
            (error.code, error.description, r)
        }
        Refused::Unavailable => (
            ErrorCode::TemporarilyUnavailable,
            "storage unavailable",
            page::error_page(503, Text::try_again_title, Text::unavailable)
                .header("retry-after", "2"),
        ),
        Refused::SignInFailed {
            status,
            title,
            detail,
            again,
            error,
            reason,
        } => (
            error,
            reason,
            page::retry_page(status, title, detail, &again),
        ),
        Refused::NotConfigured => (
            ErrorCode::ServerError,
            "SIGNING_KEY is not configured",
            page::error_page(500, Text::not_configured_title, Text::not_configured),
        ),
    };
    log.error = Some(error.as_str());
    log.reason = Some(reason);
    response
}

/// A response either way.
pub(in crate::endpoint) fn finish(
    answer: Result<Response, Refused>,
    log: &mut LogFields,
) -> Response {
    match answer {
        Ok(r) => r,
        Err(refused) => render(refused, log),
    }
}

/// Handles `/authorize`.
pub(super) async fn handle<S: GrantStore>(req: &Request, ctx: &Ctx<'_, S>) -> Response {
    let mut log = LogFields::default();
    let answer = match req.method() {
        Method::Get | Method::Head => show(req, ctx, &mut log).await,
        Method::Post => password::post(req, ctx, &mut log).await,
        Method::Other => Err(Refused::Page {
            status: 405,
            title: Text::method_title,
            detail: Text::method_detail.into(),
            error: ErrorCode::InvalidRequest,
            reason: "method not allowed",
        }),
    };
    let response = finish(answer, &mut log);
    let response = match req.method() {
        Method::Other => response.header("allow", "GET, HEAD, POST"),
        _ => response,
    };
    response.with_log(log)
}

/// `GET /authorize`: the login form for a good request.
async fn show<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    log: &mut LogFields,
) -> Result<Response, Refused> {
    let params = Params::parse(req.query.as_bytes()).map_err(unreadable)?;
    let ar = validate(&params, ctx, log, ClientCopy::Cached).await?;
    login_page(req, ctx, &ar, None, "", 200)
}

pub(in crate::endpoint) fn unreadable(e: OAuthError) -> Refused {
    let detail = Phrase::with(Text::invalid_request, "why", e.description);
    Refused::page(Text::invalid_request_title, detail, e.description)
}

/// A posted form's parameters (see [`forms::read`]).
pub(in crate::endpoint) fn form_params(req: &Request) -> Result<Params, Refused> {
    forms::read(req).map_err(|e| match e {
        Unreadable::TooLarge => Refused::Page {
            status: 413,
            title: Text::too_large_title,
            detail: Text::too_large.into(),
            error: ErrorCode::InvalidRequest,
            reason: "the form is larger than 16 KiB",
        },
        Unreadable::NotAForm(why) => {
            let detail = Phrase::with(Text::invalid_request, "why", why);
            Refused::page(Text::invalid_request_title, detail, why)
        }
    })
}

/// Whether a posted login form carries the CSRF token made for this
/// browser's cookie and this exact request (see [`crate::csrf`]): what every
/// action of the login page (a password sign-in, a cancel, a provider
/// button) must show before it does anything.
pub(in crate::endpoint) fn form_is_ours<S>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    params: &Params,
    ar: &AuthRequest,
) -> Result<bool, Refused> {
    let fields = ar.csrf_fields();
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    Ok(forms::is_ours(
        req,
        params,
        &form_key(ctx)?,
        &fields,
        ctx.now,
    ))
}

/// The key of the login form's CSRF tokens and device cookies.
fn form_key<S>(ctx: &Ctx<'_, S>) -> Result<[u8; 32], Refused> {
    crate::endpoint::sign_in::login_key(ctx).ok_or(Refused::NotConfigured)
}

/// The login page again, for a form whose CSRF check failed.
pub(in crate::endpoint) fn form_expired<S>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    ar: &AuthRequest,
    log: &mut LogFields,
) -> Result<Response, Refused> {
    log.reason = Some("login form CSRF check failed");
    login_page(req, ctx, ar, Some(Text::form_expired.into()), "", 403)
}

/// The end of every sign-in: a code for `user`, sent to the client's
/// registered redirect URI with the unchanged `state`. The request is checked
/// once more against the stored client (one read per sign-in), so the code
/// carries the client's current generation.
pub(in crate::endpoint) async fn issue_code<S: GrantStore>(
    ctx: &Ctx<'_, S>,
    params: &Params,
    user: UserRecord,
    log: &mut LogFields,
) -> Result<Response, Refused> {
    let ar = &validate(params, ctx, log, ClientCopy::Fresh).await?;
    // §4.1.2 and §10.10: 256 random bits, stored only as a hash, short-lived. The
    // code names its grant (`<grant id>.<secret>`), so the exchange goes straight
    // to the grant's record, or to its Durable Object.
    let grant_id = GrantId::new(random_string(ctx.rng, 16));
    let code = AuthorizationCode::new(format!("{grant_id}.{}", random_string(ctx.rng, 32)));
    let record = CodeRecord {
        client_id: ar.client.client_id.clone(),
        redirect_uri: ar.redirect_given.then(|| ar.redirect.uri().clone()),
        user_id: user.id,
        display_name: user.display_name,
        claims: UserClaims::for_tokens(&user.identities, user.claims.as_ref()),
        scope: ar.scope.clone(),
        code_challenge: ar.code_challenge.clone(),
        expires_at: ctx.now + CODE_TTL,
        grant_id,
        used: false,
        client_generation: ar.client.generation,
    };
    ctx.store
        .store_code(&token_hash(code.secret()), &record)
        .await
        .map_err(|_| Refused::Unavailable)?;
    let mut pairs = vec![("code", code.secret())];
    if let Some(state) = &ar.state {
        pairs.push(("state", state));
    }
    Ok(Response::redirect(append_query(
        ar.redirect.as_str(),
        &pairs,
    )))
}

/// Which copy of the client a check reads.
#[derive(Clone, Copy)]
pub(in crate::endpoint) enum ClientCopy {
    /// The isolate's copy, for the pages and forms: most requests to
    /// `/authorize` then read no storage.
    Cached,
    /// The stored record, for the code: a code names its client's generation,
    /// and a cached copy may be of the life before an `admin client remove`
    /// and `add`, which would make the new link's refreshes fail once the
    /// copy expires.
    Fresh,
}

/// Loads the client, then checks the request against it.
pub(in crate::endpoint) async fn validate<S: GrantStore>(
    params: &Params,
    ctx: &Ctx<'_, S>,
    log: &mut LogFields,
    copy: ClientCopy,
) -> Result<AuthRequest, Refused> {
    let Some(id) = params.get("client_id") else {
        return check(params, None);
    };
    log.client_id = Some(id.chars().take(64).collect());
    // Longer than any registered id: unknown, without a storage read.
    if id.len() > registration::MAX_CLIENT_ID {
        return check(params, None);
    }
    let id = ClientId::new(id);
    let found = match copy {
        ClientCopy::Cached => ctx.clients.get(ctx.store, &id, ctx.now).await,
        ClientCopy::Fresh => {
            (ctx.clients.reload(ctx.store, &id, ctx.now).await).map(|c| c.map(|c| (c, true)))
        }
    };
    let Some((client, fresh)) = found.map_err(|_| Refused::Unavailable)? else {
        return check(params, None);
    };
    match check(params, Some(client)) {
        // A cached copy may predate `admin client update` (a redirect URI just
        // added): one fresh read before refusing.
        Err(Refused::Page { .. }) if !fresh => {
            let client = ctx.clients.reload(ctx.store, &id, ctx.now).await;
            let client = client.map_err(|_| Refused::Unavailable)?;
            check(params, client)
        }
        checked => checked,
    }
}

/// The login form for a checked request, with a CSRF token bound to this browser.
pub(in crate::endpoint) fn login_page<S>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    ar: &AuthRequest,
    error: Option<Phrase>,
    username: &str,
    status: u16,
) -> Result<Response, Refused> {
    let nonce = Nonce::of(req, ctx);
    let mut hidden = ar.pairs();
    // Each provider button is a form of its own that posts the same hidden
    // fields, CSRF token included, to `/signin/<provider>`: a sign-in through
    // a provider starts only from this page.
    let fields = ar.csrf_fields();
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    hidden.push(("csrf", nonce.token(&form_key(ctx)?, ctx.now, &fields)));
    let page = Login {
        t: Texts::default(),
        client_name: ar.client.name.clone(),
        scopes: ar.scope.iter().map(|s| s.as_str().to_owned()).collect(),
        error,
        username: username.to_owned(),
        hidden,
        providers: forms::provider_buttons(ctx, "/signin"),
        password: ctx.config.password_sign_in,
    };
    let mut r = Response::page(status, View::Login(page));
    if let Some(origin) = forms::origin_of(ar.redirect.as_str()) {
        r = r.allow_form_target(origin);
    }
    let r = forms::allow_providers(r, ctx);
    Ok(nonce.set_on(r, req))
}
