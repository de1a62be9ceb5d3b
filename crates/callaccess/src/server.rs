//! Serving (being written).

use crate::cli::{LogFormat, ServeArgs};
use crate::db::DatabaseUrl;

pub async fn run(_args: ServeArgs, _database: &DatabaseUrl, _log: LogFormat) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
