//! Whether an endpoint's connections work: consecutive connection failures put it down for
//! an exponential backoff; a call that reaches it brings it back.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use rookery_transport::client::Backoff;

/// The connection health of one endpoint, without locks.
#[derive(Debug, Default)]
pub struct Health {
    failures: AtomicU32,
    /// Nanoseconds since the process epoch until which the endpoint is skipped; 0 when up.
    down_until: AtomicU64,
}

impl Health {
    /// Whether the endpoint is to be skipped at `now`. Once its backoff has passed it is
    /// eligible again, so the next call probes it.
    #[inline]
    pub fn is_down(&self, now: &crate::Now) -> bool {
        let until = self.down_until.load(Ordering::Relaxed);
        until != 0 && now.get() < until
    }

    /// Whether a backoff was set and has not been cleared by a success (it may have passed).
    #[inline]
    pub fn has_failures(&self) -> bool {
        self.failures.load(Ordering::Relaxed) != 0
    }

    /// How many connection attempts failed in a row.
    pub fn failures(&self) -> u32 {
        self.failures.load(Ordering::Relaxed)
    }

    /// A connection failed at `now`: skip the endpoint for the backoff of this many failures
    /// in a row. Returns how long.
    pub fn connection_failed(&self, now: u64, backoff: &Backoff) -> std::time::Duration {
        let failures = self
            .failures
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        let delay = backoff.delay(failures);
        let until = now.saturating_add(delay.as_nanos() as u64).max(1);
        self.down_until.fetch_max(until, Ordering::Relaxed);
        delay
    }

    /// A call reached the endpoint: it is up. (Free when it was up already: no write.)
    #[inline]
    pub fn connected(&self) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
            self.down_until.store(0, Ordering::Relaxed);
        }
    }

    pub(crate) fn copy_from(&self, other: &Health) {
        self.failures
            .store(other.failures.load(Ordering::Relaxed), Ordering::Relaxed);
        self.down_until
            .store(other.down_until.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}
