//! The sliding window of outcomes a breaker judges by: the last `window` of time cut in
//! buckets, so old outcomes leave a bucket at a time and counting costs no per-call memory.

use std::time::Duration;

use tokio::time::Instant;

/// Outcomes of the calls of one time bucket.
#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    /// Which bucket of time since the window's origin this one counts.
    index: u64,
    successes: u32,
    failures: u32,
}

/// Successes and failures over the last `buckets × width` of time.
#[derive(Debug)]
pub(super) struct Window {
    buckets: Box<[Bucket]>,
    width_ns: u64,
    origin: Instant,
}

/// What a window holds now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Counts {
    pub(super) calls: u32,
    pub(super) failures: u32,
}

impl Window {
    /// A window of `span` cut in `buckets` buckets (at least one, each at least 1 ms).
    pub(super) fn new(span: Duration, buckets: u32, origin: Instant) -> Window {
        let n = buckets.max(1);
        let width_ns = (span.as_nanos() / u128::from(n)).max(1_000_000) as u64;
        Window {
            // Index 0 is a real bucket: start every slot past it so none counts at first.
            buckets: vec![
                Bucket {
                    index: u64::MAX,
                    ..Bucket::default()
                };
                n as usize
            ]
            .into(),
            width_ns,
            origin,
        }
    }

    fn index(&self, now: Instant) -> u64 {
        (now.saturating_duration_since(self.origin).as_nanos() / u128::from(self.width_ns)) as u64
    }

    /// Counts one outcome at `now`.
    pub(super) fn record(&mut self, now: Instant, failure: bool) {
        let index = self.index(now);
        let n = self.buckets.len() as u64;
        let bucket = &mut self.buckets[(index % n) as usize];
        if bucket.index != index {
            *bucket = Bucket {
                index,
                ..Bucket::default()
            };
        }
        if failure {
            bucket.failures = bucket.failures.saturating_add(1);
        } else {
            bucket.successes = bucket.successes.saturating_add(1);
        }
    }

    /// The outcomes within the window at `now`.
    pub(super) fn counts(&self, now: Instant) -> Counts {
        let current = self.index(now);
        let n = self.buckets.len() as u64;
        self.buckets
            .iter()
            .filter(|b| b.index <= current && current - b.index < n)
            .fold(Counts::default(), |c, b| Counts {
                calls: c
                    .calls
                    .saturating_add(b.successes)
                    .saturating_add(b.failures),
                failures: c.failures.saturating_add(b.failures),
            })
    }

    /// Forgets every outcome.
    pub(super) fn clear(&mut self) {
        for b in self.buckets.iter_mut() {
            b.index = u64::MAX;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_leave_the_window_a_bucket_at_a_time() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut w = Window::new(Duration::from_secs(10), 10, t0);
        w.record(at(0), true);
        w.record(at(500), false);
        w.record(at(4_000), true);
        assert_eq!(
            w.counts(at(4_000)),
            Counts {
                calls: 3,
                failures: 2
            }
        );
        // At 10 s the first bucket (0..1 s) has left; at 14 s the one of 4 s too.
        assert_eq!(
            w.counts(at(10_000)),
            Counts {
                calls: 1,
                failures: 1
            }
        );
        assert_eq!(w.counts(at(14_000)), Counts::default());
        // A bucket reused later starts empty.
        w.record(at(20_100), false);
        assert_eq!(
            w.counts(at(20_200)),
            Counts {
                calls: 1,
                failures: 0
            }
        );
        w.clear();
        assert_eq!(w.counts(at(20_200)), Counts::default());
    }
}
