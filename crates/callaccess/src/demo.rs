//! The demo company of `serve --demo` (being written).

use callaccess_domain::{Store, StoreError};

/// What the demo created, enough to print working curl commands.
#[derive(Debug, Clone)]
pub struct Demo {
    pub access_key: String,
    pub secret: String,
}

impl Demo {
    /// The text printed at start: the key, the secret and curl lines.
    pub fn banner(&self, _base_url: &str) -> String {
        String::new()
    }
}

/// Creates the demo company, users, calls, share and API key.
pub async fn prepare(_store: &dyn Store) -> Result<Demo, StoreError> {
    Err(StoreError::Other("not implemented yet".to_owned()))
}
