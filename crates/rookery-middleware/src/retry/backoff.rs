//! How long to wait before a retry: exponential backoff with jitter.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the wait before each retry is spread, so that clients that failed together do not
/// retry together (see "Exponential Backoff And Jitter", AWS Architecture Blog).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Jitter {
    /// Exactly `min(cap, base × 2ⁿ)` before the n-th retry (from 0): for tests and for
    /// callers that are alone.
    None,
    /// Anywhere from zero to `min(cap, base × 2ⁿ)`, uniformly: the least total work when many
    /// clients compete.
    #[default]
    Full,
    /// Anywhere from `base` to three times the previous wait, at most `cap`: waits that grow
    /// like the exponential ones but never quite to zero.
    Decorrelated,
}

/// Exponential backoff with jitter: the wait before a retry starts near `base`, doubles with
/// each retry of the same call, and never exceeds `cap`.
///
/// ```toml
/// backoff = { base = "25ms", cap = "250ms", jitter = "full" }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Backoff {
    /// The wait before the first retry (its ceiling, with full jitter).
    #[serde(with = "crate::duration")]
    pub base: Duration,
    /// The longest wait.
    #[serde(with = "crate::duration")]
    pub cap: Duration,
    /// How waits are spread.
    pub jitter: Jitter,
}

impl Default for Backoff {
    /// 25 ms doubling up to 250 ms, full jitter (Envoy's defaults).
    fn default() -> Self {
        Backoff::exponential(Duration::from_millis(25), Duration::from_millis(250))
    }
}

impl Backoff {
    /// From `base`, doubling up to `cap`, with full jitter.
    pub fn exponential(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap: cap.max(base),
            jitter: Jitter::Full,
        }
    }

    /// No wait at all between attempts (a pushback from the server still applies).
    pub fn none() -> Backoff {
        Backoff {
            base: Duration::ZERO,
            cap: Duration::ZERO,
            jitter: Jitter::None,
        }
    }

    /// The same backoff with `jitter`.
    pub fn jitter(mut self, jitter: Jitter) -> Backoff {
        self.jitter = jitter;
        self
    }

    /// The waits of one call's retries, in turn.
    pub(crate) fn delays(&self) -> Delays {
        Delays::new(*self, fastrand::Rng::new())
    }
}

/// The waits before one call's retries.
#[derive(Debug)]
pub(crate) struct Delays {
    backoff: Backoff,
    retries: u32,
    previous: Duration,
    rng: fastrand::Rng,
}

impl Delays {
    pub(crate) fn new(backoff: Backoff, rng: fastrand::Rng) -> Delays {
        Delays {
            backoff,
            retries: 0,
            previous: backoff.base,
            rng,
        }
    }

    /// The wait before the next retry.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let Backoff { base, cap, jitter } = self.backoff;
        let cap = cap.max(base);
        let ceiling = base
            .checked_mul(1u32.checked_shl(self.retries).unwrap_or(u32::MAX))
            .unwrap_or(cap)
            .min(cap);
        self.retries = self.retries.saturating_add(1);
        let delay = match jitter {
            Jitter::None => ceiling,
            Jitter::Full => self.between(Duration::ZERO, ceiling),
            Jitter::Decorrelated => {
                let high = self.previous.saturating_mul(3).min(cap);
                self.between(base, high)
            }
        };
        self.previous = delay;
        delay
    }

    /// Uniformly in `[low, high]` (nanoseconds are plenty for waits under 584 years).
    fn between(&mut self, low: Duration, high: Duration) -> Duration {
        let (low, high) = (nanos(low), nanos(high));
        if high <= low {
            return Duration::from_nanos(low);
        }
        Duration::from_nanos(self.rng.u64(low..=high))
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn without_jitter_waits_double_up_to_the_cap() {
        let mut delays = Delays::new(
            Backoff::exponential(10 * MS, 70 * MS).jitter(Jitter::None),
            fastrand::Rng::with_seed(1),
        );
        let waits: Vec<_> = (0..6).map(|_| delays.next_delay()).collect();
        assert_eq!(
            waits,
            [10 * MS, 20 * MS, 40 * MS, 70 * MS, 70 * MS, 70 * MS]
        );
        // Many retries do not overflow.
        for _ in 0..100 {
            assert_eq!(delays.next_delay(), 70 * MS);
        }
    }

    #[test]
    fn full_jitter_stays_under_the_exponential_ceiling() {
        let backoff = Backoff::exponential(10 * MS, 100 * MS);
        for seed in 0..200 {
            let mut delays = Delays::new(backoff, fastrand::Rng::with_seed(seed));
            for ceiling in [10, 20, 40, 80, 100, 100] {
                assert!(delays.next_delay() <= ceiling * MS);
            }
        }
        // And spreads: not every first wait is the same.
        let firsts: std::collections::HashSet<_> = (0..50)
            .map(|seed| Delays::new(backoff, fastrand::Rng::with_seed(seed)).next_delay())
            .collect();
        assert!(firsts.len() > 10, "{firsts:?}");
    }

    #[test]
    fn decorrelated_jitter_stays_between_base_and_cap() {
        let backoff = Backoff::exponential(10 * MS, 100 * MS).jitter(Jitter::Decorrelated);
        for seed in 0..200 {
            let mut delays = Delays::new(backoff, fastrand::Rng::with_seed(seed));
            let mut previous = 10 * MS;
            for _ in 0..10 {
                let wait = delays.next_delay();
                assert!(wait >= 10 * MS && wait <= 100 * MS, "{wait:?}");
                assert!(wait <= previous * 3, "{wait:?} after {previous:?}");
                previous = wait;
            }
        }
    }

    #[test]
    fn no_backoff_waits_nothing() {
        let mut delays = Backoff::none().delays();
        assert_eq!(delays.next_delay(), Duration::ZERO);
        assert_eq!(delays.next_delay(), Duration::ZERO);
    }
}
