use std::{sync::Arc, time::Duration};

use rookery_core::{Code, Layer};
use serde::{Deserialize, Serialize};

use super::CircuitBreaker;
use crate::MethodMap;

/// When a breaker opens and how it recovers.
///
/// ```toml
/// [circuit_breaker.default]
/// failure_rate = 0.5        # open when half the calls in the window failed...
/// min_calls = 20            # ...and at least this many calls were seen in it
/// window = "10s"            # the sliding window, cut in `buckets`
/// buckets = 10
/// open_for = "5s"           # refuse calls this long, doubling each time it opens again...
/// max_open_for = "1m"       # ...up to this
/// probes = 3                # half-open: calls let through, all must succeed to close
/// failure_codes = ["UNAVAILABLE", "DEADLINE_EXCEEDED", "INTERNAL", "UNKNOWN", "RESOURCE_EXHAUSTED"]
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerPolicy {
    /// The share of failed calls in the window (0 to 1) at which the breaker opens.
    pub failure_rate: f64,
    /// The fewest calls in the window before the breaker may open: a few failures of few
    /// calls prove nothing.
    pub min_calls: u32,
    /// How far back the window looks.
    #[serde(with = "crate::duration")]
    pub window: Duration,
    /// How many time buckets the window is cut in: outcomes leave it a bucket at a time.
    pub buckets: u32,
    /// How long the breaker stays open the first time.
    #[serde(with = "crate::duration")]
    pub open_for: Duration,
    /// The longest it stays open: each time it opens again without having closed, the open
    /// time doubles, up to this.
    #[serde(with = "crate::duration")]
    pub max_open_for: Duration,
    /// Half-open, how many probe calls are let through; when they all succeed the breaker
    /// closes, when one fails it opens again.
    pub probes: u32,
    /// The codes that count as the callee's failures. Others (`INVALID_ARGUMENT`,
    /// `NOT_FOUND`...) are the caller's and count as answers; `CANCELLED` and failures of
    /// calls that never left for a reason of their own (a deadline already passed) count
    /// as nothing.
    #[serde(with = "crate::codes")]
    pub failure_codes: Vec<Code>,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            failure_rate: 0.5,
            min_calls: 20,
            window: Duration::from_secs(10),
            buckets: 10,
            open_for: Duration::from_secs(5),
            max_open_for: Duration::from_secs(60),
            probes: 3,
            failure_codes: vec![
                Code::Unavailable,
                Code::DeadlineExceeded,
                Code::Internal,
                Code::Unknown,
                Code::ResourceExhausted,
            ],
        }
    }
}

impl BreakerPolicy {
    /// The open time after opening `opens` times in a row (from 1).
    pub(super) fn open_time(&self, opens: u32) -> Duration {
        let grown = self
            .open_for
            .saturating_mul(1u32 << opens.saturating_sub(1).min(20));
        grown.min(self.max_open_for.max(self.open_for))
    }

    /// Sets [`failure_rate`](Self::failure_rate).
    pub fn failure_rate(mut self, rate: f64) -> Self {
        self.failure_rate = rate;
        self
    }

    /// Sets [`min_calls`](Self::min_calls).
    pub fn min_calls(mut self, calls: u32) -> Self {
        self.min_calls = calls;
        self
    }

    /// Sets [`window`](Self::window) and [`buckets`](Self::buckets).
    pub fn window(mut self, window: Duration, buckets: u32) -> Self {
        self.window = window;
        self.buckets = buckets;
        self
    }

    /// Sets [`open_for`](Self::open_for) and [`max_open_for`](Self::max_open_for).
    pub fn open_for(mut self, first: Duration, max: Duration) -> Self {
        self.open_for = first;
        self.max_open_for = max;
        self
    }

    /// Sets [`probes`](Self::probes).
    pub fn probes(mut self, probes: u32) -> Self {
        self.probes = probes;
        self
    }

    /// Sets [`failure_codes`](Self::failure_codes).
    pub fn failure_codes(mut self, codes: impl IntoIterator<Item = Code>) -> Self {
        self.failure_codes = codes.into_iter().collect();
        self
    }

    /// Whether a call that ended with `status` counts as the callee's failure. A business
    /// status ([`BizStatus`](rookery_transport::metainfo::BizStatus), Kitex's application
    /// errors) never does: a callee that answers with one is working.
    pub fn is_failure(&self, status: &rookery_core::Status) -> bool {
        self.failure_codes.contains(&status.code())
            && rookery_transport::metainfo::BizStatus::of(status).is_none()
    }
}

/// The breakers of a configuration file: a policy for every method, and some of their own.
///
/// ```toml
/// [circuit_breaker]
/// default = { min_calls = 50 }
/// methods."Bank.report" = { failure_rate = 0.8, open_for = "30s" }
/// ```
pub type CircuitBreakerConfig = MethodMap<BreakerPolicy>;

/// Wraps a service in [`CircuitBreaker`]: one breaker per service and method, and per
/// instance when the callee's address is known as the call enters.
#[derive(Clone, Debug, Default)]
pub struct CircuitBreakerLayer {
    policies: Arc<MethodMap<Arc<BreakerPolicy>>>,
}

impl CircuitBreakerLayer {
    /// Every method with `policy`.
    pub fn new(policy: BreakerPolicy) -> Self {
        CircuitBreakerLayer::from_config(&MethodMap::new(policy))
    }

    /// `method` (or `Service.method`) with `policy` instead.
    pub fn method(self, method: impl Into<String>, policy: BreakerPolicy) -> Self {
        let map = Arc::unwrap_or_clone(self.policies).method(method, Arc::new(policy));
        CircuitBreakerLayer {
            policies: Arc::new(map),
        }
    }

    /// The policies `config` sets.
    pub fn from_config(config: &CircuitBreakerConfig) -> Self {
        CircuitBreakerLayer {
            policies: Arc::new(MethodMap::shared(config.clone())),
        }
    }
}

impl<S> Layer<S> for CircuitBreakerLayer {
    type Service = CircuitBreaker<S>;

    /// Each wrapped service has breakers of its own.
    fn layer(&self, inner: S) -> CircuitBreaker<S> {
        CircuitBreaker::new(inner, Arc::clone(&self.policies))
    }
}
