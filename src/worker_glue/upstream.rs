//! Sign-in through providers, from the runtime: outbound `fetch` and ID token
//! signatures through WebCrypto, called through js_sys. Only in a build with
//! the `upstream` feature (see `scripts/features.sh`).

use std::rc::Rc;

use wasm_bindgen::JsValue;

use super::js::{method, object, property, settled, subtle};
use crate::upstream::{
    Alg, Answer, Call, Checked, Fetch, FetchError, Fetched, Outbound, ProviderCache, Signatures,
    TIMEOUT_MS,
};

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
/// (the body included) by `AbortSignal.timeout`, with at most
/// [`MAX_ANSWER_BYTES`] of answer kept. Called through js_sys rather than the
/// crate's `Fetch`, `Request` and `Delay`, which cost about 20 KiB of wasm.
struct RuntimeFetch;

/// The most of a provider's answer read: more is not an answer we expect.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

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
            let body = method(&res, "arrayBuffer")
                .ok_or(FAILED)?
                .call0(&res)
                .map_err(|_| FAILED)?;
            let body = js_sys::Uint8Array::new(&settled(body).await.map_err(outcome)?);
            if body.length() as usize > MAX_ANSWER_BYTES {
                return Err(FAILED);
            }
            Ok(Answer {
                status,
                body: body.to_vec(),
            })
        })
    }
}
