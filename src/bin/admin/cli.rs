//! The command line: every command, its arguments and the help text.

use std::path::PathBuf;

use alexa_oauth::store::backup::Mode;
use alexa_oauth::store::RefreshRotation;
use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  # An Alexa skill's client: registers the three regional redirect URLs, prints a new secret once.
  cargo run --bin admin -- client add --id alexa-skill --name \"My Skill\" \\
  --alexa M2AAAAAAAAAAAA --scope \"smart_home\"

  # A user; the password is read from stdin.
  printf '%s' 'a long passphrase' | cargo run --bin admin -- user add --username alice \\
  --display-name Alice --password-stdin

  # Or a link where they choose their password (ACCOUNT_PAGES, docs/account.md):
  cargo run --bin admin -- user invite --username bob --base-url https://auth.example.com
  cargo run --bin admin -- user reset-link --username alice

  # The user's own values, carried in their tokens (docs/skill.md):
  cargo run --bin admin -- user update --username alice --claim bridge_url=https://bridge.example/alice

  # Look, change, remove:
  cargo run --bin admin -- client list
  cargo run --bin admin -- client show --id alexa-skill
  cargo run --bin admin -- client rotate-secret --id alexa-skill --grace 86400
  cargo run --bin admin -- user list
  printf '%s' 'a new passphrase' | cargo run --bin admin -- user passwd --username alice
  cargo run --bin admin -- grant list --user alice
  cargo run --bin admin -- grant revoke --id <grant id>
  cargo run --bin admin -- user remove --username alice      # also ends her grants
  cargo run --bin admin -- grant show --id <grant id>
  cargo run --bin admin -- stats

  # Backup, restore, and moving to the other grant mode (docs/operating.md):
  cargo run --bin admin -- export --out backup.jsonl
  cargo run --bin admin -- --persist-to fresh-state import backup.jsonl --mode do \
  --worker http://127.0.0.1:8787        # with ADMIN_TOKEN in the environment

  # The state `wrangler dev --persist-to .wrangler/state` serves (the default), or the deployed namespace:
  cargo run --bin admin -- --local --persist-to .wrangler/state user add ...
  cargo run --bin admin -- --remote client add ...";

/// Manage the OAuth server's clients and users in Workers KV.
#[derive(Parser)]
#[command(name = "admin", after_help = EXAMPLES)]
pub(crate) struct Cli {
    /// Write to local state (the default), as `wrangler dev` serves it.
    #[arg(long, global = true, conflicts_with = "remote")]
    pub(crate) local: bool,
    /// Write to the namespace deployed on Cloudflare (uses wrangler's login).
    #[arg(long, global = true)]
    pub(crate) remote: bool,
    /// The local state directory, as given to `wrangler dev --persist-to`.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = ".wrangler/state"
    )]
    pub(crate) persist_to: PathBuf,
    /// The KV binding name in wrangler.toml.
    #[arg(long, global = true, default_value = "OAUTH_KV")]
    pub(crate) binding: String,
    /// Where the namespace's grants live: kv, or do (Durable Objects). By
    /// default, what wrangler.toml's GRANT_STORE says.
    #[arg(long, global = true, value_name = "kv|do", value_parser = parse_mode)]
    pub(crate) mode: Option<Mode>,
    /// The Worker's URL, for the grants of Durable Object mode (its
    /// /admin/grants, with ADMIN_TOKEN from the environment).
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) worker: Option<String>,
    #[command(subcommand)]
    pub(crate) command: TopCmd,
}

