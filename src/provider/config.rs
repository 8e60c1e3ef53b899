//! The configured providers, read from the Worker's vars and secrets:
//!
//! | variable                 | meaning                                                    |
//! |--------------------------|------------------------------------------------------------|
//! | `SIGN_IN_PROVIDERS`      | the names, space separated, in button order                |
//! | `<NAME>_CLIENT_ID`       | our client id at the provider (a var)                      |
//! | `<NAME>_CLIENT_SECRET`   | our client secret there (a secret)                         |
//! | `<NAME>_LABEL`           | the button's "Sign in with …" (default: the preset's name) |
//! | `<NAME>_ISSUER`          | a generic OpenID Connect provider's issuer                 |
//! | `<NAME>_AUTHORIZE_URL`, `<NAME>_TOKEN_URL`, `<NAME>_USERINFO_URL` | endpoint overrides |
//! | `<NAME>_SCOPE`           | the scope asked for (default: the preset's)                |
//! | `<NAME>_AUTO_CREATE`     | `true` creates a user on first sign-in (open sign-up)      |
//!
//! `amazon`, `google` and `github` are presets; any other name is a generic
//! OpenID Connect provider found through `<issuer>/.well-known/openid-configuration`.

use std::fmt;

/// How a provider says who signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Login with Amazon: the profile's `user_id`.
    Amazon,
    /// GitHub: the `/user` API's numeric `id`.
    GitHub,
    /// OpenID Connect: the ID token's `sub`.
    Oidc,
}

/// A client secret we hold at a provider.
pub struct ProviderSecret(String);

impl ProviderSecret {
    /// The secret itself; every call site is a place where it can leak.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ProviderSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProviderSecret([redacted])")
    }
}

/// One configured provider.
#[derive(Debug)]
pub struct Provider {
    /// Lower case; in the callback path `/callback/<name>` and in identities.
    pub name: String,
    pub label: String,
    pub kind: Kind,
    pub client_id: String,
    pub client_secret: ProviderSecret,
    /// OpenID Connect only.
    pub issuer: Option<String>,
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub scope: String,
    pub auto_create: bool,
}

/// The providers, in button order, and what was wrong with the ones left out.
#[derive(Debug, Default)]
pub struct Providers {
    pub list: Vec<Provider>,
    /// Each a configuration mistake with its fix, logged at the first request.
    pub errors: Vec<String>,
}

impl Providers {
    pub fn get(&self, name: &str) -> Option<&Provider> {
        self.list.iter().find(|p| p.name == name)
    }

    pub fn from_vars(var: &impl Fn(&str) -> Option<String>) -> Self {
        let mut out = Self::default();
        let names = var("SIGN_IN_PROVIDERS").unwrap_or_default();
        for name in names.split([' ', ',']).filter(|n| !n.is_empty()) {
            let name = name.to_ascii_lowercase();
            match Provider::from_vars(&name, var) {
                Ok(p) if out.get(&p.name).is_none() => out.list.push(p),
                Ok(_) => {}
                Err(e) => out.errors.push(format!("sign-in provider {name:?}: {e}")),
            }
        }
        out
    }
}

