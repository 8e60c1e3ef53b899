//! The rules for users, in one place for `admin` and the account pages:
//! what adding, replacing and changing a user keeps, that an identity signs
//! in as one user, and the password links. Beside the client rules of
//! [`crate::registration`]; the records and their keys are in
//! [`crate::store`].
//!
//! - **Replacing** a user (`admin user add --force`) keeps its id (its `sub`)
//!   and creation time, so every link it holds keeps working.
//! - **An identity signs in as one user** ([`identity_free`]): the one whom
//!   both the identity's link and the user's own list name
//!   ([`Records::user_by_identity`]). A link left by a removal or a change
//!   grants nothing and may be taken over.
//! - **Identities that a record no longer has** lose their links when it is
//!   written, so they stop signing in.
//! - **A change keeps a way to sign in:** a password, or an identity (an
//!   invited user has neither until the invitation is taken up).
//! - **Identities and claims ride in every access token**: together at most
//!   [`claims::MAX_BYTES`].

use crate::claims::{self, UserClaims};
use crate::crypto::TokenHash;
use crate::error::StoreError;
use crate::store::{keys, put_json, PasswordLink, Records, Store, UserRecord};
use crate::types::UserId;

/// Why a user could not be written as asked.
#[derive(Debug)]
pub enum UserError {
    /// A user of that name exists, and replacing was not asked for.
    Exists,
    /// The identity already signs in as another user, `username`.
    IdentityTaken {
        identity: String,
        username: String,
    },
    /// The change would leave a user with no password and no identity.
    NoWayToSignIn,
    /// Identities and claims of this many bytes, over [`claims::MAX_BYTES`].
    TooLarge(usize),
    Store(StoreError),
}

impl From<StoreError> for UserError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// A user as `admin user add` describes it: the username checked
/// ([`crate::registration::username`]), the identities checked
/// ([`crate::registration::identity`]).
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub identities: Vec<String>,
    pub claims: Option<UserClaims>,
}

/// Adds `new`, or replaces the user of that name when `replace` (keeping its
/// id and creation time). `id` is the id of a user that is new. Gives the
/// record written and the one it replaced.
pub async fn add<S: Store>(
    store: &S,
    new: NewUser,
    replace: bool,
    id: UserId,
    now: u64,
) -> Result<(UserRecord, Option<UserRecord>), UserError> {
    let existing = store.user(&new.username).await?;
    if existing.is_some() && !replace {
        return Err(UserError::Exists);
    }
    let record = UserRecord {
        id: existing.as_ref().map_or(id, |u| u.id.clone()),
        created_at: existing.as_ref().map_or(now, |u| u.created_at),
        username: new.username,
        display_name: new.display_name,
        password_hash: new.password_hash,
        identities: new.identities,
        claims: new.claims,
    };
    write(store, &record, existing.as_ref()).await?;
    Ok((record, existing))
}

/// What `admin user update` changes.
#[derive(Default)]
pub struct UserChange {
    pub display_name: Option<String>,
    /// The claims in full, when they change.
    pub claims: Option<Option<UserClaims>>,
    pub add_identities: Vec<String>,
    pub remove_identities: Vec<String>,
}

/// Applies `change` to `user` and writes it.
pub async fn update<S: Store>(
    store: &S,
    user: UserRecord,
    change: UserChange,
) -> Result<UserRecord, UserError> {
    let mut new = user.clone();
    if let Some(name) = change.display_name {
        new.display_name = name;
    }
    if let Some(claims) = change.claims {
        new.claims = claims;
    }
    new.identities
        .retain(|i| !change.remove_identities.contains(i));
    for identity in change.add_identities {
        if !new.identities.contains(&identity) {
            new.identities.push(identity);
        }
    }
    if new.password_hash.is_none() && new.identities.is_empty() {
        return Err(UserError::NoWayToSignIn);
    }
    write(store, &new, Some(&user)).await?;
    Ok(new)
}

/// Takes up an invitation with a provider's identity (the account pages):
/// the identity joins `user`'s list, which spends the invitation.
pub async fn add_identity<S: Store>(
    store: &S,
    mut user: UserRecord,
    identity: String,
) -> Result<UserRecord, UserError> {
    identity_free(store, &identity, &user.id).await?;
    if !user.identities.contains(&identity) {
        user.identities.push(identity);
    }
    store.put_user(&user).await?;
    Ok(user)
}

/// A new password for `user`: its record alone changes (its identity links
/// are as they were). Every session and password link made for the old one
/// ends with it ([`PasswordLink::fingerprint`]).
pub async fn set_password<S: Store>(
    store: &S,
    mut user: UserRecord,
    password_hash: String,
) -> Result<UserRecord, StoreError> {
    user.password_hash = Some(password_hash);
    put_json(store, &keys::user(&user.username), &user, None).await?;
    Ok(user)
}

/// An identity signs in as one user: `Ok` when it signs in as nobody, or as
/// the user `id` already.
pub async fn identity_free<S: Store>(
    store: &S,
    identity: &str,
    id: &UserId,
) -> Result<(), UserError> {
    match store.user_by_identity(identity).await? {
        Some(holder) if holder.id != *id => Err(UserError::IdentityTaken {
            identity: identity.to_owned(),
            username: holder.username,
        }),
        _ => Ok(()),
    }
}

