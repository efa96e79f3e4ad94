//! A discovering, balanced gRPC channel (feature `grpc`): the instances of a service found in
//! a registry, one HTTP/2 connection to each at its `grpc` address, each call sent to the
//! instance a balancer picks.
//!
//! It lives in the facade, not in `rookery-balance`: that crate stays free of HTTP/2 (hyper,
//! h2) for the users of the native protocol, and everything a balanced client is made of
//! (`EndpointSet`, `Selector`, `Balance`, `Filter`, the registry's `Watch`) is public there,
//! so this client is the same machinery with a gRPC connection beside each endpoint.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{Arc, RwLock},
    task::{Context as TaskContext, Poll},
    time::Duration,
};

use bytes::Bytes;
use faststr::FastStr;
use futures_core::Stream;
use rookery_balance::{
    Balance, BalanceKey, Endpoint, EndpointSet, Filter, InFlight, Selector, Tried,
};
use rookery_codec::protobuf::rpc::{ProtoRequest, ProtoResponse, ProtoStreamRequest, Streaming};
use rookery_core::{Code, Context, Service, Status};
use rookery_grpc::{ClientBuilder as GrpcClientBuilder, GrpcClient};
use rookery_registry::{Discover, Instance, InstanceSet, Query, RegistryError, Watch, protocol};
use rookery_transport::{Address, client::Backoff};
use tokio::task::JoinHandle;

use crate::Error;

/// How long dialling an instance may take before it counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A gRPC client of `service`, found in the registry `ROOKERY_REGISTRY` names (the embedded
/// registry of this process when it is not set) and balanced over its instances with P2C
/// and peak EWMA; generated clients run over it (`GreeterClient::new(channel)`). For other
/// balancers, filters or registries, use [`BalancedGrpcClient::builder`].
pub async fn grpc_connect(service: &str) -> Result<BalancedGrpcClient, Error> {
    let registry = rookery_registry::from_env()
        .await
        .map_err(|e| Error::with_source("choosing the registry", e))?;
    BalancedGrpcClient::builder(service.to_string())
        .discover(&*registry)
        .await
        .map_err(|e| Error::with_source(format!("discovering {service}"), e))
}

/// A gRPC channel to a service by name: it follows the service's instances in a registry,
/// keeps one HTTP/2 connection ([`GrpcClient`]) per instance at its `grpc` address, and sends
/// each call to the instance its [`Balance`] picks (P2C with peak EWMA by default), as
/// [`BalancedClient`](crate::BalancedClient) does for the native protocol.
///
/// It serves both contracts of generated clients, unary
/// (`Service<ProtoRequest, Response = ProtoResponse>`) and streaming
/// (`Service<ProtoStreamRequest, Response = Streaming<Bytes>>`), so a generated `XClient` works
/// over it as it is.
///
/// - Connections are made on first use and made again when one has closed (the instance sent
///   a GOAWAY and finished).
/// - A call whose instance cannot be reached (the connection is refused, or closed before the
///   call left) marks the instance down for a backoff and goes to another instance, up to
///   [`max_attempts`](BalancedGrpcClientBuilder::max_attempts). A streaming call's requests
///   cannot be sent twice: it moves on only while connecting.
/// - A [`Tried`] list in the context's extensions (a retry layer puts one there) names the
///   instances, by gRPC address, that earlier attempts of the call went to: they are avoided
///   while others exist, and each instance picked is added, so a retry or a backup request
///   goes elsewhere.
/// - Instances come and go with the registry: the connections of instances that stay are
///   kept, those of instances that left are dropped (calls on them finish).
/// - A [`BalanceKey`] in the context's extensions is what consistent hashing routes by; the
///   context's callee address is set to the instance called.
///
/// Clones share everything; the task that follows the registry stops with the last clone.
#[derive(Clone, Debug)]
pub struct BalancedGrpcClient {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    service: FastStr,
    current: Arc<RwLock<Arc<Selector<Channel>>>>,
    max_attempts: usize,
    backoff: Backoff,
    follower: JoinHandle<()>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

/// The connection to one instance, made when first needed.
#[derive(Clone, Debug)]
struct Channel {
    address: FastStr,
    builder: GrpcClientBuilder,
    connection: Arc<tokio::sync::Mutex<Option<GrpcClient>>>,
}

impl Channel {
    fn new(address: FastStr, builder: GrpcClientBuilder) -> Channel {
        Channel {
            address,
            builder,
            connection: Arc::default(),
        }
    }

