//! Limits on sign-in attempts and on failed client authentications.
//!
//! Counted by an atomic rate limiter, the Workers Rate Limiting binding (one
//! `[[ratelimits]]` binding per [`Limit`] in `wrangler.toml`), never in KV: a
//! burst of tries arriving at once is counted try by try, and a failed try
//! costs no KV write (the Free plan allows 1,000 a day). The binding counts per
//! Cloudflare location; across locations an attacker gets the limit once per
//! location. A limiter that cannot be reached fails the attempt with a 503,
//! never lets it through uncounted.
//!
//! The rule for sign-in: every attempt counts, before any password work.
//! - One address may try one username 5 times a minute, and any usernames 20
//!   times a minute: a single attacker locks out only their own address.
//! - One username may be tried 30 times a minute from all addresses together,
//!   which takes at least 7 addresses. A browser that has signed in as that user
//!   before (it holds a device cookie, see `src/csrf.rs`) is exempt from this
//!   one, so a distributed attack does not keep the owner out; a new browser
//!   waits until the attack stops (at most a minute after it does).
//! - Someone trying once a minute, forever, locks nothing.
//! - Each start of a sign-in through a provider counts against the
//!   per-address limit too: it writes a KV record.
//!
//! Client authentication counts failures only, per address, 10 a minute; the
//! secret is checked first, so a right secret always passes, whatever the
//! counter says (Alexa's calls come from a few Amazon addresses that anyone's
//! skill could fill with wrong secrets).
//!
//! Addresses: an IPv6 address counts by its /64 (one customer's prefix); all
//! requests without `CF-Connecting-IP` share one bucket (only in local
//! development: Cloudflare always sets it). Usernames appear in keys only as a
//! hash.

use std::future::Future;
use std::pin::Pin;

use crate::crypto::sha256_b64url;
use crate::http::Request;

/// One limit, backed by one `[[ratelimits]]` binding, counted per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Sign-in attempts for one username from one address.
    LoginUserAddress,
    /// Sign-in attempts from one address, any username.
    LoginAddress,
    /// Sign-in attempts for one username from all addresses.
    LoginUser,
    /// Failed client authentications from one address.
    ClientAuthAddress,
}

impl Limit {
    /// Every limit, for checking that each binding is configured.
    pub const ALL: [Self; 4] = [
        Self::LoginUserAddress,
        Self::LoginAddress,
        Self::LoginUser,
        Self::ClientAuthAddress,
    ];
    /// The window the binding counts in: the binding allows 10 or 60 seconds.
    pub const PERIOD: u64 = 60;

    /// The binding's name in `wrangler.toml`.
    pub fn binding(self) -> &'static str {
        match self {
            Self::LoginUserAddress => "LOGIN_USER_ADDRESS_LIMIT",
            Self::LoginAddress => "LOGIN_ADDRESS_LIMIT",
            Self::LoginUser => "LOGIN_USER_LIMIT",
            Self::ClientAuthAddress => "CLIENT_AUTH_ADDRESS_LIMIT",
        }
    }

    /// Hits allowed per [`Self::PERIOD`]; the binding's `limit` must say the same.
    pub fn max(self) -> u32 {
        match self {
            Self::LoginUserAddress => 5,
            Self::LoginAddress => 20,
            Self::LoginUser => 30,
            Self::ClientAuthAddress => 10,
        }
    }
}

/// The limiter could not count (the binding is missing or failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitError(pub String);

/// A counted hit: whether it is within the limit.
pub type Hit<'a> = Pin<Box<dyn Future<Output = Result<bool, LimitError>> + 'a>>;

/// Counts one hit of `limit` for `key`, atomically, and says whether it is
/// within the limit. `now` is for limiters that keep their own windows.
pub trait Limiter {
    fn hit<'a>(&'a self, limit: Limit, key: &'a str, now: u64) -> Hit<'a>;
}

/// A limiter in memory, with fixed windows: the tests' stand-in for the binding.
#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Default)]
pub struct MemoryLimiter {
    /// (limit, key) → (window start, hits).
    counts: std::cell::RefCell<std::collections::BTreeMap<(String, String), (u64, u32)>>,
    /// When set, every hit fails, as an unreachable binding would.
    pub broken: std::cell::Cell<bool>,
}

