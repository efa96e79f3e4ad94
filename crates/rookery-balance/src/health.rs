//! Whether an endpoint is fit to be called.
//!
//! Two things take an endpoint out of picking for a while, through one deadline
//! (`down_until`) that every picker checks:
//!
//! - its connections fail: consecutive connection failures put it down for an exponential
//!   backoff; once that has passed it is picked again, and a call that reaches it brings it
//!   back;
//! - it answers with failures ([outlier ejection](crate::OutlierEjection)): it is ejected
//!   for a time that grows with each ejection; once that has passed it gets one probe call
//!   at a time (half-open) and returns when a probe succeeds.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use rookery_transport::client::Backoff;

use crate::Now;

/// In rotation.
const IN: u8 = 0;
/// Ejected as an outlier: skipped until `down_until`, then probed.
const EJECTED: u8 = 1;
/// Ejected, and a probe call is on it: skipped until the probe's outcome.
const PROBING: u8 = 2;

/// The health of one endpoint, without locks.
#[derive(Debug, Default)]
pub struct Health {
    failures: AtomicU32,
    /// Nanoseconds since the process epoch until which the endpoint is skipped; 0 when up.
    down_until: AtomicU64,
    /// Answers in a row that were failures (outlier detection).
    errors: AtomicU32,
    /// [`IN`], [`EJECTED`] or [`PROBING`].
    ejection: AtomicU8,
    /// Ejections counted toward the next ejection's time.
    ejections: AtomicU32,
    /// When the endpoint last came back from an ejection; 0 if never.
    returned_at: AtomicU64,
}

impl Health {
    /// Whether the endpoint is to be skipped at `now`. Once its connection backoff has
    /// passed it is eligible again, so the next call probes it; once its ejection time has
    /// passed it is eligible while no probe call is on it.
    #[inline]
    pub fn is_down(&self, now: &Now) -> bool {
        let until = self.down_until.load(Ordering::Relaxed);
        until != 0 && (now.get() < until || self.ejection.load(Ordering::Relaxed) == PROBING)
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

    /// Whether the endpoint is ejected as an outlier (its ejection time may have passed, with
    /// a probe to come or on its way).
    #[inline]
    pub fn is_ejected(&self) -> bool {
        self.ejection.load(Ordering::Relaxed) != IN
    }

    /// How many times in a row the endpoint was ejected: the multiplier of its next ejection
    /// time.
    pub fn ejections(&self) -> u32 {
        self.ejections.load(Ordering::Relaxed)
    }

    /// How many answers in a row were failures.
    pub fn consecutive_errors(&self) -> u32 {
        self.errors.load(Ordering::Relaxed)
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

    /// A call reached the endpoint: its connections work. (Free when they did already: no
    /// write.) An ejection stands: only a probe's success ends it.
    #[inline]
    pub fn connected(&self) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
            if self.ejection.load(Ordering::Relaxed) == IN {
                self.down_until.store(0, Ordering::Relaxed);
            }
        }
    }

    /// Takes the probe of an ejected endpoint whose time has passed, for a call starting on
    /// it; `false` if it is not ejected, or not yet due, or another call has the probe.
    #[inline]
    pub(crate) fn claim_probe(&self, now: &Now) -> bool {
        self.ejection.load(Ordering::Relaxed) == EJECTED
            && now.get() >= self.down_until.load(Ordering::Relaxed)
            && self
                .ejection
                .compare_exchange(EJECTED, PROBING, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
    }

    /// The probe ended without an outcome (the call was abandoned, or never left): the next
    /// call may probe.
    pub(crate) fn release_probe(&self) {
        let _ =
            self.ejection
                .compare_exchange(PROBING, EJECTED, Ordering::AcqRel, Ordering::Relaxed);
    }

    /// An answer that was not a failure: the run of failures ends.
    pub(crate) fn answer_succeeded(&self) {
        if self.errors.load(Ordering::Relaxed) != 0 {
            self.errors.store(0, Ordering::Relaxed);
        }
    }

    /// An answer that was a failure: returns how many in a row now.
    pub(crate) fn answer_failed(&self) -> u32 {
        self.errors
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1)
    }

    /// The probe succeeded at `now`: the endpoint is back.
    pub(crate) fn probe_succeeded(&self, now: u64) -> bool {
        let back = self
            .ejection
            .compare_exchange(PROBING, IN, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok();
        if back {
            self.errors.store(0, Ordering::Relaxed);
            self.failures.store(0, Ordering::Relaxed);
            self.returned_at.store(now, Ordering::Relaxed);
            self.down_until.store(0, Ordering::Relaxed);
        }
        back
    }

    /// Ejects the endpoint at `now` for `base` times the ejections in a row (counting this
    /// one), at most `max`; an endpoint that behaved for `max` since it last came back starts
    /// the count over. Returns how long.
    pub(crate) fn eject(
        &self,
        now: u64,
        base: std::time::Duration,
        max: std::time::Duration,
    ) -> std::time::Duration {
        let returned = self.returned_at.load(Ordering::Relaxed);
        if returned != 0 && now.saturating_sub(returned) > max.as_nanos() as u64 {
            self.ejections.store(0, Ordering::Relaxed);
        }
        let n = self
            .ejections
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        let time = base.saturating_mul(n).min(max.max(base));
        let until = now.saturating_add(time.as_nanos() as u64).max(1);
        self.errors.store(0, Ordering::Relaxed);
        self.down_until.fetch_max(until, Ordering::Relaxed);
        self.ejection.store(EJECTED, Ordering::Release);
        time
    }

    pub(crate) fn copy_from(&self, other: &Health) {
        let copy32 = |to: &AtomicU32, from: &AtomicU32| {
            to.store(from.load(Ordering::Relaxed), Ordering::Relaxed)
        };
        let copy64 = |to: &AtomicU64, from: &AtomicU64| {
            to.store(from.load(Ordering::Relaxed), Ordering::Relaxed)
        };
        copy32(&self.failures, &other.failures);
        copy64(&self.down_until, &other.down_until);
        copy32(&self.errors, &other.errors);
        copy32(&self.ejections, &other.ejections);
        copy64(&self.returned_at, &other.returned_at);
        // A probe on the old endpoint ends there; the new one is probed afresh.
        let ejection = match other.ejection.load(Ordering::Relaxed) {
            IN => IN,
            _ => EJECTED,
        };
        self.ejection.store(ejection, Ordering::Relaxed);
    }
}
