//! `registry://HOST:PORT`: a standalone embedded registry, reached over rookery's own RPC.

use std::{collections::HashSet, sync::Arc, time::Duration};

use rookery_codec::thrift::{ThriftDecode, ThriftEncode};
use rookery_core::{BoxFuture, Code, Context, Status};
use rookery_transport::{Address, Client, client::Backoff, ttheader::str_key};
use tokio_util::sync::CancellationToken;

use super::wire::{self, LeaseArgs, RegisterArgs, Reply, ResolveArgs, VoidReply, WatchArgs};
use crate::{Discover, Instance, Lease, Query, Registry, RegistryError, Watch, WatchSender};

/// A [`Registry`] and [`Discover`] backed by a standalone embedded registry
/// ([`EmbeddedServer`](super::EmbeddedServer), as `cargo run --example registry` runs it).
///
/// It connects lazily: [`connect`](RemoteRegistry::connect) only checks the address, and
/// operations fail with [`Unavailable`](crate::RegistryErrorKind::Unavailable) while the
/// server cannot be reached. A [`Watch`] follows the server with long polls; while the server
/// is down it keeps the last set (marked stale, failures counted), retries with backoff and
/// jitter, and catches up when the server is back, restarted or not. Leases survive a server
/// restart (the server saves them); when the server has lost one, heartbeats fail with
/// [`LeaseLost`](crate::RegistryErrorKind::LeaseLost) and a
/// [`Registration`](crate::Registration) registers again.
#[derive(Clone, Debug)]
pub struct RemoteRegistry {
    inner: Arc<Remote>,
}

#[derive(Debug)]
struct Remote {
    client: Client,
    addr: String,
    call_timeout: Duration,
    watch_wait: Duration,
    backoff: Backoff,
}

/// Builds a [`RemoteRegistry`].
#[derive(Clone, Debug)]
pub struct RemoteRegistryBuilder {
    addr: String,
    call_timeout: Duration,
    watch_wait: Duration,
    backoff: Backoff,
}

impl RemoteRegistryBuilder {
    /// How long a call may take before it fails as unavailable (5 s by default). A watch's
    /// long poll gets this much on top of its wait.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// How long each long poll of a watch waits for a change before asking again (30 s by
    /// default; the server caps it, at 60 s by default).
    pub fn watch_wait(mut self, wait: Duration) -> Self {
        self.watch_wait = wait;
        self
    }

    /// The backoff of a watch between failed polls (from 100 ms, doubling up to 5 s, each
    /// delay drawn from the upper half so that watchers do not retry in step).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Builds the client. Nothing connects yet.
    pub fn build(self) -> Result<RemoteRegistry, RegistryError> {
        let address: Address = self
            .addr
            .parse()
            .map_err(|e| RegistryError::invalid(format!("registry://{}: {e}", self.addr)))?;
        let client = Client::builder(address)
            .caller("rookery-registry-client")
            .connect_timeout(self.call_timeout.min(Duration::from_secs(1)))
            // The watch loop backs off by itself; connection attempts should not add much.
            .backoff(Backoff {
                base: Duration::from_millis(20),
                max: Duration::from_millis(500),
            })
            .build();
        Ok(RemoteRegistry {
            inner: Arc::new(Remote {
                client,
                addr: self.addr,
                call_timeout: self.call_timeout,
                watch_wait: self.watch_wait,
                backoff: self.backoff,
            }),
        })
    }
}

impl RemoteRegistry {
    /// A client of the registry server at `HOST:PORT` (as after `registry://`), with the
    /// defaults. It does not connect until the first call, so the server may be down now.
    pub fn connect(addr: &str) -> Result<RemoteRegistry, RegistryError> {
        RemoteRegistry::builder(addr).build()
    }

    /// A builder for a client of the registry server at `HOST:PORT`.
    pub fn builder(addr: impl Into<String>) -> RemoteRegistryBuilder {
        RemoteRegistryBuilder {
            addr: addr.into(),
            call_timeout: Duration::from_secs(5),
            watch_wait: Duration::from_secs(30),
            backoff: Backoff {
                base: Duration::from_millis(100),
                max: Duration::from_secs(5),
            },
        }
    }

    /// The server's address, as given.
    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    async fn call<A, R>(
        &self,
        method: &'static str,
        args: &A,
        timeout: Duration,
    ) -> Result<R, RegistryError>
    where
        A: ThriftEncode + Sync,
        R: ThriftDecode,
    {
        let mut cx = Context::new();
        // Name the service, so the call is routed to it beside any other service.
        cx.metadata_mut()
            .insert(str_key::IDL_SERVICE_NAME, wire::SERVICE);
        cx.shorten_deadline(timeout);
        self.inner
            .client
            .call(&mut cx, method, args)
            .await
            .map_err(|status| error_of(method, &self.inner.addr, &status))
    }

    /// One long poll: the set when it differs from `known`, or after `wait`.
    async fn poll(
        &self,
        query: &wire::Query,
        known: i64,
        wait: Duration,
    ) -> Result<wire::InstanceSet, RegistryError> {
        let args = WatchArgs {
            query: query.clone(),
            known_revision: known,
            wait_ms: wait.as_millis().min(i64::MAX as u128) as i64,
        };
        let timeout = wait.saturating_add(self.inner.call_timeout);
        let Reply(set) = self.call(wire::method::WATCH, &args, timeout).await?;
        Ok(set)
    }
}

