//! The balanced client: discovers the instances of a service, keeps a transport client for
//! each, and sends every call to the instance a balancer picks.

mod builder;
mod follow;

use std::sync::Arc;

use arc_swap::ArcSwap;
use faststr::FastStr;
use rookery_core::{Code, Context, Service, Status};
use rookery_transport::{Client, ThriftRequest, ThriftResponse, client::Backoff};
use tokio_util::sync::DropGuard;

pub use builder::BalancedClientBuilder;

use crate::{BalanceKey, Endpoint, EndpointSet, InFlight, Now, OutlierEjection, Selector, Tried};

/// A [`Service`] over [`ThriftRequest`] that calls a service by name: it follows the
/// service's instances in a registry, keeps one transport [`Client`] per instance, and sends
/// each call to the instance its [`Balance`](crate::Balance) picks.
///
/// - Instances come and go without a failed call: when the set changes, a new selector is
///   built off the call path and swapped in atomically; the endpoints and clients (so the
///   connections and statistics) of the instances that stayed are kept, those of the
///   instances that left are dropped.
/// - A call whose connection fails before anything was sent (the instance stopped, or is
///   draining) marks the instance down for a backoff and goes to another instance, up to
///   [`max_attempts`](BalancedClientBuilder::max_attempts) instances, never the same one
///   twice unless it is the only one. A call that may have reached a server is never sent
///   again: that is for a retry layer that knows whether the method is idempotent.
/// - A [`Tried`] list in the context's extensions (a retry layer puts one there) names the
///   instances earlier attempts of the call went to: they are avoided while others exist, and
///   each instance picked is added to it, so a retry or a backup request goes elsewhere.
/// - With [outlier ejection](BalancedClientBuilder::outlier_ejection), an instance whose
///   answers keep failing is left out for a while (a bounded share of the instances at
///   most), then probed before it comes back.
/// - With no instance, calls fail at once with `UNAVAILABLE` (marked unsent), naming the
///   service.
/// - The context's callee address is set to the instance called; a
///   [`BalanceKey`] in its extensions is the key consistent hashing routes by.
///
/// Clones share everything; the task that follows the registry stops when the last clone is
/// dropped.
#[derive(Clone, Debug)]
pub struct BalancedClient {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    service: FastStr,
    current: Arc<ArcSwap<Selector<Client>>>,
    max_attempts: usize,
    backoff: Backoff,
    outlier: Option<OutlierEjection>,
    _stop: DropGuard,
}

impl BalancedClient {
    /// A builder for a client of the service registered as `service`.
    pub fn builder(service: impl Into<FastStr>) -> BalancedClientBuilder {
        BalancedClientBuilder::new(service.into())
    }

    /// The service called.
    pub fn service(&self) -> &str {
        &self.shared.service
    }

    /// The endpoints calls may go to now (after filters), with their statistics.
    pub fn endpoints(&self) -> EndpointSet {
        self.shared.current.load().endpoints().clone()
    }

    /// The endpoint a call with `key` would be sent to now; what every call pays for discovery
    /// and balancing, from the cached set.
    pub fn pick(&self, key: Option<BalanceKey>) -> Option<Arc<Endpoint>> {
        let selector = self.shared.current.load();
        selector
            .select(key.map(|k| k.0), &[])
            .map(|(e, _)| Arc::clone(e))
    }

    /// Picks as a call does and counts the call in flight on the endpoint picked, reusing the
    /// pick's reading of the clock as the call's start: every step of a call but the
    /// transport's.
    pub fn start(&self, key: Option<BalanceKey>) -> Option<InFlight> {
        let now = Now::new();
        let selector = self.shared.current.load();
        let (endpoint, _) = selector.select_at(key.map(|k| k.0), &[], &now)?;
        Some(endpoint.start_at(&now))
    }

    /// Feeds the outcome of a call that reached (or may have reached) its instance to outlier
    /// detection, if it is on.
    fn record_outcome(&self, flight: &InFlight, status: Option<&Status>) {
        if let Some(outlier) = &self.shared.outlier {
            let current = self.shared.current.load();
            if let Some(time) = outlier.record(flight, current.endpoints(), status) {
                tracing::debug!(
                    service = %self.shared.service,
                    id = flight.endpoint().id(),
                    ?time,
                    "instance ejected"
                );
            }
        }
    }

    fn no_instances(&self) -> Status {
        Status::unavailable(format!("no instances of {}", self.shared.service)).with_unsent()
    }

