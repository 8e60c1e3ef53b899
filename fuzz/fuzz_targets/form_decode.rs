#![no_main]
// Form and query decoding: any bytes give parameters or invalid_request, never a panic.
use alexa_oauth::form::{is_form_content_type, Params};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = Params::parse(data) {
        // What was accepted respects the limits the parser promises.
        for name in ["grant_type", "code", "state", "redirect_uri"] {
            if let Some(v) = params.get(name) {
                assert!(!v.is_empty() && v.len() <= alexa_oauth::types::MAX_PARAM_LEN);
            }
        }
    }
    let _ = is_form_content_type(&String::from_utf8_lossy(data));
});
