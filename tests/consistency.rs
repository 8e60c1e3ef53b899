//! What Workers KV's eventual consistency allows, shown on a store with two
//! locations where a write is seen at once where it was made and only after
//! `DELAY` seconds elsewhere (KV's propagation takes up to about 60 s).
//!
//! - A code replayed at another location within the delay is redeemed twice:
//!   both answers get tokens for the same grant id, and the later write wins,
//!   so one answer's refresh token stops working. After the delay a replay is
//!   refused and revokes the grant. Codes expire after 5 minutes, so the window
//!   is the smaller of the propagation delay and the code's remaining life.
//! - Two refreshes with one token at two locations within the delay both
//!   succeed; afterwards exactly one of the two new refresh tokens works, so
//!   the client holding the other is stranded. Alexa refreshes one account
//!   from one place at a time, so this takes a leaked refresh token.
//!
//! The Durable Object store (issue 7) closes both; KV keeps them bounded.

mod common;

use std::cell::{Cell, RefCell};

use alexa_oauth::grant::RevocationCache;
use alexa_oauth::http::{Method, Request, Response};
use alexa_oauth::store::{Store, StoreError};
use alexa_oauth::{handle, Ctx};
use common::*;
use pollster::block_on;
use serde_json::Value;

const DELAY: u64 = 60;

/// One KV namespace, written from several locations.
#[derive(Default)]
struct Replicated {
    /// (written at, by location, key, value), in write order.
    writes: RefCell<Vec<(u64, usize, String, String)>>,
}

struct Location<'a> {
    kv: &'a Replicated,
    id: usize,
    now: &'a Cell<u64>,
}

impl Store for Location<'_> {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let now = self.now.get();
        Ok(self
            .kv
            .writes
            .borrow()
            .iter()
            .rev()
            .find(|(at, by, k, _)| k == key && (*by == self.id || at + DELAY <= now))
            .map(|(_, _, _, v)| v.clone()))
    }
    async fn put(&self, key: &str, value: String, _: Option<u64>) -> Result<(), StoreError> {
        let at = self.now.get();
        self.kv
            .writes
            .borrow_mut()
            .push((at, self.id, key.to_owned(), value));
        Ok(())
    }
}

/// Two locations over one namespace, seeded from the common test server.
struct World {
    kv: Replicated,
    seed: Server,
    revocations: [RevocationCache; 2],
}

impl World {
    fn new() -> World {
        let seed = Server::new();
        let kv = Replicated::default();
        for (k, v) in seed.store.dump() {
            kv.writes.borrow_mut().push((0, 0, k, v));
        }
        World {
            kv,
            seed,
            revocations: Default::default(),
        }
    }

    fn send(&self, location: usize, req: Request) -> Response {
        let store = Location {
            kv: &self.kv,
            id: location,
            now: &self.seed.now,
        };
        let ctx = Ctx {
            store: &store,
            config: &self.seed.config,
            now: self.seed.now.get(),
            rng: &self.seed.rng,
            revocations: &self.revocations[location],
        };
        block_on(handle(&req, &ctx))
    }

    fn token(&self, location: usize, body: &str) -> (u16, Value) {
        let r = self.send(
            location,
            Request::new(Method::Post, "/token")
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_body(format!("{body}&client_id=alexa&client_secret={SECRET}")),
        );
        (r.status, serde_json::from_slice(&r.body).unwrap())
    }

    /// A code issued at location 0, long enough ago that location 1 sees it.
    fn code(&self) -> String {
        let saved: Vec<_> = self.kv.writes.borrow().clone();
        let code = self.seed.code("");
        // The login wrote to the seed's memory store; replay its new records here.
        for (k, v) in self.seed.store.dump() {
            if !saved.iter().any(|(_, _, sk, sv)| *sk == k && *sv == v) {
                self.kv
                    .writes
                    .borrow_mut()
                    .push((self.seed.now.get(), 0, k, v));
            }
        }
        code
    }

    fn advance(&self, secs: u64) {
        self.seed.now.set(self.seed.now.get() + secs);
    }
}

#[test]
fn a_code_replayed_elsewhere_within_the_propagation_delay_is_redeemed_twice() {
    let w = World::new();
    let code = w.code();
    w.advance(DELAY); // location 1 now sees the code
    let (a, first) = w.token(0, &exchange(&code));
    w.advance(DELAY / 2);
    let (b, second) = w.token(1, &exchange(&code));
    assert_eq!((a, b), (200, 200), "the hole: both redemptions succeed");
    // Same grant, and only the later answer's refresh token survives.
    let gid = |v: &Value| {
        v["refresh_token"]
            .as_str()
            .unwrap()
            .split('.')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(gid(&first), gid(&second));
    w.advance(DELAY);
    let refresh = |v: &Value| {
        format!(
            "grant_type=refresh_token&refresh_token={}",
            v["refresh_token"].as_str().unwrap()
        )
    };
    assert_eq!(w.token(0, &refresh(&first)).0, 400);
    assert_eq!(w.token(0, &refresh(&second)).0, 200);
}

#[test]
fn after_the_propagation_delay_a_replay_is_refused_and_revokes_the_grant() {
    let w = World::new();
    let code = w.code();
    w.advance(DELAY);
    let (status, tokens) = w.token(0, &exchange(&code));
    assert_eq!(status, 200);
    w.advance(DELAY); // the spent code is now seen everywhere
    let (status, e) = w.token(1, &exchange(&code));
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    w.advance(DELAY);
    let rt = tokens["refresh_token"].as_str().unwrap();
    let (status, _) = w.token(0, &format!("grant_type=refresh_token&refresh_token={rt}"));
    assert_eq!(status, 400, "the replay revoked the grant everywhere");
}

#[test]
fn concurrent_refreshes_at_two_locations_leave_one_working_token() {
    let w = World::new();
    let code = w.code();
    w.advance(DELAY);
    let (_, linked) = w.token(0, &exchange(&code));
    w.advance(DELAY);
    let rt = linked["refresh_token"].as_str().unwrap().to_owned();
    let body = format!("grant_type=refresh_token&refresh_token={rt}");
    let (a, ra) = w.token(0, &body);
    let (b, rb) = w.token(1, &body);
    assert_eq!((a, b), (200, 200));
    w.advance(DELAY);
    let works = |v: &Value| {
        let rt = v["refresh_token"].as_str().unwrap();
        w.token(0, &format!("grant_type=refresh_token&refresh_token={rt}"))
            .0
            == 200
    };
    // Checked in this order: the first check's success would retire the other.
    let (wa, wb) = (works(&ra), works(&rb));
    assert!(
        wa ^ wb,
        "exactly one of the two new refresh tokens works ({wa}, {wb})"
    );
}
