use std::{collections::HashMap, sync::Arc, time::Duration};

use rookery_core::Layer;
use serde::{Deserialize, Serialize};

use super::{ConcurrencyLimit, service::Slots};
use crate::{
    MethodMap,
    keyed::{Keyed, Target},
};

/// What a call finds when every slot is taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// A server's way: shed the call, answering `UNAVAILABLE` at once with a retry
    /// pushback (the server is overloaded; another instance may not be).
    #[default]
    Shed,
    /// A client's way: wait for a slot until the call's deadline (without one, as long as it
    /// takes).
    Wait,
    /// A client's way: fail at once with `RESOURCE_EXHAUSTED`.
    FailFast,
}

fn default_pushback() -> Duration {
    Duration::from_millis(100)
}

/// The concurrency limits of a configuration file.
///
/// ```toml
/// [concurrency_limit]
/// service = 500                 # calls running at once, every method together
/// default = 100                 # each method not listed, on its own
/// methods."Bank.report" = 4
/// when_full = "shed"            # by default a server's; a client's waits ("wait") or "fail_fast"
/// pushback = "100ms"            # what a shed call tells its caller
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConcurrencyLimitConfig {
    /// How many calls of a service may run at once, all methods together.
    #[serde(default)]
    pub service: Option<u32>,
    /// How many calls of each method not listed may run at once.
    #[serde(default)]
    pub default: Option<u32>,
    /// The limits of single methods, by `method` or `Service.method`.
    #[serde(default)]
    pub methods: HashMap<String, u32>,
    /// What a call over a limit finds; by default, on a server
    /// ([`from_config`](ConcurrencyLimitLayer::from_config)) it is shed, on a client
    /// ([`client_from_config`](ConcurrencyLimitLayer::client_from_config)) it waits.
    #[serde(default)]
    pub when_full: Option<WhenFull>,
    /// When a shed call's caller may try again.
    #[serde(default = "default_pushback", with = "crate::duration")]
    pub pushback: Duration,
}

impl Default for ConcurrencyLimitConfig {
    fn default() -> Self {
        ConcurrencyLimitConfig {
            service: None,
            default: None,
            methods: HashMap::new(),
            when_full: None,
            pushback: default_pushback(),
        }
    }
}

/// What a [`ConcurrencyLimit`] holds its calls to.
#[derive(Clone, Debug)]
pub(super) struct Limits {
    pub(super) service: Option<u32>,
    pub(super) methods: MethodMap<Option<u32>>,
    pub(super) when_full: WhenFull,
    pub(super) pushback: Duration,
}

/// Wraps a service in [`ConcurrencyLimit`]. Without a limit set it limits nothing.
///
/// The services one layer value wraps (and its clones) share its slots, keyed by service and
/// method: a server's Thrift and gRPC sides, put in one layer, are held to one limit per
/// service.
#[derive(Clone, Debug)]
pub struct ConcurrencyLimitLayer {
    limits: Arc<Limits>,
    slots: Arc<Keyed<Target, Slots>>,
}

impl ConcurrencyLimitLayer {
    /// A server's limit: calls over it are shed ([`WhenFull::Shed`]).
    pub fn shed() -> Self {
        ConcurrencyLimitLayer::with(WhenFull::Shed)
    }

    /// A client's limit: calls over it wait for a slot until their deadline
    /// ([`WhenFull::Wait`]).
    pub fn wait() -> Self {
        ConcurrencyLimitLayer::with(WhenFull::Wait)
    }

    /// A client's limit: calls over it fail at once ([`WhenFull::FailFast`]).
    pub fn fail_fast() -> Self {
        ConcurrencyLimitLayer::with(WhenFull::FailFast)
    }

    /// What calls over the limits find.
    pub fn when_full(&self) -> WhenFull {
        self.limits.when_full
    }

    fn with(when_full: WhenFull) -> Self {
        ConcurrencyLimitLayer {
            limits: Arc::new(Limits {
                service: None,
                methods: MethodMap::default(),
                when_full,
                pushback: default_pushback(),
            }),
            slots: Arc::default(),
        }
    }

    /// At most `n` calls of a service at once (at least 1), all methods together.
    pub fn service(self, n: u32) -> Self {
        self.change(|l| l.service = Some(n.max(1)))
    }

    /// At most `n` calls at once (at least 1) of each method not given its own limit.
    pub fn each_method(self, n: u32) -> Self {
        self.change(|l| l.methods.default = Some(n.max(1)))
    }

    /// At most `n` calls of `method` (or `Service.method`) at once (at least 1).
    pub fn method(self, method: impl Into<String>, n: u32) -> Self {
        self.change(|l| {
            let methods = std::mem::take(&mut l.methods);
            l.methods = methods.method(method, Some(n.max(1)));
        })
    }

    /// When a shed call's caller may try again (100 ms by default).
    pub fn pushback(self, after: Duration) -> Self {
        self.change(|l| l.pushback = after)
    }

    /// The limits `config` sets, on a server: calls over them are shed unless it says
    /// otherwise.
    pub fn from_config(config: &ConcurrencyLimitConfig) -> Self {
        ConcurrencyLimitLayer::configured(config, WhenFull::Shed)
    }

    /// The limits `config` sets, on a client: calls over them wait unless it says otherwise.
    pub fn client_from_config(config: &ConcurrencyLimitConfig) -> Self {
        ConcurrencyLimitLayer::configured(config, WhenFull::Wait)
    }

    fn configured(config: &ConcurrencyLimitConfig, when_full: WhenFull) -> Self {
        let when_full = config.when_full.unwrap_or(when_full);
        let mut layer = ConcurrencyLimitLayer::with(when_full).pushback(config.pushback);
        if let Some(n) = config.service {
            layer = layer.service(n);
        }
        if let Some(n) = config.default {
            layer = layer.each_method(n);
        }
        for (method, n) in &config.methods {
            layer = layer.method(method.clone(), *n);
        }
        layer
    }

    fn change(self, f: impl FnOnce(&mut Limits)) -> Self {
        let mut limits = Arc::unwrap_or_clone(self.limits);
        f(&mut limits);
        ConcurrencyLimitLayer {
            limits: Arc::new(limits),
            slots: self.slots,
        }
    }
}

impl<S> Layer<S> for ConcurrencyLimitLayer {
    type Service = ConcurrencyLimit<S>;

    fn layer(&self, inner: S) -> ConcurrencyLimit<S> {
        ConcurrencyLimit::new(inner, Arc::clone(&self.limits), Arc::clone(&self.slots))
    }
}
