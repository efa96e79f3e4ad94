//! The embedded registry served over rookery's own RPC: the `Registry` service of
//! `idl/registry.thrift`.

use std::time::Duration;

use rookery_core::{Context, Service, Status};
use rookery_transport::{NamedService, ThriftRequest, ThriftResponse};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{
    Embedded,
    wire::{self, LeaseArgs, RegisterArgs, Reply, ResolveArgs, VoidReply, WatchArgs},
};
use crate::{RegistryError, RegistryErrorKind};

/// Serves an [`Embedded`] registry to other processes: add it to a
/// [`Router`](rookery_transport::Router) (or a `rookery::Service`), or serve it alone with
/// [`rookery_transport::Server`]. Clients reach it as `registry://HOST:PORT` through
/// [`RemoteRegistry`](super::RemoteRegistry).
///
/// ```no_run
/// use rookery_registry::embedded::{Embedded, EmbeddedServer};
/// use rookery_transport::{Router, Server};
///
/// # async fn run() -> std::io::Result<()> {
/// let registry = EmbeddedServer::new(Embedded::with_state_file("registry.json"));
/// let router = Router::new().add_service(registry.clone());
/// let handle = Server::builder().build(router).bind(&"127.0.0.1:4000".parse()?).await?;
/// // ... and when stopping: release the long polls, drain, save.
/// registry.stop_watches();
/// handle.stop().await;
/// let _ = registry.registry().flush().await;
/// # Ok(())
/// # }
/// ```
///
/// Failures are statuses: `INVALID_ARGUMENT` for a malformed instance, query, TTL or lease;
/// `NOT_FOUND` for a lease the registry does not know (the client registers again);
/// `UNAVAILABLE` once the server is stopping.
#[derive(Clone, Debug)]
pub struct EmbeddedServer {
    registry: Embedded,
    stopping: CancellationToken,
    max_wait: Duration,
}

impl EmbeddedServer {
    /// The longest a `watch` call waits for a change, by default.
    pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(60);

    /// Serves `registry`.
    pub fn new(registry: Embedded) -> Self {
        EmbeddedServer {
            registry,
            stopping: CancellationToken::new(),
            max_wait: Self::DEFAULT_MAX_WAIT,
        }
    }

    /// The longest a `watch` call waits for a change, whatever the caller asks (60 s by
    /// default).
    pub fn max_wait(mut self, max: Duration) -> Self {
        self.max_wait = max;
        self
    }

    /// The registry served.
    pub fn registry(&self) -> &Embedded {
        &self.registry
    }

    /// Ends the `watch` calls waiting for a change, and answers later ones at once, with
    /// `UNAVAILABLE`: call it when the server starts to drain, so that long polls do not hold
    /// the drain up. Watching clients keep their last set and come back when the registry
    /// does. Clones share this.
    pub fn stop_watches(&self) {
        self.stopping.cancel();
    }

    async fn watch(&self, cx: &Context, args: WatchArgs) -> Result<wire::InstanceSet, Status> {
        let query = args.query.to_query().map_err(status_of)?;
        let mut wait = Duration::from_millis(args.wait_ms.max(0) as u64).min(self.max_wait);
        if let Some(left) = cx.remaining() {
            // Answer before the caller gives up, leaving time for the reply to travel.
            wait = wait.min(left.saturating_sub((left / 10).min(Duration::from_secs(1))));
        }
        let until = Instant::now() + wait;
        let mut changes = self.registry.subscribe();
        loop {
            if self.stopping.is_cancelled() {
                return Err(Status::unavailable("the registry is stopping"));
            }
            changes.borrow_and_update();
            let set = self.resolve(&query);
            if set.revision != args.known_revision || Instant::now() >= until {
                return Ok(set);
            }
            tokio::select! {
                _ = self.stopping.cancelled() => {}
                _ = tokio::time::sleep_until(until) => {}
                changed = changes.changed() => if changed.is_err() {
                    return Err(Status::unavailable("the registry stopped"));
                },
            }
        }
    }

    fn resolve(&self, query: &crate::Query) -> wire::InstanceSet {
        wire::InstanceSet::of(
            self.registry
                .snapshot(query)
                .iter()
                .map(wire::Instance::from)
                .collect(),
        )
    }
}

/// The status a registry error travels as; [`RemoteRegistry`](super::RemoteRegistry) maps it
/// back.
pub(super) fn status_of(e: RegistryError) -> Status {
    let message = e.to_string();
    match e.kind() {
        RegistryErrorKind::LeaseLost => Status::not_found(message),
        RegistryErrorKind::Invalid => Status::invalid_argument(message),
        RegistryErrorKind::Unsupported => Status::unimplemented(message),
        _ => Status::unavailable(message),
    }
}

fn lease_of(args: LeaseArgs, method: &str) -> Result<crate::Lease, Status> {
    args.lease
        .map(|l| l.to_lease())
        .ok_or_else(|| Status::invalid_argument(format!("{method}: no lease")))
}

impl Service<ThriftRequest> for EmbeddedServer {
    type Response = ThriftResponse;

    async fn call(&self, cx: &mut Context, req: ThriftRequest) -> Result<ThriftResponse, Status> {
        let protocol = req.protocol;
        match &*req.method {
            wire::method::REGISTER => {
                let args: RegisterArgs = req.decode()?;
                let instance = args
                    .instance
                    .ok_or_else(|| Status::invalid_argument("register: no instance"))?
                    .to_instance()
                    .map_err(status_of)?;
                if args.ttl_ms <= 0 {
                    return Err(Status::invalid_argument(format!(
                        "register: a TTL of {} ms; it must be more than zero",
                        args.ttl_ms
                    )));
                }
                let ttl = Duration::from_millis(args.ttl_ms as u64);
                let lease = self
                    .registry
                    .register_now(&instance, ttl)
                    .map_err(status_of)?;
                tracing::info!(%instance, ttl = ?ttl, caller = ?cx.caller().address, "registered");
                Ok(ThriftResponse::new(
                    protocol,
                    &Reply(wire::Lease::from(&lease)),
                ))
            }
            wire::method::HEARTBEAT => {
                let lease = lease_of(req.decode()?, "heartbeat")?;
                self.registry.heartbeat_now(&lease).map_err(|e| {
                    tracing::debug!(id = %lease.instance_id, error = %e, "heartbeat refused");
                    status_of(e)
                })?;
                Ok(ThriftResponse::new(protocol, &VoidReply))
            }
            wire::method::DEREGISTER => {
                let lease = lease_of(req.decode()?, "deregister")?;
                self.registry.deregister_now(&lease).map_err(status_of)?;
                tracing::info!(id = %lease.instance_id, caller = ?cx.caller().address, "deregistered");
                Ok(ThriftResponse::new(protocol, &VoidReply))
            }
            wire::method::RESOLVE => {
                let args: ResolveArgs = req.decode()?;
                let query = args.query.to_query().map_err(status_of)?;
                Ok(ThriftResponse::new(protocol, &Reply(self.resolve(&query))))
            }
            wire::method::WATCH => {
                let args: WatchArgs = req.decode()?;
                let set = self.watch(cx, args).await?;
                Ok(ThriftResponse::new(protocol, &Reply(set)))
            }
            other => Err(Status::unimplemented(format!(
                "{} has no method {other}",
                wire::SERVICE
            ))),
        }
    }
}

impl NamedService for EmbeddedServer {
    const NAME: &'static str = wire::SERVICE;
    const METHODS: &'static [&'static str] = wire::method::ALL;
}
