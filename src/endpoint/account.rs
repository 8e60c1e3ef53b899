//! The pages people use without the operator, served where `ACCOUNT_PAGES`
//! is on (the router in `endpoint/mod.rs` decides):
//! - `/account`: sign in with a password, see which clients hold a link to
//!   the account, end one, change the password;
//! - `/invite/<token>` and `/reset/<token>`: the links `admin user invite`
//!   and `admin user reset-link` print, where a person chooses a password.
//!
//! What each costs: nothing is written until a form that does something is
//! submitted and checks out. Setting a password writes the user record;
//! ending a link writes its tombstone. A session is a cookie, not a record:
//! `HMAC(key, username, the password's fingerprint, expiry)`, 15 minutes, so
//! a password change anywhere ends every session opened with the old one.
//! Every form carries a CSRF token bound to the browser's nonce cookie (the
//! login page's, see [`crate::csrf`]) and to what the form acts on. Signing
//! in, and the current password when changing it, count against the
//! sign-in limits ([`super::sign_in`]); a password set through a link counts
//! against the per-address one.
//!
//! A link works while the user's password is still the one it was made for
//! ([`PasswordLink::fits`]): using it spends it everywhere the user record
//! has reached, with no delete to wait for.

use crate::crypto::{b64url, b64url_decode, random_string, token_hash};
use crate::csrf;
use crate::endpoint::sign_in::{self, Attempt};
use crate::form::{is_form_content_type, Params};
use crate::grant::{self, is_grant_id, GrantStore};
use crate::http::{Cookie, LogFields, Method, Request, Response};
use crate::page::{self, Account, LinkRow, Me, SetPassword};
use crate::password::hash_password_with;
use crate::registration::{self, normalize_username, MIN_PASSWORD};
use crate::store::{
    get_json, keys, put_json, PasswordLink, Records, Revocation, StoreError, UserRecord,
};
use crate::throttle::{self, Limit};
use crate::types::{GrantId, Password};
use crate::Ctx;

/// The session cookie's name (`__Host-account` over https).
const SESSION_COOKIE: &str = "account";
/// How long a session lasts.
const SESSION_TTL: u64 = 15 * 60;
/// How long one of these forms stays valid.
const FORM_TTL: u64 = 30 * 60;
/// The most links the page lists: each is a read or two.
const MAX_LISTED: usize = 40;
/// The most index entries one view lists, in one KV list operation: some
/// may be links that ended, so a few more than are shown.
const MAX_KEYS_LISTED: usize = 100;

/// Which page a password link opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    Invite,
    Reset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Invite => PasswordLink::INVITE,
            Self::Reset => PasswordLink::RESET,
        }
    }
}

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
    page::error_page(
        503,
        "Please try again",
        "This service is briefly unavailable. Try again in a moment.",
    )
    .header("retry-after", "2")
}

/// What the pages sign with: a sub-key of `SIGNING_KEY`.
fn key<S>(ctx: &Ctx<'_, S>) -> Result<[u8; 32], Stop> {
    let key = ctx.config.signing_key.as_ref().map_err(|_| {
        Stop::page(page::error_page(
            500,
            "Server not configured",
            "This service is missing its signing key. Its operator must set SIGNING_KEY.",
        ))
    })?;
    Ok(key.derive(b"account-pages"))
}

/// The browser's CSRF nonce: the one it has, or a new one (set on the answer).
fn nonce<S>(req: &Request, ctx: &Ctx<'_, S>) -> (String, bool) {
    match req.cookie(csrf::COOKIE).filter(|n| csrf::is_nonce(n)) {
        Some(n) => (n.to_owned(), false),
        None => (random_string(ctx.rng, 16), true),
    }
}

/// Sets the nonce cookie on `r` if it is new.
fn with_nonce(r: Response, req: &Request, nonce: &str, new: bool) -> Response {
    if !new {
        return r;
    }
    let cookie = Cookie {
        name: csrf::COOKIE,
        value: nonce,
        max_age: FORM_TTL,
    };
    r.set_cookie(req, cookie)
}

