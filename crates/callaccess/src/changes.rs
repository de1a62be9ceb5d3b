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
//!
//! ## Pausing while no stream is open
//!
//! Reading every entry back after every commit costs the writes when
//! nobody listens (on SQLite it was about a sixth of a single-pair PUT's
//! instructions, docs/PERFORMANCE.md). So where the store can say up to
//! which number the trail is settled ([`Store::settled_through`]), the
//! tailer pauses while the channel has no receiver, and a new stream wakes
//! it. It does not read what was committed meanwhile: no stream wanted it,
//! and a stream that starts from an earlier entry reads the store anyway.
//! It starts again after the settled number `J` it reads on waking.
//!
//! What the streams rely on is [`Tail`]: while `live`, every entry after
//! `position` is sent, in order, to every receiver that exists when it is
//! sent. A paused tailer breaks that for the entries committed while it
//! pauses, so it says so (`live: false`) before it pauses, and a stream
//! takes its `position` only from a live [`Tail`]:
//!
//! 1. the tailer publishes `live: false`, then checks for receivers; only
//!    if there are none does it wait for a wake-up;
//! 2. [`Changes::subscribe`] takes its receiver, wakes the tailer, then
//!    waits for `live: true` and reads `position`.
//!
//! A stream that read `live: true` before step 1 had its receiver then, so
//! the tailer found it in step 1 and went on from where it was, without
//! pausing and without skipping anything (it jumps only after a real
//! pause). A stream that reads `live` after step 1 waits for the tailer's
//! next `live: true`, published with `position = J` after it woke: every
//! entry up to `J` is in the store (settled), every later one is sent to
//! its receiver, which existed before the tailer woke. Either way the
//! stream reads the store up to `position` and takes the rest from the
//! channel, skipping what it read already, as before.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use callaccess_domain::{AuditEntry, AuditFilter, AuditOrder, AuditPage, Store, StoreError};
use tokio::sync::{broadcast, watch, Notify};

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
    /// Where the tailer is.
    tail: watch::Receiver<Tail>,
    /// Wakes a paused tailer: a stream has subscribed.
    wake: Arc<Notify>,
    /// Set when the server shuts down, so that open streams end.
    stopping: watch::Receiver<bool>,
}

