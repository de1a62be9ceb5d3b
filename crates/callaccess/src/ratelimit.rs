//! Per-company rate limits (contract §6).
//!
//! Each company has two budgets: requests per second and requests per day
//! window. Both use GCRA (the `governor` crate): a company may spend its whole
//! budget at once, after which capacity returns evenly over the window (one
//! request every 1/N s for the per-second limit, one every 86 400/N s for the
//! day limit). The day window is therefore rolling, not a calendar day: a
//! company that used 10,000 requests at 09:00 gets its next one at 09:00:08.6.
//!
//! [`RateLimiter`] is the seam: [`LocalLimiter`] keeps the state in this
//! process; [`SharedLimiter`] keeps it in the database, through the
//! backend's [`SharedRateBudget`], so that several nodes share one budget.
//! Which one a server gets is decided where the backend is assembled
//! (`crate::db::open`). Both read time from a [`RateClock`] over the
//! server's clock, which `serve --clock manual` and the tests make manual
//! so that no test waits out a window.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use callaccess_domain::Clock as ServiceClock;
use callaccess_domain::{Budget, CompanyId, Limit, RateLimit, RateWindow, SharedRateBudget};
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::Quota;

/// Where the rate limiters read the time: the server's [`ServiceClock`]
/// (`callaccess_domain::Clock`), so that a manual clock (`serve --clock
/// manual`, every `TestApp`) moves rate-limit windows with everything else.
/// On the system clock, windows in memory run on the machine's monotonic
/// clock and budgets kept in the database on the database's own clock,
/// which every node agrees on; on a manual clock both run on its time.
/// Clones share one clock.
#[derive(Debug, Clone)]
pub struct RateClock {
    clock: ServiceClock,
    /// When this rate clock was made: on the system clock, `now()` is the
    /// monotonic time since.
    start: std::time::Instant,
    /// The manual clock's reading when this rate clock was made: on a
    /// manual clock, `now()` is its time since (it never goes back).
    start_micros: i64,
}

impl Default for RateClock {
    fn default() -> Self {
        Self::system()
    }
}

impl From<ServiceClock> for RateClock {
    fn from(clock: ServiceClock) -> Self {
        Self::new(clock)
    }
}

impl RateClock {
    /// Reads `clock`.
    pub fn new(clock: ServiceClock) -> Self {
        Self {
            start: std::time::Instant::now(),
            start_micros: clock.now_micros(),
            clock,
        }
    }

    pub fn system() -> Self {
        Self::new(ServiceClock::system())
    }

    /// A clock that only moves when told to.
    pub fn manual() -> Self {
        Self::new(ServiceClock::manual())
    }

    /// The service clock this reads.
    pub fn clock(&self) -> &ServiceClock {
        &self.clock
    }

    /// The moment to count a request in the database at: `None` (the
    /// database's clock) unless the clock is manual.
    fn unix_micros(&self) -> Option<i64> {
        self.clock.is_manual().then(|| self.clock.now_micros())
    }
}

impl Clock for RateClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        if self.clock.is_manual() {
            let since = self.clock.now_micros().saturating_sub(self.start_micros);
            Nanos::from(Duration::from_micros(u64::try_from(since).unwrap_or(0)))
        } else {
            Nanos::from(self.start.elapsed())
        }
    }
}

/// The server-wide limits, which a company's own settings override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitDefaults {
    /// `None`: no per-second limit.
    pub per_second: Option<NonZeroU32>,
    /// `None`: no daily limit.
    pub per_day: Option<NonZeroU32>,
    /// Length of the "day" window; 24 hours except in tests.
    pub day_window: Duration,
}

impl Default for RateLimitDefaults {
    fn default() -> Self {
        // Gong's published defaults: 3 per second, 10,000 per day.
        Self {
            per_second: NonZeroU32::new(3),
            per_day: NonZeroU32::new(10_000),
            day_window: Duration::from_secs(86_400),
        }
    }
}

impl RateLimitDefaults {
    pub const OFF: Self = Self {
        per_second: None,
        per_day: None,
        day_window: Duration::from_secs(86_400),
    };

