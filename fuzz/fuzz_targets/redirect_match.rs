#![no_main]
// Redirect-URI matching: whatever redirect_uri is asked for, the server only
// ever redirects to a registered URI, and only serves the login page for an
// exact match.

use alexa_oauth::http::{Method, Request};
use alexa_oauth::testing::{check_answer, Server, REDIRECTS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = Server::new_fast();
    let (choice, rest) = data.split_first().unwrap_or((&0, &[]));
    let asked = String::from_utf8_lossy(rest);
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", "alexa")
        .append_pair("redirect_uri", &asked)
        .append_pair("state", "s");
    // Sometimes also a bad response_type or scope, which redirect with an error.
    match choice % 3 {
        0 => {
            q.append_pair("response_type", "code");
        }
        1 => {
            q.append_pair("response_type", "token");
        }
        _ => {
            q.append_pair("response_type", "code")
                .append_pair("scope", "admin");
        }
    }
    let r = s.send(Request::new(
        Method::Get,
        &format!("/authorize?{}", q.finish()),
    ));
    check_answer(&r).unwrap();
    match r.status {
        302 => {
            let loc = r.get_header("location").unwrap();
            assert!(
                REDIRECTS.iter().any(|u| loc.starts_with(&format!("{u}?"))),
                "redirect to {loc}"
            );
            assert!(REDIRECTS.contains(&asked.as_ref()));
        }
        200 => assert!(
            REDIRECTS.contains(&asked.as_ref()),
            "login page for {asked:?}"
        ),
        _ => assert!(r.get_header("location").is_none()),
    }
});
