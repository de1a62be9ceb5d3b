//! The command line. `main` parses [`Cli`] and hands it to [`run`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use callaccess_domain::{
    CallId, CallsAccess, CompanyId, IdError, Limit, ProfileId, Scope, Timestamp, UserId,
    WorkspaceId,
};

use crate::config::{LimitSetting, Settings};
use crate::db::DatabaseUrl;

#[derive(Debug, Parser)]
#[command(
    name = "callaccess",
    version,
    about = "Gong-compatible call user-access API, self-hosted"
)]
pub struct Cli {
    /// Database URL: sqlite:PATH (created if missing) [default: sqlite:data/callaccess.db]
    // Kept as text here and parsed in `run`: clap quotes a rejected value in
    // its error, and a database URL may carry a password.
    #[arg(long, global = true, env = "CALLACCESS_DATABASE", value_name = "URL")]
    pub database: Option<String>,

    /// Configuration file (TOML; see `callaccess config default`).
    #[arg(long, global = true, env = "CALLACCESS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log format [default: text]
    #[arg(long, global = true, env = "CALLACCESS_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl std::fmt::Display for LogFormat {
    /// The name the flag, the file and `config show` use.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Text => "text",
            Self::Json => "json",
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API.
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate(OutputArgs),
    /// Apply a seed file (docs/SEED.md) to the database and exit.
    Import(ImportArgs),
    /// Print the database's state (or one company's) as a seed file that
    /// `import` accepts; keys and tokens as digests, never in clear.
    Export(ExportArgs),
    /// Remove all company data (or one company's), optionally applying a
    /// seed file in the same transaction; admin tokens stay.
    Reset(ResetArgs),
    /// Manage companies.
    #[command(subcommand)]
    Company(CompanyCommand),
    /// Manage API keys (Basic authentication).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage admin tokens (the admin API's credentials, /admin/v1).
    #[command(subcommand)]
    AdminToken(AdminTokenCommand),
    /// Manage workspaces (a company's parts, each with its calls and profiles).
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Manage permission profiles and who holds them.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Manage users, their managers and their default workspace's call access.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage calls.
    #[command(subcommand)]
    Call(CallCommand),
    /// Share calls with users (access outside the API).
    #[command(subcommand)]
    Share(ShareCommand),
    /// Inspect who can open a call and why.
    #[command(subcommand)]
    Grants(GrantsCommand),
    /// Read the audit trail: who changed who can open a call, and when.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Show configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Entries oldest first (--newest: newest first), filtered; --follow
    /// keeps printing new ones as they commit.
    List(AuditListArgs),
}

#[derive(Debug, Args)]
pub struct AuditListArgs {
    #[arg(long, value_parser = id::<CompanyId>)]
    pub company: Option<CompanyId>,
    #[arg(long, value_parser = id::<CallId>)]
    pub call: Option<CallId>,
    #[arg(long, value_parser = id::<UserId>)]
    pub user: Option<UserId>,
    /// apiKey:<accessKey>, token:<id>, admin:<token id>, cli or seed
    #[arg(long, value_parser = parse_with::<callaccess_domain::Actor>)]
    pub actor: Option<callaccess_domain::Actor>,
    /// Such as grant.add, grant.remove, share.add, user.manager
    #[arg(long, value_parser = parse_with::<callaccess_domain::Action>)]
    pub action: Option<callaccess_domain::Action>,
    /// Entries at or after this time (RFC 3339)
    #[arg(long, value_parser = time)]
    pub since: Option<Timestamp>,
    /// Entries before this time (RFC 3339)
    #[arg(long, value_parser = time)]
    pub until: Option<Timestamp>,
    /// Entries after this sequence number (where a previous listing ended)
    #[arg(long, value_name = "SEQ")]
    pub after: Option<u64>,
    /// Entries to show at most [default: 100; with --follow, no limit]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub limit: Option<u64>,
    /// Newest first
    #[arg(long, conflicts_with = "follow")]
    pub newest: bool,
    /// Keep printing entries as they commit, until interrupted
    #[arg(long)]
    pub follow: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

fn parse_with<T: FromStr<Err = String>>(text: &str) -> Result<T, String> {
    text.parse()
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a configuration file with every default, commented.
    Default,
    /// Print the settings `serve` would run with (flags, environment, file,
    /// defaults), with any password hidden.
    Show(Box<ServeArgs>),
}

/// Every setting is optional here, so that what neither a flag nor its
/// variable gave can come from the file, and then from the defaults; each
/// help text states the default (a test checks it against the real one).
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "CALLACCESS_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Serve GET /metrics on this address instead of on --listen.
    #[arg(long, env = "CALLACCESS_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,

