//! Alexa's side of the link: the tokens a skill needs to send events to
//! Alexa, kept here, and each event sent to its user's region.
//!
//! A skill with "Send Alexa Events" on gets an `Alexa.Authorization.AcceptGrant`
//! directive when a user links, holding a Login with Amazon (LWA) code and our
//! access token. The skill forwards both to `POST /alexa/accept-grant`
//! (`endpoint/alexa.rs`): [`accept_grant`] exchanges the code at LWA with the
//! skill's "Send Alexa Events" credentials ([`LwaClient`]) and keeps LWA's
//! refresh token for that client and user ([`EventTokens`], one KV write).
//! The skill's backend then posts each event to `POST /alexa/events` with the
//! user's `sub`: [`send_event`] puts an LWA access token in it and posts it to
//! the gateway of the region recorded at AcceptGrant.
//!
//! # What an event costs
//! LWA's access tokens are kept only in the isolate ([`EventTokenCache`]),
//! for their life. The record is read again after [`RECORD_CACHE_SECONDS`],
//! and its grant's tombstone through the isolate's revocation cache: so an
//! event writes nothing, and reads at most the record and the tombstone
//! when the isolate's copy is cold. A refresh at LWA that hands out a new
//! refresh token is the one write.
//!
//! # When a link ends
//! Every way of ending a link writes its grant's tombstone, and a record
//! whose grant has one is dead: its events get 404 and the record is deleted.
//! `/revoke`, "end link" at `/account`, `admin grant revoke` and `admin user
//! remove` delete it at once ([`forget`], [`forget_grant`]). A client removed and added again
//! is a new generation, whose records start empty.
//!
//! [`EventTokens`]: crate::store::EventTokens

use std::rc::Rc;

mod events;
mod lwa;

pub use events::{send_event, Event, EventTokenCache, Reach};
pub use lwa::LwaFailure;

use events::Cached;
use lwa::{lwa_token, LwaGrant};

use crate::config::ConfigError;
use crate::outbound::Fetch;
use crate::store::{keys, put_json, ClientRecord, EventTokens, Store, StoreError};
use crate::types::{ClientId, GrantId, LwaClientSecret, Region, UserId};

/// Amazon's defaults for the settings that tests point at stand-ins.
pub const LWA_TOKEN_URL: &str = "https://api.amazon.com/auth/o2/token";
pub const ALEXA_GATEWAYS: [&str; 3] = [
    "https://api.amazonalexa.com",
    "https://api.eu.amazonalexa.com",
    "https://api.fe.amazonalexa.com",
];

/// How long an isolate uses its copy of an event record before reading it
/// again: the bound on how long a link ended elsewhere can still send events
/// from here, beside KV's own propagation (up to 60 s).
pub const RECORD_CACHE_SECONDS: u64 = 30;

/// An LWA access token is refreshed this long before LWA says it expires, so
/// none expires on its way to the gateway.
pub(crate) const EXPIRY_MARGIN: u64 = 60;

/// A skill's "Send Alexa Events" client at LWA (the developer console's
/// Permissions page).
#[derive(Debug, Clone)]
pub struct LwaClient {
    pub id: String,
    pub secret: LwaClientSecret,
}

/// The settings of this module, read with the others ([`crate::Config`]).
#[derive(Debug)]
pub struct Settings {
    /// `LWA_TOKEN_URL`; an unusable one is an error, never Amazon's default.
    pub lwa_token_url: Result<String, ConfigError>,
    /// `ALEXA_GATEWAY_NA`, `_EU` and `_FE`, in [`Region::ALL`]'s order.
    pub gateways: [Result<String, ConfigError>; 3],
    /// `LWA_CLIENT_ID` and `LWA_CLIENT_SECRET`: the credentials of a client
    /// that has none of its own (a deployment with one skill).
    pub lwa_client: Option<LwaClient>,
}