    /// The open connection, or a new one; a failure to connect is `UNAVAILABLE`, unsent.
    async fn client(&self) -> Result<GrpcClient, Status> {
        let mut connection = self.connection.lock().await;
        if let Some(client) = &*connection
            && !client.is_closed()
        {
            return Ok(client.clone());
        }
        *connection = None;
        let connect = self.builder.clone().connect(&*self.address);
        let client = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(client)) => client,
            Ok(Err(status)) => {
                return Err(Status::unavailable(format!(
                    "connecting to {}: {}",
                    self.address,
                    status.message()
                ))
                .with_unsent());
            }
            Err(_) => {
                return Err(Status::unavailable(format!(
                    "connecting to {}: no answer within {CONNECT_TIMEOUT:?}",
                    self.address
                ))
                .with_unsent());
            }
        };
        *connection = Some(client.clone());
        Ok(client)
    }
}

/// Whether a failure says the instance could not be reached while the call never left: safe
/// to send elsewhere, and the instance's fault. A call refused unsent on a connection that
/// has since closed (a GOAWAY) counts too.
fn unreachable(status: &Status, client: Option<&GrpcClient>) -> bool {
    status.is_unsent()
        && (status.code() == Code::Unavailable || client.is_some_and(GrpcClient::is_closed))
}

impl BalancedGrpcClient {
    /// A builder for a client of the service registered as `service`.
    pub fn builder(service: impl Into<FastStr>) -> BalancedGrpcClientBuilder {
        BalancedGrpcClientBuilder {
            service: service.into(),
            query: None,
            balance: Balance::default(),
            filters: Vec::new(),
            region: None,
            template: GrpcClient::builder(),
            max_attempts: 3,
            backoff: Backoff::default(),
        }
    }

    /// The service called.
    pub fn service(&self) -> &str {
        &self.shared.service
    }

    /// The endpoints calls may go to now (after filters), with their statistics.
    pub fn endpoints(&self) -> EndpointSet {
        self.selector().endpoints().clone()
    }

    fn selector(&self) -> Arc<Selector<Channel>> {
        let current = self
            .shared
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(&current)
    }

    /// Picks an instance not in `tried` and connects to it, moving on while instances cannot
    /// be reached; the call is counted in flight on the one returned.
    async fn connect(
        &self,
        cx: &mut Context,
        tried: &mut Vec<Arc<Endpoint>>,
    ) -> Result<(InFlight, GrpcClient, Channel), Status> {
        let shared = &*self.shared;
        let key = cx.extensions().get::<BalanceKey>().map(|k| k.0);
        let earlier = Tried::of(cx).cloned();
        let mut last_error = None;
        while tried.len() < shared.max_attempts {
            let selector = self.selector();
            if selector.is_empty() {
                break;
            }
            let picked = pick_avoiding(&selector, key, tried, earlier.as_ref()).or_else(|| {
                // The only instance there is may be tried once more: a new connection may
                // work where a closing one did not.
                (selector.endpoints().len() == 1 && tried.len() == 1)
                    .then(|| selector.select(key, &[]))
                    .flatten()
            });
            let Some((endpoint, channel)) = picked else {
                break;
            };
            if let Some(earlier) = &earlier {
                earlier.insert(channel.address.clone());
            }
            let (flight, channel) = (endpoint.start(), channel.clone());
            drop(selector);
            let callee = cx.callee_mut();
            callee.address = Some(channel.address.clone());
            if callee.service.is_empty() {
                callee.service = shared.service.clone();
            }
            match channel.client().await {
                Ok(client) => return Ok((flight, client, channel)),
                Err(status) => {
                    tried.push(Arc::clone(flight.endpoint()));
                    self.skip(flight, &channel, &status);
                    last_error = Some(status);
                }
            }
        }
        Err(self.exhausted(tried.len(), last_error))
    }

    /// The instance of `flight` could not be reached: skip it for a while, and forget its
    /// connection.
    fn skip(&self, flight: InFlight, channel: &Channel, status: &Status) {
        let skipped_for = flight.unreached(&self.shared.backoff);
        tracing::debug!(
            service = %self.shared.service,
            address = %channel.address,
            %status,
            ?skipped_for,
            "instance unreachable; trying another"
        );
        if let Ok(mut connection) = channel.connection.try_lock()
            && connection.as_ref().is_some_and(GrpcClient::is_closed)
        {
            *connection = None;
        }
    }