/// A posted form's parameters (at most 16 KiB, url-encoded).
fn form(req: &Request) -> Result<Params, Stop> {
    let bad = || {
        Stop::page(page::error_page(
            400,
            "Not a form",
            "The form could not be read.",
        ))
    };
    let body = req.body.as_deref().ok_or_else(bad)?;
    if !req.header("content-type").is_some_and(is_form_content_type) {
        return Err(bad());
    }
    Params::parse(body).map_err(|_| bad())
}

/// The CSRF check of a posted form, for `fields` (what the form acts on).
fn form_is_ours(req: &Request, params: &Params, key: &[u8; 32], fields: &[&str], now: u64) -> bool {
    match (req.cookie(csrf::COOKIE), params.get("csrf")) {
        (Some(nonce), Some(token)) => csrf::check(key, nonce, token, fields, now),
        _ => false,
    }
}

// ---- Sessions ---------------------------------------------------------------

/// The session cookie's value for `user`, until `exp`:
/// `<username>.<exp>.<mac of username>.<mac of username and fingerprint>`.
/// The first MAC is checked before the user is read, so a forged cookie
/// costs no storage read; the second binds the session to how the user
/// signed in.
fn session_value(key: &[u8; 32], user: &UserRecord, exp: u64) -> String {
    let name = &user.username;
    let fingerprint = PasswordLink::fingerprint(user);
    let who = csrf::token(key, "session", exp, &[name]);
    let how = csrf::token(key, "session-sign-in", exp, &[name, &fingerprint]);
    let how = how.split_once('.').map_or("", |(_, mac)| mac);
    format!("{}.{who}.{how}", b64url(name.as_bytes()))
}

fn session_cookie<'a>(value: &'a str, max_age: u64) -> Cookie<'a> {
    Cookie {
        name: SESSION_COOKIE,
        value,
        max_age,
    }
}

/// The signed-in user, if the request carries a live session for one whose
/// password has not changed since.
async fn session_user<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    key: &[u8; 32],
) -> Result<Option<UserRecord>, StoreError> {
    let parts: Vec<&str> = req
        .cookie(SESSION_COOKIE)
        .unwrap_or_default()
        .split('.')
        .collect();
    let [name, exp, who, how] = parts[..] else {
        return Ok(None);
    };
    let Some(username) = b64url_decode(name).and_then(|b| String::from_utf8(b).ok()) else {
        return Ok(None);
    };
    if !csrf::check(
        key,
        "session",
        &format!("{exp}.{who}"),
        &[&username],
        ctx.now,
    ) {
        return Ok(None);
    }
    let Some(user) = ctx.store.user(&username).await? else {
        return Ok(None);
    };
    let fingerprint = PasswordLink::fingerprint(&user);
    let how = format!("{exp}.{how}");
    let live = csrf::check(
        key,
        "session-sign-in",
        &how,
        &[&username, &fingerprint],
        ctx.now,
    );
    Ok(live.then_some(user))
}

// ---- /account ---------------------------------------------------------------

