#![no_main]
// A provider's answers as they reach the ID token checks: any token,
// claims or JWKS document is refused or accepted without a panic, and only
// claims that meet every rule give a subject.
use alexa_oauth::provider::id_token::{check_claims, Expected, Jws, KeySet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(jws) = Jws::parse(&text) {
        let want = Expected {
            issuer: "https://idp.example",
            client_id: "us",
            nonce: "n",
            now: 1_000_000,
        };
        if let Ok(sub) = check_claims(jws.claims(), &want) {
            assert!(!sub.is_empty());
            assert_eq!(jws.claims()["iss"], "https://idp.example");
            assert_eq!(jws.claims()["nonce"], "n");
        }
    }
    if let Some(keys) = KeySet::parse(data) {
        let _ = keys.find(text.get(..8));
    }
});
