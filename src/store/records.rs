//! The records the server keeps, one per KV key (see [`super::keys`]).

use serde::{Deserialize, Serialize};

use crate::claims::UserClaims;
use crate::crypto::TokenHash;
use crate::types::{
    ClientId, GrantId, GrantType, LwaClientSecret, LwaRefreshToken, RedirectUri, Region, ScopeSet,
    UserId,
};

/// A registered client (RFC 6749 §2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientRecord {
    pub client_id: ClientId,
    /// Shown on the login page ("`<name>` wants to …").
    pub name: String,
    /// See [`crate::crypto::hash_client_secret`].
    pub secret_hash: String,
    /// The secret before the last `admin client rotate-secret`, accepted until
    /// `previous_secret_expires_at` so a live skill is not cut off mid-change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<u64>,
    /// Matched by exact string equality.
    pub redirect_uris: Vec<RedirectUri>,
    /// The scopes the client may ask for; also the default when it asks for none.
    pub scope: ScopeSet,
    pub grant_types: Vec<GrantType>,
    pub created_at: u64,
    /// Grants created before this time belonged to an earlier client of the
    /// same id that `admin client remove` removed: they never come back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants_since: Option<u64>,
    /// What a refresh does with the refresh token (`--refresh-rotation`);
    /// records written before the setting existed read as the default.
    #[serde(default)]
    pub refresh_rotation: RefreshRotation,
    /// Which life of this client id this is: `admin client add` after an
    /// `admin client remove` makes the next one. A grant works only for the
    /// generation it was made under, so a removed client's grants never come
    /// back, whatever the clocks say.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: u64,
    /// The skill's "Send Alexa Events" client at Login with Amazon, for
    /// AcceptGrant and events (see [`crate::alexa`]); `LWA_CLIENT_ID` and
    /// `LWA_CLIENT_SECRET` stand in for a client without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lwa_client_id: Option<String>,
    /// Never exported, never logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lwa_client_secret: Option<LwaClientSecret>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ClientRecord {
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// What a grant's liveness needs of its client.
    pub fn view(&self) -> ClientView {
        ClientView {
            id: self.client_id.clone(),
            generation: self.generation,
            grants_since: self.grants_since,
            rotation: self.rotation(),
        }
    }

    /// The refresh policy that applies: the registered one, except that a
    /// client without a secret always rotates (RFC 9700 §2.2.2 requires
    /// rotation or sender-constraining for public clients).
    pub fn rotation(&self) -> RefreshRotation {
        if self.secret_hash.is_empty() {
            RefreshRotation::Always
        } else {
            self.refresh_rotation
        }
    }
}

/// The part of a client record a grant's liveness depends on (see
/// [`crate::grant::is_live`]); sent to a grant's Durable Object with a refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientView {
    pub id: ClientId,
    /// The client's [`ClientRecord::generation`].
    pub generation: u64,
    /// Set by versions before generations on a client added again after a
    /// removal: grants created before it belonged to the removed one.
    pub grants_since: Option<u64>,
    pub rotation: RefreshRotation,
}

/// What a refresh does with the refresh token, per client.
///
/// RFC 9700 §2.2.2 requires rotation only for public clients: a confidential
/// client's refresh token is already bound to its secret (RFC 6749 §6). Every
/// Alexa skill is confidential, and a refresh that rotates must write the
/// grant, which the Free plan allows 1,000 times a day and any one key once a
/// second. So `Never` is the default.
///
/// Read as a string and parsed, not by serde's enum derive: the same
/// answer in about 1 KiB less wasm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum RefreshRotation {
    /// The grant keeps one refresh token for its life; a refresh writes nothing.
    #[default]
    Never,
    /// Each refresh hands out a new token, derived from the one presented
    /// (see [`crate::grant`]), and writes the grant.
    Always,
}

impl RefreshRotation {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "never" => Some(Self::Never),
            "always" => Some(Self::Always),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Never => "never",
            Self::Always => "always",
        }
    }
}

impl TryFrom<String> for RefreshRotation {
    type Error = &'static str;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).ok_or("refresh rotation is never or always")
    }
}

impl From<RefreshRotation> for &'static str {
    fn from(r: RefreshRotation) -> Self {
        r.as_str()
    }
}

/// The trace `admin client remove` leaves under `clientremoved:<id>`: a client
/// added again under that id gets `grants_since` from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRemoval {
    pub removed_at: u64,
    /// The removed client's generation; the next one gets this plus one.
    #[serde(default)]
    pub generation: u64,
}

/// The trace `admin user remove` leaves under `userremoved:<sub>`: a code of
/// that user redeemed afterwards is refused and its grant revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRemoval {
    pub removed_at: u64,
}

