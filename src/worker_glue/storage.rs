//! Workers KV as the core's store, and in Durable Object mode the grant
//! objects and the store that routes to them.

use wasm_bindgen::{JsCast, JsValue};
use worker::Env;

use super::js::{method, object, property, settled};
use crate::store::{Store, StoreError};

/// Workers KV as the core's [`Store`]: the binding's `get` and `put`, called
/// through js_sys. The crate's `KvStore` sends its options through
/// serde-wasm-bindgen and `serde_json::Value`, which cost wasm size for one
/// number.
///
/// A Durable Object's storage is one too ([`Kv::object_storage`]): it has the
/// same `get`, `put` and bulk `get`, and one type for both means the grant
/// logic an object runs is compiled into the wasm once, not once per store.
pub(super) struct Kv {
    namespace: JsValue,
    get: js_sys::Function,
    put: js_sys::Function,
    backing: Backing,
}

/// What a [`Kv`] calls.
enum Backing {
    /// A KV namespace; `now` is for its expiries ([`crate::store::kv_expiration`]).
    Namespace { now: u64 },
    /// A Durable Object's storage: records expire by their own times, and
    /// grant operations never list.
    Object,
}

impl Kv {
    /// The KV namespace bound as `name`, if there is one.
    pub(super) fn bound(env: &Env, name: &str, now: u64) -> Option<Self> {
        let namespace = property(env, name)?;
        Some(Self {
            get: method(&namespace, "get")?,
            put: method(&namespace, "put")?,
            namespace,
            backing: Backing::Namespace { now },
        })
    }

    /// A Durable Object's `state.storage`, if it is one.
    pub(super) fn object_storage(state: &JsValue) -> Option<Self> {
        let storage = property(state, "storage")?;
        Some(Self {
            get: method(&storage, "get")?,
            put: method(&storage, "put")?,
            namespace: storage,
            backing: Backing::Object,
        })
    }

    fn error(&self, e: JsValue) -> StoreError {
        let what = match self.backing {
            Backing::Namespace { .. } => "KV",
            Backing::Object => "Durable Object storage",
        };
        js_error(what, e)
    }
}

/// A failed runtime call's message (a rejected promise carries an `Error`),
/// after what was called.
fn js_error(what: &str, e: JsValue) -> StoreError {
    let message = property(&e, "message")
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_default();
    StoreError(format!("{what}: {message}"))
}

impl Store for Kv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let promise = self
            .get
            .call1(&self.namespace, &JsValue::from_str(key))
            .map_err(|e| self.error(e))?;
        Ok(settled(promise)
            .await
            .map_err(|e| self.error(e))?
            .as_string())
    }

    async fn put(
        &self,
        key: &str,
        value: String,
        expires_at: Option<u64>,
    ) -> Result<(), StoreError> {
        let options = match (expires_at, &self.backing) {
            (Some(at), Backing::Namespace { now }) => object(&[(
                "expiration",
                JsValue::from(crate::store::kv_expiration(at, *now) as f64),
            )]),
            _ => JsValue::UNDEFINED,
        };
        let promise = self
            .put
            .call3(
                &self.namespace,
                &JsValue::from_str(key),
                &JsValue::from_str(&value),
                &options,
            )
            .map_err(|e| self.error(e))?;
        settled(promise).await.map(drop).map_err(|e| self.error(e))
    }

    /// The binding's `delete` (KV bills it as a write). Only KV's: an
    /// object's grant operations never delete.
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let delete = method(&self.namespace, "delete").ok_or(StoreError("no delete".into()))?;
        let promise = delete
            .call1(&self.namespace, &JsValue::from_str(key))
            .map_err(|e| self.error(e))?;
        settled(promise).await.map(drop).map_err(|e| self.error(e))
    }

    /// Both keys in one bulk `get`: one binding call and one round trip where
    /// two `get`s cost two of each (KV still bills a read per key). An
    /// object's storage answers a bulk `get` with the same `Map`.
    async fn get_two(
        &self,
        a: &str,
        b: &str,
    ) -> Result<(Option<String>, Option<String>), StoreError> {
        let both = js_sys::Array::of2(&JsValue::from_str(a), &JsValue::from_str(b));
        let promise = self
            .get
            .call1(&self.namespace, &both)
            .map_err(|e| self.error(e))?;
        let found: js_sys::Map = settled(promise)
            .await
            .map_err(|e| self.error(e))?
            .unchecked_into();
        let text = |key: &str| found.get(&JsValue::from_str(key)).as_string();
        Ok((text(a), text(b)))
    }

    /// The binding's `list`, one page (1,000 keys at most). Only KV's: an
    /// object's grant operations never list.
    async fn keys_with_prefix(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        if let Backing::Object = self.backing {
            return Err(StoreError("Durable Object storage: no listing".into()));
        }
        let list = method(&self.namespace, "list")
            .ok_or_else(|| StoreError("KV: no list on the binding".into()))?;
        // One page, never a cursor: KV pages hold up to 1,000 keys.
        let limit = limit.clamp(1, 1000) as f64;
        let options = object(&[
            ("prefix", JsValue::from_str(prefix)),
            ("limit", JsValue::from_f64(limit)),
        ]);
        let promise = list
            .call1(&self.namespace, &options)
            .map_err(|e| self.error(e))?;
        let page = settled(promise).await.map_err(|e| self.error(e))?;
        let listed: js_sys::Array = property(&page, "keys")
            .ok_or_else(|| StoreError("KV: a list without keys".into()))?
            .unchecked_into();
        Ok(listed
            .iter()
            .filter_map(|key| property(&key, "name").and_then(|n| n.as_string()))
            .collect())
    }
}

