//! Refresh-token rotation: derived successors, where a presented token stands
//! in a grant's chain, and moving the grant on (see the module doc of
//! [`crate::grant`]).

use crate::crypto::{b64url, hmac_sha256, token_hash, TokenHash};
use crate::jwt::SigningKey;
use crate::store::GrantRecord;
use crate::types::{GrantId, RefreshToken};

/// How far ahead of a stored (possibly stale) current token a presented one may
/// be and still be recognised as one we issued.
pub const SUCCESSOR_STEPS: usize = 4;

/// The keys refresh tokens are derived with: a sub-key of `SIGNING_KEY`, then one
/// of `SIGNING_KEY_PREVIOUS`, so that a successor derived just before a key
/// rotation is still recognised after it.
pub struct Successors {
    keys: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Successors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Successors({} keys, [redacted])", self.keys.len())
    }
}

impl Successors {
    const LABEL: &'static [u8] = b"alexa-oauth refresh-token successor v1";

    /// From the signing keys, current first.
    pub fn new<'a>(signing_keys: impl IntoIterator<Item = &'a SigningKey>) -> Self {
        Self {
            keys: signing_keys
                .into_iter()
                .map(|k| k.derive(Self::LABEL))
                .collect(),
        }
    }

    fn derive(key: &[u8; 32], grant: &GrantId, from: &TokenHash) -> String {
        let mac = hmac_sha256(key, from.as_str().as_bytes());
        format!("{grant}.{}", b64url(&mac))
    }

    /// The refresh token that follows `from` (the stored hash of a code or of a
    /// refresh token), under the current key. `None` with no signing key.
    pub fn next(&self, grant: &GrantId, from: &TokenHash) -> Option<RefreshToken> {
        let key = self.keys.first()?;
        Some(RefreshToken::new(Self::derive(key, grant, from)))
    }

    /// The successor of `from`, under any key, whose hash is `hash`: how a grant's
    /// current token is given out again without being stored.
    pub fn find(
        &self,
        grant: &GrantId,
        from: &TokenHash,
        hash: &TokenHash,
    ) -> Option<RefreshToken> {
        self.keys
            .iter()
            .map(|k| Self::derive(k, grant, from))
            .find(|t| token_hash(t).ct_eq(hash))
            .map(RefreshToken::new)
    }

    /// If `presented` (a hash) is a successor of `from` (a hash), the hashes of
    /// the chain from `from`'s successor up to and including `presented`.
    fn chain_to(
        &self,
        grant: &GrantId,
        from: &TokenHash,
        presented: &TokenHash,
    ) -> Option<Vec<TokenHash>> {
        let mut chain = Vec::new();
        let mut from = from.clone();
        for _ in 0..SUCCESSOR_STEPS {
            let mut next = None;
            for (i, key) in self.keys.iter().enumerate() {
                let hash = token_hash(&Self::derive(key, grant, &from));
                if hash.ct_eq(presented) {
                    chain.push(hash);
                    return Some(chain);
                }
                // The chain goes on under the current key.
                if i == 0 {
                    next = Some(hash);
                }
            }
            from = next?;
            chain.push(from.clone());
        }
        None
    }
}

/// Which of a grant's refresh tokens was presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RefreshMatch {
    /// The newest one the grant record knows.
    Current,
    /// The one before it: a retry after a lost answer, or a copy. Gets the
    /// current token again.
    Previous,
    /// A token that followed the current one: this copy of the grant is stale
    /// (KV propagation, or a late write). The hashes from the stored current
    /// one's successor up to the presented one.
    Ahead(Vec<TokenHash>),
    /// An older one, whose successor's successor exists: a leaked copy.
    Retired,
}

/// How many retired refresh hashes a grant remembers for reuse detection.
pub const RETIRED_KEPT: usize = 8;

/// Places a presented refresh token (its hash) in the grant's chain, comparing in
/// constant time.
pub(super) fn match_refresh(
    grant: &GrantRecord,
    successors: &Successors,
    hash: &TokenHash,
) -> Option<RefreshMatch> {
    let eq = |stored: &TokenHash| hash.ct_eq(stored);
    if eq(&grant.refresh_hash) {
        return Some(RefreshMatch::Current);
    }
    if grant.previous_refresh_hash.as_ref().is_some_and(eq) {
        return Some(RefreshMatch::Previous);
    }
    if grant.retired_refresh_hashes.iter().any(eq) {
        return Some(RefreshMatch::Retired);
    }
    successors
        .chain_to(&grant.id, &grant.refresh_hash, hash)
        .map(RefreshMatch::Ahead)
}

/// Moves a grant on to the successor of `presented` (which the client holds).
/// Everything before `presented` is retired. A pure function of the stored
/// state and the presented token, so concurrent refreshes write the same state.
pub(super) fn rotate(
    grant: &mut GrantRecord,
    successors: &Successors,
    matched: RefreshMatch,
    now: u64,
) -> Option<()> {
    let presented = match matched {
        RefreshMatch::Current => grant.refresh_hash.clone(),
        RefreshMatch::Ahead(mut chain) => {
            let presented = chain.pop()?;
            // Newest first: the stored current token and the skipped ones.
            let mut retired: Vec<TokenHash> = chain.into_iter().rev().collect();
            retired.push(grant.refresh_hash.clone());
            retire(grant, retired);
            presented
        }
        // Only when the current token cannot be derived again (drawn at random
        // by a version before derived tokens): the client holds the previous
        // one, so the chain goes on from it and the current one is retired.
        RefreshMatch::Previous => {
            let presented = grant.previous_refresh_hash.clone()?;
            let current = grant.refresh_hash.clone();
            retire(grant, vec![current]);
            let next = successors.next(&grant.id, &presented)?;
            grant.refresh_hash = token_hash(next.secret());
            grant.refreshed_at = now;
            return Some(());
        }
        RefreshMatch::Retired => return Some(()),
    };
    let next = successors.next(&grant.id, &presented)?;
    if let Some(old) = grant.previous_refresh_hash.replace(presented) {
        retire(grant, vec![old]);
    }
    grant.refresh_hash = token_hash(next.secret());
    grant.refreshed_at = now;
    Some(())
}

