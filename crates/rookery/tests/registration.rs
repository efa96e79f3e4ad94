//! A service registers once it listens, heartbeats, and on stop deregisters before it drains.

use std::{sync::Arc, time::Duration};

use rookery::{
    Context, Router, Service, Status,
    core::service_fn,
    registry::{Discover, Query, Registry, embedded::Embedded, protocol},
    transport::{HealthState, ThriftRequest, ThriftResponse},
};

fn router() -> Router {
    Router::new().add_service_named(
        "S",
        &["m"],
        service_fn(|_cx: &mut Context, req: ThriftRequest| async move {
            Ok::<_, Status>(ThriftResponse::empty(req.protocol))
        }),
    )
}

#[tokio::test]
async fn registers_with_its_identity_and_deregisters_before_draining() {
    let registry = Arc::new(Embedded::new());
    let running = Service::builder("greeter")
        .version("1.4.2")
        .registry(registry.clone())
        .environment("staging")
        .region("eu-west")
        .hostname("box-1")
        .tag("canary")
        .metadata("team", "rooks")
        .weight(50)
        .ttl(Duration::from_secs(2))
        .router(router())
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();

    let found = registry
        .resolve(&Query::service("greeter").version(">=1.4, <2").unwrap())
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let i = &found[0];
    assert_eq!(i.version.to_string(), "1.4.2");
    assert_eq!(i.environment, "staging");
    assert_eq!(i.region, "eu-west");
    assert_eq!(i.hostname, "box-1");
    assert!(i.tags.contains("canary"));
    assert_eq!(i.metadata.get("team").map(String::as_str), Some("rooks"));
    assert_eq!(i.weight, 50);
    assert_eq!(
        i.address(protocol::THRIFT),
        Some(running.local_addr().to_string().as_str())
    );
    assert_eq!(running.instance().unwrap().id, i.id);

    // Heartbeats keep it registered well past its TTL.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(registry.len(), 1, "heartbeats keep the registration alive");

    running.stop().await.unwrap();
    assert!(registry.is_empty());
}

/// A registry that records the server's health at the moment it is asked to deregister.
struct Recording {
    inner: Embedded,
    health: std::sync::Mutex<Option<rookery::transport::Health>>,
    at_deregister: std::sync::Mutex<Option<HealthState>>,
}

impl Discover for Recording {
    fn resolve<'a>(
        &'a self,
        q: &'a Query,
    ) -> rookery::core::BoxFuture<
        'a,
        Result<Vec<rookery::registry::Instance>, rookery::registry::RegistryError>,
    > {
        self.inner.resolve(q)
    }

    fn watch<'a>(
        &'a self,
        q: &'a Query,
    ) -> rookery::core::BoxFuture<
        'a,
        Result<rookery::registry::Watch, rookery::registry::RegistryError>,
    > {
        self.inner.watch(q)
    }
}

impl Registry for Recording {
    fn register<'a>(
        &'a self,
        i: &'a rookery::registry::Instance,
        ttl: Duration,
    ) -> rookery::core::BoxFuture<
        'a,
        Result<rookery::registry::Lease, rookery::registry::RegistryError>,
    > {
        self.inner.register(i, ttl)
    }

    fn heartbeat<'a>(
        &'a self,
        l: &'a rookery::registry::Lease,
    ) -> rookery::core::BoxFuture<'a, Result<(), rookery::registry::RegistryError>> {
        self.inner.heartbeat(l)
    }

    fn deregister<'a>(
        &'a self,
        l: &'a rookery::registry::Lease,
    ) -> rookery::core::BoxFuture<'a, Result<(), rookery::registry::RegistryError>> {
        let state = self.health.lock().unwrap().as_ref().map(|h| h.get());
        *self.at_deregister.lock().unwrap() = state;
        self.inner.deregister(l)
    }
}

#[tokio::test]
async fn deregistration_comes_before_the_drain() {
    let registry = Arc::new(Recording {
        inner: Embedded::new(),
        health: Default::default(),
        at_deregister: Default::default(),
    });
    let running = Service::builder("greeter")
        .registry(registry.clone())
        .router(router())
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    *registry.health.lock().unwrap() = Some(running.health().clone());
    assert_eq!(registry.inner.len(), 1);
    running.stop().await.unwrap();
    assert_eq!(
        *registry.at_deregister.lock().unwrap(),
        Some(HealthState::Serving),
        "deregistered while still serving, before the drain"
    );
    assert!(registry.inner.is_empty());
}

#[tokio::test]
async fn a_service_without_a_registry_registers_nowhere() {
    let running = Service::builder("alone")
        .no_registry()
        .router(router())
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    assert!(running.instance().is_none());
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_bad_version_is_refused_at_build() {
    let err = Service::builder("s")
        .version("one")
        .router(router())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("not semver"), "{err}");
}

/// A registry that refuses every registration.
struct Refusing;

impl Discover for Refusing {
    fn resolve<'a>(
        &'a self,
        _q: &'a Query,
    ) -> rookery::core::BoxFuture<
        'a,
        Result<Vec<rookery::registry::Instance>, rookery::registry::RegistryError>,
    > {
        Box::pin(async { Ok(vec![]) })
    }

    fn watch<'a>(
        &'a self,
        q: &'a Query,
    ) -> rookery::core::BoxFuture<
        'a,
        Result<rookery::registry::Watch, rookery::registry::RegistryError>,
    > {
        Box::pin(async move { Ok(rookery::registry::Watch::channel(q.clone()).1) })
    }
}

impl Registry for Refusing {
    fn register<'a>(
        &'a self,
        _i: &'a rookery::registry::Instance,
        _ttl: Duration,
    ) -> rookery::core::BoxFuture<
        'a,
        Result<rookery::registry::Lease, rookery::registry::RegistryError>,
    > {
        Box::pin(async {
            Err(rookery::registry::RegistryError::unavailable(
                "down for maintenance",
            ))
        })
    }

    fn heartbeat<'a>(
        &'a self,
        _l: &'a rookery::registry::Lease,
    ) -> rookery::core::BoxFuture<'a, Result<(), rookery::registry::RegistryError>> {
        Box::pin(async { Ok(()) })
    }

    fn deregister<'a>(
        &'a self,
        _l: &'a rookery::registry::Lease,
    ) -> rookery::core::BoxFuture<'a, Result<(), rookery::registry::RegistryError>> {
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn a_failed_first_registration_stops_the_service() {
    let err = Service::builder("s")
        .registry(Arc::new(Refusing))
        .router(router())
        .build()
        .unwrap()
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("registering"), "{err}");
    assert!(
        err.to_string().contains("down for maintenance")
            || format!("{err:?}").contains("down for maintenance"),
        "{err:?}"
    );
}
