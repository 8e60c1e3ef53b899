//! ES256 access tokens through WebCrypto: the keys in the
//! secrets `ES256_PRIVATE_KEY` and `ES256_PRIVATE_KEY_PREVIOUS` are imported
//! once per isolate, each on its own; the current one signs, both verify.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsValue;

use super::js::{object, property, subtle};
use crate::config::Es256Secrets;
use crate::es256::{pkcs8_der, Es256, KeyRing, PublicJwk, Signed, Verified};

thread_local! {
    // The imported keys, once tried.
    static KEYS: RefCell<Option<Rc<WebCryptoEs256>>> = const { RefCell::new(None) };
}

/// How to make a usable key, logged after the reason a key is not one.
const FIX: &str = "it must be a P-256 private key in PKCS#8 PEM: make one with `cargo run \
     --bin admin -- key generate` (or `openssl genpkey -algorithm EC -pkeyopt \
     ec_paramgen_curve:P-256`) and put it with `npx wrangler secret put`. Until then /token \
     answers server_error without a usable ES256_PRIVATE_KEY, and a token that names a key \
     that is missing gets a 500, never invalid_token.";

/// This isolate's keys, each imported on its own on first use; `None` when
/// the deployment signs with HS256. A key that cannot be imported is logged
/// (naming its setting) and left out, and the others still work.
pub(super) async fn keys(secrets: Option<&Es256Secrets>) -> Option<Rc<WebCryptoEs256>> {
    let secrets = secrets?;
    if let Some(loaded) = KEYS.with(|k| k.borrow().clone()) {
        return Some(loaded);
    }
    let current = import_one(secrets.current.secret()).await;
    let previous = match &secrets.previous {
        Some(p) => Some(import_one(p.secret()).await.map(|(_, verifying)| verifying)),
        None => None,
    };
    let current = current.map(|(signing, (verifying, jwk))| (signing, verifying, jwk));
    let loaded = Rc::new(WebCryptoEs256(KeyRing::new(current, previous)));
    for reason in loaded.0.unusable_all() {
        super::log_config_error(&format!("{reason}: {FIX}"));
    }
    KEYS.with(|k| *k.borrow_mut() = Some(loaded.clone()));
    Some(loaded)
}

/// The keys as WebCrypto holds them.
pub(super) struct WebCryptoEs256(KeyRing<JsValue, JsValue>);

fn ecdsa() -> JsValue {
    object(&[
        ("name", JsValue::from_str("ECDSA")),
        ("namedCurve", JsValue::from_str("P-256")),
    ])
}

fn with_sha256() -> JsValue {
    object(&[
        ("name", JsValue::from_str("ECDSA")),
        ("hash", JsValue::from_str("SHA-256")),
    ])
}

/// A private key's signing key, and its public key for verifying with its JWK.
async fn import_one(secret: &str) -> Option<(JsValue, (JsValue, PublicJwk))> {
    let der = pkcs8_der(secret)?;
    // Extractable, once, for its public coordinates.
    let private = import_pkcs8(&der, true).await?;
    let args = js_sys::Array::of2(&JsValue::from_str("jwk"), &private);
    let jwk = subtle("exportKey", &args).await.ok()?;
    let coordinate = |name| property(&jwk, name)?.as_string();
    let (x, y) = (coordinate("x")?, coordinate("y")?);
    let public = object(&[
        ("kty", JsValue::from_str("EC")),
        ("crv", JsValue::from_str("P-256")),
        ("x", JsValue::from_str(&x)),
        ("y", JsValue::from_str(&y)),
    ]);
    let verify = js_sys::Array::of1(&JsValue::from_str("verify"));
    let args = js_sys::Array::of5(
        &JsValue::from_str("jwk"),
        &public,
        &ecdsa(),
        &JsValue::FALSE,
        &verify,
    );
    let verifying = subtle("importKey", &args).await.ok()?;
    // Not extractable from here on: re-imported without the export right.
    let signing = import_pkcs8(&der, false).await?;
    Some((signing, (verifying, PublicJwk::from_coordinates(x, y))))
}

/// A PKCS#8 P-256 private key as a WebCrypto signing key.
async fn import_pkcs8(der: &[u8], extractable: bool) -> Option<JsValue> {
    let args = js_sys::Array::of5(
        &JsValue::from_str("pkcs8"),
        &js_sys::Uint8Array::from(der),
        &ecdsa(),
        &JsValue::from_bool(extractable),
        &js_sys::Array::of1(&JsValue::from_str("sign")),
    );
    subtle("importKey", &args).await.ok()
}

impl Es256 for WebCryptoEs256 {
    fn keys(&self) -> &[PublicJwk] {
        self.0.keys()
    }

    fn signing_kid(&self) -> Option<&str> {
        self.0.signing_kid()
    }

    fn unusable(&self) -> Option<&'static str> {
        self.0.unusable()
    }

    fn sign<'a>(&'a self, input: &'a [u8]) -> Signed<'a> {
        Box::pin(async move {
            let args = js_sys::Array::of3(
                &with_sha256(),
                self.0.signing()?,
                &js_sys::Uint8Array::from(input),
            );
            let sig = subtle("sign", &args).await.ok()?;
            // WebCrypto's ECDSA signature is already `r || s`, as JWS wants.
            Some(js_sys::Uint8Array::new(&sig).to_vec())
        })
    }

    fn verify<'a>(&'a self, kid: &'a str, input: &'a [u8], sig: &'a [u8]) -> Verified<'a> {
        Box::pin(async move {
            let Some(key) = self.0.verifying(kid) else {
                return false;
            };
            let args = js_sys::Array::of4(
                &with_sha256(),
                key,
                &js_sys::Uint8Array::from(sig),
                &js_sys::Uint8Array::from(input),
            );
            subtle("verify", &args).await.ok().and_then(|v| v.as_bool()) == Some(true)
        })
    }
}
