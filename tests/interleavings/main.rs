//! Concurrent requests on a store that interleaves their storage operations, on
//! both stores (KV, and Durable Objects where each object call is one step).
//!
//! Every storage operation of a request is a point where another request may
//! run. [`explore`] runs two requests through every ordering of their steps;
//! [`reads_first`] runs many at once with every read before any write (what a
//! burst on KV does). After each run the test checks what a client would see:
//! that the holder of either answer stays linked, that no second grant exists,
//! and that no revocation is undone.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use alexa_oauth::grant::durable::DurableGrants;
use alexa_oauth::grant::RevocationCache;
use alexa_oauth::http::{Method, Request, Response};
use alexa_oauth::store::{MemoryStore, Store};
use alexa_oauth::testing::*;

mod scheduler;

use alexa_oauth::{handle, Ctx};
use pollster::block_on;
use scheduler::{Chooser, Gated, GatedObjects, Scheduler, Step};
use serde_json::Value;

#[derive(Clone, Copy, Debug)]
enum Mode {
    Kv,
    Objects,
}

/// A copy of a server's state that requests can be run against.
struct World<'a> {
    base: &'a Server,
    kv: MemoryStore,
    objects: Option<LocalObjects>,
}

fn copy(store: &MemoryStore) -> MemoryStore {
    let fresh = MemoryStore::default();
    for (k, v) in store.dump() {
        block_on(fresh.put(&k, v, None)).unwrap();
    }
    fresh
}

impl<'a> World<'a> {
    fn of(base: &'a Server) -> Self {
        World {
            base,
            kv: copy(&base.store),
            objects: base.objects.as_ref().map(|o| {
                let objects = LocalObjects::new(&base.config);
                for (gid, store) in o.0.borrow().iter() {
                    objects
                        .0
                        .borrow_mut()
                        .insert(gid.clone(), std::rc::Rc::new(copy(store)));
                }
                objects
            }),
        }
    }

    fn ctx<'s, S>(&'s self, store: &'s S, cache: &'s RevocationCache) -> Ctx<'s, S> {
        self.base.ctx(store, cache)
    }

    /// One request on its own, after the race.
    fn send(&self, req: Request) -> Response {
        let cache = RevocationCache::default();
        match &self.objects {
            None => block_on(handle(&req, &self.ctx(&self.kv, &cache))),
            Some(objects) => {
                let store = DurableGrants {
                    kv: &self.kv,
                    objects,
                };
                block_on(handle(&req, &self.ctx(&store, &cache)))
            }
        }
    }

    /// Runs `reqs` at once; `choose` picks, among the requests waiting for a
    /// storage step, which one takes it. Each request has its own isolate
    /// (revocation cache).
    fn race(&self, reqs: &[Request], choose: &mut Chooser) -> Vec<Response> {
        let sched = Scheduler::default();
        sched.waiting.borrow_mut().resize(reqs.len(), None);
        let caches: Vec<RevocationCache> = reqs.iter().map(|_| Default::default()).collect();
        let gated: Vec<Gated> = (0..reqs.len())
            .map(|id| Gated {
                kv: &self.kv,
                sched: &sched,
                id,
            })
            .collect();
        let objects: Vec<Option<GatedObjects>> = (0..reqs.len())
            .map(|id| {
                self.objects.as_ref().map(|objects| GatedObjects {
                    objects,
                    sched: &sched,
                    id,
                })
            })
            .collect();
        let stores: Vec<Option<DurableGrants<Gated, GatedObjects>>> = objects
            .iter()
            .zip(&gated)
            .map(|(o, kv)| o.as_ref().map(|objects| DurableGrants { kv, objects }))
            .collect();
        let kv_ctxs: Vec<Ctx<Gated>> = (0..reqs.len())
            .map(|i| self.ctx(&gated[i], &caches[i]))
            .collect();
        let object_ctxs: Vec<Option<Ctx<DurableGrants<Gated, GatedObjects>>>> = (0..reqs.len())
            .map(|i| stores[i].as_ref().map(|s| self.ctx(s, &caches[i])))
            .collect();
        let mut futures: Vec<Pin<Box<dyn Future<Output = Response> + '_>>> = Vec::new();
        for (i, req) in reqs.iter().enumerate() {
            futures.push(match &object_ctxs[i] {
                None => Box::pin(handle(req, &kv_ctxs[i])),
                Some(ctx) => Box::pin(handle(req, ctx)),
            });
        }
        let mut done: Vec<Option<Response>> = reqs.iter().map(|_| None).collect();
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            for (i, f) in futures.iter_mut().enumerate() {
                if done[i].is_none() {
                    if let Poll::Ready(r) = f.as_mut().poll(&mut cx) {
                        done[i] = Some(r);
                    }
                }
            }
            let waiting: Vec<(usize, Step)> = sched
                .waiting
                .borrow()
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.map(|s| (i, s)))
                .filter(|(i, _)| done[*i].is_none())
                .collect();
            if waiting.is_empty() {
                break;
            }
            let pick = choose(&waiting);
            sched.allowed.set(Some(waiting[pick].0));
        }
        drop(futures);
        done.into_iter().map(|r| r.expect("finished")).collect()
    }

    fn grant_records(&self) -> usize {
        let count = |s: &MemoryStore| {
            s.dump()
                .iter()
                .filter(|(k, _)| k.starts_with("grant:"))
                .count()
        };
        count(&self.kv)
            + self
                .objects
                .as_ref()
                .map_or(0, |o| o.0.borrow().values().map(|s| count(s)).sum())
    }

    fn refresh(&self, rt: &str) -> (u16, Value) {
        let r = self.send(refresh_request(rt));
        (r.status, serde_json::from_slice(&r.body).unwrap())
    }

    fn userinfo(&self, access: &str) -> u16 {
        self.send(
            Request::new(Method::Get, "/userinfo")
                .with_header("authorization", &format!("Bearer {access}")),
        )
        .status
    }
}