/// Handles `/account`.
pub(super) async fn account<S: GrantStore>(req: &Request, ctx: &Ctx<'_, S>) -> Response {
    let mut log = LogFields::default();
    let answer = match req.method() {
        Method::Get | Method::Head => show(req, ctx, None, None, 200).await,
        Method::Post => post(req, ctx, &mut log).await,
        Method::Other => Err(Stop::page(
            page::error_page(
                405,
                "Method not allowed",
                "This address takes GET and POST.",
            )
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
    notice: Option<&str>,
    error: Option<&str>,
    status: u16,
) -> Result<Response, Stop> {
    let key = key(ctx)?;
    let user = session_user(req, ctx, &key).await?;
    render(req, ctx, &key, user.as_ref(), notice, error, "", status).await
}

#[allow(clippy::too_many_arguments)] // One page, what it shows.
async fn render<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    key: &[u8; 32],
    user: Option<&UserRecord>,
    notice: Option<&str>,
    error: Option<&str>,
    username: &str,
    status: u16,
) -> Result<Response, Stop> {
    let (nonce, new) = nonce(req, ctx);
    let signed_in = user.map_or("", |u| u.username.as_str());
    let csrf = csrf::token(key, &nonce, ctx.now + FORM_TTL, &["account", signed_in]);
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
        None => provider_buttons(ctx),
        Some(_) => Vec::new(),
    };
    let page = Account {
        notice,
        error,
        me,
        csrf,
        username,
        min_password: MIN_PASSWORD,
        providers,
        next: "account",
        password_sign_in: ctx.config.password_sign_in,
    };
    let r = allow_providers(page::html(status, &page), ctx);
    Ok(with_nonce(r, req, &nonce, new))
}

/// The providers' buttons, (action, label): none in a build without them.
fn provider_buttons<'c, S>(ctx: &'c Ctx<'_, S>) -> Vec<(String, &'c str)> {
    let providers = ctx.config.providers.list.iter();
    providers
        .map(|p| (format!("/signin/{}", p.name), p.label.as_str()))
        .collect()
}

/// Lets the provider buttons' forms end at the providers (`form-action`
/// governs the redirect a form post is answered with), as on the login page.
fn allow_providers<S>(r: Response, ctx: &Ctx<'_, S>) -> Response {
    let r = ctx.config.providers.list.iter().fold(r, |r, p| {
        let url = crate::upstream::client::expected_authorization_url(p);
        match url.and_then(super::authorize::origin_of) {
            Some(origin) => r.allow_form_target(origin),
            None => r,
        }
    });
    r
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
    let user = session_user(req, ctx, &key).await?;
    let signed_in = user.as_ref().map_or("", |u| u.username.as_str());
    if !form_is_ours(req, &params, &key, &["account", signed_in], ctx.now) {
        log.reason = Some("account form CSRF check failed");
        let msg = "This form has expired. Please try again.";
        return render(req, ctx, &key, user.as_ref(), None, Some(msg), "", 403).await;
    }
    let action = params.get("action").unwrap_or_default().to_owned();
    if matches!(action.as_str(), "signin" | "password") {
        passwords_on(ctx, log)?;
    }
    match (action.as_str(), user) {
        ("signin", _) => sign_in(req, ctx, &key, &mut params, log).await,
        ("signout", _) => {
            let cleared = session_cookie("", 0);
            Ok(Response::redirect("/account".into()).set_cookie(req, cleared))
        }
        ("end", Some(user)) => end_link(req, ctx, &key, &params, &user, log).await,
        ("password", Some(user)) => change_password(req, ctx, &key, &mut params, user, log).await,
        (_, None) => {
            log.reason = Some("no session");
            let msg = "Your session ended. Please sign in again.";
            render(req, ctx, &key, None, None, Some(msg), "", 401).await
        }
        _ => Err(Stop::page(page::error_page(
            400,
            "Unknown action",
            "Go back and try again.",
        ))),
    }
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
        "Password sign-in is off",
        "This service signs people in through the buttons on its sign-in page only.",
    )))
}

