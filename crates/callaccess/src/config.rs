//! Settings: defaults < TOML file (`--config`) < environment
//! (`CALLACCESS_*`) < flags.
//!
//! [`Settings`] is the one shape of them: its `Default` is the defaults and
//! its serde form is the file's layout, so `config show` prints it as a file
//! would say it. Each layer is a TOML table in that layout; the tables are
//! merged key by key over the defaults, lowest first, and the result is
//! deserialized once and checked ([`Settings::resolve`]). clap reads flags
//! and environment variables together (a flag wins over its variable), so
//! those two make one layer, which holds only what was given
//! (`crate::cli::ServeArgs::layer`).

use std::fmt::Display;
use std::net::{Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::cli::LogFormat;
use crate::db::{DatabaseUrl, PoolSettings, DEFAULT_DATABASE};
use crate::http::Limits;
use crate::ratelimit::RateLimitDefaults;
use crate::server::ServeOptions;

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

impl From<Option<NonZeroU32>> for LimitSetting {
    fn from(limit: Option<NonZeroU32>) -> Self {
        limit.map_or(Self::Off, Self::Max)
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

impl Serialize for LimitSetting {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Off => serializer.serialize_str("off"),
            Self::Max(n) => serializer.serialize_u32(n.get()),
        }
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

/// Everything a command runs with, laid out as the TOML file is. Unknown
/// fields are errors, since a misspelt setting silently ignored is worse
/// than a refusal to start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Written through its `Display`, which hides a password: settings are
    /// serialised only to be shown.
    #[serde(with = "database_text")]
    pub database: DatabaseUrl,
    pub log_format: LogFormat,
    pub server: ServerSettings,
    #[serde(with = "LimitsSection")]
    pub limits: Limits,
    #[serde(with = "RateLimitSection")]
    pub rate_limit: RateLimitDefaults,
    #[serde(with = "PoolSection")]
    pub pool: PoolSettings,
    pub control: ControlSettings,
}

/// `[control]`: the control plane for tests and operators
/// (control-plane.md §1–6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControlSettings {
    /// `None`: `/admin/v1` is served on the API's address; `Some`: only here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_listen: Option<SocketAddr>,
    /// Entries the request journal keeps; 0 turns it off.
    pub journal_size: usize,
    /// Fault rules to load at start (JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faults: Option<std::path::PathBuf>,
    /// `system`, or `manual` / `manual=TIME`: a clock that moves only when
    /// told.
    pub clock: ClockSetting,
    /// Audit entries older than this are pruned; unset keeps them all.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "optional_duration_text"
    )]
    pub audit_retention: Option<Duration>,
    /// How often an idle change stream sends a heartbeat.
    #[serde(with = "duration_text")]
    pub changes_heartbeat: Duration,
}

/// Entries the request journal keeps unless told otherwise.
pub const DEFAULT_JOURNAL_SIZE: usize = 10_000;

impl Default for ControlSettings {
    fn default() -> Self {
        Self {
            admin_listen: None,
            journal_size: DEFAULT_JOURNAL_SIZE,
            faults: None,
            clock: ClockSetting::System,
            audit_retention: None,
            changes_heartbeat: crate::http::admin::audit::DEFAULT_HEARTBEAT,
        }
    }
}

/// `--clock`: `system`, `manual` (starting now) or `manual=TIME`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClockSetting {
    #[default]
    System,
    Manual(Option<callaccess_domain::Timestamp>),
}

impl ClockSetting {
    /// The clock this setting names, started now.
    pub fn clock(self) -> callaccess_domain::Clock {
        match self {
            Self::System => callaccess_domain::Clock::system(),
            Self::Manual(None) => callaccess_domain::Clock::manual(),
            Self::Manual(Some(at)) => callaccess_domain::Clock::manual_at(at),
        }
    }
}

impl FromStr for ClockSetting {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('=') {
            None if s == "system" => Ok(Self::System),
            None if s == "manual" => Ok(Self::Manual(None)),
            Some(("manual", at)) => {
                callaccess_domain::Timestamp::parse_rfc3339(at).map(|at| Self::Manual(Some(at)))
            }
            _ => Err(format!(
                "{s:?} is not a clock (use system, manual, or manual=2030-01-01T00:00:00Z)"
            )),
        }
    }
}

