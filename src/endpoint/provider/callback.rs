//! `GET /callback/<provider>`: the provider's redirect back, with a code.

use crate::crypto::{ct_eq, token_hash};
use crate::csrf;
use crate::error::ErrorCode;
use crate::form::Params;
use crate::grant::GrantStore;
use crate::http::{Cookie, ErrorBody, LogFields, Request, Response};
use crate::i18n::{Phrase, Text};
use crate::provider::client::{self, Callback};
use crate::provider::{Identity, Provider};
use crate::store::{keys, kv_expiration, Records, Store, UserRecord};
use crate::types::UserId;
use crate::Ctx;

use super::super::authorize::{issue_code, login_page, unreadable, validate, ClientCopy, Refused};
use super::{
    address_allowed, callback_uri, conclude, derived, failed, signing_key, state, state_key,
    step_provider, Page, Return, NONCE, PKCE, STATE_COOKIE, USER_ID,
};

/// What a callback ends in.
pub(in crate::endpoint) enum Outcome<'c> {
    /// The answer: a code for `/authorize`, or a page saying why not.
    Answer(Response),
    /// The provider vouched for an identity, for an account page to finish.
    Vouched(Vouched<'c>),
}

/// An identity the provider vouched for, on its way back to an account page.
pub(in crate::endpoint) struct Vouched<'c> {
    pub(in crate::endpoint) identity: Identity,
    pub(in crate::endpoint) provider: &'c Provider,
    pub(in crate::endpoint) to: Page,
    /// The callback's log fields, which the page adds to.
    pub(in crate::endpoint) log: LogFields,
    /// The language the sign-in started in.
    pub(in crate::endpoint) lang: Option<String>,
}

impl Vouched<'_> {
    /// The page's answer, with the pending sign-in's cookie cleared.
    pub(in crate::endpoint) fn answer(self, req: &Request, r: Response) -> Response {
        r.set_cookie(req, spent()).with_log(self.log)
    }
}

/// The pending sign-in's cookie, cleared.
fn spent() -> Cookie<'static> {
    Cookie {
        name: STATE_COOKIE,
        value: "",
        max_age: 0,
    }
}

/// `GET /callback/<provider>`.
pub(in crate::endpoint) async fn callback<'c, S: GrantStore>(
    req: &Request,
    ctx: &'c Ctx<'_, S>,
    name: &str,
) -> Outcome<'c> {
    let mut log = LogFields::default();
    let mut lang = None;
    let returned = match step_provider(req, ctx, name, false, &mut log) {
        Ok(p) => returned(req, ctx, p, &mut log, &mut lang).await,
        Err(refused) => Err(refused),
    };
    let result = match returned {
        Ok(Returned::Answer(r)) => Ok(r),
        Ok(Returned::Vouched(identity, p, to)) => {
            return Outcome::Vouched(Vouched {
                identity,
                provider: p,
                to,
                log,
                lang,
            })
        }
        Err(refused) => Err(refused),
    };
    Outcome::Answer(conclude(result, log, false).in_language(lang))
}

/// What the provider's redirect brought back.
enum Returned<'c> {
    Answer(Response),
    Vouched(Identity, &'c Provider, Page),
}

