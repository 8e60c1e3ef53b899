//! The Worker's `/admin/grants` (Durable Object mode): the only way to the
//! grants there, since wrangler reads KV and not objects. Each call runs
//! `js/admin-call.mjs` under node (which wrangler already needs), with the
//! secret in the environment and the body on stdin.

use alexa_oauth::grant::durable::GRANTS_PER_CALL;
use alexa_oauth::store::{GrantRecord, Profile};
use alexa_oauth::types::GrantId;
use serde_json::{json, Value};

/// One call to the route (see the file).
const ADMIN_CALL_JS: &str = include_str!("js/admin-call.mjs");

/// Where the Worker is, and that `ADMIN_TOKEN` is set for it.
pub(crate) struct Route {
    url: String,
}

impl Route {
    /// The route of the Worker at `worker` (`--worker`).
    pub(crate) fn new(worker: Option<&str>) -> Result<Self, String> {
        let url = worker.ok_or(
            "in Durable Object mode the grants are reached through the Worker: pass \
             --worker <its URL> (for `wrangler dev`, http://127.0.0.1:8787), with the \
             Worker's ADMIN_TOKEN in the environment",
        )?;
        if std::env::var("ADMIN_TOKEN").map_or(true, |t| t.trim().is_empty()) {
            return Err(
                "set ADMIN_TOKEN in the environment to the Worker's ADMIN_TOKEN \
                        secret (see docs/operating.md)"
                    .into(),
            );
        }
        Ok(Self {
            url: crate::io::https_or_loopback("--worker", url)?,
        })
    }

    fn call(&self, body: &Value) -> Result<Value, String> {
        let args = ["--input-type=module", "-e", ADMIN_CALL_JS, &self.url];
        let body = body.to_string();
        let out = crate::host::run("node", &args, &[], Some(body.as_bytes()))?;
        if !out.success {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let hint = if stderr.contains("answered 404") {
                "\nThe Worker has no /admin/grants: is it in Durable Object mode, with \
                 ADMIN_TOKEN set (at least 32 bytes) to the same value as here?"
            } else {
                ""
            };
            return Err(format!("{}{hint}", stderr.trim()));
        }
        serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("unexpected answer from {}/admin/grants: {e}", self.url))
    }

    /// Checks the route answers, before anything is written.
    pub(crate) fn check(&self) -> Result<(), String> {
        self.call(&json!({ "get": [] })).map(drop)
    }

    /// The grant records of `ids` that exist, as their objects hold them.
    pub(crate) fn get(&self, ids: &[GrantId]) -> Result<Vec<GrantRecord>, String> {
        let mut grants = Vec::new();
        for chunk in ids.chunks(GRANTS_PER_CALL) {
            let answer = self.call(&json!({ "get": chunk }))?;
            let found: Vec<GrantRecord> = serde_json::from_value(answer["grants"].clone())
                .map_err(|e| format!("unexpected grants from the Worker: {e}"))?;
            grants.extend(found);
        }
        Ok(grants)
    }

    /// Puts a user's profile on their grants; how many exist.
    pub(crate) fn update_profile(
        &self,
        ids: &[GrantId],
        profile: &Profile,
    ) -> Result<usize, String> {
        let mut updated = 0;
        for chunk in ids.chunks(GRANTS_PER_CALL) {
            let answer = self.call(&json!({ "profile": { "ids": chunk, "profile": profile } }))?;
            updated += answer["updated"]
                .as_u64()
                .ok_or("unexpected answer from the Worker")? as usize;
        }
        Ok(updated)
    }

    /// Writes grant records into their objects.
    pub(crate) fn restore(&self, grants: &[Value]) -> Result<(), String> {
        for chunk in grants.chunks(GRANTS_PER_CALL) {
            self.call(&json!({ "restore": chunk }))?;
        }
        Ok(())
    }
}
