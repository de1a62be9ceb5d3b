//! State for tests (control-plane §3): reading every row of some companies
//! into the domain's [`Snapshot`] (the domain builds the export from it),
//! and removing them for a reset, with a seed applied in the same
//! transaction when one is given. Admin tokens are not company data and
//! are never touched.

use callaccess_domain::seed::{self, CompanySnapshot, ResetSummary, Seed, Snapshot};
use callaccess_domain::{CallId, CompanyId, StoreError, UserId};
use rusqlite::{params, Connection};

use crate::admin::{self, PROFILE_COLUMNS, WORKSPACE_COLUMNS};
use crate::audit::Audit;
use crate::error::Fail;
use crate::rows;

/// Every row of `company`, or of all companies, in the read transaction
/// `conn` is in. `NoCompany` for a company that does not exist.
pub(crate) fn snapshot(conn: &Connection, company: Option<CompanyId>) -> Result<Snapshot, Fail> {
    let mut companies = admin::companies(conn)?;
    if let Some(wanted) = company {
        companies.retain(|c| c.id == wanted);
        if companies.is_empty() {
            return Err(StoreError::NoCompany(wanted).into());
        }
    }
    let companies = companies
        .into_iter()
        .map(|c| {
            let id = c.id;
            let mut s = CompanySnapshot::new(c);
            fill(conn, id, &mut s)?;
            Ok(s)
        })
        .collect::<Result<_, Fail>>()?;
    Ok(Snapshot { companies })
}

fn fill(conn: &Connection, company: CompanyId, s: &mut CompanySnapshot) -> Result<(), Fail> {
    let c = company.get();
    s.workspaces = admin::all(
        conn,
        &format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE company_id = ?1
             ORDER BY id = (SELECT default_workspace_id FROM companies WHERE id = ?1) DESC, id"
        ),
        [c],
        admin::workspace_row,
    )?;
    s.profiles = admin::all(
        conn,
        &format!(
            "SELECT {PROFILE_COLUMNS} FROM permission_profiles p WHERE p.company_id = ?1 ORDER BY p.id"
        ),
        [c],
        admin::profile_row,
    )?;
    s.users = admin::users(conn, company)?;
    s.assignments = admin::all(
        conn,
        "SELECT user_id, profile_id FROM user_profiles WHERE company_id = ?1
         ORDER BY user_id, profile_id",
        [c],
        |row| Ok((rows::user_at(row, 0)?, rows::profile_at(row, 1)?)),
    )?;
    s.calls = admin::calls(conn, company)?;
    s.shares = shares(conn, company)?;
    s.api_grants = pairs(conn, "api_grants", c)?;
    s.api_keys = admin::api_keys_with_digests(conn, company)?;
    s.tokens = admin::tokens_with_digests(conn, company)?;
    Ok(())
}

/// The company's shares, by call then user: for the export and the admin
/// API's list alike.
pub(crate) fn shares(conn: &Connection, company: CompanyId) -> Result<Vec<(CallId, UserId)>, Fail> {
    pairs(conn, "shares", company.get())
}

/// The (call, user) rows of a link table, by call then user.
fn pairs(conn: &Connection, table: &str, company: i64) -> Result<Vec<(CallId, UserId)>, Fail> {
    admin::all(
        conn,
        &format!(
            "SELECT call_id, user_id FROM {table} WHERE company_id = ?1 ORDER BY call_id, user_id"
        ),
        [company],
        |row| Ok((rows::call_at(row, 0)?, rows::user_at(row, 1)?)),
    )
}

/// Removes `company`'s rows (all companies' with `None`), then applies
/// `seed` if given, in the writer's transaction: a seed that does not fit
/// fails the whole job, and the writer rolls the removal back with it.
pub(crate) fn reset(
    conn: &Connection,
    company: Option<CompanyId>,
    seed: Option<&Seed>,
    audit: &Audit,
) -> Result<ResetSummary, Fail> {
    if let (Some(company), Some(seed)) = (company, seed) {
        seed::only_company(seed, company).map_err(StoreError::SeedRejected)?;
    }
    let target = company.map(CompanyId::get);
    let count = |table: &str, column: &str| -> Result<usize, Fail> {
        let n: i64 = conn
            .prepare_cached(&format!(
                "SELECT count(*) FROM {table} WHERE ?1 IS NULL OR {column} = ?1"
            ))?
            .query_row([target], |row| row.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    };
    let mut summary = ResetSummary {
        companies: count("companies", "id")?,
        users: count("users", "company_id")?,
        calls: count("calls", "company_id")?,
        seeded: None,
    };
    for table in callaccess_domain::migrations::COMPANY_TABLES {
        rows::execute(
            conn,
            &format!("DELETE FROM {table} WHERE ?1 IS NULL OR company_id = ?1"),
            params![target],
        )?;
    }
    rows::execute(
        conn,
        "DELETE FROM companies WHERE ?1 IS NULL OR id = ?1",
        params![target],
    )?;
    // The trail of what was removed goes too; what a mirror of the data
    // must start again from is the `reset` entry.
    crate::audit::reset(conn, company, audit)?;
    if let Some(seed) = seed {
        summary.seeded = Some(crate::seed::apply(conn, seed, audit)?);
    }
    Ok(summary)
}
