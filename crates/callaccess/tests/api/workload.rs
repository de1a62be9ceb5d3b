//! The workload of the crash tests (`crash`: kill -9; `power_loss`: a
//! power cut under the server), which makes their check exact.
//!
//! Each request names one "group": 8 (call, user) pairs on two calls that
//! belong to that group alone, so a group is either wholly granted or wholly
//! absent unless a request was torn. Each group belongs to one worker, which
//! sends one request at a time and always flips its group (PUT when absent,
//! DELETE when granted). So for every group the last acknowledged request
//! says its state, except that the one request in flight at the crash may or
//! may not have been applied, as a whole. The crash comes after a random
//! number of acknowledged requests, not after a time, so nothing here waits
//! on a clock.
//!
//! The audit trail is checked with the grants: replayed in sequence order,
//! its `grant.add` and `grant.remove` entries give exactly the grants the
//! file holds (no change without its entry, no entry without its change),
//! each request recorded all 8 of its pairs or none, and every acknowledged
//! request has its entries, under its request id.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use callaccess_domain::{
    Action, AuditEntry, AuditFilter, AuditOrder, AuditPage, CallId, Caller, CompanyId, Store,
};
use callaccess_sqlite::SqliteStore;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::helpers::PATH;
use crate::server_process::{serve_args, write_json, Server, GUARD};

const WORKERS: usize = 8;
const GROUPS_PER_WORKER: usize = 4;
const GROUPS: usize = WORKERS * GROUPS_PER_WORKER;
const USERS: i64 = 12;
const COMPANY: i64 = 4_200_000_000_000_000_001;
const KEY: &str = "CRASHTESTKEY";
const SECRET: &str = "crash-test-secret-0123456789";

fn user_id(i: i64) -> i64 {
    5_000 + i
}

/// The two calls of group `g`.
fn calls_of(g: usize) -> [i64; 2] {
    let base = 9_000 + 2 * g as i64;
    [base, base + 1]
}

/// The users of group `g` on each of its calls (4 each, varying by group).
fn users_of(g: usize) -> [Vec<i64>; 2] {
    let pick = |offset: i64| -> Vec<i64> {
        (0..4)
            .map(|i| user_id((g as i64 * 5 + offset + i * 3) % USERS))
            .collect()
    };
    [pick(0), pick(1)]
}

fn group_body(g: usize) -> Value {
    let calls = calls_of(g);
    let users = users_of(g);
    let items: Vec<Value> = (0..2)
        .map(|i| {
            let ids: Vec<String> = users[i].iter().map(i64::to_string).collect();
            json!({"callId": calls[i].to_string(), "userIds": ids})
        })
        .collect();
    json!({"callAccessList": items})
}

/// The seed of the workload's company, users and calls, in `dir`.
pub(crate) fn write_seed(dir: &Path) -> PathBuf {
    let users: Vec<Value> = (0..USERS)
        .map(|i| json!({"id": user_id(i).to_string(), "emailAddress": format!("u{i}@crash.test"), "callsAccess": "none"}))
        .collect();
    let calls: Vec<Value> = (0..GROUPS)
        .flat_map(calls_of)
        .map(|c| json!({"id": c.to_string(), "primaryUserId": user_id(0).to_string()}))
        .collect();
    let seed = json!({"companies": [{
        "id": COMPANY.to_string(),
        "name": "Crash",
        "apiKeys": [{"accessKey": KEY, "accessKeySecret": SECRET}],
        "users": users,
        "calls": calls,
    }]});
    write_json(dir, "seed.json", &seed)
}

