//! Balancers: a [`Balance`] builds a [`Picker`] for each version of the endpoint set, and the
//! picker chooses an endpoint for each call.

mod consistent_hash;
mod least_request;
mod p2c_ewma;
mod random;
mod round_robin;
mod weighted;

use std::{fmt, sync::Arc};

pub use consistent_hash::ConsistentHash;
pub use least_request::LeastRequest;
pub use p2c_ewma::P2cEwma;
pub use random::Random;
pub use round_robin::RoundRobin;
pub use weighted::Weighted;

use crate::{Endpoint, EndpointSet, Now, Rng};

/// A balancing algorithm: what [`Balance`] wraps. Implement it for an algorithm of your own.
pub trait Strategy: Send + Sync + fmt::Debug + 'static {
    /// A short name for logs and benchmarks (`p2c_ewma`).
    fn name(&self) -> &'static str;

    /// The picker for `set`, drawing random numbers from `rng`. Called once per version of the
    /// set, off the call path: precompute here what every pick needs.
    fn picker(&self, set: &EndpointSet, rng: Rng) -> Box<dyn Picker>;
}

/// Chooses an endpoint of its set for one call; see [`Request`] for what it must respect.
pub trait Picker: Send + Sync + fmt::Debug {
    /// The index in the set of an endpoint for which [`Request::eligible`] holds, or `None`
    /// if there is none.
    fn pick(&self, request: &Request<'_>) -> Option<usize>;
}

impl dyn Picker + '_ {
    /// Picks for a call with `key`, avoiding the endpoints in `tried`: endpoints that are
    /// down are skipped unless every endpoint not tried is down.
    pub fn choose(&self, key: Option<u64>, tried: &[Arc<Endpoint>]) -> Option<usize> {
        self.choose_at(key, tried, &Now::new())
    }

    /// `choose` at the time `now` (read at most once, and then reusable by
    /// the caller as the call's start).
    pub fn choose_at(&self, key: Option<u64>, tried: &[Arc<Endpoint>], now: &Now) -> Option<usize> {
        let healthy = Request::new(key, now).tried(tried);
        self.pick(&healthy)
            .or_else(|| self.pick(&healthy.include_down()))
    }
}

/// What one pick must respect: the call's key, the endpoints already tried for it, and
/// whether endpoints that are down may be chosen.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    key: Option<u64>,
    tried: &'a [Arc<Endpoint>],
    include_down: bool,
    now: &'a Now,
}

impl<'a> Request<'a> {
    /// A request for a call with `key` that tried nothing yet and takes healthy endpoints only.
    pub fn new(key: Option<u64>, now: &'a Now) -> Request<'a> {
        Request {
            key,
            tried: &[],
            include_down: false,
            now,
        }
    }

    /// Also avoids the endpoints in `tried` (already tried for this call).
    pub fn tried(self, tried: &'a [Arc<Endpoint>]) -> Request<'a> {
        Request { tried, ..self }
    }

    /// Also allows endpoints that are down.
    pub fn include_down(&self) -> Request<'a> {
        Request {
            include_down: true,
            ..*self
        }
    }

    /// The call's key ([`BalanceKey`](crate::BalanceKey)), if it has one.
    #[inline]
    pub fn key(&self) -> Option<u64> {
        self.key
    }

    /// The time of the pick, in nanoseconds since the process epoch.
    #[inline]
    pub fn now(&self) -> u64 {
        self.now.get()
    }

    /// Whether `endpoint` may be chosen: not tried already for this call, and not down (unless
    /// down endpoints are allowed).
    #[inline]
    pub fn eligible(&self, endpoint: &Arc<Endpoint>) -> bool {
        (self.include_down || !endpoint.health().is_down(self.now))
            && !self.tried.iter().any(|t| Arc::ptr_eq(t, endpoint))
    }

    /// The first eligible endpoint of `set` from a random place on: the fallback of pickers
    /// whose own choices were not eligible.
    pub fn scan(&self, set: &EndpointSet, rng: &Rng) -> Option<usize> {
        let n = set.len();
        if n == 0 {
            return None;
        }
        let start = rng.below(n);
        (0..n)
            .map(|i| (start + i) % n)
            .find(|&i| self.eligible(&set[i]))
    }
}

/// A balancing algorithm, chosen by name: what a balanced client is built with.
///
/// ```
/// use rookery_balance::{Balance, ConsistentHash};
///
/// let default = Balance::default(); // P2C with peak EWMA
/// assert_eq!(default.name(), "p2c_ewma");
/// let sticky = Balance::from(ConsistentHash::new().load_factor(1.25));
/// assert_eq!(sticky.name(), "consistent_hash");
/// ```
#[derive(Clone, Debug)]
pub struct Balance {
    strategy: Arc<dyn Strategy>,
    seed: Option<u64>,
}

impl Default for Balance {
    /// [`Balance::p2c_ewma`].
    fn default() -> Self {
        Balance::p2c_ewma()
    }
}

impl<S: Strategy> From<S> for Balance {
    fn from(strategy: S) -> Self {
        Balance::new(strategy)
    }
}

impl Balance {
    /// A balance with a strategy of your own.
    pub fn new(strategy: impl Strategy) -> Balance {
        Balance {
            strategy: Arc::new(strategy),
            seed: None,
        }
    }

    /// Uniformly at random.
    pub fn random() -> Balance {
        Balance::new(Random)
    }

    /// In turn, each endpoint once per round.
    pub fn round_robin() -> Balance {
        Balance::new(RoundRobin)
    }

    /// At random in proportion to the instances' weights.
    pub fn weighted() -> Balance {
        Balance::new(Weighted)
    }

    /// The fewer calls in flight of two endpoints drawn at random.
    pub fn least_request() -> Balance {
        Balance::new(LeastRequest)
    }

    /// The cheaper of two endpoints drawn at random, where cost is the peak-EWMA latency times
    /// the calls in flight plus one: the default.
    pub fn p2c_ewma() -> Balance {
        Balance::new(P2cEwma)
    }

    /// Consistent hashing on the call's [`BalanceKey`](crate::BalanceKey), with the load of
    /// any endpoint bounded to 1.25 times the average.
    pub fn consistent_hash() -> Balance {
        Balance::new(ConsistentHash::new())
    }

    /// Draws random numbers from a sequence starting at `seed` (every picker restarts it), so
    /// picks repeat from run to run: for tests and simulations.
    pub fn seeded(mut self, seed: u64) -> Balance {
        self.seed = Some(seed);
        self
    }

    /// The strategy's name.
    pub fn name(&self) -> &'static str {
        self.strategy.name()
    }

    /// The picker for `set`.
    pub fn picker(&self, set: &EndpointSet) -> Box<dyn Picker> {
        let rng = match self.seed {
            Some(seed) => Rng::seeded(seed),
            None => Rng::thread_local(),
        };
        self.strategy.picker(set, rng)
    }
}