impl Display for ClockSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::System => f.write_str("system"),
            Self::Manual(None) => f.write_str("manual"),
            Self::Manual(Some(at)) => write!(f, "manual={at}"),
        }
    }
}

impl Serialize for ClockSetting {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `[server]`: how the API is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// `None`: `/metrics` is served on `listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
    pub max_connections: usize,
    #[serde(with = "duration_text")]
    pub shutdown_grace: Duration,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

impl Default for ServerSettings {
    fn default() -> Self {
        // The serving defaults live with the server, so that tests serving
        // in process get the same ones.
        let serving = ServeOptions::default();
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            metrics_listen: None,
            max_connections: serving.max_connections,
            shutdown_grace: serving.shutdown_grace,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database: default_database(),
            log_format: LogFormat::Text,
            server: ServerSettings::default(),
            limits: Limits::default(),
            rate_limit: RateLimitDefaults::default(),
            pool: PoolSettings::default(),
            control: ControlSettings::default(),
        }
    }
}

#[expect(
    clippy::expect_used,
    reason = "a constant, which the_defaults_are_the_documented_ones parses"
)]
fn default_database() -> DatabaseUrl {
    DEFAULT_DATABASE
        .parse()
        .expect("the default database URL is valid")
}

// The sections below are serde's view of the components' own types, which
// stay free of serde: each names the type's fields (a field added there
// fails to compile here until it is given a place in the file) and says how
// durations and limits are written.

/// `[limits]`.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Limits", default, deny_unknown_fields)]
struct LimitsSection {
    max_body_bytes: usize,
    max_pairs: usize,
    #[serde(with = "duration_text")]
    request_timeout: Duration,
    #[serde(with = "duration_text")]
    header_read_timeout: Duration,
    #[serde(with = "duration_text")]
    body_read_timeout: Duration,
}

/// `[rate_limit]`.
#[derive(Serialize, Deserialize)]
#[serde(remote = "RateLimitDefaults", default, deny_unknown_fields)]
struct RateLimitSection {
    #[serde(with = "limit_text")]
    per_second: Option<NonZeroU32>,
    #[serde(with = "limit_text")]
    per_day: Option<NonZeroU32>,
    #[serde(with = "duration_text")]
    day_window: Duration,
}

/// `[pool]`.
#[derive(Serialize, Deserialize)]
#[serde(remote = "PoolSettings", default, deny_unknown_fields)]
struct PoolSection {
    max_connections: usize,
    #[serde(with = "duration_text")]
    connect_timeout: Duration,
    #[serde(with = "duration_text")]
    acquire_timeout: Duration,
}

// serde fills a field a section leaves out from the section's `Default`,
// which is the component's.

impl Default for LimitsSection {
    fn default() -> Self {
        let Limits {
            max_body_bytes,
            max_pairs,
            request_timeout,
            header_read_timeout,
            body_read_timeout,
        } = Limits::default();
        Self {
            max_body_bytes,
            max_pairs,
            request_timeout,
            header_read_timeout,
            body_read_timeout,
        }
    }
}

impl Default for RateLimitSection {
    fn default() -> Self {
        let RateLimitDefaults {
            per_second,
            per_day,
            day_window,
        } = RateLimitDefaults::default();
        Self {
            per_second,
            per_day,
            day_window,
        }
    }
}

impl Default for PoolSection {
    fn default() -> Self {
        let PoolSettings {
            max_connections,
            connect_timeout,
            acquire_timeout,
        } = PoolSettings::default();
        Self {
            max_connections,
            connect_timeout,
            acquire_timeout,
        }
    }
}

/// A duration as humantime writes and reads it: `"30s"`, `"500ms"`.
mod duration_text {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_duration(*value))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// An optional duration, as [`duration_text`] writes it.
mod optional_duration_text {
    use super::*;

    pub fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => super::duration_text::serialize(value, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        super::duration_text::deserialize(deserializer).map(Some)
    }
}

/// A server-wide rate limit: a positive number, or `"off"` for none.
mod limit_text {
    use super::*;

    pub fn serialize<S: Serializer>(
        value: &Option<NonZeroU32>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        LimitSetting::from(*value).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<NonZeroU32>, D::Error> {
        LimitSetting::deserialize(deserializer).map(LimitSetting::get)
    }
}

mod database_text {
    use super::*;

