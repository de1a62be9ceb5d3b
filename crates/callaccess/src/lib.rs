//! callaccess: a self-hostable service that answers Gong's call user-access
//! API (`/v2/calls/users-access`) and the Gong operations around it
//! (workspaces, users, calls, permission profiles) over a real, durable
//! access model.
//!
//! - [`changes`]: the change stream's engine: one reader of the audit
//!   trail per node, fanned out to every open stream.
//! - [`cli`]: the command line (`serve`, `migrate`, `import`, `config` and
//!   the admin commands), parsed with clap; [`admin`] runs the admin commands.
//! - [`connections`]: the connections a listener serves, and which one to
//!   close to make room for a new client at the limit.
//! - [`config`]: settings from flags, environment, a TOML file and defaults.
//! - [`db`]: database URLs, and opening what they name as a [`db::Backend`]:
//!   the store with the rate limiter and credential cache that fit it.
//! - [`demo`]: the demo company that `serve --demo` starts with.
//! - [`faults`]: fault rules that make `/v2` answers fail on purpose.
//! - [`journal`]: the request journal, recent `/v2` requests for tests.
//! - [`http`]: the HTTP edge: Gong's DTOs, request ids, authentication, the
//!   error envelope, the handlers and the OpenAPI document; the admin API
//!   (`http::admin`) and the operator console (`http::console`, its
//!   templates in `templates/console/`, its CSS and script in
//!   `assets/console/`).
//! - [`logsink`]: log lines written in batches by a thread of their own.
//! - [`ops`]: the admin operations the CLI, the admin API and the console
//!   share, with every check they make before the store's.
//! - [`ratelimit`]: per-company rate limits, in process or shared through
//!   the database, on a clock tests can move by hand.
//! - [`server`]: binding, serving (connection limits, timeouts, metrics) and
//!   graceful shutdown.
//! - [`wire`]: the socket under hyper, where the answers hyper writes on
//!   its own (to requests it cannot parse) get the error envelope.

pub mod admin;
pub mod changes;
pub mod cli;
pub mod config;
pub mod connections;
pub mod db;
pub mod demo;
pub mod faults;
pub mod http;
pub mod journal;
pub mod logsink;
pub mod ops;
pub mod ratelimit;
pub mod server;
pub mod wire;
