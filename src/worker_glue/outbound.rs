//! Outbound calls from the runtime: `fetch` (providers, Login with Amazon, the
//! Alexa gateways) and ID token signatures through WebCrypto, called through
//! js_sys.

use std::rc::Rc;

use wasm_bindgen::JsValue;

use super::js::{method, object, property, settled, subtle};
use crate::outbound::{Answer, Call, Fetch, FetchError, Fetched, Outbound, TIMEOUT_MS};
use crate::provider::{Alg, Checked, ProviderCache, Signatures};

thread_local! {
    // Providers' discovery documents and keys, per isolate.
    static PROVIDERS: Rc<ProviderCache> = Default::default();
}

/// What the core's sign-in through providers is handed: this isolate's cache
/// of their documents and keys, and the runtime to reach them.
pub(super) fn outbound(cache: &ProviderCache) -> Outbound<'_> {
    Outbound {
        fetch: &RuntimeFetch,
        signatures: &WebCryptoSignatures,
        cache,
    }
}

/// This isolate's cache of providers' documents and keys.
pub(super) fn cache() -> Rc<ProviderCache> {
    PROVIDERS.with(Rc::clone)
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
/// (the body included) by `AbortSignal.timeout`, and given up as soon as its
/// answer passes [`MAX_ANSWER_BYTES`]. Called through js_sys rather than the
/// crate's `Fetch`, `Request` and `Delay`, which cost about 20 KiB of wasm.
struct RuntimeFetch;

/// The most of a provider's answer read: more is not an answer we expect.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// An answer's body, read chunk by chunk and given up (`None`, the rest of
/// the stream cancelled) as soon as it passes [`MAX_ANSWER_BYTES`]: a
/// provider that sends more never makes the isolate hold it.
async fn read_capped(res: &JsValue) -> Result<Option<Vec<u8>>, JsValue> {
    let Some(stream) = property(res, "body").filter(|b| !b.is_null()) else {
        return Ok(Some(Vec::new()));
    };
    let reader = method(&stream, "getReader")
        .ok_or(JsValue::NULL)?
        .call0(&stream)?;
    let read = method(&reader, "read").ok_or(JsValue::NULL)?;
    let mut body = Vec::new();
    loop {
        let chunk = settled(read.call0(&reader)?).await?;
        if property(&chunk, "done").is_some_and(|d| d.is_truthy()) {
            return Ok(Some(body));
        }
        let bytes = js_sys::Uint8Array::new(&property(&chunk, "value").unwrap_or_default());
        if body.len() + bytes.length() as usize > MAX_ANSWER_BYTES {
            if let Some(cancel) = method(&reader, "cancel") {
                let _ = cancel.call0(&reader);
            }
            return Ok(None);
        }
        let at = body.len();
        body.resize(at + bytes.length() as usize, 0);
        bytes.copy_to(&mut body[at..]);
    }
}

impl Fetch for RuntimeFetch {
    fn fetch(&self, call: Call) -> Fetched<'_> {
        Box::pin(async move {
            const FAILED: FetchError = FetchError::Failed;
            let global = js_sys::global();
            let headers = js_sys::Object::new();
            for (name, value) in &call.headers {
                let _ = js_sys::Reflect::set(
                    &headers,
                    &JsValue::from_str(name),
                    &JsValue::from_str(value),
                );
            }
            let timeout = property(&global, "AbortSignal")
                .and_then(|signal| method(&signal, "timeout"))
                .ok_or(FAILED)?
                .call1(&JsValue::NULL, &JsValue::from(TIMEOUT_MS as f64))
                .map_err(|_| FAILED)?;
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
            let outcome = |e: JsValue| match property(&e, "name").and_then(|n| n.as_string()) {
                Some(n) if n == "TimeoutError" => FetchError::TimedOut,
                _ => FAILED,
            };
            let promise = method(&global, "fetch")
                .ok_or(FAILED)?
                .call2(&global, &JsValue::from_str(&call.url), &init)
                .map_err(|_| FAILED)?;
            let res = settled(promise).await.map_err(outcome)?;
            let status = property(&res, "status")
                .and_then(|s| s.as_f64())
                .unwrap_or(0.0) as u16;
            let body = read_capped(&res).await.map_err(outcome)?.ok_or(FAILED)?;
            Ok(Answer { status, body })
        })
    }
}
