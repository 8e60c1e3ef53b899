//! The pages people use without the operator, served where `ACCOUNT_PAGES`
//! is on (the router in `endpoint/mod.rs` decides):
//! - `/account` (here): sign in, see which clients hold a link to the
//!   account, end one, change the password;
//! - `/invite/<token>` and `/reset/<token>` ([`password_link`]): the links
//!   `admin user invite` and `admin user reset-link` print;
//! - their buttons for providers ([`with_provider`]).
//!
//! What each costs: nothing is written until a form that does something is
//! submitted and checks out. Setting a password writes the user record;
//! ending a link writes its tombstone. A session is a cookie, not a record
//! ([`session`]). Every form carries a CSRF token bound to the browser's
//! nonce cookie and to what the form acts on ([`super::forms`]). Signing in,
//! and the current password when changing it, count against the sign-in
//! limits ([`super::sign_in`]).

use crate::endpoint::sign_in::{self, Attempt};
use crate::form::Params;
use crate::grant::{self, is_grant_id, GrantStore};
use crate::http::{LogFields, Method, Request, Response};
use crate::i18n::{Phrase, Text, Texts};
use crate::page::{self, Account, LinkRow, Me, View};
use crate::registration::{normalize_username, MIN_PASSWORD};
use crate::store::{keys, Revocation, StoreError, UserRecord};
use crate::types::{GrantId, Password};
use crate::Ctx;

use super::forms::{self, Nonce};
use password_link::{check_new, set_password};

mod password_link;
mod session;
mod with_provider;

pub(in crate::endpoint) use password_link::{password_link, Purpose};
pub(in crate::endpoint) use with_provider::{finish as provider_finish, start as provider_start};

/// Where the account pages' provider buttons post (`/<provider>` follows).
const PROVIDER_START: &str = "/account/signin";
/// The most links the page lists: each is a read or two.
const MAX_LISTED: usize = 40;
/// The most index entries one view lists, in one KV list operation: some
/// may be links that ended, so a few more than are shown.
const MAX_KEYS_LISTED: usize = 100;

/// Why a request got no further, already a page.
struct Stop(Box<Response>);

impl Stop {
    fn page(r: Response) -> Self {
        Self(Box::new(r))
    }
}

impl From<StoreError> for Stop {
    fn from(_: StoreError) -> Self {
        Self::page(unavailable())
    }
}

fn unavailable() -> Response {
    page::error_page(503, Text::try_again_title, Text::unavailable).header("retry-after", "2")
}

/// What the pages sign with: a sub-key of `SIGNING_KEY`.
fn key<S>(ctx: &Ctx<'_, S>) -> Result<[u8; 32], Stop> {
    let key = ctx.config.signing_key.as_ref().map_err(|_| {
        Stop::page(page::error_page(
            500,
            Text::not_configured_title,
            Text::not_configured,
        ))
    })?;
    Ok(key.derive(b"account-pages"))
}

/// A posted form's parameters (see [`forms::read`]).
fn form(req: &Request) -> Result<Params, Stop> {
    forms::read(req).map_err(|_| {
        Stop::page(page::error_page(
            400,
            Text::not_a_form_title,
            Text::not_a_form,
        ))
    })
}

/// Refuses what takes a password when `PASSWORD_SIGN_IN` is `false`: here
/// as on the login page, a sign-in, a password change or a password link
/// must not open a door the operator closed.
fn passwords_on<S>(ctx: &Ctx<'_, S>, log: &mut LogFields) -> Result<(), Stop> {
    if ctx.config.password_sign_in {
        return Ok(());
    }
    log.reason = Some("PASSWORD_SIGN_IN is false");
    Err(Stop::page(page::error_page(
        403,
        Text::password_off_title,
        Text::password_off,
    )))
}

// ---- /account ---------------------------------------------------------------

/// Handles `/account`.
pub(in crate::endpoint) async fn account<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
) -> Response {
    let mut log = LogFields::default();
    let answer = match req.method() {
        Method::Get | Method::Head => show(req, ctx, None, None, 200).await,
        Method::Post => post(req, ctx, &mut log).await,
        Method::Other => Err(Stop::page(
            page::error_page(405, Text::method_title, Text::method_detail)
                .header("allow", "GET, HEAD, POST"),
        )),
    };
    let response = answer.unwrap_or_else(|Stop(r)| *r);
    response.with_log(log)
}

/// The page: the person's links if signed in, else the sign-in form.
async fn show<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    notice: Option<Phrase>,
    error: Option<Phrase>,
    status: u16,
) -> Result<Response, Stop> {
    let key = key(ctx)?;
    let user = session::user(req, ctx, &key).await?;
    render(req, ctx, &key, user.as_ref(), notice, error, "", status).await
}

