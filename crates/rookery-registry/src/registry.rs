use std::{sync::Arc, time::Duration};

use rookery_core::BoxFuture;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{Discover, Instance, RegistryError};

/// A registration's handle in a registry: renew it before its TTL runs out, or the instance
/// disappears.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The instance registered.
    pub instance_id: String,
    /// The backend's own handle (an etcd lease id, a server token).
    pub token: i64,
    /// How long the registration lives without a heartbeat.
    pub ttl: Duration,
}

/// Where services register themselves. Every backend is also a [`Discover`].
pub trait Registry: Discover {
    /// Adds `instance` (replacing one with the same id), alive for `ttl` unless renewed.
    fn register<'a>(
        &'a self,
        instance: &'a Instance,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Lease, RegistryError>>;

    /// Renews a lease. Fails with [`RegistryErrorKind::LeaseLost`](crate::RegistryErrorKind)
    /// when the registry has forgotten it: register again.
    fn heartbeat<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), RegistryError>>;

    /// Removes the instance now.
    fn deregister<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), RegistryError>>;
}

/// An instance kept registered: it heartbeats at a third of its TTL, registers again when the
/// registry has lost it (after an outage, or after this process was paused past its TTL), and
/// retries with backoff while the registry cannot be reached. Made by [`Registration::start`];
/// ended by [`deregister`](Registration::deregister).
pub struct Registration {
    stop: CancellationToken,
    task: Option<JoinHandle<Option<Lease>>>,
    registry: Arc<dyn Registry>,
    instance_id: String,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("instance_id", &self.instance_id)
            .finish_non_exhaustive()
    }
}

impl Registration {
    /// Registers `instance` (the first registration must succeed) and keeps it registered.
    pub async fn start(
        registry: Arc<dyn Registry>,
        instance: Instance,
        ttl: Duration,
    ) -> Result<Registration, RegistryError> {
        instance.validate()?;
        let lease = registry.register(&instance, ttl).await?;
        tracing::info!(%instance, ttl = ?ttl, "registered");
        let stop = CancellationToken::new();
        let task = tokio::spawn(keep_alive(
            Arc::clone(&registry),
            instance.clone(),
            lease,
            stop.clone(),
        ));
        Ok(Registration {
            stop,
            task: Some(task),
            registry,
            instance_id: instance.id,
        })
    }

    /// The id of the instance kept registered.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// Stops heartbeating and removes the instance from the registry.
    pub async fn deregister(mut self) -> Result<(), RegistryError> {
        self.stop.cancel();
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        let lease = task
            .await
            .map_err(|e| RegistryError::unavailable(format!("heartbeat task failed: {e}")))?;
        match lease {
            Some(lease) => {
                self.registry.deregister(&lease).await?;
                tracing::info!(id = %self.instance_id, "deregistered");
                Ok(())
            }
            // Never registered again after losing the lease: nothing to remove.
            None => Ok(()),
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // Without deregister, the instance expires with its TTL.
        self.stop.cancel();
    }
}

/// Heartbeats until stopped; returns the lease in force, if any.
async fn keep_alive(
    registry: Arc<dyn Registry>,
    instance: Instance,
    lease: Lease,
    stop: CancellationToken,
) -> Option<Lease> {
    let ttl = lease.ttl;
    let period = (ttl / 3).max(Duration::from_millis(50));
    let mut lease = Some(lease);
    let mut failures = 0u32;
    loop {
        let wait = if failures == 0 {
            period
        } else {
            // Back off, but never so long that the lease would run out between attempts.
            let exp = Duration::from_millis(100).saturating_mul(1 << failures.min(6));
            exp.min(period)
        };
        tokio::select! {
            _ = stop.cancelled() => return lease,
            _ = tokio::time::sleep(wait) => {}
        }
        let outcome = match &lease {
            Some(l) => registry.heartbeat(l).await,
            None => Err(RegistryError::lease_lost("not registered")),
        };
        match outcome {
            Ok(()) => failures = 0,
            Err(e) if e.is_lease_lost() => match registry.register(&instance, ttl).await {
                Ok(new) => {
                    tracing::info!(%instance, "registered again after the lease was lost");
                    lease = Some(new);
                    failures = 0;
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, id = %instance.id, "registering again failed");
                }
            },
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, id = %instance.id, failures, "heartbeat failed");
            }
        }
    }
}
