//! Every KV key the server reads or writes, built here and nowhere else.
//!
//! One namespace, JSON values. (Attempt counters are not in KV: see
//! [`crate::throttle`]; a sign-in through a provider under way is carried by
//! the browser in a sealed cookie, not stored: only a `state` that minted a
//! code is, so it mints no second one.)
//!
//! | key                              | value                     | written by                     | expires               |
//! |----------------------------------|---------------------------|--------------------------------|-----------------------|
//! | `client:<client id>`             | [`ClientRecord`]          | `admin client add/update`      | never                 |
//! | `clientremoved:<client id>`      | [`ClientRemoval`]         | `admin client remove`          | never                 |
//! | `user:<username>`                | [`UserRecord`]            | `admin user add`               | never                 |
//! | `userremoved:<user id>`          | [`UserRemoval`]           | `admin user remove`            | never                 |
//! | `identity:<provider>:<subject>` | [`IdentityLink`]        | `admin user add/update`, first sign-in with `AUTO_CREATE` | never |
//! | `code:<sha256 of code>`          | [`CodeRecord`]            | `/authorize` (login)           | with the code (5 min) |
//! | `grant:<grant id>`               | [`GrantRecord`]           | `/token`                       | never                 |
//! | `revoked:<grant id>`             | [`Tombstone`] (when, why) | every revocation               | never                 |
//! | `usergrant:<user id>:<grant id>` | empty                     | `/token` (code); DO mode: `/authorize`, with the code | never |
//! | `passwordlink:<sha256 of token>` | [`PasswordLink`]          | `admin user invite/reset-link` | with the link         |
//! | `clientgrant:<client id>:<grant id>` | empty                 | `/token` (code); DO mode: `/authorize`, with the code | never |
//! | `signinstate:<sha256 of state>`  | empty                     | `/callback/<provider>`, with the code it mints | with the state (10 min) |
//! | `alexaevents:<user id>:<client id>` | [`EventTokens`]        | `/alexa/accept-grant`; `/alexa/events` when LWA hands out a new refresh token | deleted when the link ends |
//! | `texts`                          | the operator's catalogues: tag → `key = text` lines | `admin texts set/remove` | never |
//!
//! `admin export` writes every one of these but codes, password links,
//! spent states and event tokens (Amazon's secrets, kept readable) as JSON lines (see [`super::backup`]).
//!
//! Codes and refresh tokens appear only as SHA-256 hashes. Both are
//! `<grant id>.<secret>`, so a refresh reads exactly one grant. In Durable
//! Object mode the `code:`, `grant:` and `revoked:` records of a grant also live
//! in the grant's object (see [`crate::grant::durable`]).
//!
//! [`ClientRecord`]: super::ClientRecord
//! [`UserRecord`]: super::UserRecord
//! [`ClientRemoval`]: super::ClientRemoval
//! [`UserRemoval`]: super::UserRemoval
//! [`CodeRecord`]: super::CodeRecord
//! [`GrantRecord`]: super::GrantRecord
//! [`Tombstone`]: super::Tombstone
//! [`IdentityLink`]: super::IdentityLink
//! [`PasswordLink`]: super::PasswordLink
//! [`EventTokens`]: super::EventTokens

use crate::crypto::TokenHash;
use crate::types::{ClientId, GrantId, UserId};

pub fn client(id: &ClientId) -> String {
    format!("client:{id}")
}
pub fn client_removed(id: &ClientId) -> String {
    format!("clientremoved:{id}")
}
pub fn user(username: &str) -> String {
    format!("user:{username}")
}
/// A removed user's trace, by the user's id (`sub`).
pub fn user_removed(user: &UserId) -> String {
    format!("userremoved:{user}")
}
/// A provider identity's entry in the allow-list; `identity` is
/// `<provider>:<subject>`.
pub fn identity(identity: &str) -> String {
    format!("identity:{identity}")
}
pub fn code(hash: &TokenHash) -> String {
    format!("code:{}", hash.as_str())
}
pub fn grant(id: &GrantId) -> String {
    format!("grant:{id}")
}
/// A grant's tombstone.
pub fn revoked(id: &GrantId) -> String {
    format!("revoked:{id}")
}
/// An empty marker per grant, so a user's grants can be listed by prefix.
pub fn user_grant(user: &UserId, grant: &GrantId) -> String {
    format!("usergrant:{user}:{grant}")
}
pub fn user_grants_prefix(user: &UserId) -> String {
    format!("usergrant:{user}:")
}
/// An empty marker per grant, so `admin client remove` can end a client's grants.
pub fn client_grant(client: &ClientId, grant: &GrantId) -> String {
    format!("clientgrant:{client}:{grant}")
}
pub fn client_grants_prefix(client: &ClientId) -> String {
    format!("clientgrant:{client}:")
}
/// An invitation or reset link, by the hash of its token.
pub fn password_link(hash: &TokenHash) -> String {
    format!("passwordlink:{}", hash.as_str())
}
/// A provider sign-in's `state` that has minted a code (empty value).
pub fn spent_sign_in_state(hash: &TokenHash) -> String {
    format!("signinstate:{}", hash.as_str())
}
/// One user's event tokens for one client (see [`crate::alexa`]). The user
/// comes first, so a user's removal finds theirs by prefix.
pub fn alexa_events(user: &UserId, client: &ClientId) -> String {
    format!("alexaevents:{user}:{client}")
}
/// The operator's page texts (see [`crate::i18n::Overrides`]).
pub const TEXTS: &str = "texts";
pub fn alexa_events_prefix(user: &UserId) -> String {
    format!("alexaevents:{user}:")
}
