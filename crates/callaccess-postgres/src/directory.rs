//! Gong's directory operations (directory.md §3): workspaces, users, calls
//! and permission profiles, each for a caller.
//!
//! Every read is one statement, so it needs no explicit transaction: the
//! credential table's one row, joined laterally with the page of records
//! the operation reads. Each row thus carries the count of credential
//! changes, which confirms a credential the node kept ([`Epoch`]) before
//! any record is used, and a read that finds no record still returns that
//! one row (its record columns NULL). A listing reads in id order from the
//! page's `after`, one record more than the page holds (to tell whether
//! more follow), and counts the records its filter selects only when the
//! page asks for it. Its statement is assembled from fixed fragments, one
//! condition per filter given, so each variant is planned for what it
//! filters on; values are only ever parameters.
//!
//! The writes (addCall, creating and updating a profile) are pipelined
//! transactions of two round trips: `BEGIN` with the facts the domain's
//! check needs and the count ([`admin::begin_with_known`]), then the write
//! with `COMMIT`.

use callaccess_domain::admin::{self as checks, Needs};
use callaccess_domain::page::{CallFilter, Page, PageAfter, UserFilter};
use callaccess_domain::{
    Call, CallId, Caller, CompanyId, NewEntry, Origin, Profile, ProfileId, StoreError, Timestamp,
    User, UserId, Workspace, WorkspaceId,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::admin::{self, CallsParams, ProfileParams};
use crate::audit;
use crate::error::Fail;
use crate::rows;
use crate::run;
use crate::store::Epoch;
use crate::tally::Db;

/// A statement assembled from fixed fragments; every value is a parameter.
struct Query {
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Query {
    /// A statement whose `$1` is the caller's company.
    fn new(company: CompanyId) -> Self {
        Self {
            params: vec![Box::new(company.get())],
        }
    }

    /// Binds `value` as the next parameter; its placeholder.
    fn bind(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|param| &**param as &(dyn ToSql + Sync))
            .collect()
    }
}

/// What one read statement answered: its rows, once the caller is
/// confirmed by the count every row carries (column 0).
async fn confirmed(
    db: &impl Db,
    caller: &Caller,
    epoch: &Epoch,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, Fail> {
    let found = rows::query(db, sql, params).await?;
    let Some(first) = found.first() else {
        return Err(Fail::Store(StoreError::Other(
            "the count of credential changes is missing; was migration 4 applied?".to_owned(),
        )));
    };
    let count = u64::try_from(rows::at::<i64>(first, 0)?).unwrap_or(0);
    epoch.confirm(caller, count)?;
    Ok(found)
}

/// The records of rows whose record starts at column `at` (the row with
/// NULL there, when none was found, holds none).
fn records<T>(
    found: &[Row],
    at: usize,
    read: impl Fn(&Row) -> Result<T, Fail>,
) -> Result<Vec<T>, Fail> {
    let mut out = Vec::with_capacity(found.len());
    for row in found {
        if rows::at::<Option<i64>>(row, at)?.is_some() {
            out.push(read(row)?);
        }
    }
    Ok(out)
}

/// The statement of a read: the count (column 0), `extra` columns, then
/// the records `inner` selects (a subquery aliased `page`), ordered by
/// `order`.
fn read_sql(extra: &str, inner: &str, order: &str) -> String {
    format!(
        "SELECT e.count{extra}, page.*
           FROM credential_changes e
           LEFT JOIN LATERAL ({inner}) page ON true
          WHERE e.id = 1
          ORDER BY {order}"
    )
}

/// One page of `items` fetched with one record more than `page.limit`.
fn paged<T>(mut items: Vec<T>, page: PageAfter, total: Option<i64>) -> Page<T> {
    let more = items.len() > page.limit;
    items.truncate(page.limit);
    Page {
        items,
        more,
        total: total.map(|total| u64::try_from(total).unwrap_or(0)),
    }
}

/// The page's limit as bound, with the one record that tells whether more
/// follow.
fn limit_plus_one(page: PageAfter) -> i64 {
    i64::try_from(page.limit)
        .unwrap_or(i64::MAX)
        .saturating_add(1)
}

// --- workspaces ---

pub(crate) async fn workspaces(
    db: &impl Db,
    caller: &Caller,
    epoch: &Epoch,
) -> Result<Vec<Workspace>, Fail> {
    let inner = format!(
        "SELECT {} FROM workspaces w WHERE w.company_id = $1 ORDER BY w.id",
        admin::WORKSPACE_COLUMNS
    );
    let sql = read_sql("", &inner, "page.id");
    let company = caller.company;
    let found = confirmed(db, caller, epoch, &sql, &[&company.get()]).await?;
    records(&found, 1, |row| admin::workspace_row(company, row, 1))
}

// --- users ---

/// The conditions `filter` puts on `users u`, bound into `query`.
fn user_conditions(query: &mut Query, filter: &UserFilter) -> String {
    let mut conditions = String::new();
    if let Some(ids) = &filter.ids {
        let ids = rows::ids(ids.iter().copied(), UserId::get);
        conditions += &format!(" AND u.id = ANY({}::BIGINT[])", query.bind(ids));
    }
    if let Some(from) = filter.created_from {
        conditions += &format!(" AND u.created_at >= {}", query.bind(from.unix()));
    }
    if let Some(to) = filter.created_to {
        conditions += &format!(" AND u.created_at < {}", query.bind(to.unix()));
    }
    conditions
}

/// listUsers and listMultipleUsers: one statement; the total only when the
/// page asks for it.
pub(crate) async fn list_users(
    db: &impl Db,
    caller: &Caller,
    epoch: &Epoch,
    filter: &UserFilter,
    page: PageAfter,
) -> Result<Page<User>, Fail> {
    let company = caller.company;
    let mut query = Query::new(company);
    let conditions = user_conditions(&mut query, filter);
    let total = if page.count {
        format!(", (SELECT count(*) FROM users u WHERE u.company_id = $1{conditions})")
    } else {
        ", NULL::BIGINT".to_owned()
    };
    let after = query.bind(page.after.unwrap_or(0));
    let limit = query.bind(limit_plus_one(page));
    let inner = format!(
        "SELECT {} FROM users u {}
          WHERE u.company_id = $1 AND u.id > {after}{conditions}
          ORDER BY u.id LIMIT {limit}",
        admin::USER_COLUMNS,
        admin::USER_JOINS
    );
    let sql = read_sql(&total, &inner, "page.id");
    let found = confirmed(db, caller, epoch, &sql, &query.params()).await?;
    let total = match found.first() {
        Some(row) => rows::at::<Option<i64>>(row, 1)?,
        None => None,
    };
    let users = records(&found, 2, |row| admin::user_row(company, row, 2))?;
    Ok(paged(users, page, total))
}

/// getUser: [`list_users`] of the one id.
pub(crate) async fn user(
    db: &impl Db,
    caller: &Caller,
    epoch: &Epoch,
    user: UserId,
) -> Result<Option<User>, Fail> {
    let filter = UserFilter {
        ids: Some(vec![user]),
        ..UserFilter::default()
    };
    let page = PageAfter::single();
    let found = list_users(db, caller, epoch, &filter, page).await?;
    Ok(found.items.into_iter().next())
}

// --- calls ---

/// The conditions `filter` puts on `calls c`, bound into `query`.
fn call_conditions(query: &mut Query, filter: &CallFilter) -> String {
    let mut conditions = String::new();
    if let Some(ids) = &filter.ids {
        let ids = rows::ids(ids.iter().copied(), CallId::get);
        conditions += &format!(" AND c.id = ANY({}::BIGINT[])", query.bind(ids));
    }
    if let Some(users) = &filter.primary_users {
        let users = rows::ids(users.iter().copied(), UserId::get);
        conditions += &format!(
            " AND c.primary_user_id = ANY({}::BIGINT[])",
            query.bind(users)
        );
    }
    if let Some(from) = filter.from {
        conditions += &format!(" AND c.started >= {}", query.bind(from.unix()));
    }
    if let Some(to) = filter.to {
        conditions += &format!(" AND c.started < {}", query.bind(to.unix()));
    }
    if let Some(workspace) = filter.workspace {
        conditions += &format!(" AND c.workspace_id = {}", query.bind(workspace.get()));
    }
    conditions
}

/// listCalls and listCallsExtensive: one statement, which also says
/// whether the filter's workspace is the company's (`NoWorkspace` if not,
/// once the caller is confirmed).
pub(crate) async fn list_calls(
    db: &impl Db,
    caller: &Caller,
    epoch: &Epoch,
    filter: &CallFilter,
    page: PageAfter,
) -> Result<Page<Call>, Fail> {
    let company = caller.company;
    let mut query = Query::new(company);
    let conditions = call_conditions(&mut query, filter);
    let mut extra = if page.count {
        format!(", (SELECT count(*) FROM calls c WHERE c.company_id = $1{conditions})")
    } else {
        ", NULL::BIGINT".to_owned()
    };
    if let Some(workspace) = filter.workspace {
        let workspace = query.bind(workspace.get());
        extra += &format!(
            ", EXISTS (SELECT 1 FROM workspaces WHERE id = {workspace} AND company_id = $1)"
        );
    } else {
        extra += ", true";
    }
    let after = query.bind(page.after.unwrap_or(0));
    let limit = query.bind(limit_plus_one(page));
    let inner = format!(
        "SELECT {} FROM calls c
          WHERE c.company_id = $1 AND c.id > {after}{conditions}
          ORDER BY c.id LIMIT {limit}",
        admin::CALL_COLUMNS
    );
    let sql = read_sql(&extra, &inner, "page.id");
    let found = confirmed(db, caller, epoch, &sql, &query.params()).await?;
    let (total, workspace_found) = match found.first() {
        Some(row) => (rows::at::<Option<i64>>(row, 1)?, rows::at::<bool>(row, 2)?),
        None => (None, true),
    };
    if let (Some(workspace), false) = (filter.workspace, workspace_found) {
        return Err(StoreError::NoWorkspace { company, workspace }.into());
    }
    let calls = records(&found, 3, |row| admin::call_row(company, row, 3))?;
    Ok(paged(calls, page, total))
}

/// getCall: [`list_calls`] of the one id.
pub(crate) async fn call(
    db: &impl Db,
    caller: &Caller,
    epoch: &Epoch,
    call: CallId,
) -> Result<Option<Call>, Fail> {
    let filter = CallFilter {
        ids: Some(vec![call]),
        ..CallFilter::default()
    };
    let page = PageAfter::single();
    let found = list_calls(db, caller, epoch, &filter, page).await?;
    Ok(found.items.into_iter().next())
}

/// addCall, in its own transaction of two round trips: `BEGIN` with the
/// facts of [`checks::add_call`] and the count, then the call with its
/// participants, its `call.create` entry and `COMMIT`. The call as stored:
/// in its workspace (the company's default when it names none),
/// participants ascending.
pub(crate) async fn create_call(
    db: &impl Db,
    origin: &Origin,
    caller: &Caller,
    epoch: &Epoch,
    call: &Call,
    now: Timestamp,
) -> Result<Call, Fail> {
    let mut call = Call {
        company: caller.company,
        ..call.clone()
    };
    let fetched = admin::begin_with_known(db, &Needs::add_call(&call)).await?;
    epoch.confirm(caller, fetched.epoch)?;
    checks::add_call(&fetched.known, &call)?;
    if call.workspace.is_none() {
        call.workspace = Some(fetched.default_workspace(call.company)?);
    }
    call.participant_ids.sort_unstable();
    call.participant_ids.dedup();
    let params = CallsParams::new(call.company, std::slice::from_ref(&call));
    // The check found no such call: the write creates it.
    let entry = [NewEntry::call_created(&call, now)];
    let record = audit::RecordParams::new(origin, now, &entry);
    run::commit_with_record(
        db,
        (admin::WRITE_CALLS, &params.params()),
        Some((audit::RECORD, &record.params())),
    )
    .await?;
    Ok(call)
}

// --- permission profiles ---

/// listPermissionProfile: the workspace's profiles by name
/// (case-insensitively), then id; `NoWorkspace` unless the workspace is
/// the company's.
pub(crate) async fn profiles(
    db: &impl Db,
    caller: &Caller,
    epoch: &Epoch,
    workspace: WorkspaceId,
) -> Result<Vec<Profile>, Fail> {
    let inner = format!(
        "SELECT {} FROM permission_profiles p
          WHERE p.company_id = $1 AND p.workspace_id = $2
          ORDER BY lower(p.name), p.id",
        admin::PROFILE_COLUMNS
    );
    let sql = read_sql(
        ", EXISTS (SELECT 1 FROM workspaces WHERE id = $2 AND company_id = $1)",
        &inner,
        "lower(page.name), page.id",
    );
    let company = caller.company;
    let params: [&(dyn ToSql + Sync); 2] = [&company.get(), &workspace.get()];
    let found = confirmed(db, caller, epoch, &sql, &params).await?;
    if !found
        .first()
        .map(|row| rows::at::<bool>(row, 1))
        .transpose()?
        .unwrap_or(false)
    {
        return Err(StoreError::NoWorkspace { company, workspace }.into());
    }
    records(&found, 2, |row| admin::profile_row(company, row, 2))
}

/// getPermissionProfile; `NoProfile` unless it is the company's.
pub(crate) async fn profile(
    db: &impl Db,
    caller: &Caller,
    epoch: &Epoch,
    profile: ProfileId,
) -> Result<Profile, Fail> {
    let inner = format!(
        "SELECT {} FROM permission_profiles p WHERE p.company_id = $1 AND p.id = $2",
        admin::PROFILE_COLUMNS
    );
    let sql = read_sql("", &inner, "page.id");
    let company = caller.company;
    let params: [&(dyn ToSql + Sync); 2] = [&company.get(), &profile.get()];
    let found = confirmed(db, caller, epoch, &sql, &params).await?;
    records(&found, 1, |row| admin::profile_row(company, row, 1))?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::NoProfile { company, profile }.into())
}

/// createPermissionProfile (`create`) or updatePermissionProfile, in its
/// own transaction of two round trips: `BEGIN` with the facts of
/// [`checks::save_profile`] and the count (and, for an update, the profile
/// as it is, for its audit entry), then the write, its entry and `COMMIT`.
/// The profile as stored.
pub(crate) async fn save_profile(
    db: &impl Db,
    origin: &Origin,
    caller: &Caller,
    epoch: &Epoch,
    profile: &Profile,
    create: bool,
    now: Timestamp,
) -> Result<Profile, Fail> {
    let mut profile = Profile {
        company: caller.company,
        ..profile.clone()
    };
    profile.fields.remove("id");
    profile.calls.team_leads.sort_unstable();
    profile.calls.team_leads.dedup();
    let needs = Needs::save_profile(&profile);
    let (fetched, before) = if create {
        (admin::begin_with_known(db, &needs).await?, None)
    } else {
        let sql = format!(
            "SELECT {} FROM permission_profiles p WHERE p.company_id = $1 AND p.id = $2",
            admin::PROFILE_COLUMNS
        );
        let ids: [&(dyn ToSql + Sync); 2] = [&profile.company.get(), &profile.id.get()];
        let (fetched, before) = admin::begin_with_known_and(db, &needs, (&sql, &ids)).await?;
        let before = before
            .first()
            .map(|row| admin::profile_row(profile.company, row, 0))
            .transpose()?;
        (fetched, before)
    };
    epoch.confirm(caller, fetched.epoch)?;
    checks::save_profile(&fetched.known, &profile, create)?;
    let params = ProfileParams::new(&profile);
    // The check found the profile new (`create`) or the company's.
    let entry = match &before {
        None => Some(NewEntry::profile_created(&profile)),
        Some(before) => NewEntry::profile_updated(before, &profile),
    };
    let entries: Vec<NewEntry> = entry.into_iter().collect();
    let record = audit::RecordParams::new(origin, now, &entries);
    let record_params = record.params();
    run::commit_with_record(
        db,
        (admin::WRITE_PROFILE, &params.params()),
        (!entries.is_empty()).then_some((audit::RECORD, &record_params[..])),
    )
    .await?;
    Ok(profile)
}

/// listPermissionProfileUsers: the users who hold the profile, by id;
/// `NoProfile` unless it is the company's.
pub(crate) async fn profile_users(
    db: &impl Db,
    caller: &Caller,
    epoch: &Epoch,
    profile: ProfileId,
) -> Result<Vec<User>, Fail> {
    let inner = format!(
        "SELECT {} FROM user_profiles h
           JOIN users u ON u.company_id = h.company_id AND u.id = h.user_id
           {}
          WHERE h.company_id = $1 AND h.profile_id = $2
          ORDER BY u.id",
        admin::USER_COLUMNS,
        admin::USER_JOINS
    );
    let sql = read_sql(
        ", EXISTS (SELECT 1 FROM permission_profiles WHERE id = $2 AND company_id = $1)",
        &inner,
        "page.id",
    );
    let company = caller.company;
    let params: [&(dyn ToSql + Sync); 2] = [&company.get(), &profile.get()];
    let found = confirmed(db, caller, epoch, &sql, &params).await?;
    if !found
        .first()
        .map(|row| rows::at::<bool>(row, 1))
        .transpose()?
        .unwrap_or(false)
    {
        return Err(StoreError::NoProfile { company, profile }.into());
    }
    records(&found, 2, |row| admin::user_row(company, row, 2))
}
