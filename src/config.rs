//! The settings the Worker reads from its environment (`wrangler.toml`'s
//! `[vars]` and the secrets), once per isolate, and the rule that picks the
//! grant store (`GRANT_STORE`), shared by the Worker and `admin`. Every
//! setting is read at run time: nothing here is fixed by the build.

use crate::jwt::SigningKey;
use crate::{grant, provider};

/// Access tokens live one hour by default (`expires_in: 3600`);
/// `ACCESS_TOKEN_TTL` sets another life within [`ACCESS_TOKEN_TTL_RANGE`].
pub const ACCESS_TOKEN_TTL: u64 = 3600;
/// The lives `ACCESS_TOKEN_TTL` may set: Amazon requires at least 6 minutes;
/// a day is as long as a revocation may wait for a skill that checks tokens
/// offline.
pub const ACCESS_TOKEN_TTL_RANGE: std::ops::RangeInclusive<u64> = 360..=86_400;
/// Authorization codes live five minutes (RFC 6749 §4.1.2 recommends at most ten).
pub const CODE_TTL: u64 = 300;

/// Settings read once from the Worker's environment.
#[derive(Debug)]
pub struct Config {
    /// `ISSUER`; when unset, the origin the request came to.
    pub issuer: Option<String>,
    /// `SIGNING_KEY`; the error says what is wrong and how to fix it.
    pub signing_key: Result<SigningKey, ConfigError>,
    /// `SIGNING_KEY_PREVIOUS`: verifies tokens signed before a key rotation; signs nothing.
    pub previous_signing_key: Option<SigningKey>,
    /// Set when `SIGNING_KEY_PREVIOUS` is set but unusable: logged with its fix,
    /// since every token signed with it would fail.
    pub previous_signing_key_error: Option<ConfigError>,
    /// `SCOPES_SUPPORTED`, space separated, for the discovery document.
    pub scopes_supported: Option<String>,
    /// `REFRESH_TOKEN_TTL` in seconds of disuse; unset or `0` means refresh
    /// tokens never expire.
    pub refresh_token_ttl: Option<u64>,
    /// `ACCESS_TOKEN_TTL` in seconds (default [`ACCESS_TOKEN_TTL`]).
    pub access_token_ttl: u64,
    /// Set when `ACCESS_TOKEN_TTL` is set but unusable: logged with its fix.
    pub access_token_ttl_error: Option<ConfigError>,
    /// `DEMO_CALLBACK=true` serves `/demo/callback`, a page that shows the code, for
    /// trying a link in a browser during local development.
    pub demo_callback: bool,
    /// `LOG_REQUESTS=false` turns off the per-request log line (on by default).
    pub log_requests: bool,
    /// `GRANT_STORE=DO` keeps grant state in Durable Objects; `KV` (the default)
    /// keeps everything in KV.
    pub durable_grants: bool,
    /// `ACCOUNT_PAGES = "on"` (or `true`) serves `/account`, `/invite/<token>`
    /// and `/reset/<token>` (docs/account.md); off by default.
    pub account_pages: bool,
    /// `CLIENT_CACHE_SECONDS`: how long an isolate trusts its copy of a client
    /// record (default 30; 0 reads KV every time).
    pub client_cache_seconds: u64,
    /// `SIGN_IN_PROVIDERS` and each one's settings (see [`provider::Providers`]).
    pub providers: provider::Providers,
    /// `PASSWORD_SIGN_IN=false` hides the username and password form.
    pub password_sign_in: bool,
    /// `ADMIN_TOKEN` (a secret, at least [`ADMIN_TOKEN_MIN_BYTES`]): unset, or
    /// too short, turns `/admin/grants` off.
    pub admin_token: Option<crate::types::AdminToken>,
    /// `ACCESS_TOKEN_ALG = "ES256"`: access tokens are signed with
    /// `ES256_PRIVATE_KEY`; `ES256_PRIVATE_KEY_PREVIOUS` still verifies.
    pub es256: Option<Es256Secrets>,
    /// `ACCESS_TOKEN_ALG` unknown, or ES256 without its key: logged with its
    /// fix, and `/token` answers `server_error` rather than sign with
    /// something else.
    pub access_token_alg_error: Option<ConfigError>,
    /// Alexa's side of the link: LWA and the event gateways (see
    /// [`crate::alexa::Settings`]).
    pub alexa: crate::alexa::Settings,
    /// The keys refresh tokens are derived with, from the signing keys.
    successors: grant::Successors,
}

/// The ES256 keys, as the secrets hold them.
#[derive(Debug)]
pub struct Es256Secrets {
    pub current: crate::types::Es256PrivateKey,
    pub previous: Option<crate::types::Es256PrivateKey>,
}