/// KV mode: codes and grants are KV records.
impl crate::grant::kv::HoldsGrants for Kv {}

mod durable {
    use super::*;
    use crate::crypto::TokenHash;
    use crate::grant::durable::{self, DurableGrants, ObjectTransport};
    use crate::grant::{CodeExchange, GrantStore, RefreshExchange, Refreshed, Refusal, Successors};
    use crate::store::{CodeRecord, GrantRecord, Profile, Tombstone};
    use crate::types::GrantId;
    use crate::worker_glue::config;
    use wasm_bindgen::prelude::wasm_bindgen;
    use worker::worker_sys::web_sys;

    /// One grant's Durable Object (see [`crate::grant::durable`]): runs grant
    /// operations on its own transactional storage, one event at a time.
    ///
    /// The class is declared to wasm-bindgen here rather than through the
    /// crate's `#[durable_object]`, whose conversions to and from its own
    /// `Request` and `Response` cost about 20 KiB of gzipped wasm for a body
    /// that is one string each way.
    #[wasm_bindgen]
    pub struct GrantObject {
        storage: Option<Kv>,
        env: Env,
    }

    #[wasm_bindgen]
    impl GrantObject {
        #[wasm_bindgen(constructor)]
        pub fn new(state: JsValue, env: Env) -> Self {
            let storage = Kv::object_storage(&state);
            Self { storage, env }
        }

        /// One grant operation: the request's body is the op, the answer's
        /// body its result (503 with the reason when storage failed).
        pub async fn fetch(&self, req: web_sys::Request) -> Result<JsValue, JsValue> {
            let op = settled(req.text()?.into())
                .await?
                .as_string()
                .unwrap_or_default();
            // The same signing keys as the Worker, so both derive the same tokens.
            let config = config(&self.env);
            let served = match &self.storage {
                Some(storage) => durable::serve(storage, config.successors(), &op).await,
                None => Err(StoreError("Durable Object: no storage".into())),
            };
            let (body, status) = match served {
                Ok(answer) => (answer, 200),
                Err(e) => (e.0, 503),
            };
            let init = web_sys::ResponseInit::new();
            init.set_status(status);
            web_sys::Response::new_with_opt_str_and_init(Some(&body), &init).map(Into::into)
        }
    }

    /// The store of either mode, chosen per request from `GRANT_STORE`. One type
    /// for both, so the core is compiled once into the wasm rather than once per
    /// store (which cost about 45 KiB gzip). Every method of both traits is
    /// required, so the compiler checks that each is forwarded.
    pub(in crate::worker_glue) enum ModeStore<'a> {
        Kv(&'a Kv),
        Objects(DurableGrants<'a, Kv, Stubs>),
    }

    macro_rules! either {
        ($self:ident, $s:ident => $e:expr) => {
            match $self {
                ModeStore::Kv($s) => $e,
                ModeStore::Objects($s) => $e,
            }
        };
    }

    impl ModeStore<'_> {
        /// KV, which holds everything but grant state in both modes.
        fn kv(&self) -> &Kv {
            match self {
                ModeStore::Kv(kv) => kv,
                ModeStore::Objects(objects) => objects.kv,
            }
        }
    }

