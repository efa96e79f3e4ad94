//! The retry budget: retries may be at most a share of the calls, plus a few per second.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::time::Instant;

/// How many slots the window is cut into: withdrawals and deposits expire a tenth of a window
/// at a time.
const SLOTS: usize = 10;

/// What one retry costs, in the budget's units; a call deposits `ratio × UNIT`. Integers keep
/// the arithmetic exact (a 20% budget allows exactly one retry per five calls).
const UNIT: i64 = 1000;

/// A retry budget, as Finagle and linkerd have them: every call deposits, every retry (and
/// every backup request) withdraws, and a retry is made only if the balance allows.
///
/// Over any [`window`](RetryBudget::new), retries are at most `ratio` of the calls plus
/// `min_per_second × window`: with the defaults (20%, 10 per second, 10 seconds), a client
/// making 1000 calls in ten seconds may retry 200 + 100 of them, and a client that makes
/// few calls may still retry 10 a second. When every call fails, the budget is what keeps
/// retries from multiplying the load on a service that is already down; `max_attempts`
/// alone would not.
///
/// Clones share one balance: a [`RetryLayer`](super::RetryLayer) holds one for every
/// service it wraps (one client); give two layers the same budget to make them one client.
///
/// Time is Tokio's ([`tokio::time::Instant`]), so tests with a paused clock move windows.
#[derive(Clone, Debug)]
pub struct RetryBudget {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    deposit: i64,
    reserve: i64,
    slot: Duration,
    window: Mutex<Window>,
}

/// The sum of deposits and withdrawals, by slot of time.
#[derive(Debug)]
struct Window {
    slots: [i64; SLOTS],
    /// The slot now being written.
    head: usize,
    /// When the head slot began.
    head_started: Instant,
}

impl Default for RetryBudget {
    /// 20% of the calls plus 10 retries a second, over 10 seconds (Finagle's defaults).
    fn default() -> Self {
        RetryBudget::new(0.2, 10, Duration::from_secs(10))
    }
}

impl RetryBudget {
    /// Retries may be `ratio` of the calls (0.2 for 20%; from 0 to 1000) plus
    /// `min_per_second` a second, over the last `window` (at least one second).
    pub fn new(ratio: f64, min_per_second: u32, window: Duration) -> RetryBudget {
        let ratio = if ratio.is_finite() {
            ratio.clamp(0.0, 1000.0)
        } else {
            0.0
        };
        let window = window.max(Duration::from_secs(1));
        let reserve = (f64::from(min_per_second) * window.as_secs_f64() * UNIT as f64).round();
        RetryBudget {
            shared: Arc::new(Shared {
                deposit: (ratio * UNIT as f64).round() as i64,
                reserve: reserve as i64,
                slot: window / SLOTS as u32,
                window: Mutex::new(Window {
                    slots: [0; SLOTS],
                    head: 0,
                    head_started: Instant::now(),
                }),
            }),
        }
    }

    /// A budget that never refuses: only `max_attempts` bounds retries. For tests, and for
    /// clients whose every caller already limits its own retries.
    pub fn unlimited() -> RetryBudget {
        RetryBudget::new(1000.0, u32::MAX, Duration::from_secs(1))
    }

    fn with_window<R>(&self, f: impl FnOnce(&mut Window) -> R) -> R {
        let mut window = self
            .shared
            .window
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        window.advance(Instant::now(), self.shared.slot);
        f(&mut window)
    }

    /// Counts a call (every call of the client deposits, retried or not).
    pub fn deposit(&self) {
        let deposit = self.shared.deposit;
        self.with_window(|w| w.slots[w.head] = w.slots[w.head].saturating_add(deposit));
    }

    /// Takes one retry from the budget: `false`, and nothing taken, if none is left.
    pub fn try_withdraw(&self) -> bool {
        let reserve = self.shared.reserve;
        self.with_window(|w| {
            if w.sum().saturating_add(reserve) >= UNIT {
                w.slots[w.head] = w.slots[w.head].saturating_sub(UNIT);
                true
            } else {
                false
            }
        })
    }

    /// How many retries the budget would allow now.
    pub fn available(&self) -> u64 {
        let reserve = self.shared.reserve;
        self.with_window(|w| (w.sum().saturating_add(reserve).max(0) / UNIT) as u64)
    }
}

impl Window {
    fn sum(&self) -> i64 {
        self.slots.iter().fold(0i64, |a, s| a.saturating_add(*s))
    }

    /// Moves the head to the slot of `now`, emptying the slots that have expired.
    fn advance(&mut self, now: Instant, slot: Duration) {
        let elapsed = now.saturating_duration_since(self.head_started);
        if elapsed < slot {
            return;
        }
        let passed = (elapsed.as_nanos() / slot.as_nanos().max(1)) as u64;
        for _ in 0..passed.min(SLOTS as u64) {
            self.head = (self.head + 1) % SLOTS;
            self.slots[self.head] = 0;
        }
        self.head_started += slot.saturating_mul(u32::try_from(passed).unwrap_or(u32::MAX));
        if passed > u64::from(u32::MAX) {
            self.head_started = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retries_are_a_share_of_the_calls_plus_a_reserve_over_the_window() {
        let budget = RetryBudget::new(0.2, 1, Duration::from_secs(1));
        // The reserve alone: one retry a second over one second.
        assert_eq!(budget.available(), 1);
        assert!(budget.try_withdraw());
        assert!(!budget.try_withdraw());
        // Five calls pay for one retry.
        for _ in 0..4 {
            budget.deposit();
        }
        assert!(!budget.try_withdraw());
        budget.deposit();
        assert!(budget.try_withdraw());
        assert!(!budget.try_withdraw());
        // A window later, deposits and withdrawals have expired: the reserve is back.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(budget.available(), 1);
        // Clones share the balance.
        let clone = budget.clone();
        assert!(clone.try_withdraw());
        assert!(!budget.try_withdraw());
    }

    #[tokio::test(start_paused = true)]
    async fn old_slots_expire_one_at_a_time() {
        let budget = RetryBudget::new(1.0, 0, Duration::from_secs(10));
        for _ in 0..3 {
            budget.deposit();
        }
        tokio::time::advance(Duration::from_secs(5)).await;
        for _ in 0..2 {
            budget.deposit();
        }
        assert_eq!(budget.available(), 5);
        // The first three deposits leave the window after 10 s, the last two after 15 s.
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(budget.available(), 2);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(budget.available(), 0);
        assert!(!budget.try_withdraw());
        // A long silence empties everything at once.
        budget.deposit();
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(budget.available(), 0);
    }

    #[test]
    fn an_unlimited_budget_never_refuses() {
        let budget = RetryBudget::unlimited();
        assert!((0..10_000).all(|_| budget.try_withdraw()));
    }
}
