//! The peak-EWMA latency estimate of an endpoint (Finagle's and linkerd's): a moving average
//! that decays with time, not with the number of samples, and that jumps at once to a sample
//! slower than itself.

use std::sync::atomic::{AtomicU64, Ordering};

/// How fast old samples fade: after this long their weight has fallen to 1/e. Finagle and
/// linkerd use 10 s too.
pub const DECAY_NS: f64 = 10e9;

/// No sample yet.
const UNKNOWN: u64 = u64::MAX;

/// A latency estimate, updated and read without locks.
///
/// A slow sample is taken whole, so one slow reply makes the endpoint look slow at once; fast
/// samples pull the estimate down as an average weighted by how long ago the last sample was.
/// Read, the estimate decays towards zero while no sample arrives, so an endpoint that looked
/// slow is tried again after a while (and a new sample sets it right).
///
/// Two updates racing may lose one sample's effect; an estimate needs no more precision than
/// that, and the call path takes no lock for it.
#[derive(Debug)]
pub struct PeakEwma {
    /// The estimate in nanoseconds, as `f64` bits, or [`UNKNOWN`].
    cost: AtomicU64,
    /// When the last sample arrived, in nanoseconds since the process epoch.
    stamp: AtomicU64,
}

impl Default for PeakEwma {
    fn default() -> Self {
        PeakEwma::new()
    }
}

impl PeakEwma {
    /// An estimate with no sample yet.
    pub const fn new() -> PeakEwma {
        PeakEwma {
            cost: AtomicU64::new(UNKNOWN),
            stamp: AtomicU64::new(0),
        }
    }

    /// An estimate that starts from `ns`, as if sampled at `now`.
    pub(crate) fn starting_at(ns: Option<f64>, now: u64) -> PeakEwma {
        PeakEwma {
            cost: AtomicU64::new(ns.map_or(UNKNOWN, f64::to_bits)),
            stamp: AtomicU64::new(now),
        }
    }

    /// Records a sample of `rtt_ns` taken at `now`.
    pub fn observe(&self, rtt_ns: f64, now: u64) {
        let last = self.stamp.swap(now, Ordering::Relaxed);
        let elapsed = now.saturating_sub(last) as f64;
        let weight = (-elapsed / DECAY_NS).exp();
        let mut current = self.cost.load(Ordering::Relaxed);
        loop {
            let next = if current == UNKNOWN {
                rtt_ns
            } else {
                let cost = f64::from_bits(current);
                if rtt_ns > cost {
                    rtt_ns
                } else {
                    cost * weight + rtt_ns * (1.0 - weight)
                }
            };
            match self.cost.compare_exchange_weak(
                current,
                next.to_bits(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(seen) => current = seen,
            }
        }
    }

    /// The estimate at `now` in nanoseconds, decayed since the last sample; `None` before the
    /// first sample.
    #[inline]
    pub fn estimate(&self, now: u64) -> Option<f64> {
        let bits = self.cost.load(Ordering::Relaxed);
        if bits == UNKNOWN {
            return None;
        }
        let cost = f64::from_bits(bits);
        let elapsed = now.saturating_sub(self.stamp.load(Ordering::Relaxed));
        if elapsed == 0 {
            return Some(cost);
        }
        Some(cost * (-(elapsed as f64) / DECAY_NS).exp())
    }

    /// The estimate as of the last sample, without decay.
    pub(crate) fn last(&self) -> Option<f64> {
        match self.cost.load(Ordering::Relaxed) {
            UNKNOWN => None,
            bits => Some(f64::from_bits(bits)),
        }
    }

    /// When the last sample arrived.
    pub(crate) fn stamp(&self) -> u64 {
        self.stamp.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: f64 = 1e6;
    const S: u64 = 1_000_000_000;

    #[test]
    fn jumps_to_peaks_and_decays_with_time() {
        let e = PeakEwma::new();
        assert_eq!(e.estimate(S), None);
        e.observe(1.0 * MS, S);
        assert_eq!(e.estimate(S), Some(1.0 * MS));
        // A slow sample is taken whole.
        e.observe(50.0 * MS, S + 1);
        assert_eq!(e.last(), Some(50.0 * MS));
        // A fast sample right after barely moves it; one 10 s later moves it most of the way.
        e.observe(1.0 * MS, S + 2);
        assert!(e.last().unwrap() > 49.0 * MS);
        e.observe(1.0 * MS, 21 * S);
        let after = e.last().unwrap();
        assert!(after < 10.0 * MS && after > 1.0 * MS, "{after}");
        // Unsampled, it decays towards zero: e^-1 after one decay period.
        let now = 21 * S;
        let later = e.estimate(now + 10 * S).unwrap();
        assert!((later - after / std::f64::consts::E).abs() < 1.0, "{later}");
    }
}
