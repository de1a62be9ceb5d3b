//! The command line. `main` parses [`Cli`] and hands it to [`run`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::db::{DatabaseUrl, DEFAULT_DATABASE};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API.
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate(OutputArgs),
    /// Apply a seed file (docs/SEED.md) to the database and exit.
    Import(ImportArgs),
    /// Manage companies.
    #[command(subcommand)]
    Company(CompanyCommand),
    /// Manage API keys (Basic authentication).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage users and their permission profile's call access.
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
    /// Show configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a configuration file with every default, commented.
    Default,
    /// Print the settings `serve` would run with (flags, environment, file,
    /// defaults), with any password hidden.
    Show(Box<ServeArgs>),
}

#[derive(Debug, Clone, Args)]
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

    /// A client must send its whole body within this time; else 408 [default: 30s]
    #[arg(long, env = "CALLACCESS_BODY_READ_TIMEOUT", value_name = "DURATION", value_parser = crate::config::parse_duration)]
    pub body_read_timeout: Option<Duration>,

    /// Connections served at once; more wait to be accepted [default: 1024]
    #[arg(long, env = "CALLACCESS_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,

    /// On SIGTERM or SIGINT, how long requests in flight may take [default: 30s]
    #[arg(long, env = "CALLACCESS_SHUTDOWN_GRACE", value_name = "DURATION", value_parser = crate::config::parse_duration)]
    pub shutdown_grace: Option<Duration>,

    /// Requests per second per company, a number or off; a company's own setting wins [default: 3]
    #[arg(long, env = "CALLACCESS_RATE_LIMIT_PER_SECOND", value_name = "N|off")]
    pub rate_limit_per_second: Option<crate::config::LimitSetting>,

    /// Requests per day window per company, a number or off [default: 10000]
    #[arg(long, env = "CALLACCESS_RATE_LIMIT_PER_DAY", value_name = "N|off")]
    pub rate_limit_per_day: Option<crate::config::LimitSetting>,

    /// Length of the daily budget's window; change only for tests [default: 1d]
    #[arg(long, env = "CALLACCESS_RATE_LIMIT_DAY_WINDOW", value_name = "DURATION", value_parser = crate::config::parse_duration)]
    pub rate_limit_day_window: Option<Duration>,

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
    /// What these flags and environment variables set.
    pub fn overrides(
        &self,
        database: Option<DatabaseUrl>,
        log_format: Option<LogFormat>,
    ) -> crate::config::Overrides {
        crate::config::Overrides {
            database,
            log_format,
            listen: self.listen,
            metrics_listen: self.metrics_listen,
            max_connections: self.max_connections,
            shutdown_grace: self.shutdown_grace,
            max_body_bytes: self.max_body_bytes,
            max_pairs: self.max_pairs,
            request_timeout: self.request_timeout,
            header_read_timeout: self.header_read_timeout,
            body_read_timeout: self.body_read_timeout,
            rate_limit_per_second: self.rate_limit_per_second,
            rate_limit_per_day: self.rate_limit_per_day,
            rate_limit_day_window: self.rate_limit_day_window,
            pool_max_connections: self.pool_max_connections,
            pool_connect_timeout: self.pool_connect_timeout,
            pool_acquire_timeout: self.pool_acquire_timeout,
        }
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

/// An id argument, checked by the contract's id rule.
fn company_id(s: &str) -> Result<callaccess_domain::CompanyId, String> {
    s.parse()
        .map_err(|e: callaccess_domain::IdError| e.to_string())
}
fn call_id(s: &str) -> Result<callaccess_domain::CallId, String> {
    s.parse()
        .map_err(|e: callaccess_domain::IdError| e.to_string())
}
fn user_id(s: &str) -> Result<callaccess_domain::UserId, String> {
    s.parse()
        .map_err(|e: callaccess_domain::IdError| e.to_string())
}
fn calls_access(s: &str) -> Result<callaccess_domain::CallsAccess, String> {
    s.parse()
}
fn scope(s: &str) -> Result<callaccess_domain::Scope, String> {
    callaccess_domain::Scope::parse(s)
}

#[derive(Debug, Subcommand)]
pub enum CompanyCommand {
    /// Create a company.
    Create {
        #[arg(long)]
        name: String,
        /// Company id; a random 19-digit id when omitted.
        #[arg(long, value_parser = company_id)]
        id: Option<callaccess_domain::CompanyId>,
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
        #[arg(long, value_parser = company_id)]
        company: callaccess_domain::CompanyId,
        #[arg(long, value_name = "N|off|default", value_parser = company_limit)]
        per_second: Option<callaccess_domain::Limit>,
        #[arg(long, value_name = "N|off|default", value_parser = company_limit)]
        per_day: Option<callaccess_domain::Limit>,
        #[command(flatten)]
        output: OutputArgs,
    },
}

fn company_limit(s: &str) -> Result<callaccess_domain::Limit, String> {
    if s.eq_ignore_ascii_case("default") {
        return Ok(callaccess_domain::Limit::Default);
    }
    match s.parse::<crate::config::LimitSetting>()? {
        crate::config::LimitSetting::Off => Ok(callaccess_domain::Limit::Off),
        crate::config::LimitSetting::Max(n) => Ok(callaccess_domain::Limit::Max(n.get())),
    }
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key; its secret is printed once.
    Create {
        #[arg(long, value_parser = company_id)]
        company: callaccess_domain::CompanyId,
        /// Expiry: an RFC 3339 time (2030-01-01T00:00:00Z) or a duration from now (90d, 12h).
        #[arg(long)]
        expires: Option<String>,
        /// Restrict the key to these scopes (repeatable); without, full access.
        #[arg(long = "scope", value_parser = scope)]
        scopes: Vec<callaccess_domain::Scope>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List API keys (never their secrets).
    List {
        #[arg(long, value_parser = company_id)]
        company: Option<callaccess_domain::CompanyId>,
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
        #[arg(long, value_parser = company_id)]
        company: callaccess_domain::CompanyId,
        /// A scope the token carries (repeatable, at least one).
        #[arg(long = "scope", value_parser = scope, required = true)]
        scopes: Vec<callaccess_domain::Scope>,
        /// Expiry: an RFC 3339 time or a duration from now (90d, 12h).
        #[arg(long)]
        expires: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List bearer tokens (never the tokens themselves).
    List {
        #[arg(long, value_parser = company_id)]
        company: Option<callaccess_domain::CompanyId>,
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
pub enum UserCommand {
    /// Add a user to a company.
    Add {
        #[arg(long, value_parser = company_id)]
        company: callaccess_domain::CompanyId,
        #[arg(long, value_parser = user_id)]
        id: callaccess_domain::UserId,
        #[arg(long)]
        email: String,
        /// Permission profile's call access: all, own or none.
        #[arg(long, value_parser = calls_access, default_value = "none")]
        calls_access: callaccess_domain::CallsAccess,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List a company's users.
    List {
        #[arg(long, value_parser = company_id)]
        company: callaccess_domain::CompanyId,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Change a user's permission profile call access.
    SetAccess {
        #[arg(long, value_parser = company_id)]
        company: callaccess_domain::CompanyId,
        #[arg(long, value_parser = user_id)]
        id: callaccess_domain::UserId,
        #[arg(long, value_parser = calls_access)]
        calls_access: callaccess_domain::CallsAccess,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum CallCommand {
    /// Add a call to a company.
    Add {
        #[arg(long, value_parser = company_id)]
        company: callaccess_domain::CompanyId,
        #[arg(long, value_parser = call_id)]
        id: callaccess_domain::CallId,
        #[arg(long)]
        title: Option<String>,
        #[arg(long, value_parser = user_id)]
        primary_user: callaccess_domain::UserId,
        /// A participant (repeatable).
        #[arg(long = "participant", value_parser = user_id)]
        participants: Vec<callaccess_domain::UserId>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List a company's calls.
    List {
        #[arg(long, value_parser = company_id)]
        company: callaccess_domain::CompanyId,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ShareCommand {
    /// Share a call with a user.
    Add {
        #[arg(long, value_parser = company_id)]
        company: callaccess_domain::CompanyId,
        #[arg(long, value_parser = call_id)]
        call: callaccess_domain::CallId,
        #[arg(long, value_parser = user_id)]
        user: callaccess_domain::UserId,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Stop sharing a call with a user.
    Remove {
        #[arg(long, value_parser = company_id)]
        company: callaccess_domain::CompanyId,
        #[arg(long, value_parser = call_id)]
        call: callaccess_domain::CallId,
        #[arg(long, value_parser = user_id)]
        user: callaccess_domain::UserId,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum GrantsCommand {
    /// Everyone who can open a call, and by which route.
    List {
        #[arg(long, value_parser = company_id)]
        company: callaccess_domain::CompanyId,
        #[arg(long, value_parser = call_id)]
        call: callaccess_domain::CallId,
        #[command(flatten)]
        output: OutputArgs,
    },
}

/// Runs a parsed command line; errors are printed to stderr as one line each.
/// Exit codes: 0 success, 1 the command failed, 2 bad arguments or settings.
pub fn run(cli: Cli) -> std::process::ExitCode {
    let usage = |message: String| {
        eprintln!("error: {message}");
        std::process::ExitCode::from(2)
    };
    let file = match &cli.config {
        Some(path) => match crate::config::FileConfig::load(path) {
            Ok(file) => file,
            Err(message) => return usage(message),
        },
        None => crate::config::FileConfig::default(),
    };
    let database_flag = match cli
        .database
        .as_deref()
        .map(str::parse::<DatabaseUrl>)
        .transpose()
    {
        Ok(url) => url,
        Err(message) => return usage(format!("invalid value for --database: {message}")),
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
        Command::Config(ConfigCommand::Show(args)) => {
            match crate::config::Settings::resolve(
                &args.overrides(database_flag, cli.log_format),
                &file,
            ) {
                Ok(settings) => {
                    print!("{}", settings.describe());
                    Ok(())
                }
                Err(message) => return usage(message),
            }
        }
        Command::Serve(args) => {
            let settings = match crate::config::Settings::resolve(
                &args.overrides(database_flag, cli.log_format),
                &file,
            ) {
                Ok(settings) => settings,
                Err(message) => return usage(message),
            };
            runtime.block_on(crate::server::run(*args, settings))
        }
        command => {
            let database = match database_flag.or(file.database) {
                Some(url) => url,
                None => match DEFAULT_DATABASE.parse() {
                    Ok(url) => url,
                    Err(message) => return usage(message),
                },
            };
            runtime.block_on(crate::admin::run(command, &database))
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
