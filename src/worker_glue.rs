//! The only module that speaks to the Workers runtime: it turns a Worker request
//! into the core's [`Request`], runs [`crate::handle`] with KV as the store, the
//! runtime's clock and randomness and the configured secrets, and writes one JSON
//! log line per request (read it with `wrangler tail`).

use std::rc::Rc;

use worker::{console_error, console_log, event, Context, Date, Env, Headers, KvStore};
#[cfg(feature = "durable")]
use worker::{durable_object, DurableObject, ObjectNamespace, RequestInit, State};

use crate::crypto::{random_string, OsRng};
use crate::grant::RevocationCache;
use crate::http::{Method, Request, Response, MAX_BODY_BYTES};
use crate::password::{Derived, Pbkdf2};
use crate::store::{ClientCache, Store, StoreError};
use crate::throttle::{Hit, Limit, LimitError, Limiter};
use crate::upstream::{
    Alg, Answer, Call, Checked, Fetch, FetchError, Fetched, ProviderCache, Signatures, TIMEOUT_MS,
};
use crate::{Config, Ctx};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

// talc in place of the default dlmalloc: smaller code for the same job. The
// Worker runs one request at a time per isolate thread (single-threaded wasm).
#[global_allocator]
static ALLOCATOR: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };

/// The KV namespace binding in `wrangler.toml`.
const KV_BINDING: &str = "OAUTH_KV";
/// The Durable Object binding for grants (`GRANT_STORE = "DO"`).
#[cfg(feature = "durable")]
const GRANTS_BINDING: &str = "GRANTS";

thread_local! {
    // One copy per isolate, shared by the requests it serves; see `crate::grant`.
    static REVOCATIONS: Rc<RevocationCache> = Default::default();
    // Client records, per isolate; see `crate::store::ClientCache`.
    static CLIENTS: std::cell::OnceCell<Rc<ClientCache>> = const { std::cell::OnceCell::new() };
    // Providers' discovery documents and keys, per isolate.
    static PROVIDERS: Rc<ProviderCache> = Default::default();
}

/// The Rate Limiting bindings (`[[ratelimits]]`, one per [`Limit`]) as the
/// core's [`Limiter`].
struct RateLimits<'a>(&'a Env);

impl Limiter for RateLimits<'_> {
    fn hit<'a>(&'a self, limit: Limit, key: &'a str, _now: u64) -> Hit<'a> {
        Box::pin(async move {
            let fail = |what: &str| {
                let e = format!(
                    "the [[ratelimits]] binding {} {what}: copy it from the project's wrangler.toml",
                    limit.binding()
                );
                console_error!("{}", serde_json::json!({"level": "error", "config": e}));
                LimitError(e)
            };
            // `binding.limit({ key })` through js_sys: the crate's wrapper goes
            // through serde-wasm-bindgen, which costs wasm size for one field.
            let binding = js_sys::Reflect::get(self.0, &JsValue::from_str(limit.binding()))
                .ok()
                .filter(|b| !b.is_undefined())
                .ok_or_else(|| fail("is missing from wrangler.toml"))?;
            let method: js_sys::Function =
                js_sys::Reflect::get(&binding, &JsValue::from_str("limit"))
                    .ok()
                    .and_then(|m| m.dyn_into().ok())
                    .ok_or_else(|| fail("is not a rate limiter"))?;
            let options = js_sys::Object::new();
            let _ =
                js_sys::Reflect::set(&options, &JsValue::from_str("key"), &JsValue::from_str(key));
            let promise = method
                .call1(&binding, &options)
                .map_err(|_| LimitError("the rate limiter refused the call".into()))?;
            let outcome = JsFuture::from(js_sys::Promise::from(promise))
                .await
                .map_err(|_| LimitError("the rate limiter failed".into()))?;
            let success = js_sys::Reflect::get(&outcome, &JsValue::from_str("success"))
                .ok()
                .and_then(|v| v.as_bool());
            success.ok_or_else(|| LimitError("the rate limiter gave no answer".into()))
        })
    }
}