impl Settings {
    pub fn from_vars(var: &impl Fn(&str) -> Option<String>) -> Self {
        const BAD_LWA: ConfigError = ConfigError(
            "LWA_TOKEN_URL must be an https URL (or http on 127.0.0.1 or localhost); \
             AcceptGrant and events fail until it is",
        );
        const BAD_GATEWAY: ConfigError = ConfigError(
            "an ALEXA_GATEWAY_<region> setting is not an https URL (or http on 127.0.0.1 or \
             localhost); events to that region fail until it is",
        );
        let url = |name: &str, default: &str, bad: ConfigError| {
            let value = var(name).map(|v| v.trim().trim_end_matches('/').to_owned());
            match value.filter(|v| !v.is_empty()) {
                None => Ok(default.to_owned()),
                Some(v) if crate::provider::allowed_url(&v) => Ok(v),
                Some(_) => Err(bad),
            }
        };
        let gateway = |i: usize| {
            let name = format!("ALEXA_GATEWAY_{}", Region::ALL[i].as_str());
            url(&name, ALEXA_GATEWAYS[i], BAD_GATEWAY)
        };
        let secret = |name| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Self {
            lwa_token_url: url("LWA_TOKEN_URL", LWA_TOKEN_URL, BAD_LWA),
            gateways: [gateway(0), gateway(1), gateway(2)],
            lwa_client: secret("LWA_CLIENT_ID")
                .zip(secret("LWA_CLIENT_SECRET"))
                .map(|(id, secret)| LwaClient {
                    id,
                    secret: LwaClientSecret::new(secret),
                }),
        }
    }

    /// The settings that are set but unusable, for the log.
    pub fn errors(&self) -> impl Iterator<Item = &ConfigError> {
        let gateways = self.gateways.iter().filter_map(|g| g.as_ref().err());
        self.lwa_token_url
            .as_ref()
            .err()
            .into_iter()
            .chain(gateways)
    }

    /// The credentials a client uses at LWA: its own, or the deployment's.
    pub fn lwa_client(&self, client: &ClientRecord) -> Option<LwaClient> {
        match (&client.lwa_client_id, &client.lwa_client_secret) {
            (Some(id), Some(secret)) => Some(LwaClient {
                id: id.clone(),
                secret: secret.clone(),
            }),
            _ => self.lwa_client.clone(),
        }
    }

    fn gateway(&self, region: Region) -> Result<&str, ConfigError> {
        let i = Region::ALL.iter().position(|r| *r == region).unwrap_or(0);
        self.gateways[i].as_deref().map_err(Clone::clone)
    }
}

/// What an AcceptGrant is about: the link our access token names, and
/// where its user's events go.
#[derive(Debug)]
pub struct Acceptance<'a> {
    pub client: &'a ClientRecord,
    pub user: UserId,
    pub grant: GrantId,
    pub region: Region,
    /// AcceptGrant's `grant.code`, LWA's.
    pub code: &'a str,
    pub now: u64,
}