fn form(path: &str, body: &str) -> Request {
    Request::new(Method::Post, path)
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(format!("{body}&client_id=alexa&client_secret={SECRET}"))
}

fn refresh_request(rt: &str) -> Request {
    form(
        "/token",
        &format!("grant_type=refresh_token&refresh_token={rt}"),
    )
}

/// Runs `check` after every ordering of the storage steps of `reqs` (two
/// requests: every interleaving), each time from a fresh copy of `base`.
/// Returns how many orderings there were.
fn explore(base: &Server, reqs: &[Request], check: impl Fn(&World, &[Response])) -> usize {
    let mut prefix: Vec<usize> = Vec::new();
    let mut runs = 0;
    loop {
        let world = World::of(base);
        let mut trace: Vec<(usize, usize)> = Vec::new();
        let answers = world.race(reqs, &mut |waiting| {
            let choice = prefix.get(trace.len()).copied().unwrap_or(0);
            trace.push((choice, waiting.len()));
            choice
        });
        check(&world, &answers);
        runs += 1;
        // The next ordering: the last choice that has an untried alternative.
        loop {
            match trace.pop() {
                None => return runs,
                Some((choice, options)) if choice + 1 < options => {
                    prefix = trace.iter().map(|t| t.0).collect();
                    prefix.push(choice + 1);
                    break;
                }
                Some(_) => {}
            }
        }
    }
}

/// Runs `reqs` with every read before any write.
fn reads_first<'a>(base: &'a Server, reqs: &[Request]) -> (World<'a>, Vec<Response>) {
    let world = World::of(base);
    let answers = world.race(reqs, &mut |waiting| {
        waiting
            .iter()
            .position(|(_, s)| *s == Step::Read)
            .unwrap_or(0)
    });
    (world, answers)
}

fn server(mode: Mode) -> Server {
    let mut s = Server::new();
    if let Mode::Objects = mode {
        s.objects = Some(LocalObjects::new(&s.config));
    }
    s
}

