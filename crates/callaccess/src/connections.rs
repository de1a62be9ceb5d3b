//! The connections a listener serves, and whom to close when a new client
//! arrives while every slot is taken.
//!
//! A slot held by a connection that is doing nothing — idle between
//! requests, or still sending the headers of one — must not keep a fresh
//! client waiting: one client that opens more than `max_connections`
//! connections and trickles header bytes (or simply leaves them idle) would
//! otherwise stall the service until the header timeout. So when a new
//! connection arrives at the limit, a connection with no request in flight
//! is closed to make room, as nginx does with its reusable keep-alive
//! connections when it runs out of them: one of the client address that
//! holds the most connections, its oldest. A client holding many idle or
//! slow connections thus loses its own first, and a fresh client from
//! another address, once accepted, is not closed while that client holds
//! more. Connections with a request in flight are never closed for this;
//! when every connection has one, new ones wait in the kernel's accept
//! queue.
//!
//! The same table drives the graceful shutdown: every connection is asked
//! to finish its request in flight and close, and the listener waits for the
//! table to empty, up to the grace period.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// One served connection, as the listener sees it.
pub struct Connection {
    id: u64,
    /// The client's address (its port aside): whose connection this is.
    client: IpAddr,
    /// Requests being answered on it now (0 or 1 on HTTP/1.1; more on
    /// HTTP/2).
    in_flight: AtomicUsize,
    /// Closed to make room for a newer connection.
    evicted: AtomicBool,
    /// Asked to close: evicted, or the server is shutting down.
    stop: Notify,
    table: Arc<Table>,
}

/// What a connection's task should do when asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Nothing in flight: close now.
    Now,
    /// Finish what is in flight, then close.
    AfterInFlight,
}

impl Connection {
    /// Waits until the connection is asked to stop, and says how.
    pub async fn stopped(&self) -> Stop {
        self.stop.notified().await;
        if self.evicted.load(Ordering::Acquire) && self.in_flight.load(Ordering::Acquire) == 0 {
            Stop::Now
        } else {
            Stop::AfterInFlight
        }
    }

    /// Marks a request in flight until the returned guard is dropped.
    pub fn request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(Arc::clone(self))
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.table.remove(self.id);
    }
}

/// A request being answered; see [`Connection::request`].
pub struct InFlight(Arc<Connection>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The connection is idle again: a new client waiting at the
            // limit may take its place.
            self.0.table.changed.notify_waiters();
        }
    }
}

/// Every open connection of one listener, oldest first.
pub struct Table {
    max: usize,
    open: Mutex<BTreeMap<u64, std::sync::Weak<Connection>>>,
    next_id: AtomicU64,
    /// A connection closed or became idle.
    changed: Notify,
}

impl Table {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            open: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(0),
            changed: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, std::sync::Weak<Connection>>> {
        // The map stays consistent whatever panicked while holding it.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
        self.changed.notify_waiters();
    }

    /// The open connections, oldest first. The map holds weak references
    /// and the strong ones are taken only after its lock is released: a
    /// connection whose last strong reference is dropped removes itself
    /// from the map, which must not happen while the lock is held.
    fn open(&self) -> Vec<Arc<Connection>> {
        let weak: Vec<std::sync::Weak<Connection>> = self.lock().values().cloned().collect();
        weak.iter().filter_map(std::sync::Weak::upgrade).collect()
    }

    /// Waits until a new connection may be accepted: below the limit, or
    /// at it with a connection that has nothing in flight, which is then
    /// closed (the heaviest client's oldest).
    pub async fn room(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Register before looking, so a change between the look and the
            // wait is not missed.
            changed.as_mut().enable();
            let counted: Vec<Arc<Connection>> = self
                .open()
                .into_iter()
                .filter(|c| !c.evicted.load(Ordering::Acquire))
                .collect();
            if counted.len() < self.max {
                return;
            }
            let mut per_client: HashMap<IpAddr, usize> = HashMap::new();
            for connection in &counted {
                *per_client.entry(connection.client).or_default() += 1;
            }
            // The heaviest client's oldest idle connection: `max_by_key`
            // keeps the last of equal keys, so ids count down.
            let idle = counted
                .iter()
                .filter(|c| c.in_flight.load(Ordering::Acquire) == 0)
                .max_by_key(|c| {
                    (
                        per_client.get(&c.client).copied().unwrap_or(0),
                        std::cmp::Reverse(c.id),
                    )
                });
            if let Some(idle) = idle {
                idle.evicted.store(true, Ordering::Release);
                idle.stop.notify_one();
                metrics::counter!("callaccess_connections_evicted_total").increment(1);
                return;
            }
            drop(counted);
            changed.await;
        }
    }

    /// Registers a newly accepted connection from `client`.
    pub fn insert(self: &Arc<Self>, client: IpAddr) -> Arc<Connection> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let connection = Arc::new(Connection {
            id,
            client,
            in_flight: AtomicUsize::new(0),
            evicted: AtomicBool::new(false),
            stop: Notify::new(),
            table: Arc::clone(self),
        });
        self.lock().insert(id, Arc::downgrade(&connection));
        connection
    }

    /// Asks every connection to finish what is in flight and close.
    pub fn stop_all(&self) {
        for connection in self.open() {
            connection.stop.notify_one();
        }
    }

    /// Waits until every connection has closed.
    pub async fn drained(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.lock().is_empty() {
                return;
            }
            changed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(n: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, n])
    }

    #[tokio::test]
    async fn at_the_limit_the_oldest_idle_connection_makes_room() {
        let table = Table::new(2);
        table.room().await;
        let first = table.insert(client(1));
        table.room().await;
        let second = table.insert(client(1));
        let busy = first.request();
        // At the limit: the first is busy, so the second is closed.
        table.room().await;
        assert!(second.evicted.load(Ordering::Acquire));
        assert!(!first.evicted.load(Ordering::Acquire));
        assert_eq!(second.stopped().await, Stop::Now);
        let third = table.insert(client(1));
        // Now the first and the third are counted, both busy: no room
        // until one becomes idle.
        let also_busy = third.request();
        let waiting = tokio::spawn({
            let table = Arc::clone(&table);
            async move { table.room().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(busy);
        waiting.await.unwrap();
        assert!(first.evicted.load(Ordering::Acquire));
        drop(also_busy);
        drop((first, second, third));
        table.drained().await;
    }

    #[tokio::test]
    async fn the_client_holding_the_most_connections_loses_one_first() {
        let table = Table::new(4);
        let fresh = table.insert(client(2));
        let hoarded: Vec<_> = (0..3).map(|_| table.insert(client(1))).collect();
        table.room().await;
        // Client 1's oldest goes, though client 2's is older.
        assert!(hoarded[0].evicted.load(Ordering::Acquire));
        assert!(!fresh.evicted.load(Ordering::Acquire));
        let next = table.insert(client(3));
        table.room().await;
        assert!(hoarded[1].evicted.load(Ordering::Acquire));
        // One each now: the oldest idle goes.
        let _last = table.insert(client(4));
        table.room().await;
        assert!(fresh.evicted.load(Ordering::Acquire));
        assert!(!hoarded[2].evicted.load(Ordering::Acquire));
        drop(next);
    }

    #[tokio::test]
    async fn a_busy_connection_asked_to_stop_finishes_first() {
        let table = Table::new(4);
        let connection = table.insert(client(1));
        let _busy = connection.request();
        table.stop_all();
        assert_eq!(connection.stopped().await, Stop::AfterInFlight);
    }
}
