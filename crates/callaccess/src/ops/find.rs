//! Finding things by what an operator knows, for the console.
//!
//! Calls are found by title, id or host, users by id, email or name.
//!
//! The store has no text search, and none is added for this: a company's
//! directory is read in id order through the store's own pages
//! ([`Store::list_calls`], [`Store::users`]) and filtered here. Companies
//! are of the size of an org chart (the spec's largest is 1,000 users and
//! 1,000 calls; a reset of one takes well under a second), so reading a
//! company's calls page by page until a page of matches is found costs
//! a few milliseconds, and both backends answer it with the queries they
//! already have, so they cannot disagree about what a search finds.

use std::collections::{HashMap, HashSet};

use callaccess_domain::access::{OrgChart, Prefetched};
use callaccess_domain::page::{CallFilter, Page, PageAfter};
use callaccess_domain::{
    Call, CallId, Caller, CompanyId, Profile, Store, StoreError, User, UserId, Workspace,
};

/// Calls read per store page while searching.
const SCAN_PAGE: usize = 500;

/// The first `limit` of `found`, and whether there were more.
fn first<T>(mut found: Vec<T>, limit: usize) -> Page<T> {
    let more = found.len() > limit;
    found.truncate(limit);
    Page {
        items: found,
        more,
        total: None,
    }
}

/// Whether `user`'s email or name contains `needle` (lowercase).
fn user_matches(user: &User, needle: &str) -> bool {
    let name = format!(
        "{} {}",
        user.first_name.as_deref().unwrap_or(""),
        user.last_name.as_deref().unwrap_or("")
    );
    user.email_address.to_lowercase().contains(needle) || name.to_lowercase().contains(needle)
}

/// One page (`limit` at most) of the company's calls, by id after `after`,
/// that `query` finds: every call when it is blank, else the calls whose
/// id is `query`, whose title contains it, or whose host (primary user)
/// has it in their email address or name; all case-insensitively.
pub async fn calls(
    store: &dyn Store,
    company: CompanyId,
    query: &str,
    after: Option<i64>,
    limit: usize,
) -> Result<Page<Call>, StoreError> {
    let caller = Caller::verified(company);
    let needle = query.trim().to_lowercase();
    if needle.is_empty() {
        return store
            .list_calls(
                caller,
                &CallFilter::default(),
                PageAfter {
                    after,
                    limit,
                    count: false,
                },
            )
            .await;
    }
    let hosts: HashSet<UserId> = store
        .users(company)
        .await?
        .into_iter()
        .filter(|user| user_matches(user, &needle))
        .map(|user| user.id)
        .collect();
    let id: Option<CallId> = CallId::parse(query.trim()).ok();
    let finds = |call: &Call| {
        Some(call.id) == id
            || hosts.contains(&call.primary_user_id)
            || call
                .title
                .as_deref()
                .is_some_and(|t| t.to_lowercase().contains(&needle))
    };
    let mut found = Vec::new();
    let mut from = after;
    loop {
        let page = store
            .list_calls(
                caller,
                &CallFilter::default(),
                PageAfter {
                    after: from,
                    limit: SCAN_PAGE,
                    count: false,
                },
            )
            .await?;
        from = page.items.last().map(|call| call.id.get());
        found.extend(page.items.into_iter().filter(|call| finds(call)));
        if found.len() > limit || !page.more || from.is_none() {
            break;
        }
    }
    Ok(first(found, limit))
}

/// One page (`limit` at most) of the company's users, by id after
/// `after`, that `query` finds: every user when it is blank, else those
/// whose id is `query` or whose email address or name contains it
/// (case-insensitively).
pub async fn users(
    store: &dyn Store,
    company: CompanyId,
    query: &str,
    after: Option<i64>,
    limit: usize,
) -> Result<Page<User>, StoreError> {
    let needle = query.trim().to_lowercase();
    let id = UserId::parse(query.trim()).ok();
    let mut found: Vec<User> = store
        .users(company)
        .await?
        .into_iter()
        .filter(|user| after.is_none_or(|after| user.id.get() > after))
        .filter(|user| needle.is_empty() || Some(user.id) == id || user_matches(user, &needle))
        .collect();
    found.sort_by_key(|user| user.id);
    Ok(first(found, limit))
}

/// The company's user named by `text`: their id, or their email address
/// (case-insensitively). `NoUser` / [`super::invalid`] when there is none.
pub async fn user(store: &dyn Store, company: CompanyId, text: &str) -> Result<User, StoreError> {
    let text = text.trim();
    if let Ok(id) = UserId::parse(text) {
        if let Some(user) = store.user(Caller::verified(company), id).await? {
            return Ok(user);
        }
        return Err(StoreError::NoUser { company, user: id });
    }
    let email = text.to_lowercase();
    store
        .users(company)
        .await?
        .into_iter()
        .find(|user| user.email_address.to_lowercase() == email)
        .ok_or_else(|| {
            super::invalid(format!(
                "no user of this company has the id or email address {:?}",
                text.chars().take(100).collect::<String>()
            ))
        })
}

/// The profile `user` holds in each workspace of the company that has one
/// for them, by workspace.
pub async fn profiles_of(
    store: &dyn Store,
    company: CompanyId,
    user: UserId,
) -> Result<Vec<(Workspace, Profile)>, StoreError> {
    let caller = Caller::verified(company);
    let mut held = Vec::new();
    for workspace in store.workspaces(caller).await? {
        for profile in store.profiles(caller, workspace.id).await? {
            let holders = store.profile_users(caller, profile.id).await?;
            if holders.iter().any(|holder| holder.id == user) {
                held.push((workspace.clone(), profile));
                break;
            }
        }
    }
    Ok(held)
}

/// `user`'s managers, nearest first, up to the top of the org chart: the
/// walk of [`OrgChart::managers_above`] (which also decides where a chain
/// written around the checks stops), over the company's users read once.
pub async fn manager_chain(
    store: &dyn Store,
    company: CompanyId,
    user: &User,
) -> Result<Vec<User>, StoreError> {
    let users: HashMap<UserId, User> = store
        .users(company)
        .await?
        .into_iter()
        .map(|user| (user.id, user))
        .collect();
    let mut chart = Prefetched::default();
    for each in users.values() {
        chart.insert_user(each.id, each.manager_id);
    }
    Ok(chart
        .managers_above(user.id)?
        .into_iter()
        .filter_map(|id| users.get(&id).cloned())
        .collect())
}
