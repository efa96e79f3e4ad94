use std::{collections::HashMap, net::SocketAddr, sync::Arc};

use arc_swap::ArcSwap;
use faststr::FastStr;
use rookery_registry::{Discover, Query, RegistryError, Watch, protocol};
use rookery_transport::{Client, ClientBuilder, client::Backoff};
use tokio_util::sync::CancellationToken;

use super::{BalancedClient, Shared, follow};
use crate::{Balance, EndpointSet, Filter, OutlierEjection};

/// Builds a [`BalancedClient`]; made by [`BalancedClient::builder`].
#[derive(Debug)]
pub struct BalancedClientBuilder {
    service: FastStr,
    query: Option<Query>,
    balance: Balance,
    filters: Vec<Arc<dyn Filter>>,
    region: Option<String>,
    template: Option<ClientBuilder>,
    max_attempts: usize,
    backoff: Backoff,
    outlier: Option<OutlierEjection>,
    protocol: String,
}

impl BalancedClientBuilder {
    pub(super) fn new(service: FastStr) -> Self {
        BalancedClientBuilder {
            service,
            query: None,
            balance: Balance::default(),
            filters: Vec::new(),
            region: None,
            template: None,
            max_attempts: 3,
            backoff: Backoff::default(),
            outlier: None,
            protocol: protocol::THRIFT.to_string(),
        }
    }

    /// Which of each instance's addresses to use, by protocol
    /// ([`protocol::THRIFT`](rookery_registry::protocol::THRIFT) by default); instances
    /// without one are left out. The native port also answers Kitex Protobuf, so `thrift`
    /// serves both; for another protocol (`grpc`), the transport clients of this balancer do
    /// not speak it, but [`pick`](BalancedClient::pick) and
    /// [`endpoints`](BalancedClient::endpoints) give its addresses to dial.
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = protocol.into();
        self
    }

    /// The balancing algorithm ([`Balance::p2c_ewma`] by default).
    pub fn balance(mut self, balance: impl Into<Balance>) -> Self {
        self.balance = balance.into();
        self
    }

    /// What to ask the registry for, when built with [`discover`](Self::discover)
    /// (`Query::service(name)` by default). Filters then apply to what it returns.
    pub fn query(mut self, query: Query) -> Self {
        self.query = Some(query);
        self
    }

    /// Calls only instances that `filter` keeps (a [`Query`] with a version constraint, an
    /// environment, tags...). Filters add up: an instance must pass them all.
    pub fn filter(mut self, filter: impl Filter) -> Self {
        self.filters.push(Arc::new(filter));
        self
    }

    /// Prefers the instances in `region` (the caller's): while some of them are up, calls go
    /// only to them; otherwise to all. An empty region changes nothing.
    pub fn prefer_region(mut self, region: impl Into<String>) -> Self {
        let region = region.into();
        self.region = (!region.is_empty()).then_some(region);
        self
    }

    /// The settings of the transport client of each instance (framing, protocol, timeouts,
    /// connections); its address is replaced by each instance's. By default: TTHeader, binary,
    /// one multiplexed connection, the service name sent as the callee.
    pub fn transport(mut self, template: ClientBuilder) -> Self {
        self.template = Some(template);
        self
    }

    /// How many instances one call may be sent to when the ones before could not be reached
    /// (3 by default, at least 1). Only calls that never left this process are sent again.
    pub fn max_attempts(mut self, attempts: usize) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// How long an instance whose connection failed is skipped: the backoff of its failures in
    /// a row (100 ms doubling up to 10 s, with jitter, by default).
    pub fn down_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Ejects instances whose answers keep failing, as `ejection` says (off by default): they
    /// are left out of balancing for a while, a bounded share of the instances at most, and
    /// come back after a probe call succeeds. This builds on the backoff of unreachable
    /// instances ([`down_backoff`](Self::down_backoff)): both leave an instance out the same
    /// way, for different reasons.
    pub fn outlier_ejection(mut self, ejection: OutlierEjection) -> Self {
        self.outlier = Some(ejection);
        self
    }

    /// Watches the instances of the service in `discover` and builds the client.
    pub async fn discover<D>(self, discover: &D) -> Result<BalancedClient, RegistryError>
    where
        D: Discover + ?Sized,
    {
        let query = self
            .query
            .clone()
            .unwrap_or_else(|| Query::service(self.service.to_string()));
        let watch = discover.watch(&query).await?;
        Ok(self.watch(watch))
    }

    /// Builds the client over a live view of the instances. It follows the view in a task of
    /// the current Tokio runtime (so this must be called inside one) until the last clone of
    /// the client is dropped.
    pub fn watch(self, watch: Watch) -> BalancedClient {
        let template = self.template.unwrap_or_else(|| {
            // Replaced by each instance's address.
            Client::builder(SocketAddr::from(([127, 0, 0, 1], 0)).into())
                .callee(self.service.clone())
        });
        let mut rebuild = follow::Rebuild {
            service: self.service.clone(),
            protocol: self.protocol,
            balance: self.balance,
            filters: self.filters,
            region: self.region,
            template,
            set: EndpointSet::default(),
            clients: HashMap::new(),
        };
        let first = rebuild.build(&watch.current());
        let current = Arc::new(ArcSwap::from_pointee(first));
        let stop = CancellationToken::new();
        tokio::spawn(follow::follow(
            watch,
            rebuild,
            Arc::clone(&current),
            stop.clone(),
        ));
        BalancedClient {
            shared: Arc::new(Shared {
                service: self.service,
                current,
                max_attempts: self.max_attempts,
                backoff: self.backoff,
                outlier: self.outlier,
                _stop: stop.drop_guard(),
            }),
        }
    }
}
