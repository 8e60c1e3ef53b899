//! The only module that speaks to the Workers runtime: it turns a Worker request
//! into the core's [`Request`], runs [`crate::handle`] with KV as the store, the
//! runtime's clock and randomness and the configured secrets, and writes one JSON
//! log line per request (read it with `wrangler tail`).
//!
//! - `mod.rs` (here): the entry point, the request and response, the
//!   configuration, one log line per request.
//! - `storage.rs`: KV, and in Durable Object mode the grant objects, as the
//!   core's stores.
//! - `js.rs`: what the core is handed from the runtime's JavaScript APIs: the
//!   rate limiters and WebCrypto PBKDF2.
//! - `outbound.rs`: `fetch` for every outbound call, and WebCrypto signature
//!   checks for sign-in through providers.
//!
//! The runtime's request, response and bindings are reached through web_sys and
//! js_sys rather than the `worker` crate's typed wrappers: those cost wasm size
//! and per-request work (see `bench/README.md`). So are the entry point
//! ([`fetch`]) and the Durable Object class; the crate still provides `Env`,
//! the clock, logging, and the start-up that worker-build's `index.js` calls.

use std::rc::Rc;

use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use worker::worker_sys::web_sys;
use worker::{console_error, console_log, Date, Env};

use crate::crypto::{random_string, OsRng};
use crate::grant::{GrantStore, RevocationCache};
use crate::http::{max_body_bytes, ErrorBody, Method, Request, Response};
use crate::store::ClientCache;
use crate::{Config, Ctx};

mod es256;
mod js;
mod outbound;
mod storage;

use js::{settled, RateLimits, WebCryptoPbkdf2};
use storage::Kv;

// talc in place of the default dlmalloc: smaller code for the same job. The
// Worker runs one request at a time per isolate thread (single-threaded wasm).
#[global_allocator]
static ALLOCATOR: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };

/// The KV namespace binding in `wrangler.toml`.
const KV_BINDING: &str = "OAUTH_KV";
/// The Durable Object binding for grants (`GRANT_STORE = "DO"`).
const GRANTS_BINDING: &str = "GRANTS";

thread_local! {
    // One copy per isolate, shared by the requests it serves; see `crate::grant`.
    static REVOCATIONS: Rc<RevocationCache> = Default::default();
    // Client records, per isolate; see `crate::store::ClientCache`.
    static CLIENTS: std::cell::OnceCell<Rc<ClientCache>> = const { std::cell::OnceCell::new() };
    // Event records and LWA access tokens, per isolate; see `crate::alexa`.
    static ALEXA: Rc<crate::alexa::EventTokenCache> = Default::default();
    static TEXTS: Rc<crate::i18n::OverridesCache> = Default::default();
}

use {
    crate::grant::durable::DurableGrants,
    storage::{ModeStore, Stubs},
};