async fn sign_in<S: GrantStore>(
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
                let value = session_value(key, &user, ctx.now + SESSION_TTL);
                let r = Response::redirect("/account".into());
                return Ok(r.set_cookie(req, session_cookie(&value, SESSION_TTL)));
            }
            Attempt::Refused(why) => {
                log.reason = Some(why);
                ("Incorrect username or password.", 401)
            }
            Attempt::TooMany => {
                log.reason = Some("too many failed sign-ins");
                ("Too many failed sign-ins. Try again in a minute.", 429)
            }
            Attempt::Unavailable => return Err(Stop::page(unavailable())),
        };
    render(req, ctx, key, None, None, Some(error), &username, status).await
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
        let msg = "That link was not found. It may have ended already.";
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
    let detail = format!(
        "{name} can no longer use your account. Its next attempt to renew its access is \
         refused, and the access it already holds ends when it expires, within {minutes} \
         minutes at the latest. To link it again, use its app."
    );
    Ok(page::message(
        200,
        "Link ended",
        &detail,
        ("/account", "Back to your account"),
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
    let refuse = async |msg: &str, status: u16, user: &UserRecord| {
        render(req, ctx, key, Some(user), None, Some(msg), "", status).await
    };
    // The current password counts against the sign-in limits, like a sign-in.
    let device_key = login_key(ctx)?;
    let user = match sign_in::with_password(req, ctx, &user.username, &current, &device_key).await {
        Attempt::SignedIn(user) => user,
        Attempt::Refused(why) => {
            log.reason = Some(why);
            return refuse("Your current password is not right.", 401, &user).await;
        }
        Attempt::TooMany => {
            log.reason = Some("too many failed sign-ins");
            return refuse("Too many failed tries. Try again in a minute.", 429, &user).await;
        }
        Attempt::Unavailable => return Err(Stop::page(unavailable())),
    };
    let new = match check_new(new, &confirm) {
        Ok(new) => new,
        Err(msg) => return refuse(msg, 400, &user).await,
    };
    let user = set_password(ctx, user, &new).await?;
    let value = session_value(key, &user, ctx.now + SESSION_TTL);
    let notice = "Your password was changed. Your links keep working.";
    let page = render(req, ctx, key, Some(&user), Some(notice), None, "", 200).await?;
    Ok(page.set_cookie(req, session_cookie(&value, SESSION_TTL)))
}

/// The new password, if it follows the rules `admin` applies and was typed
/// the same twice.
fn check_new(new: Password, confirm: &Password) -> Result<Password, &'static str> {
    let new =
        registration::password(new).map_err(|_| "Choose a password of at least 8 characters.")?;
    if !crate::crypto::ct_eq(new.secret().as_bytes(), confirm.secret().as_bytes()) {
        return Err("The two new passwords are not the same.");
    }
    Ok(new)
}

/// Hashes and stores a new password: the user record alone (its identity
/// links are unchanged).
async fn set_password<S: GrantStore>(
    ctx: &Ctx<'_, S>,
    mut user: UserRecord,
    password: &Password,
) -> Result<UserRecord, Stop> {
    let hash = hash_password_with(ctx.pbkdf2, ctx.rng, password)
        .await
        .map_err(|_| Stop::page(unavailable()))?;
    user.password_hash = Some(hash);
    put_json(ctx.store, &keys::user(&user.username), &user, None).await?;
    Ok(user)
}

// ---- /invite/<token>, /reset/<token> ------------------------------------------

/// Handles an invitation or reset link.
pub(super) async fn password_link<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    purpose: Purpose,
    token: &str,
) -> Response {
    let mut log = LogFields::default();
    let answer = link_page(req, ctx, purpose, token, &mut log).await;
    answer.unwrap_or_else(|Stop(r)| *r).with_log(log)
}

fn dead_link(status: u16, title: &str, detail: &str) -> Stop {
    Stop::page(page::error_page(status, title, detail))
}

