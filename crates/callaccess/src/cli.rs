//! The command line. `main` parses [`Cli`] and hands it to [`run`].

use std::net::SocketAddr;
use std::path::PathBuf;

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

    /// Log format.
    #[arg(long, global = true, env = "CALLACCESS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API.
    Serve(ServeArgs),
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
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CALLACCESS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Apply this seed file before accepting requests.
    #[arg(long, env = "CALLACCESS_SEED")]
    pub seed: Option<PathBuf>,

    /// Start on a fresh temporary database with a demo company, and print a
    /// working key and curl commands. Ignores --database.
    #[arg(long)]
    pub demo: bool,

    /// Largest accepted request body in bytes (larger: 413).
    #[arg(long, env = "CALLACCESS_MAX_BODY_BYTES", default_value_t = 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..=64 * 1024 * 1024))]
    pub max_body_bytes: u64,

    /// Most (call, user) pairs in one PUT or DELETE, and call ids in one POST.
    #[arg(long, env = "CALLACCESS_MAX_PAIRS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_pairs: u64,
}

impl ServeArgs {
    pub fn limits(&self) -> crate::http::Limits {
        // Both values are range-checked by clap to fit comfortably in usize.
        crate::http::Limits {
            max_body_bytes: usize::try_from(self.max_body_bytes).unwrap_or(usize::MAX),
            max_pairs: usize::try_from(self.max_pairs).unwrap_or(usize::MAX),
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
pub fn run(cli: Cli) -> std::process::ExitCode {
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
    let database = match cli
        .database
        .as_deref()
        .unwrap_or(DEFAULT_DATABASE)
        .parse::<DatabaseUrl>()
    {
        Ok(url) => url,
        Err(message) => {
            eprintln!("error: invalid value for --database: {message}");
            return std::process::ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => crate::server::run(args, &database, cli.log_format).await,
            command => crate::admin::run(command, &database).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
