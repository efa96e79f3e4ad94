use rookery_registry::Instance;

use crate::{Endpoint, EndpointSet, Rng};

use super::{Picker, Request, Strategy, least_request::two_choices};

/// The cost of an endpoint that has calls in flight but no latency sample yet: far above any
/// real latency, so a new endpoint takes one call at a time until its first reply says how
/// fast it is. (Finagle's choice.)
const UNKNOWN_PENALTY_NS: f64 = 1e15;

/// The power of two choices on peak-EWMA cost, the default: of two endpoints drawn at random,
/// the one with the lower latency estimate × (calls in flight + 1), scaled down by weight.
///
/// It moves load away from a slow instance within one slow reply (the estimate jumps to a
/// slow sample at once) and from an overloaded one as its calls pile up, and, because the
/// estimate decays while unsampled, tries a slow instance again after a while.
///
/// An endpoint with no sample yet costs nothing while it has no call in flight (so a new
/// instance is tried at once) and a very high penalty while it has one (so it is not flooded
/// before its first reply).
#[derive(Clone, Copy, Debug, Default)]
pub struct P2cEwma;

impl Strategy for P2cEwma {
    fn name(&self) -> &'static str {
        "p2c_ewma"
    }

    fn picker(&self, set: &EndpointSet, rng: Rng) -> Box<dyn Picker> {
        Box::new(P2cEwmaPicker {
            set: set.clone(),
            rng,
        })
    }
}

#[derive(Debug)]
struct P2cEwmaPicker {
    set: EndpointSet,
    rng: Rng,
}

/// The cost of sending one more call to `e` at `now`.
#[inline]
pub(crate) fn cost(e: &Endpoint, now: u64) -> f64 {
    let pending = f64::from(e.in_flight());
    let raw = match e.latency().estimate(now) {
        Some(latency) => latency * (pending + 1.0),
        None if pending == 0.0 => 0.0,
        None => UNKNOWN_PENALTY_NS + pending,
    };
    if e.weight() == Instance::DEFAULT_WEIGHT {
        raw
    } else {
        raw * f64::from(Instance::DEFAULT_WEIGHT) / f64::from(e.weight())
    }
}

impl Picker for P2cEwmaPicker {
    fn pick(&self, request: &Request<'_>) -> Option<usize> {
        let now = request.now();
        two_choices(&self.set, &self.rng, request, |a, b| {
            cost(a, now) <= cost(b, now)
        })
    }
}