/// PBKDF2-HMAC-SHA256 through WebCrypto (`crypto.subtle.importKey` and
/// `deriveBits`): the runtime's native code instead of the same loop in wasm.
struct WebCryptoPbkdf2;

/// `crypto.subtle.<name>(...args)`, awaited.
async fn subtle(name: &'static str, args: &js_sys::Array) -> Result<JsValue, String> {
    let failed = |_| format!("WebCrypto {name} failed");
    let get = |target: &JsValue, name: &str| js_sys::Reflect::get(target, &JsValue::from_str(name));
    let crypto = get(&js_sys::global(), "crypto").map_err(failed)?;
    let subtle = get(&crypto, "subtle").map_err(failed)?;
    let f: js_sys::Function = get(&subtle, name)
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| format!("WebCrypto: no {name}"))?;
    let promise = f.apply(&subtle, args).map_err(failed)?;
    JsFuture::from(js_sys::Promise::from(promise))
        .await
        .map_err(failed)
}

/// A plain JS object from name-value pairs.
fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (name, value) in pairs {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(name), value);
    }
    o.into()
}

impl Pbkdf2 for WebCryptoPbkdf2 {
    fn derive<'a>(&'a self, password: &'a [u8], salt: &'a [u8], rounds: u32) -> Derived<'a> {
        Box::pin(async move {
            let usages = js_sys::Array::of1(&JsValue::from_str("deriveBits"));
            let raw = js_sys::Uint8Array::from(password);
            let import = js_sys::Array::of5(
                &JsValue::from_str("raw"),
                &raw,
                &JsValue::from_str("PBKDF2"),
                &JsValue::FALSE,
                &usages,
            );
            let key = subtle("importKey", &import).await?;
            let params = object(&[
                ("name", JsValue::from_str("PBKDF2")),
                ("hash", JsValue::from_str("SHA-256")),
                ("salt", js_sys::Uint8Array::from(salt).into()),
                ("iterations", JsValue::from(rounds)),
            ]);
            let derive = js_sys::Array::of3(&params, &key, &JsValue::from(256));
            let bits = subtle("deriveBits", &derive).await?;
            let bytes = js_sys::Uint8Array::new(&bits);
            let mut out = [0u8; 32];
            if bytes.length() != 32 {
                return Err("WebCrypto PBKDF2: not 256 bits".into());
            }
            bytes.copy_to(&mut out);
            Ok(out)
        })
    }
}

/// ID token signatures through WebCrypto: RS256 as RSASSA-PKCS1-v1_5, ES256 as
/// ECDSA P-256 (whose raw `r || s` form is what a JWS carries).
struct WebCryptoSignatures;

impl Signatures for WebCryptoSignatures {
    fn verify<'a>(
        &'a self,
        alg: Alg,
        jwk: &'a str,
        signed: &'a [u8],
        sig: &'a [u8],
    ) -> Checked<'a> {
        Box::pin(async move {
            let jwk = js_sys::JSON::parse(jwk).map_err(|_| "the JWK is not JSON".to_owned())?;
            let sha256 = JsValue::from_str("SHA-256");
            let (import, verify) = match alg {
                Alg::Rs256 => {
                    let name = JsValue::from_str("RSASSA-PKCS1-v1_5");
                    let import = object(&[("name", name.clone()), ("hash", sha256)]);
                    (import, object(&[("name", name)]))
                }
                Alg::Es256 => {
                    let name = JsValue::from_str("ECDSA");
                    let curve = JsValue::from_str("P-256");
                    let import = object(&[("name", name.clone()), ("namedCurve", curve)]);
                    (import, object(&[("name", name), ("hash", sha256)]))
                }
            };
            let usages = js_sys::Array::of1(&JsValue::from_str("verify"));
            let args = js_sys::Array::of5(
                &JsValue::from_str("jwk"),
                &jwk,
                &import,
                &JsValue::FALSE,
                &usages,
            );
            let key = subtle("importKey", &args).await?;
            let args = js_sys::Array::of4(
                &verify,
                &key,
                &js_sys::Uint8Array::from(sig),
                &js_sys::Uint8Array::from(signed),
            );
            Ok(subtle("verify", &args).await?.as_bool() == Some(true))
        })
    }
}

