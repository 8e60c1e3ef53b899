//! The only module that speaks to the Workers runtime: it turns a Worker request
//! into the core's [`Request`], runs [`crate::handle`] with KV as the store, the
//! runtime's clock and randomness and the configured secrets, and writes one JSON
//! log line per request (read it with `wrangler tail`).

use std::rc::Rc;

use worker::{console_error, console_log, event, Context, Date, Env, Headers, KvStore};

use crate::crypto::{random_string, OsRng};
use crate::grant::RevocationCache;
use crate::http::{Method, Request, Response, MAX_BODY_BYTES};
use crate::store::{Store, StoreError};
use crate::{Config, Ctx};

/// The KV namespace binding in `wrangler.toml`.
const KV_BINDING: &str = "OAUTH_KV";

thread_local! {
    // One copy per isolate, shared by the requests it serves; see `crate::grant`.
    static REVOCATIONS: std::rc::Rc<RevocationCache> = Default::default();
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
            // KV refuses an expiry less than 60 s away; the core checks the record's
            // own expiry anyway, so keeping it a little longer changes nothing.
            put = put.expiration(at.max(self.now + 60));
        }
        put.execute().await.map_err(err)
    }
}

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
        let bytes = req.bytes().await?;
        (bytes.len() <= MAX_BODY_BYTES).then_some(bytes)
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
            if let Err(e) = &config.signing_key {
                console_error!("{}", serde_json::json!({"level": "error", "config": e.0}));
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
    let now = started / 1000;
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
    let response = match env.kv(KV_BINDING) {
        Ok(kv) => {
            let store = Kv { kv, now };
            let revocations = REVOCATIONS.with(|r| r.clone());
            let ctx = Ctx {
                store: &store,
                config: &config,
                now,
                rng: &OsRng,
                revocations: &revocations,
            };
            crate::handle(&request, &ctx).await
        }
        Err(_) => {
            console_error!(
                "{}",
                serde_json::json!({"level": "error", "config": "the KV binding OAUTH_KV is missing from wrangler.toml"})
            );
            let body = serde_json::json!({"error": "server_error", "error_description": "storage is not configured"});
            Response::json(500, &body)
        }
    };
    if config.log_requests {
        log_line(&request, &response, &request_id, started);
    }
    write_response(response)
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
            "outcome": if response.status < 400 { "ok" } else { "error" },
            "error": log.error,
            "reason": log.reason,
            "duration_ms": Date::now().as_millis().saturating_sub(started),
        })
    );
}
