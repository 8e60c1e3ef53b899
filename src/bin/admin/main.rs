//! `admin`: puts clients and users into the Worker's KV namespace.
//!
//! It builds records with the same core code the Worker uses (secret hashing,
//! PBKDF2, key names, registration rules) and writes them with `wrangler kv key
//! put`, so it needs no credentials of its own: locally it writes the state
//! `wrangler dev --persist-to DIR` serves. Secrets come from stdin, never from
//! argv.
//!
//! - `cli.rs`: the commands and their arguments;
//! - `wrangler.rs`: KV through wrangler;
//! - `route.rs`: the Worker's `/admin/grants`, for the grants of Durable
//!   Object mode;
//! - `js/admin-call.mjs`: one call to `/admin/grants`, compiled in;
//! - `client.rs`, `user.rs`, `grant.rs`, `backup.rs` (export, import,
//!   stats): one function per command;
//! - `io.rs`: stdin and time;
//! - `host.rs`: running wrangler and node, private files (natively `std`;
//!   compiled to `wasm32-wasip1` for the bundle, the Node runner's).

/// `println!` that does not panic when stdout is closed (e.g. `admin … | head -1`).
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod backup;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod cli;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod client;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod grant;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod host;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod io;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod route;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod texts;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod user;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod wrangler;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
fn main() {}

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
fn main() -> std::process::ExitCode {
    use clap::Parser;
    use cli::{Cli, ClientCmd, GrantCmd, KeyCmd, TextsCmd, TopCmd, UserCmd};

    // WASI has no working folder of its own: the Node runner passes its own.
    #[cfg(target_os = "wasi")]
    if let Some(dir) = std::env::var_os("PWD") {
        let _ = std::env::set_current_dir(dir);
    }
    let cli = Cli::parse();
    if let TopCmd::Key(KeyCmd::Generate) = cli.command {
        // Stdout only: no file holds the private key unless the caller says so.
        print!("{}", alexa_oauth::es256::native::generate_pem());
        return std::process::ExitCode::SUCCESS;
    }
    if let TopCmd::GrantStore = cli.command {
        let toml = std::fs::read_to_string("wrangler.toml").unwrap_or_default();
        let durable = alexa_oauth::durable_grants_in_wrangler_toml(&toml);
        println!("{}", if durable { "DO" } else { "KV" });
        return std::process::ExitCode::SUCCESS;
    }
    let worker = cli.worker.clone();
    let worker = worker.as_deref();
    let result = wrangler::Kv::new(&cli).and_then(|kv| match cli.command {
        TopCmd::Client(ClientCmd::Add(a)) => client::add(&kv, a),
        TopCmd::Client(ClientCmd::Update(a)) => client::update(&kv, a),
        TopCmd::Client(ClientCmd::List) => client::list(&kv),
        TopCmd::Client(ClientCmd::Show { id }) => client::show(&kv, &id),
        TopCmd::Client(ClientCmd::Remove { id }) => client::remove(&kv, &id),
        TopCmd::Client(ClientCmd::RotateSecret {
            id,
            grace,
            secret_stdin,
        }) => client::rotate_secret(&kv, &id, grace, secret_stdin),
        TopCmd::User(UserCmd::Add(a)) => user::add(&kv, worker, a),
        TopCmd::User(UserCmd::Update(a)) => user::update(&kv, worker, a),
        TopCmd::User(UserCmd::List) => user::list(&kv),
        TopCmd::User(UserCmd::Show { username }) => user::show(&kv, worker, &username),
        TopCmd::User(UserCmd::Passwd { username }) => user::passwd(&kv, &username),
        TopCmd::User(UserCmd::Invite(a)) => user::invite(&kv, a),
        TopCmd::User(UserCmd::ResetLink(a)) => user::reset_link(&kv, a),
        TopCmd::User(UserCmd::Remove { username, settle }) => {
            let settle = settle.unwrap_or(if cli.remote { 70 } else { 0 });
            user::remove(&kv, &username, settle)
        }
        TopCmd::Grant(GrantCmd::List { user }) => grant::list(&kv, &user),
        TopCmd::Grant(GrantCmd::Show { id }) => grant::show(&kv, worker, &id),
        TopCmd::Grant(GrantCmd::Revoke { id }) => grant::revoke_by_id(&kv, &id),
        TopCmd::GrantStore | TopCmd::Key(_) => Ok(()),
        TopCmd::Export { out } => backup::export(&kv, worker, out.as_deref()),
        TopCmd::Import {
            file,
            force,
            yes,
            dry_run,
        } => backup::import(&kv, worker, &file, force, yes, dry_run),
        TopCmd::Stats => backup::stats(&kv, worker),
        TopCmd::Texts(TextsCmd::Set { tag, file }) => texts::set(&kv, &tag, &file),
        TopCmd::Texts(TextsCmd::Remove { tag }) => texts::remove(&kv, &tag),
        TopCmd::Texts(TextsCmd::List) => texts::list(&kv),
        TopCmd::Texts(TextsCmd::Show { tag }) => texts::show(&kv, &tag),
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("admin: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