/// Outbound HTTP through the runtime's `fetch`, abandoned after [`TIMEOUT_MS`]
/// (the body included) by `AbortSignal.timeout`, with at most
/// [`MAX_ANSWER_BYTES`] of answer kept. Called through js_sys rather than the
/// crate's `Fetch`, `Request` and `Delay`, which cost about 20 KiB of wasm.
struct Outbound;

/// The most of a provider's answer read: more is not an answer we expect.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

impl Fetch for Outbound {
    fn fetch(&self, call: Call) -> Fetched<'_> {
        Box::pin(async move {
            let get = |target: &JsValue, name: &str| {
                js_sys::Reflect::get(target, &JsValue::from_str(name))
                    .map_err(|_| FetchError::Failed)
            };
            let function = |target: &JsValue, name: &str| -> Result<js_sys::Function, FetchError> {
                get(target, name)?
                    .dyn_into()
                    .map_err(|_| FetchError::Failed)
            };
            let global = js_sys::global();
            let headers = js_sys::Object::new();
            for (name, value) in &call.headers {
                let _ = js_sys::Reflect::set(
                    &headers,
                    &JsValue::from_str(name),
                    &JsValue::from_str(value),
                );
            }
            let timeout = function(&get(&global, "AbortSignal")?, "timeout")?
                .call1(&JsValue::NULL, &JsValue::from(TIMEOUT_MS as f64))
                .map_err(|_| FetchError::Failed)?;
            let init = object(&[
                (
                    "method",
                    JsValue::from_str(if call.post { "POST" } else { "GET" }),
                ),
                ("headers", headers.into()),
                (
                    "body",
                    call.body
                        .as_deref()
                        .map_or(JsValue::UNDEFINED, JsValue::from_str),
                ),
                ("signal", timeout),
            ]);
            // A rejection is a timeout when the signal says so (its reason is a
            // TimeoutError), a failed connection otherwise.
            let outcome = |e: JsValue| match get(&e, "name").ok().and_then(|n| n.as_string()) {
                Some(n) if n == "TimeoutError" => FetchError::TimedOut,
                _ => FetchError::Failed,
            };
            let promise = function(&global, "fetch")?
                .call2(&global, &JsValue::from_str(&call.url), &init)
                .map_err(|_| FetchError::Failed)?;
            let res = JsFuture::from(js_sys::Promise::from(promise))
                .await
                .map_err(outcome)?;
            let status = get(&res, "status")?.as_f64().unwrap_or(0.0) as u16;
            let body = function(&res, "arrayBuffer")?
                .call0(&res)
                .map_err(|_| FetchError::Failed)?;
            let body = JsFuture::from(js_sys::Promise::from(body))
                .await
                .map_err(outcome)?;
            let body = js_sys::Uint8Array::new(&body);
            if body.length() as usize > MAX_ANSWER_BYTES {
                return Err(FetchError::Failed);
            }
            Ok(Answer {
                status,
                body: body.to_vec(),
            })
        })
    }
}

/// Workers KV as the core's [`Store`].
struct Kv {
    kv: KvStore,
    now: u64,
}

impl Store for Kv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.kv
            .get(key)
            .text()
            .await
            .map_err(|e| StoreError(e.to_string()))
    }

    async fn put(
        &self,
        key: &str,
        value: String,
        expires_at: Option<u64>,
    ) -> Result<(), StoreError> {
        let err = |e: worker::kv::KvError| StoreError(e.to_string());
        // put_bytes, not put: the generic put pulls float formatting into the wasm.
        let mut put = self.kv.put_bytes(key, value.as_bytes()).map_err(err)?;
        if let Some(at) = expires_at {
            put = put.expiration(crate::store::kv_expiration(at, self.now));
        }
        put.execute().await.map_err(err)
    }
}

