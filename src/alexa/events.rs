//! Events to Alexa: this isolate's copies of event records and LWA access
//! tokens, and each event sent to its user's gateway with a token in it.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::Value;

use super::lwa::{lwa_token, LwaFailure, LwaGrant};
use super::{read_record, Refused, Settings, EXPIRY_MARGIN, NO_LWA_CLIENT, RECORD_CACHE_SECONDS};
use crate::outbound::{Answer, Call, Fetch, FetchError};
use crate::store::{keys, put_json, ClientRecord, EventTokens, Store};
use crate::types::{LwaAccessToken, UserId};

/// This isolate's copies of event records and LWA access tokens, by client
/// and user. Never borrowed across an `.await`: requests share the isolate.
#[derive(Default)]
pub struct EventTokenCache {
    entries: RefCell<Vec<Cached>>,
}

/// How many users' tokens an isolate keeps before it starts again.
const CACHE_ENTRIES: usize = 1024;

#[derive(Clone)]
pub(super) struct Cached {
    pub(super) key: String,
    pub(super) record: Rc<EventTokens>,
    pub(super) read_at: u64,
    pub(super) access: Option<(Rc<LwaAccessToken>, u64)>,
}

impl EventTokenCache {
    pub(super) fn get(&self, key: &str) -> Option<Cached> {
        let entries = self.entries.borrow();
        entries.iter().find(|c| c.key == key).cloned()
    }

    pub(super) fn put(&self, entry: Cached) {
        let mut entries = self.entries.borrow_mut();
        entries.retain(|c| c.key != entry.key);
        if entries.len() >= CACHE_ENTRIES {
            entries.clear();
        }
        entries.push(entry);
    }

    pub(super) fn drop_key(&self, key: &str) {
        self.entries.borrow_mut().retain(|c| c.key != key);
    }
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
}
