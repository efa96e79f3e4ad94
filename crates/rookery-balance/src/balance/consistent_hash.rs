use rookery_registry::Instance;

use crate::{
    EndpointSet, Rng,
    key::{mix, stable_hash},
};

use super::{Picker, Request, Strategy};

/// Consistent hashing on the call's [`BalanceKey`](crate::BalanceKey), with bounded load
/// (Mirrokni, Thorup and Zadimoghaddam, "Consistent Hashing with Bounded Loads", as in
/// HAProxy and Envoy).
///
/// Each endpoint owns points on a ring of 64-bit hashes, `replicas` of them for the default
/// weight of 100 and proportionally more or fewer for other weights; a point's place is a
/// stable hash of the instance id, so every client builds the same ring. A key goes to the
/// owner of the first point at or after its hash whose calls in flight are under
/// `load_factor` × the average (rounded up); an overloaded owner passes the key on along the
/// ring. When an endpoint joins, only the keys that now land on its points move: about
/// 1/(n+1) of them.
///
/// A call without a key goes to an endpoint at random.
#[derive(Clone, Copy, Debug)]
pub struct ConsistentHash {
    replicas: u32,
    load_factor: Option<f64>,
}

impl Default for ConsistentHash {
    fn default() -> Self {
        ConsistentHash::new()
    }
}

impl ConsistentHash {
    /// 100 points per default weight, load bounded to 1.25 × the average.
    pub fn new() -> ConsistentHash {
        ConsistentHash {
            replicas: 100,
            load_factor: Some(1.25),
        }
    }

    /// Points on the ring for an endpoint of the default weight (at least 1). More points
    /// spread keys more evenly and cost memory and a slightly longer search.
    pub fn replicas(mut self, replicas: u32) -> Self {
        self.replicas = replicas.max(1);
        self
    }

    /// Bounds each endpoint's calls in flight to `c` × the average (`c` at least 1): the
    /// lower, the more evenly load spreads and the more keys leave their first choice under
    /// load.
    pub fn load_factor(mut self, c: f64) -> Self {
        self.load_factor = Some(if c.is_finite() { c.max(1.0) } else { 1.0 });
        self
    }

    /// Plain consistent hashing: a key stays on its endpoint whatever the load.
    pub fn unbounded(mut self) -> Self {
        self.load_factor = None;
        self
    }
}

impl Strategy for ConsistentHash {
    fn name(&self) -> &'static str {
        "consistent_hash"
    }

    fn picker(&self, set: &EndpointSet, rng: Rng) -> Box<dyn Picker> {
        let mut ring = Vec::new();
        let cap = u64::from(self.replicas) * 16;
        for (index, e) in set.endpoints().iter().enumerate() {
            let points = (u64::from(self.replicas) * u64::from(e.weight())
                / u64::from(Instance::DEFAULT_WEIGHT))
            .clamp(1, cap);
            let base = stable_hash(e.id().as_bytes());
            for replica in 0..points {
                let point = mix(base ^ replica.wrapping_mul(0x9e37_79b9_7f4a_7c15));
                ring.push((point, index as u32));
            }
        }
        ring.sort_unstable();
        Box::new(RingPicker {
            set: set.clone(),
            ring,
            load_factor: self.load_factor,
            rng,
        })
    }
}

#[derive(Debug)]
struct RingPicker {
    set: EndpointSet,
    /// (point, index of its endpoint), sorted by point.
    ring: Vec<(u64, u32)>,
    load_factor: Option<f64>,
    rng: Rng,
}

impl Picker for RingPicker {
    fn pick(&self, request: &Request<'_>) -> Option<usize> {
        if self.set.is_empty() {
            return None;
        }
        let Some(key) = request.key() else {
            let i = self.rng.below(self.set.len());
            if request.eligible(&self.set[i]) {
                return Some(i);
            }
            return request.scan(&self.set, &self.rng);
        };
        let hash = mix(key);
        let start = self.ring.partition_point(|&(point, _)| point < hash);
        let n = self.ring.len();
        // Computed on first need: an endpoint with nothing in flight is never over the bound.
        let mut capacity = None;
        let mut first_eligible = None;
        for step in 0..n {
            let index = self.ring[(start + step) % n].1 as usize;
            let e = &self.set[index];
            if !request.eligible(e) {
                continue;
            }
            let Some(c) = self.load_factor else {
                return Some(index);
            };
            let load = e.in_flight();
            if load == 0 {
                return Some(index);
            }
            first_eligible.get_or_insert(index);
            let bound = *capacity.get_or_insert_with(|| {
                // ceil(c × (calls in flight + this one) / endpoints): never below 1, and the
                // endpoints' bounds add up to at least the calls, so some endpoint is under.
                let total = e.group_in_flight() as f64 + 1.0;
                (c * total / self.set.len() as f64).ceil() as u32
            });
            if load < bound {
                return Some(index);
            }
        }
        first_eligible
    }
}
