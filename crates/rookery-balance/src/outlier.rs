//! Outlier ejection: an endpoint whose answers keep failing is taken out of picking for a
//! while, a bounded share of the set at most.

use std::time::Duration;

use rookery_core::{Code, Status};

use crate::{EndpointSet, InFlight, clock};

/// When an endpoint is ejected as an outlier, for how long, and how many may be at once.
///
/// - An endpoint whose answers fail [`consecutive_failures`](Self::consecutive_failures)
///   times in a row (with a code in [`failure_codes`](Self::failure_codes)) is ejected: no
///   balancer picks it for [`base_ejection_time`](Self::base_ejection_time) times the number
///   of times in a row it was ejected, at most
///   [`max_ejection_time`](Self::max_ejection_time). (An endpoint that behaved for the
///   maximum time since it came back starts the count over.)
/// - At most [`max_ejected_percent`](Self::max_ejected_percent) of the set is ejected at
///   once, and never every endpoint: past the bound, failing endpoints stay in.
/// - When its time has passed, an ejected endpoint gets one call at a time, a probe
///   (half-open); a probe that succeeds brings it back, one that fails ejects it again, for
///   longer.
///
/// Ejection shares the "down" state with connection failures ([`Health`](crate::Health)), so
/// every balancer skips an ejected endpoint, and picks one only when every other endpoint
/// is down or tried for the call.
///
/// ```
/// use std::time::Duration;
/// use rookery_balance::{BalancedClient, OutlierEjection};
///
/// let builder = BalancedClient::builder("bank").outlier_ejection(
///     OutlierEjection::new()
///         .consecutive_failures(5)
///         .ejection_time(Duration::from_secs(30), Duration::from_secs(300))
///         .max_ejected_percent(50),
/// );
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct OutlierEjection {
    /// Failed answers in a row that eject an endpoint (at least 1).
    pub consecutive_failures: u32,
    /// The first ejection's time; the n-th in a row lasts n times as long.
    pub base_ejection_time: Duration,
    /// The longest ejection.
    pub max_ejection_time: Duration,
    /// The largest share of the set ejected at once, in percent (never every endpoint).
    pub max_ejected_percent: u8,
    /// The codes that count as an endpoint's failures: by default `UNAVAILABLE`, `INTERNAL`,
    /// `UNKNOWN`, `DEADLINE_EXCEEDED` and `DATA_LOSS`. Others (`NOT_FOUND`,
    /// `INVALID_ARGUMENT`, `RESOURCE_EXHAUSTED`...) are answers. Calls that never reached the
    /// endpoint never count (one it could not be reached for is skipped by its connection
    /// backoff instead).
    pub failure_codes: Vec<Code>,
}

impl Default for OutlierEjection {
    fn default() -> Self {
        OutlierEjection {
            consecutive_failures: 5,
            base_ejection_time: Duration::from_secs(30),
            max_ejection_time: Duration::from_secs(300),
            max_ejected_percent: 50,
            failure_codes: vec![
                Code::Unavailable,
                Code::Internal,
                Code::Unknown,
                Code::DeadlineExceeded,
                Code::DataLoss,
            ],
        }
    }
}

impl OutlierEjection {
    /// The defaults: 5 failures in a row eject for 30 s (growing to 5 min), at most half the
    /// set at once.
    pub fn new() -> Self {
        OutlierEjection::default()
    }

    /// Sets [`consecutive_failures`](Self::consecutive_failures).
    pub fn consecutive_failures(mut self, n: u32) -> Self {
        self.consecutive_failures = n.max(1);
        self
    }

    /// Sets [`base_ejection_time`](Self::base_ejection_time) and
    /// [`max_ejection_time`](Self::max_ejection_time).
    pub fn ejection_time(mut self, base: Duration, max: Duration) -> Self {
        self.base_ejection_time = base;
        self.max_ejection_time = max;
        self
    }

    /// Sets [`max_ejected_percent`](Self::max_ejected_percent) (at most 100).
    pub fn max_ejected_percent(mut self, percent: u8) -> Self {
        self.max_ejected_percent = percent.min(100);
        self
    }

    /// Sets [`failure_codes`](Self::failure_codes).
    pub fn failure_codes(mut self, codes: impl IntoIterator<Item = Code>) -> Self {
        self.failure_codes = codes.into_iter().collect();
        self
    }

    /// How many of `endpoints` may be ejected at once.
    pub fn max_ejected(&self, endpoints: usize) -> usize {
        (endpoints * usize::from(self.max_ejected_percent) / 100).min(endpoints.saturating_sub(1))
    }

    /// Whether a call that ended with `status` counts as its endpoint's failure. A business
    /// status ([`BizStatus`](rookery_transport::metainfo::BizStatus), Kitex's application
    /// errors) never does: an endpoint that answers with one is working.
    pub fn is_failure(&self, status: &Status) -> bool {
        !status.is_unsent()
            && self.failure_codes.contains(&status.code())
            && rookery_transport::metainfo::BizStatus::of(status).is_none()
    }

    /// Records how the call `flight` ended (`None`: success) on its endpoint, one of `set`:
    /// returns how long the endpoint is ejected for, if this call ejected it.
    ///
    /// While an endpoint is ejected only its probe's outcome counts: calls that were on it
    /// before it was ejected change nothing when they end.
    pub fn record(
        &self,
        flight: &InFlight,
        set: &EndpointSet,
        status: Option<&Status>,
    ) -> Option<Duration> {
        let endpoint = flight.endpoint();
        let health = endpoint.health();
        let failed = status.is_some_and(|s| self.is_failure(s));
        let now = clock::now_ns();
        if health.is_ejected() {
            if !flight.is_probe() {
                return None;
            }
            if !failed {
                if health.probe_succeeded(now) {
                    tracing::info!(id = endpoint.id(), address = %endpoint.address(), "endpoint back after its probe succeeded");
                }
                return None;
            }
            // Already counted among the ejected: no bound to check.
            let time = health.eject(now, self.base_ejection_time, self.max_ejection_time);
            tracing::info!(id = endpoint.id(), address = %endpoint.address(), ?time, "probe failed; endpoint ejected again");
            return Some(time);
        }
        if !failed {
            health.answer_succeeded();
            return None;
        }
        if health.answer_failed() < self.consecutive_failures.max(1) {
            return None;
        }
        let _deciding = set.ejection_lock();
        if health.is_ejected() {
            return None;
        }
        let ejected = set.endpoints().iter().filter(|e| e.is_ejected()).count();
        if ejected >= self.max_ejected(set.len()) {
            tracing::debug!(
                id = endpoint.id(),
                ejected,
                of = set.len(),
                "endpoint failing, but as many as may be are ejected already"
            );
            return None;
        }
        let time = health.eject(now, self.base_ejection_time, self.max_ejection_time);
        tracing::warn!(
            id = endpoint.id(),
            address = %endpoint.address(),
            ?time,
            failures = self.consecutive_failures,
            "endpoint ejected: its answers keep failing"
        );
        Some(time)
    }
}
