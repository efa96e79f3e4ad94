use crate::{EndpointSet, Rng};

use super::{Picker, Request, Strategy};

/// Uniformly at random: no state shared between calls at all.
#[derive(Clone, Copy, Debug, Default)]
pub struct Random;

impl Strategy for Random {
    fn name(&self) -> &'static str {
        "random"
    }

    fn picker(&self, set: &EndpointSet, rng: Rng) -> Box<dyn Picker> {
        Box::new(RandomPicker {
            set: set.clone(),
            rng,
        })
    }
}

#[derive(Debug)]
struct RandomPicker {
    set: EndpointSet,
    rng: Rng,
}

impl Picker for RandomPicker {
    fn pick(&self, request: &Request<'_>) -> Option<usize> {
        let n = self.set.len();
        if n == 0 {
            return None;
        }
        let i = self.rng.below(n);
        if request.eligible(&self.set[i]) {
            return Some(i);
        }
        request.scan(&self.set, &self.rng)
    }
}
