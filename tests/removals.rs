//! Removals that are final, natively on both grant stores: after `admin user
//! remove` no grant of the user works, including one from a code issued
//! before it and one a racing exchange wrote; a client removed and added again
//! never brings back a grant or a code of its earlier life, whatever the admin
//! machine's clock says, and a link made while an isolate still holds the
//! earlier life keeps refreshing.

use alexa_oauth::grant::remove_user;
use alexa_oauth::registration::{client_to_add, removal_of};
use alexa_oauth::store::{
    keys, put_json, ClientRecord, ClientRemoval, Records, Store, UserRemoval,
};
use alexa_oauth::testing::*;
use alexa_oauth::types::ClientId;
use pollster::block_on;

fn refresh_status(s: &Server, rt: &str) -> u16 {
    s.refresh(rt).0
}

fn user_removal_ends_every_grant_even_from_earlier_codes_and_racing_exchanges() {
    let s = Server::new();
    let (_, linked) = s.link();
    let early_code = s.code("");
    let racing_code = s.code("");
    let alice = block_on(s.store.user("alice")).unwrap().unwrap();
    let trace = keys::user_removed(&alice.id);
    let mut racing_rt = None;
    let ended = block_on(remove_user(&s.store, &alice, s.now.get(), async || {
        // An exchange that read the store before the trace existed: it writes
        // its grant after the first sweep. The second sweep must end it.
        let saved = block_on(s.store.get(&trace)).unwrap().unwrap();
        block_on(s.store.delete(&trace)).unwrap();
        let (status, t) = s.token(&exchange(&racing_code), false);
        assert_eq!(status, 200, "{t}");
        racing_rt = Some(t["refresh_token"].as_str().unwrap().to_owned());
        block_on(s.store.put(&trace, saved, None)).unwrap();
    }))
    .unwrap();
    if s.objects.is_none() {
        assert_eq!(ended, 2, "the linked grant, then the racing one");
    } else {
        // Durable Object mode indexes a grant with its code: the first sweep
        // ends all three, the two codes' grants before they exist.
        assert_eq!(ended, 3);
    }
    let racing_rt = racing_rt.unwrap();
    // The code issued before the removal, redeemed after it.
    let (status, e) = s.token(&exchange(&early_code), false);
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    // A day later, nothing of the user's works.
    s.now.set(s.now.get() + 86_400);
    for rt in [&linked, &racing_rt] {
        assert_eq!(refresh_status(&s, rt), 400);
    }
    let login = s.login(&auth_query(LAYLA, ""), "alice", "correct horse", "login");
    assert_eq!(login.status, 401, "the user is gone");
}

fn a_code_of_a_removed_user_gives_no_grant() {
    let s = Server::new();
    let code = s.code("");
    let alice = block_on(s.store.user("alice")).unwrap().unwrap();
    let trace = UserRemoval {
        removed_at: s.now.get(),
    };
    block_on(put_json(
        &s.store,
        &keys::user_removed(&alice.id),
        &trace,
        None,
    ))
    .unwrap();
    let (status, e) = s.token(&exchange(&code), false);
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
}

/// `admin client remove` of the test client, as the admin's clock says
/// `removed_at`: the trace written, the record deleted. Returns the removed
/// record and its trace.
fn remove_client(s: &Server, removed_at: u64) -> (ClientRecord, ClientRemoval) {
    let id = ClientId::new("alexa");
    let old = block_on(s.store.client(&id)).unwrap().unwrap();
    let removal = removal_of(&old, removed_at);
    block_on(put_json(
        &s.store,
        &keys::client_removed(&id),
        &removal,
        None,
    ))
    .unwrap();
    block_on(s.store.delete(&keys::client(&id))).unwrap();
    (old, removal)
}

/// `admin client add` of `fresh` again after `removal`; returns what was stored.
fn add_again(s: &Server, fresh: ClientRecord, removal: ClientRemoval) -> ClientRecord {
    let (again, _) = client_to_add(fresh, None, Some(removal), false, false).unwrap();
    s.put_client(&again);
    again
}

fn a_client_added_again_never_brings_back_a_grant_of_its_earlier_life() {
    // With the client cache on: the Worker keeps its copy of the client for
    // 30 s after the removal, and a link made then must not come back either.
    let s = Server::new();
    let (_, before) = s.link();
    // `admin client remove`, with the admin machine's clock a day fast.
    let (old, removal) = remove_client(&s, s.now.get() + 86_400);
    // The isolate's copy still shows the login page, but the sign-in reads the
    // stored client: no code for a removed one.
    let in_window = s.login(&auth_query(LAYLA, ""), "alice", "correct horse", "login");
    assert_eq!(in_window.status, 400, "no code while the client is removed");
    assert!(String::from_utf8_lossy(&in_window.body).contains("Unknown application"));
    // `admin client add` again, the admin's clock now a day slow.
    let mut fresh = old.clone();
    fresh.created_at = s.now.get() - 86_400;
    fresh.generation = 0;
    let again = add_again(&s, fresh, removal);
    assert_eq!(again.generation, old.generation + 1);
    s.now.set(s.now.get() + 31);
    assert_eq!(
        refresh_status(&s, &before),
        400,
        "a grant of the removed client"
    );
    let (_, after) = s.link();
    assert_eq!(
        refresh_status(&s, &after),
        200,
        "the new client links as usual"
    );
}

fn a_link_made_after_a_client_is_added_again_keeps_refreshing_as_the_cached_copy_expires() {
    // The isolate holds the client's old life (a link just made) when the id
    // is removed and added again; the next link's refreshes must work before
    // and after that copy expires.
    let s = Server::new();
    let (_, before) = s.link();
    let (old, removal) = remove_client(&s, s.now.get());
    add_again(&s, old, removal);
    let (_, after) = s.link();
    assert_eq!(refresh_status(&s, &after), 200, "within the copy's life");
    s.now.set(s.now.get() + 31);
    assert_eq!(refresh_status(&s, &after), 200, "after the copy expired");
    assert_eq!(
        refresh_status(&s, &before),
        400,
        "the earlier life stays dead"
    );
}

fn a_code_of_an_earlier_life_of_the_client_redeems_nothing() {
    let s = Server::new();
    let code = s.code("");
    let (old, removal) = remove_client(&s, s.now.get());
    add_again(&s, old, removal);
    s.now.set(s.now.get() + 31);
    let (status, e) = s.token(&exchange(&code), false);
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
}

alexa_oauth::on_both_stores!(
    user_removal_ends_every_grant_even_from_earlier_codes_and_racing_exchanges,
    a_code_of_a_removed_user_gives_no_grant,
    a_client_added_again_never_brings_back_a_grant_of_its_earlier_life,
    a_link_made_after_a_client_is_added_again_keeps_refreshing_as_the_cached_copy_expires,
    a_code_of_an_earlier_life_of_the_client_redeems_nothing,
);