/// Why an AcceptGrant or an event could not be done.
#[derive(Debug)]
pub enum Refused {
    /// A setting is missing or unusable: the operator's to fix.
    Config(&'static str),
    /// LWA refused the AcceptGrant's code.
    Lwa(LwaFailure),
    /// LWA or the gateway did not answer: try again.
    Unavailable(&'static str),
    /// No live event tokens for this user and client.
    NoTokens,
    /// LWA refused the refresh token: the tokens are forgotten, and only a new
    /// AcceptGrant (the user linking again) brings events back.
    ReauthorizationRequired,
    /// The message is not an event the gateway takes.
    BadMessage(&'static str),
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

pub(crate) const NO_LWA_CLIENT: Refused = Refused::Config(
    "the client has no Login with Amazon credentials for events: run `admin client update \
     --id <client> --lwa-client-id <id> --lwa-client-secret-stdin`, or set the secrets \
     LWA_CLIENT_ID and LWA_CLIENT_SECRET",
);

/// Exchanges an AcceptGrant's code at LWA and keeps the refresh token for
/// the link: one KV write, after LWA said yes. The access token goes into
/// this isolate's cache, so the first event needs no refresh.
pub async fn accept_grant<S: Store>(
    store: &S,
    settings: &Settings,
    fetch: &dyn Fetch,
    cache: &EventTokenCache,
    a: &Acceptance<'_>,
) -> Result<(), Refused> {
    let lwa = settings.lwa_client(a.client).ok_or(NO_LWA_CLIENT)?;
    let url = settings
        .lwa_token_url
        .as_deref()
        .map_err(|e| Refused::Config(e.0))?;
    let tokens = match lwa_token(fetch, url, &lwa, LwaGrant::Code(a.code)).await {
        Ok(t) => t,
        Err(LwaFailure::Unavailable(why)) => return Err(Refused::Unavailable(why)),
        Err(refused) => return Err(Refused::Lwa(refused)),
    };
    let refresh_token = tokens
        .refresh_token
        .ok_or(Refused::Lwa(LwaFailure::Refused("no_refresh_token".into())))?;
    let record = EventTokens {
        grant_id: a.grant.clone(),
        region: a.region,
        refresh_token,
        accepted_at: a.now,
        client_generation: a.client.generation,
    };
    let key = keys::alexa_events(&a.user, &a.client.client_id);
    put_json(store, &key, &record, None).await?;
    cache.put(Cached {
        key,
        record: Rc::new(record),
        read_at: a.now,
        access: Some((
            Rc::new(tokens.access_token),
            a.now + tokens.expires_in.saturating_sub(EXPIRY_MARGIN),
        )),
    });
    Ok(())
}

/// The event record at `key`; a damaged one is a store fault.
pub(crate) async fn read_record<S: Store>(
    store: &S,
    key: &str,
) -> Result<Option<EventTokens>, StoreError> {
    match store.get(key).await? {
        None => Ok(None),
        Some(text) => EventTokens::from_json(text.as_bytes())
            .map(Some)
            .ok_or_else(|| StoreError(format!("corrupt record at {key}"))),
    }
}

/// Forgets a link's event tokens: deletes the record of `user` and `client`
/// if it is the one `grant` accepted (a later link of the same pair keeps
/// its own). One read, and a delete where there was one.
pub async fn forget<S: Store>(
    store: &S,
    cache: &EventTokenCache,
    user: &UserId,
    client: &ClientId,
    grant: &GrantId,
) -> Result<(), StoreError> {
    let key = keys::alexa_events(user, client);
    cache.drop_key(&key);
    match read_record(store, &key).await {
        Ok(Some(r)) if r.grant_id != *grant => Ok(()),
        Ok(None) => Ok(()),
        // A damaged record is forgotten too.
        _ => store.delete(&key).await,
    }
}

/// Forgets the event tokens of `grant` when its user is not known (`admin
/// grant revoke` in Durable Object mode, whose grant records are out of its
/// reach): one listing of every event record, one bulk read, a delete for
/// each that names the grant.
pub async fn forget_grant<S: crate::store::Listing>(
    store: &S,
    grant: &GrantId,
) -> Result<(), StoreError> {
    let listed = store.list("alexaevents:").await?;
    let values = store.get_many(&listed).await?;
    for (key, value) in listed.iter().zip(values) {
        let record = value.and_then(|v| EventTokens::from_json(v.as_bytes()));
        if record.is_some_and(|r| r.grant_id == *grant) {
            store.delete(key).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_to_amazon_and_refuse_what_is_not_a_url() {
        let none = Settings::from_vars(&|_| None);
        assert_eq!(none.lwa_token_url.as_deref(), Ok(LWA_TOKEN_URL));
        assert_eq!(none.gateway(Region::Eu), Ok(ALEXA_GATEWAYS[1]));
        assert!(none.lwa_client.is_none() && none.errors().next().is_none());
        let set = Settings::from_vars(&|k| match k {
            "LWA_TOKEN_URL" => Some("http://127.0.0.1:9/token".into()),
            "ALEXA_GATEWAY_FE" => Some("http://evil.example/".into()),
            "LWA_CLIENT_ID" => Some("amzn1.application-oa2-client.x".into()),
            "LWA_CLIENT_SECRET" => Some("s".into()),
            _ => None,
        });
        assert_eq!(set.lwa_token_url.as_deref(), Ok("http://127.0.0.1:9/token"));
        assert!(set.gateway(Region::Fe).is_err(), "plain http elsewhere");
        assert_eq!(set.gateway(Region::Na), Ok(ALEXA_GATEWAYS[0]));
        assert_eq!(set.errors().count(), 1);
        let lwa = set.lwa_client.unwrap();
        assert_eq!(format!("{:?}", lwa.secret), "LwaClientSecret([redacted])");
    }
}
