//! What the core is handed from the runtime's JavaScript APIs, called through
//! js_sys: the crate's typed wrappers go through serde-wasm-bindgen or its own
//! request types, which cost wasm size for a few fields.

use worker::Env;

use crate::password::{Derived, Pbkdf2};
use crate::throttle::{Hit, Limit, LimitError, Limiter};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// The Rate Limiting bindings (`[[ratelimits]]`, one per [`Limit`]) as the
/// core's [`Limiter`].
pub(super) struct RateLimits<'a>(pub(super) &'a Env);

impl Limiter for RateLimits<'_> {
    fn hit<'a>(&'a self, limit: Limit, key: &'a str, _now: u64) -> Hit<'a> {
        Box::pin(async move {
            let fail = |what: &str| {
                let e = format!(
                    "the [[ratelimits]] binding {} {what}: copy it from the project's wrangler.toml",
                    limit.binding()
                );
                super::log_config_error(&e);
                LimitError(e)
            };
            // `binding.limit({ key })` through js_sys: the crate's wrapper goes
            // through serde-wasm-bindgen, which costs wasm size for one field.
            let binding = property(self.0, limit.binding())
                .ok_or_else(|| fail("is missing from wrangler.toml"))?;
            let limiter = method(&binding, "limit").ok_or_else(|| fail("is not a rate limiter"))?;
            let promise = limiter
                .call1(&binding, &object(&[("key", JsValue::from_str(key))]))
                .map_err(|_| LimitError("the rate limiter refused the call".into()))?;
            let outcome = settled(promise)
                .await
                .map_err(|_| LimitError("the rate limiter failed".into()))?;
            let success = property(&outcome, "success").and_then(|v| v.as_bool());
            success.ok_or_else(|| LimitError("the rate limiter gave no answer".into()))
        })
    }
}

/// PBKDF2-HMAC-SHA256 through WebCrypto (`crypto.subtle.importKey` and
/// `deriveBits`): the runtime's native code instead of the same loop in wasm.
pub(super) struct WebCryptoPbkdf2;

/// `crypto.subtle.<name>(...args)`, awaited.
pub(super) async fn subtle(name: &'static str, args: &js_sys::Array) -> Result<JsValue, String> {
    let failed = || format!("WebCrypto {name} failed");
    let subtle = property(&js_sys::global(), "crypto")
        .and_then(|crypto| property(&crypto, "subtle"))
        .ok_or_else(failed)?;
    let f = method(&subtle, name).ok_or_else(|| format!("WebCrypto: no {name}"))?;
    let promise = f.apply(&subtle, args).map_err(|_| failed())?;
    settled(promise).await.map_err(|_| failed())
}

/// `target[name]`; `None` when it is absent (undefined) or cannot be read.
pub(super) fn property(target: &JsValue, name: &str) -> Option<JsValue> {
    js_sys::Reflect::get(target, &JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined())
}

/// `target[name]` if it is a function.
pub(super) fn method(target: &JsValue, name: &str) -> Option<js_sys::Function> {
    property(target, name)?.dyn_into().ok()
}

/// A promise the runtime handed back, awaited: its value, or why it was rejected.
pub(super) async fn settled(promise: JsValue) -> Result<JsValue, JsValue> {
    JsFuture::from(js_sys::Promise::from(promise)).await
}

/// A plain JS object from name-value pairs.
pub(super) fn object(pairs: &[(&str, JsValue)]) -> JsValue {
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
