use std::time::Duration;

use rookery_core::BoxFuture;
use tonic::Code;

use super::{Etcd, rpc, status_error};
use crate::{Instance, Lease, Registry, RegistryError};

impl Etcd {
    async fn register_instance(
        &self,
        instance: &Instance,
        ttl: Duration,
    ) -> Result<Lease, RegistryError> {
        instance.validate()?;
        if instance.name.contains('/') {
            return Err(RegistryError::invalid(format!(
                "instance {:?}: a service name may not contain '/' in etcd (it separates the key's parts)",
                instance.id
            )));
        }
        if ttl.is_zero() {
            return Err(RegistryError::invalid("a TTL must be more than zero"));
        }
        let value = serde_json::to_vec(instance)
            .map_err(|e| RegistryError::invalid(format!("instance {:?}: {e}", instance.id)))?;
        let seconds = Etcd::ttl_seconds(ttl);
        let grant = self
            .call(|c| async move { c.lease_grant(seconds).await })
            .await
            .map_err(|s| status_error("etcd lease grant", &s))?;
        if !grant.error.is_empty() {
            return Err(RegistryError::unavailable(format!(
                "etcd lease grant: {}",
                grant.error
            )));
        }
        let lease_id = grant.id;
        let key = self.key(instance);
        let put = rpc::PutRequest {
            key: key.clone().into_bytes(),
            value,
            lease: lease_id,
        };
        if let Err(status) = self.call(|c| async move { c.put(put).await }).await {
            // Give the lease back rather than let it run out unused.
            let _ = self
                .call(|c| async move { c.lease_revoke(lease_id).await })
                .await;
            return Err(status_error(&format!("etcd put {key}"), &status));
        }
        tracing::debug!(%key, lease = lease_id, ttl = grant.ttl, "registered in etcd");
        self.inner
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(lease_id, key.into_bytes());
        Ok(Lease {
            instance_id: instance.id.clone(),
            token: lease_id,
            // What etcd granted, which may be more than asked.
            ttl: Duration::from_secs(u64::try_from(grant.ttl).unwrap_or(0).max(1)),
        })
    }

    async fn keep_alive(&self, lease: &Lease) -> Result<(), RegistryError> {
        let id = lease.token;
        let lost = || {
            RegistryError::lease_lost(format!(
                "etcd lease {id:x} of instance {} is gone (expired or revoked)",
                lease.instance_id
            ))
        };
        match self
            .call(|c| async move { c.lease_keep_alive(id).await })
            .await
        {
            // etcd answers a keepalive of a lease it does not know with a TTL of 0.
            Ok(reply) if reply.ttl <= 0 => return Err(lost()),
            Ok(_) => {}
            Err(status) if status.code() == Code::NotFound => return Err(lost()),
            Err(status) => return Err(status_error("etcd lease keepalive", &status)),
        }
        // A live lease is not enough: the key must still be there and still under it. Another
        // registration of the same id takes the key over (and deletes it when it leaves),
        // leaving this lease alive with no key: then register again.
        let key = self
            .inner
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned();
        let Some(key) = key else { return Ok(()) };
        let get = rpc::RangeRequest {
            key: key.clone(),
            ..Default::default()
        };
        let found = self
            .call(|c| async move { c.range(get).await })
            .await
            .map_err(|s| status_error("etcd get", &s))?;
        match found.kvs.first() {
            Some(kv) if kv.lease == id => Ok(()),
            other => {
                let why = if other.is_some() {
                    "taken over by another registration of the same id"
                } else {
                    "deleted"
                };
                tracing::warn!(
                    key = %String::from_utf8_lossy(&key),
                    id = %lease.instance_id,
                    "etcd key {why}; registering again"
                );
                self.forget(id);
                Err(RegistryError::lease_lost(format!(
                    "etcd key of instance {} was {why}",
                    lease.instance_id
                )))
            }
        }
    }

    fn forget(&self, lease: i64) {
        self.inner
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&lease);
    }

    async fn revoke(&self, lease: &Lease) -> Result<(), RegistryError> {
        let id = lease.token;
        self.forget(id);
        match self.call(|c| async move { c.lease_revoke(id).await }).await {
            Ok(_) => Ok(()),
            // Gone already (expired): so is its key.
            Err(status) if status.code() == Code::NotFound => Ok(()),
            Err(status) => Err(status_error("etcd lease revoke", &status)),
        }
    }
}

impl Registry for Etcd {
    fn register<'a>(
        &'a self,
        instance: &'a Instance,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Lease, RegistryError>> {
        Box::pin(self.register_instance(instance, ttl))
    }

    fn heartbeat<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), RegistryError>> {
        Box::pin(self.keep_alive(lease))
    }

    /// Revokes the lease, which deletes the instance's key with it.
    fn deregister<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), RegistryError>> {
        Box::pin(self.revoke(lease))
    }
}