impl crate::grant::GrantStore for Kv {}

#[cfg(feature = "durable")]
mod durable {
    use super::*;
    use crate::objects::{self, ObjectStorage, ObjectTransport};
    use crate::types::GrantId;

    /// One grant's Durable Object (see [`crate::objects`]): runs grant operations on
    /// its own transactional storage, one event at a time.
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
            let storage = ObjectStorage(&storage);
            // The same signing keys as the Worker, so both derive the same tokens.
            let config = config(&self.env);
            match objects::serve(&storage, config.successors(), &op).await {
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
    /// store (which cost about 45 KiB gzip).
    pub(super) enum Grants<'a> {
        Kv(&'a Kv),
        Objects(ObjectStore<'a, Kv, Stubs>),
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
        async fn put_code(
            &self,
            hash: &crate::crypto::TokenHash,
            code: &crate::store::CodeRecord,
        ) -> Result<(), StoreError> {
            either!(self, s => s.put_code(hash, code).await)
        }
        async fn tombstone(
            &self,
            id: &GrantId,
        ) -> Result<Option<crate::store::Tombstone>, StoreError> {
            either!(self, s => s.tombstone(id).await)
        }
        async fn put_tombstone(
            &self,
            id: &GrantId,
            t: &crate::store::Tombstone,
        ) -> Result<(), StoreError> {
            either!(self, s => s.put_tombstone(id, t).await)
        }
        async fn grant(
            &self,
            id: &GrantId,
        ) -> Result<Option<crate::store::GrantRecord>, StoreError> {
            either!(self, s => s.grant(id).await)
        }
        async fn put_grant(&self, grant: &crate::store::GrantRecord) -> Result<(), StoreError> {
            either!(self, s => s.put_grant(grant).await)
        }
        async fn create_grant(&self, grant: &crate::store::GrantRecord) -> Result<(), StoreError> {
            either!(self, s => s.create_grant(grant).await)
        }
    }

    impl crate::grant::GrantStore for Grants<'_> {
        async fn redeem_code(
            &self,
            k: &crate::grant::Successors,
            r: &crate::grant::Redeem,
        ) -> Result<Result<crate::store::GrantRecord, crate::grant::Refusal>, StoreError> {
            either!(self, s => s.redeem_code(k, r).await)
        }
        async fn refresh_grant(
            &self,
            k: &crate::grant::Successors,
            r: &crate::grant::Refresh,
        ) -> Result<
            Result<(crate::store::GrantRecord, crate::types::ScopeSet), crate::grant::Refusal>,
            StoreError,
        > {
            either!(self, s => s.refresh_grant(k, r).await)
        }
    }

    /// Reaches a grant's object through its Durable Object stub.
    pub(super) struct Stubs(pub(super) ObjectNamespace);

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
use {
    crate::objects::ObjectStore,
    durable::{Grants, Stubs},
};

fn method(m: worker::Method) -> Method {
    match m {
        worker::Method::Get => Method::Get,
        worker::Method::Head => Method::Head,
        worker::Method::Post => Method::Post,
        _ => Method::Other,
    }
}

/// Copies what the core needs out of the runtime's request. A body larger than
/// [`MAX_BODY_BYTES`] is not read at all when its length is declared.
async fn read_request(req: &mut worker::Request) -> worker::Result<Request> {
    // The URL is split by hand rather than parsed with `url`: its IDNA tables
    // would add tens of KiB to the wasm, and the runtime has already parsed it.
    let url = req.inner().url();
    let (origin, rest) = split_origin(&url);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = path.split('#').next().unwrap_or("");
    // Only the headers the core reads: each crossing into JS costs.
    let mut headers = Vec::with_capacity(4);
    for name in [
        "authorization",
        "content-type",
        "cookie",
        "cf-connecting-ip",
    ] {
        if let Some(value) = req.headers().get(name)? {
            headers.push((name.to_owned(), value));
        }
    }
    let declared = req
        .headers()
        .get("content-length")?
        .and_then(|v| v.parse::<usize>().ok());
    let body = if req.method() != worker::Method::Post {
        Some(Vec::new())
    } else if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        None
    } else {
        read_body(req).await?
    };
    Ok(Request {
        method: Some(method(req.method())),
        path: if path.is_empty() {
            "/".to_owned()
        } else {
            path.to_owned()
        },
        query: query.split('#').next().unwrap_or("").to_owned(),
        origin: origin.to_owned(),
        headers,
        body,
    })
}

/// The body, kept up to [`MAX_BODY_BYTES`] and no further whatever the declared
/// length (or its absence): `None` when it is longer. What follows the limit is
/// read and dropped, up to [`DRAIN_BYTES`], rather than left unread: answering
/// before the body is consumed made `wrangler dev` fail the next request.
async fn read_body(req: &mut worker::Request) -> worker::Result<Option<Vec<u8>>> {
    use futures_util::StreamExt;
    let mut body = Vec::new();
    let mut seen = 0usize;
    let mut stream = req.stream()?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        seen += chunk.len();
        if seen <= MAX_BODY_BYTES {
            body.extend_from_slice(&chunk);
        } else if seen > DRAIN_BYTES {
            break;
        }
    }
    Ok((seen <= MAX_BODY_BYTES).then_some(body))
}