/// The registry error a status from the server means.
fn error_of(method: &str, addr: &str, status: &Status) -> RegistryError {
    let message = format!("{method} at registry://{addr}: {status}");
    match status.code() {
        Code::NotFound => RegistryError::lease_lost(message),
        Code::InvalidArgument => RegistryError::invalid(message),
        Code::Unimplemented => RegistryError::unsupported(message),
        // Not reachable, timed out, stopping, or a reply that made no sense: try again later.
        _ => RegistryError::unavailable(message),
    }
}

/// The instances of a set that can be used; the others are passed to `skip` with the reason.
/// With `check`, instances are validated and duplicate ids dropped too (a [`WatchSender`]
/// does that itself).
fn usable(set: wire::InstanceSet, check: bool, mut skip: impl FnMut(&str)) -> Vec<Instance> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(set.instances.len());
    for raw in set.instances {
        let instance = match raw.to_instance() {
            Ok(i) => i,
            Err(e) => {
                skip(&e.to_string());
                continue;
            }
        };
        if check {
            if let Err(e) = instance.validate() {
                skip(&e.to_string());
                continue;
            }
            if !seen.insert(instance.id.clone()) {
                skip(&format!("instance {:?}: duplicate id", instance.id));
                continue;
            }
        }
        out.push(instance);
    }
    out
}

impl Registry for RemoteRegistry {
    fn register<'a>(
        &'a self,
        instance: &'a Instance,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Lease, RegistryError>> {
        Box::pin(async move {
            instance.validate()?;
            if ttl.is_zero() {
                return Err(RegistryError::invalid("a TTL must be more than zero"));
            }
            let args = RegisterArgs {
                instance: Some(wire::Instance::from(instance)),
                ttl_ms: ttl.as_millis().clamp(1, i64::MAX as u128) as i64,
            };
            let Reply(lease): Reply<wire::Lease> = self
                .call(wire::method::REGISTER, &args, self.inner.call_timeout)
                .await?;
            if lease.instance_id != instance.id {
                return Err(RegistryError::unavailable(format!(
                    "register at registry://{}: the lease names instance {:?}, not {:?}",
                    self.inner.addr, lease.instance_id, instance.id
                )));
            }
            Ok(Lease {
                instance_id: lease.instance_id,
                token: lease.token,
                ttl,
            })
        })
    }

    fn heartbeat<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), RegistryError>> {
        Box::pin(async move {
            let args = LeaseArgs {
                lease: Some(wire::Lease::from(lease)),
            };
            let VoidReply = self
                .call(wire::method::HEARTBEAT, &args, self.inner.call_timeout)
                .await?;
            Ok(())
        })
    }

    fn deregister<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), RegistryError>> {
        Box::pin(async move {
            let args = LeaseArgs {
                lease: Some(wire::Lease::from(lease)),
            };
            let VoidReply = self
                .call(wire::method::DEREGISTER, &args, self.inner.call_timeout)
                .await?;
            Ok(())
        })
    }
}

impl Discover for RemoteRegistry {
    fn resolve<'a>(
        &'a self,
        query: &'a Query,
    ) -> BoxFuture<'a, Result<Vec<Instance>, RegistryError>> {
        Box::pin(async move {
            let args = ResolveArgs {
                query: wire::Query::from(query),
            };
            let Reply(set) = self
                .call(wire::method::RESOLVE, &args, self.inner.call_timeout)
                .await?;
            Ok(usable(set, true, |reason| {
                tracing::warn!(reason, "registry entry skipped");
            })
            .into_iter()
            .filter(|i| query.matches(i))
            .collect())
        })
    }

    fn watch<'a>(&'a self, query: &'a Query) -> BoxFuture<'a, Result<Watch, RegistryError>> {
        Box::pin(async move {
            let (tx, mut view, stop) = Watch::channel(query.clone());
            let wire_query = wire::Query::from(query);
            let first = self.poll(&wire_query, 0, Duration::ZERO).await?;
            let known = first.revision;
            tx.publish(usable(first, false, |reason| tx.skip(reason)));
            view.mark_seen();
            tokio::spawn(follow(self.clone(), wire_query, tx, stop, known));
            Ok(view)
        })
    }
}

/// Follows the server with long polls until the view is dropped: publishes each new set;
/// on failure keeps the last one, backs off with jitter, and asks again without waiting once
/// the server answers, so the view is fresh (and no longer stale) as soon as it is back.
async fn follow(
    remote: RemoteRegistry,
    query: wire::Query,
    tx: WatchSender,
    stop: CancellationToken,
    mut known: i64,
) {
    let mut failures = 0u32;
    loop {
        if tx.is_closed() {
            return;
        }
        let wait = if failures == 0 {
            remote.inner.watch_wait
        } else {
            Duration::ZERO
        };
        let outcome = tokio::select! {
            _ = stop.cancelled() => return,
            outcome = remote.poll(&query, known, wait) => outcome,
        };
        match outcome {
            Ok(set) => {
                if failures > 0 {
                    tracing::info!(registry = %remote.inner.addr, failures, "registry reachable again");
                }
                // Unchanged and not stale: nothing to do (and no skipped entry counted twice).
                if set.revision != known || failures > 0 {
                    known = set.revision;
                    tx.publish(usable(set, false, |reason| tx.skip(reason)));
                }
                failures = 0;
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                tx.failed(&e);
                let delay = remote.inner.backoff.delay(failures);
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}
