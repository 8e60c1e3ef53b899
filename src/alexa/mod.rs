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

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::Value;

use crate::config::ConfigError;
use crate::form::encode_pairs;
use crate::store::{keys, put_json, ClientRecord, EventTokens, Store, StoreError};
use crate::types::{
    ClientId, GrantId, LwaAccessToken, LwaClientSecret, LwaRefreshToken, Region, UserId,
};
use crate::upstream::{Answer, Call, Fetch, FetchError};

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
const EXPIRY_MARGIN: u64 = 60;

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
                Some(v) if crate::upstream::allowed_url(&v) => Ok(v),
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

/// What LWA answered a token request with.
#[derive(Debug)]
struct LwaTokens {
    access_token: LwaAccessToken,
    refresh_token: Option<LwaRefreshToken>,
    expires_in: u64,
}

/// Why LWA gave no tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LwaFailure {
    /// LWA refused (RFC 6749 §5.2): `invalid_grant` for a spent or dead
    /// code or refresh token, `invalid_client` for the wrong credentials.
    /// The code is LWA's, kept to a short token of letters and `_`.
    Refused(String),
    /// No answer in time, a 5xx, or one that is not a token answer.
    Unavailable(&'static str),
}

/// What a token request to LWA is for.
enum LwaGrant<'a> {
    Code(&'a str),
    Refresh(&'a LwaRefreshToken),
}

/// A token request to LWA (RFC 6749 §4.1.3, §6), form-encoded with the
/// credentials in the body, as LWA takes them.
async fn lwa_token(
    fetch: &dyn Fetch,
    url: &str,
    client: &LwaClient,
    grant: LwaGrant<'_>,
) -> Result<LwaTokens, LwaFailure> {
    let (grant_type, name, value) = match grant {
        LwaGrant::Code(code) => ("authorization_code", "code", code),
        LwaGrant::Refresh(token) => ("refresh_token", "refresh_token", token.secret()),
    };
    let body = encode_pairs(&[
        ("grant_type", grant_type),
        (name, value),
        ("client_id", &client.id),
        ("client_secret", client.secret.secret()),
    ]);
    let call = Call {
        post: true,
        url: url.to_owned(),
        headers: vec![
            (
                "content-type",
                "application/x-www-form-urlencoded;charset=UTF-8".to_owned(),
            ),
            ("accept", "application/json".to_owned()),
        ],
        body: Some(body),
    };
    let answer = fetch.fetch(call).await.map_err(|e| {
        LwaFailure::Unavailable(match e {
            FetchError::TimedOut => "Login with Amazon did not answer in time",
            FetchError::Failed => "Login with Amazon could not be reached",
        })
    })?;
    // Read as a `Value`, as every provider's answer is (`upstream::client`):
    // a typed reader per answer costs the wasm more.
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
    match answer.status {
        200 => Ok(LwaTokens {
            access_token: LwaAccessToken::new(text("access_token").ok_or(
                LwaFailure::Unavailable("Login with Amazon's answer is not a token answer"),
            )?),
            refresh_token: text("refresh_token").map(LwaRefreshToken::new),
            expires_in: body
                .get("expires_in")
                .and_then(Value::as_u64)
                .unwrap_or(3600),
        }),
        400..=499 => {
            let code: String = text("error")
                .unwrap_or_default()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(40)
                .collect();
            Err(LwaFailure::Refused(if code.is_empty() {
                format!("HTTP {}", answer.status)
            } else {
                code
            }))
        }
        _ => Err(LwaFailure::Unavailable(
            "Login with Amazon failed to answer (HTTP 5xx)",
        )),
    }
}

/// This isolate's copies of event records and LWA access tokens, by client
/// and user. Never borrowed across an `.await`: requests share the isolate.
#[derive(Default)]
pub struct EventTokenCache {
    entries: RefCell<Vec<Cached>>,
}

/// How many users' tokens an isolate keeps before it starts again.
const CACHE_ENTRIES: usize = 1024;

#[derive(Clone)]
struct Cached {
    key: String,
    record: Rc<EventTokens>,
    read_at: u64,
    access: Option<(Rc<LwaAccessToken>, u64)>,
}

impl EventTokenCache {
    fn get(&self, key: &str) -> Option<Cached> {
        let entries = self.entries.borrow();
        entries.iter().find(|c| c.key == key).cloned()
    }

    fn put(&self, entry: Cached) {
        let mut entries = self.entries.borrow_mut();
        entries.retain(|c| c.key != entry.key);
        if entries.len() >= CACHE_ENTRIES {
            entries.clear();
        }
        entries.push(entry);
    }

    fn drop_key(&self, key: &str) {
        self.entries.borrow_mut().retain(|c| c.key != key);
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

const NO_LWA_CLIENT: Refused = Refused::Config(
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

/// One event to send.
#[derive(Debug)]
pub struct Event<'a> {
    pub client: &'a ClientRecord,
    pub user: UserId,
    /// `{"event": …, "context": …}`, as the gateway takes it.
    pub message: Value,
    pub now: u64,
}

/// What the runtime and the store give [`send_event`].
pub struct Reach<'a, S> {
    pub store: &'a S,
    pub settings: &'a Settings,
    pub fetch: &'a dyn Fetch,
    pub cache: &'a EventTokenCache,
    pub revocations: &'a crate::grant::RevocationCache,
}

/// Sends an event to the gateway of its user's region with an LWA access
/// token in it, and gives back the gateway's answer. A `401` from the
/// gateway gets one retry with a fresh token.
pub async fn send_event<S: Store>(r: &Reach<'_, S>, mut e: Event<'_>) -> Result<Answer, Refused> {
    // The message is checked before anything is read or fetched.
    place_scope(&mut e.message, "")?;
    let key = keys::alexa_events(&e.user, &e.client.client_id);
    let mut entry = match r.cache.get(&key) {
        Some(c) if e.now < c.read_at + RECORD_CACHE_SECONDS => c,
        cached => {
            let Some(record) = read_record(r.store, &key).await? else {
                r.cache.drop_key(&key);
                return Err(Refused::NoTokens);
            };
            // The access token still goes with the refresh token it came from.
            let access = cached.and_then(|c| {
                let same = c.record.refresh_token.secret() == record.refresh_token.secret();
                same.then_some(c.access).flatten()
            });
            Cached {
                key: key.clone(),
                record: Rc::new(record),
                read_at: e.now,
                access,
            }
        }
    };
    let live = entry.record.client_generation == e.client.generation
        && !r
            .revocations
            .is_revoked(r.store, entry.record.grant_id.as_str(), e.now)
            .await?;
    if !live {
        r.cache.drop_key(&key);
        r.store.delete(&key).await?;
        return Err(Refused::NoTokens);
    }
    let gateway = r
        .settings
        .gateway(entry.record.region)
        .map_err(|e| Refused::Config(e.0))?;
    let url = format!("{gateway}/v3/events");
    let mut refreshed = false;
    loop {
        let token = match &entry.access {
            Some((token, until)) if e.now < *until && !refreshed => token.clone(),
            _ => {
                refreshed = true;
                refresh(r, &mut entry, &e).await?
            }
        };
        r.cache.put(entry.clone());
        place_scope(&mut e.message, token.secret())?;
        let call = Call {
            post: true,
            url: url.clone(),
            headers: vec![
                ("content-type", "application/json".to_owned()),
                ("authorization", format!("Bearer {}", token.secret())),
            ],
            body: Some(e.message.to_string()),
        };
        let answer = r.fetch.fetch(call).await.map_err(|f| {
            Refused::Unavailable(match f {
                FetchError::TimedOut => "the Alexa event gateway did not answer in time",
                FetchError::Failed => "the Alexa event gateway could not be reached",
            })
        })?;
        // The gateway refused the token: one fresh one, once.
        if answer.status == 401 && !refreshed {
            entry.access = None;
            continue;
        }
        return Ok(answer);
    }
}

/// A new LWA access token for `entry`, kept in it. LWA refusing the refresh token ends
/// the tokens; a new refresh token from LWA is written back.
async fn refresh<S: Store>(
    r: &Reach<'_, S>,
    entry: &mut Cached,
    e: &Event<'_>,
) -> Result<Rc<LwaAccessToken>, Refused> {
    let lwa = r.settings.lwa_client(e.client).ok_or(NO_LWA_CLIENT)?;
    let url = r
        .settings
        .lwa_token_url
        .as_deref()
        .map_err(|e| Refused::Config(e.0))?;
    let grant = LwaGrant::Refresh(&entry.record.refresh_token);
    match lwa_token(r.fetch, url, &lwa, grant).await {
        Ok(tokens) => {
            if let Some(new) = tokens
                .refresh_token
                .filter(|t| t.secret() != entry.record.refresh_token.secret())
            {
                let mut record = (*entry.record).clone();
                record.refresh_token = new;
                put_json(r.store, &entry.key, &record, None).await?;
                entry.record = Rc::new(record);
            }
            let until = e.now + tokens.expires_in.saturating_sub(EXPIRY_MARGIN);
            let token = Rc::new(tokens.access_token);
            entry.access = Some((token.clone(), until));
            Ok(token)
        }
        Err(LwaFailure::Refused(code)) if code == "invalid_grant" => {
            r.cache.drop_key(&entry.key);
            r.store.delete(&entry.key).await?;
            Err(Refused::ReauthorizationRequired)
        }
        // The skill's own credentials are wrong: the operator's to fix, and
        // the tokens stay.
        Err(LwaFailure::Refused(_)) => Err(Refused::Config(
            "Login with Amazon refused the client's credentials for events: check the \
             client's --lwa-client-id and secret (or LWA_CLIENT_ID and LWA_CLIENT_SECRET)",
        )),
        Err(LwaFailure::Unavailable(why)) => Err(Refused::Unavailable(why)),
    }
}

/// Puts `token` where the gateway looks for it: `event.payload.scope` in a
/// Discovery report (`AddOrUpdateReport`, `DeleteReport`), otherwise
/// `event.endpoint.scope` (a `ChangeReport`, a doorbell press, …). A
/// `scope` the message has is replaced. The message is a [`Value`], which
/// the wasm has anyway: typed readers for each part cost it more.
fn place_scope(message: &mut Value, token: &str) -> Result<(), Refused> {
    let event = message
        .get_mut("event")
        .filter(|e| e.is_object())
        .ok_or(Refused::BadMessage("message.event must be an object"))?;
    let discovery =
        event.pointer("/header/namespace").and_then(Value::as_str) == Some("Alexa.Discovery");
    let (holder, missing) = if discovery {
        (
            "payload",
            "a Discovery report needs the object event.payload",
        )
    } else {
        ("endpoint", "this event needs the object event.endpoint")
    };
    let slot = event
        .get_mut(holder)
        .and_then(Value::as_object_mut)
        .ok_or(Refused::BadMessage(missing))?;
    let mut scope = serde_json::Map::new();
    scope.insert("type".to_owned(), Value::from("BearerToken"));
    scope.insert("token".to_owned(), Value::from(token));
    slot.insert("scope".to_owned(), Value::Object(scope));
    Ok(())
}

/// The event record at `key`; a damaged one is a store fault.
async fn read_record<S: Store>(store: &S, key: &str) -> Result<Option<EventTokens>, StoreError> {
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
pub async fn forget_grant<S: crate::store::Keys>(
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
    use serde_json::json;

    #[test]
    fn the_token_goes_where_each_kind_of_event_wants_it() {
        let mut change = json!({"event": {"header": {"namespace": "Alexa", "name": "ChangeReport"},
            "endpoint": {"endpointId": "lamp", "n": 1.5e3}, "payload": {}}, "context": {"p": [1, 2.25]}});
        place_scope(&mut change, "Atza|t").unwrap();
        let scope = &change["event"]["endpoint"]["scope"];
        assert_eq!(
            (scope["type"].as_str(), scope["token"].as_str()),
            (Some("BearerToken"), Some("Atza|t"))
        );
        assert!(change["event"]["payload"].get("scope").is_none());
        assert_eq!(change["context"]["p"][1], 2.25, "the rest as it was");

        let mut discovery = json!({"event": {"header": {"namespace": "Alexa.Discovery",
            "name": "AddOrUpdateReport"}, "payload": {"endpoints": []}}});
        place_scope(&mut discovery, "Atza|t").unwrap();
        assert_eq!(discovery["event"]["payload"]["scope"]["token"], "Atza|t");
        // A scope the message has is replaced.
        let mut scoped = json!({"event": {"endpoint": {"scope": {"token": "old"}}}});
        place_scope(&mut scoped, "new").unwrap();
        assert_eq!(scoped["event"]["endpoint"]["scope"]["token"], "new");

        for bad in [
            json!({}),
            json!([]),
            json!({"event": 3}),
            json!({"event": {"header": {"namespace": "Alexa"}}}),
            json!({"event": {"endpoint": [1]}}),
            json!({"event": {"header": {"namespace": "Alexa.Discovery"}, "endpoint": {}}}),
        ] {
            let mut bad = bad;
            assert!(
                matches!(place_scope(&mut bad, "t"), Err(Refused::BadMessage(_))),
                "{bad}"
            );
        }
    }

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
