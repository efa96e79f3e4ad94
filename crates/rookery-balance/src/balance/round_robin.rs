use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{EndpointSet, Rng};

use super::{Picker, Request, Strategy};

/// In turn: each endpoint once per round, starting at a random place so that clients started
/// together do not all begin with the same instance. Endpoints that cannot be chosen are
/// passed over.
#[derive(Clone, Copy, Debug, Default)]
pub struct RoundRobin;

impl Strategy for RoundRobin {
    fn name(&self) -> &'static str {
        "round_robin"
    }

    fn picker(&self, set: &EndpointSet, rng: Rng) -> Box<dyn Picker> {
        let start = if set.is_empty() {
            0
        } else {
            rng.below(set.len())
        };
        Box::new(RoundRobinPicker {
            set: set.clone(),
            next: AtomicUsize::new(start),
        })
    }
}

#[derive(Debug)]
struct RoundRobinPicker {
    set: EndpointSet,
    next: AtomicUsize,
}

impl Picker for RoundRobinPicker {
    fn pick(&self, request: &Request<'_>) -> Option<usize> {
        let n = self.set.len();
        if n == 0 {
            return None;
        }
        let first = self.next.fetch_add(1, Ordering::Relaxed) % n;
        if request.eligible(&self.set[first]) {
            return Some(first);
        }
        (1..n)
            .map(|i| (first + i) % n)
            .find(|&i| request.eligible(&self.set[i]))
    }
}
