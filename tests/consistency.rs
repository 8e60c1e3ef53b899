//! What Workers KV's eventual consistency allows, shown on a store with two
//! locations where a write is seen at once where it was made and only after
//! `DELAY` seconds elsewhere (KV's propagation takes up to about 60 s).
//!
//! - A code replayed at another location within the delay is redeemed twice,
//!   but both answers carry the same grant and the same refresh token (it is
//!   derived from the code), so whichever the client keeps works. After the
//!   delay a replay is refused and revokes the grant.
//! - Two refreshes with one token at two locations within the delay both
//!   succeed with the same new token.
//! - A location that has not seen the last rotation accepts the token that
//!   followed, and the chain goes on wherever the client is.
//! - A refresh at a location that has not seen a revocation may answer once;
//!   the grant stays revoked all the same.
//!
//! The Durable Object store closes the first window altogether.

use std::cell::{Cell, RefCell};

use alexa_oauth::grant::{kv::HoldsGrants, RevocationCache};
use alexa_oauth::http::{Method, Request, Response};
use alexa_oauth::store::{Store, StoreError};
use alexa_oauth::testing::*;
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

impl HoldsGrants for Location<'_> {}

/// Two locations over one namespace, seeded from the common test server.
struct World {
    kv: Replicated,
    seed: Server,
    revocations: [RevocationCache; 2],
}

impl World {
    fn new() -> Self {
        // Client records read every time, as each location would.
        let seed = Server::without_client_cache();
        let kv = Replicated::default();
        for (k, v) in seed.store.dump() {
            kv.writes.borrow_mut().push((0, 0, k, v));
        }
        Self {
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
        self.seed.send_on(&store, &self.revocations[location], req)
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

fn refresh_body(v: &Value) -> String {
    format!(
        "grant_type=refresh_token&refresh_token={}",
        v["refresh_token"].as_str().unwrap()
    )
}

#[test]
fn a_code_replayed_elsewhere_within_the_propagation_delay_gives_the_same_tokens() {
    let w = World::new();
    let code = w.code();
    w.advance(DELAY); // location 1 now sees the code
    let (a, first) = w.token(0, &exchange(&code));
    w.advance(DELAY / 2);
    let (b, second) = w.token(1, &exchange(&code));
    assert_eq!((a, b), (200, 200), "both redemptions get through...");
    assert_eq!(
        first["refresh_token"], second["refresh_token"],
        "...with one and the same refresh token"
    );
    w.advance(DELAY);
    let (status, next) = w.token(0, &refresh_body(&first));
    assert_eq!(status, 200, "{next}");
    let (status, _) = w.token(1, &refresh_body(&next));
    assert_eq!(status, 200);
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
    let (status, _) = w.token(0, &refresh_body(&tokens));
    assert_eq!(status, 400, "the replay revoked the grant everywhere");
}

#[test]
fn concurrent_refreshes_at_two_locations_give_the_same_token() {
    let w = World::new();
    let code = w.code();
    w.advance(DELAY);
    let (_, linked) = w.token(0, &exchange(&code));
    w.advance(DELAY);
    let (a, ra) = w.token(0, &refresh_body(&linked));
    let (b, rb) = w.token(1, &refresh_body(&linked));
    assert_eq!((a, b), (200, 200));
    assert_eq!(ra["refresh_token"], rb["refresh_token"]);
    w.advance(DELAY);
    let (status, _) = w.token(0, &refresh_body(&ra));
    assert_eq!(status, 200);
}

#[test]
fn a_location_that_has_not_seen_the_last_rotations_accepts_what_followed() {
    let w = World::new();
    let code = w.code();
    w.advance(DELAY);
    let (_, t1) = w.token(0, &exchange(&code));
    w.advance(DELAY);
    // Two rotations at location 0; location 1 still sees t1 as current.
    let (_, t2) = w.token(0, &refresh_body(&t1));
    let (_, t3) = w.token(0, &refresh_body(&t2));
    let (status, t4) = w.token(1, &refresh_body(&t3));
    assert_eq!(status, 200, "{t4}");
    // Location 1's write (from its stale read) lands last; the chain goes on.
    w.advance(DELAY);
    for location in [0, 1] {
        let (status, _) = w.token(location, &refresh_body(&t4));
        assert_eq!(status, 200, "location {location}");
    }
}

#[test]
fn a_refresh_that_has_not_seen_a_revocation_does_not_undo_it() {
    let w = World::new();
    let code = w.code();
    w.advance(DELAY);
    let (_, t1) = w.token(0, &exchange(&code));
    w.advance(DELAY);
    let rt = t1["refresh_token"].as_str().unwrap();
    let r = w.send(
        0,
        Request::new(Method::Post, "/revoke")
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body(format!("token={rt}&client_id=alexa&client_secret={SECRET}")),
    );
    assert_eq!(r.status, 200);
    // Location 1 has not seen the tombstone: one more answer is allowed...
    let (status, t2) = w.token(1, &refresh_body(&t1));
    assert_eq!(status, 200);
    // ...but its grant write does not bring the grant back.
    w.advance(DELAY);
    for (location, t) in [(0, &t1), (1, &t2), (0, &t2)] {
        let (status, _) = w.token(location, &refresh_body(t));
        assert_eq!(status, 400, "location {location}");
    }
}