#[allow(clippy::too_many_arguments)] // One page, what it shows.
async fn render<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    key: &[u8; 32],
    user: Option<&UserRecord>,
    notice: Option<Phrase>,
    error: Option<Phrase>,
    username: &str,
    status: u16,
) -> Result<Response, Stop> {
    let nonce = Nonce::of(req, ctx);
    let signed_in = user.map_or("", |u| u.username.as_str());
    let csrf = nonce.token(key, ctx.now, &["account", signed_in]);
    let me = match user {
        Some(user) => Some(Me {
            name: user.display_name.clone(),
            username: user.username.clone(),
            links: links(ctx, user).await?,
            password: user.password_hash.is_some() && ctx.config.password_sign_in,
        }),
        None => None,
    };
    // Provider buttons on the sign-in form only.
    let providers = match me {
        None => forms::provider_buttons(ctx, PROVIDER_START),
        Some(_) => Vec::new(),
    };
    let page = Account {
        t: Texts::default(),
        notice,
        error,
        me,
        csrf,
        username: username.to_owned(),
        min_password: MIN_PASSWORD,
        providers,
        next: "account",
        password_sign_in: ctx.config.password_sign_in,
    };
    let r = forms::allow_providers(Response::page(status, View::Account(page)), ctx);
    Ok(nonce.set_on(r, req))
}

/// The user's live links, newest first, from the user's grant index (in
/// Durable Object mode that index is written with each code, so it also
/// names grants whose code was never redeemed: those have no record and are
/// skipped).
async fn links<S: GrantStore>(
    ctx: &Ctx<'_, S>,
    user: &UserRecord,
) -> Result<Vec<LinkRow>, StoreError> {
    let prefix = keys::user_grants_prefix(&user.id);
    let mut rows = Vec::new();
    for key in ctx.store.keys_with_prefix(&prefix, MAX_KEYS_LISTED).await? {
        let gid = &key[prefix.len()..];
        if !is_grant_id(gid) {
            continue;
        }
        let Some((grant, revoked)) = ctx.store.grant_with_revocation(&GrantId::new(gid)).await?
        else {
            continue;
        };
        let Some((client, _)) = ctx
            .clients
            .get(ctx.store, &grant.client_id, ctx.now)
            .await?
        else {
            continue; // Its client is gone, and the link with it.
        };
        let ttl = ctx.config.refresh_token_ttl;
        if grant.user_id != user.id
            || !grant::is_live(&grant, revoked, &client.view(), ttl, ctx.now)
        {
            continue;
        }
        rows.push((
            grant.created_at,
            LinkRow {
                id: grant.id.to_string(),
                client: client.name.clone(),
                created: page::date(grant.created_at),
                scopes: grant.scope.to_string(),
            },
        ));
        if rows.len() == MAX_LISTED {
            break;
        }
    }
    rows.sort_by_key(|row| std::cmp::Reverse(row.0));
    Ok(rows.into_iter().map(|(_, row)| row).collect())
}

async fn post<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    log: &mut LogFields,
) -> Result<Response, Stop> {
    let key = key(ctx)?;
    let mut params = form(req)?;
    let user = session::user(req, ctx, &key).await?;
    let signed_in = user.as_ref().map_or("", |u| u.username.as_str());
    if !forms::is_ours(req, &params, &key, &["account", signed_in], ctx.now) {
        log.reason = Some("account form CSRF check failed");
        let msg = Text::form_expired.into();
        return render(req, ctx, &key, user.as_ref(), None, Some(msg), "", 403).await;
    }
    let action = params.get("action").unwrap_or_default().to_owned();
    if matches!(action.as_str(), "signin" | "password") {
        passwords_on(ctx, log)?;
    }
    match (action.as_str(), user) {
        ("signin", _) => password_sign_in(req, ctx, &key, &mut params, log).await,
        ("signout", _) => Ok(session::close(Response::redirect("/account".into()), req)),
        ("end", Some(user)) => end_link(req, ctx, &key, &params, &user, log).await,
        ("password", Some(user)) => change_password(req, ctx, &key, &mut params, user, log).await,
        (_, None) => {
            log.reason = Some("no session");
            let msg = Text::session_ended.into();
            render(req, ctx, &key, None, None, Some(msg), "", 401).await
        }
        _ => Err(Stop::page(page::error_page(
            400,
            Text::unknown_action_title,
            Text::go_back,
        ))),
    }
}

