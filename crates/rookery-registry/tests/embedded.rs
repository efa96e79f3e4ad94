//! The embedded registry in this process: registration, watches, expiry, removal, duplicate
//! ids and malformed registrations.

mod embedded_support;

use std::{sync::Arc, time::Duration};

use embedded_support::{ids, inst};
use rookery_registry::{
    Discover, Query, Registration, Registry, RegistryErrorKind,
    embedded::{Embedded, MAX_TTL},
};

#[tokio::test(start_paused = true)]
async fn a_watch_sees_registrations_expiries_and_removals() {
    let registry = Embedded::new();
    let mut watch = registry.watch(&Query::service("s")).await.unwrap();
    assert!(watch.current().is_empty());

    let a = registry
        .register(&inst("s", "a", 1), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(ids(watch.changed().await.unwrap().instances()), ["a"]);
    // Another service's instance does not wake this watch.
    registry
        .register(&inst("other", "x", 9), Duration::from_secs(60))
        .await
        .unwrap();
    registry
        .register(&inst("s", "b", 2), Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(ids(watch.changed().await.unwrap().instances()), ["a", "b"]);

    // b is never renewed: it expires; a is renewed and stays.
    registry.heartbeat(&a).await.unwrap();
    assert_eq!(ids(watch.changed().await.unwrap().instances()), ["a"]);
    assert_eq!(
        ids(&registry.resolve(&Query::service("s")).await.unwrap()),
        ["a"]
    );

    registry.deregister(&a).await.unwrap();
    assert!(watch.changed().await.unwrap().is_empty());
    // Its lease is gone; removing it again is not an error.
    assert!(registry.heartbeat(&a).await.unwrap_err().is_lease_lost());
    registry.deregister(&a).await.unwrap();
    assert_eq!(
        registry.len(),
        1,
        "only the other service's instance is left"
    );
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_id_replaces_the_registration_and_its_lease() {
    let registry = Embedded::new();
    let first = registry
        .register(&inst("s", "dup", 1), Duration::from_secs(60))
        .await
        .unwrap();
    let second = registry
        .register(&inst("s", "dup", 2), Duration::from_secs(60))
        .await
        .unwrap();
    assert_ne!(first.token, second.token);
    let found = registry.resolve(&Query::all()).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].address("thrift"), Some("127.0.0.1:2"));
    // The first registrant lost its lease: its heartbeat says so (it would register again),
    // and its deregistration does not remove the second registrant's entry.
    assert!(
        registry
            .heartbeat(&first)
            .await
            .unwrap_err()
            .is_lease_lost()
    );
    registry.deregister(&first).await.unwrap();
    assert_eq!(registry.len(), 1);
    registry.heartbeat(&second).await.unwrap();
    registry.deregister(&second).await.unwrap();
    assert!(registry.is_empty());
}

#[tokio::test]
async fn malformed_registrations_are_refused_with_the_reason() {
    let registry = Embedded::new();
    let ttl = Duration::from_secs(10);
    let mut no_address = inst("s", "a", 1);
    no_address.addresses.clear();
    let mut bad_address = inst("s", "b", 1);
    bad_address
        .addresses
        .insert("thrift".into(), "no port".into());
    let mut no_name = inst("", "c", 1);
    no_name.name.clear();
    let slash = inst("s", "d/e", 1);
    let mut zero_weight = inst("s", "f", 1);
    zero_weight.weight = 0;
    for (instance, why) in [
        (&no_address, "no address"),
        (&bad_address, "thrift address"),
        (&no_name, "no service name"),
        (&slash, "'/'"),
        (&zero_weight, "weight 0"),
    ] {
        let e = registry.register(instance, ttl).await.unwrap_err();
        assert_eq!(e.kind(), RegistryErrorKind::Invalid);
        assert!(e.to_string().contains(why), "{e} should say {why}");
    }
    let good = inst("s", "g", 1);
    for ttl in [Duration::ZERO, MAX_TTL + Duration::from_secs(1)] {
        let e = registry.register(&good, ttl).await.unwrap_err();
        assert_eq!(e.kind(), RegistryErrorKind::Invalid, "{e}");
    }
    assert!(registry.is_empty());
}

#[tokio::test(start_paused = true)]
async fn queries_select_by_identity_and_version_constraint() {
    let registry = Embedded::new();
    let mut old = inst("s", "old", 1);
    old.version = "1.1.0".parse().unwrap();
    let mut new = inst("s", "new", 2);
    new.version = "1.4.0".parse().unwrap();
    new.region = "eu".into();
    new.tags.insert("canary".into());
    let mut next = inst("s", "next", 3);
    next.version = "2.0.0".parse().unwrap();
    for i in [&old, &new, &next] {
        registry.register(i, Duration::from_secs(60)).await.unwrap();
    }
    let q = Query::service("s").version(">=1.2, <2").unwrap();
    let mut watch = registry.watch(&q).await.unwrap();
    assert_eq!(ids(watch.current().instances()), ["new"]);
    let found = registry
        .resolve(&Query::all().region("eu").tag("canary"))
        .await
        .unwrap();
    assert_eq!(ids(&found), ["new"]);
    // A matching newcomer wakes the watch; a non-matching one does not change its set.
    let mut mid = inst("s", "mid", 4);
    mid.version = "1.9.9".parse().unwrap();
    registry
        .register(&next, Duration::from_secs(60))
        .await
        .unwrap();
    registry
        .register(&mid, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        ids(watch.changed().await.unwrap().instances()),
        ["mid", "new"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_registration_outlives_many_ttls_and_leaves_when_told() {
    let registry = Arc::new(Embedded::new());
    let mut watch = registry.watch(&Query::service("s")).await.unwrap();
    let registration = Registration::start(
        registry.clone(),
        inst("s", "kept", 1),
        Duration::from_secs(3),
    )
    .await
    .unwrap();
    assert_eq!(ids(watch.changed().await.unwrap().instances()), ["kept"]);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(ids(watch.current().instances()), ["kept"]);
    registration.deregister().await.unwrap();
    assert!(watch.changed().await.unwrap().is_empty());
}
