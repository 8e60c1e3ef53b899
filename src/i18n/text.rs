//! The names of every text a person reads, one per line of a catalogue
//! (`static/lang/<tag>.txt`). A name is the catalogue's key as written, so a
//! misspelt one in a template or an endpoint is a build error, and the test
//! in `tests.rs` holds each catalogue to this list.

/// Declares [`Text`] and its list.
macro_rules! texts {
    ($($name:ident),* $(,)?) => {
        /// One text of the pages, by its catalogue key.
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Text {
            $(
                #[doc = concat!("`", stringify!($name), "` in the catalogues.")]
                $name,
            )*
        }

        impl Text {
            /// Every text, in catalogue order.
            pub const ALL: &'static [Text] = &[$(Text::$name),*];

            /// Its key in a catalogue.
            pub fn key(self) -> &'static str {
                match self {
                    $(Text::$name => stringify!($name),)*
                }
            }
        }
    };
}

texts! {
    // The login page.
    login_title,
    login_who,
    login_scopes,
    sign_in,
    sign_in_with,
    or_username,
    username,
    password,
    login_submit,
    cancel,
    // The account page.
    account_title,
    account_intro,
    signed_in_as,
    linked_services,
    no_links,
    link_label,
    linked_on,
    end_link,
    change_password_title,
    current_password,
    new_password,
    new_password_again,
    change_password,
    sign_out,
    // Invitations and resets.
    welcome,
    invite_choose_account,
    invite_choose_password,
    create_account,
    or_instead_of_password,
    reset_title,
    reset_intro,
    reset_submit,
    password_set_title,
    invite_done,
    password_changed,
    go_to_account,
    link_broken_title,
    link_broken,
    link_expired_title,
    link_dead_title,
    ask_new_link,
    link_used_title,
    link_used,
    password_too_short,
    passwords_differ,
    // Errors on the forms.
    enter_credentials,
    wrong_password,
    current_password_wrong,
    too_many_minutes,
    too_many_title,
    too_many,
    form_expired_title,
    form_expired,
    session_ended,
    link_not_found,
    // Message pages.
    try_again_title,
    unavailable,
    not_configured_title,
    not_configured,
    method_title,
    method_detail,
    too_large_title,
    too_large,
    not_a_form_title,
    not_a_form,
    invalid_request_title,
    invalid_request,
    incomplete_title,
    no_redirect,
    no_client,
    unknown_client_title,
    unknown_client,
    unregistered_redirect_title,
    unregistered_redirect,
    password_off_title,
    password_off,
    unknown_page_title,
    unknown_action_title,
    go_back,
    try_again,
    back,
    back_to_sign_in,
    link_ended_title,
    link_ended,
    back_to_account,
    // Provider sign-in.
    unknown_provider_title,
    unknown_provider,
    sign_in_expired_title,
    sign_in_expired,
    sign_in_failed_title,
    provider_incomplete,
    provider_unconfirmed,
    provider_unavailable,
    not_allowed_title,
    provider_not_allowed,
    provider_no_account,
    in_use_title,
    provider_in_use,
    state_too_long_title,
    state_too_long,
    continue_to,
    continue_with,
    // The demo callback (local development).
    demo_title,
    demo_linked,
    demo_exchange,
    demo_error,
    demo_nothing,
}