/// The shortest `ADMIN_TOKEN` that turns `/admin/grants` on: 256 bits of
/// `openssl rand -base64 32`.
pub const ADMIN_TOKEN_MIN_BYTES: usize = 32;

/// The one rule for Durable Object mode, shared by the Worker and `admin`:
/// `GRANT_STORE` is `DO`, in any case, with any spaces around it.
pub fn is_durable_grant_store(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case("DO")
}

/// The one rule for an on/off setting such as `ACCOUNT_PAGES`: `on` or
/// `true`, in any case, with any spaces around it.
pub fn is_on(value: &str) -> bool {
    let v = value.trim();
    v.eq_ignore_ascii_case("on") || v.eq_ignore_ascii_case("true")
}

/// Whether a `wrangler.toml` turns Durable Object mode on: its uncommented
/// `GRANT_STORE = "…"` line, under [`is_durable_grant_store`].
pub fn durable_grants_in_wrangler_toml(toml: &str) -> bool {
    var_in_wrangler_toml(toml, "GRANT_STORE").is_some_and(|v| is_durable_grant_store(&v))
}

/// The last uncommented `NAME = "value"` line of `toml` for `name`: how
/// `admin` reads a var.
pub fn var_in_wrangler_toml(toml: &str, name: &str) -> Option<String> {
    toml.lines()
        .filter_map(|line| {
            let line = line.split('#').next()?.trim();
            let (key, value) = line.split_once('=')?;
            (key.trim() == name).then(|| value.trim().trim_matches(['"', '\'']).to_owned())
        })
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_durable_object_mode() {
        for (toml, durable) in [
            ("GRANT_STORE = \"DO\"", true),
            ("GRANT_STORE=\"do\"", true),
            ("  GRANT_STORE = 'DO'  # strict", true),
            ("GRANT_STORE = \"KV\"", false),
            ("# GRANT_STORE = \"DO\"", false),
            ("GRANT_STORE = \"DO\"\nGRANT_STORE = \"KV\"", false),
            ("", false),
        ] {
            assert_eq!(durable_grants_in_wrangler_toml(toml), durable, "{toml:?}");
        }
        assert!(Config::from_vars(|k| (k == "GRANT_STORE").then(|| " do ".into())).durable_grants);
    }

    #[test]
    fn turning_passwords_off_with_no_provider_is_reported() {
        let off = Config::from_vars(|k| (k == "PASSWORD_SIGN_IN").then(|| "false".into()));
        assert!(off.providers.errors[0].contains("nobody can sign in"));
        let on = Config::from_vars(|_| None);
        assert!(on.password_sign_in && on.providers.errors.is_empty());
    }

    #[test]
    fn a_previous_key_too_short_to_use_is_reported() {
        let with = |previous: &str| {
            let previous = previous.to_owned();
            Config::from_vars(move |k| match k {
                "SIGNING_KEY" => Some("k".repeat(40)),
                "SIGNING_KEY_PREVIOUS" => Some(previous.clone()),
                _ => None,
            })
        };
        let short = with("short");
        assert!(short.previous_signing_key.is_none());
        assert!(short
            .previous_signing_key_error
            .unwrap()
            .0
            .contains("wrangler secret put"));
        let good = with(&"p".repeat(40));
        assert!(good.previous_signing_key.is_some() && good.previous_signing_key_error.is_none());
        assert!(
            with("").previous_signing_key_error.is_none(),
            "unset is fine"
        );
    }
}

/// A configuration mistake the operator must fix. Logged with its fix; the
/// endpoints answer `server_error` until then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub &'static str);