/// How much of an oversized body is read (and dropped) before giving up on it.
const DRAIN_BYTES: usize = 1024 * 1024;

/// `("https://host:port", "/path?query")` of an absolute URL from the runtime.
fn split_origin(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let path_at = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |i| after_scheme + i);
    url.split_at(path_at)
}

fn write_response(r: Response) -> worker::Result<worker::Response> {
    let headers = Headers::new();
    for (name, value) in &r.headers {
        headers.append(name, value)?;
    }
    Ok(worker::Response::from_bytes(r.body)?
        .with_status(r.status)
        .with_headers(headers))
}

/// The configuration, read from the environment once per isolate: vars and
/// secrets cannot change without a new deployment, which starts new isolates.
fn config(env: &Env) -> Rc<Config> {
    thread_local! {
        static CONFIG: std::cell::OnceCell<Rc<Config>> = const { std::cell::OnceCell::new() };
    }
    CONFIG.with(|c| {
        c.get_or_init(|| {
            let config = Config::from_vars(|name| {
                env.secret(name)
                    .map(|s| s.to_string())
                    .or_else(|_| env.var(name).map(|v| v.to_string()))
                    .ok()
            });
            let problems = config.signing_key.as_ref().err().into_iter();
            for e in problems.chain(config.previous_signing_key_error.iter()) {
                console_error!("{}", serde_json::json!({"level": "error", "config": e.0}));
            }
            for e in &config.providers.errors {
                console_error!("{}", serde_json::json!({"level": "error", "config": e}));
            }
            Rc::new(config)
        })
        .clone()
    })
}

#[event(fetch)]
async fn fetch(
    mut req: worker::Request,
    env: Env,
    _ctx: Context,
) -> worker::Result<worker::Response> {
    let started = Date::now().as_millis();
    let config = config(&env);
    let request_id = req
        .headers()
        .get("cf-ray")?
        .unwrap_or_else(|| random_string(&OsRng, 9));
    let request = match read_request(&mut req).await {
        Ok(r) => r,
        Err(_) => {
            let body = serde_json::json!({"error": "invalid_request", "error_description": "the request could not be read"});
            return write_response(Response::json(400, &body));
        }
    };
    // After the body: a slow upload must not make expiries computed from `now` stale.
    let now = Date::now().as_millis() / 1000;
    let revocations = REVOCATIONS.with(|r| r.clone());
    let response = match env.kv(KV_BINDING) {
        Ok(kv) => {
            let kv = Kv { kv, now };
            respond(&request, &env, &kv, &config, now, &revocations).await
        }
        Err(_) => config_error(
            "the KV binding OAUTH_KV is missing from wrangler.toml",
            "storage is not configured",
        ),
    };
    if config.log_requests {
        log_line(&request, &response, &request_id, started);
    }
    write_response(response)
}

