//! The change stream's engine (control-plane.md §9): one reader of the
//! audit trail per node, fanning entries out to every open stream.
//!
//! The tailer reads [`Store::changes_after`] from the last entry it
//! delivered and, when there is nothing new, waits on
//! [`Store::wait_for_changes`] (which a commit through any node of the
//! database wakes, with a timeout as the fallback). Entries go out on a
//! bounded broadcast channel in sequence order, so a writer never waits
//! for a reader: a stream that falls more than [`BUFFER`] entries behind
//! loses its place ([`Next::Overflowed`]) and is closed, and its client
//! resumes from the last id it saw.
//!
//! A stream that starts from an earlier entry first reads the store until
//! it has caught up, then takes the broadcast; it subscribes before it
//! reads, so no entry falls between the two (see [`Subscription::next`]).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use callaccess_domain::{AuditEntry, AuditFilter, AuditOrder, AuditPage, Store, StoreError};
use tokio::sync::{broadcast, watch};

/// Entries a stream may fall behind the tailer before it is closed.
pub const BUFFER: usize = 1024;

/// Entries read from the store at once.
const READ: usize = 500;

/// How long the tailer waits for a change before it looks anyway.
const POLL: Duration = Duration::from_secs(1);

/// After a store error, how long the tailer waits before trying again.
const RETRY: Duration = Duration::from_secs(1);

/// The node's change stream: its tailer and the streams' channel.
pub struct Changes {
    store: Arc<dyn Store>,
    sender: broadcast::Sender<Arc<AuditEntry>>,
    /// The last sequence number the tailer delivered (0 before any).
    position: watch::Receiver<u64>,
    /// Set when the server shuts down, so that open streams end.
    stopping: watch::Receiver<bool>,
}

impl Changes {
    /// Starts the tailer from the newest entry there is now. `stopping`
    /// ends it and every stream.
    pub async fn start(
        store: Arc<dyn Store>,
        stopping: watch::Receiver<bool>,
    ) -> Result<Arc<Self>, StoreError> {
        Self::start_with(store, BUFFER, stopping).await
    }

    /// [`Self::start`], with streams closed `buffer` entries behind.
    pub async fn start_with(
        store: Arc<dyn Store>,
        buffer: usize,
        stopping: watch::Receiver<bool>,
    ) -> Result<Arc<Self>, StoreError> {
        let newest = newest(store.as_ref()).await?;
        let (sender, _) = broadcast::channel(buffer.max(1));
        let (position_tx, position) = watch::channel(newest);
        let changes = Arc::new(Self {
            store: store.clone(),
            sender: sender.clone(),
            position,
            stopping: stopping.clone(),
        });
        tokio::spawn(tail(store, sender, position_tx, newest, stopping));
        Ok(changes)
    }

    /// A stream of the entries after `after` that `filter` selects;
    /// `None`: after the newest entry committed now (which the tailer may
    /// not have reached yet).
    pub async fn subscribe(
        &self,
        after: Option<u64>,
        filter: AuditFilter,
    ) -> Result<Subscription, StoreError> {
        // Subscribed first: whatever the tailer sends from here on is
        // received, and the store has everything sent before.
        let receiver = self.sender.subscribe();
        let position = *self.position.borrow();
        let after = match after {
            Some(after) => after,
            None => newest(self.store.as_ref()).await?,
        };
        Ok(Subscription {
            store: self.store.clone(),
            receiver,
            last: after,
            catching_up: after < position,
            just_caught_up: false,
            pending: VecDeque::new(),
            filter,
            stopping: self.stopping.clone(),
        })
    }

    /// The last sequence number the tailer has delivered.
    pub fn position(&self) -> u64 {
        *self.position.borrow()
    }

    /// Returns once the tailer has delivered `seq` (or stopped).
    pub async fn reached(&self, seq: u64) {
        let mut position = self.position.clone();
        let _ = position.wait_for(|at| *at >= seq).await;
    }
}

/// The newest entry's sequence number, 0 when there is none.
pub async fn newest(store: &dyn Store) -> Result<u64, StoreError> {
    let page = AuditPage {
        order: AuditOrder::Newest,
        from: None,
        limit: 1,
    };
    let entries = store.audit(&AuditFilter::default(), page).await?;
    Ok(entries.first().map_or(0, |e| e.seq))
}

