//! One instance as a balancer sees it: its identity and address, and the live statistics of
//! the calls sent to it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, AtomicUsize, Ordering},
    },
    time::Duration,
};

use faststr::FastStr;
use rookery_registry::{Instance, protocol};
use rookery_transport::client::Backoff;

use crate::{Now, clock, ewma::PeakEwma, health::Health};

/// One instance and its live statistics: calls in flight, a peak-EWMA latency estimate, and
/// connection health.
///
/// Every statistic is an atomic, so picking and recording take no lock. An endpoint lives as
/// long as its instance stays in the set: a new set keeps the endpoints of the instances it
/// still holds, so statistics (and the connections of a client) survive updates.
#[derive(Debug)]
pub struct Endpoint {
    instance: Instance,
    address: FastStr,
    weight: u32,
    in_flight: AtomicU32,
    latency: PeakEwma,
    health: Health,
    /// The calls in flight on every endpoint of the group this one belongs to.
    group: Arc<AtomicUsize>,
}

impl Endpoint {
    pub(crate) fn new(instance: Instance, group: Arc<AtomicUsize>) -> Endpoint {
        let address = FastStr::new(instance.address(protocol::THRIFT).unwrap_or_default());
        Endpoint {
            weight: instance.weight.max(1),
            address,
            instance,
            in_flight: AtomicU32::new(0),
            latency: PeakEwma::new(),
            health: Health::default(),
            group,
        }
    }

    /// An endpoint for a changed instance with the same id: it keeps what was learned about
    /// latency and health (calls in flight stay counted on the old one until they finish).
    pub(crate) fn succeed(&self, instance: Instance) -> Endpoint {
        let next = Endpoint::new(instance, Arc::clone(&self.group));
        let next = Endpoint {
            latency: PeakEwma::starting_at(self.latency.last(), self.latency.stamp()),
            ..next
        };
        next.health.copy_from(&self.health);
        next
    }

    /// The instance.
    pub fn instance(&self) -> &Instance {
        &self.instance
    }

    /// The instance's id.
    pub fn id(&self) -> &str {
        &self.instance.id
    }

    /// The instance's native (`thrift`) address, as registered; empty if it has none.
    pub fn address(&self) -> &FastStr {
        &self.address
    }

    /// The instance's weight (at least 1).
    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// Calls sent and not answered yet.
    #[inline]
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Calls in flight on every endpoint of this one's group (the endpoints of one client).
    #[inline]
    pub fn group_in_flight(&self) -> usize {
        self.group.load(Ordering::Relaxed)
    }

    /// The latency estimate.
    pub fn latency(&self) -> &PeakEwma {
        &self.latency
    }

    /// The latency estimate now, decayed since the last sample; `None` before the first.
    pub fn latency_estimate(&self) -> Option<Duration> {
        self.latency
            .estimate(clock::now_ns())
            .map(|ns| Duration::from_nanos(ns as u64))
    }

    /// The connection health.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Whether the endpoint is skipped now: its connections failed, or it is ejected as an
    /// outlier (and not due for a probe).
    pub fn is_down(&self) -> bool {
        self.health.is_down(&Now::new())
    }

    /// Whether the endpoint is ejected as an outlier; see [`OutlierEjection`](crate::OutlierEjection).
    pub fn is_ejected(&self) -> bool {
        self.health.is_ejected()
    }

    /// Counts a call in flight until the returned guard is dropped.
    #[inline]
    pub fn start(self: &Arc<Self>) -> InFlight {
        self.start_at(&Now::new())
    }

    /// [`start`](Self::start) at the time `now` (the time of the pick, when the picker read
    /// the clock: it is not read twice). On an ejected endpoint whose time has passed, the
    /// call is its probe ([`InFlight::is_probe`]), and no other call is sent there until the
    /// probe has ended.
    #[inline]
    pub fn start_at(self: &Arc<Self>, now: &Now) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.group.fetch_add(1, Ordering::Relaxed);
        InFlight {
            endpoint: Arc::clone(self),
            started: now.get(),
            probe: self.health.claim_probe(now),
        }
    }

    /// Records a call answered after `latency` (the call reached the instance, so it is up).
    pub fn record_latency(&self, latency: Duration) {
        self.latency
            .observe(latency.as_nanos() as f64, clock::now_ns());
        self.health.connected();
    }

    /// Records that a connection to the instance failed: it is skipped for a backoff that
    /// grows with each failure in a row. Returns how long.
    pub fn connection_failed(&self, backoff: &Backoff) -> Duration {
        self.health.connection_failed(clock::now_ns(), backoff)
    }
}

/// A call counted in flight on an endpoint; dropping it ends the count. Say how the call ended
/// with [`answered`](InFlight::answered) or [`unreached`](InFlight::unreached) first (and,
/// with outlier ejection, [`OutlierEjection::record`](crate::OutlierEjection::record)).
#[derive(Debug)]
pub struct InFlight {
    endpoint: Arc<Endpoint>,
    started: u64,
    probe: bool,
}

impl InFlight {
    /// The endpoint.
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }

    /// Whether this call probes an ejected endpoint: its outcome decides whether the
    /// endpoint comes back.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The call was answered (with a result or with an error from the instance): its latency
    /// feeds the estimate and the instance is up.
    pub fn answered(self) {
        let now = clock::now_ns();
        let rtt = now.saturating_sub(self.started) as f64;
        self.endpoint.latency.observe(rtt, now);
        self.endpoint.health.connected();
    }

    /// The call never reached the instance because its connection failed: the instance is
    /// skipped for a while. Returns how long.
    pub fn unreached(self, backoff: &Backoff) -> Duration {
        self.endpoint.connection_failed(backoff)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.endpoint.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.endpoint.group.fetch_sub(1, Ordering::Relaxed);
        if self.probe {
            // Unless its outcome was recorded, the probe gave none: another call may probe.
            self.endpoint.health.release_probe();
        }
    }
}