impl Config {
    /// Reads the settings through `var` (the Worker's env, or a test's map).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let signing_key = match var("SIGNING_KEY") {
            None => Err(ConfigError(
                "SIGNING_KEY is not set. Locally: run `npm run dev`, which writes one to .dev.vars. \
                 In production: `openssl rand -base64 48 | npx wrangler secret put SIGNING_KEY`.",
            )),
            Some(k) => SigningKey::new(k.trim().as_bytes()).ok_or(ConfigError(
                "SIGNING_KEY is shorter than 32 bytes. Set a longer one: \
                 `openssl rand -base64 48 | npx wrangler secret put SIGNING_KEY`.",
            )),
        };
        let previous = var("SIGNING_KEY_PREVIOUS").filter(|k| !k.trim().is_empty());
        let previous_signing_key = previous
            .as_ref()
            .and_then(|k| SigningKey::new(k.trim().as_bytes()));
        let previous_signing_key_error = (previous.is_some() && previous_signing_key.is_none())
            .then_some(ConfigError(
                "SIGNING_KEY_PREVIOUS is shorter than 32 bytes, so it is ignored and tokens \
                 signed with it fail. Set the whole previous key: \
                 `npx wrangler secret put SIGNING_KEY_PREVIOUS < current-key.txt`.",
            ));
        let access_token_ttl = var("ACCESS_TOKEN_TTL")
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                s.trim()
                    .parse()
                    .ok()
                    .filter(|n| ACCESS_TOKEN_TTL_RANGE.contains(n))
                    .ok_or(ConfigError(
                        "ACCESS_TOKEN_TTL must be 360 to 86400 seconds; 3600 is used",
                    ))
            });
        let mut config = Self {
            access_token_ttl: match &access_token_ttl {
                Some(Ok(ttl)) => *ttl,
                _ => ACCESS_TOKEN_TTL,
            },
            access_token_ttl_error: access_token_ttl.and_then(Result::err),
            previous_signing_key,
            previous_signing_key_error,
            scopes_supported: var("SCOPES_SUPPORTED").filter(|s| !s.trim().is_empty()),
            issuer: var("ISSUER")
                .map(|s| s.trim_end_matches('/').to_owned())
                .filter(|s| !s.is_empty()),
            signing_key,
            refresh_token_ttl: var("REFRESH_TOKEN_TTL")
                .and_then(|s| s.trim().parse().ok())
                .filter(|&n: &u64| n > 0),
            demo_callback: var("DEMO_CALLBACK").is_some_and(|v| v == "true"),
            log_requests: var("LOG_REQUESTS").is_none_or(|v| v != "false"),
            durable_grants: var("GRANT_STORE").is_some_and(|v| is_durable_grant_store(&v)),
            account_pages: var("ACCOUNT_PAGES").is_some_and(|v| is_on(&v)),
            client_cache_seconds: var("CLIENT_CACHE_SECONDS")
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(30),
            providers: provider::Providers::from_vars(&var),
            password_sign_in: var("PASSWORD_SIGN_IN").is_none_or(|v| v.trim() != "false"),
            es256: None,
            access_token_alg_error: None,
            admin_token: var("ADMIN_TOKEN")
                .map(|t| t.trim().to_owned())
                .filter(|t| t.len() >= ADMIN_TOKEN_MIN_BYTES)
                .map(crate::types::AdminToken::new),
            alexa: crate::alexa::Settings::from_vars(&var),
            successors: grant::Successors::new([]),
        };
        config.successors = grant::Successors::new(config.verification_keys());
        config.read_access_token_alg(&var);
        if !config.password_sign_in && config.providers.list.is_empty() {
            config.providers.errors.push(
                "PASSWORD_SIGN_IN is false and no sign-in provider is usable, so nobody can \
                 sign in: fix SIGN_IN_PROVIDERS (see the lines above) or remove PASSWORD_SIGN_IN"
                    .into(),
            );
        }
        config
    }
}

impl Config {
    /// `ACCESS_TOKEN_ALG` and, for ES256, its keys.
    fn read_access_token_alg(&mut self, var: &impl Fn(&str) -> Option<String>) {
        let alg = var("ACCESS_TOKEN_ALG").map(|a| a.trim().to_ascii_uppercase());
        match alg.as_deref() {
            None | Some("" | "HS256") => {}
            Some("ES256") => {
                let secret = |name| {
                    var(name)
                        .filter(|k| !k.trim().is_empty())
                        .map(crate::types::Es256PrivateKey::new)
                };
                match secret("ES256_PRIVATE_KEY") {
                    Some(current) => {
                        self.es256 = Some(Es256Secrets {
                            current,
                            previous: secret("ES256_PRIVATE_KEY_PREVIOUS"),
                        })
                    }
                    None => {
                        self.access_token_alg_error = Some(ConfigError(
                            "ACCESS_TOKEN_ALG is ES256 but ES256_PRIVATE_KEY is not set: \
                             `cargo run --bin admin -- key generate | npx wrangler secret put \
                             ES256_PRIVATE_KEY`. /token answers server_error until then.",
                        ))
                    }
                }
            }
            Some(_) => self.access_token_alg_error = Some(ConfigError(
                "ACCESS_TOKEN_ALG must be HS256 or ES256; /token answers server_error until it is",
            )),
        }
    }

    /// Every key a token may be signed with: the current one, then the previous.
    pub fn verification_keys(&self) -> Vec<&SigningKey> {
        self.signing_key
            .iter()
            .chain(self.previous_signing_key.iter())
            .collect()
    }

    /// The keys refresh tokens are derived with (see [`grant::Successors`]),
    /// derived once with the configuration.
    pub fn successors(&self) -> &grant::Successors {
        &self.successors
    }
}