    pub fn serialize<S: Serializer>(value: &DatabaseUrl, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DatabaseUrl, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Reads a configuration file as the layer it gives.
pub fn read_file(path: &Path) -> Result<toml::Table, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the config file {}: {e}", path.display()))?;
    let invalid = |e: toml::de::Error| {
        format!(
            "the config file {} is not valid: {}",
            path.display(),
            e.message()
        )
    };
    // Checked on its own, so that a mistake is reported as the file's before
    // a higher layer could cover it.
    toml::from_str::<Settings>(&text).map_err(invalid)?;
    toml::from_str(&text).map_err(invalid)
}

/// Puts each value given into a layer, at `section.key`.
pub fn layer<'a>(
    given: impl IntoIterator<Item = (&'a str, &'a str, Option<toml::Value>)>,
) -> toml::Table {
    let mut layer = toml::Table::new();
    for (section, key, value) in given {
        if let Some(value) = value {
            let mut entry = toml::Table::new();
            entry.insert(key.to_owned(), value);
            merge(
                &mut layer,
                [(section.to_owned(), toml::Value::Table(entry))],
            );
        }
    }
    layer
}

/// A setting written as text: an address, a URL, a format.
pub fn text(value: impl Display) -> toml::Value {
    toml::Value::String(value.to_string())
}

/// A duration as the file writes it.
pub fn duration(value: Duration) -> toml::Value {
    text(humantime::format_duration(value))
}

/// A count as the file writes it.
pub fn count(value: usize) -> toml::Value {
    // TOML's integers are i64; a count beyond that is as good as unlimited.
    toml::Value::Integer(i64::try_from(value).unwrap_or(i64::MAX))
}

/// A rate limit as the file writes it.
pub fn limit(value: LimitSetting) -> toml::Value {
    match value {
        LimitSetting::Off => text("off"),
        LimitSetting::Max(n) => toml::Value::Integer(i64::from(n.get())),
    }
}

/// Writes `above` over `below`: tables key by key, anything else whole.
fn merge(below: &mut toml::Table, above: impl IntoIterator<Item = (String, toml::Value)>) {
    for (key, value) in above {
        match (below.get_mut(&key), value) {
            (Some(toml::Value::Table(lower)), toml::Value::Table(upper)) => merge(lower, upper),
            (_, value) => {
                below.insert(key, value);
            }
        }
    }
}

impl Settings {
    /// The defaults with each layer written over them in turn (file, then
    /// flags and environment), checked.
    pub fn resolve(layers: impl IntoIterator<Item = toml::Table>) -> Result<Settings, String> {
        let mut merged = toml::Table::try_from(Settings::default())
            .map_err(|e| format!("cannot write the default settings: {e}"))?;
        for layer in layers {
            merge(&mut merged, layer);
        }
        let settings: Settings = merged
            .try_into()
            .map_err(|e: toml::de::Error| e.message().to_owned())?;
        settings.check()?;
        Ok(settings)
    }

    /// The settings as `config show` prints them: TOML, password hidden.
    pub fn describe(&self) -> Result<String, String> {
        toml::to_string(self).map_err(|e| format!("cannot write the settings: {e}"))
    }