    /// Apply this seed file before accepting requests.
    #[arg(long, env = "CALLACCESS_SEED", value_name = "FILE")]
    pub seed: Option<PathBuf>,

    /// Start on a fresh temporary database with a demo company, and print a
    /// working key and curl commands. Ignores --database.
    #[arg(long)]
    pub demo: bool,

    /// Largest accepted request body in bytes; larger gets 413 [default: 1048576]
    #[arg(long, env = "CALLACCESS_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,

    /// Most (call, user) pairs in one PUT or DELETE, and call ids in one POST [default: 10000]
    #[arg(long, env = "CALLACCESS_MAX_PAIRS", value_name = "N")]
    pub max_pairs: Option<usize>,

    /// A request taking longer is answered 503 [default: 30s]
    #[arg(long, env = "CALLACCESS_REQUEST_TIMEOUT", value_name = "DURATION", value_parser = crate::config::parse_duration)]
    pub request_timeout: Option<Duration>,

    /// A client must send its request headers within this time [default: 10s]
    #[arg(long, env = "CALLACCESS_HEADER_READ_TIMEOUT", value_name = "DURATION", value_parser = crate::config::parse_duration)]
    pub header_read_timeout: Option<Duration>,

    /// A client must send its whole body within this time; else 408 [default: 20s]
    #[arg(long, env = "CALLACCESS_BODY_READ_TIMEOUT", value_name = "DURATION", value_parser = crate::config::parse_duration)]
    pub body_read_timeout: Option<Duration>,

    /// Connections served at once; at the limit an idle one makes room, else more wait [default: 1024]
    #[arg(long, env = "CALLACCESS_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,

    /// On SIGTERM or SIGINT, how long requests in flight may take [default: 30s]
    #[arg(long, env = "CALLACCESS_SHUTDOWN_GRACE", value_name = "DURATION", value_parser = crate::config::parse_duration)]
    pub shutdown_grace: Option<Duration>,

    /// Requests per second per company, a number or off; a company's own setting wins [default: 3]
    #[arg(long, env = "CALLACCESS_RATE_LIMIT_PER_SECOND", value_name = "N|off")]
    pub rate_limit_per_second: Option<LimitSetting>,

    /// Requests per day window per company, a number or off [default: 10000]
    #[arg(long, env = "CALLACCESS_RATE_LIMIT_PER_DAY", value_name = "N|off")]
    pub rate_limit_per_day: Option<LimitSetting>,

    /// Length of the daily budget's window; change only for tests [default: 1d]
    #[arg(long, env = "CALLACCESS_RATE_LIMIT_DAY_WINDOW", value_name = "DURATION", value_parser = crate::config::parse_duration)]
    pub rate_limit_day_window: Option<Duration>,

    /// Serve the admin API (/admin/v1) only on this address, not on --listen
    #[arg(long, env = "CALLACCESS_ADMIN_LISTEN", value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,

    /// Recent /v2 requests the request journal keeps; 0 turns it off [default: 10000]
    #[arg(long, env = "CALLACCESS_JOURNAL_SIZE", value_name = "N")]
    pub journal_size: Option<usize>,

    /// Load fault rules (JSON) from this file at start.
    #[arg(long, env = "CALLACCESS_FAULTS", value_name = "FILE")]
    pub faults: Option<PathBuf>,

    /// system, or manual[=TIME]: a clock that moves only through the admin API [default: system]
    #[arg(long, env = "CALLACCESS_CLOCK", value_name = "system|manual[=TIME]")]
    pub clock: Option<crate::config::ClockSetting>,

    /// Prune audit entries older than this (such as 90d); unset keeps them all
    #[arg(long, env = "CALLACCESS_AUDIT_RETENTION", value_name = "DURATION", value_parser = crate::config::parse_duration)]
    pub audit_retention: Option<Duration>,

    /// How often an idle change stream (/admin/v1/changes) sends a heartbeat [default: 15s]
    #[arg(long, env = "CALLACCESS_CHANGES_HEARTBEAT", value_name = "DURATION", value_parser = crate::config::parse_duration)]
    pub changes_heartbeat: Option<Duration>,