    fn exhausted(&self, tried: usize, last_error: Option<Status>) -> Status {
        let service = &self.shared.service;
        match last_error {
            Some(status) => Status::unavailable(format!(
                "{service}: no instance reachable ({tried} tried), last: {}",
                status.message()
            )),
            None => Status::unavailable(format!("no gRPC instances of {service}")),
        }
        .with_unsent()
    }
}

/// An instance not in `tried` (this attempt's) and, while others exist, not in `earlier`
/// (the call's earlier attempts', by gRPC address).
fn pick_avoiding<'s>(
    selector: &'s Selector<Channel>,
    key: Option<u64>,
    tried: &[Arc<Endpoint>],
    earlier: Option<&Tried>,
) -> Option<(&'s Arc<Endpoint>, &'s Channel)> {
    if let Some(earlier) = earlier.filter(|t| !t.is_empty()) {
        let addresses = earlier.addresses();
        let mut avoid = tried.to_vec();
        avoid.extend(
            selector
                .endpoints()
                .endpoints()
                .iter()
                .filter(|e| {
                    e.instance()
                        .address(protocol::GRPC)
                        .is_some_and(|a| addresses.iter().any(|t| t == a))
                })
                .cloned(),
        );
        if let Some(picked) = selector.select(key, &avoid) {
            return Some(picked);
        }
    }
    selector.select(key, tried)
}

/// How a finished call's outcome feeds its instance's statistics.
fn record(flight: InFlight, status: Option<&Status>) {
    match status {
        // Unsent for a reason of the call's own, or the connection broke with the call on it:
        // nothing learned about the instance's speed.
        Some(s) if s.is_unsent() || s.code() == Code::Unavailable => drop(flight),
        // An answer, or an error from the instance: it is up, and the time counts.
        _ => flight.answered(),
    }
}

impl Service<ProtoRequest> for BalancedGrpcClient {
    type Response = ProtoResponse;

    async fn call(&self, cx: &mut Context, req: ProtoRequest) -> Result<ProtoResponse, Status> {
        let mut tried = Vec::new();
        let mut last_error = None;
        while tried.len() < self.shared.max_attempts {
            let (flight, client, channel) = self.connect(cx, &mut tried).await?;
            let result = Service::<ProtoRequest>::call(&client, cx, req.clone()).await;
            match &result {
                Err(status) if unreachable(status, Some(&client)) => {
                    tried.push(Arc::clone(flight.endpoint()));
                    self.skip(flight, &channel, status);
                    last_error = result.err();
                    continue;
                }
                Err(status) => record(flight, Some(status)),
                Ok(_) => record(flight, None),
            }
            return result;
        }
        Err(self.exhausted(tried.len(), last_error))
    }
}

impl Service<ProtoStreamRequest> for BalancedGrpcClient {
    type Response = Streaming<Bytes>;

    async fn call(
        &self,
        cx: &mut Context,
        req: ProtoStreamRequest,
    ) -> Result<Streaming<Bytes>, Status> {
        // The requests go once: instances are tried only while connecting.
        let mut tried = Vec::new();
        let (flight, client, channel) = self.connect(cx, &mut tried).await?;
        match Service::<ProtoStreamRequest>::call(&client, cx, req).await {
            Ok(stream) => Ok(Streaming::new(Counted {
                inner: stream,
                flight: Some(flight),
            })),
            Err(status) => {
                if unreachable(&status, Some(&client)) {
                    self.skip(flight, &channel, &status);
                } else {
                    record(flight, Some(&status));
                }
                Err(status)
            }
        }
    }
}

/// A response stream that counts its call in flight until its first item (or its end), which
/// gives the instance's latency.
struct Counted {
    inner: Streaming<Bytes>,
    flight: Option<InFlight>,
}

impl Stream for Counted {
    type Item = Result<Bytes, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let item = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(item) = &item
            && let Some(flight) = self.flight.take()
        {
            record(flight, item.as_ref().and_then(|r| r.as_ref().err()));
        }
        item
    }
}

/// Builds a [`BalancedGrpcClient`]; made by [`BalancedGrpcClient::builder`].
#[derive(Debug)]
pub struct BalancedGrpcClientBuilder {
    service: FastStr,
    query: Option<Query>,
    balance: Balance,
    filters: Vec<Arc<dyn Filter>>,
    region: Option<String>,
    template: GrpcClientBuilder,
    max_attempts: usize,
    backoff: Backoff,
}

