//! KV through the wrangler CLI: the store the admin command reads and writes,
//! locally (the state `wrangler dev --persist-to` serves) or remotely.

use std::path::PathBuf;

use alexa_oauth::store::{get_json, put_json, Store, StoreError};
use pollster::block_on;

use crate::cli::Cli;

/// Where `wrangler kv key list --local` stops (it follows no cursor; with
/// `--remote` it lists every key).
const LOCAL_LIST_CAP: usize = 1000;

/// Keys per `wrangler kv bulk get`: KV's own limit for one bulk read.
const BULK_GET_KEYS: usize = 100;
/// `wrangler kv bulk get` calls run at once against the remote namespace.
const PARALLEL_CALLS: usize = 4;

/// Talks to KV through the wrangler CLI.
pub(crate) struct Kv {
    program: Vec<String>,
    location: Vec<String>,
    binding: String,
    /// Local state (`--persist-to`), not `--remote`.
    local: bool,
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
        // The Worker's own rule, so admin and the Worker never disagree,
        // unless --mode says otherwise.
        let durable_grants = match cli.mode {
            Some(mode) => mode == alexa_oauth::store::backup::Mode::Do,
            None => alexa_oauth::durable_grants_in_wrangler_toml(&toml),
        };
        Ok(Self {
            program,
            location,
            binding: cli.binding.clone(),
            local: !cli.remote,
            durable_grants,
        })
    }

    /// Runs `wrangler kv key <args>` and returns its stdout. Its output is shown
    /// only on failure (it echoes the values it writes). Tried again while
    /// the local state is locked (see [`retry_when_busy`]).
    fn run(&self, args: &[&str]) -> Result<String, String> {
        let mut key_args = vec!["key"];
        key_args.extend_from_slice(args);
        self.run_kv(&key_args)
    }

    /// Runs `wrangler kv <args>` (see [`Self::run`]).
    fn run_kv(&self, args: &[&str]) -> Result<String, String> {
        retry_when_busy(|| self.run_once(args))
    }

    fn run_once(&self, args: &[&str]) -> Result<String, String> {
        let mut argv: Vec<&str> = self.program[1..].iter().map(String::as_str).collect();
        argv.push("kv");
        argv.extend_from_slice(args);
        argv.extend(["--binding", &self.binding]);
        argv.extend(self.location.iter().map(String::as_str));
        let env = [
            ("WRANGLER_SEND_METRICS", "false"),
            // Its stdout is parsed: no debug lines in it, whatever the
            // caller's WRANGLER_LOG ("log" still prints what `list` returns).
            ("WRANGLER_LOG", "log"),
        ];
        let out = crate::host::run(&self.program[0], &argv, &env, None)?;
        if !out.success {
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
                "wrangler kv {} {} failed:\n{stdout}{stderr}{hint}",
                args[0], args[1]
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The keys under a prefix.
    pub(crate) fn list(&self, prefix: &str) -> Result<Vec<String>, String> {
        Ok(self.listed(prefix)?.into_iter().map(|(k, _)| k).collect())
    }

    /// The keys under a prefix, each with its KV expiry if it has one: one
    /// call. Remotely wrangler pages through the listing itself; locally it
    /// stops at 1,000 keys, so `scripts/kv-list-local.mjs` follows KV's
    /// cursor instead.
    pub(crate) fn listed(&self, prefix: &str) -> Result<Vec<(String, Option<u64>)>, String> {
        let read = |listed: &str| -> Result<Vec<serde_json::Value>, String> {
            serde_json::from_str(listed.trim())
                .map_err(|e| format!("unexpected output from wrangler kv key list: {e}"))
        };
        let names = read(&self.run(&["list", "--prefix", prefix])?)?;
        if self.local && names.len() >= LOCAL_LIST_CAP {
            return Err(format!(
                "wrangler kv key list --local returns at most {LOCAL_LIST_CAP} keys, and this \
                 local state has that many under {prefix:?}: admin cannot see them all \
                 (the deployed namespace, with --remote, is listed whole)"
            ));
        }
        Ok(names
            .iter()
            .filter_map(|n| {
                let name = n["name"].as_str()?.to_owned();
                Some((name, n["expiration"].as_u64()))
            })
            .collect())
    }

    /// Many keys' values: `None` where a key has none: `BULK_GET_KEYS` per
    /// `wrangler kv bulk get` call, [`PARALLEL_CALLS`] calls at a time.
    pub(crate) fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, String> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let chunks: Vec<&[String]> = keys.chunks(BULK_GET_KEYS).collect();
        let mut values = Vec::with_capacity(keys.len());
        // One at a time locally: the state is one SQLite file.
        let parallel = if self.local || !crate::host::THREADS {
            1
        } else {
            PARALLEL_CALLS
        };
        for batch in chunks.chunks(parallel) {
            let answers: Vec<Result<Vec<Option<String>>, String>> = std::thread::scope(|s| {
                let running: Vec<_> = batch
                    .iter()
                    .map(|chunk| s.spawn(|| self.bulk_get(chunk)))
                    .collect();
                running
                    .into_iter()
                    .map(|t| {
                        t.join()
                            .unwrap_or_else(|_| Err("a bulk read panicked".into()))
                    })
                    .collect()
            });
            for answer in answers {
                values.extend(answer?);
            }
        }
        Ok(values)
    }

    /// One `wrangler kv bulk get` of at most [`BULK_GET_KEYS`] keys.
    fn bulk_get(&self, chunk: &[String]) -> Result<Vec<Option<String>>, String> {
        let file = ValueFile::new(&serde_json::to_string(chunk).expect("keys serialise"))?;
        let out = self.run_kv(&["bulk", "get", &file.path.display().to_string()])?;
        // A JSON object of key to {"value": text or null}, then a "Success!"
        // line.
        let found: serde_json::Map<String, serde_json::Value> =
            serde_json::Deserializer::from_str(&out)
                .into_iter()
                .next()
                .and_then(Result::ok)
                .ok_or_else(|| format!("unexpected output from wrangler kv bulk get: {out}"))?;
        Ok(chunk
            .iter()
            .map(|key| {
                found
                    .get(key)
                    .and_then(|v| v["value"].as_str())
                    .map(str::to_owned)
            })
            .collect())
    }

    /// Writes many values in one `wrangler kv bulk put` (which splits a large
    /// batch itself); through a private file, like [`Store::put`].
    pub(crate) fn put_many(&self, entries: &[(String, String, Option<u64>)]) -> Result<(), String> {
        if entries.is_empty() {
            return Ok(());
        }
        let body: Vec<serde_json::Value> = entries
            .iter()
            .map(|(key, value, expiration)| match expiration {
                Some(at) => serde_json::json!({ "key": key, "value": value, "expiration": at }),
                None => serde_json::json!({ "key": key, "value": value }),
            })
            .collect();
        let file = ValueFile::new(&serde_json::to_string(&body).expect("entries serialise"))?;
        self.run_kv(&["bulk", "put", &file.path.display().to_string()])
            .map(drop)
    }

    pub(crate) fn delete(&self, key: &str) -> Result<(), String> {
        self.run(&["delete", key]).map(|_| ())
    }
}