async fn returned<'c, S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    p: &'c Provider,
    log: &mut LogFields,
    lang: &mut Option<String>,
) -> Result<Returned<'c>, Refused> {
    let params = Params::parse(req.query.as_bytes()).map_err(unreadable)?;
    let stale = |reason| Refused::Page {
        status: 400,
        title: Text::sign_in_expired_title,
        detail: Text::sign_in_expired.into(),
        error: ErrorCode::InvalidRequest,
        reason,
    };
    // The browser binding: the pending sign-in must be sealed for this
    // browser, and its `state` must be the one that came back (RFC 9700
    // §4.7.1), so nobody can finish another's sign-in.
    let nonce = req.cookie(csrf::COOKIE).unwrap_or("");
    let sealed = req.cookie(STATE_COOKIE).unwrap_or("");
    let record = state::open(&state_key(ctx)?, nonce, sealed, ctx.now);
    let Some(record) = record else {
        return Err(stale("no pending sign-in in this browser, or it expired"));
    };
    lang.clone_from(&record.lang);
    let state = params.get("state").unwrap_or("");
    if !ct_eq(state.as_bytes(), record.state.as_bytes()) {
        return Err(stale("the state is not this browser's"));
    }
    if record.provider != p.name {
        return Err(stale("the pending sign-in is another provider's"));
    }
    // A sealed state lasts 10 minutes and the cookie could be kept:
    // each callback costs a code exchange at the provider, so it
    // counts against the address's limit, as a start does.
    if !address_allowed(req, ctx, log).await? {
        return Err(Refused::Page {
            status: 429,
            title: Text::too_many_title,
            detail: Text::too_many.into(),
            error: ErrorCode::AccessDenied,
            reason: "too many sign-ins from this address",
        });
    }
    let Some(to) = record.to() else {
        return Err(stale("the pending sign-in returns to no page of ours"));
    };
    let again = to.again();
    let request = match to {
        Return::Authorize(request) => request,
        Return::Page(page) => {
            if !ctx.config.account_pages {
                // Turned off since this sign-in started.
                log.reason = Some("the account pages are off");
                let r = Response::json(404, &ErrorBody::code("not_found"));
                return Ok(Returned::Answer(r.set_cookie(req, spent())));
            }
            if params.get("error").is_some() || params.get("code").is_none() {
                log.reason = Some("the provider sent no code");
                let msg = Phrase::with(Text::provider_incomplete, "provider", &p.label);
                let r = crate::page::retry_page(403, Text::sign_in_failed_title, msg, &again);
                return Ok(Returned::Answer(r.set_cookie(req, spent())));
            }
            let identity = identity_of(req, ctx, p, &params, state, &again, log).await?;
            return Ok(Returned::Vouched(identity, p, page));
        }
    };
    let pending = Params::parse(request.as_bytes()).map_err(unreadable)?;
    let ar = validate(&pending, ctx, log, ClientCopy::Cached).await?;
    if let Some(error) = params.get("error") {
        log.reason = Some(match error {
            "access_denied" => "the person declined at the provider",
            _ => "the provider answered with an error",
        });
        let msg = Phrase::with(Text::provider_incomplete, "provider", &p.label);
        return login_page(req, ctx, &ar, Some(msg), "", 403).map(Returned::Answer);
    }
    if params.get("code").is_none() {
        return Err(stale("the provider sent no code"));
    }
    // A state mints one code: a kept cookie with a fresh provider code
    // gets the expired page, and writes nothing.
    let spent_key = keys::spent_sign_in_state(&token_hash(state));
    let used = ctx.store.get(&spent_key).await;
    if used.map_err(|_| Refused::Unavailable)?.is_some() {
        return Err(stale("the state was already used"));
    }
    let identity = identity_of(req, ctx, p, &params, state, &again, log).await?;
    let user = user_for(ctx, p, &identity, &signing_key(ctx)?, again, log).await?;
    let until = kv_expiration(record.expires_at, ctx.now);
    let marked = ctx.store.put(&spent_key, String::new(), Some(until)).await;
    marked.map_err(|_| Refused::Unavailable)?;
    if log.reason.is_none() {
        log.reason = Some("signed in through the provider");
    }
    log.sub = Some(user.id.to_string());
    let code = issue_code(ctx, &pending, user, log).await?;
    Ok(Returned::Answer(code.set_cookie(req, spent())))
}

/// The identity the provider vouches for, from the code on the callback
/// (checked to carry this browser's `state`).
async fn identity_of<S: Store>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    p: &Provider,
    params: &Params,
    state: &str,
    again: &str,
    log: &mut LogFields,
) -> Result<Identity, Refused> {
    let key = signing_key(ctx)?;
    let cb = Callback {
        code: params.get("code").unwrap_or_default(),
        iss: params.get("iss"),
        redirect_uri: &callback_uri(req, ctx, p),
        code_verifier: &derived(&key, PKCE, state),
        nonce: &derived(&key, NONCE, state),
        now: ctx.now,
    };
    let identity = client::identify(p, &ctx.outbound, &cb).await;
    let identity = identity.map_err(|f| failed(p, f, again.to_owned(), log))?;
    log.identity = Some(identity.key());
    Ok(identity)
}

/// The user an identity may sign in as: from the operator's allow-list, or new
/// when the provider has `AUTO_CREATE`.
async fn user_for<S: GrantStore>(
    ctx: &Ctx<'_, S>,
    p: &Provider,
    identity: &Identity,
    key: &[u8; 32],
    again: String,
    log: &mut LogFields,
) -> Result<UserRecord, Refused> {
    let id_key = identity.key();
    let found = ctx.store.user_by_identity(&id_key).await;
    if let Some(user) = found.map_err(|_| Refused::Unavailable)? {
        return Ok(user);
    }
    if !p.auto_create {
        log.reason = Some("the identity is not on the allow-list");
        return Err(Refused::SignInFailed {
            status: 403,
            title: Text::not_allowed_title,
            detail: Phrase::with(Text::provider_not_allowed, "provider", &p.label),
            again,
            error: ErrorCode::AccessDenied,
            reason: "the identity is not on the allow-list",
        });
    }
    // Open sign-up. The id and username are derived from the identity, so two
    // first sign-ins at once write the same records.
    let derived_id = derived(key, USER_ID, &id_key);
    let user = UserRecord {
        id: UserId::new(&derived_id[..22]),
        username: format!("{}-{}", p.name, &derived_id[22..34]).to_ascii_lowercase(),
        display_name: identity
            .display_name
            .clone()
            .unwrap_or_else(|| format!("{} user", p.label)),
        password_hash: None,
        identities: vec![id_key.clone()],
        created_at: ctx.now,
        claims: None,
    };
    ctx.store
        .put_user(&user)
        .await
        .map_err(|_| Refused::Unavailable)?;
    log.reason = Some("user created on first sign-in");
    Ok(user)
}