async fn tail(
    store: Arc<dyn Store>,
    sender: broadcast::Sender<Arc<AuditEntry>>,
    position: watch::Sender<u64>,
    mut last: u64,
    mut stopping: watch::Receiver<bool>,
) {
    loop {
        if *stopping.borrow() {
            return;
        }
        let read = tokio::select! {
            read = store.changes_after(last, READ) => read,
            _ = stopping.changed() => return,
        };
        match read {
            Ok(entries) if entries.is_empty() => {
                let waited = tokio::select! {
                    waited = store.wait_for_changes(last, POLL) => waited,
                    _ = stopping.changed() => return,
                };
                if let Err(e) = waited {
                    tracing::warn!(error = %e, "waiting for audit entries failed; reading again shortly");
                    tokio::time::sleep(RETRY).await;
                }
            }
            Ok(entries) => {
                for entry in entries {
                    last = entry.seq;
                    // No stream open is no error: the entry is in the store.
                    let _ = sender.send(Arc::new(entry));
                }
                let _ = position.send(last);
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading audit entries for the change stream failed; trying again shortly");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// What a stream gets next.
#[derive(Debug)]
pub enum Next {
    Entry(Arc<AuditEntry>),
    /// The stream fell too far behind and lost its place; it must be
    /// opened again after the last entry it got.
    Overflowed {
        last: u64,
    },
    /// The server is shutting down.
    Closed,
}

/// One open stream.
pub struct Subscription {
    store: Arc<dyn Store>,
    receiver: broadcast::Receiver<Arc<AuditEntry>>,
    /// The last sequence number this stream has passed (delivered or
    /// filtered out).
    last: u64,
    /// Still reading the store, from an entry the tailer has passed.
    catching_up: bool,
    /// Just caught up: the channel may have filled while the store was
    /// read, which is no reason to close the stream; it reads the store
    /// again instead.
    just_caught_up: bool,
    pending: VecDeque<AuditEntry>,
    filter: AuditFilter,
    stopping: watch::Receiver<bool>,
}

impl Subscription {
    /// The last sequence number the stream has passed.
    pub fn last(&self) -> u64 {
        self.last
    }

    /// The next entry the filter selects, in sequence order.
    pub async fn next(&mut self) -> Result<Next, StoreError> {
        loop {
            if *self.stopping.borrow() {
                return Ok(Next::Closed);
            }
            if let Some(entry) = self.pending.pop_front() {
                self.last = entry.seq;
                if self.filter.selects(&entry) {
                    return Ok(Next::Entry(Arc::new(entry)));
                }
                continue;
            }
            if self.catching_up {
                let entries = self.store.changes_after(self.last, READ).await?;
                if entries.is_empty() {
                    // Caught up with the store, so past everything the
                    // tailer sent before this stream subscribed; the rest
                    // is in the channel (entries up to `last` are skipped).
                    self.catching_up = false;
                    self.just_caught_up = true;
                } else {
                    self.pending.extend(entries);
                }
                continue;
            }
            let received = tokio::select! {
                received = self.receiver.recv() => received,
                _ = self.stopping.changed() => return Ok(Next::Closed),
            };
            let just_caught_up = std::mem::take(&mut self.just_caught_up);
            match received {
                Ok(entry) if entry.seq <= self.last => {}
                Ok(entry) => {
                    self.last = entry.seq;
                    if self.filter.selects(&entry) {
                        return Ok(Next::Entry(entry));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) if just_caught_up => {
                    self.catching_up = true;
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    return Ok(Next::Overflowed { last: self.last })
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(Next::Closed),
            }
        }
    }
}

/// Entries retention removes in one transaction.
const PRUNE_BATCH: usize = 10_000;

/// How often retention looks for entries past their time.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// `--audit-retention`: removes the entries older than `retention` (by the
/// server's clock) at start and every minute, in batches, until `stopping`.
pub async fn retain(
    store: Arc<dyn Store>,
    clock: callaccess_domain::Clock,
    retention: Duration,
    mut stopping: watch::Receiver<bool>,
) {
    let keep = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
    loop {
        let before = clock.now().plus_seconds(keep.saturating_neg());
        let mut pruned = 0u64;
        loop {
            match store.prune_audit(before, PRUNE_BATCH).await {
                Ok(n) => {
                    pruned += n;
                    if n < PRUNE_BATCH as u64 || *stopping.borrow() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "pruning old audit entries failed; trying again in a minute");
                    break;
                }
            }
        }
        if pruned > 0 {
            tracing::info!(pruned, %before, "pruned audit entries past their retention");
        }
        tokio::select! {
            () = tokio::time::sleep(PRUNE_EVERY) => {}
            _ = stopping.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;
    use callaccess_domain::{
        AccessChange, Call, CallId, Caller, CompanyId, NewCompany, Origin, RateLimit, User, UserId,
    };

    async fn store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
        let url: crate::db::DatabaseUrl = format!("sqlite:{}", dir.path().join("x.db").display())
            .parse()
            .unwrap();
        let clock = callaccess_domain::Clock::system();
        crate::db::open_with(&url, &crate::db::PoolSettings::default(), &clock)
            .await
            .unwrap()
            .store
    }

    /// A company with `users` users and one call, and the change that
    /// grants every user the call.
    async fn world(store: &dyn Store, users: i64) -> (CompanyId, AccessChange) {
        let company = CompanyId::from_i64(1).unwrap();
        let origin = Origin::cli();
        store
            .create_company(&NewCompany {
                id: company,
                name: "c".into(),
                rate_limit: RateLimit::default(),
            })
            .await
            .unwrap();
        let ids: Vec<UserId> = (1..=users).map(|n| UserId::from_i64(n).unwrap()).collect();
        for &id in &ids {
            store
                .add_user(&origin, &User::new(company, id, format!("u{id}@c.test")))
                .await
                .unwrap();
        }
        let call = CallId::from_i64(100).unwrap();
        store
            .add_call(&origin, &Call::new(company, call, ids[0]))
            .await
            .unwrap();
        (company, AccessChange::new([(call, ids)]))
    }

    async fn next_entry(subscription: &mut Subscription) -> u64 {
        match tokio::time::timeout(Duration::from_secs(10), subscription.next())
            .await
            .unwrap()
            .unwrap()
        {
            Next::Entry(entry) => entry.seq,
            other => panic!("expected an entry, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_stream_that_falls_behind_is_closed_without_holding_back_writers_or_others() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let (company, grant_all) = world(store.as_ref(), 20).await;
        let (_stop, stopping) = watch::channel(false);
        let changes = Changes::start_with(store.clone(), 8, stopping)
            .await
            .unwrap();
        let start = changes.position();
        let mut slow = changes
            .subscribe(None, AuditFilter::default())
            .await
            .unwrap();
        let mut reader = changes
            .subscribe(None, AuditFilter::default())
            .await
            .unwrap();
        let reading = tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..20 {
                seen.push(next_entry(&mut reader).await);
            }
            seen
        });

        // 20 writes of one entry each; the slow stream reads none of them.
        // Every write completes regardless.
        let mut written = start;
        for (call, users) in grant_all.items() {
            for user in users {
                let one = AccessChange::new([(*call, vec![*user])]);
                store
                    .grant_access(&Origin::cli(), Caller::verified(company), &one)
                    .await
                    .unwrap();
                // One entry at a time through the tailer, so the reader
                // keeps up while the slow stream falls behind.
                written += 1;
                changes.reached(written).await;
            }
        }
        // The other stream got every one, in order.
        let expected: Vec<u64> = (start + 1..=start + 20).collect();
        assert_eq!(reading.await.unwrap(), expected);
        // The slow one is told it lost its place, and where it was.
        match slow.next().await.unwrap() {
            Next::Overflowed { last } => assert_eq!(last, start),
            other => panic!("expected an overflow, got {other:?}"),
        }
        // Opened again after that, it reads the rest from the store.
        let mut resumed = changes
            .subscribe(Some(start), AuditFilter::default())
            .await
            .unwrap();
        for expected in start + 1..=start + 20 {
            assert_eq!(next_entry(&mut resumed).await, expected);
        }
    }

    #[tokio::test]
    async fn a_stream_that_catches_up_from_far_behind_is_not_closed_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let (company, grant_all) = world(store.as_ref(), 30).await;
        let (_stop, stopping) = watch::channel(false);
        let changes = Changes::start_with(store.clone(), 4, stopping)
            .await
            .unwrap();
        let start = changes.position();
        store
            .grant_access(&Origin::cli(), Caller::verified(company), &grant_all)
            .await
            .unwrap();
        // The tailer has passed them all.
        changes.reached(start + 30).await;
        let mut late = changes
            .subscribe(Some(0), AuditFilter::default())
            .await
            .unwrap();
        let mut seen = Vec::new();
        while seen.last() != Some(&(start + 30)) {
            seen.push(next_entry(&mut late).await);
        }
        assert!(seen.windows(2).all(|w| w[1] == w[0] + 1), "{seen:?}");
        assert_eq!(seen.first(), Some(&1));
    }
}
