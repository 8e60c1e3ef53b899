//! `/invite/<token>` and `/reset/<token>`: the links `admin user invite` and
//! `admin user reset-link` print, where a person chooses a password (or, for
//! an invitation, signs in through a provider instead).
//!
//! A link works while the user's password is still the one it was made for
//! ([`PasswordLink::fits`]): using it spends it everywhere the user record
//! has reached, with no delete to wait for. Setting a password writes the
//! user record; a wrong or expired form writes nothing, and every try counts
//! against the per-address sign-in limit: a link is a credential.

use crate::crypto::token_hash;
use crate::grant::GrantStore;
use crate::http::{LogFields, Method, Request, Response};
use crate::i18n::{Phrase, Text, Texts};
use crate::page::{self, SetPassword, View};
use crate::password::hash_password_with;
use crate::registration::{self, MIN_PASSWORD};
use crate::store::{get_json, keys, PasswordLink, Records, UserRecord};
use crate::throttle::{self, Limit};
use crate::types::Password;
use crate::users;
use crate::Ctx;

use super::{key, passwords_on, session, unavailable, Stop};
use crate::endpoint::forms::{self, Nonce};

/// Which page a password link opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::endpoint) enum Purpose {
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

/// Handles an invitation or reset link.
pub(in crate::endpoint) async fn password_link<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    purpose: Purpose,
    token: &str,
) -> Response {
    let mut log = LogFields::default();
    let answer = link_page(req, ctx, purpose, token, &mut log).await;
    answer.unwrap_or_else(|Stop(r)| *r).with_log(log)
}

fn dead_link(status: u16, title: Text, detail: Text) -> Stop {
    Stop::page(page::error_page(status, title, detail))
}

async fn link_page<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    purpose: Purpose,
    token: &str,
    log: &mut LogFields,
) -> Result<Response, Stop> {
    let unknown = || dead_link(404, Text::link_broken_title, Text::link_broken);
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
        return Err(dead_link(410, Text::link_expired_title, Text::ask_new_link));
    }
    if !link.fits(&user, ctx.now) {
        log.reason = Some("link already used");
        return Err(dead_link(410, Text::link_used_title, Text::link_used));
    }
    if purpose == Purpose::Reset {
        passwords_on(ctx, log)?;
    }
    let key = key(ctx)?;
    let fields = ["password-link", hash.as_str()];
    let (title, intro, button) = match purpose {
        Purpose::Invite if !ctx.config.password_sign_in => (
            Text::welcome,
            Text::invite_choose_account,
            Text::create_account,
        ),
        Purpose::Invite => (
            Text::welcome,
            Text::invite_choose_password,
            Text::create_account,
        ),
        Purpose::Reset => (Text::reset_title, Text::reset_intro, Text::reset_submit),
    };
    let action = format!("/{}/{token}", purpose.as_str());
    let next = format!("invite/{token}");
    let form_page = |error: Option<Phrase>, status: u16| {
        let nonce = Nonce::of(req, ctx);
        let page = SetPassword {
            t: Texts::default(),
            title,
            intro,
            error,
            action: action.clone(),
            csrf: nonce.token(&key, ctx.now, &fields),
            username: user.username.clone(),
            button,
            min_password: MIN_PASSWORD,
            // An invitation may be taken up with a provider identity instead.
            providers: match purpose {
                Purpose::Invite => forms::provider_buttons(ctx, super::PROVIDER_START),
                Purpose::Reset => Vec::new(),
            },
            next: next.clone(),
            password_sign_in: ctx.config.password_sign_in,
        };
        let r = Response::page(status, View::SetPassword(page));
        let r = forms::allow_providers(r, ctx);
        nonce.set_on(r, req)
    };
    if req.method() != Method::Post {
        return Ok(form_page(None, 200));
    }
    passwords_on(ctx, log)?;
    let mut params = super::form(req)?;
    if !forms::is_ours(req, &params, &key, &fields, ctx.now) {
        log.reason = Some("password link form CSRF check failed");
        return Ok(form_page(Some(Text::form_expired.into()), 403));
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
            return Ok(form_page(Some(Text::too_many.into()), 429));
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
        Purpose::Invite => Text::invite_done,
        Purpose::Reset => Text::password_changed,
    };
    let r = page::message(
        200,
        Text::password_set_title,
        detail,
        ("/account", Text::go_to_account),
    );
    Ok(session::open(r, req, &key, &user, ctx.now))
}

/// An invitation that still works, and its user.
pub(super) async fn live_invitation<S: GrantStore>(
    ctx: &Ctx<'_, S>,
    token: &str,
) -> Result<UserRecord, Stop> {
    let dead = || dead_link(410, Text::link_dead_title, Text::ask_new_link);
    let link: Option<PasswordLink> =
        get_json(ctx.store, &keys::password_link(&token_hash(token))).await?;
    let link = link
        .filter(|l| l.purpose == PasswordLink::INVITE)
        .ok_or_else(dead)?;
    let user = ctx.store.user(&link.username).await?;
    user.filter(|u| link.fits(u, ctx.now)).ok_or_else(dead)
}

/// The new password, if it follows the rules `admin` applies and was typed
/// the same twice.
pub(super) fn check_new(new: Password, confirm: &Password) -> Result<Password, Phrase> {
    let short = Phrase::with(Text::password_too_short, "min", MIN_PASSWORD.to_string());
    let new = registration::password(new).map_err(|_| short)?;
    if !crate::crypto::ct_eq(new.secret().as_bytes(), confirm.secret().as_bytes()) {
        return Err(Text::passwords_differ.into());
    }
    Ok(new)
}

/// Hashes and stores a new password: the user record alone (its identity
/// links are unchanged).
pub(super) async fn set_password<S: GrantStore>(
    ctx: &Ctx<'_, S>,
    user: UserRecord,
    password: &Password,
) -> Result<UserRecord, Stop> {
    let hash = hash_password_with(ctx.pbkdf2, ctx.rng, password)
        .await
        .map_err(|_| Stop::page(unavailable()))?;
    Ok(users::set_password(ctx.store, user, hash).await?)
}
