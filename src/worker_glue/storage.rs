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
pub(super) struct Kv {
    namespace: JsValue,
    get: js_sys::Function,
    put: js_sys::Function,
    /// Now, for KV expiries (see [`crate::store::kv_expiration`]).
    now: u64,
}

impl Kv {
    /// The KV namespace bound as `name`, if there is one.
    pub(super) fn bound(env: &Env, name: &str, now: u64) -> Option<Self> {
        let namespace = property(env, name)?;
        Some(Self {
            get: method(&namespace, "get")?,
            put: method(&namespace, "put")?,
            namespace,
            now,
        })
    }
}

/// A failed KV call's message (a rejected promise carries an `Error`).
fn kv_error(e: JsValue) -> StoreError {
    let message = property(&e, "message")
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_default();
    StoreError(format!("KV: {message}"))
}

impl Store for Kv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let promise = self
            .get
            .call1(&self.namespace, &JsValue::from_str(key))
            .map_err(kv_error)?;
        Ok(settled(promise).await.map_err(kv_error)?.as_string())
    }

    async fn put(
        &self,
        key: &str,
        value: String,
        expires_at: Option<u64>,
    ) -> Result<(), StoreError> {
        let options = match expires_at {
            Some(at) => object(&[(
                "expiration",
                JsValue::from(crate::store::kv_expiration(at, self.now) as f64),
            )]),
            None => JsValue::UNDEFINED,
        };
        let promise = self
            .put
            .call3(
                &self.namespace,
                &JsValue::from_str(key),
                &JsValue::from_str(&value),
                &options,
            )
            .map_err(kv_error)?;
        settled(promise).await.map(drop).map_err(kv_error)
    }

    /// Both keys in one bulk `get`: one binding call and one round trip where
    /// two `get`s cost two of each (KV still bills a read per key).
    async fn get_two(
        &self,
        a: &str,
        b: &str,
    ) -> Result<(Option<String>, Option<String>), StoreError> {
        let both = js_sys::Array::of2(&JsValue::from_str(a), &JsValue::from_str(b));
        let promise = self.get.call1(&self.namespace, &both).map_err(kv_error)?;
        let found: js_sys::Map = settled(promise).await.map_err(kv_error)?.unchecked_into();
        let text = |key: &str| found.get(&JsValue::from_str(key)).as_string();
        Ok((text(a), text(b)))
    }

    /// The binding's `list`, page by page (1,000 keys a page).
    #[cfg(feature = "account")]
    async fn keys_with_prefix(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let list = method(&self.namespace, "list")
            .ok_or_else(|| StoreError("KV: no list on the binding".into()))?;
        // One page, never a cursor: KV pages hold up to 1,000 keys.
        let limit = limit.clamp(1, 1000) as f64;
        let options = object(&[
            ("prefix", JsValue::from_str(prefix)),
            ("limit", JsValue::from_f64(limit)),
        ]);
        let promise = list.call1(&self.namespace, &options).map_err(kv_error)?;
        let page = settled(promise).await.map_err(kv_error)?;
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

#[cfg(feature = "durable")]
mod durable {
    use super::*;
    use crate::crypto::TokenHash;
    use crate::grant::durable::{self, DurableGrants, ObjectTransport};
    use crate::grant::{GrantStore, Redeem, Refresh, Refreshed, Refusal, Successors};
    use crate::store::{CodeRecord, GrantRecord, Profile, Tombstone};
    use crate::types::GrantId;
    use crate::worker_glue::config;
    use wasm_bindgen::JsValue;
    use worker::{durable_object, DurableObject, Env, ObjectNamespace, RequestInit, State};

    /// One grant's Durable Object (see [`crate::grant::durable`]): runs grant
    /// operations on its own transactional storage, one event at a time.
    #[durable_object(fetch)]
    pub struct GrantObject {
        state: State,
        env: Env,
    }

    impl DurableObject for GrantObject {
        fn new(state: State, env: Env) -> Self {
            Self { state, env }
        }

        async fn fetch(&self, mut req: worker::Request) -> worker::Result<worker::Response> {
            let op = req.text().await?;
            let storage = DurableStorage(self.state.storage());
            // The same signing keys as the Worker, so both derive the same tokens.
            let config = config(&self.env);
            match durable::serve(&storage, config.successors(), &op).await {
                Ok(answer) => worker::Response::ok(answer),
                Err(e) => worker::Response::error(e.0, 503),
            }
        }
    }

    /// A Durable Object's storage as the core's [`Store`]. Expiry is left to the
    /// records' own times (a code's object is small and keeps its spent code).
    struct DurableStorage(worker::Storage);

    // Raw string values, not the typed `get`/`put`: those go through
    // serde-wasm-bindgen, which would add much to the wasm for plain strings.
    impl Store for DurableStorage {
        async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
            let found = self
                .0
                .get_multiple(vec![key])
                .await
                .map_err(|e| StoreError(e.to_string()))?;
            Ok(found.get(&JsValue::from_str(key)).as_string())
        }
        async fn put(&self, key: &str, value: String, _: Option<u64>) -> Result<(), StoreError> {
            let value = JsValue::from_str(&value);
            self.0
                .put_raw(key, value)
                .await
                .map_err(|e| StoreError(e.to_string()))
        }
    }

    /// The store of either mode, chosen per request from `GRANT_STORE`. One type
    /// for both, so the core is compiled once into the wasm rather than once per
    /// store (which cost about 45 KiB gzip). Every method of both traits is
    /// required, so the compiler checks that each is forwarded.
    pub(in crate::worker_glue) enum Grants<'a> {
        Kv(&'a Kv),
        Objects(DurableGrants<'a, Kv, Stubs>),
    }

    macro_rules! either {
        ($self:ident, $s:ident => $e:expr) => {
            match $self {
                Grants::Kv($s) => $e,
                Grants::Objects($s) => $e,
            }
        };
    }

    impl Store for Grants<'_> {
        async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
            either!(self, s => s.get(key).await)
        }
        async fn put(
            &self,
            key: &str,
            value: String,
            expires_at: Option<u64>,
        ) -> Result<(), StoreError> {
            either!(self, s => s.put(key, value, expires_at).await)
        }
        async fn get_two(
            &self,
            a: &str,
            b: &str,
        ) -> Result<(Option<String>, Option<String>), StoreError> {
            either!(self, s => s.get_two(a, b).await)
        }
        #[cfg(feature = "account")]
        async fn keys_with_prefix(
            &self,
            prefix: &str,
            limit: usize,
        ) -> Result<Vec<String>, StoreError> {
            either!(self, s => s.keys_with_prefix(prefix, limit).await)
        }
    }

    impl GrantStore for Grants<'_> {
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
            r: &Redeem,
        ) -> Result<Result<GrantRecord, Refusal>, StoreError> {
            either!(self, s => s.redeem_code(k, r).await)
        }
        async fn refresh_grant(
            &self,
            k: &Successors,
            r: &Refresh,
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

    /// Reaches a grant's object through its Durable Object stub.
    pub(in crate::worker_glue) struct Stubs(pub(in crate::worker_glue) ObjectNamespace);

    impl ObjectTransport for Stubs {
        async fn call(&self, grant: &GrantId, op: String) -> Result<String, StoreError> {
            let err = |e: worker::Error| StoreError(e.to_string());
            let stub = self
                .0
                .id_from_name(grant.as_str())
                .and_then(|id| id.get_stub())
                .map_err(err)?;
            let mut init = RequestInit::new();
            init.with_method(worker::Method::Post)
                .with_body(Some(JsValue::from_str(&op)));
            let req =
                worker::Request::new_with_init("https://grant-object/", &init).map_err(err)?;
            let mut res = stub.fetch_with_request(req).await.map_err(err)?;
            let body = res.text().await.map_err(err)?;
            if res.status_code() == 200 {
                Ok(body)
            } else {
                Err(StoreError(body))
            }
        }
    }
}
#[cfg(feature = "durable")]
pub(super) use durable::{Grants, Stubs};
