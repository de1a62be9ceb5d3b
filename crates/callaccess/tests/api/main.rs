//! The one integration-test binary: the HTTP API over a real socket, the CLI,
//! and seeds.
#![allow(clippy::unwrap_used, clippy::expect_used)]