async fn password_sign_in<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    key: &[u8; 32],
    params: &mut Params,
    log: &mut LogFields,
) -> Result<Response, Stop> {
    let username = normalize_username(params.get("username").unwrap_or_default());
    let password = Password::new(params.take("password").unwrap_or_default());
    let device_key = login_key(ctx)?;
    let (error, status) =
        match sign_in::with_password(req, ctx, &username, &password, &device_key).await {
            Attempt::SignedIn(user) => {
                log.sub = Some(user.id.to_string());
                let r = Response::redirect("/account".into());
                return Ok(session::open(r, req, key, &user, ctx.now));
            }
            Attempt::Refused(why) => {
                log.reason = Some(why);
                (Text::wrong_password, 401)
            }
            Attempt::TooMany => {
                log.reason = Some("too many failed sign-ins");
                (Text::too_many, 429)
            }
            Attempt::Unavailable => return Err(Stop::page(unavailable())),
        };
    render(
        req,
        ctx,
        key,
        None,
        None,
        Some(error.into()),
        &username,
        status,
    )
    .await
}

/// The login page's key ([`sign_in::login_key`]), whose device cookies
/// exempt a known browser from the per-username limit here too.
fn login_key<S>(ctx: &Ctx<'_, S>) -> Result<[u8; 32], Stop> {
    sign_in::login_key(ctx).ok_or_else(|| Stop::page(unavailable()))
}

/// Ends one of the user's links: its tombstone, as `/revoke` writes it.
async fn end_link<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    key: &[u8; 32],
    params: &Params,
    user: &UserRecord,
    log: &mut LogFields,
) -> Result<Response, Stop> {
    log.sub = Some(user.id.to_string());
    let gid = params
        .get("grant")
        .filter(|g| is_grant_id(g))
        .map(GrantId::new);
    let found = match &gid {
        Some(gid) => ctx.store.grant_with_revocation(gid).await?,
        None => None,
    };
    // Only a link of this user; any other id is answered the same way.
    let Some((grant, _)) = found.filter(|(g, _)| g.user_id == user.id) else {
        log.reason = Some("not one of the user's links");
        let msg = Text::link_not_found.into();
        return render(req, ctx, key, Some(user), None, Some(msg), "", 404).await;
    };
    log.grant_id = Some(grant.id.to_string());
    log.client_id = Some(grant.client_id.to_string());
    grant::revoke(
        ctx.store,
        ctx.revocations,
        &grant.id,
        ctx.now,
        Revocation::UserEnded,
    )
    .await?;
    crate::alexa::forget(ctx.store, ctx.alexa, &user.id, &grant.client_id, &grant.id).await?;
    let client = ctx
        .clients
        .get(ctx.store, &grant.client_id, ctx.now)
        .await?;
    let name = client.map_or_else(|| grant.client_id.to_string(), |(c, _)| c.name.clone());
    // What holds for every skill: one that checks tokens offline keeps the
    // access it holds until the token expires.
    let minutes = ctx.config.access_token_ttl.div_ceil(60);
    let detail = Phrase::with(Text::link_ended, "client", name).and("minutes", minutes.to_string());
    Ok(page::message(
        200,
        Text::link_ended_title,
        detail,
        ("/account", Text::back_to_account),
    ))
}

async fn change_password<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    key: &[u8; 32],
    params: &mut Params,
    user: UserRecord,
    log: &mut LogFields,
) -> Result<Response, Stop> {
    log.sub = Some(user.id.to_string());
    let current = Password::new(params.take("current").unwrap_or_default());
    let new = Password::new(params.take("password").unwrap_or_default());
    let confirm = Password::new(params.take("confirm").unwrap_or_default());
    let refuse = async |msg: Phrase, status: u16, user: &UserRecord| {
        render(req, ctx, key, Some(user), None, Some(msg), "", status).await
    };
    // The current password counts against the sign-in limits, like a sign-in.
    let device_key = login_key(ctx)?;
    let user = match sign_in::with_password(req, ctx, &user.username, &current, &device_key).await {
        Attempt::SignedIn(user) => user,
        Attempt::Refused(why) => {
            log.reason = Some(why);
            return refuse(Text::current_password_wrong.into(), 401, &user).await;
        }
        Attempt::TooMany => {
            log.reason = Some("too many failed sign-ins");
            return refuse(Text::too_many.into(), 429, &user).await;
        }
        Attempt::Unavailable => return Err(Stop::page(unavailable())),
    };
    let new = match check_new(new, &confirm) {
        Ok(new) => new,
        Err(msg) => return refuse(msg, 400, &user).await,
    };
    let user = set_password(ctx, user, &new).await?;
    let notice = Text::password_changed.into();
    let page = render(req, ctx, key, Some(&user), Some(notice), None, "", 200).await?;
    Ok(session::open(page, req, key, &user, ctx.now))
}