/// Whether an issuer or endpoint may be used: `https://`, or `http://` on this
/// machine only (a local stand-in).
pub fn allowed_url(url: &str) -> bool {
    if url.starts_with("https://") && url.len() > "https://".len() {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    host == "localhost" || host == "127.0.0.1"
}

impl Provider {
    fn from_vars(name: &str, var: &impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err("a name is letters, digits and _ only".into());
        }
        let upper = name.to_ascii_uppercase();
        let get = |suffix: &str| {
            var(&format!("{upper}_{suffix}"))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let need = |suffix: &str| get(suffix).ok_or_else(|| format!("{upper}_{suffix} is not set"));
        let (kind, label, issuer, scope) = match name {
            "amazon" => (Kind::Amazon, "Amazon", None, "profile"),
            "github" => (Kind::GitHub, "GitHub", None, "read:user"),
            "google" => (
                Kind::Oidc,
                "Google",
                Some("https://accounts.google.com".to_owned()),
                "openid profile email",
            ),
            _ => (Kind::Oidc, name, None, "openid profile"),
        };
        let issuer = get("ISSUER").or(issuer);
        if kind == Kind::Oidc && issuer.is_none() {
            return Err(format!(
                "{upper}_ISSUER is not set (the provider's OpenID Connect issuer URL)"
            ));
        }
        let provider = Self {
            name: name.to_owned(),
            label: get("LABEL").unwrap_or_else(|| label.to_owned()),
            kind,
            client_id: need("CLIENT_ID")?,
            client_secret: ProviderSecret(
                need("CLIENT_SECRET")
                    .map_err(|e| format!("{e}: `npx wrangler secret put {upper}_CLIENT_SECRET`"))?,
            ),
            issuer: issuer.map(|i| i.trim_end_matches('/').to_owned()),
            authorize_url: get("AUTHORIZE_URL"),
            token_url: get("TOKEN_URL"),
            userinfo_url: get("USERINFO_URL"),
            scope: get("SCOPE").unwrap_or_else(|| scope.to_owned()),
            auto_create: get("AUTO_CREATE").is_some_and(|v| v == "true"),
        };
        let urls = [
            ("ISSUER", &provider.issuer),
            ("AUTHORIZE_URL", &provider.authorize_url),
            ("TOKEN_URL", &provider.token_url),
            ("USERINFO_URL", &provider.userinfo_url),
        ];
        for (what, url) in urls {
            if url.as_deref().is_some_and(|u| !allowed_url(u)) {
                return Err(format!(
                    "{upper}_{what} must be https:// (http:// only for localhost and 127.0.0.1)"
                ));
            }
        }
        Ok(provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn presets_generic_providers_and_mistakes() {
        let p = Providers::from_vars(&vars(&[
            ("SIGN_IN_PROVIDERS", "amazon Corp github nope google"),
            ("AMAZON_CLIENT_ID", "amzn1.application-oa2-client.x"),
            ("AMAZON_CLIENT_SECRET", "s"),
            ("CORP_CLIENT_ID", "c"),
            ("CORP_CLIENT_SECRET", "s"),
            ("CORP_ISSUER", "http://127.0.0.1:9000/"),
            ("CORP_LABEL", "Corp SSO"),
            ("GITHUB_CLIENT_ID", "g"),
            ("GOOGLE_CLIENT_ID", "g"),
            ("GOOGLE_CLIENT_SECRET", "s"),
            ("GOOGLE_TOKEN_URL", "http://evil.example/token"),
        ]));
        let names: Vec<&str> = p.list.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["amazon", "corp"]);
        assert_eq!(p.list[0].kind, Kind::Amazon);
        assert_eq!(p.list[0].label, "Amazon");
        assert_eq!(p.list[1].issuer.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(p.list[1].label, "Corp SSO");
        let errors = p.errors.join("\n");
        assert!(
            errors.contains("GITHUB_CLIENT_SECRET is not set"),
            "{errors}"
        );
        assert!(errors.contains("NOPE_ISSUER is not set"), "{errors}");
        assert!(
            errors.contains("GOOGLE_TOKEN_URL must be https://"),
            "{errors}"
        );
        assert!(!errors.contains("\"s\""), "no secret in an error: {errors}");
    }

    #[test]
    fn plain_http_only_on_this_machine() {
        for (url, ok) in [
            ("https://accounts.google.com", true),
            ("http://localhost:8080/x", true),
            ("http://127.0.0.1", true),
            ("http://127.0.0.1.evil.example/", false),
            ("http://localhost@evil.example/", false),
            ("http://example.com", false),
            ("https://", false),
            ("ftp://localhost", false),
        ] {
            assert_eq!(allowed_url(url), ok, "{url}");
        }
    }
}