/// Runs `call` again, a few times, while it fails in a way that did nothing
/// and may not fail again:
/// - SQLITE_BUSY: local state is a SQLite file that a running `wrangler dev`
///   also writes, and while it holds the lock a call fails having done nothing;
/// - wrangler itself crashing (an internal assertion such as
///   `✘ [ERROR] false == true`, seen under load), as opposed to answering an
///   error: every call admin makes is a read or the write of a whole value,
///   so making it again is safe. Each retry of a crash is said on stderr.
fn retry_when_busy(call: impl Fn() -> Result<String, String>) -> Result<String, String> {
    const TRIES: u64 = 5;
    let mut attempt = 1;
    loop {
        match call() {
            Err(e) if attempt < TRIES && (e.contains("SQLITE_BUSY") || crashed(&e)) => {
                if crashed(&e) {
                    eprintln!(
                        "admin: wrangler crashed; trying again ({attempt} of {})",
                        TRIES - 1
                    );
                }
                std::thread::sleep(std::time::Duration::from_millis(200 * attempt));
                attempt += 1;
            }
            done => return done,
        }
    }
}

/// Whether wrangler's output is its own crash rather than an answer: an
/// internal assertion failed.
fn crashed(output: &str) -> bool {
    output.contains("false == true") || output.contains("AssertionError")
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
    async fn put(
        &self,
        key: &str,
        value: String,
        expires_at: Option<u64>,
    ) -> Result<(), StoreError> {
        let file = ValueFile::new(&value).map_err(StoreError)?;
        let path = file.path.display().to_string();
        let expiration = expires_at.map(|at| at.to_string());
        let mut args = vec!["put", key, "--path", &path];
        if let Some(at) = &expiration {
            args.extend(["--expiration", at]);
        }
        self.run(&args).map(|_| ()).map_err(StoreError)
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        Self::delete(self, key).map_err(StoreError)
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
        // Random enough to be unguessable; `create_new` refuses a file that is there.
        let name = format!(
            "alexa-oauth-admin-{}",
            alexa_oauth::crypto::random_string(&alexa_oauth::crypto::OsRng, 16)
        );
        let path = crate::host::temp_dir().join(name);
        let mut file = crate::host::create_private(&path)
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

impl alexa_oauth::store::Listing for Kv {
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Self::list(self, prefix).map_err(StoreError)
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        Self::get_many(self, keys).map_err(StoreError)
    }
    async fn put_many(&self, entries: &[(String, String)]) -> Result<(), StoreError> {
        let entries: Vec<_> = entries
            .iter()
            .map(|(k, v)| (k.clone(), v.clone(), None))
            .collect();
        Self::put_many(self, &entries).map_err(StoreError)
    }
}

/// Grant state through wrangler is KV's (in Durable Object mode `admin`
/// writes only tombstones, which every refresh reads in KV).
impl alexa_oauth::grant::kv::HoldsGrants for Kv {}
