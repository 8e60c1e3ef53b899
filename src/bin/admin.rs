//! `admin`: puts clients and users into the Worker's KV namespace.
//!
//! It builds records with the same core code the Worker uses (secret hashing,
//! PBKDF2, key names) and writes them with `wrangler kv key put`, so it needs no
//! credentials of its own: locally it writes the state `wrangler dev
//! --persist-to DIR` serves. Secrets come from stdin, never from argv.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    native::main()
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::io::{BufRead, IsTerminal};
    use std::path::PathBuf;
    use std::process::{Command, ExitCode};
    use std::time::{SystemTime, UNIX_EPOCH};

    use alexa_oauth::crypto::{hash_client_secret, random_string, OsRng};
    use alexa_oauth::grant::{self, RevocationCache};
    use alexa_oauth::password::hash_password;
    use alexa_oauth::store::{
        get_json, keys, normalize_username, put_json, ClientRecord, GrantRecord, GrantType, Store,
        StoreError, UserRecord,
    };
    use alexa_oauth::types::{
        ClientId, ClientSecret, GrantId, Password, RedirectUri, ScopeSet, UserId,
    };
    use clap::{Args, Parser, Subcommand};
    use pollster::block_on;

    /// `println!` that does not panic when stdout is closed (e.g. `admin … | head -1`).
    macro_rules! out {
        ($($arg:tt)*) => {{
            use std::io::Write;
            let _ = writeln!(std::io::stdout(), $($arg)*);
        }};
    }

    const EXAMPLES: &str = "\
Examples:
  # An Alexa skill's client: registers the three regional redirect URLs, prints a new secret once.
  cargo run --bin admin -- client add --id alexa-skill --name \"My Skill\" \\
      --alexa M2AAAAAAAAAAAA --scope \"smart_home\"

  # A user; the password is read from stdin.
  printf '%s' 'a long passphrase' | cargo run --bin admin -- user add --username alice \\
      --display-name Alice --password-stdin

  # Look, change, remove:
  cargo run --bin admin -- client list
  cargo run --bin admin -- client show --id alexa-skill
  cargo run --bin admin -- client rotate-secret --id alexa-skill --grace 86400
  cargo run --bin admin -- user list
  printf '%s' 'a new passphrase' | cargo run --bin admin -- user passwd --username alice
  cargo run --bin admin -- grant list --user alice
  cargo run --bin admin -- grant revoke --id <grant id>
  cargo run --bin admin -- user remove --username alice      # also ends her grants

  # The state `wrangler dev --persist-to .wrangler/state` serves (the default), or the deployed namespace:
  cargo run --bin admin -- --local --persist-to .wrangler/state user add ...
  cargo run --bin admin -- --remote client add ...";

    /// Manage the OAuth server's clients and users in Workers KV.
    #[derive(Parser)]
    #[command(name = "admin", after_help = EXAMPLES)]
    struct Cli {
        /// Write to local state (the default), as `wrangler dev` serves it.
        #[arg(long, global = true, conflicts_with = "remote")]
        local: bool,
        /// Write to the namespace deployed on Cloudflare (uses wrangler's login).
        #[arg(long, global = true)]
        remote: bool,
        /// The local state directory, as given to `wrangler dev --persist-to`.
        #[arg(
            long,
            global = true,
            value_name = "DIR",
            default_value = ".wrangler/state"
        )]
        persist_to: PathBuf,
        /// The KV binding name in wrangler.toml.
        #[arg(long, global = true, default_value = "OAUTH_KV")]
        binding: String,
        #[command(subcommand)]
        command: Command1,
    }

    #[derive(Subcommand)]
    enum Command1 {
        /// Registered clients (the Alexa skill is one).
        #[command(subcommand)]
        Client(ClientCmd),
        /// Users who can sign in on the login page.
        #[command(subcommand)]
        User(UserCmd),
        /// Grants: the links between a user and a client.
        #[command(subcommand)]
        Grant(GrantCmd),
    }

    #[derive(Subcommand)]
    enum ClientCmd {
        /// Register a client. Prints a generated secret once, unless --secret-stdin.
        Add(ClientAdd),
        /// List the registered clients.
        List,
        /// Show one client (never its secret).
        Show {
            #[arg(long)]
            id: String,
        },
        /// Remove a client: its refresh tokens stop working at once.
        Remove {
            #[arg(long)]
            id: String,
        },
        /// Give a client a new secret, printed once. The old one keeps working for
        /// --grace seconds, time to paste the new one into the Alexa console.
        RotateSecret {
            #[arg(long)]
            id: String,
            /// Seconds the old secret stays valid (0 ends it at once).
            #[arg(long, default_value_t = 86_400)]
            grace: u64,
            /// Read the new secret from stdin instead of generating one.
            #[arg(long)]
            secret_stdin: bool,
        },
    }

    #[derive(Subcommand)]
    enum UserCmd {
        /// Add a user; the password is read from stdin.
        Add(UserAdd),
        /// List the usernames.
        List,
        /// Set a user's password, read from stdin. Existing links keep working.
        Passwd {
            #[arg(long)]
            username: String,
        },
        /// Remove a user and end all of their grants.
        Remove {
            #[arg(long)]
            username: String,
        },
    }

    #[derive(Subcommand)]
    enum GrantCmd {
        /// List a user's grants.
        List {
            #[arg(long)]
            user: String,
        },
        /// End a grant: its refresh tokens at once, its access tokens within the
        /// revocation bound (see README).
        Revoke {
            /// Grant ids can start with `-`, which must not read as an option.
            #[arg(long, allow_hyphen_values = true)]
            id: String,
        },
    }

    #[derive(Args)]
    struct ClientAdd {
        /// The client id: 1-64 characters of A-Z a-z 0-9 - . _ ~
        #[arg(long)]
        id: String,
        /// The name the login page shows ("<name> is asking to link your account").
        #[arg(long)]
        name: String,
        /// An Alexa vendor id: registers https://{pitangui.amazon.com, layla.amazon.com,
        /// alexa.amazon.co.jp}/api/skill/link/<VENDOR_ID>.
        #[arg(long, value_name = "VENDOR_ID")]
        alexa: Option<String>,
        /// A redirect URI, matched exactly. Repeat for several.
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// The scopes the client may ask for, space separated.
        #[arg(long)]
        scope: String,
        /// Comma separated: authorization_code, refresh_token, client_credentials.
        #[arg(long, default_value = "authorization_code,refresh_token")]
        grant_types: String,
        /// Read the client secret from stdin (at least 32 characters) instead of generating one.
        #[arg(long)]
        secret_stdin: bool,
        /// Replace a client with the same id.
        #[arg(long)]
        force: bool,
    }

    #[derive(Args)]
    struct UserAdd {
        /// The sign-in name; stored in lower case, matched without regard to case.
        #[arg(long)]
        username: String,
        /// The name shown to the skill (defaults to the username).
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from stdin (its first line).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Replace the user's record; the user keeps the same id (`sub`).
        #[arg(long)]
        force: bool,
    }

    /// Talks to KV through the wrangler CLI.
    struct Kv {
        program: Vec<String>,
        location: Vec<String>,
        binding: String,
        /// `GRANT_STORE = "DO"` in wrangler.toml: grants live in Durable Objects,
        /// which wrangler cannot read or write from the command line.
        durable_grants: bool,
    }

    const DO_MODE: &str =
        "in Durable Object mode (GRANT_STORE = \"DO\" in wrangler.toml) grants live in \
        Durable Objects, which this command cannot reach through wrangler. End a link with \
        `grant revoke --id <grant id>` (the `gid` claim of its access tokens, or the part of \
        its refresh token before the dot) or POST /revoke";

    impl Kv {
        fn new(cli: &Cli) -> Result<Self, String> {
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
                    "wrangler.toml is not in this folder: run admin from the project folder."
                        .into(),
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
            let durable_grants = toml.lines().any(|l| {
                let l = l.replace(' ', "");
                l == "GRANT_STORE=\"DO\""
            });
            Ok(Self {
                program,
                location,
                binding: cli.binding.clone(),
                durable_grants,
            })
        }

        /// Runs `wrangler kv key <args>` and returns its stdout. Its output is shown
        /// only on failure (it echoes the values it writes).
        fn run(&self, args: &[&str]) -> Result<String, String> {
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
        fn list(&self, prefix: &str) -> Result<Vec<String>, String> {
            let listed = self.run(&["list", "--prefix", prefix])?;
            let names: Vec<serde_json::Value> = serde_json::from_str(listed.trim())
                .map_err(|e| format!("unexpected output from wrangler kv key list: {e}"))?;
            Ok(names
                .iter()
                .filter_map(|n| n["name"].as_str().map(str::to_owned))
                .collect())
        }

        fn delete(&self, key: &str) -> Result<(), String> {
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
        async fn put(&self, key: &str, value: String, _: Option<u64>) -> Result<(), StoreError> {
            self.run(&["put", key, &value])
                .map(|_| ())
                .map_err(StoreError)
        }
    }

    fn get<T: serde::de::DeserializeOwned>(kv: &Kv, key: &str) -> Result<Option<T>, String> {
        block_on(get_json(kv, key)).map_err(|e| e.0)
    }

    fn put<T: serde::Serialize>(kv: &Kv, key: &str, value: &T) -> Result<(), String> {
        block_on(put_json(kv, key, value, None)).map_err(|e| e.0)
    }

    fn time(t: u64) -> String {
        humantime::format_rfc3339_seconds(UNIX_EPOCH + std::time::Duration::from_secs(t))
            .to_string()
    }

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    /// Reads one secret line from stdin. From a terminal it asks first; from a pipe it
    /// just reads, so scripts never hang on a prompt.
    fn read_secret(what: &str) -> Result<String, String> {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            eprint!("{what} (typed text is visible; pipe it in to avoid that): ");
        }
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("could not read the {what} from stdin: {e}"))?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }

    /// A new client secret: from stdin, or 256 random bits (the bool says generated).
    fn new_client_secret(from_stdin: bool) -> Result<(ClientSecret, bool), String> {
        if !from_stdin {
            return Ok((ClientSecret::new(random_string(&OsRng, 32)), true));
        }
        let s = read_secret("client secret")?;
        if s.len() < 32 || !is_unreserved(&s) {
            return Err(
                "the client secret must be at least 32 characters of A-Z a-z 0-9 - . _ ~".into(),
            );
        }
        Ok((ClientSecret::new(s), false))
    }

    fn read_password() -> Result<Password, String> {
        let password = Password::new(read_secret("password")?);
        if password.secret().chars().count() < 8 {
            return Err("the password must be at least 8 characters".into());
        }
        Ok(password)
    }

    fn is_unreserved(s: &str) -> bool {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    }

    /// The three regional redirect URLs the Alexa console lists for a vendor id.
    pub(crate) fn alexa_redirect_uris(vendor_id: &str) -> [String; 3] {
        [
            "pitangui.amazon.com",
            "layla.amazon.com",
            "alexa.amazon.co.jp",
        ]
        .map(|host| format!("https://{host}/api/skill/link/{vendor_id}"))
    }

    /// RFC 6749 §3.1.2: absolute, no fragment. HTTPS, except on loopback for development.
    fn check_redirect_uri(uri: &str) -> Result<(), String> {
        let parsed =
            url::Url::parse(uri).map_err(|e| format!("redirect URI {uri:?} is not a URL: {e}"))?;
        if parsed.fragment().is_some() {
            return Err(format!(
                "redirect URI {uri:?} has a fragment (#...), which RFC 6749 §3.1.2 forbids"
            ));
        }
        let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
            return Err(format!(
                "redirect URI {uri:?} must use https (http only for localhost)"
            ));
        }
        Ok(())
    }

    fn client_add(kv: &Kv, args: ClientAdd) -> Result<(), String> {
        if args.id.is_empty() || args.id.len() > 64 || !is_unreserved(&args.id) {
            return Err(
                "--id must be 1-64 characters of A-Z a-z 0-9 - . _ ~ (Alexa sends it unencoded)"
                    .into(),
            );
        }
        let scope = ScopeSet::parse(&args.scope)
            .filter(|s| !s.is_empty())
            .ok_or("--scope must be one or more space-separated scope tokens")?;
        let mut grant_types = Vec::new();
        for g in args
            .grant_types
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
        {
            let g = GrantType::parse(g).ok_or(format!(
                "unknown grant type {g:?}: use authorization_code, refresh_token, client_credentials"
            ))?;
            if !grant_types.contains(&g) {
                grant_types.push(g);
            }
        }
        let mut uris: Vec<String> = Vec::new();
        if let Some(vendor) = &args.alexa {
            if vendor.is_empty() || !vendor.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err("--alexa takes the vendor id from the console's redirect URLs, e.g. M2AAAAAAAAAAAA".into());
            }
            uris.extend(alexa_redirect_uris(vendor));
        }
        uris.extend(args.redirect_uris.iter().cloned());
        uris.dedup();
        for uri in &uris {
            check_redirect_uri(uri)?;
        }
        if grant_types.contains(&GrantType::AuthorizationCode) && uris.is_empty() {
            return Err(
                "an authorization_code client needs --alexa VENDOR_ID or --redirect-uri".into(),
            );
        }
        let client_id = ClientId::new(&args.id);
        let key = keys::client(&client_id);
        if !args.force && get::<serde_json::Value>(kv, &key)?.is_some() {
            return Err(format!(
                "a client with id {:?} already exists (use --force to replace it)",
                args.id
            ));
        }
        let (secret, generated) = new_client_secret(args.secret_stdin)?;
        let record = ClientRecord {
            client_id,
            name: args.name,
            secret_hash: hash_client_secret(&OsRng, &secret),
            previous_secret_hash: None,
            previous_secret_expires_at: None,
            redirect_uris: uris.iter().map(RedirectUri::new).collect(),
            scope,
            grant_types,
            created_at: now(),
        };
        put(kv, &key, &record)?;
        out!("Client {:?} added.", args.id);
        out!("  client_id:     {}", args.id);
        if generated {
            out!(
                "  client_secret: {}   (shown once; only its hash is stored)",
                secret.secret()
            );
        }
        for uri in &uris {
            out!("  redirect_uri:  {uri}");
        }
        out!("  scope:         {}", record.scope);
        Ok(())
    }

    fn user_add(kv: &Kv, args: UserAdd) -> Result<(), String> {
        let username = normalize_username(&args.username);
        if username.is_empty() || username.len() > 128 || username.chars().any(char::is_whitespace)
        {
            return Err("--username must be 1-128 characters without spaces".into());
        }
        let password = read_password()?;
        let key = keys::user(&username);
        let existing: Option<UserRecord> = get(kv, &key)?;
        if existing.is_some() && !args.force {
            return Err(format!(
                "a user named {username:?} already exists (use --force to replace it)"
            ));
        }
        let record = UserRecord {
            // A replaced user keeps its id, so its links keep working.
            id: existing
                .as_ref()
                .map(|u| u.id.clone())
                .unwrap_or_else(|| UserId::new(random_string(&OsRng, 16))),
            display_name: args.display_name.unwrap_or_else(|| username.clone()),
            password_hash: hash_password(&OsRng, &password),
            created_at: existing.map(|u| u.created_at).unwrap_or_else(now),
            username: username.clone(),
        };
        put(kv, &key, &record)?;
        out!("User {username:?} added (sub {}).", record.id);
        Ok(())
    }

    fn client_list(kv: &Kv) -> Result<(), String> {
        for key in kv.list("client:")? {
            let Some(c) = get::<ClientRecord>(kv, &key)? else {
                continue;
            };
            let grants: Vec<_> = c.grant_types.iter().map(|g| g.as_str()).collect();
            out!(
                "{}\t{}\tscope={}\tgrants={}\tredirect_uris={}",
                c.client_id,
                c.name,
                c.scope,
                grants.join(","),
                c.redirect_uris.len()
            );
        }
        Ok(())
    }

    fn load_client(kv: &Kv, id: &str) -> Result<ClientRecord, String> {
        get(kv, &keys::client(&ClientId::new(id)))?
            .ok_or_else(|| format!("no client with id {id:?}"))
    }

    fn client_show(kv: &Kv, id: &str) -> Result<(), String> {
        let c = load_client(kv, id)?;
        out!("client_id:    {}", c.client_id);
        out!("name:         {}", c.name);
        out!("scope:        {}", c.scope);
        let grants: Vec<_> = c.grant_types.iter().map(|g| g.as_str()).collect();
        out!("grant_types:  {}", grants.join(","));
        for uri in &c.redirect_uris {
            out!("redirect_uri: {uri}");
        }
        out!("created:      {}", time(c.created_at));
        if let Some(until) = c.previous_secret_expires_at.filter(|&u| u > now()) {
            out!("old secret:   accepted until {}", time(until));
        }
        Ok(())
    }

    fn client_remove(kv: &Kv, id: &str) -> Result<(), String> {
        let c = load_client(kv, id)?;
        kv.delete(&keys::client(&c.client_id))?;
        out!("Client {id:?} removed. Its refresh tokens no longer work; its access tokens expire within an hour.");
        Ok(())
    }

    fn client_rotate_secret(
        kv: &Kv,
        id: &str,
        grace: u64,
        secret_stdin: bool,
    ) -> Result<(), String> {
        let mut c = load_client(kv, id)?;
        let (secret, generated) = new_client_secret(secret_stdin)?;
        let old = std::mem::replace(&mut c.secret_hash, hash_client_secret(&OsRng, &secret));
        (c.previous_secret_hash, c.previous_secret_expires_at) = if grace > 0 {
            (Some(old), Some(now() + grace))
        } else {
            (None, None)
        };
        put(kv, &keys::client(&c.client_id), &c)?;
        out!("Client {id:?} has a new secret.");
        if generated {
            out!(
                "  client_secret: {}   (shown once; only its hash is stored)",
                secret.secret()
            );
        }
        match c.previous_secret_expires_at {
            Some(until) => out!("  the old secret is accepted until {}", time(until)),
            None => out!("  the old secret no longer works"),
        }
        Ok(())
    }

    fn load_user(kv: &Kv, username: &str) -> Result<UserRecord, String> {
        let username = normalize_username(username);
        get(kv, &keys::user(&username))?.ok_or_else(|| format!("no user named {username:?}"))
    }

    fn user_list(kv: &Kv) -> Result<(), String> {
        for key in kv.list("user:")? {
            out!("{}", key.trim_start_matches("user:"));
        }
        Ok(())
    }

    fn user_passwd(kv: &Kv, username: &str) -> Result<(), String> {
        let mut user = load_user(kv, username)?;
        user.password_hash = hash_password(&OsRng, &read_password()?);
        put(kv, &keys::user(&user.username), &user)?;
        out!("Password of {:?} changed.", user.username);
        Ok(())
    }

    fn user_grants(kv: &Kv, user: &UserId) -> Result<Vec<GrantRecord>, String> {
        let mut grants = Vec::new();
        for key in kv.list(&keys::user_grants_prefix(user))? {
            let gid = GrantId::new(key.rsplit(':').next().unwrap_or_default());
            if let Some(g) = get(kv, &keys::grant(&gid))? {
                grants.push(g);
            }
        }
        Ok(grants)
    }

    /// Revokes through the core, so the tombstone is written exactly as
    /// `/revoke` writes it.
    fn revoke(kv: &Kv, grant: &GrantId) -> Result<(), String> {
        block_on(grant::revoke(kv, &RevocationCache::default(), grant, now())).map_err(|e| e.0)
    }

    fn is_revoked(kv: &Kv, grant: &GrantRecord) -> Result<Option<u64>, String> {
        if let Some(at) = grant.revoked_at {
            return Ok(Some(at));
        }
        let tombstone = block_on(kv.tombstone(&grant.id)).map_err(|e| e.0)?;
        Ok(tombstone.map(|t| t.revoked_at))
    }

    fn user_remove(kv: &Kv, username: &str) -> Result<(), String> {
        let user = load_user(kv, username)?;
        if kv.durable_grants {
            kv.delete(&keys::user(&user.username))?;
            out!("User {:?} removed: no new link or login. Their existing grants were NOT ended: {DO_MODE}.", user.username);
            return Ok(());
        }
        let mut ended = 0;
        for g in user_grants(kv, &user.id)? {
            if is_revoked(kv, &g)?.is_none() {
                revoke(kv, &g.id)?;
                ended += 1;
            }
        }
        kv.delete(&keys::user(&user.username))?;
        out!("User {:?} removed; {ended} grant(s) ended.", user.username);
        Ok(())
    }

    fn grant_list(kv: &Kv, username: &str) -> Result<(), String> {
        if kv.durable_grants {
            return Err(format!("grant list is not available: {DO_MODE}"));
        }
        let user = load_user(kv, username)?;
        for g in user_grants(kv, &user.id)? {
            let state = match is_revoked(kv, &g)? {
                Some(t) => format!("revoked {}", time(t)),
                None => "active".to_owned(),
            };
            out!(
                "{}\tclient={}\tscope={}\tlinked {}\tlast refresh {}\t{state}",
                g.id,
                g.client_id,
                g.scope,
                time(g.created_at),
                time(g.refreshed_at)
            );
        }
        Ok(())
    }

    fn grant_revoke(kv: &Kv, id: &str) -> Result<(), String> {
        let gid = GrantId::new(id);
        if kv.durable_grants {
            // The record is in the grant's object, out of wrangler's reach; the
            // tombstone goes to KV, where every refresh looks first.
            if !grant::is_grant_id(id) {
                return Err(format!("{id:?} is not a grant id"));
            }
        } else if get::<GrantRecord>(kv, &keys::grant(&gid))?.is_none() {
            return Err(format!("no grant with id {id:?}"));
        }
        revoke(kv, &gid)?;
        out!("Grant {id} ended: its refresh tokens no longer work, its access tokens stop within the revocation bound.");
        Ok(())
    }

    pub(crate) fn main() -> ExitCode {
        let cli = Cli::parse();
        let result = Kv::new(&cli).and_then(|kv| match cli.command {
            Command1::Client(ClientCmd::Add(a)) => client_add(&kv, a),
            Command1::Client(ClientCmd::List) => client_list(&kv),
            Command1::Client(ClientCmd::Show { id }) => client_show(&kv, &id),
            Command1::Client(ClientCmd::Remove { id }) => client_remove(&kv, &id),
            Command1::Client(ClientCmd::RotateSecret {
                id,
                grace,
                secret_stdin,
            }) => client_rotate_secret(&kv, &id, grace, secret_stdin),
            Command1::User(UserCmd::Add(a)) => user_add(&kv, a),
            Command1::User(UserCmd::List) => user_list(&kv),
            Command1::User(UserCmd::Passwd { username }) => user_passwd(&kv, &username),
            Command1::User(UserCmd::Remove { username }) => user_remove(&kv, &username),
            Command1::Grant(GrantCmd::List { user }) => grant_list(&kv, &user),
            Command1::Grant(GrantCmd::Revoke { id }) => grant_revoke(&kv, &id),
        });
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("admin: {e}");
                ExitCode::FAILURE
            }
        }
    }
}
