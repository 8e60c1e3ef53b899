//! Time, and secrets read from stdin (never from argv, where `ps` shows them).

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
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{what} (typed text is visible; pipe it in to avoid that): ");
    }
    let mut line = String::new();
    stdin
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

pub(crate) fn read_password() -> Result<Password, String> {
    Ok(registration::password(Password::new(read_secret(
        "password",
    )?))?)
}