/// Starts `callaccess serve` on `database`, without rate limits, with
/// `envs` added to its environment.
pub(crate) async fn start(database: &Path, seed: &Path, envs: &[(&str, &str)]) -> Server {
    let mut args = serve_args(database);
    args.extend(
        [
            "--seed",
            seed.to_str().unwrap(),
            "--rate-limit-per-second",
            "off",
            "--rate-limit-per-day",
            "off",
        ]
        .map(str::to_owned),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start_with(&args, envs).await
}

/// What the test knows of one group.
#[derive(Debug, Clone, Copy, Default)]
struct Known {
    /// The state the last acknowledged request left (or the state observed
    /// after the last crash).
    granted: bool,
    /// A request sent but not answered: it flips the group if applied.
    in_flight: bool,
}

/// What the test knows of every group, across crashes.
#[derive(Default)]
pub(crate) struct Ledger {
    known: Arc<Mutex<Vec<Known>>>,
    /// Requests acknowledged, over all cycles.
    pub(crate) acked: usize,
    /// Groups whose request was in flight at a crash, over all cycles.
    pub(crate) in_flight_at_crash: usize,
    /// The request id of every acknowledged request, over all cycles.
    acked_requests: Arc<Mutex<Vec<String>>>,
}

impl Ledger {
    pub(crate) fn new() -> Self {
        Self {
            known: Arc::new(Mutex::new(vec![Known::default(); GROUPS])),
            ..Self::default()
        }
    }

    /// Fails unless the cycles did what they are for: enough load, and
    /// requests in flight at some crash (at most crashes, in fact).
    pub(crate) fn assert_exercised(&self, cycles: usize) {
        assert!(self.acked >= cycles * 20, "too little load: {}", self.acked);
        assert!(
            self.in_flight_at_crash > 0,
            "no request was ever in flight at a crash"
        );
    }

    /// Opens `database` after a crash and compares it with what was
    /// acknowledged; returns every violation found (none when the store
    /// kept its promises), and from then on knows the observed state.
    pub(crate) async fn check(&mut self, database: &Path, cycle: usize) -> Vec<String> {
        let store = SqliteStore::open(database).await.unwrap();
        let mut violations = Vec::new();
        let integrity = store.integrity_check().await.unwrap();
        if integrity != ["ok"] {
            violations.push(format!("cycle {cycle}: the file is damaged: {integrity:?}"));
        }
        let observed = observe(&store).await;
        let trail = trail(&store).await;
        store.close().await.unwrap();
        // Every connection closed, so that the disk may be unmounted.
        drop(store);

        let mut known = self.known.lock().unwrap();
        for (g, (state, &pairs)) in known.iter_mut().zip(&observed).enumerate() {
            if pairs != 0 && pairs != 8 {
                violations.push(format!(
                    "cycle {cycle}: group {g} holds {pairs} of its 8 pairs: a request was torn"
                ));
            }
            let granted = pairs == 8;
            if state.in_flight {
                self.in_flight_at_crash += 1;
            } else if granted != state.granted {
                violations.push(format!(
                    "cycle {cycle}: group {g} lost an acknowledged {}",
                    if state.granted { "PUT" } else { "DELETE" }
                ));
            }
            // Applied or not, lost or not: now it is known.
            *state = Known {
                granted,
                in_flight: false,
            };
        }
        drop(known);
        let acked = self.acked_requests.lock().unwrap().clone();
        violations.extend(check_trail(&trail, &observed, &acked, cycle));
        violations
    }
}

/// Every grant entry of the workload's company, oldest first.
async fn trail(store: &SqliteStore) -> Vec<AuditEntry> {
    let filter = AuditFilter {
        company: Some(CompanyId::from_i64(COMPANY).unwrap()),
        ..AuditFilter::default()
    };
    let mut entries = Vec::new();
    let mut from = None;
    loop {
        let page = AuditPage {
            order: AuditOrder::Oldest,
            from,
            limit: 1000,
        };
        let got = store.audit(&filter, page).await.unwrap();
        let Some(last) = got.last() else {
            return entries;
        };
        from = Some(last.seq);
        entries.extend(
            got.into_iter()
                .filter(|e| matches!(e.action, Action::GrantAdd | Action::GrantRemove)),
        );
    }
}

/// What the trail must say of the grants the file holds (`observed`, per
/// group) and of the acknowledged requests.
fn check_trail(
    trail: &[AuditEntry],
    observed: &[usize],
    acked: &[String],
    cycle: usize,
) -> Vec<String> {
    let mut violations = Vec::new();
    let mut held: std::collections::HashSet<(i64, i64)> = Default::default();
    let mut per_request: HashMap<&str, usize> = HashMap::new();
    let mut last_seq = 0;
    for entry in trail {
        if entry.seq <= last_seq {
            violations.push(format!(
                "cycle {cycle}: entry {} after {last_seq}",
                entry.seq
            ));
        }
        last_seq = entry.seq;
        let (Some(call), Some(user)) = (entry.call, entry.user) else {
            violations.push(format!("cycle {cycle}: entry {} names no pair", entry.seq));
            continue;
        };
        let pair = (call.get(), user.get());
        let changed = if entry.action == Action::GrantAdd {
            held.insert(pair)
        } else {
            held.remove(&pair)
        };
        if !changed {
            violations.push(format!(
                "cycle {cycle}: entry {} ({}) records no change",
                entry.seq, entry.action
            ));
        }
        match entry.request_id.as_deref() {
            Some(id) => *per_request.entry(id).or_default() += 1,
            None => violations.push(format!(
                "cycle {cycle}: entry {} has no request id",
                entry.seq
            )),
        }
    }
    for (g, &pairs) in observed.iter().enumerate() {
        let calls = calls_of(g);
        let replayed = held.iter().filter(|(c, _)| calls.contains(c)).count();
        if replayed != pairs {
            violations.push(format!(
                "cycle {cycle}: group {g} holds {pairs} pairs, its entries replay to {replayed}"
            ));
        }
    }
    for (id, &n) in &per_request {
        if n != 8 {
            violations.push(format!(
                "cycle {cycle}: request {id} recorded {n} of its 8 pairs"
            ));
        }
    }
    for id in acked {
        if !per_request.contains_key(id.as_str()) {
            violations.push(format!(
                "cycle {cycle}: acknowledged request {id} has no entries"
            ));
        }
    }
    violations
}

/// The granted pairs of every group, straight from the file.
async fn observe(store: &SqliteStore) -> Vec<usize> {
    let company = CompanyId::from_i64(COMPANY).unwrap();
    let calls: Vec<CallId> = (0..GROUPS)
        .flat_map(calls_of)
        .map(|c| CallId::from_i64(c).unwrap())
        .collect();
    let grants = store
        .list_api_grants(Caller::verified(company), &calls)
        .await
        .unwrap();
    let granted: HashMap<i64, usize> = grants
        .iter()
        .map(|g| (g.call.get(), g.users.len()))
        .collect();
    (0..GROUPS)
        .map(|g| calls_of(g).iter().map(|c| granted[c]).sum())
        .collect()
}

/// The workers of one cycle, flipping their groups on one server.
pub(crate) struct Load {
    workers: Vec<JoinHandle<()>>,
    acked: Arc<AtomicUsize>,
    reached: Arc<Notify>,
    crashing: Arc<AtomicBool>,
}

impl Load {
    /// Starts the workers against `base`; [`Load::reached`] returns once
    /// `crash_after` requests have been acknowledged.
    pub(crate) fn start(base: &str, ledger: &Ledger, crash_after: usize) -> Self {
        let acked = Arc::new(AtomicUsize::new(0));
        let reached = Arc::new(Notify::new());
        let crashing = Arc::new(AtomicBool::new(false));
        let workers = (0..WORKERS)
            .map(|w| {
                tokio::spawn(drive(Worker {
                    worker: w,
                    base: base.to_owned(),
                    known: ledger.known.clone(),
                    acked_requests: ledger.acked_requests.clone(),
                    acked: acked.clone(),
                    crash_after,
                    reached: reached.clone(),
                    crashing: crashing.clone(),
                }))
            })
            .collect();
        Self {
            workers,
            acked,
            reached,
            crashing,
        }
    }

    /// Waits until the number of acknowledged requests is reached.
    pub(crate) async fn reached(&self) {
        tokio::time::timeout(GUARD, self.reached.notified())
            .await
            .expect("the workers stalled");
    }

    /// Says that the crash begins: from here on a refused request is one
    /// the crash interrupted, in flight, not a failure of the test.
    pub(crate) fn crashing(&self) {
        self.crashing.store(true, Ordering::SeqCst);
    }

    /// Waits for every worker to find the server gone; adds the cycle's
    /// acknowledged requests to `ledger` and returns them.
    pub(crate) async fn finish(self, ledger: &mut Ledger) -> usize {
        for worker in self.workers {
            worker.await.unwrap();
        }
        let acked = self.acked.load(Ordering::SeqCst);
        ledger.acked += acked;
        acked
    }
}

struct Worker {
    worker: usize,
    base: String,
    known: Arc<Mutex<Vec<Known>>>,
    acked_requests: Arc<Mutex<Vec<String>>>,
    acked: Arc<AtomicUsize>,
    crash_after: usize,
    reached: Arc<Notify>,
    crashing: Arc<AtomicBool>,
}

/// One worker: flips its own groups one request at a time until the server
/// stops answering (or, once the crash began, stops accepting writes).
async fn drive(w: Worker) {
    let client = reqwest::Client::new();
    let url = format!("{}{PATH}", w.base);
    // ThreadRng cannot be held across an await in a spawned task.
    let mut rng = rand::rngs::StdRng::from_rng(&mut rand::rng());
    loop {
        let g = w.worker * GROUPS_PER_WORKER + rng.random_range(0..GROUPS_PER_WORKER);
        let granted = {
            let mut known = w.known.lock().unwrap();
            known[g].in_flight = true;
            known[g].granted
        };
        let method = if granted {
            reqwest::Method::DELETE
        } else {
            reqwest::Method::PUT
        };
        let sent = client
            .request(method, &url)
            .basic_auth(KEY, Some(SECRET))
            .json(&group_body(g))
            .send()
            .await;
        let (status, request_id) = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let request_id = response
                    .headers()
                    .get("x-traceid")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                // The answer counts only once its body has arrived whole.
                match response.bytes().await {
                    Ok(_) => (status, request_id),
                    Err(_) => return,
                }
            }
            // The server is gone; this request stays in flight.
            Err(_) => return,
        };
        if status != 200 && w.crashing.load(Ordering::SeqCst) {
            // Refused by storage that is going away; it stays in flight.
            return;
        }
        assert_eq!(status, 200, "a request was refused while the server ran");
        w.acked_requests
            .lock()
            .unwrap()
            .push(request_id.expect("an answer without x-traceid"));
        {
            let mut known = w.known.lock().unwrap();
            known[g] = Known {
                granted: !granted,
                in_flight: false,
            };
        }
        if w.acked.fetch_add(1, Ordering::SeqCst) + 1 == w.crash_after {
            w.reached.notify_one();
        }
    }
}
