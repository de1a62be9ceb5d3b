//! The one integration-test binary: the HTTP API over a real socket, the
//! binary's own behaviour (logs, demo), the CLI, seeds, crash safety under
//! load (`crash`: kill -9 and restart, many cycles; `power_loss`: the same
//! with the power cut under the database, on a FUSE file system); and, on
//! PostgreSQL, several nodes on one database (`multinode`) and an outage of
//! the database under a running node (`outage`); on SQLite, storage that
//! stops taking writes or fails under a running node (`storage_faults`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod server_process;
mod testfs;
mod workload;

mod admin_api;
mod admin_state;
mod audit;
mod audit_paths;
mod auth;
mod backend;
mod binary;
mod cli;
mod clock;
mod console_browser;
mod console_http;
mod contract_table;
mod crash;
mod directory;
mod edges;
mod faults;
mod gong_client;
mod gong_program;
mod isolation;
mod journal;
mod model;
mod multinode;
mod org_model;
mod outage;
mod power_loss;
mod pressure;
mod protocol;
mod seed;
mod semantics;
mod settings;
mod storage_faults;
