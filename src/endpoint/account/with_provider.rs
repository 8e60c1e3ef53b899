//! The account pages' side of signing in through a provider: their buttons
//! start it (`POST /account/signin/<provider>`), and the provider room hands
//! back the identity it vouched for ([`Vouched`]), which opens a session
//! (`/account`) or takes up an invitation (`/invite/<token>`).

use crate::crypto::token_hash;
use crate::grant::GrantStore;
use crate::http::{LogFields, Method, Request, Response};
use crate::i18n::{Phrase, Text};
use crate::page;
use crate::store::{Records, UserRecord};
use crate::throttle::{self, Limit};
use crate::users::{self, UserError};
use crate::Ctx;

use super::password_link::live_invitation;
use super::{key, session, unavailable, Stop};
use crate::endpoint::forms;
use crate::endpoint::provider::{self, Page, Vouched};

/// `POST /account/signin/<provider>`: a button of the account page or of an
/// invitation. Checks its form (`next`, and its CSRF token for that page)
/// and counts the start against the per-address limit, then leaves for the
/// provider.
pub(in crate::endpoint) async fn start<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    name: &str,
) -> Response {
    let mut log = LogFields::default();
    let p = match (req.method(), provider::named(ctx, name)) {
        (Method::Post, Some(p)) => p,
        (Method::Post, None) => {
            return page::error_page(404, Text::unknown_provider_title, Text::unknown_provider)
        }
        _ => {
            return page::error_page(405, Text::method_title, Text::method_detail)
                .header("allow", "POST")
        }
    };
    match checked(req, ctx, &mut log).await {
        Ok(to) => provider::begin(req, ctx, p, to, log).await,
        Err(Stop(r)) => r.with_log(log),
    }
}

/// The page a button's form returns to, once its CSRF token and the
/// address's limit allow the start.
async fn checked<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    log: &mut LogFields,
) -> Result<Page, Stop> {
    let key = key(ctx)?;
    let params = super::form(req)?;
    let next = params.get("next").unwrap_or_default();
    let hash;
    let (to, fields): (Page, [&str; 2]) = if next == "account" {
        (Page::Account, ["account", ""])
    } else if let Some(token) = next.strip_prefix("invite/") {
        live_invitation(ctx, token).await?;
        hash = token_hash(token);
        (
            Page::Invite(token.to_owned()),
            ["password-link", hash.as_str()],
        )
    } else {
        log.reason = Some("a start from no account page");
        return Err(Stop::page(page::error_page(
            400,
            Text::unknown_page_title,
            Text::go_back,
        )));
    };
    if !forms::is_ours(req, &params, &key, &fields, ctx.now) {
        log.reason = Some("account form CSRF check failed");
        return Err(Stop::page(page::message(
            403,
            Text::form_expired_title,
            Text::form_expired,
            (&to.path(), Text::try_again),
        )));
    }
    let address = throttle::address(req);
    match ctx
        .limiter
        .hit(Limit::LoginAddress, &address, ctx.now)
        .await
    {
        Ok(true) => Ok(to),
        Ok(false) => {
            log.reason = Some("too many sign-ins from this address");
            Err(Stop::page(page::message(
                429,
                Text::too_many_title,
                Text::too_many,
                (&to.path(), Text::back),
            )))
        }
        Err(_) => Err(Stop::page(unavailable())),
    }
}

/// Finishes a sign-in the provider vouched for: a session for the user the
/// identity signs in as (`/account`), or the invited user's account taken up
/// with it (`/invite/<token>`: the identity joins the user's allow-list,
/// which spends the invitation).
pub(in crate::endpoint) async fn finish<S: GrantStore>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    mut vouched: Vouched<'_>,
) -> Response {
    // The key before anything is written: without it there is no session
    // to open, and an invitation must not be spent for nothing.
    let r = match key(ctx) {
        Err(Stop(r)) => *r,
        Ok(key) => match signed_in(ctx, &mut vouched).await {
            Ok(user) => {
                let r = Response::redirect("/account".into());
                session::open(r, req, &key, &user, ctx.now)
            }
            Err(Stop(r)) => *r,
        },
    };
    vouched.answer(req, r)
}

/// The user `vouched` signs in as, taking up its invitation first.
async fn signed_in<S: GrantStore>(
    ctx: &Ctx<'_, S>,
    vouched: &mut Vouched<'_>,
) -> Result<UserRecord, Stop> {
    let id_key = vouched.identity.key();
    let label = &vouched.provider.label;
    let log = &mut vouched.log;
    let user = match &vouched.to {
        Page::Account => ctx.store.user_by_identity(&id_key).await?.ok_or_else(|| {
            log.reason = Some("the identity signs in as nobody");
            Stop::page(page::message(
                403,
                Text::not_allowed_title,
                Phrase::with(Text::provider_no_account, "provider", label),
                ("/account", Text::back),
            ))
        })?,
        Page::Invite(token) => {
            let user = live_invitation(ctx, token).await?;
            match users::add_identity(ctx.store, user, id_key).await {
                Ok(user) => {
                    log.reason = Some("invitation accepted through a provider");
                    user
                }
                Err(UserError::IdentityTaken { .. }) => {
                    log.reason = Some("the identity already signs in as another user");
                    return Err(Stop::page(page::message(
                        409,
                        Text::in_use_title,
                        Phrase::with(Text::provider_in_use, "provider", label),
                        (&vouched.to.path(), Text::back),
                    )));
                }
                Err(_) => return Err(Stop::page(unavailable())),
            }
        }
    };
    log.sub = Some(user.id.to_string());
    Ok(user)
}