    fn check(&self) -> Result<(), String> {
        let positive = [
            ("max_connections", self.server.max_connections),
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
# Connections served at once. At the limit, one with no request in flight is
# closed to make room for a new one; else new ones wait to be accepted.
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

[control]
# Serve the admin API (/admin/v1) only on this address; /admin on the API's
# address then answers 404. Unset: the admin API is on the API's address.
# admin_listen = "127.0.0.1:8081"
# Recent /v2 requests kept for GET /admin/v1/requests; 0 turns it off.
# journal_size = 10000
# Fault rules (JSON) loaded at start.
# faults = "faults.json"
# "system", or "manual" (or "manual=2030-01-01T00:00:00Z"): a clock that moves
# only through POST /admin/v1/clock, for tests of time.
# clock = "system"
# Audit entries older than this are pruned (checked every minute); unset keeps
# every entry.
# audit_retention = "90d"
# How often an idle GET /admin/v1/changes stream sends a heartbeat comment.
# changes_heartbeat = "15s"
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::ServeArgs;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let defaults = Settings::default();
        assert_eq!(defaults.database.to_string(), DEFAULT_DATABASE);
        assert_eq!(defaults.server.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(Settings::resolve([]).unwrap(), defaults);
    }

    #[test]
    fn the_default_file_parses_to_the_defaults() {
        let commented = table(DEFAULT_FILE);
        let uncommented: String = DEFAULT_FILE
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") => rest,
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let mut all = table(&uncommented);
        // The example metrics address is not a default.
        let server = all["server"].as_table_mut().unwrap();
        assert!(server.remove("metrics_listen").is_some());
        // Nor are the example admin address, fault file and retention.
        let control = all["control"].as_table_mut().unwrap();
        assert!(control.remove("admin_listen").is_some());
        assert!(control.remove("faults").is_some());
        assert!(control.remove("audit_retention").is_some());
        let a = Settings::resolve([commented]).unwrap();
        let b = Settings::resolve([all]).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, Settings::default());
        assert_eq!(a.server.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(a.rate_limit, RateLimitDefaults::default());
    }

    #[test]
    fn flags_beat_the_file_which_beats_the_defaults() {
        let file = table(
            "[server]\nlisten = \"127.0.0.1:7000\"\nmax_connections = 9\n[rate_limit]\nper_second = \"off\"\nper_day = 50\n",
        );
        let flags = ServeArgs {
            listen: Some("127.0.0.1:7001".parse().unwrap()),
            pool_acquire_timeout: Some(Duration::from_millis(250)),
            ..ServeArgs::default()
        };
        let s = Settings::resolve([file, flags.layer()]).unwrap();
        assert_eq!(s.server.listen.port(), 7001, "flag over file");
        assert_eq!(s.server.max_connections, 9, "file over default");
        assert_eq!(s.rate_limit.per_second, None);
        assert_eq!(s.rate_limit.per_day, NonZeroU32::new(50));
        assert_eq!(s.limits.max_pairs, 10_000, "default");
        assert_eq!(s.pool.acquire_timeout, Duration::from_millis(250), "flag");
        assert_eq!(
            s.pool.connect_timeout,
            PoolSettings::default().connect_timeout,
            "a flag of a section keeps the section's other defaults"
        );
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        assert!(toml::from_str::<Settings>("[server]\nlisen = \"x\"")
            .unwrap_err()
            .message()
            .contains("lisen"));
        assert!(toml::from_str::<Settings>("[rate_limit]\nper_second = 0").is_err());
        assert!(toml::from_str::<Settings>("[limits]\nrequest_timeout = \"soon\"").is_err());
        assert!(toml::from_str::<Settings>("database = \"mysql://x\"").is_err());
        assert_eq!(
            Settings::resolve([table("[limits]\nmax_pairs = 0")]).unwrap_err(),
            "max_pairs must be at least 1"
        );
    }

    #[test]
    fn a_bad_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        // A section given as a value must not be covered by a flag's table.
        std::fs::write(&path, "server = 5\n").unwrap();
        let err = read_file(&path).unwrap_err();
        assert!(
            err.starts_with(&format!(
                "the config file {} is not valid: ",
                path.display()
            )),
            "{err}"
        );
        assert!(read_file(&dir.path().join("missing.toml"))
            .unwrap_err()
            .starts_with("cannot read the config file"));
    }

    #[test]
    fn shown_settings_read_back_as_the_same_settings() {
        let file = table(
            "log_format = \"json\"\n[server]\nmetrics_listen = \"127.0.0.1:9100\"\nshutdown_grace = \"1m 5s\"\n[limits]\nbody_read_timeout = \"750ms\"\n[rate_limit]\nper_day = \"off\"\n[pool]\nmax_connections = 3\n",
        );
        let settings = Settings::resolve([file]).unwrap();
        let shown = settings.describe().unwrap();
        assert_eq!(Settings::resolve([table(&shown)]).unwrap(), settings);
        for line in [
            "log_format = \"json\"",
            "metrics_listen = \"127.0.0.1:9100\"",
            "shutdown_grace = \"1m 5s\"",
            "body_read_timeout = \"750ms\"",
            "per_second = 3",
            "per_day = \"off\"",
            "max_connections = 3",
        ] {
            assert!(shown.lines().any(|l| l == line), "{line:?} in:\n{shown}");
        }
    }

    #[test]
    fn shown_settings_hide_the_password() {
        let file = table("database = \"postgres://bob:hunter2@db:5432/x\"");
        let settings = Settings::resolve([file]).unwrap();
        let shown = settings.describe().unwrap();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("database = \"postgres://bob:***@db:5432/x\""),
            "{shown}"
        );
        assert!(!format!("{settings:?}").contains("hunter2"));
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
