//! The etcd backend against a real etcd (Debian's `etcd-server`, started by the test on
//! ephemeral loopback ports): register, resolve, watch, deregister, the key layout and
//! leases, expiry, and garbage entries.
//!
//! Without etcd these tests fail naming it; `ROOKERY_SKIP_ETCD=1` skips them.

#![cfg(feature = "etcd")]

mod etcd_support;

use std::{slice, sync::Arc, time::Duration};

use etcd_support::{PATIENCE, ids, instance, logs, sorted, wait_for};
use rookery_registry::{
    Discover, Instance, Query, Registration, Registry, RegistryErrorKind, etcd::Etcd, from_url,
};
use rookery_testkit::EtcdServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_resolve_watch_deregister() {
    let Some(server) = EtcdServer::start_or_skip() else {
        return;
    };
    let etcd = Arc::new(Etcd::connect(&server.endpoint()).await.unwrap());
    let mut watch = etcd.watch(&Query::service("greeter")).await.unwrap();
    assert!(watch.current().is_empty());

    let a = instance("greeter", 9001);
    let other = instance("other", 9002);
    let reg_a = Registration::start(etcd.clone(), a.clone(), Duration::from_secs(5))
        .await
        .unwrap();
    let reg_other = Registration::start(etcd.clone(), other.clone(), Duration::from_secs(5))
        .await
        .unwrap();

    let set = wait_for(&mut watch, "greeter registered", |s| !s.is_empty()).await;
    assert_eq!(
        set.instances(),
        slice::from_ref(&a),
        "the watch sees greeter only"
    );
    assert_eq!(
        etcd.resolve(&Query::service("greeter")).await.unwrap(),
        slice::from_ref(&a)
    );
    let all = etcd.resolve(&Query::all()).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(
        etcd.resolve(&Query::service("greeter").version(">=2").unwrap())
            .await
            .unwrap()
            .is_empty(),
        "resolving filters by the whole query"
    );

    // The key layout, read by etcd's own gateway rather than by the code under test.
    let kvs = server.get_prefix("/rookery/services/greeter/").unwrap();
    assert_eq!(kvs.len(), 1);
    assert_eq!(kvs[0].key, format!("/rookery/services/greeter/{}", a.id));
    assert_eq!(kvs[0].key, etcd.key(&a));
    let stored: Instance = serde_json::from_str(&kvs[0].value).unwrap();
    assert_eq!(stored, a);
    assert_ne!(kvs[0].lease, 0, "the key lives under a lease");
    assert_eq!(server.lease_granted_ttl(kvs[0].lease).unwrap(), Some(5));

    // A second client, as another process would make it, sees the same.
    let by_url = from_url(&format!("etcd://{}", server.endpoint()))
        .await
        .unwrap();
    assert_eq!(
        by_url.resolve(&Query::service("greeter")).await.unwrap(),
        slice::from_ref(&a)
    );

    reg_a.deregister().await.unwrap();
    wait_for(&mut watch, "greeter deregistered", |s| s.is_empty()).await;
    assert!(
        server
            .get_prefix("/rookery/services/greeter/")
            .unwrap()
            .is_empty()
    );
    assert!(
        etcd.resolve(&Query::service("greeter"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(etcd.resolve(&Query::all()).await.unwrap(), [other]);
    reg_other.deregister().await.unwrap();
    assert!(!watch.is_stale());
    assert_eq!(watch.errors(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttls_round_up_and_the_token_is_the_etcd_lease() {
    let Some(server) = EtcdServer::start_or_skip() else {
        return;
    };
    let etcd = Etcd::builder(&server.endpoint())
        .prefix("/leases")
        .connect()
        .await
        .unwrap();
    assert_eq!(etcd.prefix(), "/leases/");
    let a = instance("s", 9001);

    let lease = etcd
        .register(&a, Duration::from_millis(2500))
        .await
        .unwrap();
    assert_eq!(lease.ttl, Duration::from_secs(3), "2.5 s rounds up to 3 s");
    assert_eq!(lease.instance_id, a.id);
    let kvs = server.get_prefix(format!("/leases/s/{}", a.id)).unwrap();
    assert_eq!(kvs.len(), 1);
    assert_eq!(
        kvs[0].lease, lease.token,
        "the token is the key's etcd lease"
    );
    assert_eq!(server.lease_granted_ttl(lease.token).unwrap(), Some(3));
    etcd.heartbeat(&lease).await.unwrap();

    // Below etcd's own minimum, the lease says what etcd granted.
    let b = instance("s", 9002);
    let short = etcd.register(&b, Duration::from_millis(300)).await.unwrap();
    let granted = server.lease_granted_ttl(short.token).unwrap().unwrap();
    assert!(granted >= 1);
    assert_eq!(short.ttl, Duration::from_secs(granted as u64));

    // Deregistering revokes the lease, and the key goes with it.
    etcd.deregister(&lease).await.unwrap();
    assert_eq!(server.lease_granted_ttl(lease.token).unwrap(), None);
    assert!(
        server
            .get_prefix(format!("/leases/s/{}", a.id))
            .unwrap()
            .is_empty()
    );
    let err = etcd.heartbeat(&lease).await.unwrap_err();
    assert!(err.is_lease_lost(), "{err}");
    etcd.deregister(&lease).await.unwrap();

    // What etcd must not hold.
    let err = etcd.register(&a, Duration::ZERO).await.unwrap_err();
    assert_eq!(err.kind(), RegistryErrorKind::Invalid);
    let mut slash = instance("a/b", 9003);
    slash.id = "x".into();
    let err = etcd
        .register(&slash, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), RegistryErrorKind::Invalid, "{err}");
    let mut no_address = instance("s", 1);
    no_address.addresses.clear();
    let err = etcd
        .register(&no_address, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), RegistryErrorKind::Invalid, "{err}");
    etcd.deregister(&short).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_stops_heartbeating_expires() {
    let Some(server) = EtcdServer::start_or_skip() else {
        return;
    };
    let etcd = Arc::new(Etcd::connect(&server.endpoint()).await.unwrap());
    let mut watch = etcd.watch(&Query::service("fleeting")).await.unwrap();
    let kept = instance("fleeting", 9001);
    let dropped = instance("fleeting", 9002);
    let keep = Registration::start(etcd.clone(), kept.clone(), Duration::from_secs(1))
        .await
        .unwrap();
    let gone = Registration::start(etcd.clone(), dropped.clone(), Duration::from_secs(1))
        .await
        .unwrap();
    wait_for(&mut watch, "both registered", |s| s.len() == 2).await;

    // Dropped without deregistering: no more heartbeats, and etcd expires the lease.
    drop(gone);
    let set = wait_for(&mut watch, "the silent instance expired", |s| s.len() == 1).await;
    assert_eq!(
        ids(&set),
        slice::from_ref(&kept.id),
        "the heartbeating one stays"
    );
    assert_eq!(
        etcd.resolve(&Query::service("fleeting")).await.unwrap(),
        [kept]
    );
    keep.deregister().await.unwrap();
    wait_for(&mut watch, "all gone", |s| s.is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_entries_are_skipped_with_reasons() {
    let Some(server) = EtcdServer::start_or_skip() else {
        return;
    };
    let logs = logs();
    let mark = logs.mark();
    let prefix = "/garbage/";
    let valid = |id: &str, port: u16| {
        let mut i = instance("s", port);
        i.id = id.into();
        serde_json::to_string(&i).unwrap()
    };
    server
        .put("/garbage/s/notjson", "{this is not json")
        .unwrap();
    server
        .put("/garbage/s/missing", r#"{"name":"s","version":"1.0.0"}"#)
        .unwrap();
    server
        .put(
            "/garbage/s/badaddr",
            valid("badaddr", 1).replace("127.0.0.1:1", "nowhere"),
        )
        .unwrap();
    // The same id twice: at its own key, and at a foreign key that sorts first.
    server.put("/garbage/s/dup", valid("dup", 2)).unwrap();
    server.put("/garbage/s/0-dup", valid("dup", 3)).unwrap();
    server.put("/garbage/s/good", valid("good", 4)).unwrap();

    let etcd = Arc::new(
        Etcd::builder(&server.endpoint())
            .prefix(prefix)
            .connect()
            .await
            .unwrap(),
    );
    let resolved = etcd.resolve(&Query::service("s")).await.unwrap();
    assert_eq!(
        resolved.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["dup", "good"]
    );
    assert_eq!(
        resolved[0].address("thrift"),
        Some("127.0.0.1:2"),
        "the entry at the instance's own key wins, wherever the other sorts"
    );

    let mut watch = etcd.watch(&Query::service("s")).await.unwrap();
    assert_eq!(ids(&watch.current()), sorted(&["dup", "good"]));
    assert_eq!(watch.skipped(), 4, "notjson, missing, badaddr and 0-dup");
    for (what, reason) in [
        ("not json", "/garbage/s/notjson: not an instance"),
        (
            "missing fields",
            "/garbage/s/missing: not an instance: missing field",
        ),
        ("a bad address", "thrift address \"nowhere\""),
        (
            "a duplicate id at a foreign key",
            "/garbage/s/0-dup: holds instance dup of s, whose key is /garbage/s/dup",
        ),
    ] {
        logs.wait_for(
            mark,
            |l| l.contains("skipped") && l.contains(reason),
            PATIENCE,
        )
        .unwrap_or_else(|e| panic!("no logged reason for {what}: {e}"));
    }

    // Garbage arriving while watching: an instance overwritten with garbage leaves the set,
    // valid entries stay and new ones come.
    let mark = logs.mark();
    server.put("/garbage/s/good", "[1, 2, 3]").unwrap();
    let set = wait_for(&mut watch, "the overwritten entry leaves", |s| s.len() == 1).await;
    assert_eq!(ids(&set), ["dup"]);
    logs.wait_for(
        mark,
        |l| l.contains("/garbage/s/good: not an instance"),
        PATIENCE,
    )
    .unwrap();
    let late = instance("s", 5);
    let registration = Registration::start(etcd.clone(), late.clone(), Duration::from_secs(5))
        .await
        .unwrap();
    let set = wait_for(&mut watch, "a valid newcomer", |s| s.len() == 2).await;
    assert!(set.instances().contains(&late));
    assert!(!watch.is_stale(), "garbage is not an outage");
    assert_eq!(watch.errors(), 0);
    registration.deregister().await.unwrap();
    wait_for(&mut watch, "the newcomer leaves", |s| s.len() == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_of_every_service_sees_them_all() {
    let Some(server) = EtcdServer::start_or_skip() else {
        return;
    };
    let etcd = Arc::new(Etcd::connect(&server.endpoint()).await.unwrap());
    let mut everything = etcd.watch(&Query::all()).await.unwrap();
    let mut tagged = etcd.watch(&Query::all().tag("canary")).await.unwrap();
    let plain = instance("a", 9001);
    let mut canary = instance("b", 9002);
    canary.tags.insert("canary".into());
    let r1 = Registration::start(etcd.clone(), plain.clone(), Duration::from_secs(5))
        .await
        .unwrap();
    let r2 = Registration::start(etcd.clone(), canary.clone(), Duration::from_secs(5))
        .await
        .unwrap();
    wait_for(&mut everything, "both services", |s| s.len() == 2).await;
    let set = wait_for(&mut tagged, "the canary", |s| !s.is_empty()).await;
    assert_eq!(set.instances(), [canary]);
    r1.deregister().await.unwrap();
    r2.deregister().await.unwrap();
    wait_for(&mut everything, "none", |s| s.is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_does_not_answer_is_passed_over() {
    let Some(server) = EtcdServer::start_or_skip() else {
        return;
    };
    let dead = rookery_testkit::free_port().unwrap();
    let etcd = Arc::new(
        Etcd::builder(&format!("127.0.0.1:{dead}, {}", server.endpoint()))
            .request_timeout(Duration::from_secs(2))
            .connect()
            .await
            .unwrap(),
    );
    let a = instance("twice", 9001);
    let registration = Registration::start(etcd.clone(), a.clone(), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(etcd.resolve(&Query::service("twice")).await.unwrap(), [a]);
    registration.deregister().await.unwrap();
}