    /// Straight to KV in both modes (as [`DurableGrants`]'s own `Store`
    /// does): one future type per call, not one per mode.
    impl Store for ModeStore<'_> {
        async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
            self.kv().get(key).await
        }
        async fn put(
            &self,
            key: &str,
            value: String,
            expires_at: Option<u64>,
        ) -> Result<(), StoreError> {
            self.kv().put(key, value, expires_at).await
        }
        async fn delete(&self, key: &str) -> Result<(), StoreError> {
            self.kv().delete(key).await
        }
        async fn get_two(
            &self,
            a: &str,
            b: &str,
        ) -> Result<(Option<String>, Option<String>), StoreError> {
            self.kv().get_two(a, b).await
        }
        async fn keys_with_prefix(
            &self,
            prefix: &str,
            limit: usize,
        ) -> Result<Vec<String>, StoreError> {
            self.kv().keys_with_prefix(prefix, limit).await
        }
    }

    impl GrantStore for ModeStore<'_> {
        async fn store_code(&self, hash: &TokenHash, code: &CodeRecord) -> Result<(), StoreError> {
            either!(self, s => s.store_code(hash, code).await)
        }
        async fn grant_with_revocation(
            &self,
            id: &GrantId,
        ) -> Result<Option<(GrantRecord, bool)>, StoreError> {
            either!(self, s => s.grant_with_revocation(id).await)
        }
        async fn redeem_code(
            &self,
            k: &Successors,
            r: &CodeExchange,
        ) -> Result<Result<GrantRecord, Refusal>, StoreError> {
            either!(self, s => s.redeem_code(k, r).await)
        }
        async fn refresh_grant(
            &self,
            k: &Successors,
            r: &RefreshExchange,
        ) -> Result<Result<Refreshed, Refusal>, StoreError> {
            either!(self, s => s.refresh_grant(k, r).await)
        }
        async fn revoke_grant(&self, id: &GrantId, t: &Tombstone) -> Result<(), StoreError> {
            either!(self, s => s.revoke_grant(id, t).await)
        }
        async fn restore_grant(&self, grant: &GrantRecord) -> Result<(), StoreError> {
            either!(self, s => s.restore_grant(grant).await)
        }
        async fn update_profile(
            &self,
            id: &GrantId,
            profile: &Profile,
        ) -> Result<bool, StoreError> {
            either!(self, s => s.update_profile(id, profile).await)
        }
    }

    /// Reaches a grant's object through the namespace binding's stub (the
    /// binding as the runtime hands it, called through js_sys like KV).
    pub(in crate::worker_glue) struct Stubs(pub(in crate::worker_glue) JsValue);

    impl ObjectTransport for Stubs {
        async fn call(&self, grant: &GrantId, op: String) -> Result<String, StoreError> {
            let err = |e: JsValue| js_error("Durable Object", e);
            let missing = || StoreError("Durable Object: not a namespace binding".into());
            let ns = &self.0;
            let id = method(ns, "idFromName")
                .ok_or_else(missing)?
                .call1(ns, &JsValue::from_str(grant.as_str()))
                .map_err(err)?;
            let stub = method(ns, "get")
                .ok_or_else(missing)?
                .call1(ns, &id)
                .map_err(err)?;
            let init = web_sys::RequestInit::new();
            init.set_method("POST");
            init.set_body(&JsValue::from_str(&op));
            let req = web_sys::Request::new_with_str_and_init("https://grant-object/", &init)
                .map_err(err)?;
            let promise = method(&stub, "fetch")
                .ok_or_else(missing)?
                .call1(&stub, &req)
                .map_err(err)?;
            let res: web_sys::Response = settled(promise).await.map_err(err)?.unchecked_into();
            let body = settled(res.text().map_err(err)?.into())
                .await
                .map_err(err)?;
            let body = body.as_string().unwrap_or_default();
            if res.status() == 200 {
                Ok(body)
            } else {
                Err(StoreError(body))
            }
        }
    }
}
pub(super) use durable::{ModeStore, Stubs};