/// A password link for `user`, stored under its token's hash until
/// `expires_at`: `purpose` is [`PasswordLink::INVITE`] or
/// [`PasswordLink::RESET`].
pub async fn put_password_link<S: Store>(
    store: &S,
    user: &UserRecord,
    purpose: &str,
    token: &TokenHash,
    expires_at: u64,
) -> Result<PasswordLink, StoreError> {
    let link = PasswordLink {
        purpose: purpose.to_owned(),
        username: user.username.clone(),
        user_id: user.id.clone(),
        fingerprint: PasswordLink::fingerprint(user),
        expires_at,
    };
    put_json(store, &keys::password_link(token), &link, Some(expires_at)).await?;
    Ok(link)
}

/// Identities and claims ride in every access token, which should stay
/// under 2 KB: `Err` with their size when they would take more than
/// [`claims::MAX_BYTES`].
pub fn check_size(user: &UserRecord) -> Result<(), UserError> {
    let identities = serde_json::to_string(&user.identities).expect("strings serialise");
    let claims = user.claims.as_ref().map_or("", |c| c.as_json());
    let size = identities.len() + claims.len();
    match size > claims::MAX_BYTES {
        true => Err(UserError::TooLarge(size)),
        false => Ok(()),
    }
}

/// Writes `user` over `old` (the record it replaces, if any), by the rules
/// above.
async fn write<S: Store>(
    store: &S,
    user: &UserRecord,
    old: Option<&UserRecord>,
) -> Result<(), UserError> {
    check_size(user)?;
    for identity in &user.identities {
        let already = old.is_some_and(|o| o.identities.contains(identity));
        if !already {
            identity_free(store, identity, &user.id).await?;
        }
    }
    store.put_user(user).await?;
    // The user record went first: it alone decides, so a removed identity
    // stops at once; its link goes after.
    for stale in old.iter().flat_map(|o| &o.identities) {
        if !user.identities.contains(stale) {
            store.delete(&keys::identity(stale)).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use pollster::block_on;

    fn new_user(name: &str, identities: &[&str]) -> NewUser {
        NewUser {
            username: name.into(),
            display_name: name.into(),
            password_hash: Some("hash".into()),
            identities: identities.iter().map(|&i| i.to_owned()).collect(),
            claims: None,
        }
    }

    #[test]
    fn a_replaced_user_keeps_its_id_and_its_old_identities_stop() {
        let store = MemoryStore::default();
        let (first, _) = block_on(add(
            &store,
            new_user("alice", &["idp:a", "idp:b"]),
            false,
            UserId::new("id-1"),
            100,
        ))
        .unwrap();
        assert!(matches!(
            block_on(add(
                &store,
                new_user("alice", &[]),
                false,
                UserId::new("id-2"),
                200
            )),
            Err(UserError::Exists)
        ));
        let (second, old) = block_on(add(
            &store,
            new_user("alice", &["idp:b"]),
            true,
            UserId::new("id-2"),
            200,
        ))
        .unwrap();
        assert_eq!(old.unwrap().id, first.id);
        assert_eq!((second.id.as_str(), second.created_at), ("id-1", 100));
        assert!(block_on(store.user_by_identity("idp:a")).unwrap().is_none());
        assert!(block_on(store.get(&keys::identity("idp:a")))
            .unwrap()
            .is_none());
        assert_eq!(
            block_on(store.user_by_identity("idp:b"))
                .unwrap()
                .unwrap()
                .id,
            first.id
        );
    }

    #[test]
    fn an_identity_signs_in_as_one_user() {
        let store = MemoryStore::default();
        block_on(add(
            &store,
            new_user("alice", &["idp:a"]),
            false,
            UserId::new("a"),
            1,
        ))
        .unwrap();
        let taken = block_on(add(
            &store,
            new_user("bob", &["idp:a"]),
            false,
            UserId::new("b"),
            1,
        ));
        assert!(
            matches!(&taken, Err(UserError::IdentityTaken { username, .. }) if username == "alice"),
            "{taken:?}"
        );
        assert!(
            block_on(store.user("bob")).unwrap().is_none(),
            "nothing written"
        );
        let bob = block_on(add(
            &store,
            new_user("bob", &[]),
            false,
            UserId::new("b"),
            1,
        ))
        .unwrap()
        .0;
        assert!(matches!(
            block_on(add_identity(&store, bob.clone(), "idp:a".into())),
            Err(UserError::IdentityTaken { .. })
        ));
        // Once alice no longer has it, her stale link grants nothing.
        let alice = block_on(store.user("alice")).unwrap().unwrap();
        let change = UserChange {
            remove_identities: vec!["idp:a".into()],
            ..UserChange::default()
        };
        block_on(update(&store, alice, change)).unwrap();
        let bob = block_on(add_identity(&store, bob, "idp:a".into())).unwrap();
        assert_eq!(
            block_on(store.user_by_identity("idp:a"))
                .unwrap()
                .unwrap()
                .id,
            bob.id
        );
    }

    #[test]
    fn a_user_keeps_a_way_to_sign_in_and_tokens_stay_small() {
        let store = MemoryStore::default();
        let mut new = new_user("carol", &["idp:c"]);
        new.password_hash = None;
        let carol = block_on(add(&store, new, false, UserId::new("c"), 1))
            .unwrap()
            .0;
        let change = UserChange {
            remove_identities: vec!["idp:c".into()],
            ..UserChange::default()
        };
        assert!(matches!(
            block_on(update(&store, carol.clone(), change)),
            Err(UserError::NoWayToSignIn)
        ));
        let big = (0..40).map(|i| format!("idp:{i:030}")).collect::<Vec<_>>();
        let change = UserChange {
            add_identities: big,
            ..UserChange::default()
        };
        assert!(matches!(
            block_on(update(&store, carol, change)),
            Err(UserError::TooLarge(size)) if size > claims::MAX_BYTES
        ));
    }
}