/// A user who can sign in on the authorization page: with a password, through
/// a provider, or both.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    /// The stable `sub`; the username can change, this cannot. Never an
    /// provider's id.
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    /// See [`crate::password::hash_password`]; `None` for a user who signs in
    /// only through a provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// The provider identities allowed to sign in as this user,
    /// `<provider>:<subject>`; each also has an `identity:` key naming the user.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<String>,
    pub created_at: u64,
    /// The operator's own values for this user (see [`crate::claims`]), as
    /// a JSON object's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<UserClaims>,
}

/// What a grant copies from its user into each access token: taken at
/// sign-in, and rewritten in the user's grants by `admin user update`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub display_name: String,
    #[serde(default)]
    pub claims: Option<UserClaims>,
}

impl Profile {
    pub fn of(user: &UserRecord) -> Self {
        Self {
            display_name: user.display_name.clone(),
            claims: UserClaims::for_tokens(&user.identities, user.claims.as_ref()),
        }
    }

    /// Puts this profile on `grant`; whether that changed it.
    pub fn apply(&self, grant: &mut GrantRecord) -> bool {
        let changed = grant.display_name != self.display_name || grant.claims != self.claims;
        grant.display_name.clone_from(&self.display_name);
        grant.claims.clone_from(&self.claims);
        changed
    }
}

/// Under `passwordlink:<sha256 of the link's token>`: an invitation or a
/// reset link that `admin` made, for one user. It works while the user signs
/// in as when it was made ([`Self::fits`]): setting a password or connecting
/// an identity through it spends it, and every other link made before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordLink {
    /// `invite` or `reset`: which page it opens.
    pub purpose: String,
    pub username: String,
    pub user_id: UserId,
    /// [`PasswordLink::fingerprint`] of the user's password when made.
    pub fingerprint: String,
    pub expires_at: u64,
}

impl PasswordLink {
    pub const INVITE: &str = "invite";
    pub const RESET: &str = "reset";

    /// A short digest of how the user signs in: the password hash (or its
    /// absence) and the identities. A link carries it, so setting a password
    /// or connecting an identity spends the link.
    pub fn fingerprint(user: &UserRecord) -> String {
        let mut what = user
            .password_hash
            .as_deref()
            .unwrap_or("no password")
            .to_owned();
        for identity in &user.identities {
            what.push('\n');
            what.push_str(identity);
        }
        crate::crypto::sha256_b64url(&what)[..16].to_owned()
    }

    /// Whether this link still works for `user` (the one under its
    /// username) at `now`.
    pub fn fits(&self, user: &UserRecord, now: u64) -> bool {
        now < self.expires_at
            && user.id == self.user_id
            && crate::crypto::ct_eq(
                Self::fingerprint(user).as_bytes(),
                self.fingerprint.as_bytes(),
            )
    }
}

/// Under `identity:<provider>:<subject>`: the user a provider identity signs
/// in as (the operator's allow-list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityLink {
    pub username: String,
}

/// An authorization code, stored under the hash of the code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeRecord {
    pub client_id: ClientId,
    /// The `redirect_uri` of the authorization request, if one was given; the
    /// token request must then repeat it (RFC 6749 §4.1.3).
    pub redirect_uri: Option<RedirectUri>,
    pub user_id: UserId,
    /// The user's display name at login, carried into the grant and its tokens.
    #[serde(default)]
    pub display_name: String,
    /// The user's identities and own claims at login, as the members they
    /// add to each access token ([`UserClaims::for_tokens`]), carried likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<UserClaims>,
    pub scope: ScopeSet,
    /// The S256 `code_challenge`, if PKCE was used.
    pub code_challenge: Option<String>,
    pub expires_at: u64,
    /// The grant this code creates, chosen up front so that a replay of the
    /// code can find and revoke it (RFC 6749 §10.5).
    pub grant_id: GrantId,
    /// Set on first redemption; a second redemption is a replay.
    #[serde(default)]
    pub used: bool,
    /// The client's generation when the code was issued.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub client_generation: u64,
}

/// One link between a user and a client, and the state of its refresh tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    pub id: GrantId,
    pub client_id: ClientId,
    pub user_id: UserId,
    /// The user's display name, and identities and own claims (as in
    /// [`CodeRecord::claims`]), copied into each access token: taken from
    /// the code, rewritten by `admin user update` (see [`Profile`]).
    #[serde(default)]
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<UserClaims>,
    pub scope: ScopeSet,
    pub created_at: u64,
    /// Hash of the newest refresh token.
    pub refresh_hash: TokenHash,
    /// Hash of the refresh token it replaced (rotation `always`). It stays valid
    /// until the newest one is used, so a client whose refresh answer was lost
    /// can retry.
    pub previous_refresh_hash: Option<TokenHash>,
    /// When the grant was last used, for the optional refresh TTL: each
    /// rotation, or (rotation `never`) at most once a day.
    pub refreshed_at: u64,
    /// Hashes of refresh tokens the client has provably moved past (it used their
    /// successor). Presenting one again means a copy leaked: the grant is revoked
    /// (RFC 9700 §4.14.2). The newest few are kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired_refresh_hashes: Vec<TokenHash>,
    /// Set by versions before tombstones; still honoured, never written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<u64>,
    /// The client's generation when the grant was made: it works only while
    /// the client record has the same one.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub client_generation: u64,
}

