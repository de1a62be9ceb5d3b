//! SQLite backend (being written).

use std::path::Path;

use callaccess_domain::StoreError;

pub struct SqliteStore {}

impl SqliteStore {
    pub async fn open(_path: &Path) -> Result<Self, StoreError> {
        Err(StoreError::Other("not implemented yet".to_owned()))
    }
}