fn config_error(log: &str, answer: &str) -> Response {
    console_error!("{}", serde_json::json!({"level": "error", "config": log}));
    Response::json(
        500,
        &serde_json::json!({"error": "server_error", "error_description": answer}),
    )
}

/// Runs the core on KV, or on Durable Objects for grants when `GRANT_STORE=DO`.
#[cfg(feature = "durable")]
async fn respond(
    request: &Request,
    env: &Env,
    kv: &Kv,
    config: &Config,
    now: u64,
    revocations: &RevocationCache,
) -> Response {
    let objects = match config.durable_grants {
        false => None,
        true => match env.durable_object(GRANTS_BINDING) {
            Ok(ns) => Some(Stubs(ns)),
            Err(_) => {
                return config_error(
                    "GRANT_STORE is DO but the Durable Object binding GRANTS is missing: uncomment it and its migration in wrangler.toml",
                    "grant storage is not configured",
                )
            }
        },
    };
    let store = match &objects {
        None => Grants::Kv(kv),
        Some(objects) => Grants::Objects(ObjectStore { kv, objects }),
    };
    let ctx = Ctx {
        store: &store,
        config,
        now,
        rng: &OsRng,
        revocations,
        limiter: &RateLimits(env),
        pbkdf2: &WebCryptoPbkdf2,
        clients: &CLIENTS.with(|c| {
            c.get_or_init(|| Rc::new(ClientCache::new(config.client_cache_seconds)))
                .clone()
        }),
        upstream: crate::upstream::Outbound {
            fetch: &Outbound,
            signatures: &WebCryptoSignatures,
            cache: &PROVIDERS.with(Rc::clone),
        },
    };
    crate::handle(request, &ctx).await
}

/// Runs the core on KV. This build has no Durable Object support.
#[cfg(not(feature = "durable"))]
async fn respond(
    request: &Request,
    env: &Env,
    kv: &Kv,
    config: &Config,
    now: u64,
    revocations: &RevocationCache,
) -> Response {
    if config.durable_grants {
        return config_error(
            "GRANT_STORE is DO but this build has no Durable Object support: scripts/build.sh adds it when wrangler.toml says GRANT_STORE = \"DO\"; rebuild",
            "grant storage is not configured",
        );
    }
    let ctx = Ctx {
        store: kv,
        config,
        now,
        rng: &OsRng,
        revocations,
        limiter: &RateLimits(env),
        pbkdf2: &WebCryptoPbkdf2,
        clients: &CLIENTS.with(|c| {
            c.get_or_init(|| Rc::new(ClientCache::new(config.client_cache_seconds)))
                .clone()
        }),
        upstream: crate::upstream::Outbound {
            fetch: &Outbound,
            signatures: &WebCryptoSignatures,
            cache: &PROVIDERS.with(Rc::clone),
        },
    };
    crate::handle(request, &ctx).await
}

/// One line per request; the core's LogFields never hold a secret, and nothing
/// else from the request is logged.
fn log_line(request: &Request, response: &Response, request_id: &str, started: u64) {
    let log = &response.log;
    console_log!(
        "{}",
        serde_json::json!({
            "request_id": request_id,
            "method": match request.method() {
                Method::Get => "GET",
                Method::Head => "HEAD",
                Method::Post => "POST",
                Method::Other => "OTHER",
            },
            "endpoint": request.path.chars().take(64).collect::<String>(),
            "status": response.status,
            "client_id": log.client_id,
            "grant_type": log.grant_type,
            "provider": log.provider,
            "identity": log.identity,
            "outcome": if response.status < 400 { "ok" } else { "error" },
            "error": log.error,
            "reason": log.reason,
            "duration_ms": Date::now().as_millis().saturating_sub(started),
        })
    );
}
