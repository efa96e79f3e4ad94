use std::time::Duration;

use rookery_core::BoxFuture;

use super::StaticList;
use crate::{Instance, Lease, Registry, RegistryError};

impl Registry for StaticList {
    fn register<'a>(
        &'a self,
        instance: &'a Instance,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Lease, RegistryError>> {
        tracing::debug!(%instance, "a static registry does not change; registration ignored");
        Box::pin(async move {
            Ok(Lease {
                instance_id: instance.id.clone(),
                token: 0,
                ttl,
            })
        })
    }

    fn heartbeat<'a>(&'a self, _lease: &'a Lease) -> BoxFuture<'a, Result<(), RegistryError>> {
        Box::pin(async { Ok(()) })
    }

    fn deregister<'a>(&'a self, _lease: &'a Lease) -> BoxFuture<'a, Result<(), RegistryError>> {
        Box::pin(async { Ok(()) })
    }
}
