//! The one integration-test binary: the HTTP API over a real socket, the
//! binary's own behaviour (logs, demo), the CLI, and seeds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod auth;
mod binary;
mod cli;
mod contract_table;
mod edges;
mod gong_client;
mod isolation;
mod model;
mod seed;
mod semantics;
