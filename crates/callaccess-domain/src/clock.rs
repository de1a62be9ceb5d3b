//! The service's clock: the machine's, or a manual one that only moves when
//! told (`serve --clock manual`), so that a test of a day's budget or of a
//! key's expiry runs in milliseconds (control-plane.md §6).
//!
//! Every reading of "now" that decides something or is stored goes through
//! a [`Clock`]: rate-limit windows, credential expiry, stored timestamps.
//! Clones share one clock, so the edge, the store and the rate limiter of a
//! server read the same time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::model::Timestamp;

/// Where the service reads the time. Cheap to clone; clones share it.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// `None`: the system clock. `Some`: microseconds since the Unix epoch,
    /// moved only by [`Clock::advance`] and [`Clock::set`], never back.
    manual: Option<Arc<AtomicI64>>,
}

/// Why the clock was not moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    #[error("the server runs on the system clock, which cannot be moved; start it with --clock manual to move time by hand")]
    System,
    #[error("the clock never goes backwards: it is {now} and {asked} is earlier")]
    Backwards { now: Timestamp, asked: Timestamp },
}

fn system_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

impl Clock {
    /// The machine's clock.
    pub fn system() -> Self {
        Self { manual: None }
    }

    /// A clock that stands at `start` until moved.
    pub fn manual_at(start: Timestamp) -> Self {
        Self::manual_micros(start.unix().saturating_mul(1_000_000))
    }

    /// A clock that stands at the present second until moved: a whole
    /// second, like every time it reports, so that setting it to the time
    /// it shows is not a step back.
    pub fn manual() -> Self {
        Self::manual_micros(system_micros().div_euclid(1_000_000) * 1_000_000)
    }

    fn manual_micros(micros: i64) -> Self {
        Self {
            manual: Some(Arc::new(AtomicI64::new(micros))),
        }
    }

    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// Microseconds since the Unix epoch.
    pub fn now_micros(&self) -> i64 {
        match &self.manual {
            Some(at) => at.load(Ordering::Acquire),
            None => system_micros(),
        }
    }

    /// The current time, in the seconds every stored timestamp has.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_unix(self.now_micros().div_euclid(1_000_000))
    }

    /// Moves a manual clock forward by `by`; the time it then reads.
    pub fn advance(&self, by: Duration) -> Result<Timestamp, ClockError> {
        let at = self.manual.as_ref().ok_or(ClockError::System)?;
        let by = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        let before = at.fetch_add(by, Ordering::AcqRel);
        Ok(Timestamp::from_unix(
            before.saturating_add(by).div_euclid(1_000_000),
        ))
    }

    /// Sets a manual clock to `to`, which may not be earlier than now. The
    /// second it already reads (after an advance by a fraction of one)
    /// counts as now: the clock stays where it is rather than step back.
    pub fn set(&self, to: Timestamp) -> Result<Timestamp, ClockError> {
        let at = self.manual.as_ref().ok_or(ClockError::System)?;
        let target = to.unix().saturating_mul(1_000_000);
        let mut current = at.load(Ordering::Acquire);
        loop {
            let shown = Timestamp::from_unix(current.div_euclid(1_000_000));
            if to < shown {
                return Err(ClockError::Backwards {
                    now: shown,
                    asked: to,
                });
            }
            if target <= current {
                return Ok(to);
            }
            match at.compare_exchange(current, target, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(to),
                Err(seen) => current = seen,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_never_back() {
        let start = Timestamp::parse_rfc3339("2030-01-01T00:00:00Z").unwrap();
        let clock = Clock::manual_at(start);
        let shared = clock.clone();
        assert_eq!(clock.now(), start);
        assert_eq!(
            shared.advance(Duration::from_secs(86_400)).unwrap(),
            start.plus_seconds(86_400)
        );
        assert_eq!(clock.now(), start.plus_seconds(86_400), "clones share it");
        assert_eq!(
            clock.set(start),
            Err(ClockError::Backwards {
                now: start.plus_seconds(86_400),
                asked: start
            })
        );
        let later = start.plus_seconds(90 * 86_400);
        assert_eq!(clock.set(later).unwrap(), later);
        assert_eq!(clock.now(), later);
    }

    #[test]
    fn setting_the_second_it_shows_keeps_a_fraction_rather_than_step_back() {
        let start = Timestamp::parse_rfc3339("2030-01-01T00:00:00Z").unwrap();
        let clock = Clock::manual_at(start);
        clock.advance(Duration::from_millis(1500)).unwrap();
        assert_eq!(clock.now(), start.plus_seconds(1));
        assert_eq!(clock.set(start.plus_seconds(1)), Ok(start.plus_seconds(1)));
        assert_eq!(clock.now_micros(), (start.unix() * 1_000_000) + 1_500_000);
        assert!(clock.set(start).is_err());
        // A manual clock started now stands at a whole second.
        assert_eq!(Clock::manual().now_micros() % 1_000_000, 0);
    }

    #[test]
    fn the_system_clock_cannot_be_moved() {
        let clock = Clock::system();
        assert!(!clock.is_manual());
        assert_eq!(
            clock.advance(Duration::from_secs(1)),
            Err(ClockError::System)
        );
        assert_eq!(clock.set(Timestamp::from_unix(0)), Err(ClockError::System));
        assert!((clock.now().unix() - Timestamp::now().unix()).abs() <= 1);
    }
}