/// Copies what the core needs out of the runtime's request. A body larger than
/// its path's limit ([`max_body_bytes`]) is not read at all when its length is declared.
///
/// The runtime's own `Request`, not the crate's: the crate's conversion reads
/// `request.cf` (an object the runtime builds on each access) and streams the
/// body, together about a tenth of a refresh's CPU time under `wrangler dev`.
async fn read_request(req: &web_sys::Request) -> Result<Request, JsValue> {
    // The URL is split by hand rather than parsed with `url`: its IDNA tables
    // would add tens of KiB to the wasm, and the runtime has already parsed it.
    let url = req.url();
    let (origin, rest) = split_origin(&url);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = path.split('#').next().unwrap_or("");
    // Only the headers the core reads: each crossing into JS costs.
    let mut headers = Vec::with_capacity(5);
    let all = req.headers();
    for name in [
        "authorization",
        "content-type",
        "cookie",
        "cf-connecting-ip",
        // The pages' language (crate::i18n).
        "accept-language",
    ] {
        if let Some(value) = all.get(name)? {
            headers.push((name.to_owned(), value));
        }
    }
    let declared = all
        .get("content-length")?
        .and_then(|v| v.parse::<usize>().ok());
    let method = Method::from_name(&req.method());
    let limit = max_body_bytes(path);
    let body = if method != Method::Post {
        Some(Vec::new())
    } else if declared.is_some_and(|n| n > limit) {
        None
    } else {
        read_body(req, declared.is_some(), limit).await?
    };
    Ok(Request {
        method: Some(method),
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

/// The body, kept up to `limit` ([`max_body_bytes`]) and no further whatever the declared
/// length (or its absence): `None` when it is longer. A declared length (at
/// most the limit; the caller checked) is read in one piece. Otherwise the
/// stream is read chunk by chunk, and what follows the limit is read and
/// dropped, up to [`DRAIN_BYTES`], rather than left unread: answering before
/// the body is consumed made `wrangler dev` fail the next request.
async fn read_body(
    req: &web_sys::Request,
    declared: bool,
    limit: usize,
) -> Result<Option<Vec<u8>>, JsValue> {
    if declared {
        let bytes = js_sys::Uint8Array::new(&settled(req.array_buffer()?.into()).await?);
        return Ok((bytes.length() as usize <= limit).then(|| bytes.to_vec()));
    }
    let Some(stream) = req.body() else {
        return Ok(Some(Vec::new()));
    };
    let reader: web_sys::ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let (done, value) = (JsValue::from_str("done"), JsValue::from_str("value"));
    let mut body = Vec::new();
    let mut seen = 0usize;
    loop {
        let chunk = settled(reader.read().into()).await?;
        if js_sys::Reflect::get(&chunk, &done)?.is_truthy() {
            break;
        }
        let bytes = js_sys::Uint8Array::new(&js_sys::Reflect::get(&chunk, &value)?);
        let at = body.len();
        seen += bytes.length() as usize;
        if seen <= limit {
            body.resize(seen, 0);
            bytes.copy_to(&mut body[at..]);
        } else if seen > DRAIN_BYTES {
            break;
        }
    }
    reader.release_lock();
    Ok((seen <= limit).then_some(body))
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

fn write_response(r: Response) -> Result<web_sys::Response, JsValue> {
    let headers = web_sys::Headers::new()?;
    for (name, value) in &r.headers {
        headers.append(name, value)?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(r.status);
    init.set_headers(&headers);
    let mut body = r.body;
    let body = (!body.is_empty()).then_some(body.as_mut_slice());
    web_sys::Response::new_with_opt_u8_array_and_init(body, &init)
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
            let problems = problems
                .chain(config.previous_signing_key_error.iter())
                .chain(config.access_token_ttl_error.iter())
                .chain(config.access_token_alg_error.iter());
            for e in problems {
                log_config_error(e.0);
            }
            for e in &config.providers.errors {
                log_config_error(e);
            }
            for e in config.alexa.errors() {
                log_config_error(e.0);
            }
            Rc::new(config)
        })
        .clone()
    })
}

/// The Worker's `fetch` handler, exported to the runtime's module (the
/// `index.js` that worker-build writes calls it). Declared here rather than
/// with the crate's `#[event(fetch)]`: that wraps the handler in the crate's
/// own error and response types, whose formatting of every error the crate
/// knows (its router's among them) cost about 8 KiB of wasm for an answer
/// that is never made. A runtime call that throws is a 500 and one log line.
#[wasm_bindgen::prelude::wasm_bindgen]
#[allow(unreachable_pub)] // exported to JavaScript, not to Rust
pub async fn fetch(req: web_sys::Request, env: Env, _ctx: JsValue) -> Result<JsValue, JsValue> {
    match serve(req, env).await {
        Ok(response) => Ok(response.into()),
        Err(e) => {
            let message = e.as_string().or_else(|| {
                e.dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
            });
            log_error("runtime", message.as_deref().unwrap_or("a call threw"));
            let body = ErrorBody::new("server_error", "the request could not be served");
            write_response(Response::json(500, &body)).map(Into::into)
        }
    }
}

async fn serve(req: web_sys::Request, env: Env) -> Result<web_sys::Response, JsValue> {
    let started = Date::now().as_millis();
    let config = config(&env);
    let request = match read_request(&req).await {
        Ok(r) => r,
        Err(_) => {
            let body = ErrorBody::new("invalid_request", "the request could not be read");
            return write_response(Response::json(400, &body));
        }
    };
    // After the body: a slow upload must not make expiries computed from `now` stale.
    let now = Date::now().as_millis() / 1000;
    let revocations = REVOCATIONS.with(|r| r.clone());
    let response = match Kv::bound(&env, KV_BINDING, now) {
        Some(kv) => respond(&request, &env, &kv, &config, now, &revocations).await,
        None => config_error(
            "the KV binding OAUTH_KV is missing from wrangler.toml",
            "storage is not configured",
        ),
    };
    if config.log_requests {
        let request_id = req
            .headers()
            .get("cf-ray")?
            .unwrap_or_else(|| random_string(&OsRng, 9));
        log_line(&request, &response, &request_id, started);
    }
    write_response(response)
}

fn config_error(log: &str, answer: &str) -> Response {
    log_config_error(log);
    Response::json(500, &ErrorBody::new("server_error", answer))
}

/// A configuration mistake's log line: `{"config": <what to fix>, "level": "error"}`.
fn log_config_error(config: &str) {
    log_error("config", config);
}

/// An error's log line, `{"<kind>": <message>, "level": "error"}`: `config`
/// for a setting to fix, `runtime` for a runtime call that threw.
fn log_error(kind: &'static str, message: &str) {
    let message = serde_json::to_string(message).unwrap_or_default();
    console_error!("{{\"{kind}\":{message},\"level\":\"error\"}}");
}

/// Runs the core on KV, or on Durable Objects for grants when `GRANT_STORE=DO`.
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
        true => match js::property(env, GRANTS_BINDING) {
            Some(ns) => Some(Stubs(ns)),
            None => {
                return config_error(
                    "GRANT_STORE is DO but the Durable Object binding GRANTS is missing: uncomment it and its migration in wrangler.toml",
                    "grant storage is not configured",
                )
            }
        },
    };
    let store = match &objects {
        None => ModeStore::Kv(kv),
        Some(objects) => ModeStore::Objects(DurableGrants { kv, objects }),
    };
    run(request, env, &store, config, now, revocations).await
}

