//! State for tests (control-plane §3): reading every row of some companies
//! into the domain's [`Snapshot`] (the domain builds the export from it),
//! and removing them for a reset, with a seed applied in the same
//! transaction when one is given. Admin tokens are not company data and
//! are never touched.

use callaccess_domain::seed::{self, CompanySnapshot, ResetSummary, Seed, Snapshot};
use callaccess_domain::{CallId, CompanyId, NewEntry, Origin, StoreError, Timestamp, UserId};
use tokio_postgres::types::ToSql;

use crate::admin::{self, PROFILE_COLUMNS, WORKSPACE_COLUMNS};
use crate::error::Fail;
use crate::rows;
use crate::tally::Db;

/// Every row of `company`, or of all companies, in the caller's read
/// transaction (one snapshot). `NoCompany` for a company that does not
/// exist.
pub(crate) async fn snapshot(db: &impl Db, company: Option<CompanyId>) -> Result<Snapshot, Fail> {
    let mut companies = admin::companies(db).await?;
    if let Some(wanted) = company {
        companies.retain(|c| c.id == wanted);
        if companies.is_empty() {
            return Err(StoreError::NoCompany(wanted).into());
        }
    }
    let mut snapshot = Snapshot::default();
    for c in companies {
        let id = c.id;
        let mut s = CompanySnapshot::new(c);
        fill(db, id, &mut s).await?;
        snapshot.companies.push(s);
    }
    Ok(snapshot)
}

async fn fill(db: &impl Db, company: CompanyId, s: &mut CompanySnapshot) -> Result<(), Fail> {
    let c = company.get();
    let params: [&(dyn ToSql + Sync); 1] = [&c];
    let sql = format!(
        "SELECT {WORKSPACE_COLUMNS} FROM workspaces w WHERE w.company_id = $1
         ORDER BY w.id = (SELECT default_workspace_id FROM companies WHERE id = $1) DESC, w.id"
    );
    s.workspaces = rows::query(db, &sql, &params)
        .await?
        .iter()
        .map(|row| admin::workspace_row(company, row, 0))
        .collect::<Result<_, _>>()?;
    let sql = format!(
        "SELECT {PROFILE_COLUMNS} FROM permission_profiles p WHERE p.company_id = $1 ORDER BY p.id"
    );
    s.profiles = rows::query(db, &sql, &params)
        .await?
        .iter()
        .map(|row| admin::profile_row(company, row, 0))
        .collect::<Result<_, _>>()?;
    s.users = admin::users(db, company).await?;
    s.assignments = rows::query(
        db,
        "SELECT user_id, profile_id FROM user_profiles WHERE company_id = $1
         ORDER BY user_id, profile_id",
        &params,
    )
    .await?
    .iter()
    .map(|row| Ok((rows::user_at(row, 0)?, rows::profile_at(row, 1)?)))
    .collect::<Result<_, Fail>>()?;
    s.calls = admin::calls(db, company).await?;
    s.shares = shares(db, company).await?;
    s.api_grants = pairs(db, "api_grants", c).await?;
    s.api_keys = admin::API_KEYS.list_with_digests(db, company).await?;
    s.tokens = admin::TOKENS.list_with_digests(db, company).await?;
    Ok(())
}

/// The company's shares, by call then user: for the export and the admin
/// API's list alike.
pub(crate) async fn shares(
    db: &impl Db,
    company: CompanyId,
) -> Result<Vec<(CallId, UserId)>, Fail> {
    pairs(db, "shares", company.get()).await
}

/// The (call, user) rows of a link table, by call then user.
async fn pairs(db: &impl Db, table: &str, company: i64) -> Result<Vec<(CallId, UserId)>, Fail> {
    let sql = format!(
        "SELECT call_id, user_id FROM {table} WHERE company_id = $1 ORDER BY call_id, user_id"
    );
    rows::query(db, &sql, &[&company])
        .await?
        .iter()
        .map(|row| Ok((rows::call_at(row, 0)?, rows::user_at(row, 1)?)))
        .collect()
}

/// Removes `company`'s rows (all companies' with `None`) and its audit
/// entries (all of them with `None`), records the `reset` entry, then
/// applies `seed` if given (with its entries), in the caller's
/// transaction: a seed that does not fit fails it, and the removal is
/// rolled back with it.
pub(crate) async fn reset(
    db: &impl Db,
    origin: &Origin,
    company: Option<CompanyId>,
    seed: Option<&Seed>,
    now: Timestamp,
) -> Result<ResetSummary, Fail> {
    if let (Some(company), Some(seed)) = (company, seed) {
        seed::only_company(seed, company).map_err(StoreError::SeedRejected)?;
    }
    let target = company.map(CompanyId::get);
    let params: [&(dyn ToSql + Sync); 1] = [&target];
    let counted = rows::first(
        db,
        "SELECT (SELECT count(*) FROM companies WHERE $1::BIGINT IS NULL OR id = $1),
                (SELECT count(*) FROM users WHERE $1::BIGINT IS NULL OR company_id = $1),
                (SELECT count(*) FROM calls WHERE $1::BIGINT IS NULL OR company_id = $1)",
        &params,
    )
    .await?;
    let count = |at: usize| -> Result<usize, Fail> {
        let n: i64 = match &counted {
            Some(row) => rows::at(row, at)?,
            None => 0,
        };
        Ok(usize::try_from(n).unwrap_or(0))
    };
    let mut summary = ResetSummary {
        companies: count(0)?,
        users: count(1)?,
        calls: count(2)?,
        seeded: None,
    };
    rows::execute(
        db,
        "UPDATE companies SET default_workspace_id = NULL WHERE $1::BIGINT IS NULL OR id = $1",
        &params,
    )
    .await?;
    for table in callaccess_domain::migrations::COMPANY_TABLES {
        let sql = format!("DELETE FROM {table} WHERE $1::BIGINT IS NULL OR company_id = $1");
        rows::execute(db, &sql, &params).await?;
    }
    rows::execute(
        db,
        "DELETE FROM companies WHERE $1::BIGINT IS NULL OR id = $1",
        &params,
    )
    .await?;
    // Keys and tokens are gone: every node drops the credentials it kept.
    crate::store::credentials_changed(db).await?;
    crate::audit::forget(db, target).await?;
    crate::audit::record(db, origin, now, &[NewEntry::reset(company)]).await?;
    if let Some(seed) = seed {
        summary.seeded = Some(crate::seed::apply(db, origin, seed, now).await?);
    }
    Ok(summary)
}
