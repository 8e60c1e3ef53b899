//! Query strings and `application/x-www-form-urlencoded` bodies (RFC 6749 §3.1,
//! Appendix B).

use crate::error::OAuthError;
use crate::types::MAX_PARAM_LEN;

/// Decoded parameters of one request. Built only by [`Params::parse`], which has
/// already refused repeated parameters, so each name maps to one value. Its
/// `Debug` shows the names only: values include secrets and codes.
#[derive(Default)]
pub struct Params(Vec<(String, String)>);

/// The most parameters one request may carry. Alexa sends at most 8, and
/// every other client of an OAuth server well under this.
pub const MAX_PARAMS: usize = 64;

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(n, _)| n))
            .finish()
    }
}

impl Params {
    /// Decodes a query string or form body.
    ///
    /// RFC 6749 §3.1: parameters sent without a value are treated as omitted, and a
    /// parameter must not be included more than once (`invalid_request`). Values
    /// longer than [`MAX_PARAM_LEN`] are refused too. Invalid UTF-8 in a
    /// percent-escape is replaced, never a panic; the value then fails validation.
    /// More than [`MAX_PARAMS`] parameters are refused.
    pub fn parse(input: &[u8]) -> Result<Self, OAuthError> {
        let mut params: Vec<(String, String)> = Vec::new();
        for (name, value) in url::form_urlencoded::parse(input) {
            if value.len() > MAX_PARAM_LEN || name.len() > 64 {
                return Err(OAuthError::invalid_request("a parameter is too long"));
            }
            if params.len() == MAX_PARAMS {
                return Err(OAuthError::invalid_request("too many parameters"));
            }
            // Repeats, by scanning what came before: bounded by MAX_PARAMS,
            // and a sort would cost the wasm 3 KiB.
            if params.iter().any(|(n, _)| *n == name) {
                return Err(OAuthError::invalid_request("a parameter is repeated"));
            }
            params.push((name.into_owned(), value.into_owned()));
        }
        // §3.1: empty means omitted. Removed after the duplicate check, so `a=&a=x`
        // is still refused as a repeat.
        params.retain(|(_, v)| !v.is_empty());
        Ok(Self(params))
    }

    /// The client credentials of a JSON body (`client_id`, `client_secret`),
    /// as client authentication reads them from a form (RFC 6749 §2.3.1).
    pub fn credentials(client_id: Option<String>, client_secret: Option<String>) -> Self {
        let pairs = [("client_id", client_id), ("client_secret", client_secret)];
        Self(
            pairs
                .into_iter()
                .filter_map(|(n, v)| Some((n.to_owned(), v.filter(|v| !v.is_empty())?)))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A parameter that must be present.
    pub fn require(&self, name: &str, missing: &'static str) -> Result<&str, OAuthError> {
        self.get(name).ok_or(OAuthError::invalid_request(missing))
    }

    /// Removes a parameter and gives its value, so a secret can be moved into its type.
    pub fn take(&mut self, name: &str) -> Option<String> {
        let i = self.0.iter().position(|(n, _)| n == name)?;
        Some(self.0.remove(i).1)
    }
}

/// Whether a `Content-Type` is `application/x-www-form-urlencoded`, with no
/// parameter other than `charset=UTF-8` (any case, quoted or not).
pub fn is_form_content_type(value: &str) -> bool {
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return false;
    }
    parts.all(|p| {
        let p = p.trim();
        if p.is_empty() {
            return true;
        }
        match p.split_once('=') {
            Some((k, v)) => {
                k.trim().eq_ignore_ascii_case("charset")
                    && v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            }
            None => false,
        }
    })
}

/// Characters left as they are in a query value: RFC 3986 unreserved only.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Adds query parameters to a redirect URI (RFC 6749 §4.1.2: keep its own query,
/// add ours). The URI is one registered for the client, so it is trusted as is.
/// Values are percent-encoded, with a space as `%20` rather than `+`, so every
/// decoder gives `state` back byte for byte.
pub fn append_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    // Registration refuses URIs with a fragment (§3.1.2), so none is handled here.
    let sep = match uri.find('?') {
        None => "?",
        Some(_) if uri.ends_with('?') || uri.ends_with('&') => "",
        Some(_) => "&",
    };
    format!("{uri}{sep}{}", encode_pairs(pairs))
}

/// `name=value&…` with each value encoded by [`encode_value`]: a query, or an
/// `application/x-www-form-urlencoded` body.
pub fn encode_pairs(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(&encode_value(value));
    }
    out
}

/// Percent-encodes all but RFC 3986's unreserved characters.
pub fn encode_value(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, QUERY_VALUE).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn repeated_and_empty_parameters() {
        let p = Params::parse(b"a=1&b=&c=x%20y").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
        let e = Params::parse(b"a=1&a=2").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(Params::parse(b"a=&a=2").is_err());
    }

    #[test]
    fn at_most_max_params() {
        let names = |n: usize| {
            (0..n)
                .map(|i| format!("p{i}=x"))
                .collect::<Vec<_>>()
                .join("&")
        };
        assert!(Params::parse(names(MAX_PARAMS).as_bytes()).is_ok());
        let e = Params::parse(names(MAX_PARAMS + 1).as_bytes()).unwrap_err();
        assert_eq!(e.description, "too many parameters");
        // A body of 16 KiB of empty parameters is refused after a few.
        let flood = "a=&".repeat(5_000);
        assert!(Params::parse(flood.as_bytes()).is_err());
    }

    #[test]
    fn long_values_and_bad_utf8() {
        let long = format!("a={}", "x".repeat(MAX_PARAM_LEN + 1));
        assert!(Params::parse(long.as_bytes()).is_err());
        let p = Params::parse(b"a=%ff%fe\xff").unwrap();
        assert!(p.get("a").is_some());
    }

    #[test]
    fn content_types() {
        assert!(is_form_content_type("application/x-www-form-urlencoded"));
        assert!(is_form_content_type(
            "application/x-www-form-urlencoded;charset=UTF-8"
        ));
        assert!(is_form_content_type(
            "Application/X-WWW-Form-Urlencoded; charset=\"utf-8\""
        ));
        assert!(!is_form_content_type(
            "application/x-www-form-urlencoded; charset=iso-8859-1"
        ));
        assert!(!is_form_content_type("application/json"));
        assert!(!is_form_content_type("multipart/form-data; boundary=x"));
    }

    #[test]
    fn append_query_keeps_existing_query() {
        assert_eq!(
            append_query("https://a.example/cb", &[("code", "x y"), ("state", "s&t")]),
            "https://a.example/cb?code=x%20y&state=s%26t"
        );
        assert_eq!(
            append_query("https://a.example/cb?v=1", &[("code", "c")]),
            "https://a.example/cb?v=1&code=c"
        );
    }
}