fn retire(grant: &mut GrantRecord, newest_first: Vec<TokenHash>) {
    let kept = &mut grant.retired_refresh_hashes;
    for (i, h) in newest_first.into_iter().enumerate() {
        if !kept.contains(&h) {
            kept.insert(i, h);
        }
    }
    kept.truncate(RETIRED_KEPT);
}

/// The refresh token a grant's holder now has: the successor of its previous
/// token (or, for a grant just made, of its code), found again from the stored
/// hashes.
pub fn current_refresh_token(
    successors: &Successors,
    grant: &GrantRecord,
    code_hash: Option<&TokenHash>,
) -> Option<RefreshToken> {
    let from = grant.previous_refresh_hash.as_ref().or(code_hash)?;
    successors.find(&grant.id, from, &grant.refresh_hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ClientId, ScopeSet, UserId};

    fn keys() -> (SigningKey, SigningKey) {
        (
            SigningKey::new(&[1; 32]).unwrap(),
            SigningKey::new(&[2; 32]).unwrap(),
        )
    }

    fn grant(successors: &Successors) -> (GrantRecord, String) {
        let id = GrantId::new("AAAAAAAAAAAAAAAAAAAAAA");
        let first = successors.next(&id, &token_hash("a code")).unwrap();
        let g = GrantRecord {
            id,
            client_id: ClientId::new("alexa"),
            user_id: UserId::new("u"),
            display_name: String::new(),
            claims: None,
            scope: ScopeSet::parse("a").unwrap(),
            created_at: 0,
            refresh_hash: token_hash(first.secret()),
            previous_refresh_hash: None,
            refreshed_at: 0,
            retired_refresh_hashes: vec![],
            revoked_at: None,
            client_generation: 0,
        };
        (g, first.secret().to_owned())
    }

    /// The rotation rule, one row per kind of presented token.
    #[test]
    fn rotation_table() {
        let (k1, _) = keys();
        let s = Successors::new([&k1]);
        let (mut g, t1) = grant(&s);
        // t1 → t2 → t3: the holder has t3; t1 is retired, t2 previous.
        rotate(&mut g, &s, RefreshMatch::Current, 1).unwrap();
        rotate(&mut g, &s, RefreshMatch::Current, 2).unwrap();
        let t2 = s.next(&g.id, &token_hash(&t1)).unwrap().secret().to_owned();
        let t3 = current_refresh_token(&s, &g, None)
            .unwrap()
            .secret()
            .to_owned();
        let t4 = s.next(&g.id, &token_hash(&t3)).unwrap().secret().to_owned();
        let t5 = s.next(&g.id, &token_hash(&t4)).unwrap().secret().to_owned();
        let far = {
            let mut t = t5.clone();
            for _ in 0..SUCCESSOR_STEPS {
                t = s.next(&g.id, &token_hash(&t)).unwrap().secret().to_owned();
            }
            t
        };
        let cases: [(&str, &str, Option<RefreshMatch>); 6] = [
            ("current", &t3, Some(RefreshMatch::Current)),
            ("previous", &t2, Some(RefreshMatch::Previous)),
            ("two generations old", &t1, Some(RefreshMatch::Retired)),
            (
                "one ahead (stale copy)",
                &t4,
                Some(RefreshMatch::Ahead(vec![token_hash(&t4)])),
            ),
            ("never issued", "AAAAAAAAAAAAAAAAAAAAAA.x", None),
            ("too far ahead", &far, None),
        ];
        for (what, token, expected) in cases {
            assert_eq!(
                match_refresh(&g, &s, &token_hash(token)),
                expected,
                "{what}"
            );
        }
        // Two ahead: the skipped one is retired along with the stored current.
        let mut ahead = g.clone();
        let m = match_refresh(&ahead, &s, &token_hash(&t5)).unwrap();
        rotate(&mut ahead, &s, m, 3).unwrap();
        assert_eq!(ahead.previous_refresh_hash.as_ref(), Some(&token_hash(&t5)));
        assert!(ahead.retired_refresh_hashes.contains(&token_hash(&t4)));
        assert!(ahead.retired_refresh_hashes.contains(&token_hash(&t3)));
    }

    #[test]
    fn a_successor_from_before_a_key_rotation_is_found_after_it() {
        let (k1, k2) = keys();
        let before = Successors::new([&k1]);
        let (g, _) = grant(&before);
        let after = Successors::new([&k2, &k1]);
        let code = token_hash("a code");
        assert!(after.find(&g.id, &code, &g.refresh_hash).is_some());
        assert!(Successors::new([&k2])
            .find(&g.id, &code, &g.refresh_hash)
            .is_none());
    }

    #[test]
    fn rotation_is_a_function_of_the_state_and_the_token() {
        let (k1, _) = keys();
        let s = Successors::new([&k1]);
        let (g, _) = grant(&s);
        let (mut a, mut b) = (g.clone(), g.clone());
        rotate(&mut a, &s, RefreshMatch::Current, 7).unwrap();
        rotate(&mut b, &s, RefreshMatch::Current, 7).unwrap();
        assert_eq!(a, b);
    }
}
