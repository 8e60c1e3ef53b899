#![no_main]
// JWT verification: any string is refused without a panic (no input forges a
// signature), and a real token with any single byte changed is refused too.
use alexa_oauth::jwt::{sign, verify, Claims, SigningKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = SigningKey::new(b"fuzz-signing-key-of-at-least-32-bytes!!").unwrap();
    let input = String::from_utf8_lossy(data);
    assert!(verify(&input, &[&key], 1_000).is_err());

    if let Some((&at, &byte)) = data.first().zip(data.get(1)) {
        let claims = Claims {
            iss: "https://a".into(),
            aud: Some("c".into()),
            sub: "u".into(),
            client_id: "c".into(),
            scope: "s".into(),
            iat: 0,
            exp: 10_000,
            jti: "j".into(),
            gid: Some("g".into()),
            name: None,
            extra: None,
        };
        let token = sign(&claims, &key);
        let mut bytes = token.clone().into_bytes();
        let i = at as usize % bytes.len();
        if bytes[i] != byte {
            bytes[i] = byte;
            let changed = String::from_utf8_lossy(&bytes);
            if let Ok(c) = verify(&changed, &[&key], 1_000) {
                // Only a change the encoding ignores (base64 padding bits) may pass,
                // and then the claims are exactly the signed ones.
                assert_eq!(c, claims);
            }
        }
    }
});
