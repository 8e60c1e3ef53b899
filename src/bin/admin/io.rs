//! Time, secrets read from stdin (never from argv, where `ps` shows them),
//! and the URLs a secret is sent to.

use std::io::{BufRead, IsTerminal};
use std::time::{SystemTime, UNIX_EPOCH};

use alexa_oauth::crypto::{random_string, OsRng};
use alexa_oauth::registration;
use alexa_oauth::types::{ClientSecret, Password};

pub(crate) fn time(t: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + std::time::Duration::from_secs(t)).to_string()
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Reads one secret line from stdin. From a terminal it asks first; from a pipe it
/// just reads, so scripts never hang on a prompt.
fn read_secret(what: &str) -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        eprint!("{what} (typed text is visible; pipe it in to avoid that): ");
    }
    read_line(what)
}

/// One line of stdin, without its line ending.
fn read_line(what: &str) -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("could not read the {what} from stdin: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// A new client secret: from stdin, or 256 random bits (the bool says generated).
pub(crate) fn new_client_secret(from_stdin: bool) -> Result<(ClientSecret, bool), String> {
    if !from_stdin {
        return Ok((ClientSecret::new(random_string(&OsRng, 32)), true));
    }
    let secret = registration::client_secret(read_secret("client secret")?)?;
    Ok((secret, false))
}

/// The skill's "Send Alexa Events" client secret at LWA, from stdin.
pub(crate) fn read_lwa_client_secret() -> Result<alexa_oauth::types::LwaClientSecret, String> {
    let secret = read_secret("Login with Amazon client secret")?;
    if secret.trim().is_empty() {
        return Err("the Login with Amazon client secret is empty".into());
    }
    Ok(alexa_oauth::types::LwaClientSecret::new(secret.trim()))
}

pub(crate) fn read_password() -> Result<Password, String> {
    Ok(registration::password(Password::new(read_secret(
        "password",
    )?))?)
}

/// Asks before `what` is done: "yes" typed at a terminal goes on. Without a
/// terminal nothing is asked and the command stops, naming `--yes`, so a
/// script never hangs on a prompt nor goes on unasked.
pub(crate) fn confirm(what: &str) -> Result<(), String> {
    if !std::io::stdin().is_terminal() {
        return Err(format!(
            "{what}. Nothing was written: pass --yes as well to go on."
        ));
    }
    eprint!("{what}. Type yes to go on: ");
    if read_line("answer")?.trim() == "yes" {
        Ok(())
    } else {
        Err("Nothing was written.".into())
    }
}

/// `url` as given for `flag`, without a trailing `/`, if it is https or
/// plain http to this machine (`localhost`, `127.0.0.0/8`, `[::1]`): admin
/// sends `ADMIN_TOKEN` to `--worker`, and `--base-url` goes into links that
/// carry a token, so neither may cross a network in clear.
pub(crate) fn https_or_loopback(flag: &str, url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{flag} {url:?}: {e}"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(format!(
                "{flag} {url:?}: use https:// (plain http only to localhost or 127.0.0.1, \
                 where nothing crosses a network)"
            ))
        }
    }
    Ok(url.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::https_or_loopback;

    #[test]
    fn secrets_go_over_https_or_stay_on_this_machine() {
        for ok in [
            "https://auth.example.com/",
            "http://127.0.0.1:8787",
            "http://127.3.0.1",
            "http://localhost:8787",
            "http://[::1]:8787",
        ] {
            assert!(https_or_loopback("--worker", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://auth.example.com",
            "http://localhost.evil.example",
            "http://127.0.0.1.evil.example",
            "http://10.0.0.1:8787",
            "ftp://127.0.0.1",
            "auth.example.com",
        ] {
            assert!(https_or_loopback("--worker", bad).is_err(), "{bad}");
        }
        assert_eq!(
            https_or_loopback("--worker", "https://a.example/").unwrap(),
            "https://a.example"
        );
    }
}
