//! ES256 access tokens through WebCrypto (feature `es256`): the keys in the
//! secrets `ES256_PRIVATE_KEY` and `ES256_PRIVATE_KEY_PREVIOUS` are imported
//! once per isolate; the current one signs, both verify.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsValue;

use super::js::{object, property, subtle};
use crate::config::Es256Secrets;
use crate::es256::{pkcs8_der, Es256, PublicJwk, Signed, Verified};

thread_local! {
    // The imported keys, or `None` once they could not be.
    static KEYS: RefCell<Option<Option<Rc<WebCryptoEs256>>>> = const { RefCell::new(None) };
}

/// What `ES256_PRIVATE_KEY` must be, logged when it is not.
const UNUSABLE: &str = "ES256_PRIVATE_KEY (or ES256_PRIVATE_KEY_PREVIOUS) is not a P-256 \
     private key in PKCS#8 PEM: make one with `cargo run --bin admin -- key generate` (or \
     `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`) and put it with \
     `npx wrangler secret put ES256_PRIVATE_KEY`. /token answers server_error until then.";

/// This isolate's keys, imported on first use; `None` when the deployment
/// signs with HS256 or its keys are unusable (logged once).
pub(super) async fn keys(secrets: Option<&Es256Secrets>) -> Option<Rc<WebCryptoEs256>> {
    let secrets = secrets?;
    if let Some(loaded) = KEYS.with(|k| k.borrow().clone()) {
        return loaded;
    }
    let loaded = WebCryptoEs256::import(secrets).await.map(Rc::new);
    if loaded.is_none() {
        super::log_config_error(UNUSABLE);
    }
    KEYS.with(|k| *k.borrow_mut() = Some(loaded.clone()));
    loaded
}

/// The keys as WebCrypto holds them.
pub(super) struct WebCryptoEs256 {
    signing: JsValue,
    verifying: Vec<JsValue>,
    keys: Vec<PublicJwk>,
}

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

impl WebCryptoEs256 {
    async fn import(secrets: &Es256Secrets) -> Option<Self> {
        let (signing, current) = import_one(secrets.current.secret()).await?;
        let mut all = vec![current];
        if let Some(previous) = &secrets.previous {
            all.push(import_one(previous.secret()).await?.1);
        }
        Some(Self {
            signing,
            verifying: all.iter().map(|(key, _)| key.clone()).collect(),
            keys: all.into_iter().map(|(_, jwk)| jwk).collect(),
        })
    }
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
        &self.keys
    }

    fn sign<'a>(&'a self, input: &'a [u8]) -> Signed<'a> {
        Box::pin(async move {
            let args = js_sys::Array::of3(
                &with_sha256(),
                &self.signing,
                &js_sys::Uint8Array::from(input),
            );
            let sig = subtle("sign", &args).await.ok()?;
            // WebCrypto's ECDSA signature is already `r || s`, as JWS wants.
            Some(js_sys::Uint8Array::new(&sig).to_vec())
        })
    }

    fn verify<'a>(&'a self, kid: &'a str, input: &'a [u8], sig: &'a [u8]) -> Verified<'a> {
        Box::pin(async move {
            let Some(i) = self.keys.iter().position(|k| k.kid == kid) else {
                return false;
            };
            let args = js_sys::Array::of4(
                &with_sha256(),
                &self.verifying[i],
                &js_sys::Uint8Array::from(sig),
                &js_sys::Uint8Array::from(input),
            );
            subtle("verify", &args).await.ok().and_then(|v| v.as_bool()) == Some(true)
        })
    }
}
