//! Backup (hedged) requests: when to send one, and the latencies that say when.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use faststr::FastStr;
use tokio::time::Instant;

/// When a call that has not been answered yet gets a backup request: a second attempt, to
/// another instance, whose answer is taken if it comes first (the other attempt is then
/// cancelled). "The Tail at Scale" (Dean and Barroso) sends it after the 95th-percentile
/// latency: a few percent more calls buy a much shorter tail.
///
/// Backup requests are sent only for methods marked idempotent (a backup sends the call
/// twice), draw on the [`RetryBudget`](super::RetryBudget) like retries, and count as
/// attempts against `max_attempts`.
#[derive(Clone, Debug, PartialEq)]
pub enum Backup {
    /// After a fixed delay.
    After(Duration),
    /// After the method's latency at `percentile` (`99.0` for p99), as this layer observed it
    /// over the last 10 to 20 seconds, and never sooner than `min`. Until the layer has seen
    /// 20 answers of the method, no backup is sent: it does not yet know what slow is.
    Percentile {
        /// The percentile, from 0 (excluded) to 100.
        percentile: f64,
        /// The shortest delay.
        min: Duration,
    },
}

impl Backup {
    /// A backup request after `delay`.
    pub fn after(delay: Duration) -> Backup {
        Backup::After(delay)
    }

    /// A backup request after the method's observed latency at `percentile` (`99.0`), and
    /// after at least one millisecond.
    pub fn percentile(percentile: f64) -> Backup {
        Backup::Percentile {
            percentile,
            min: Duration::from_millis(1),
        }
    }

    /// The shortest delay of a percentile backup (nothing changes for a fixed one).
    pub fn min_delay(self, min: Duration) -> Backup {
        match self {
            Backup::Percentile { percentile, .. } => Backup::Percentile { percentile, min },
            fixed => fixed,
        }
    }

    /// Whether the delay comes from observed latencies.
    pub(crate) fn observes(&self) -> bool {
        matches!(self, Backup::Percentile { .. })
    }

    /// The delay before the backup request, or `None` when it is not known yet.
    pub(crate) fn delay(&self, latencies: Option<&LatencyWindow>) -> Option<Duration> {
        match self {
            Backup::After(delay) => Some(*delay),
            Backup::Percentile { percentile, min } => {
                latencies?.percentile(*percentile).map(|d| d.max(*min))
            }
        }
    }
}

/// The latency window of each method that needs one, by service and method.
#[derive(Debug, Default)]
pub(crate) struct Latencies {
    by_method: Mutex<HashMap<(FastStr, FastStr), Arc<LatencyWindow>>>,
}

impl Latencies {
    /// The window of `method` of `service`, made on first use.
    pub(crate) fn of(&self, service: &FastStr, method: FastStr) -> Arc<LatencyWindow> {
        let mut by_method = self
            .by_method
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            by_method
                .entry((service.clone(), method))
                .or_insert_with(|| Arc::new(LatencyWindow::new(WINDOW))),
        )
    }
}

/// How long a generation of the histogram lasts: percentiles cover the last one or two.
const WINDOW: Duration = Duration::from_secs(10);

/// Fewer answers than this, and a percentile says nothing.
pub(crate) const MIN_SAMPLES: u64 = 20;

/// Buckets per doubling of the latency: a percentile is at most 25% above the true value.
const SUB_BUCKETS: u32 = 4;

/// Microseconds from 0 to 2⁴¹ (25 days) in buckets of `SUB_BUCKETS` per doubling.
const BUCKETS: usize = 8 + (41 - 3) * SUB_BUCKETS as usize;

/// A latency histogram over a sliding window: two generations, the current one and the one
/// before, so a percentile covers between one and two windows of answers. Log-linear buckets
/// (as HdrHistogram's, coarser) keep it small and its error bounded.
#[derive(Debug)]
pub(crate) struct LatencyWindow {
    window: Duration,
    state: Mutex<Generations>,
}

#[derive(Debug)]
struct Generations {
    current: Box<[u32; BUCKETS]>,
    previous: Box<[u32; BUCKETS]>,
    current_count: u64,
    previous_count: u64,
    started: Instant,
}

impl LatencyWindow {
    pub(crate) fn new(window: Duration) -> LatencyWindow {
        LatencyWindow {
            window,
            state: Mutex::new(Generations {
                current: Box::new([0; BUCKETS]),
                previous: Box::new([0; BUCKETS]),
                current_count: 0,
                previous_count: 0,
                started: Instant::now(),
            }),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Generations) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.rotate(Instant::now(), self.window);
        f(&mut state)
    }