/// The core on `store`, with everything else the runtime hands it.
async fn run<S: GrantStore>(
    request: &Request,
    env: &Env,
    store: &S,
    config: &Config,
    now: u64,
    revocations: &RevocationCache,
) -> Response {
    let providers = outbound::cache();
    let es256 = es256::keys(config.es256.as_ref()).await;
    let ctx = Ctx {
        store,
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
        outbound: outbound::outbound(&providers),
        alexa: &ALEXA.with(Rc::clone),
        texts: &TEXTS.with(Rc::clone),
        es256: es256.as_deref().map(|k| k as &dyn crate::es256::Es256),
    };
    crate::handle(request, &ctx).await
}

/// One line per request; the core's LogFields never hold a secret, and nothing
/// else from the request is logged. Fields in this order, absent ones as `null`.
fn log_line(request: &Request, response: &Response, request_id: &str, started: u64) {
    #[derive(Serialize)]
    struct Line<'a> {
        client_id: Option<&'a str>,
        duration_ms: u64,
        endpoint: String,
        error: Option<&'a str>,
        grant_id: Option<&'a str>,
        grant_type: Option<&'a str>,
        identity: Option<&'a str>,
        method: &'static str,
        outcome: &'static str,
        provider: Option<&'a str>,
        reason: Option<&'a str>,
        request_id: &'a str,
        status: u16,
        sub: Option<&'a str>,
    }
    let log = &response.log;
    let line = Line {
        client_id: log.client_id.as_deref(),
        duration_ms: Date::now().as_millis().saturating_sub(started),
        endpoint: crate::endpoint::log_path(&request.path)
            .chars()
            .take(64)
            .collect(),
        error: log.error,
        grant_id: log.grant_id.as_deref(),
        grant_type: log.grant_type.as_deref(),
        identity: log.identity.as_deref(),
        method: request.method().name(),
        outcome: if response.status < 400 { "ok" } else { "error" },
        provider: log.provider.as_deref(),
        reason: log.reason,
        request_id,
        status: response.status,
        sub: log.sub.as_deref(),
    };
    console_log!("{}", serde_json::to_string(&line).unwrap_or_default());
}
