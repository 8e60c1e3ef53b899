#![no_main]
// The whole token request through the core on the in-memory store: any body,
// with or without Basic credentials, gets a success or an RFC 6749 error.

use alexa_oauth::http::{Method, Request};
use alexa_oauth::testing::{check_answer, Server};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = Server::new_fast();
    let (flags, body) = data.split_first().unwrap_or((&0, &[]));
    let mut req = Request::new(Method::Post, "/token")
        .with_header(
            "content-type",
            "application/x-www-form-urlencoded;charset=UTF-8",
        )
        .with_body(body.to_vec());
    if flags & 1 == 1 {
        // YWxleGE6YWxleGEtY2xpZW50LXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm = alexa:SECRET
        req = req.with_header(
            "authorization",
            "Basic YWxleGE6YWxleGEtY2xpZW50LXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm",
        );
    }
    if flags & 2 == 2 {
        s.store.fail_after((flags >> 2) as usize);
        let r = s.send(req.clone());
        assert!(r.status != 500, "a storage fault is a 503, not a 500");
        return;
    }
    let r = s.send(req.clone());
    check_answer(&r).unwrap();
    assert_eq!(r.get_header("cache-control"), Some("no-store"));
});