    /// The limits that apply to a company with these settings.
    pub fn policy(&self, company: &RateLimit) -> Policy {
        let pick = |own: Limit, default: Option<NonZeroU32>| match own {
            Limit::Default => default,
            Limit::Off => None,
            Limit::Max(n) => NonZeroU32::new(n),
        };
        Policy {
            per_second: pick(company.per_second, self.per_second),
            per_day: pick(company.per_day, self.per_day),
            day_window: self.day_window,
        }
    }
}

/// The effective limits of one company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    pub per_second: Option<NonZeroU32>,
    pub per_day: Option<NonZeroU32>,
    pub day_window: Duration,
}

/// Which limit a request ran into, and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    pub window: Window,
    pub limit: u32,
    /// Whole seconds, at least 1: the `Retry-After` value.
    pub retry_after_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Second,
    Day,
}

#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one request of `company` against `policy`, or says why not.
    async fn acquire(&self, company: CompanyId, policy: Policy) -> Result<(), Exceeded>;

    /// Forgets what was spent by `company` (every company with `None`), as
    /// a reset of the store does: the next request starts a fresh budget.
    /// Budgets kept in the database are cleared with its data, so the
    /// default does nothing.
    fn forget(&self, _company: Option<CompanyId>) {}
}

type Direct = governor::RateLimiter<NotKeyed, InMemoryState, RateClock, NoOpMiddleware<Nanos>>;

/// The limiters of one company, remembered with the policy they were built
/// for so that a changed setting takes effect on the next request.
struct CompanyLimiters {
    policy: Policy,
    second: Option<Direct>,
    day: Option<Direct>,
}

impl CompanyLimiters {
    fn new(policy: Policy, clock: &RateClock) -> Self {
        let day_quota = |n: NonZeroU32| {
            let period = policy.day_window / n.get();
            Quota::with_period(period.max(Duration::from_nanos(1))).map(|q| q.allow_burst(n))
        };
        Self {
            policy,
            second: policy
                .per_second
                .map(|n| Direct::direct_with_clock(Quota::per_second(n), clock.clone())),
            day: policy
                .per_day
                .and_then(day_quota)
                .map(|quota| Direct::direct_with_clock(quota, clock.clone())),
        }
    }
}

/// Rate limits kept in this process's memory: right for one node.
pub struct LocalLimiter {
    // One short critical section per request: look the company's limiters up
    // (or build them). The check itself runs outside the lock.
    companies: Mutex<HashMap<CompanyId, Arc<CompanyLimiters>>>,
    clock: RateClock,
}

impl LocalLimiter {
    pub fn new(clock: RateClock) -> Self {
        Self {
            companies: Mutex::default(),
            clock,
        }
    }

    fn companies(&self) -> std::sync::MutexGuard<'_, HashMap<CompanyId, Arc<CompanyLimiters>>> {
        match self.companies.lock() {
            Ok(guard) => guard,
            // A panic elsewhere while holding this lock leaves only a map of
            // limiters behind, which is still consistent.
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn limiters(&self, company: CompanyId, policy: Policy) -> Arc<CompanyLimiters> {
        let mut companies = self.companies();
        let entry = companies
            .entry(company)
            .or_insert_with(|| Arc::new(CompanyLimiters::new(policy, &self.clock)));
        if entry.policy != policy {
            *entry = Arc::new(CompanyLimiters::new(policy, &self.clock));
        }
        entry.clone()
    }
}

#[async_trait]
impl RateLimiter for LocalLimiter {
    fn forget(&self, company: Option<CompanyId>) {
        let mut companies = self.companies();
        match company {
            Some(company) => {
                companies.remove(&company);
            }
            None => companies.clear(),
        }
    }