/// Where the tailer is (see the module's notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tail {
    /// The last sequence number the tailer delivered (0 before any), or
    /// started again after.
    position: u64,
    /// Every entry after `position` will be sent; `false` while the tailer
    /// may be paused.
    live: bool,
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
        let (tail_tx, tail_rx) = watch::channel(Tail {
            position: newest,
            live: true,
        });
        let wake = Arc::new(Notify::new());
        let changes = Arc::new(Self {
            store: store.clone(),
            sender: sender.clone(),
            tail: tail_rx,
            wake: Arc::clone(&wake),
            stopping: stopping.clone(),
        });
        let tailer = Tailer {
            store,
            sender,
            tail: tail_tx,
            wake,
        };
        tokio::spawn(tailer.run(newest, stopping));
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
        // received, and the store has everything sent before. Then the
        // position of a live tailer (step 2 of the module's notes).
        let receiver = self.sender.subscribe();
        self.wake.notify_one();
        let mut tail = self.tail.clone();
        let mut stopping = self.stopping.clone();
        let position = tokio::select! {
            // Ended: the tailer stopped with the server, nothing more is
            // sent.
            live = tail.wait_for(|t| t.live) => live.map_or_else(|_| self.position(), |t| t.position),
            // The stream ends at its first `next`.
            Ok(_) = stopping.wait_for(|stop| *stop) => self.position(),
        };
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
        self.tail.borrow().position
    }

    /// Returns once the tailer has delivered `seq` (or stopped). It pauses
    /// while no stream is open, so only with a stream open.
    pub async fn reached(&self, seq: u64) {
        let mut tail = self.tail.clone();
        let _ = tail.wait_for(|t| t.position >= seq).await;
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

/// The tailer's side: it alone sends on the channel and moves [`Tail`].
struct Tailer {
    store: Arc<dyn Store>,
    sender: broadcast::Sender<Arc<AuditEntry>>,
    tail: watch::Sender<Tail>,
    wake: Arc<Notify>,
}

impl Tailer {
    async fn run(self, mut last: u64, mut stopping: watch::Receiver<bool>) {
        loop {
            if *stopping.borrow() {
                return;
            }
            if self.sender.receiver_count() == 0 {
                let resumed = tokio::select! {
                    resumed = self.pause(last) => resumed,
                    _ = stopping.changed() => return,
                };
                last = resumed;
            }
            let read = tokio::select! {
                read = self.store.changes_after(last, READ) => read,
                _ = stopping.changed() => return,
            };
            match read {
                Ok(entries) if entries.is_empty() => {
                    let waited = tokio::select! {
                        waited = self.store.wait_for_changes(last, POLL) => waited,
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
                        // A stream that closed since is no error: the entry
                        // is in the store.
                        let _ = self.sender.send(Arc::new(entry));
                    }
                    self.tail.send_replace(Tail {
                        position: last,
                        live: true,
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading audit entries for the change stream failed; trying again shortly");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }

    /// With no stream open: waits for one, unless the store cannot say
    /// where to start again ([`Store::settled_through`]), and answers where
    /// to read from (step 1 of the module's notes).
    async fn pause(&self, last: u64) -> u64 {
        // Not live first, then the check: a stream that saw it live had
        // its receiver before, and is found here.
        self.tail.send_replace(Tail {
            position: last,
            live: false,
        });
        let from = if self.sender.receiver_count() > 0 {
            last
        } else {
            loop {
                // Asked before the wait, so that a store that cannot tell
                // keeps the tailer reading as it did.
                match self.store.settled_through().await {
                    Ok(None) => break last,
                    Ok(Some(_)) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "reading where the audit trail is settled failed; trying again shortly");
                        tokio::time::sleep(RETRY).await;
                        continue;
                    }
                }
                // A wake-up left by a stream that has gone since only
                // brings the tailer round again.
                self.wake.notified().await;
                if self.sender.receiver_count() == 0 {
                    continue;
                }
                // Read after the stream subscribed: every entry up to here
                // is in the store for it, every later one is sent to it.
                match self.store.settled_through().await {
                    Ok(Some(settled)) => break settled.max(last),
                    Ok(None) => break last,
                    Err(e) => {
                        tracing::warn!(error = %e, "reading where the audit trail is settled failed; trying again shortly");
                        tokio::time::sleep(RETRY).await;
                        // Still not live: the stream waits, and a wake-up
                        // is due again for the next round.
                        self.wake.notify_one();
                    }
                }
            }
        };
        self.tail.send_replace(Tail {
            position: from,
            live: true,
        });
        from
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

    /// What a test keeps to its end: the store's folder and the stream's
    /// stop signal.
    struct Guard {
        _dir: tempfile::TempDir,
        _stop: watch::Sender<bool>,
    }

    /// A store with [`world`]'s company of `users` users and a change
    /// stream on it that closes streams `buffer` entries behind.
    async fn started(
        users: i64,
        buffer: usize,
    ) -> (Guard, Arc<dyn Store>, CompanyId, AccessChange, Arc<Changes>) {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let (company, grant_all) = world(store.as_ref(), users).await;
        let (stop, stopping) = watch::channel(false);
        let changes = Changes::start_with(store.clone(), buffer, stopping)
            .await
            .unwrap();
        let guard = Guard {
            _dir: dir,
            _stop: stop,
        };
        (guard, store, company, grant_all, changes)
    }

    /// A stream of every entry after `after`.
    async fn open(changes: &Changes, after: Option<u64>) -> Subscription {
        changes
            .subscribe(after, AuditFilter::default())
            .await
            .unwrap()
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
        let (_guard, store, company, grant_all, changes) = started(20, 8).await;
        let start = changes.position();
        let mut slow = open(&changes, None).await;
        let mut reader = open(&changes, None).await;
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
        let mut resumed = open(&changes, Some(start)).await;
        for expected in start + 1..=start + 20 {
            assert_eq!(next_entry(&mut resumed).await, expected);
        }
    }

    #[tokio::test]
    async fn a_stream_that_catches_up_from_far_behind_is_not_closed_for_it() {
        let (_guard, store, company, grant_all, changes) = started(30, 4).await;
        let start = changes.position();
        // An open stream keeps the tailer reading.
        let _open = open(&changes, None).await;
        store
            .grant_access(&Origin::cli(), Caller::verified(company), &grant_all)
            .await
            .unwrap();
        // The tailer has passed them all.
        changes.reached(start + 30).await;
        let mut late = open(&changes, Some(0)).await;
        let mut seen = Vec::new();
        while seen.last() != Some(&(start + 30)) {
            seen.push(next_entry(&mut late).await);
        }
        assert!(seen.windows(2).all(|w| w[1] == w[0] + 1), "{seen:?}");
        assert_eq!(seen.first(), Some(&1));
    }

    /// Grants `user` (of [`world`]'s users) the call, one entry.
    async fn grant_one(
        store: &dyn Store,
        company: CompanyId,
        grant_all: &AccessChange,
        user: usize,
    ) {
        let (call, users) = &grant_all.items()[0];
        let one = AccessChange::new([(*call, vec![users[user]])]);
        store
            .grant_access(&Origin::cli(), Caller::verified(company), &one)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn with_no_stream_open_the_tailer_pauses_and_streams_opened_later_miss_nothing() {
        let (_guard, store, company, grant_all, changes) = started(40, 8).await;
        let start = changes.position();
        // Written with no stream open: the tailer reads none of them.
        for user in 0..5 {
            grant_one(store.as_ref(), company, &grant_all, user).await;
        }
        assert_eq!(newest(store.as_ref()).await.unwrap(), start + 5);
        assert_eq!(changes.position(), start, "paused, it read nothing");

        // A stream from an entry before the pause reads those from the
        // store, then the next from the tailer, once each, in order.
        let mut resumed = open(&changes, Some(start + 2)).await;
        // A stream from now gets only what comes next.
        let mut fresh = open(&changes, None).await;
        grant_one(store.as_ref(), company, &grant_all, 5).await;
        for expected in start + 3..=start + 6 {
            assert_eq!(next_entry(&mut resumed).await, expected);
        }
        assert_eq!(next_entry(&mut fresh).await, start + 6);

        // Closed and opened again, around writes with no stream open in
        // between: each time the tailer pauses and starts again further on.
        drop((resumed, fresh));
        let mut seen = start + 6;
        for round in 0..10 {
            let user = 6 + 3 * round;
            grant_one(store.as_ref(), company, &grant_all, user).await;
            let mut from_seen = open(&changes, Some(seen)).await;
            let mut from_now = open(&changes, None).await;
            grant_one(store.as_ref(), company, &grant_all, user + 1).await;
            grant_one(store.as_ref(), company, &grant_all, user + 2).await;
            for expected in seen + 1..=seen + 3 {
                assert_eq!(next_entry(&mut from_seen).await, expected, "round {round}");
            }
            for expected in seen + 2..=seen + 3 {
                assert_eq!(next_entry(&mut from_now).await, expected, "round {round}");
            }
            seen += 3;
        }
    }

    #[tokio::test]
    async fn streams_opened_and_closed_during_concurrent_writes_see_each_entry_once_in_order() {
        let (_guard, store, company, grant_all, changes) = started(200, BUFFER).await;
        let start = changes.position();
        let writes = 200u64;
        let writer = {
            let store = store.clone();
            tokio::spawn(async move {
                for user in 0..200 {
                    grant_one(store.as_ref(), company, &grant_all, user).await;
                }
            })
        };
        // Streams come and go (so the tailer pauses and starts again while
        // the entries are written); each one resumes after the last entry
        // the one before it saw, like a client that reconnects.
        let mut seen = start;
        while seen < start + writes {
            let mut stream = open(&changes, Some(seen)).await;
            for _ in 0..7 {
                if seen == start + writes {
                    break;
                }
                assert_eq!(next_entry(&mut stream).await, seen + 1);
                seen += 1;
            }
            drop(stream);
            tokio::task::yield_now().await;
        }
        writer.await.unwrap();
    }
}