    /// Records one answer's latency.
    pub(crate) fn record(&self, latency: Duration) {
        let i = bucket(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
        self.with(|g| {
            g.current[i] = g.current[i].saturating_add(1);
            g.current_count += 1;
        });
    }

    /// The latency at `percentile` (the upper bound of its bucket), or `None` with fewer
    /// than [`MIN_SAMPLES`] answers in the window.
    pub(crate) fn percentile(&self, percentile: f64) -> Option<Duration> {
        self.with(|g| {
            let total = g.current_count + g.previous_count;
            if total < MIN_SAMPLES {
                return None;
            }
            let share = (percentile / 100.0).clamp(0.0, 1.0);
            let rank = ((share * total as f64).ceil() as u64).clamp(1, total);
            let mut seen = 0u64;
            for i in 0..BUCKETS {
                seen += u64::from(g.current[i]) + u64::from(g.previous[i]);
                if seen >= rank {
                    return Some(Duration::from_micros(upper_bound(i)));
                }
            }
            Some(Duration::from_micros(upper_bound(BUCKETS - 1)))
        })
    }
}

impl Generations {
    fn rotate(&mut self, now: Instant, window: Duration) {
        let age = now.saturating_duration_since(self.started);
        if age < window {
            return;
        }
        if age < window * 2 {
            std::mem::swap(&mut self.current, &mut self.previous);
            self.previous_count = self.current_count;
        } else {
            // Nothing recent enough to keep.
            self.previous.fill(0);
            self.previous_count = 0;
        }
        self.current.fill(0);
        self.current_count = 0;
        self.started = now;
    }
}

/// The bucket of a latency of `us` microseconds: one per microsecond below 8, then
/// `SUB_BUCKETS` per doubling.
fn bucket(us: u64) -> usize {
    if us < 8 {
        return us as usize;
    }
    let exponent = 63 - us.leading_zeros(); // at least 3
    let sub = (us >> (exponent - 2)) & 3;
    (8 + (exponent as usize - 3) * SUB_BUCKETS as usize + sub as usize).min(BUCKETS - 1)
}

/// The first latency, in microseconds, above bucket `i`.
fn upper_bound(i: usize) -> u64 {
    if i < 8 {
        return i as u64 + 1;
    }
    let exponent = (i - 8) / SUB_BUCKETS as usize + 3;
    let sub = ((i - 8) % SUB_BUCKETS as usize) as u64;
    (4 + sub + 1) << (exponent - 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_latency_falls_in_the_bucket_that_bounds_it() {
        let mut previous = 0;
        for us in (0..5000).chain([1 << 20, (1 << 20) + 1, 3 << 30, (1 << 41) - 1]) {
            let i = bucket(us);
            assert!(i >= previous, "buckets grow with latency");
            previous = i;
            assert!(us < upper_bound(i), "{us} in bucket {i}");
            if i > 0 {
                assert!(us >= upper_bound(i - 1), "{us} in bucket {i}");
            }
            // At most 25% above.
            assert!(upper_bound(i) as f64 <= (us as f64 * 1.25).max(us as f64 + 1.0));
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_percentile_needs_enough_answers_and_bounds_the_true_value() {
        let window = LatencyWindow::new(WINDOW);
        for ms in 1..MIN_SAMPLES {
            window.record(Duration::from_millis(ms));
        }
        assert_eq!(window.percentile(99.0), None);
        for ms in MIN_SAMPLES..=1000 {
            window.record(Duration::from_millis(ms));
        }
        // 1 ms to 1000 ms, one each: p99 is 990 ms, p50 500 ms.
        let p99 = window.percentile(99.0).unwrap();
        assert!(
            p99 > Duration::from_millis(990) && p99 <= Duration::from_micros(990_000 * 5 / 4),
            "{p99:?}"
        );
        let p50 = window.percentile(50.0).unwrap();
        assert!(
            p50 > Duration::from_millis(500) && p50 <= Duration::from_micros(500_000 * 5 / 4),
            "{p50:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn old_answers_leave_the_window() {
        let window = LatencyWindow::new(WINDOW);
        for _ in 0..100 {
            window.record(Duration::from_millis(500));
        }
        tokio::time::advance(WINDOW).await;
        for _ in 0..100 {
            window.record(Duration::from_millis(5));
        }
        // Both generations count: half of the answers were slow.
        assert!(window.percentile(99.0).unwrap() >= Duration::from_millis(500));
        assert!(window.percentile(40.0).unwrap() < Duration::from_millis(10));
        tokio::time::advance(WINDOW).await;
        window.record(Duration::from_millis(5));
        // The slow generation has gone.
        assert!(window.percentile(99.0).unwrap() < Duration::from_millis(10));
        tokio::time::advance(WINDOW * 3).await;
        assert_eq!(window.percentile(99.0), None);
    }

    #[test]
    fn a_fixed_backup_needs_no_latencies_and_a_percentile_keeps_its_minimum() {
        assert_eq!(
            Backup::after(Duration::from_millis(30)).delay(None),
            Some(Duration::from_millis(30))
        );
        let backup = Backup::percentile(99.0).min_delay(Duration::from_millis(50));
        assert_eq!(backup.delay(None), None);
        let window = LatencyWindow::new(WINDOW);
        for _ in 0..MIN_SAMPLES {
            window.record(Duration::from_millis(2));
        }
        assert_eq!(backup.delay(Some(&window)), Some(Duration::from_millis(50)));
    }
}
