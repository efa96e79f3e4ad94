use std::time::Duration;

use tokio::time::Instant;

use rookery_core::BoxFuture;

use super::{Embedded, Entry};
use crate::{Instance, Lease, Registry, RegistryError};

impl Embedded {
    /// Registers `instance` for `ttl`; see [`Registry::register`].
    pub fn register_now(&self, instance: &Instance, ttl: Duration) -> Result<Lease, RegistryError> {
        instance.validate()?;
        if ttl.is_zero() {
            return Err(RegistryError::invalid("a TTL must be more than zero"));
        }
        let mut state = self.lock();
        let token = state.next_token;
        state.next_token += 1;
        state.entries.insert(
            instance.id.clone(),
            Entry {
                instance: instance.clone(),
                token,
                expires_at: Instant::now() + ttl,
            },
        );
        drop(state);
        self.changed();
        self.wake_reaper();
        Ok(Lease {
            instance_id: instance.id.clone(),
            token,
            ttl,
        })
    }

    /// Renews a lease; see [`Registry::heartbeat`].
    pub fn heartbeat_now(&self, lease: &Lease) -> Result<(), RegistryError> {
        let now = Instant::now();
        let mut state = self.lock();
        match state.entries.get_mut(&lease.instance_id) {
            Some(e) if e.token == lease.token && e.expires_at > now => {
                e.expires_at = now + lease.ttl;
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
