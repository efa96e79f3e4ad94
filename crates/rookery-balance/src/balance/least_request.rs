use crate::{Endpoint, EndpointSet, Rng};

use super::{Picker, Request, Strategy};

/// The power of two choices on calls in flight: of two endpoints drawn at random, the one with
/// fewer calls in flight relative to its weight. Nearly as good as asking every endpoint, at
/// the cost of two.
#[derive(Clone, Copy, Debug, Default)]
pub struct LeastRequest;

impl Strategy for LeastRequest {
    fn name(&self) -> &'static str {
        "least_request"
    }

    fn picker(&self, set: &EndpointSet, rng: Rng) -> Box<dyn Picker> {
        Box::new(LeastRequestPicker {
            set: set.clone(),
            rng,
        })
    }
}

#[derive(Debug)]
struct LeastRequestPicker {
    set: EndpointSet,
    rng: Rng,
}

/// Whether `a` is less loaded than `b`: (in flight + 1) / weight, compared without division.
#[inline]
fn lighter(a: &Endpoint, b: &Endpoint) -> bool {
    (u64::from(a.in_flight()) + 1) * u64::from(b.weight())
        <= (u64::from(b.in_flight()) + 1) * u64::from(a.weight())
}

impl Picker for LeastRequestPicker {
    fn pick(&self, request: &Request<'_>) -> Option<usize> {
        two_choices(&self.set, &self.rng, request, lighter)
    }
}

/// The power of two choices: two different endpoints at random, the one `better` prefers
/// (`better(a, b)` says whether `a` is at least as good as `b`). When one of the two cannot be
/// chosen the other is taken; when neither can, the first eligible from a random place.
#[inline]
pub(super) fn two_choices(
    set: &EndpointSet,
    rng: &Rng,
    request: &Request<'_>,
    better: impl Fn(&Endpoint, &Endpoint) -> bool,
) -> Option<usize> {
    match set.len() {
        0 => None,
        1 => request.eligible(&set[0]).then_some(0),
        n => {
            let (a, b) = rng.two_below(n);
            match (request.eligible(&set[a]), request.eligible(&set[b])) {
                (true, true) => Some(if better(&set[a], &set[b]) { a } else { b }),
                (true, false) => Some(a),
                (false, true) => Some(b),
                (false, false) => request.scan(set, rng),
            }
        }
    }
}