async fn link_page<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    purpose: Purpose,
    token: &str,
    log: &mut LogFields,
) -> Result<Response, Stop> {
    let unknown = || {
        dead_link(
            404,
            "This link does not work",
            "Check that it was copied whole, or ask whoever sent it for a new one.",
        )
    };
    // 32 random bytes, base64url: anything else was never issued (no read).
    if token.len() != 43
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        log.reason = Some("not a link token");
        return Err(unknown());
    }
    let hash = token_hash(token);
    let link: Option<PasswordLink> = get_json(ctx.store, &keys::password_link(&hash)).await?;
    let Some(link) = link.filter(|l| l.purpose == purpose.as_str()) else {
        log.reason = Some("unknown link");
        return Err(unknown());
    };
    let user = ctx.store.user(&link.username).await?;
    let Some(user) = user.filter(|u| u.id == link.user_id) else {
        log.reason = Some("the link's user is gone");
        return Err(unknown());
    };
    log.sub = Some(user.id.to_string());
    if ctx.now >= link.expires_at {
        log.reason = Some("expired link");
        return Err(dead_link(
            410,
            "This link has expired",
            "Ask whoever sent it for a new one.",
        ));
    }
    if !link.fits(&user, ctx.now) {
        log.reason = Some("link already used");
        return Err(dead_link(
            410,
            "This link was already used",
            "A password was set with it, or since. Sign in with that password, or ask for a new link.",
        ));
    }
    if purpose == Purpose::Reset {
        passwords_on(ctx, log)?;
    }
    let key = key(ctx)?;
    let fields = ["password-link", hash.as_str()];
    let (title, intro, button) = match purpose {
        Purpose::Invite if !ctx.config.password_sign_in => (
            "Welcome",
            "Choose the account you will sign in with. You will use it to link your account in the Alexa app.",
            "",
        ),
        Purpose::Invite => (
            "Welcome",
            "Choose a password for your new account. You will use it to link your account in the Alexa app.",
            "Create my account",
        ),
        Purpose::Reset => (
            "Choose a new password",
            "Your links keep working with the new password.",
            "Set the new password",
        ),
    };
    let action = format!("/{}/{token}", purpose.as_str());
    let next = format!("invite/{token}");
    let form_page = |error: Option<&str>, status: u16| {
        let (nonce, new) = nonce(req, ctx);
        let page = SetPassword {
            title,
            intro,
            error,
            action: &action,
            csrf: csrf::token(&key, &nonce, ctx.now + FORM_TTL, &fields),
            username: &user.username,
            button,
            min_password: MIN_PASSWORD,
            // An invitation may be taken up with a provider identity instead.
            providers: match purpose {
                Purpose::Invite => provider_buttons(ctx),
                Purpose::Reset => Vec::new(),
            },
            next: &next,
            password_sign_in: ctx.config.password_sign_in,
        };
        let r = allow_providers(page::html(status, &page), ctx);
        with_nonce(r, req, &nonce, new)
    };
    if req.method() != Method::Post {
        return Ok(form_page(None, 200));
    }
    passwords_on(ctx, log)?;
    let mut params = form(req)?;
    if !form_is_ours(req, &params, &key, &fields, ctx.now) {
        log.reason = Some("password link form CSRF check failed");
        return Ok(form_page(
            Some("This form has expired. Please try again."),
            403,
        ));
    }
    // Limited like sign-in, per address: a link is a credential.
    let address = throttle::address(req);
    match ctx
        .limiter
        .hit(Limit::LoginAddress, &address, ctx.now)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            log.reason = Some("too many tries");
            return Ok(form_page(
                Some("Too many tries. Try again in a minute."),
                429,
            ));
        }
        Err(_) => return Err(Stop::page(unavailable())),
    }
    let new = Password::new(params.take("password").unwrap_or_default());
    let confirm = Password::new(params.take("confirm").unwrap_or_default());
    let new = match check_new(new, &confirm) {
        Ok(new) => new,
        Err(msg) => return Ok(form_page(Some(msg), 400)),
    };
    let user = set_password(ctx, user, &new).await?;
    log.reason = Some(match purpose {
        Purpose::Invite => "invitation accepted",
        Purpose::Reset => "password reset",
    });
    let detail = match purpose {
        Purpose::Invite => "Your account is ready. Link it from the Alexa app, or see it here.",
        Purpose::Reset => "Your password was changed. Your links keep working.",
    };
    let key_value = session_value(&key, &user, ctx.now + SESSION_TTL);
    let r = page::message(
        200,
        "Password set",
        detail,
        ("/account", "Go to your account"),
    );
    Ok(r.set_cookie(req, session_cookie(&key_value, SESSION_TTL)))
}

// ---- Through a provider -------------------------------------------------------

