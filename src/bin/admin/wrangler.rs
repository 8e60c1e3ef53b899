//! KV through the wrangler CLI: the store the admin command reads and writes,
//! locally (the state `wrangler dev --persist-to` serves) or remotely.

use std::path::PathBuf;
use std::process::Command;

use alexa_oauth::store::{get_json, put_json, Store, StoreError};
use pollster::block_on;

use crate::cli::Cli;

/// Talks to KV through the wrangler CLI.
pub(crate) struct Kv {
    program: Vec<String>,
    location: Vec<String>,
    binding: String,
    /// `GRANT_STORE = "DO"` in wrangler.toml: grants live in Durable Objects,
    /// which wrangler cannot read or write from the command line.
    pub(crate) durable_grants: bool,
}

impl Kv {
    pub(crate) fn new(cli: &Cli) -> Result<Self, String> {
        let program = match std::env::var("WRANGLER") {
            Ok(cmd) => cmd.split_whitespace().map(str::to_owned).collect(),
            Err(_) => {
                let local = PathBuf::from("node_modules/.bin/wrangler");
                if local.exists() {
                    vec![local.display().to_string()]
                } else {
                    return Err(
                        "wrangler was not found in node_modules/.bin. Run `npm install` \
                         in the project folder, or set WRANGLER to its path."
                            .into(),
                    );
                }
            }
        };
        if !PathBuf::from("wrangler.toml").exists() {
            return Err(
                "wrangler.toml is not in this folder: run admin from the project folder.".into(),
            );
        }
        let location = if cli.remote {
            vec!["--remote".to_owned()]
        } else {
            vec![
                "--local".to_owned(),
                "--persist-to".to_owned(),
                cli.persist_to.display().to_string(),
            ]
        };
        let toml = std::fs::read_to_string("wrangler.toml").unwrap_or_default();
        // The Worker's own rule, so admin and the Worker never disagree.
        let durable_grants = alexa_oauth::durable_grants_in_wrangler_toml(&toml);
        Ok(Self {
            program,
            location,
            binding: cli.binding.clone(),
            durable_grants,
        })
    }

    /// Runs `wrangler kv key <args>` and returns its stdout. Its output is shown
    /// only on failure (it echoes the values it writes).
    ///
    /// Local state is a SQLite file that a running `wrangler dev` also writes;
    /// when it holds the lock, wrangler fails with SQLITE_BUSY having done
    /// nothing, so the call is tried again a few times before that is an error.
    fn run(&self, args: &[&str]) -> Result<String, String> {
        const TRIES: u64 = 5;
        let mut attempt = 1;
        loop {
            match self.run_once(args) {
                Err(e) if attempt < TRIES && e.contains("SQLITE_BUSY") => {
                    std::thread::sleep(std::time::Duration::from_millis(200 * attempt));
                    attempt += 1;
                }
                done => return done,
            }
        }
    }

    fn run_once(&self, args: &[&str]) -> Result<String, String> {
        let mut cmd = Command::new(&self.program[0]);
        cmd.args(&self.program[1..])
            .args(["kv", "key"])
            .args(args)
            .args(["--binding", &self.binding])
            .args(&self.location)
            .env("WRANGLER_SEND_METRICS", "false")
            // Its stdout is parsed: no debug lines in it, whatever the
            // caller's WRANGLER_LOG ("log" still prints what `list` returns).
            .env("WRANGLER_LOG", "log");
        let out = cmd
            .output()
            .map_err(|e| format!("could not run {}: {e}", self.program[0]))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            let hint = if stderr.contains("binding") || stdout.contains("binding") {
                format!(
                    "\nIs there a KV namespace bound as {} in wrangler.toml?",
                    self.binding
                )
            } else {
                String::new()
            };
            return Err(format!(
                "wrangler kv key {} failed:\n{stdout}{stderr}{hint}",
                args[0]
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The keys under a prefix.
    pub(crate) fn list(&self, prefix: &str) -> Result<Vec<String>, String> {
        let listed = self.run(&["list", "--prefix", prefix])?;
        let names: Vec<serde_json::Value> = serde_json::from_str(listed.trim())
            .map_err(|e| format!("unexpected output from wrangler kv key list: {e}"))?;
        Ok(names
            .iter()
            .filter_map(|n| n["name"].as_str().map(str::to_owned))
            .collect())
    }

    pub(crate) fn delete(&self, key: &str) -> Result<(), String> {
        self.run(&["delete", key]).map(|_| ())
    }
}

/// The Worker's own storage code, run against KV through wrangler, so the admin
/// command reads and writes records exactly as the Worker does.
impl Store for Kv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let out = self.run(&["get", key]).map_err(StoreError)?;
        // For a missing key wrangler exits 0 and prints "Value not found" (or
        // nothing, at a quieter log level); stored values are JSON, so neither
        // can be a real value.
        let missing = matches!(out.trim(), "" | "Value not found");
        Ok((!missing).then_some(out))
    }
    /// The value goes through a file only this user can read, never argv: `ps`
    /// shows argv to everyone, and a long value would overflow it.
    async fn put(&self, key: &str, value: String, _: Option<u64>) -> Result<(), StoreError> {
        let file = ValueFile::new(&value).map_err(StoreError)?;
        self.run(&["put", key, "--path", &file.path.display().to_string()])
            .map(|_| ())
            .map_err(StoreError)
    }
}

pub(crate) fn get<T: serde::de::DeserializeOwned>(kv: &Kv, key: &str) -> Result<Option<T>, String> {
    block_on(get_json(kv, key)).map_err(|e| e.0)
}

pub(crate) fn put<T: serde::Serialize>(kv: &Kv, key: &str, value: &T) -> Result<(), String> {
    block_on(put_json(kv, key, value, None)).map_err(|e| e.0)
}

/// A value in a private temporary file, removed when dropped.
struct ValueFile {
    path: PathBuf,
}

impl ValueFile {
    fn new(value: &str) -> Result<Self, String> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let name = format!(
            "alexa-oauth-admin-{}-{}",
            std::process::id(),
            alexa_oauth::crypto::random_string(&alexa_oauth::crypto::OsRng, 9)
        );
        let path = std::env::temp_dir().join(name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("could not write a temporary file: {e}"))?;
        file.write_all(value.as_bytes())
            .map_err(|e| format!("could not write a temporary file: {e}"))?;
        Ok(Self { path })
    }
}

impl Drop for ValueFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl alexa_oauth::store::Keys for Kv {
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Self::list(self, prefix).map_err(StoreError)
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        Self::delete(self, key).map_err(StoreError)
    }
}

/// Grant state through wrangler is KV's (in Durable Object mode `admin`
/// writes only tombstones, which every refresh reads in KV).
impl alexa_oauth::grant::kv::HoldsGrants for Kv {}
