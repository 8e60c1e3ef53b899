#![no_main]
// The HTTP Basic header (RFC 6749 §2.3.1): any header value, with or without a
// body client_id/secret, gives credentials or invalid_client, never a panic.
use alexa_oauth::client_auth::extract;
use alexa_oauth::form::Params;
use alexa_oauth::http::{Method, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (flags, header) = data.split_first().unwrap_or((&0, &[]));
    let req = Request::new(Method::Post, "/token")
        .with_header("authorization", &String::from_utf8_lossy(header));
    let body: &[u8] = match flags % 3 {
        0 => b"",
        1 => b"client_id=alexa",
        _ => b"client_id=alexa&client_secret=s",
    };
    let mut params = Params::parse(body).unwrap();
    if extract(&req, &mut params).is_ok() {
        assert!(flags % 3 != 2, "a secret in both places is refused");
    }
});