    /// Picks an endpoint not in `tried` (this attempt's) and, while others exist, not in
    /// `earlier` (the call's earlier attempts'), counts the call in flight on it, and clones
    /// its client, so no reference into the selector is held while the call runs.
    fn select(
        &self,
        key: Option<u64>,
        tried: &[Arc<Endpoint>],
        earlier: Option<&Tried>,
    ) -> Result<Option<(InFlight, Client)>, Status> {
        let selector = self.shared.current.load();
        if selector.is_empty() {
            return Err(self.no_instances());
        }
        let now = Now::new();
        let avoiding_earlier = earlier.filter(|t| !t.is_empty()).and_then(|earlier| {
            let addresses = earlier.addresses();
            let mut avoid = tried.to_vec();
            avoid.extend(
                selector
                    .endpoints()
                    .endpoints()
                    .iter()
                    .filter(|e| addresses.contains(e.address()))
                    .cloned(),
            );
            selector.select_at(key, &avoid, &now)
        });
        let picked = avoiding_earlier
            .or_else(|| selector.select_at(key, tried, &now))
            .or_else(|| {
                // Every endpoint was tried: the only one there is may be tried once more (a
                // new connection may work where a draining one did not).
                (selector.endpoints().len() == 1 && tried.len() == 1)
                    .then(|| selector.select_at(key, &[], &now))
                    .flatten()
            });
        Ok(picked.map(|(e, client)| {
            if let Some(earlier) = earlier {
                earlier.insert(e.address().clone());
            }
            (e.start_at(&now), client.clone())
        }))
    }
}

/// Whether a failure says the instance could not be reached while the call never left this
/// process: the one kind of failure that is safe to send elsewhere and that is the instance's
/// fault. (Other unsent failures, a frame too large or a deadline already passed, would fail
/// the same on every instance.)
fn unreachable(status: &Status) -> bool {
    status.is_unsent() && status.code() == Code::Unavailable
}

impl Service<ThriftRequest> for BalancedClient {
    type Response = ThriftResponse;

    async fn call(&self, cx: &mut Context, req: ThriftRequest) -> Result<ThriftResponse, Status> {
        let shared = &*self.shared;
        let key = cx.extensions().get::<BalanceKey>().map(|k| k.0);
        let earlier = Tried::of(cx).cloned();
        let mut tried: Vec<Arc<Endpoint>> = Vec::new();
        let mut req = Some(req);
        let mut last_error = None;
        for attempt in 1..=shared.max_attempts {
            let Some((flight, client)) = self.select(key, &tried, earlier.as_ref())? else {
                break;
            };
            let callee = cx.callee_mut();
            callee.address = Some(flight.endpoint().address().clone());
            if callee.service.is_empty() {
                callee.service = shared.service.clone();
            }
            // The last attempt sends the request itself; the others a copy (cheap: shared
            // bytes), kept in case the call must go elsewhere.
            let this = if attempt == shared.max_attempts {
                req.take()
            } else {
                req.clone()
            };
            let Some(this) = this else { break };
            let result = Service::call(&client, cx, this).await;
            match &result {
                Ok(_) => {
                    self.record_outcome(&flight, None);
                    flight.answered()
                }
                Err(status) if unreachable(status) => {
                    let endpoint = Arc::clone(flight.endpoint());
                    let skipped_for = flight.unreached(&shared.backoff);
                    tracing::debug!(
                        service = %shared.service,
                        id = endpoint.id(),
                        address = %endpoint.address(),
                        %status,
                        ?skipped_for,
                        attempt,
                        "instance unreachable; trying another"
                    );
                    tried.push(endpoint);
                    last_error = result.err();
                    continue;
                }
                // Unsent for a reason of the call's own: nothing learned about the instance.
                Err(status) if status.is_unsent() => drop(flight),
                // The connection broke with the call on it: nothing learned about the
                // instance's speed, but it failed the call.
                Err(status) if status.code() == Code::Unavailable => {
                    self.record_outcome(&flight, Some(status));
                    drop(flight)
                }
                // The instance answered with an error, or did not answer in time: it is up,
                // and the time it took counts.
                Err(status) => {
                    self.record_outcome(&flight, Some(status));
                    flight.answered()
                }
            }
            return result;
        }
        Err(match last_error {
            Some(status) => Status::unavailable(format!(
                "{}: no instance reachable ({} tried), last: {}",
                shared.service,
                tried.len(),
                status.message()
            ))
            .with_unsent(),
            None => self.no_instances(),
        })
    }
}
