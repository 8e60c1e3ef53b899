//! A stand-in for Amazon's side of events in native tests: Login with Amazon's
//! token endpoint at [`LWA`] (codes from AcceptGrant, refresh tokens) and the
//! three event gateways at [`GATEWAYS`], with switchable misbehaviours. The
//! end-to-end tests run a real HTTP stand-in (`tests/e2e/amazon-stand-in.mjs`).

use std::cell::{Cell, RefCell};
use std::collections::HashSet;

use serde_json::{json, Value};

use crate::form::Params;
use crate::outbound::{Answer, Call, FetchError};

/// Where the stand-in's LWA token endpoint is.
pub const LWA: &str = "https://lwa.test/auth/o2/token";
/// The gateways of NA, EU and FE.
pub const GATEWAYS: [&str; 3] = [
    "https://na.gateway.test",
    "https://eu.gateway.test",
    "https://fe.gateway.test",
];
/// The skill's "Send Alexa Events" client at LWA.
pub const EVENTS_CLIENT_ID: &str = "amzn1.application-oa2-client.events";
pub const EVENTS_CLIENT_SECRET: &str = "lwa-events-secret-never-logged";

/// One event a gateway took.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// Which gateway: `na`, `eu` or `fe`.
    pub region: &'static str,
    pub authorization: String,
    pub message: Value,
}

#[derive(Default)]
pub struct Amazon {
    /// AcceptGrant codes LWA will take once.
    codes: RefCell<HashSet<String>>,
    /// Refresh tokens LWA takes.
    refresh_tokens: RefCell<HashSet<String>>,
    /// Access tokens the gateways take.
    access_tokens: RefCell<HashSet<String>>,
    issued: Cell<u32>,
    /// Every call to LWA's token endpoint, by grant type.
    pub lwa_calls: RefCell<Vec<String>>,
    pub delivered: RefCell<Vec<Delivered>>,
    /// LWA hands out a new refresh token at each refresh.
    pub rotate: Cell<bool>,
    /// LWA answers 5xx.
    pub lwa_down: Cell<bool>,
    /// No gateway answers in time.
    pub gateway_slow: Cell<bool>,
}

impl Amazon {
    /// A code as Alexa's AcceptGrant carries it.
    pub fn grant_code(&self) -> String {
        let code = format!("ANcode{}", self.next());
        self.codes.borrow_mut().insert(code.clone());
        code
    }

    /// What the user disabling the skill does: LWA forgets every token.
    pub fn forget_everything(&self) {
        self.refresh_tokens.borrow_mut().clear();
        self.access_tokens.borrow_mut().clear();
    }

    /// The gateways stop taking the access tokens handed out so far (their
    /// hour is over).
    pub fn expire_access_tokens(&self) {
        self.access_tokens.borrow_mut().clear();
    }

    fn next(&self) -> u32 {
        self.issued.set(self.issued.get() + 1);
        self.issued.get()
    }

    fn tokens(&self, refresh: Option<String>) -> Answer {
        let access = format!("Atza|access{}", self.next());
        self.access_tokens.borrow_mut().insert(access.clone());
        let refresh = refresh.unwrap_or_else(|| format!("Atzr|refresh{}", self.next()));
        self.refresh_tokens.borrow_mut().insert(refresh.clone());
        answer(
            200,
            json!({"access_token": access, "refresh_token": refresh,
                   "token_type": "bearer", "expires_in": 3600}),
        )
    }

    fn token(&self, call: &Call) -> Answer {
        let form = Params::parse(call.body.as_deref().unwrap_or("").as_bytes()).unwrap_or_default();
        let grant_type = form.get("grant_type").unwrap_or("").to_owned();
        self.lwa_calls.borrow_mut().push(grant_type.clone());
        if self.lwa_down.get() {
            return answer(503, json!({}));
        }
        let form_encoded = call.headers.iter().any(|(n, v)| {
            *n == "content-type" && v.starts_with("application/x-www-form-urlencoded")
        });
        if !form_encoded
            || form.get("client_id") != Some(EVENTS_CLIENT_ID)
            || form.get("client_secret") != Some(EVENTS_CLIENT_SECRET)
        {
            return answer(401, json!({"error": "invalid_client"}));
        }
        let invalid = answer(
            400,
            json!({"error": "invalid_grant",
                                         "error_description": "The request has an invalid grant parameter"}),
        );
        match grant_type.as_str() {
            "authorization_code" => match form.get("code") {
                Some(c) if self.codes.borrow_mut().remove(c) => self.tokens(None),
                _ => invalid,
            },
            "refresh_token" => match form.get("refresh_token") {
                Some(r) if self.refresh_tokens.borrow().contains(r) => {
                    let keep = (!self.rotate.get()).then(|| r.to_owned());
                    self.tokens(keep)
                }
                _ => invalid,
            },
            _ => answer(400, json!({"error": "unsupported_grant_type"})),
        }
    }

    fn gateway(&self, region: &'static str, call: &Call) -> Result<Answer, FetchError> {
        if self.gateway_slow.get() {
            return Err(FetchError::TimedOut);
        }
        let authorization = call
            .headers
            .iter()
            .find(|(n, _)| *n == "authorization")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let token = authorization.strip_prefix("Bearer ").unwrap_or("");
        let message: Value =
            serde_json::from_str(call.body.as_deref().unwrap_or("")).unwrap_or_default();
        let event = &message["event"];
        let scoped = event["endpoint"]["scope"]["token"]
            .as_str()
            .or(event["payload"]["scope"]["token"].as_str());
        if !self.access_tokens.borrow().contains(token) || scoped != Some(token) {
            return Ok(answer(
                401,
                json!({"header": {"name": "ErrorResponse"},
                       "payload": {"code": "INVALID_ACCESS_TOKEN_EXCEPTION"}}),
            ));
        }
        self.delivered.borrow_mut().push(Delivered {
            region,
            authorization,
            message,
        });
        Ok(Answer {
            status: 202,
            body: Vec::new(),
        })
    }

    /// Answers `call` if it is addressed to Amazon.
    pub fn fetch(&self, call: &Call) -> Option<Result<Answer, FetchError>> {
        if call.url == LWA {
            return Some(Ok(self.token(call)));
        }
        let i = GATEWAYS
            .iter()
            .position(|g| call.url == format!("{g}/v3/events"))?;
        Some(self.gateway(["na", "eu", "fe"][i], call))
    }
}

fn answer(status: u16, body: Value) -> Answer {
    Answer {
        status,
        body: body.to_string().into_bytes(),
    }
}