#[derive(Subcommand)]
pub(crate) enum TopCmd {
    /// Registered clients (the Alexa skill is one).
    #[command(subcommand)]
    Client(ClientCmd),
    /// Users who can sign in on the login page.
    #[command(subcommand)]
    User(UserCmd),
    /// Grants: the links between a user and a client.
    #[command(subcommand)]
    Grant(GrantCmd),
    /// Print the grant store wrangler.toml asks for: KV or DO (Durable Objects),
    /// by the rule the Worker uses.
    GrantStore,
    /// Write every record (clients, users, identities, grants, tombstones,
    /// indexes) as JSON lines; secrets only as their stored hashes.
    Export {
        /// The file to write (readable by its owner only); stdout without it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Load an export, into either grant mode (--mode). Every line is checked
    /// first; a namespace that is not empty is left alone without --force.
    Import {
        file: PathBuf,
        /// Write over a namespace that already holds keys.
        #[arg(long)]
        force: bool,
        /// With --force: go on when the import would undo a change made
        /// since the export (an older password, a removed identity or
        /// user), which it lists; at a terminal it asks instead.
        #[arg(long, requires = "force")]
        yes: bool,
        /// Only say what would be written.
        #[arg(long)]
        dry_run: bool,
    },
    /// Count users, clients, identities, and live and revoked grants.
    Stats,
    /// Keys for ES256 access tokens.
    #[command(subcommand)]
    Key(KeyCmd),
    /// The pages' texts: change any of a language's, or add a language
    /// (docs/languages.md).
    #[command(subcommand)]
    Texts(TextsCmd),
}

#[derive(Subcommand)]
pub(crate) enum TextsCmd {
    /// The languages, and which have texts of yours.
    List,
    /// Print a language's catalogue (yours, else the built-in one): the
    /// file to edit.
    Show { tag: String },
    /// Store a catalogue (`key = text` lines) for a language: its texts
    /// replace the built-in ones; a new tag adds the language.
    Set { tag: String, file: PathBuf },
    /// Forget your texts for a language.
    Remove { tag: String },
}

#[derive(Subcommand)]
pub(crate) enum KeyCmd {
    /// Print a new P-256 private key (PKCS#8 PEM) for ES256_PRIVATE_KEY:
    /// `admin key generate | npx wrangler secret put ES256_PRIVATE_KEY`.
    Generate,
}

#[derive(Subcommand)]
pub(crate) enum ClientCmd {
    /// Register a client. Prints a generated secret once, unless --secret-stdin.
    Add(ClientAdd),
    /// Change a client's name, redirect URIs, scope or grant types. Never its
    /// secret, so a live skill keeps working (for the secret: rotate-secret).
    Update(ClientUpdate),
    /// List the registered clients.
    List,
    /// Show one client (never its secret).
    Show {
        #[arg(long)]
        id: String,
    },
    /// Remove a client and end its grants: refresh tokens at once, access tokens
    /// within the revocation bound. A client added again under the id never
    /// brings them back.
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
pub(crate) enum UserCmd {
    /// Add a user; the password is read from stdin, and provider identities
    /// that may sign in as the user are given with --identity.
    Add(UserAdd),
    /// Change a user's display name or allowed identities (never the password:
    /// that is passwd).
    Update(UserUpdate),
    /// List the usernames.
    List,
    /// Show a user without any secret: sub, display name, identities, and
    /// their grants (id, client, created).
    Show {
        #[arg(long)]
        username: String,
    },
    /// Set a user's password, read from stdin. Existing links keep working.
    Passwd {
        #[arg(long)]
        username: String,
    },
    /// Create a user without a password and print a one-time link where
    /// they choose one (the account pages: ACCOUNT_PAGES, docs/account.md).
    Invite(UserInvite),
    /// Print a one-time link where a user chooses a new password. Their
    /// links keep working; the old password works until the new one is set.
    ResetLink(UserResetLink),
    /// Remove a user and end all of their grants, including any a code
    /// exchange racing the command makes: the grants are swept twice, SETTLE
    /// seconds apart (KV's propagation delay: 70 with --remote, 0 locally).
    Remove {
        #[arg(long)]
        username: String,
        #[arg(long, value_name = "SECONDS")]
        settle: Option<u64>,
    },
}

#[derive(Subcommand)]
pub(crate) enum GrantCmd {
    /// List a user's grants.
    List {
        #[arg(long)]
        user: String,
    },
    /// Show a grant: user, client, times, refresh policy, and whether it is
    /// revoked and why (never a token or hash).
    Show {
        /// Grant ids can start with `-`, which must not read as an option.
        #[arg(long, allow_hyphen_values = true)]
        id: String,
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
pub(crate) struct ClientAdd {
    /// The client id: 1-64 characters of A-Z a-z 0-9 - . _ ~
    #[arg(long)]
    pub(crate) id: String,
    /// The name the login page shows ("NAME is asking to link your account").
    #[arg(long)]
    pub(crate) name: String,
    /// An Alexa vendor id: registers https://{pitangui.amazon.com, layla.amazon.com,
    /// alexa.amazon.co.jp}/api/skill/link/<VENDOR_ID>.
    #[arg(long, value_name = "VENDOR_ID")]
    pub(crate) alexa: Option<String>,
    /// A redirect URI, matched exactly. Repeat for several.
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub(crate) redirect_uris: Vec<String>,
    /// The scopes the client may ask for, space separated.
    #[arg(long)]
    pub(crate) scope: String,
    /// Comma separated: authorization_code, refresh_token, client_credentials.
    #[arg(long, default_value = "authorization_code,refresh_token")]
    pub(crate) grant_types: String,
    /// Read the client secret from stdin (at least 32 characters) instead of generating one.
    #[arg(long)]
    pub(crate) secret_stdin: bool,
    /// Replace a client with the same id. It keeps its secret (and a rotated
    /// secret's grace) unless --new-secret or --secret-stdin asks for a new one.
    #[arg(long)]
    pub(crate) force: bool,
    /// With --force: give the client a new secret, ending the old one at once.
    #[arg(long, requires = "force")]
    pub(crate) new_secret: bool,
    /// never (the default: a refresh keeps the refresh token and writes
    /// nothing) or always (a new refresh token at every refresh, one KV write
    /// each). With --force, unset keeps the replaced client's policy.
    #[arg(long, value_name = "never|always", value_parser = parse_rotation)]
    pub(crate) refresh_rotation: Option<RefreshRotation>,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    Mode::parse(s).ok_or_else(|| "use kv or do".into())
}

fn parse_rotation(s: &str) -> Result<RefreshRotation, String> {
    RefreshRotation::parse(s).ok_or_else(|| "use never or always".into())
}

#[derive(Args)]
pub(crate) struct ClientUpdate {
    #[arg(long)]
    pub(crate) id: String,
    /// A new name for the login page.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Add the three regional Alexa redirect URLs of this vendor id.
    #[arg(long, value_name = "VENDOR_ID")]
    pub(crate) alexa: Option<String>,
    /// Add a redirect URI. Repeat for several.
    #[arg(long = "add-redirect-uri", value_name = "URI")]
    pub(crate) add_redirect_uris: Vec<String>,
    /// Remove a redirect URI. Repeat for several.
    #[arg(long = "remove-redirect-uri", value_name = "URI")]
    pub(crate) remove_redirect_uris: Vec<String>,
    /// Replace the scopes, space separated.
    #[arg(long)]
    pub(crate) scope: Option<String>,
    /// Replace the grant types, comma separated.
    #[arg(long)]
    pub(crate) grant_types: Option<String>,
    /// never or always (see `client add`). Linked users keep working either
    /// way.
    #[arg(long, value_name = "never|always", value_parser = parse_rotation)]
    pub(crate) refresh_rotation: Option<RefreshRotation>,
    /// The skill's "Send Alexa Events" client id at Login with Amazon (the
    /// developer console's Permissions page), for /alexa/accept-grant and
    /// /alexa/events. Give its secret with --lwa-client-secret-stdin.
    #[arg(long, value_name = "ID", requires = "lwa_client_secret_stdin")]
    pub(crate) lwa_client_id: Option<String>,
    /// Read that client's secret from stdin (never argv, which `ps` shows).
    #[arg(long, requires = "lwa_client_id")]
    pub(crate) lwa_client_secret_stdin: bool,
    /// Forget the client's Login with Amazon credentials (LWA_CLIENT_ID and
    /// LWA_CLIENT_SECRET then stand in, if set).
    #[arg(long, conflicts_with = "lwa_client_id")]
    pub(crate) no_lwa_client: bool,
}

#[derive(Args)]
pub(crate) struct UserAdd {
    /// The sign-in name; stored in lower case, matched without regard to case.
    #[arg(long)]
    pub(crate) username: String,
    /// The name shown to the skill (defaults to the username).
    #[arg(long)]
    pub(crate) display_name: Option<String>,
    /// Read the password from stdin (its first line). Without it the user has
    /// no password and signs in only through an --identity.
    #[arg(long, required_unless_present = "identity")]
    pub(crate) password_stdin: bool,
    /// A provider identity allowed to sign in as this user,
    /// `<provider>:<subject>` (e.g. `amazon:amzn1.account.XXXX`); repeatable.
    #[arg(long)]
    pub(crate) identity: Vec<String>,
    /// A value of the user's own, `NAME=VALUE`, answered at /userinfo and
    /// carried in access tokens (e.g. `bridge_url=https://…`); repeatable.
    #[arg(long, value_name = "NAME=VALUE")]
    pub(crate) claim: Vec<String>,
    /// Replace the user's record; the user keeps the same id (`sub`).
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Args)]
pub(crate) struct UserInvite {
    #[arg(long)]
    pub(crate) username: String,
    /// The name shown to the skill (defaults to the username).
    #[arg(long)]
    pub(crate) display_name: Option<String>,
    /// How long the link works, e.g. 7d, 12h (10m to 30d).
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = parse_valid_for)]
    pub(crate) valid_for: u64,
    /// The Worker's origin, e.g. `https://auth.example.com` (default: ISSUER
    /// in wrangler.toml).
    #[arg(long, value_name = "URL")]
    pub(crate) base_url: Option<String>,
}

#[derive(Args)]
pub(crate) struct UserResetLink {
    #[arg(long)]
    pub(crate) username: String,
    /// How long the link works, e.g. 1d, 2h (10m to 30d).
    #[arg(long, value_name = "DURATION", default_value = "1d", value_parser = parse_valid_for)]
    pub(crate) valid_for: u64,
    /// The Worker's origin (default: ISSUER in wrangler.toml).
    #[arg(long, value_name = "URL")]
    pub(crate) base_url: Option<String>,
}

/// A link's lifetime in seconds, from `7d`, `12h`, `30m`.
fn parse_valid_for(s: &str) -> Result<u64, String> {
    let secs = humantime::parse_duration(s)
        .map_err(|e| format!("{s:?}: {e} (write e.g. 7d, 12h or 30m)"))?
        .as_secs();
    if !(600..=30 * 86_400).contains(&secs) {
        return Err(format!("{s:?}: a link works for 10 minutes to 30 days"));
    }
    Ok(secs)
}

#[derive(Args)]
pub(crate) struct UserUpdate {
    #[arg(long)]
    pub(crate) username: String,
    /// A new name shown to the skill.
    #[arg(long)]
    pub(crate) display_name: Option<String>,
    /// Allow another provider identity, `<provider>:<subject>`; repeatable.
    #[arg(long)]
    pub(crate) add_identity: Vec<String>,
    /// Stop allowing a provider identity; repeatable. Existing links stay.
    #[arg(long)]
    pub(crate) remove_identity: Vec<String>,
    /// Set a value of the user's own, `NAME=VALUE`; repeatable. Access
    /// tokens issued from now on carry it, in every link of the user.
    #[arg(long, value_name = "NAME=VALUE")]
    pub(crate) claim: Vec<String>,
    /// Remove one of the user's own values; repeatable.
    #[arg(long, value_name = "NAME")]
    pub(crate) remove_claim: Vec<String>,
}
