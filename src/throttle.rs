//! Limits on failed logins and failed client authentications.
//!
//! Each limit counts failures of one subject (a username, a client IP) in a
//! window; at the limit the subject is locked out for a while and answered 429
//! with `Retry-After`. Only failures are counted, so a user who signs in right
//! is never slowed. Counters live in KV under a hash of the subject, so no
//! username or IP address appears in a key.
//!
//! KV is eventually consistent: an attacker spreading tries over several
//! Cloudflare locations gets at most the limit per location within KV's
//! propagation delay (about a minute) before the lockout reaches everywhere.

use serde::{Deserialize, Serialize};

use crate::http::Request;
use crate::store::{get_json, keys, put_json, Store, StoreError};

/// One limit: at most `max_failures` in `window` seconds, then `lockout` seconds locked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    pub name: &'static str,
    pub max_failures: u32,
    pub window: u64,
    pub lockout: u64,
}

/// Wrong passwords for one username: 5 in 5 minutes, then 5 minutes locked.
pub(crate) const LOGIN_PER_USERNAME: Limit = Limit {
    name: "login-user",
    max_failures: 5,
    window: 300,
    lockout: 300,
};
/// Wrong passwords from one IP, whatever the username: 20 in 5 minutes, then 5 minutes locked.
pub(crate) const LOGIN_PER_IP: Limit = Limit {
    name: "login-ip",
    max_failures: 20,
    window: 300,
    lockout: 300,
};
/// Failed client authentications at the token, introspection and revocation
/// endpoints from one IP: 10 in 5 minutes, then 5 minutes locked. Counted per IP
/// and never per client id, so nobody can lock Alexa out of a client by
/// sending wrong secrets for its id.
pub(crate) const CLIENT_AUTH_PER_IP: Limit = Limit {
    name: "client-ip",
    max_failures: 10,
    window: 300,
    lockout: 300,
};

#[derive(Debug, Default, Serialize, Deserialize)]
struct Counter {
    failures: u32,
    window_start: u64,
    locked_until: u64,
}

fn key(limit: &Limit, subject: &str) -> String {
    keys::throttle(limit.name, subject)
}

/// The client's IP as Cloudflare reports it.
pub(crate) fn client_ip(req: &Request) -> &str {
    req.header("cf-connecting-ip").unwrap_or("unknown")
}

/// Seconds until the subject may try again, if it is locked out now.
pub(crate) async fn locked<S: Store>(
    store: &S,
    limit: &Limit,
    subject: &str,
    now: u64,
) -> Result<Option<u64>, StoreError> {
    let counter: Counter = get_json(store, &key(limit, subject))
        .await?
        .unwrap_or_default();
    Ok((counter.locked_until > now).then(|| counter.locked_until - now))
}

/// Counts one failure; returns the seconds to wait if the subject is now locked out.
pub(crate) async fn record_failure<S: Store>(
    store: &S,
    limit: &Limit,
    subject: &str,
    now: u64,
) -> Result<Option<u64>, StoreError> {
    let key = key(limit, subject);
    let mut c: Counter = get_json(store, &key).await?.unwrap_or_default();
    if c.locked_until > now {
        return Ok(Some(c.locked_until - now));
    }
    if now >= c.window_start + limit.window {
        c = Counter {
            failures: 0,
            window_start: now,
            locked_until: 0,
        };
    }
    c.failures += 1;
    if c.failures >= limit.max_failures {
        c.locked_until = now + limit.lockout;
    }
    let expires = c.locked_until.max(c.window_start + limit.window);
    put_json(store, &key, &c, Some(expires)).await?;
    Ok((c.locked_until > now).then(|| c.locked_until - now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use pollster::block_on;

    #[test]
    fn locks_at_the_limit_and_unlocks_after_the_lockout() {
        let store = MemoryStore::default();
        let limit = LOGIN_PER_USERNAME;
        for i in 1..limit.max_failures {
            assert_eq!(
                block_on(record_failure(&store, &limit, "alice", 100 + i as u64)).unwrap(),
                None
            );
        }
        let wait = block_on(record_failure(&store, &limit, "alice", 110)).unwrap();
        assert_eq!(wait, Some(limit.lockout));
        assert_eq!(
            block_on(locked(&store, &limit, "alice", 111)).unwrap(),
            Some(limit.lockout - 1)
        );
        assert_eq!(
            block_on(locked(&store, &limit, "bob", 111)).unwrap(),
            None,
            "per subject"
        );
        assert_eq!(
            block_on(locked(&store, &limit, "alice", 110 + limit.lockout)).unwrap(),
            None
        );
        assert!(
            store.dump().iter().all(|(k, _)| !k.contains("alice")),
            "no username in keys"
        );
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let store = MemoryStore::default();
        let limit = LOGIN_PER_USERNAME;
        for i in 0..(limit.max_failures as u64 * 2) {
            let now = 1_000 + i * limit.window;
            assert_eq!(
                block_on(record_failure(&store, &limit, "alice", now)).unwrap(),
                None
            );
        }
    }
}
