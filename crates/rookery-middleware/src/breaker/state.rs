//! One breaker: the state machine of a target (closed, open, half-open) over its window of
//! outcomes.

use std::{
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use tokio::time::Instant;

use rookery_core::{Code, Status};

use super::{BreakerPolicy, window::Window};
use crate::keyed::Target;

/// Where a breaker stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls pass, and their outcomes are counted.
    Closed,
    /// Calls are refused at once, without being sent. (A breaker whose open time has passed
    /// stays open until the next call, which it lets through as a probe.)
    Open,
    /// A bounded number of probe calls pass; the rest are refused.
    HalfOpen,
}

/// How a call ended, as the breaker counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The callee answered (even with an error that is the caller's, like `NOT_FOUND`).
    Success,
    /// The callee failed, with a code the policy counts.
    Failure,
    /// Says nothing about the callee: the caller gave up, or the call failed before leaving
    /// for a reason of its own.
    Ignored,
}

#[derive(Debug)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { admitted: u32, succeeded: u32 },
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    window: Window,
    /// Changes at every transition: outcomes of calls let through before it are stale.
    generation: u64,
    /// How many times the breaker opened since it was last closed (the open time grows).
    opens: u32,
}

/// The breaker of one target.
#[derive(Debug)]
pub(super) struct Breaker {
    policy: Arc<BreakerPolicy>,
    target: Target,
    inner: Mutex<Inner>,
}

/// A call let through; say how it ended with [`finish`](Permit::finish). Dropped unfinished
/// (the caller went away), it counts as [`Outcome::Ignored`], which frees a probe's place.
#[derive(Debug)]
pub(super) struct Permit {
    breaker: Arc<Breaker>,
    generation: u64,
    probe: bool,
    done: bool,
}

impl Permit {
    /// The call ended with `status` (`None`: success).
    pub(super) fn end(self, status: Option<&Status>) {
        let outcome = classify(&self.breaker.policy, status);
        self.finish(outcome);
    }

    fn finish(mut self, outcome: Outcome) {
        self.done = true;
        self.breaker
            .record(self.generation, self.probe, outcome, Instant::now());
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.done {
            self.breaker.record(
                self.generation,
                self.probe,
                Outcome::Ignored,
                Instant::now(),
            );
        }
    }
}

/// How a call that ended with `status` counts.
fn classify(policy: &BreakerPolicy, status: Option<&Status>) -> Outcome {
    let Some(status) = status else {
        return Outcome::Success;
    };
    // A call that never left says something about the callee only if it could not reach
    // it; otherwise it failed for a reason of its own (a deadline already passed, a limit
    // of this process).
    let own = status.is_unsent() && status.code() != Code::Unavailable;
    if own || status.code() == Code::Cancelled && !policy.is_failure(status) {
        Outcome::Ignored
    } else if policy.is_failure(status) {
        Outcome::Failure
    } else {
        Outcome::Success
    }
}

impl Breaker {
    pub(super) fn new(policy: Arc<BreakerPolicy>, target: Target) -> Breaker {
        let window = Window::new(policy.window, policy.buckets, Instant::now());
        Breaker {
            policy,
            target,
            inner: Mutex::new(Inner {
                phase: Phase::Closed,
                window,
                generation: 0,
                opens: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state stays consistent between statements; a panic elsewhere while it was held
        // leaves nothing half-done.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn target(&self) -> &Target {
        &self.target
    }

    /// Lets a call through, or says how long the breaker stays open.
    pub(super) fn admit(self: &Arc<Self>, now: Instant) -> Result<Permit, Duration> {
        let mut inner = self.lock();
        let probe = match &mut inner.phase {
            Phase::Closed => false,
            Phase::Open { until } if now < *until => return Err(*until - now),
            Phase::Open { .. } => {
                tracing::info!(breaker = %self.target, "circuit breaker half-open: probing");
                inner.phase = Phase::HalfOpen {
                    admitted: 1,
                    succeeded: 0,
                };
                inner.generation += 1;
                true
            }
            Phase::HalfOpen { admitted, .. } => {
                if *admitted >= self.policy.probes.max(1) {
                    // Probes are out: refuse until they are back (no telling when).
                    return Err(Duration::ZERO);
                }
                *admitted += 1;
                true
            }
        };
        Ok(Permit {
            breaker: Arc::clone(self),
            generation: inner.generation,
            probe,
            done: false,
        })
    }

    fn record(&self, generation: u64, probe: bool, outcome: Outcome, now: Instant) {
        let mut inner = self.lock();
        if generation != inner.generation {
            return;
        }
        match (&mut inner.phase, probe) {
            (Phase::Closed, _) => {
                let failure = match outcome {
                    Outcome::Ignored => return,
                    Outcome::Success => false,
                    Outcome::Failure => true,
                };
                inner.window.record(now, failure);
                if failure {
                    let counts = inner.window.counts(now);
                    let rate = f64::from(counts.failures) / f64::from(counts.calls);
                    if counts.calls >= self.policy.min_calls && rate >= self.policy.failure_rate {
                        self.open(&mut inner, now, counts.calls, counts.failures);
                    }
                }
            }
            (
                Phase::HalfOpen {
                    admitted,
                    succeeded,
                },
                true,
            ) => match outcome {
                Outcome::Ignored => *admitted = admitted.saturating_sub(1),
                Outcome::Success => {
                    *succeeded += 1;
                    if *succeeded >= self.policy.probes.max(1) {
                        tracing::info!(breaker = %self.target, "circuit breaker closed");
                        inner.phase = Phase::Closed;
                        inner.window.clear();
                        inner.opens = 0;
                        inner.generation += 1;
                    }
                }
                Outcome::Failure => self.open(&mut inner, now, 0, 1),
            },
            _ => {}
        }
    }

    fn open(&self, inner: &mut Inner, now: Instant, calls: u32, failures: u32) {
        inner.opens = inner.opens.saturating_add(1);
        let open_for = self.policy.open_time(inner.opens);
        tracing::warn!(
            breaker = %self.target,
            calls,
            failures,
            ?open_for,
            "circuit breaker opened"
        );
        inner.phase = Phase::Open {
            until: now + open_for,
        };
        inner.window.clear();
        inner.generation += 1;
    }

    pub(super) fn state(&self) -> BreakerState {
        match self.lock().phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Closed with nothing in its window: forgetting it loses nothing.
    pub(super) fn is_idle(&self) -> bool {
        let inner = self.lock();
        matches!(inner.phase, Phase::Closed) && inner.window.counts(Instant::now()).calls == 0
    }
}
