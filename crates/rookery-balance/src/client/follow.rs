//! Following the watch: each new instance set becomes a new selector, with the endpoints and
//! transport clients of the instances that stayed kept.

use std::{collections::HashMap, sync::Arc};

use arc_swap::ArcSwap;
use faststr::FastStr;
use rookery_registry::{Instance, InstanceSet, Watch};
use rookery_transport::{Address, Client, ClientBuilder};
use tokio_util::sync::CancellationToken;

use crate::{Balance, EndpointSet, Filter, Selector};

/// What turns an instance set into a selector.
pub(super) struct Rebuild {
    pub(super) service: FastStr,
    /// Which address of each instance is called.
    pub(super) protocol: String,
    pub(super) balance: Balance,
    pub(super) filters: Vec<Arc<dyn Filter>>,
    pub(super) region: Option<String>,
    pub(super) template: ClientBuilder,
    /// The last version of the set.
    pub(super) set: EndpointSet,
    /// The client of each instance in the set, by id, with the address it calls.
    pub(super) clients: HashMap<String, (String, Client)>,
}

impl Rebuild {
    /// The selector for `instances`: instances the filters reject, or without an address for
    /// the protocol, are left out.
    pub(super) fn build(&mut self, instances: &InstanceSet) -> Selector<Client> {
        let mut addresses = HashMap::new();
        let kept: Vec<Instance> = instances
            .instances()
            .iter()
            .filter(|i| self.filters.iter().all(|f| f.keep(i)))
            .filter(|i| {
                let Some(address) = i.address(&self.protocol) else {
                    tracing::debug!(
                        service = %self.service,
                        id = %i.id,
                        protocol = %self.protocol,
                        "instance skipped: no address for the protocol"
                    );
                    return false;
                };
                match address.parse::<Address>() {
                    Ok(parsed) => {
                        addresses.insert(i.id.clone(), parsed);
                        true
                    }
                    Err(e) => {
                        tracing::warn!(
                            service = %self.service,
                            id = %i.id,
                            address,
                            error = %e,
                            "instance skipped: its address does not parse"
                        );
                        false
                    }
                }
            })
            .cloned()
            .collect();
        self.set = self.set.update(kept);
        let mut clients = HashMap::with_capacity(self.set.len());
        for e in self.set.endpoints() {
            // The address called is the protocol's, which `Endpoint::address` (the native
            // one) is not when the protocol is another: compare and keep that one, or every
            // new set would replace the client of an instance whose two addresses differ.
            let called = e.instance().address(&self.protocol).unwrap_or_default();
            let reused = self
                .clients
                .remove(e.id())
                .filter(|(address, _)| address == called);
            let entry = reused.unwrap_or_else(|| {
                let address = addresses[e.id()].clone();
                let client = self.template.clone().address(address).build();
                (called.to_string(), client)
            });
            clients.insert(e.id().to_string(), entry);
        }
        // The clients of instances that left are dropped here; calls still running on them
        // hold their own clones and finish.
        self.clients = clients;
        let clients = &self.clients;
        Selector::with_payload(&self.set, &self.balance, self.region.as_deref(), |e| {
            clients[e.id()].1.clone()
        })
    }
}

/// Rebuilds the selector each time the watch changes, until stopped or until the watch ends
/// (the last set then stays).
pub(super) async fn follow(
    mut watch: Watch,
    mut rebuild: Rebuild,
    current: Arc<ArcSwap<Selector<Client>>>,
    stop: CancellationToken,
) {
    loop {
        let changed = tokio::select! {
            _ = stop.cancelled() => return,
            changed = watch.changed() => changed,
        };
        match changed {
            Ok(set) => {
                let selector = rebuild.build(&set);
                tracing::debug!(
                    service = %rebuild.service,
                    instances = set.len(),
                    endpoints = selector.endpoints().len(),
                    revision = set.revision(),
                    "instance set changed"
                );
                current.store(Arc::new(selector));
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
}

#[cfg(test)]
mod tests {
    use std::{net::SocketAddr, time::Duration};

    use rookery_registry::{Discover, Query, Registry, embedded::Embedded, protocol};

    use super::*;

    #[tokio::test]
    async fn the_client_kept_is_the_one_at_the_protocols_address() {
        let registry = Embedded::new();
        let mut instance = Instance::new("svc", "1.0.0".parse().expect("a version"))
            .with_address(protocol::THRIFT, "127.0.0.1:1")
            .with_address("grpc", "127.0.0.1:2");
        instance.id = "a".into();
        let _lease = registry
            .register(&instance, Duration::from_secs(30))
            .await
            .expect("register");
        let watch = registry.watch(&Query::service("svc")).await.expect("watch");
        let mut rebuild = Rebuild {
            service: FastStr::from_static_str("svc"),
            protocol: "grpc".to_string(),
            balance: Balance::default(),
            filters: Vec::new(),
            region: None,
            template: Client::builder(SocketAddr::from(([127, 0, 0, 1], 0)).into()),
            set: EndpointSet::default(),
            clients: HashMap::new(),
        };
        let _ = rebuild.build(&watch.current());
        assert_eq!(rebuild.clients["a"].0, "127.0.0.1:2");
        // The same set again: the client is kept (before, its recorded address was the
        // native one, unequal to the protocol's, and it was made anew each time).
        let first = rebuild.clients["a"].1.clone();
        let _ = rebuild.build(&watch.current());
        assert_eq!(rebuild.clients["a"].0, "127.0.0.1:2");
        assert!(
            rebuild.clients["a"].1.same_connections(&first),
            "the instance's client was replaced"
        );
    }
}
