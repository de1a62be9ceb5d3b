//! The schema history every backend shares: the same versions and names,
//! each backend with its own SQL in `migrations/NNNN_name.sql`, and the
//! answers to a database whose schema this binary cannot use.

use crate::store::StoreError;

/// (version, name) of every migration, oldest first. A backend embeds one
/// SQL file per entry, named `{version:04}_{name}.sql`.
pub const LIST: &[(i64, &str)] = &[
    (1, "initial"),
    (2, "api_grants_without_foreign_keys"),
    (3, "storage_probe"),
    (4, "credential_changes"),
    (5, "directory"),
    (6, "admin_tokens"),
    (7, "audit"),
    (8, "audit_runs"),
];

/// The highest version a database can be brought to.
/// The tables of company data in both schemas, children before parents,
/// each with a `company_id` column: what a reset removes, in this order,
/// before the company rows themselves (which come last, on their own).
pub const COMPANY_TABLES: &[&str] = &[
    "user_profiles",
    "call_participants",
    "shares",
    "api_grants",
    "calls",
    "permission_profiles",
    "workspaces",
    "users",
    "api_keys",
    "tokens",
    "rate_limit_state",
];

pub fn latest() -> i64 {
    LIST.last().map_or(0, |(version, _)| *version)
}

/// Refuses a database at a schema `version` newer than this binary knows;
/// `what` names it for the operator (`database "x"`, or a file's path).
pub fn refuse_newer(what: &str, version: i64) -> Result<(), StoreError> {
    if version > latest() {
        return Err(StoreError::Incompatible(format!(
            "{what} was written by a newer callaccess (schema version {version}, this binary knows up to {}); upgrade callaccess to open it",
            latest()
        )));
    }
    Ok(())
}

/// For readiness: the schema a running node opened is still the database's
/// (another node may have migrated it since, by an upgrade).
pub fn still_current(version: i64, running: i64) -> Result<(), StoreError> {
    if version != running {
        return Err(StoreError::Incompatible(format!(
            "the database schema is now at version {version}, but this node runs version {running}; restart it with a matching callaccess"
        )));
    }
    Ok(())
}

/// Embeds a backend's SQL for every entry of [`LIST`], in order, as
/// `[(version, name, sql); N]`; invoked in the backend's crate, so the
/// files are read from its own `migrations/` folder.
#[macro_export]
macro_rules! embed_migrations {
    () => {
        [
            (
                $crate::migrations::LIST[0].0,
                $crate::migrations::LIST[0].1,
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/migrations/0001_initial.sql"
                )),
            ),
            (
                $crate::migrations::LIST[1].0,
                $crate::migrations::LIST[1].1,
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/migrations/0002_api_grants_without_foreign_keys.sql"
                )),
            ),
            (
                $crate::migrations::LIST[2].0,
                $crate::migrations::LIST[2].1,
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/migrations/0003_storage_probe.sql"
                )),
            ),
            (
                $crate::migrations::LIST[3].0,
                $crate::migrations::LIST[3].1,
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/migrations/0004_credential_changes.sql"
                )),
            ),
            (
                $crate::migrations::LIST[4].0,
                $crate::migrations::LIST[4].1,
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/migrations/0005_directory.sql"
                )),
            ),
            (
                $crate::migrations::LIST[5].0,
                $crate::migrations::LIST[5].1,
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/migrations/0006_admin_tokens.sql"
                )),
            ),
            (
                $crate::migrations::LIST[6].0,
                $crate::migrations::LIST[6].1,
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/migrations/0007_audit.sql"
                )),
            ),
            (
                $crate::migrations::LIST[7].0,
                $crate::migrations::LIST[7].1,
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/migrations/0008_audit_runs.sql"
                )),
            ),
        ]
    };
}

/// Checks a backend's `migrations/` folder against [`LIST`] and what it
/// embedded: every file is embedded, under its version and name, and only
/// those. For each backend's unit tests.
pub fn check_folder(
    folder: &std::path::Path,
    embedded: &[(i64, &str, &str)],
) -> Result<(), String> {
    let listed: Vec<(i64, &str)> = embedded.iter().map(|(v, n, _)| (*v, *n)).collect();
    if listed != LIST {
        return Err(format!("embedded {listed:?}, but the list is {LIST:?}"));
    }
    if LIST.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
        return Err(format!("versions must increase: {LIST:?}"));
    }
    let mut files = Vec::new();
    let entries = std::fs::read_dir(folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        files.push(entry.file_name().to_string_lossy().into_owned());
    }
    files.sort();
    let expected: Vec<String> = LIST
        .iter()
        .map(|(v, n)| format!("{v:04}_{n}.sql"))
        .collect();
    if files != expected {
        return Err(format!(
            "every file in migrations/ must be embedded, and only those: found {files:?}, expected {expected:?}"
        ));
    }
    for ((version, name, sql), file) in embedded.iter().zip(&expected) {
        let text = std::fs::read_to_string(folder.join(file)).map_err(|e| e.to_string())?;
        if text != *sql {
            return Err(format!(
                "migration {version} ({name}) is not the file {file}"
            ));
        }
    }
    Ok(())
}