impl BalancedGrpcClientBuilder {
    /// The balancing algorithm ([`Balance::p2c_ewma`] by default).
    pub fn balance(mut self, balance: impl Into<Balance>) -> Self {
        self.balance = balance.into();
        self
    }

    /// What to ask the registry for (`Query::service(name)` by default).
    pub fn query(mut self, query: Query) -> Self {
        self.query = Some(query);
        self
    }

    /// Calls only instances that `filter` keeps; filters add up.
    pub fn filter(mut self, filter: impl Filter) -> Self {
        self.filters.push(Arc::new(filter));
        self
    }

    /// Prefers the instances in `region` while some of them are up.
    pub fn prefer_region(mut self, region: impl Into<String>) -> Self {
        let region = region.into();
        self.region = (!region.is_empty()).then_some(region);
        self
    }

    /// The settings of each instance's connection (message sizes, compression, keepalive,
    /// TLS).
    pub fn connection(mut self, template: GrpcClientBuilder) -> Self {
        self.template = template;
        self
    }

    /// How many instances one call may try when the ones before could not be reached (3 by
    /// default, at least 1).
    pub fn max_attempts(mut self, attempts: usize) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// How long an unreachable instance is skipped (100 ms doubling up to 10 s by default).
    pub fn down_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Watches the instances of the service in `discover` and builds the client.
    pub async fn discover<D>(self, discover: &D) -> Result<BalancedGrpcClient, RegistryError>
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

    /// Builds the client over a live view of the instances, followed in a task of the
    /// current Tokio runtime (so this must be called inside one).
    pub fn watch(self, mut watch: Watch) -> BalancedGrpcClient {
        let mut rebuild = Rebuild {
            service: self.service.clone(),
            balance: self.balance,
            filters: self.filters,
            region: self.region,
            template: self.template,
            set: EndpointSet::default(),
            channels: HashMap::new(),
        };
        let current = Arc::new(RwLock::new(Arc::new(rebuild.build(&watch.current()))));
        let follower = {
            let current = Arc::clone(&current);
            tokio::spawn(async move {
                loop {
                    match watch.changed().await {
                        Ok(set) => {
                            let selector = Arc::new(rebuild.build(&set));
                            *current
                                .write()
                                .unwrap_or_else(|poisoned| poisoned.into_inner()) = selector;
                        }
                        Err(e) => {
                            tracing::warn!(
                                service = %rebuild.service,
                                error = %e,
                                "the watch ended; keeping the last instances"
                            );
                            return;
                        }
                    }
                }
            })
        };
        BalancedGrpcClient {
            shared: Arc::new(Shared {
                service: self.service,
                current,
                max_attempts: self.max_attempts,
                backoff: self.backoff,
                follower,
            }),
        }
    }
}

/// What turns an instance set into a selector, keeping the channels of instances that stay.
struct Rebuild {
    service: FastStr,
    balance: Balance,
    filters: Vec<Arc<dyn Filter>>,
    region: Option<String>,
    template: GrpcClientBuilder,
    set: EndpointSet,
    /// Each instance's channel, by id.
    channels: HashMap<String, Channel>,
}

impl Rebuild {
    fn build(&mut self, instances: &InstanceSet) -> Selector<Channel> {
        let mut addresses = HashMap::new();
        let kept: Vec<Instance> = instances
            .instances()
            .iter()
            .filter(|i| self.filters.iter().all(|f| f.keep(i)))
            .filter(|i| {
                let Some(address) = i.address(protocol::GRPC) else {
                    return false;
                };
                match address.parse::<Address>() {
                    Ok(Address::Tcp(_)) => {
                        addresses.insert(i.id.clone(), FastStr::new(address));
                        true
                    }
                    _ => {
                        tracing::warn!(
                            service = %self.service,
                            id = %i.id,
                            address,
                            "instance skipped: its gRPC address is not HOST:PORT"
                        );
                        false
                    }
                }
            })
            .cloned()
            .collect();
        self.set = self.set.update(kept);
        let mut channels = HashMap::with_capacity(self.set.len());
        for e in self.set.endpoints() {
            let address = addresses.remove(e.id()).unwrap_or_default();
            let channel = match self.channels.remove(e.id()) {
                Some(channel) if channel.address == address => channel,
                _ => Channel::new(address, self.template.clone()),
            };
            channels.insert(e.id().to_string(), channel);
        }
        self.channels = channels;
        let channels = &self.channels;
        Selector::with_payload(&self.set, &self.balance, self.region.as_deref(), |e| {
            channels[e.id()].clone()
        })
    }
}
