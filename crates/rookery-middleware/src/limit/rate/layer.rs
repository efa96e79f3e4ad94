use std::{collections::HashMap, sync::Arc};

use rookery_core::Layer;
use serde::{Deserialize, Serialize};

use super::{RateLimit, bucket::Bucket};
use crate::{
    MethodMap,
    keyed::{Keyed, Target},
};

/// A rate: `per_second` calls a second on average, and bursts of up to `burst` calls.
///
/// ```toml
/// rate = { per_second = 100, burst = 20 }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Calls a second, on average (more than 0; fractions are fine: `0.5` is one call
    /// every two seconds).
    pub per_second: f64,
    /// How many calls may come at once after a quiet time: the bucket's size (by default
    /// one second's worth, at least 1).
    #[serde(default)]
    pub burst: Option<u32>,
}

impl Rate {
    /// `n` calls a second, in bursts of up to one second's worth.
    pub fn per_second(n: f64) -> Rate {
        Rate {
            per_second: n,
            burst: None,
        }
    }

    /// Bursts of up to `n` calls.
    pub fn burst(self, n: u32) -> Rate {
        Rate {
            burst: Some(n),
            ..self
        }
    }

    /// The bucket's size.
    pub(super) fn capacity(&self) -> u32 {
        self.burst
            .unwrap_or(self.per_second.ceil().min(f64::from(u32::MAX)) as u32)
            .max(1)
    }
}

/// The rate limits of a configuration file.
///
/// ```toml
/// [rate_limit]
/// service = { per_second = 1000 }              # every method of the service together
/// default = { per_second = 200 }               # each method not listed, on its own
/// methods."Bank.report" = { per_second = 2, burst = 1 }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// The rate of all the calls of a service (each service the layer serves has its own).
    #[serde(default)]
    pub service: Option<Rate>,
    /// The rate of each method not listed, each on its own.
    #[serde(default)]
    pub default: Option<Rate>,
    /// The rates of single methods, by `method` or `Service.method`.
    #[serde(default)]
    pub methods: HashMap<String, Rate>,
}

/// What a [`RateLimit`] holds its calls to.
#[derive(Clone, Debug, Default)]
pub(super) struct Limits {
    pub(super) service: Option<Rate>,
    pub(super) methods: MethodMap<Option<Rate>>,
}

/// Wraps a service in [`RateLimit`]. Without a rate set it limits nothing.
///
/// The services one layer value wraps (and its clones) share its buckets, each bucket
/// keyed by service and method: a server's Thrift and gRPC sides, put in one layer, are held
/// to one rate per service.
#[derive(Clone, Debug, Default)]
pub struct RateLimitLayer {
    limits: Arc<Limits>,
    buckets: Arc<Keyed<Target, Bucket>>,
}

impl RateLimitLayer {
    /// No limit yet.
    pub fn new() -> Self {
        RateLimitLayer::default()
    }

    /// All the calls of a service together at most at `rate`.
    pub fn service(self, rate: Rate) -> Self {
        self.change(|l| l.service = Some(rate))
    }

    /// Each method not given its own rate at most at `rate`, each on its own.
    pub fn each_method(self, rate: Rate) -> Self {
        self.change(|l| l.methods.default = Some(rate))
    }

    /// `method` (or `Service.method`) at most at `rate`.
    pub fn method(self, method: impl Into<String>, rate: Rate) -> Self {
        self.change(|l| {
            let methods = std::mem::take(&mut l.methods);
            l.methods = methods.method(method, Some(rate));
        })
    }

    /// The rates `config` sets.
    pub fn from_config(config: &RateLimitConfig) -> Self {
        let mut layer = RateLimitLayer::new();
        if let Some(rate) = config.service {
            layer = layer.service(rate);
        }
        if let Some(rate) = config.default {
            layer = layer.each_method(rate);
        }
        for (method, rate) in &config.methods {
            layer = layer.method(method.clone(), *rate);
        }
        layer
    }

    fn change(self, f: impl FnOnce(&mut Limits)) -> Self {
        let mut limits = Arc::unwrap_or_clone(self.limits);
        f(&mut limits);
        RateLimitLayer {
            limits: Arc::new(limits),
            buckets: self.buckets,
        }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit::new(inner, Arc::clone(&self.limits), Arc::clone(&self.buckets))
    }
}
