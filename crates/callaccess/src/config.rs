//! Configuration: defaults < TOML file (`--config`) < environment
//! (`CALLACCESS_*`) < flags.
//!
//! clap reads flags and environment variables (a flag wins over its
//! variable); every serve setting is optional there, so that what neither
//! gave can come from the file, and then from the defaults here.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::cli::LogFormat;
use crate::db::{DatabaseUrl, PoolSettings, DEFAULT_DATABASE};
use crate::http::Limits;
use crate::ratelimit::RateLimitDefaults;

/// A rate limit setting: a positive number, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSetting {
    Off,
    Max(NonZeroU32),
}

impl LimitSetting {
    pub fn get(self) -> Option<NonZeroU32> {
        match self {
            Self::Off => None,
            Self::Max(n) => Some(n),
        }
    }
}

impl FromStr for LimitSetting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("off") {
            return Ok(Self::Off);
        }
        s.parse::<NonZeroU32>()
            .map(Self::Max)
            .map_err(|_| format!("{s:?} is not a rate limit (a positive whole number, or off)"))
    }
}

impl<'de> Deserialize<'de> for LimitSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u32),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => NonZeroU32::new(n).map(Self::Max).ok_or_else(|| {
                serde::de::Error::custom(
                    "a rate limit of 0 would refuse everything; use \"off\" for none",
                )
            }),
            Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A duration such as `30s`, `500ms` or `1d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|_| format!("{s:?} is not a duration (such as 30s, 500ms, 2m, 1d)"))
}

fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    text.map(|t| parse_duration(&t).map_err(serde::de::Error::custom))
        .transpose()
}

fn database<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DatabaseUrl>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    text.map(|t| t.parse().map_err(serde::de::Error::custom))
        .transpose()
}

/// The TOML file. Every field is optional; unknown fields are errors, since
/// a misspelt setting silently ignored is worse than a refusal to start.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default, deserialize_with = "database")]
    pub database: Option<DatabaseUrl>,
    pub log_format: Option<LogFormat>,
    #[serde(default)]
    pub server: ServerFile,
    #[serde(default)]
    pub limits: LimitsFile,
    #[serde(default)]
    pub rate_limit: RateLimitFile,
    #[serde(default)]
    pub pool: PoolFile,
}

/// PostgreSQL's connection pool (ignored by SQLite).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolFile {
    pub max_connections: Option<usize>,
    #[serde(default, deserialize_with = "duration")]
    pub connect_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    pub acquire_timeout: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFile {
    pub listen: Option<SocketAddr>,
    pub metrics_listen: Option<SocketAddr>,
    pub max_connections: Option<usize>,
    #[serde(default, deserialize_with = "duration")]
    pub shutdown_grace: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub max_body_bytes: Option<usize>,
    pub max_pairs: Option<usize>,
    #[serde(default, deserialize_with = "duration")]
    pub request_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    pub header_read_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    pub body_read_timeout: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitFile {
    pub per_second: Option<LimitSetting>,
    pub per_day: Option<LimitSetting>,
    #[serde(default, deserialize_with = "duration")]
    pub day_window: Option<Duration>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| {
            format!(
                "the config file {} is not valid: {}",
                path.display(),
                e.message()
            )
        })
    }
}

/// Everything `serve` runs with, after precedence is applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub database: DatabaseUrl,
    pub log_format: LogFormat,
    pub listen: SocketAddr,
    pub metrics_listen: Option<SocketAddr>,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
    pub limits: Limits,
    pub rate_limit: RateLimitDefaults,
    pub pool: PoolSettings,
}

/// What flags and environment gave (clap fills these; `None` = not given).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    pub database: Option<DatabaseUrl>,
    pub log_format: Option<LogFormat>,
    pub listen: Option<SocketAddr>,
    pub metrics_listen: Option<SocketAddr>,
    pub max_connections: Option<usize>,
    pub shutdown_grace: Option<Duration>,
    pub max_body_bytes: Option<usize>,
    pub max_pairs: Option<usize>,
    pub request_timeout: Option<Duration>,
    pub header_read_timeout: Option<Duration>,
    pub body_read_timeout: Option<Duration>,
    pub rate_limit_per_second: Option<LimitSetting>,
    pub rate_limit_per_day: Option<LimitSetting>,
    pub rate_limit_day_window: Option<Duration>,
    pub pool_max_connections: Option<usize>,
    pub pool_connect_timeout: Option<Duration>,
    pub pool_acquire_timeout: Option<Duration>,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

impl Settings {
    pub fn resolve(over: &Overrides, file: &FileConfig) -> Result<Settings, String> {
        let defaults = Limits::default();
        let rate = RateLimitDefaults::default();
        let pool = PoolSettings::default();
        let listen = match over.listen.or(file.server.listen) {
            Some(a) => a,
            None => DEFAULT_LISTEN
                .parse()
                .map_err(|_| "the default listen address is invalid".to_owned())?,
        };
        let database = match over.database.clone().or_else(|| file.database.clone()) {
            Some(d) => d,
            None => DEFAULT_DATABASE.parse()?,
        };
        let setting = |flag: Option<LimitSetting>,
                       file: Option<LimitSetting>,
                       default: Option<NonZeroU32>| {
            flag.or(file).map_or(default, LimitSetting::get)
        };
        let settings = Settings {
            database,
            log_format: over
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Text),
            listen,
            metrics_listen: over.metrics_listen.or(file.server.metrics_listen),
            max_connections: over
                .max_connections
                .or(file.server.max_connections)
                .unwrap_or(1024),
            shutdown_grace: over
                .shutdown_grace
                .or(file.server.shutdown_grace)
                .unwrap_or(Duration::from_secs(30)),
            limits: Limits {
                max_body_bytes: over
                    .max_body_bytes
                    .or(file.limits.max_body_bytes)
                    .unwrap_or(defaults.max_body_bytes),
                max_pairs: over
                    .max_pairs
                    .or(file.limits.max_pairs)
                    .unwrap_or(defaults.max_pairs),
                request_timeout: over
                    .request_timeout
                    .or(file.limits.request_timeout)
                    .unwrap_or(defaults.request_timeout),
                header_read_timeout: over
                    .header_read_timeout
                    .or(file.limits.header_read_timeout)
                    .unwrap_or(defaults.header_read_timeout),
                body_read_timeout: over
                    .body_read_timeout
                    .or(file.limits.body_read_timeout)
                    .unwrap_or(defaults.body_read_timeout),
            },
            rate_limit: RateLimitDefaults {
                per_second: setting(
                    over.rate_limit_per_second,
                    file.rate_limit.per_second,
                    rate.per_second,
                ),
                per_day: setting(
                    over.rate_limit_per_day,
                    file.rate_limit.per_day,
                    rate.per_day,
                ),
                day_window: over
                    .rate_limit_day_window
                    .or(file.rate_limit.day_window)
                    .unwrap_or(rate.day_window),
            },
            pool: PoolSettings {
                max_connections: over
                    .pool_max_connections
                    .or(file.pool.max_connections)
                    .unwrap_or(pool.max_connections),
                connect_timeout: over
                    .pool_connect_timeout
                    .or(file.pool.connect_timeout)
                    .unwrap_or(pool.connect_timeout),
                acquire_timeout: over
                    .pool_acquire_timeout
                    .or(file.pool.acquire_timeout)
                    .unwrap_or(pool.acquire_timeout),
            },
        };
        settings.check()?;
        Ok(settings)
    }

    /// The settings as `config show` prints them: TOML, password hidden.
    pub fn describe(&self) -> String {
        let limit =
            |n: Option<NonZeroU32>| n.map_or_else(|| "\"off\"".to_owned(), |n| n.to_string());
        let secs = |d: Duration| format!("\"{}\"", humantime::format_duration(d));
        let metrics = self.metrics_listen.map_or_else(
            || "# metrics_listen: on the API address".to_owned(),
            |a| format!("metrics_listen = \"{a}\""),
        );
        let log = match self.log_format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        };
        format!(
            "database = \"{}\"\nlog_format = \"{log}\"\n\n[server]\nlisten = \"{}\"\n{metrics}\nmax_connections = {}\nshutdown_grace = {}\n\n[limits]\nmax_body_bytes = {}\nmax_pairs = {}\nrequest_timeout = {}\nheader_read_timeout = {}\nbody_read_timeout = {}\n\n[rate_limit]\nper_second = {}\nper_day = {}\nday_window = {}\n\n[pool]\nmax_connections = {}\nconnect_timeout = {}\nacquire_timeout = {}\n",
            self.database,
            self.listen,
            self.max_connections,
            secs(self.shutdown_grace),
            self.limits.max_body_bytes,
            self.limits.max_pairs,
            secs(self.limits.request_timeout),
            secs(self.limits.header_read_timeout),
            secs(self.limits.body_read_timeout),
            limit(self.rate_limit.per_second),
            limit(self.rate_limit.per_day),
            secs(self.rate_limit.day_window),
            self.pool.max_connections,
            secs(self.pool.connect_timeout),
            secs(self.pool.acquire_timeout),
        )
    }

    fn check(&self) -> Result<(), String> {
        let positive = [
            ("max_connections", self.max_connections),
            ("max_body_bytes", self.limits.max_body_bytes),
            ("max_pairs", self.limits.max_pairs),
            ("pool.max_connections", self.pool.max_connections),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        let durations = [
            ("request_timeout", self.limits.request_timeout),
            ("header_read_timeout", self.limits.header_read_timeout),
            ("body_read_timeout", self.limits.body_read_timeout),
            ("day_window", self.rate_limit.day_window),
            ("pool.connect_timeout", self.pool.connect_timeout),
            ("pool.acquire_timeout", self.pool.acquire_timeout),
        ];
        for (name, value) in durations {
            if value.is_zero() {
                return Err(format!("{name} must be longer than 0"));
            }
        }
        Ok(())
    }
}

/// The file `callaccess config default` prints: every setting at its
/// default, commented out, with what it does.
pub const DEFAULT_FILE: &str = r#"# callaccess configuration. Precedence: command-line flags, then environment
# variables (CALLACCESS_*), then this file, then the defaults shown here.
# Uncomment a line to change it.

# Where the data lives: sqlite:PATH (created if missing).
# database = "sqlite:data/callaccess.db"

# Log lines on stderr: "text" or "json".
# log_format = "text"

[server]
# Address of the API.
# listen = "127.0.0.1:8080"
# Serve GET /metrics on this address instead of the API's.
# metrics_listen = "127.0.0.1:9090"
# Connections served at once; more wait to be accepted.
# max_connections = 1024
# On SIGTERM or SIGINT, how long requests in flight may take to finish.
# shutdown_grace = "30s"

[limits]
# Largest request body; larger ones are answered 413.
# max_body_bytes = 1048576
# Most (call, user) pairs in one PUT or DELETE, and call ids in one POST.
# max_pairs = 10000
# A request that takes longer is answered 503.
# request_timeout = "30s"
# A client must send its request headers within this time.
# header_read_timeout = "10s"
# A client must send its whole body within this time (else 408).
# body_read_timeout = "20s"

[rate_limit]
# Requests per company, unless a company has its own setting. A number or "off".
# per_second = 3
# per_day = 10000
# The length of the "day" budget; change only for tests.
# day_window = "1d"

[pool]
# PostgreSQL only: connections this node opens (PostgreSQL's max_connections
# must cover this times the number of nodes).
# max_connections = 16
# How long to wait for a new connection, and for a free one. Together they
# bound how long a request waits on a database that is down before its 503.
# connect_timeout = "500ms"
# acquire_timeout = "500ms"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> FileConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn the_default_file_parses_to_the_defaults() {
        let commented = file(DEFAULT_FILE);
        let uncommented: String = DEFAULT_FILE
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") => rest,
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let mut all = file(&uncommented);
        // The example metrics address is not a default.
        all.server.metrics_listen = None;
        let a = Settings::resolve(&Overrides::default(), &commented).unwrap();
        let b = Settings::resolve(&Overrides::default(), &all).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(a.rate_limit, RateLimitDefaults::default());
    }

    #[test]
    fn flags_beat_the_file_which_beats_the_defaults() {
        let f = file(
            "[server]\nlisten = \"127.0.0.1:7000\"\nmax_connections = 9\n[rate_limit]\nper_second = \"off\"\nper_day = 50\n",
        );
        let over = Overrides {
            listen: Some("127.0.0.1:7001".parse().unwrap()),
            ..Overrides::default()
        };
        let s = Settings::resolve(&over, &f).unwrap();
        assert_eq!(s.listen.port(), 7001, "flag over file");
        assert_eq!(s.max_connections, 9, "file over default");
        assert_eq!(s.rate_limit.per_second, None);
        assert_eq!(s.rate_limit.per_day, NonZeroU32::new(50));
        assert_eq!(s.limits.max_pairs, 10_000, "default");
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        assert!(toml::from_str::<FileConfig>("[server]\nlisen = \"x\"")
            .unwrap_err()
            .message()
            .contains("lisen"));
        assert!(toml::from_str::<FileConfig>("[rate_limit]\nper_second = 0").is_err());
        assert!(toml::from_str::<FileConfig>("[limits]\nrequest_timeout = \"soon\"").is_err());
        assert!(toml::from_str::<FileConfig>("database = \"mysql://x\"").is_err());
        let f = file("[limits]\nmax_pairs = 0");
        assert_eq!(
            Settings::resolve(&Overrides::default(), &f).unwrap_err(),
            "max_pairs must be at least 1"
        );
    }

    #[test]
    fn limit_settings_parse() {
        assert_eq!("off".parse::<LimitSetting>(), Ok(LimitSetting::Off));
        assert_eq!(
            "7".parse::<LimitSetting>(),
            Ok(LimitSetting::Max(NonZeroU32::new(7).unwrap()))
        );
        assert!("0".parse::<LimitSetting>().is_err());
        assert!("-1".parse::<LimitSetting>().is_err());
    }
}
