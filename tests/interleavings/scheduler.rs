//! A scheduler for requests run at once: every storage operation waits at a
//! gate until the scheduler lets that request take its next step.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use alexa_oauth::grant::durable::ObjectTransport;
use alexa_oauth::grant::kv::HoldsGrants;
use alexa_oauth::store::{MemoryStore, Store, StoreError};
use alexa_oauth::testing::LocalObjects;
use alexa_oauth::types::GrantId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Read,
    Write,
    /// A whole Durable Object call: atomic, as the runtime makes it.
    Object,
}

/// Picks, among the requests waiting for a storage step, which takes it.
pub(crate) type Chooser<'a> = dyn FnMut(&[(usize, Step)]) -> usize + 'a;

/// Which request may take its next storage step.
#[derive(Default)]
pub(crate) struct Scheduler {
    pub(crate) allowed: Cell<Option<usize>>,
    /// The step each request is waiting to take.
    pub(crate) waiting: RefCell<Vec<Option<Step>>>,
}

impl Scheduler {
    fn gate(&self, id: usize, step: Step) -> Gate<'_> {
        Gate {
            sched: self,
            id,
            step,
        }
    }
}

struct Gate<'a> {
    pub(crate) sched: &'a Scheduler,
    pub(crate) id: usize,
    step: Step,
}

impl Future for Gate<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        let mut waiting = self.sched.waiting.borrow_mut();
        if self.sched.allowed.get() == Some(self.id) {
            self.sched.allowed.set(None);
            waiting[self.id] = None;
            Poll::Ready(())
        } else {
            waiting[self.id] = Some(self.step);
            Poll::Pending
        }
    }
}

/// One request's view of the shared KV: each operation waits for its turn.
pub(crate) struct Gated<'a> {
    pub(crate) kv: &'a MemoryStore,
    pub(crate) sched: &'a Scheduler,
    pub(crate) id: usize,
}

impl Store for Gated<'_> {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.sched.gate(self.id, Step::Read).await;
        self.kv.get(key).await
    }
    async fn put(&self, key: &str, value: String, at: Option<u64>) -> Result<(), StoreError> {
        self.sched.gate(self.id, Step::Write).await;
        self.kv.put(key, value, at).await
    }
}

impl HoldsGrants for Gated<'_> {}

pub(crate) struct GatedObjects<'a> {
    pub(crate) objects: &'a LocalObjects,
    pub(crate) sched: &'a Scheduler,
    pub(crate) id: usize,
}

impl ObjectTransport for GatedObjects<'_> {
    async fn call(&self, grant: &GrantId, op: String) -> Result<String, StoreError> {
        self.sched.gate(self.id, Step::Object).await;
        self.objects.call(grant, op).await
    }
}
