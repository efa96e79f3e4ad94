use std::time::Duration;

use tokio::time::Instant;

use rookery_core::BoxFuture;

use super::{Embedded, Entry, MAX_TTL};
use crate::{Instance, Lease, Registry, RegistryError};

impl Embedded {
    /// Registers `instance` for `ttl`; see [`Registry::register`]. An instance with the id of
    /// one registered already replaces it, under a new lease: the old lease is lost.
    pub fn register_now(&self, instance: &Instance, ttl: Duration) -> Result<Lease, RegistryError> {
        instance.validate()?;
        if ttl.is_zero() {
            return Err(RegistryError::invalid("a TTL must be more than zero"));
        }
        if ttl > MAX_TTL {
            return Err(RegistryError::invalid(format!(
                "a TTL of {ttl:?} is longer than the longest allowed, {MAX_TTL:?}"
            )));
        }
        // Random rather than counted, so that a lease never matches a registration made by
        // another registry, or by this one after it lost its state file.
        let token = fastrand::i64(1..);
        let replaced = self
            .lock()
            .entries
            .insert(
                instance.id.clone(),
                Entry {
                    instance: instance.clone(),
                    token,
                    ttl,
                    expires_at: Instant::now() + ttl,
                },
            )
            .is_some();
        if replaced {
            tracing::info!(id = %instance.id, "registration replaced by a new one with the same id");
        }
        self.changed();
        self.wake_reaper();
        Ok(Lease {
            instance_id: instance.id.clone(),
            token,
            ttl,
        })
    }

    /// Renews a lease for the TTL it was registered with; see [`Registry::heartbeat`].
    pub fn heartbeat_now(&self, lease: &Lease) -> Result<(), RegistryError> {
        let now = Instant::now();
        let mut state = self.lock();
        match state.entries.get_mut(&lease.instance_id) {
            Some(e) if e.token == lease.token && e.expires_at > now => {
                e.expires_at = now + e.ttl;
                drop(state);
                self.renewed();
                Ok(())
            }
            _ => Err(RegistryError::lease_lost(format!(
                "instance {} is not registered under this lease",
                lease.instance_id
            ))),
        }
    }

    /// Removes a registration; see [`Registry::deregister`]. Removing what is gone is not an
    /// error.
    pub fn deregister_now(&self, lease: &Lease) -> Result<(), RegistryError> {
        let mut state = self.lock();
        let removed = match state.entries.get(&lease.instance_id) {
            Some(e) if e.token == lease.token => state.entries.remove(&lease.instance_id).is_some(),
            _ => false,
        };
        drop(state);
        if removed {
            self.changed();
        }
        Ok(())
    }
}

impl Registry for Embedded {
    fn register<'a>(
        &'a self,
        instance: &'a Instance,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Lease, RegistryError>> {
        Box::pin(async move { self.register_now(instance, ttl) })
    }

    fn heartbeat<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), RegistryError>> {
        Box::pin(async move { self.heartbeat_now(lease) })
    }

    fn deregister<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), RegistryError>> {
        Box::pin(async move { self.deregister_now(lease) })
    }
}