/// Under `alexaevents:<sub>:<client id>`: what AcceptGrant left for one
/// user's events to Alexa through one client (see [`crate::alexa`]). It
/// works while its grant has no tombstone and its client is the generation
/// it was accepted under; ending the link deletes it.
///
/// Written by serde's derive, read by [`EventTokens::from_json`].
#[derive(Debug, Clone, Serialize)]
pub struct EventTokens {
    /// The link whose AcceptGrant this was.
    pub grant_id: GrantId,
    /// Which gateway the user's events go to.
    pub region: Region,
    pub refresh_token: LwaRefreshToken,
    pub accepted_at: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub client_generation: u64,
}

impl EventTokens {
    /// The record from its JSON text, read through a [`serde_json::Value`]
    /// (which the wasm has anyway) rather than the derived reader, which
    /// costs the wasm about 3 KiB for this one record. `None` for text that
    /// is not such a record.
    pub fn from_json(text: &[u8]) -> Option<Self> {
        use serde_json::Value;
        let v: Value = serde_json::from_slice(text).ok()?;
        let text = |name: &str| v.get(name).and_then(Value::as_str);
        let number = |name: &str| v.get(name).map_or(Some(0), Value::as_u64);
        Some(Self {
            grant_id: GrantId::new(text("grant_id")?),
            region: Region::parse(text("region")?)?,
            refresh_token: LwaRefreshToken::new(text("refresh_token")?),
            accepted_at: number("accepted_at")?,
            client_generation: number("client_generation")?,
        })
    }
}

/// A grant's revocation, kept apart from the grant record so that no refresh
/// writing the record back can undo it (see [`crate::grant`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    pub revoked_at: u64,
    /// Why, as a [`Revocation`]'s number, for `admin grant show`; 0 in
    /// tombstones written before it. A number, not a name: the Worker writes
    /// it, and every string field costs the wasm more than an integer.
    #[serde(default)]
    pub why: u64,
}

impl Tombstone {
    pub fn new(revoked_at: u64, why: Revocation) -> Self {
        Self {
            revoked_at,
            why: why as u64,
        }
    }
}

/// Why a grant was revoked; the numbers are stored, so they never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Revocation {
    /// Its client asked, at `/revoke` (RFC 7009).
    Client = 1,
    /// `admin grant revoke`.
    Admin = 2,
    /// `admin user remove`, or a code of a removed user redeemed after it.
    UserRemoved = 3,
    /// `admin client remove`.
    ClientRemoved = 4,
    /// Its code was presented twice (RFC 6749 §10.5).
    CodeReplayed = 5,
    /// A refresh token it had moved past came back (RFC 9700 §4.14.2).
    RefreshReused = 6,
    /// Its user ended it on the account page.
    UserEnded = 7,
}

impl Revocation {
    /// What a tombstone's `why` means, in words.
    pub fn describe(why: u64) -> &'static str {
        match why {
            1 => "its client revoked it (/revoke)",
            2 => "admin grant revoke",
            3 => "its user was removed",
            4 => "its client was removed",
            5 => "its code was presented twice",
            6 => "a refresh token it had moved past came back",
            7 => "its user ended it at /account",
            _ => "not recorded (a tombstone from before reasons)",
        }
    }
}

#[cfg(test)]
mod event_tokens_tests {
    use super::*;

    #[test]
    fn event_tokens_read_back_what_is_written() {
        let record = EventTokens {
            grant_id: GrantId::new("g1"),
            region: Region::Fe,
            refresh_token: LwaRefreshToken::new("Atzr|r"),
            accepted_at: 1_800_000_000,
            client_generation: 2,
        };
        let text = serde_json::to_string(&record).unwrap();
        let back = EventTokens::from_json(text.as_bytes()).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
        // Generation 0 is left out, and reads back as 0.
        let first = EventTokens {
            client_generation: 0,
            ..record
        };
        let text = serde_json::to_string(&first).unwrap();
        assert!(!text.contains("client_generation"));
        assert_eq!(
            EventTokens::from_json(text.as_bytes())
                .unwrap()
                .client_generation,
            0
        );
        for bad in [
            &b"{}"[..],
            b"[]",
            b"{\"grant_id\":\"g\",\"region\":\"SA\",\"refresh_token\":\"r\"}",
        ] {
            assert!(EventTokens::from_json(bad).is_none());
        }
    }
}