#[cfg(any(test, feature = "testing"))]
impl Limiter for MemoryLimiter {
    fn hit<'a>(&'a self, limit: Limit, key: &'a str, now: u64) -> Hit<'a> {
        let result = if self.broken.get() {
            Err(LimitError("injected limiter failure".into()))
        } else {
            let mut counts = self.counts.borrow_mut();
            let entry = counts
                .entry((limit.binding().to_owned(), key.to_owned()))
                .or_insert((now, 0));
            if now >= entry.0 + Limit::PERIOD {
                *entry = (now, 0);
            }
            entry.1 += 1;
            Ok(entry.1 <= limit.max())
        };
        Box::pin(std::future::ready(result))
    }
}

/// The address a request counts under: Cloudflare's `CF-Connecting-IP`, an
/// IPv6 address cut to its /64, or `unknown` without the header.
pub(crate) fn address(req: &Request) -> String {
    let Some(ip) = req.header("cf-connecting-ip").map(str::trim) else {
        return "unknown".to_owned();
    };
    if ip.contains(':') {
        if let Some(prefix) = ipv6_prefix(ip) {
            return prefix;
        }
    } else if ip.len() <= 15 && ip.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return ip.to_owned();
    }
    // Not an address: counted under a bounded name of itself.
    format!("other:{}", &sha256_b64url(ip)[..22])
}

/// The /64 of an IPv6 address: its first four groups, with `::` expanded.
/// Parsed by hand: `std::net`'s parser costs wasm size for one prefix.
fn ipv6_prefix(ip: &str) -> Option<String> {
    let group = |g: &str| (1..=4).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_hexdigit());
    let (head, compressed) = match ip.split_once("::") {
        Some((head, _)) => (head, true),
        None => (ip, false),
    };
    let mut groups: Vec<u16> = Vec::with_capacity(4);
    if !head.is_empty() {
        for g in head.split(':') {
            if !group(g) {
                return None;
            }
            groups.push(u16::from_str_radix(g, 16).ok()?);
        }
    }
    if groups.len() < 4 && !compressed {
        return None;
    }
    groups.resize(groups.len().max(4), 0);
    let g = &groups[..4];
    Some(format!("{:x}:{:x}:{:x}:{:x}::/64", g[0], g[1], g[2], g[3]))
}

/// A username as it appears in a limiter key: a truncated hash.
pub(crate) fn user_key(username: &str) -> String {
    sha256_b64url(username)[..22].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;
    use pollster::block_on;

    #[test]
    fn counts_every_hit_and_starts_again_after_the_period() {
        let l = MemoryLimiter::default();
        let hit = |now| block_on(l.hit(Limit::LoginUserAddress, "k", now)).unwrap();
        for _ in 0..5 {
            assert!(hit(100));
        }
        assert!(!hit(100));
        assert!(!hit(159));
        assert!(hit(160));
        assert!(block_on(l.hit(Limit::LoginUserAddress, "other", 100)).unwrap());
        l.broken.set(true);
        assert!(block_on(l.hit(Limit::LoginAddress, "k", 100)).is_err());
    }

    #[test]
    fn wrangler_toml_configures_every_limit_as_the_code_counts_it() {
        let toml = include_str!("../wrangler.toml");
        for limit in Limit::ALL {
            let at = toml
                .find(&format!("name = \"{}\"", limit.binding()))
                .unwrap_or_else(|| panic!("{} is not in wrangler.toml", limit.binding()));
            let block = &toml[at..toml[at..].find("\n\n").map_or(toml.len(), |e| at + e)];
            let expected = format!(
                "simple = {{ limit = {}, period = {} }}",
                limit.max(),
                Limit::PERIOD
            );
            assert!(block.contains(&expected), "{}: {block}", limit.binding());
        }
    }

    #[test]
    fn addresses() {
        let with = |ip: &str| {
            address(&Request::new(Method::Post, "/").with_header("cf-connecting-ip", ip))
        };
        assert_eq!(with("203.0.113.7"), "203.0.113.7");
        assert_eq!(
            with("2001:db8:1:2:aaaa::1"),
            with("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            "one /64 is one address"
        );
        assert_ne!(with("2001:db8:1:2::1"), with("2001:db8:1:3::1"));
        assert_eq!(with("2001:db8::1"), "2001:db8:0:0::/64");
        assert_eq!(with("::1"), "0:0:0:0::/64");
        assert_eq!(with("2001:DB8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert!(with("2001:db8:zz::1").starts_with("other:"));
        assert_eq!(address(&Request::new(Method::Post, "/")), "unknown");
        assert!(with(&"x".repeat(600)).len() < 40, "bounded");
        assert_eq!(user_key("alice").len(), 22);
    }
}