    async fn acquire(&self, company: CompanyId, policy: Policy) -> Result<(), Exceeded> {
        if policy.per_second.is_none() && policy.per_day.is_none() {
            return Ok(());
        }
        let limiters = self.limiters(company, policy);
        if let (Some(limiter), Some(n)) = (&limiters.second, policy.per_second) {
            limiter.check().map_err(|until| {
                exceeded(
                    Window::Second,
                    n.get(),
                    until.wait_time_from(self.clock.now()),
                )
            })?;
        }
        if let (Some(limiter), Some(n)) = (&limiters.day, policy.per_day) {
            limiter.check().map_err(|until| {
                exceeded(Window::Day, n.get(), until.wait_time_from(self.clock.now()))
            })?;
        }
        Ok(())
    }
}

/// Rate limits kept in the database through [`SharedRateBudget`], so that
/// every node on one database counts against the same budgets.
///
/// Requests are counted in batches: while one count of a company's
/// requests is with the database, the company's next requests wait for it
/// and are then counted together, in one transaction of the budget's
/// ([`SharedRateBudget::acquire_many`]), first come first admitted. A node
/// under load therefore spends about one count per round trip of the
/// database, not one per request, and a lone request waits for nothing
/// but its own count.
pub struct SharedLimiter {
    budget: Arc<dyn SharedRateBudget>,
    clock: RateClock,
    /// Requests waiting to be counted, per company and policy. An entry
    /// exists while a count for its key is running (see [`count_batches`]).
    waiting: Arc<Waiting>,
}

type Waiter = tokio::sync::oneshot::Sender<Result<(), Exceeded>>;

/// The requests waiting to be counted, by company and policy.
type Queues = HashMap<(CompanyId, Policy), Vec<Waiter>>;
type Waiting = Mutex<Queues>;

/// Most requests counted in one batch.
const MAX_BATCH: usize = 1024;

impl SharedLimiter {
    pub fn new(budget: Arc<dyn SharedRateBudget>, clock: RateClock) -> Self {
        Self {
            budget,
            clock,
            waiting: Arc::default(),
        }
    }
}

/// The budgets a policy sets, with what a refusal reports.
fn budgets_of(policy: Policy) -> Vec<(Budget, Window, u32)> {
    [
        (
            RateWindow::Second,
            Window::Second,
            policy.per_second,
            Duration::from_secs(1),
        ),
        (
            RateWindow::Day,
            Window::Day,
            policy.per_day,
            policy.day_window,
        ),
    ]
    .into_iter()
    .filter_map(|(stored, window, limit, period)| {
        let limit = limit?.get();
        let budget = Budget {
            window: stored,
            emission: period / limit,
            burst: limit,
        };
        Some((budget, window, limit))
    })
    .collect()
}

fn lock_waiting(waiting: &Waiting) -> std::sync::MutexGuard<'_, Queues> {
    // A panic while holding the lock leaves a map of senders, which is
    // still consistent.
    waiting
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Counts the requests waiting under `key`, batch after batch, until none
/// is left; then removes the key, so the next request starts a count.
async fn count_batches(
    budget: Arc<dyn SharedRateBudget>,
    clock: RateClock,
    waiting: Arc<Waiting>,
    key: (CompanyId, Policy),
) {
    let (company, policy) = key;
    let budgets = budgets_of(policy);
    let plain: Vec<Budget> = budgets.iter().map(|(budget, _, _)| *budget).collect();
    loop {
        let batch: Vec<Waiter> = {
            let mut waiting = lock_waiting(&waiting);
            let Some(queue) = waiting.get_mut(&key) else {
                return;
            };
            if queue.is_empty() {
                waiting.remove(&key);
                return;
            }
            let take = queue.len().min(MAX_BATCH);
            queue.drain(..take).collect()
        };
        let count = u32::try_from(batch.len()).unwrap_or(u32::MAX);
        match budget
            .acquire_many(company, &plain, count, clock.unix_micros())
            .await
        {
            Ok(outcome) => {
                let refusal = outcome.refused.and_then(|(window, wait)| {
                    let (_, window, limit) = budgets.iter().find(|(b, _, _)| b.window == window)?;
                    Some(exceeded(*window, *limit, wait))
                });
                for (i, waiter) in batch.into_iter().enumerate() {
                    let admitted = u32::try_from(i).unwrap_or(u32::MAX) < outcome.admitted;
                    let answer = match refusal {
                        Some(refusal) if !admitted => Err(refusal),
                        _ => Ok(()),
                    };
                    // A request that went away needs no answer.
                    let _ = waiter.send(answer);
                }
            }
            // The requests themselves need the same database and will be
            // answered 503 by the store; refusing them here as "rate
            // limited" would tell the clients something untrue.
            Err(e) => {
                tracing::warn!(error = %e, "rate limit state unavailable; requests not counted");
                for waiter in batch {
                    let _ = waiter.send(Ok(()));
                }
            }
        }
    }
}

#[async_trait]
impl RateLimiter for SharedLimiter {
    async fn acquire(&self, company: CompanyId, policy: Policy) -> Result<(), Exceeded> {
        if policy.per_second.is_none() && policy.per_day.is_none() {
            return Ok(());
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let key = (company, policy);
        let start = {
            let mut waiting = lock_waiting(&self.waiting);
            match waiting.get_mut(&key) {
                Some(queue) => {
                    queue.push(tx);
                    false
                }
                None => {
                    waiting.insert(key, vec![tx]);
                    true
                }
            }
        };
        if start {
            tokio::spawn(count_batches(
                Arc::clone(&self.budget),
                self.clock.clone(),
                Arc::clone(&self.waiting),
                key,
            ));
        }
        // A count that ended without answering (its task panicked) counted
        // nothing; the request is let through, as when the state is
        // unavailable.
        rx.await.unwrap_or(Ok(()))
    }
}

fn exceeded(window: Window, limit: u32, wait: Duration) -> Exceeded {
    // Round up, so a client that waits Retry-After seconds is let in.
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Exceeded {
        window,
        limit,
        retry_after_secs: secs.max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn company(n: i64) -> CompanyId {
        CompanyId::from_i64(n).unwrap()
    }

    fn policy(per_second: u32, per_day: u32) -> Policy {
        Policy {
            per_second: NonZeroU32::new(per_second),
            per_day: NonZeroU32::new(per_day),
            day_window: Duration::from_secs(86_400),
        }
    }

    /// Spends `admitted` requests, which must pass, then the refusal of
    /// the next one.
    async fn exhaust(limiter: &LocalLimiter, policy: Policy, admitted: usize) -> Exceeded {
        for _ in 0..admitted {
            limiter.acquire(company(1), policy).await.unwrap();
        }
        limiter.acquire(company(1), policy).await.unwrap_err()
    }

    /// A shared budget in memory that answers slowly, like a database, and
    /// counts how often it was asked.
    #[derive(Default)]
    struct SlowBudget {
        tats: Mutex<HashMap<RateWindow, Option<i64>>>,
        counts: std::sync::atomic::AtomicU32,
    }

    #[async_trait]
    impl SharedRateBudget for SlowBudget {
        async fn acquire_many(
            &self,
            _company: CompanyId,
            budgets: &[Budget],
            count: u32,
            _now: Option<i64>,
        ) -> Result<callaccess_domain::Admitted, callaccess_domain::StoreError> {
            self.counts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
            let mut tats = self.tats.lock().unwrap();
            let inputs: Vec<_> = budgets
                .iter()
                .map(|b| {
                    let tat = tats.get(&b.window).copied().flatten();
                    (tat, b.emission.as_micros() as i64, b.burst)
                })
                .collect();
            // Time stands still: nothing refills during the test.
            let outcome = callaccess_domain::gcra_many(&inputs, 0, count);
            for (b, tat) in budgets.iter().zip(&outcome.tats) {
                tats.insert(b.window, *tat);
            }
            Ok(callaccess_domain::Admitted {
                admitted: outcome.admitted,
                refused: outcome
                    .refused
                    .map(|(i, wait)| (budgets[i].window, Duration::from_micros(wait as u64))),
            })
        }
    }

    #[tokio::test]
    async fn shared_budgets_count_waiting_requests_together_and_admit_exactly_the_budget() {
        let budget = Arc::new(SlowBudget::default());
        let limiter = Arc::new(SharedLimiter::new(budget.clone(), RateClock::system()));
        let answers = futures_util::future::join_all((0..60).map(|_| {
            let limiter = Arc::clone(&limiter);
            tokio::spawn(async move { limiter.acquire(company(1), policy(25, 0)).await })
        }))
        .await;
        let admitted = answers.iter().filter(|a| matches!(a, Ok(Ok(())))).count();
        assert_eq!(admitted, 25, "exactly the burst is admitted");
        for answer in &answers {
            if let Ok(Err(refused)) = answer {
                assert_eq!((refused.window, refused.limit), (Window::Second, 25));
                assert!(refused.retry_after_secs >= 1);
            }
        }
        let counts = budget.counts.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            counts < 10,
            "60 requests at once took {counts} counts of the shared budget"
        );
        // A later request starts a count of its own and is refused too.
        assert!(limiter.acquire(company(1), policy(25, 0)).await.is_err());
        // No limits, no count.
        limiter.acquire(company(2), policy(0, 0)).await.unwrap();
        assert_eq!(
            budget.counts.load(std::sync::atomic::Ordering::Relaxed),
            counts + 1
        );
    }

    #[tokio::test]
    async fn a_burst_of_the_limit_passes_and_the_next_is_refused() {
        let limiter = LocalLimiter::new(RateClock::manual());
        let refused = exhaust(&limiter, policy(3, 0), 3).await;
        assert_eq!(refused.window, Window::Second);
        assert_eq!(refused.limit, 3);
        assert_eq!(refused.retry_after_secs, 1);
        // Another company has its own budget.
        limiter.acquire(company(2), policy(3, 0)).await.unwrap();
    }

    #[tokio::test]
    async fn the_day_budget_says_how_long_to_wait() {
        let limiter = LocalLimiter::new(RateClock::manual());
        let refused = exhaust(&limiter, policy(0, 2), 2).await;
        assert_eq!(refused.window, Window::Day);
        // One request returns every 12 hours.
        assert!(
            (43_000..=43_200).contains(&refused.retry_after_secs),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn a_changed_policy_takes_effect_at_once() {
        let limiter = LocalLimiter::new(RateClock::manual());
        limiter.acquire(company(1), policy(1, 0)).await.unwrap();
        assert!(limiter.acquire(company(1), policy(1, 0)).await.is_err());
        limiter.acquire(company(1), policy(0, 0)).await.unwrap();
    }

    #[tokio::test]
    async fn a_manual_clock_refills_the_budget_only_when_moved() {
        let clock = RateClock::manual();
        let limiter = LocalLimiter::new(clock.clone());
        limiter.acquire(company(1), policy(2, 0)).await.unwrap();
        limiter.acquire(company(1), policy(2, 0)).await.unwrap();
        assert!(limiter.acquire(company(1), policy(2, 0)).await.is_err());
        let service = clock.clock();
        service.advance(Duration::from_millis(499)).unwrap();
        assert!(limiter.acquire(company(1), policy(2, 0)).await.is_err());
        service.advance(Duration::from_millis(1)).unwrap();
        limiter.acquire(company(1), policy(2, 0)).await.unwrap();
        assert!(limiter.acquire(company(1), policy(2, 0)).await.is_err());
        // The database's budget is counted at the manual clock's moment.
        let before = clock.unix_micros().unwrap();
        assert_eq!(before, service.now_micros());
        service.advance(Duration::from_secs(3)).unwrap();
        assert_eq!(clock.unix_micros().unwrap() - before, 3_000_000);
        assert_eq!(RateClock::system().unix_micros(), None);
    }

    #[test]
    fn company_settings_override_the_defaults() {
        let defaults = RateLimitDefaults::default();
        let own = RateLimit {
            per_second: Limit::Off,
            per_day: Limit::Max(5),
        };
        let p = defaults.policy(&own);
        assert_eq!(p.per_second, None);
        assert_eq!(p.per_day, NonZeroU32::new(5));
        let p = defaults.policy(&RateLimit::default());
        assert_eq!(
            (p.per_second, p.per_day),
            (NonZeroU32::new(3), NonZeroU32::new(10_000))
        );
    }
}