    /// PostgreSQL: connections this node opens [default: 16]
    #[arg(long, env = "CALLACCESS_POOL_MAX_CONNECTIONS", value_name = "N")]
    pub pool_max_connections: Option<usize>,

    /// PostgreSQL: longest wait to open a connection [default: 500ms]
    #[arg(long, env = "CALLACCESS_POOL_CONNECT_TIMEOUT", value_name = "DURATION", value_parser = crate::config::parse_duration)]
    pub pool_connect_timeout: Option<Duration>,

    /// PostgreSQL: longest wait for a free connection [default: 500ms]
    #[arg(long, env = "CALLACCESS_POOL_ACQUIRE_TIMEOUT", value_name = "DURATION", value_parser = crate::config::parse_duration)]
    pub pool_acquire_timeout: Option<Duration>,
}

impl ServeArgs {
    /// The settings these flags and environment variables give, in the
    /// file's layout: only those given.
    pub fn layer(&self) -> toml::Table {
        use crate::config::{count, duration, limit, text};
        crate::config::layer([
            ("server", "listen", self.listen.map(text)),
            ("server", "metrics_listen", self.metrics_listen.map(text)),
            ("server", "max_connections", self.max_connections.map(count)),
            (
                "server",
                "shutdown_grace",
                self.shutdown_grace.map(duration),
            ),
            ("limits", "max_body_bytes", self.max_body_bytes.map(count)),
            ("limits", "max_pairs", self.max_pairs.map(count)),
            (
                "limits",
                "request_timeout",
                self.request_timeout.map(duration),
            ),
            (
                "limits",
                "header_read_timeout",
                self.header_read_timeout.map(duration),
            ),
            (
                "limits",
                "body_read_timeout",
                self.body_read_timeout.map(duration),
            ),
            (
                "rate_limit",
                "per_second",
                self.rate_limit_per_second.map(limit),
            ),
            ("rate_limit", "per_day", self.rate_limit_per_day.map(limit)),
            (
                "rate_limit",
                "day_window",
                self.rate_limit_day_window.map(duration),
            ),
            ("control", "admin_listen", self.admin_listen.map(text)),
            ("control", "journal_size", self.journal_size.map(count)),
            (
                "control",
                "faults",
                self.faults.as_ref().map(|p| text(p.display())),
            ),
            ("control", "clock", self.clock.map(text)),
            (
                "control",
                "audit_retention",
                self.audit_retention.map(duration),
            ),
            (
                "control",
                "changes_heartbeat",
                self.changes_heartbeat.map(duration),
            ),
            (
                "pool",
                "max_connections",
                self.pool_max_connections.map(count),
            ),
            (
                "pool",
                "connect_timeout",
                self.pool_connect_timeout.map(duration),
            ),
            (
                "pool",
                "acquire_timeout",
                self.pool_acquire_timeout.map(duration),
            ),
        ])
    }
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The seed file.
    pub file: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Only this company.
    #[arg(long, value_parser = id::<CompanyId>)]
    pub company: Option<CompanyId>,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Only this company, with everything in it.
    #[arg(long, value_parser = id::<CompanyId>)]
    pub company: Option<CompanyId>,
    /// A seed file applied in the same transaction; if it is rejected,
    /// nothing is removed.
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// Confirms the removal (a reset cannot be undone).
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// An id argument, checked by the contract's id rule.
fn id<T: FromStr<Err = IdError>>(s: &str) -> Result<T, String> {
    s.parse().map_err(|e: IdError| e.to_string())
}
fn calls_access(s: &str) -> Result<CallsAccess, String> {
    s.parse()
}
fn time(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse_rfc3339(s)
}
fn direction(s: &str) -> Result<String, String> {
    const DIRECTIONS: [&str; 4] = ["Inbound", "Outbound", "Conference", "Unknown"];
    if DIRECTIONS.contains(&s) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not a call direction (expected Inbound, Outbound, Conference or Unknown)"
        ))
    }
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Add a workspace to a company. A company's first workspace is made
    /// when the company is created (its default).
    Create {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: CompanyId,
        /// Workspace id; a random 19-digit id when omitted.
        #[arg(long, value_parser = id::<WorkspaceId>)]
        id: Option<WorkspaceId>,
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List a company's workspaces.
    List {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: CompanyId,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Create a permission profile in a workspace.
    Create {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: CompanyId,
        #[arg(long, value_parser = id::<WorkspaceId>)]
        workspace: WorkspaceId,
        /// Profile id; a random 19-digit id when omitted.
        #[arg(long, value_parser = id::<ProfileId>)]
        id: Option<ProfileId>,
        #[arg(long)]
        name: String,
        /// Call access: all, managers-team, report-to-them, own or none.
        #[arg(long, value_parser = calls_access)]
        level: CallsAccess,
        /// For managers-team: a team lead whose team the profile opens
        /// (repeatable); without, the holder's own manager's team.
        #[arg(long = "team-lead", value_parser = id::<UserId>)]
        team_leads: Vec<UserId>,
        /// Gong's other PermissionProfileDTO fields, as a JSON object, such
        /// as '{"scoreCalls": true}'; kept and returned as given.
        #[arg(long, value_name = "JSON")]
        fields: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Change a permission profile; what is not given is kept.
    Update {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: CompanyId,
        #[arg(long, value_parser = id::<ProfileId>)]
        profile: ProfileId,
        #[arg(long)]
        name: Option<String>,
        /// Call access: all, managers-team, report-to-them, own or none.
        #[arg(long, value_parser = calls_access)]
        level: Option<CallsAccess>,
        /// The team leads, replacing the profile's (repeatable).
        #[arg(long = "team-lead", value_parser = id::<UserId>, conflicts_with = "no_team_leads")]
        team_leads: Vec<UserId>,
        /// Remove every team lead.
        #[arg(long)]
        no_team_leads: bool,
        /// Gong's other PermissionProfileDTO fields, replacing the
        /// profile's, as a JSON object.
        #[arg(long, value_name = "JSON")]
        fields: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List a workspace's permission profiles, by name.
    List {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: CompanyId,
        #[arg(long, value_parser = id::<WorkspaceId>)]
        workspace: WorkspaceId,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List the users who hold a profile.
    Users {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: CompanyId,
        #[arg(long, value_parser = id::<ProfileId>)]
        profile: ProfileId,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Give a user a profile, replacing the one they hold in its workspace.
    Assign {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: CompanyId,
        #[arg(long, value_parser = id::<UserId>)]
        user: UserId,
        #[arg(long, value_parser = id::<ProfileId>)]
        profile: ProfileId,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum CompanyCommand {
    /// Create a company.
    Create {
        #[arg(long)]
        name: String,
        /// Company id; a random 19-digit id when omitted.
        #[arg(long, value_parser = id::<CompanyId>)]
        id: Option<CompanyId>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List companies.
    List {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Set a company's own rate limits; each is a number, `off`, or
    /// `default` (the server's setting). A limit not given is kept.
    SetRateLimit {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: CompanyId,
        #[arg(long, value_name = "N|off|default", value_parser = company_limit)]
        per_second: Option<Limit>,
        #[arg(long, value_name = "N|off|default", value_parser = company_limit)]
        per_day: Option<Limit>,
        #[command(flatten)]
        output: OutputArgs,
    },
}

fn company_limit(s: &str) -> Result<Limit, String> {
    crate::ops::directory::parse_limit(s)
}

/// The `--help` of a `--scope` flag: `first`, then Gong's scopes, the only
/// ones a credential may carry (the message for an unknown scope points here).
fn scope_help(first: &str) -> String {
    format!("{first}\nGong's scopes:\n  {}", Scope::KNOWN.join("\n  "))
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key; its secret is printed once.
    Create {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: CompanyId,
        /// Expiry: an RFC 3339 time (2030-01-01T00:00:00Z) or a duration from now (90d, 12h).
        #[arg(long)]
        expires: Option<String>,
        /// Restrict the key to these scopes (repeatable); without, full access.
        #[arg(long = "scope", value_parser = Scope::parse_known, long_help = scope_help(
            "Restrict the key to these scopes (repeatable); without, full access."
        ))]
        scopes: Vec<Scope>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List API keys (never their secrets).
    List {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: Option<CompanyId>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Revoke an API key; the next request with it is refused.
    Revoke {
        access_key: String,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a bearer token; it is printed once.
    Create {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: CompanyId,
        /// A scope the token carries (repeatable, at least one).
        #[arg(long = "scope", value_parser = Scope::parse_known, required = true, long_help = scope_help(
            "A scope the token carries (repeatable, at least one)."
        ))]
        scopes: Vec<Scope>,
        /// Expiry: an RFC 3339 time or a duration from now (90d, 12h).
        #[arg(long)]
        expires: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List bearer tokens (never the tokens themselves).
    List {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: Option<CompanyId>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Revoke a bearer token by the id `token list` shows.
    Revoke {
        id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminTokenCommand {
    /// Create an admin token; it is printed once.
    Create {
        /// May use GET requests only.
        #[arg(long)]
        read_only: bool,
        /// Expiry: an RFC 3339 time (2030-01-01T00:00:00Z) or a duration from now (90d, 12h).
        #[arg(long)]
        expires: Option<String>,
        /// A note to tell tokens apart in `admin-token list` (who or what uses it).
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List admin tokens (never the tokens themselves).
    List {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Revoke an admin token by the id `admin-token list` shows; the next
    /// request with it is refused.
    Revoke {
        id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user to a company.
    Add {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: CompanyId,
        #[arg(long, value_parser = id::<UserId>)]
        id: UserId,
        #[arg(long)]
        email: String,
        /// Call access in the default workspace (all, managers-team,
        /// report-to-them, own or none), given by the profile "Calls access:
        /// LEVEL"; without, the user holds no profile there and opens no call
        /// by one.
        #[arg(long, value_parser = calls_access)]
        calls_access: Option<CallsAccess>,
        #[arg(long)]
        first_name: Option<String>,
        #[arg(long)]
        last_name: Option<String>,
        #[arg(long)]
        title: Option<String>,
        /// A user who left: listed and granted like any other.
        #[arg(long)]
        inactive: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List a company's users.
    List {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: CompanyId,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Change a user's call access in the default workspace (the profile
    /// "Calls access: LEVEL").
    SetAccess {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: CompanyId,
        #[arg(long, value_parser = id::<UserId>)]
        id: UserId,
        #[arg(long, value_parser = calls_access)]
        calls_access: CallsAccess,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Set a user's manager, or clear it with --none. A loop of managers
    /// is refused.
    SetManager {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: CompanyId,
        /// The user.
        #[arg(value_parser = id::<UserId>)]
        user: UserId,
        /// Their new manager.
        #[arg(value_parser = id::<UserId>, required_unless_present = "none")]
        manager: Option<UserId>,
        /// The user has no manager.
        #[arg(long, conflicts_with = "manager")]
        none: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum CallCommand {
    /// Add a call to a company.
    Add {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: CompanyId,
        #[arg(long, value_parser = id::<CallId>)]
        id: CallId,
        #[arg(long)]
        title: Option<String>,
        #[arg(long, value_parser = id::<UserId>)]
        primary_user: UserId,
        /// A participant (repeatable).
        #[arg(long = "participant", value_parser = id::<UserId>)]
        participants: Vec<UserId>,
        /// The call's workspace; without, the company's default.
        #[arg(long, value_parser = id::<WorkspaceId>)]
        workspace: Option<WorkspaceId>,
        /// Profiles open the call only for its primary user and participants.
        #[arg(long)]
        private: bool,
        /// When the call started, an RFC 3339 time (2026-11-02T15:00:00Z).
        #[arg(long, value_parser = time)]
        started: Option<Timestamp>,
        /// Inbound, Outbound, Conference or Unknown.
        #[arg(long, value_parser = direction)]
        direction: Option<String>,
        #[arg(long)]
        purpose: Option<String>,
        /// The call's id in the recording system; unique in the company.
        #[arg(long)]
        client_unique_id: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Mark a call private (true) or not (false).
    SetPrivate {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: CompanyId,
        #[arg(value_parser = id::<CallId>)]
        call: CallId,
        #[arg(action = clap::ArgAction::Set, value_parser = clap::value_parser!(bool))]
        private: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List a company's calls.
    List {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: CompanyId,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ShareCommand {
    /// Share a call with a user.
    Add {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: CompanyId,
        #[arg(long, value_parser = id::<CallId>)]
        call: CallId,
        #[arg(long, value_parser = id::<UserId>)]
        user: UserId,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Stop sharing a call with a user.
    Remove {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: CompanyId,
        #[arg(long, value_parser = id::<CallId>)]
        call: CallId,
        #[arg(long, value_parser = id::<UserId>)]
        user: UserId,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum GrantsCommand {
    /// Everyone who can open a call, and by which route.
    List {
        #[arg(long, value_parser = id::<CompanyId>)]
        company: CompanyId,
        #[arg(long, value_parser = id::<CallId>)]
        call: CallId,
        #[command(flatten)]
        output: OutputArgs,
    },
}

/// Runs a parsed command line; errors are printed to stderr as one line each.
/// Exit codes: 0 success, 1 the command failed, 2 bad arguments or settings.
pub fn run(cli: Cli) -> std::process::ExitCode {
    let settings = match settings(&cli) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("error: {message}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Config(ConfigCommand::Default) => {
            print!("{}", crate::config::DEFAULT_FILE);
            Ok(())
        }
        Command::Config(ConfigCommand::Show(_)) => settings
            .describe()
            .map(|shown| print!("{shown}"))
            .map_err(anyhow::Error::msg),
        Command::Serve(args) => runtime.block_on(crate::server::run(*args, settings)),
        command => runtime.block_on(crate::admin::run(command, &settings)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The settings a command runs with: the defaults, then the file, then what
/// flags and environment variables gave.
fn settings(cli: &Cli) -> Result<Settings, String> {
    let file = cli
        .config
        .as_deref()
        .map(crate::config::read_file)
        .transpose()?;
    let mut given = match &cli.command {
        Command::Serve(args) | Command::Config(ConfigCommand::Show(args)) => args.layer(),
        _ => toml::Table::new(),
    };
    if let Some(url) = &cli.database {
        // Parsed here too, so that a bad value is named as the flag's.
        url.parse::<DatabaseUrl>()
            .map_err(|message| format!("invalid value for --database: {message}"))?;
        given.insert("database".to_owned(), crate::config::text(url));
    }
    if let Some(format) = cli.log_format {
        given.insert("log_format".to_owned(), crate::config::text(format));
    }
    Settings::resolve(file.into_iter().chain([given]))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Each `[default: X]` of a help text, taken as that setting's value,
    /// must give the default settings: the help tells no other default.
    #[test]
    fn help_texts_state_the_real_defaults() {
        let defaults = toml::Table::try_from(Settings::default()).unwrap();
        let mut places = vec![(String::new(), "database".to_owned())];
        places.push((String::new(), "log_format".to_owned()));
        for (section, keys) in &defaults {
            if let Some(keys) = keys.as_table() {
                places.extend(keys.keys().map(|key| (section.clone(), key.clone())));
            }
        }
        let mut cli = Cli::command();
        // Building hands the global flags (--database, --log-format) down.
        cli.build();
        let serve = cli.find_subcommand("serve").unwrap();
        let args: Vec<&clap::Arg> = serve.get_arguments().collect();
        let mut checked = std::collections::BTreeSet::new();
        for arg in &args {
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            let Some(stated) = help
                .split_once("[default: ")
                .and_then(|(_, rest)| rest.strip_suffix(']'))
            else {
                continue;
            };
            let id = arg.get_id().as_str();
            // A flag is named as its section and key (pool_max_connections),
            // or as its key alone where no other flag names it so.
            let flag = |(section, key): &(String, String)| format!("{section}_{key}");
            let named =
                |place: &(String, String)| args.iter().any(|a| a.get_id().as_str() == flag(place));
            let (section, key) = places
                .iter()
                .find(|place| id == flag(place))
                .or_else(|| places.iter().find(|p| id == p.1 && !named(p)))
                .unwrap_or_else(|| panic!("--{id} states a default but is no setting"));
            assert!(
                checked.insert((section, key)),
                "--{id} states a second default"
            );
            let value = stated.parse::<i64>().map_or_else(
                |_| toml::Value::String(stated.to_owned()),
                toml::Value::Integer,
            );
            let mut layer = toml::Table::new();
            if section.is_empty() {
                layer.insert(key.clone(), value);
            } else {
                layer = crate::config::layer([(section.as_str(), key.as_str(), Some(value))]);
            }
            assert_eq!(
                Settings::resolve([layer]).unwrap(),
                Settings::default(),
                "--{id} states the default {stated}"
            );
        }
        // Every setting but metrics_listen (off by default) states one.
        assert_eq!(checked.len(), places.len(), "{places:?}");
    }
}
