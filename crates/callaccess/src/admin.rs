//! The admin commands (being written).

use crate::cli::Command;
use crate::db::DatabaseUrl;

/// Runs one admin command (anything but `serve`) against the database.
pub async fn run(_command: Command, _database: &DatabaseUrl) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