/// The account pages' side of `POST /signin/<provider>`: checks a button's
/// form (its `next`, and its CSRF token for that page) and counts the start
/// against the per-address limit; gives where the sign-in returns, or the
/// page to show instead.
pub(super) async fn provider_start<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    params: &Params,
) -> Result<String, Response> {
    let key = key(ctx).map_err(|Stop(r)| *r)?;
    let next = params.get("next").unwrap_or_default();
    let hash;
    let fields: [&str; 2] = if next == "account" {
        ["account", ""]
    } else if let Some(token) = next.strip_prefix("invite/") {
        live_invitation(ctx, token).await.map_err(|Stop(r)| *r)?;
        hash = token_hash(token);
        ["password-link", hash.as_str()]
    } else {
        return Err(page::error_page(
            400,
            "Unknown page",
            "Go back and try again.",
        ));
    };
    if !form_is_ours(req, params, &key, &fields, ctx.now) {
        let again = if next == "account" {
            "/account".to_owned()
        } else {
            format!("/{next}")
        };
        return Err(page::message(
            403,
            "This form has expired",
            "Please try again.",
            (&again, "Try again"),
        ));
    }
    let address = throttle::address(req);
    match ctx
        .limiter
        .hit(Limit::LoginAddress, &address, ctx.now)
        .await
    {
        Ok(true) => Ok(next.to_owned()),
        Ok(false) => Err(page::message(
            429,
            "Too many sign-ins from here",
            "Try again in a minute.",
            ("/account", "Back"),
        )),
        Err(_) => Err(unavailable()),
    }
}

/// An invitation that still works, and its user.
async fn live_invitation<S: GrantStore>(ctx: &Ctx<'_, S>, token: &str) -> Result<UserRecord, Stop> {
    let dead = || {
        dead_link(
            410,
            "This link no longer works",
            "Ask whoever sent it for a new one.",
        )
    };
    let link: Option<PasswordLink> =
        get_json(ctx.store, &keys::password_link(&token_hash(token))).await?;
    let link = link
        .filter(|l| l.purpose == PasswordLink::INVITE)
        .ok_or_else(dead)?;
    let user = ctx.store.user(&link.username).await?;
    user.filter(|u| link.fits(u, ctx.now)).ok_or_else(dead)
}

/// The account pages' side of `/callback/<provider>`, once the provider
/// vouched for `identity`: a session for the user it signs in as
/// (`account`), or the invited user's account taken up with it
/// (`invite/<token>`: the identity joins the user's allow-list, which spends
/// the invitation).
pub(super) async fn provider_finish<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    next: &str,
    identity: &crate::upstream::client::Identity,
    p: &crate::upstream::Provider,
    log: &mut LogFields,
) -> Response {
    let answer = async {
        let key = key(ctx)?;
        let id_key = identity.key();
        let holder = ctx.store.user_by_identity(&id_key).await?;
        let user = match next.strip_prefix("invite/") {
            None => holder.ok_or_else(|| {
                log.reason = Some("the identity signs in as nobody");
                Stop::page(page::message(
                    403,
                    "Not allowed",
                    &format!(
                        "This {} account does not sign in to an account here.",
                        p.label
                    ),
                    ("/account", "Back"),
                ))
            })?,
            Some(token) => {
                let mut user = live_invitation(ctx, token).await?;
                if holder.is_some_and(|h| h.id != user.id) {
                    log.reason = Some("the identity already signs in as another user");
                    return Err(Stop::page(page::message(
                        409,
                        "Already in use",
                        &format!(
                            "This {} account already signs in as someone else here.",
                            p.label
                        ),
                        (&format!("/{next}"), "Back"),
                    )));
                }
                if !user.identities.contains(&id_key) {
                    user.identities.push(id_key);
                }
                ctx.store.put_user(&user).await?;
                log.reason = Some("invitation accepted through a provider");
                user
            }
        };
        log.sub = Some(user.id.to_string());
        let value = session_value(&key, &user, ctx.now + SESSION_TTL);
        Ok::<_, Stop>(
            Response::redirect("/account".into())
                .set_cookie(req, session_cookie(&value, SESSION_TTL)),
        )
    };
    answer.await.unwrap_or_else(|Stop(r)| *r)
}
