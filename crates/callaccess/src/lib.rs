//! callaccess: a self-hostable service that answers Gong's call user-access
//! API (`/v2/calls/users-access`) over a real, durable access model.
//!
//! - [`cli`]: the command line (`serve`, `migrate`, `import` and the admin
//!   commands), parsed with clap; [`admin`] runs the admin commands.
//! - [`db`]: database URLs and opening the store they name.
//! - [`demo`]: the demo company that `serve --demo` starts with.
//! - [`http`]: the HTTP edge: Gong's DTOs, request ids, authentication, the
//!   error envelope and the handlers.
//! - [`server`]: binding, serving and shutting down.

pub mod admin;
pub mod cli;
pub mod db;
pub mod demo;
pub mod http;
pub mod server;
