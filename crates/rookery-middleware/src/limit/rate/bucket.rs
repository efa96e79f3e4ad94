//! The token bucket: `rate` tokens a second, at most `burst` kept; a call takes one.

use std::{
    sync::{Mutex, MutexGuard},
    time::Duration,
};

use tokio::time::Instant;

use super::Rate;

/// The longest pushback a bucket gives: a rate so low that the next token is further off
/// is told to come back then, and refused again if it is still early.
const MAX_WAIT: Duration = Duration::from_secs(3600);

#[derive(Debug)]
struct Tokens {
    available: f64,
    at: Instant,
}

/// One token bucket, full at first.
#[derive(Debug)]
pub(super) struct Bucket {
    per_second: f64,
    capacity: f64,
    tokens: Mutex<Tokens>,
}

impl Bucket {
    pub(super) fn new(rate: Rate, now: Instant) -> Bucket {
        let capacity = f64::from(rate.capacity());
        Bucket {
            per_second: rate.per_second.max(0.0),
            capacity,
            tokens: Mutex::new(Tokens {
                available: capacity,
                at: now,
            }),
        }
    }

    fn refilled(&self, now: Instant) -> MutexGuard<'_, Tokens> {
        // Nothing is left half-done while the lock is held.
        let mut t = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = now.saturating_duration_since(t.at).as_secs_f64();
        t.available = (t.available + elapsed * self.per_second).min(self.capacity);
        t.at = now.max(t.at);
        t
    }

    /// Takes a token, or says how long until there is one.
    pub(super) fn take(&self, now: Instant) -> Result<(), Duration> {
        let mut t = self.refilled(now);
        if t.available >= 1.0 {
            t.available -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - t.available) / self.per_second;
        Err(Duration::try_from_secs_f64(wait)
            .unwrap_or(MAX_WAIT)
            .min(MAX_WAIT))
    }

    /// Gives back a token taken for a call that another limit then refused.
    pub(super) fn refund(&self) {
        let mut t = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        t.available = (t.available + 1.0).min(self.capacity);
    }

    /// Full: forgetting the bucket loses nothing (a new one starts full).
    pub(super) fn is_full(&self) -> bool {
        self.refilled(Instant::now()).available >= self.capacity
    }
}
