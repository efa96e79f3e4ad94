//! A monotonic clock in nanoseconds since the first use in this process, so times fit in an
//! atomic `u64` and a pick reads the clock at most once.

use std::{cell::Cell, sync::OnceLock, time::Instant};

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since the process epoch; never 0, so 0 can mean "never".
pub(crate) fn now_ns() -> u64 {
    (epoch().elapsed().as_nanos() as u64).max(1)
}

/// The time of one pick, read from the clock the first time it is needed and then reused:
/// pickers that never look at time (round robin with every endpoint up) never pay for it.
#[derive(Debug, Default)]
pub struct Now(Cell<u64>);

impl Now {
    /// A time not read yet.
    pub fn new() -> Now {
        Now(Cell::new(0))
    }

    /// The time, in nanoseconds since the process epoch.
    pub fn get(&self) -> u64 {
        match self.0.get() {
            0 => {
                let t = now_ns();
                self.0.set(t);
                t
            }
            t => t,
        }
    }
}