fn json(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

fn refresh_token(r: &Response) -> String {
    json(r)["refresh_token"].as_str().unwrap().to_owned()
}

const MODES: [Mode; 2] = [Mode::Kv, Mode::Objects];

#[test]
fn two_refreshes_with_one_token_in_any_order_give_one_token_that_stays_linked() {
    for mode in MODES {
        let s = server(mode);
        let (_, rt) = s.link();
        let reqs = [refresh_request(&rt), refresh_request(&rt)];
        let runs = explore(&s, &reqs, |w, answers| {
            assert!(answers.iter().all(|a| a.status == 200), "{mode:?}");
            let (a, b) = (refresh_token(&answers[0]), refresh_token(&answers[1]));
            assert_eq!(a, b, "{mode:?}: both answers carry one token");
            // Whichever the client kept, the chain goes on.
            let (status, next) = w.refresh(&a);
            assert_eq!(status, 200, "{mode:?}: {next}");
            let next = next["refresh_token"].as_str().unwrap();
            assert_eq!(w.refresh(next).0, 200, "{mode:?}");
            assert_eq!(w.grant_records(), 1);
        });
        assert!(runs >= 2, "{mode:?}: {runs} orderings");
    }
}

#[test]
fn sixteen_refreshes_at_once_with_all_reads_first_give_one_token() {
    for mode in MODES {
        let s = server(mode);
        let (_, rt) = s.link();
        let reqs: Vec<Request> = (0..16).map(|_| refresh_request(&rt)).collect();
        let (w, answers) = reads_first(&s, &reqs);
        let tokens: std::collections::BTreeSet<String> =
            answers.iter().map(refresh_token).collect();
        assert_eq!(tokens.len(), 1, "{mode:?}");
        let mut rt = tokens.into_iter().next().unwrap();
        for _ in 0..20 {
            let (status, t) = w.refresh(&rt);
            assert_eq!(status, 200, "{mode:?}: {t}");
            rt = t["refresh_token"].as_str().unwrap().to_owned();
        }
    }
}

#[test]
fn a_code_redeemed_twice_in_any_order_never_gives_two_refresh_tokens() {
    for mode in MODES {
        let s = server(mode);
        let code = s.code("");
        let reqs = [
            form("/token", &exchange(&code)),
            form("/token", &exchange(&code)),
        ];
        let mut both = 0;
        let runs = explore(&s, &reqs, |w, answers| {
            let ok: Vec<String> = answers
                .iter()
                .filter(|a| a.status == 200)
                .map(refresh_token)
                .collect();
            assert!(!ok.is_empty(), "{mode:?}: one redemption gets through");
            assert!(
                ok.iter().all(|t| *t == ok[0]),
                "{mode:?}: one refresh token"
            );
            assert_eq!(w.grant_records(), 1, "{mode:?}: one grant");
            if let Mode::Objects = mode {
                assert_eq!(ok.len(), 1, "objects: exactly one redemption");
            }
            // A refusal here is a replay seen as such: it revokes the grant
            // (RFC 6749 §10.5). Otherwise the client is linked.
            if ok.len() == 2 {
                assert_eq!(w.refresh(&ok[0]).0, 200, "{mode:?}");
            }
        });
        if let Mode::Kv = mode {
            both = runs;
        }
        assert!(runs >= 2 && (both == 0 || both >= 2));
    }
}

#[test]
fn sixteen_redemptions_at_once_give_one_grant_and_one_token() {
    for mode in MODES {
        let s = server(mode);
        let code = s.code("");
        let reqs: Vec<Request> = (0..16).map(|_| form("/token", &exchange(&code))).collect();
        let (w, answers) = reads_first(&s, &reqs);
        let ok: std::collections::BTreeSet<String> = answers
            .iter()
            .filter(|a| a.status == 200)
            .map(refresh_token)
            .collect();
        assert_eq!(ok.len(), 1, "{mode:?}");
        assert_eq!(w.grant_records(), 1);
        let successes = answers.iter().filter(|a| a.status == 200).count();
        match mode {
            Mode::Kv => assert_eq!(successes, 16, "all read the code unspent"),
            Mode::Objects => assert_eq!(successes, 1),
        }
    }
}

#[test]
fn a_refresh_racing_a_revocation_never_undoes_it() {
    for mode in MODES {
        let s = server(mode);
        let (access, rt) = s.link();
        let reqs = [
            refresh_request(&rt),
            form("/revoke", &format!("token={rt}")),
        ];
        let runs = explore(&s, &reqs, |w, answers| {
            assert_eq!(answers[1].status, 200);
            let mut tokens = vec![rt.clone()];
            let mut accesses = vec![access.clone()];
            if answers[0].status == 200 {
                tokens.push(refresh_token(&answers[0]));
                accesses.push(json(&answers[0])["access_token"].as_str().unwrap().into());
            }
            for t in &tokens {
                assert_eq!(w.refresh(t).0, 400, "{mode:?}: revoked stays revoked");
            }
            for a in &accesses {
                assert_eq!(w.userinfo(a), 401, "{mode:?}");
            }
        });
        assert!(runs >= 2);
    }
}

#[test]
fn two_revocations_at_once_both_stick() {
    for mode in MODES {
        let s = server(mode);
        let (a1, r1) = s.link();
        let (a2, r2) = s.link();
        let reqs = [
            form("/revoke", &format!("token={r1}")),
            form("/revoke", &format!("token={r2}")),
        ];
        explore(&s, &reqs, |w, _| {
            for (a, r) in [(&a1, &r1), (&a2, &r2)] {
                assert_eq!(w.refresh(r).0, 400, "{mode:?}");
                assert_eq!(w.userinfo(a), 401, "{mode:?}");
            }
        });
    }
}

#[test]
fn either_answer_of_a_repeated_refresh_stays_linked_and_a_copy_of_the_previous_token_changes_nothing(
) {
    for mode in MODES {
        let s = server(mode);
        let (_, rt1) = s.link();
        let w = World::of(&s);
        let next = |rt: &str| {
            let (status, t) = w.refresh(rt);
            assert_eq!(status, 200, "{mode:?}: {t}");
            t["refresh_token"].as_str().unwrap().to_owned()
        };
        // The first answer was lost and the client asked again; the late first
        // answer and the second carry the same token.
        let first = next(&rt1);
        let second = next(&rt1);
        assert_eq!(first, second);
        // A copy of rt1 is presented after the holder moved on to `first`: it gets
        // the current token again and changes nothing.
        let before = w.kv.dump();
        assert_eq!(next(&rt1), first);
        if let Mode::Kv = mode {
            assert_eq!(w.kv.dump(), before, "nothing written");
        }
        // The holder goes on.
        let third = next(&first);
        assert_eq!(next(&third).len(), third.len());
    }
}
