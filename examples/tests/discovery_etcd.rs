//! Discovery, balancing and the service lifecycle against a real etcd (Debian's
//! `etcd-server`, started on ephemeral loopback ports by `rookery_testkit::EtcdServer`), with
//! every Echo instance a separate process running `rookery::Service::run` registered through
//! `ROOKERY_REGISTRY=etcd://...`, and the test itself the client that calls by name.
//!
//! These tests fail, naming etcd, when it is missing; `ROOKERY_SKIP_ETCD=1` skips them.

mod discovery_support;

use discovery_support::{
    Backend, EchoProcess, Load, PATIENCE, TTL_LONG, blocking, client_of, dead_address,
    endpoint_ids, eventually, logs, until_endpoints,
};
use rookery::registry::{Instance, Registry, etcd::Etcd, protocol};
use rookery_testkit::EtcdServer;

/// A real etcd: `kill` takes it down as a crash would; `restart` brings it back on the same
/// ports with the same data directory.
struct RealEtcd(EtcdServer);

impl RealEtcd {
    fn start() -> Option<RealEtcd> {
        EtcdServer::start_or_skip().map(RealEtcd)
    }
}

impl Backend for RealEtcd {
    fn url(&self) -> String {
        format!("etcd://{}", self.0.endpoint())
    }

    fn stop(&mut self) {
        self.0.kill().unwrap();
    }

    fn restart(&mut self) {
        self.0.restart().unwrap();
    }

    /// The ids under `{prefix}{service}/`, read over etcd's own JSON gateway.
    fn registered_ids(&self, service: &str) -> Option<Vec<String>> {
        let keys = self
            .0
            .get_prefix(format!("{}{service}/", Etcd::DEFAULT_PREFIX))
            .unwrap();
        Some(
            keys.iter()
                .map(|kv| kv.key.rsplit('/').next().unwrap().to_owned())
                .collect(),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_a_paused_instance_expires_and_comes_back() {
    logs();
    let Some(etcd) = blocking(RealEtcd::start) else {
        return;
    };
    discovery_support::a_paused_instance_expires_and_comes_back(&etcd, "paused-etcd").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_the_last_known_set_serves_while_etcd_is_down() {
    logs();
    let Some(mut etcd) = blocking(RealEtcd::start) else {
        return;
    };
    discovery_support::the_last_known_set_serves_through_a_registry_outage(
        &mut etcd,
        "outage-etcd",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_a_rolling_restart_under_load_fails_no_call() {
    logs();
    let Some(etcd) = blocking(RealEtcd::start) else {
        return;
    };
    discovery_support::a_rolling_restart_under_load_fails_no_call(&etcd, "rolling-etcd").await;
}

/// Bad input under load: entries written straight into etcd under the service's prefix (not
/// JSON, a version that is not semver, an address that does not parse, a second entry with
/// the id of a live instance) and an instance registered properly but with an address
/// nothing listens on. Every call succeeds, on the two real instances only; each bad entry is
/// skipped with a logged reason that names it; the unreachable instance is tried, marked
/// down and skipped; nothing crashes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_bad_entries_are_skipped_and_calls_keep_succeeding() {
    let logs = logs();
    let Some(etcd) = blocking(RealEtcd::start) else {
        return;
    };
    let service = "bad-input-etcd";
    let url = etcd.url();
    let mut instances: Vec<EchoProcess> = blocking(|| {
        ["real-a", "real-b"]
            .iter()
            .map(|label| EchoProcess::start(&url, service, label, TTL_LONG))
            .collect()
    });
    let (client, watch) = client_of(&url, service).await;
    until_endpoints(&client, &["real-a", "real-b"]).await;
    let load = Load::start(&client, 4);
    load.until_more_calls(100).await;

    let mark = logs.mark();
    let prefix = format!("{}{service}/", Etcd::DEFAULT_PREFIX);
    let entry = |id: &str, version: &str, address: &str| {
        format!(
            r#"{{"name":"{service}","version":"{version}","id":"{id}","addresses":{{"thrift":"{address}"}}}}"#
        )
    };
    let real_a = instances[0].addr.clone();
    let raw = [
        (
            "garbage",
            "{\"name\": \"bad-input-etcd\", \"vers".to_owned(),
        ),
        ("bad-version", entry("bad-version", "one", &real_a)),
        ("bad-address", entry("bad-address", "1.0.0", "nowhere")),
        // Sorts after `real-a`, the key of the live instance whose id it repeats.
        ("real-a~dup", entry("real-a", "1.0.0", &dead_address())),
    ];
    for (key, value) in &raw {
        etcd.0.put(format!("{prefix}{key}"), value).unwrap();
    }
    // Registered the proper way, under a lease, but nothing listens there.
    let registry = Etcd::connect(&etcd.0.endpoint()).await.unwrap();
    let mut dead = Instance::new(service, "1.0.0".parse().unwrap())
        .with_address(protocol::THRIFT, dead_address());
    dead.id = "unreachable".into();
    let lease = registry.register(&dead, TTL_LONG).await.unwrap();

    // Each bad entry is skipped with a reason that names it.
    let reasons: [(&str, [String; 2]); 4] = [
        (
            "not JSON",
            [format!("{prefix}garbage"), "not an instance".into()],
        ),
        (
            "not semver",
            [format!("{prefix}bad-version"), "not an instance".into()],
        ),
        (
            "bad address",
            [r#"instance "bad-address""#.into(), "thrift address".into()],
        ),
        // Named by its id (`duplicate id id=real-a`), or by its key once the backend checks
        // that an entry sits at its instance's own key.
        (
            "duplicate id",
            ["registry entry skipped".into(), "real-a".into()],
        ),
    ];
    for (what, needles) in &reasons {
        let line = blocking(|| {
            logs.wait_for(
                mark,
                |l| l.contains("registry entry skipped") && needles.iter().all(|n| l.contains(n)),
                PATIENCE,
            )
        })
        .unwrap_or_else(|e| panic!("{what}: {e}"));
        eprintln!("{what}: {line}");
    }
    until_endpoints(&client, &["real-a", "real-b", "unreachable"]).await;
    assert!(watch.skipped() >= 4, "skipped: {}", watch.skipped());
    // The live instance kept its own address, not the duplicate's.
    let endpoints = client.endpoints();
    assert_eq!(&**endpoints.find("real-a").unwrap().address(), real_a);
    // Calls tried the unreachable instance, found it down and went elsewhere.
    eventually("the unreachable instance is tried and marked down", || {
        client
            .endpoints()
            .find("unreachable")
            .is_some_and(|e| e.health().failures() >= 1)
    })
    .await;
    load.until_more_calls(300).await;

    let tally = load.finish().await;
    tally.assert_no_failure();
    assert_eq!(
        tally.by_label.keys().collect::<Vec<_>>(),
        ["real-a", "real-b"],
        "only the real instances answered"
    );
    assert!(!watch.is_stale(), "bad entries are not an outage");
    assert_eq!(
        endpoint_ids(&client),
        ["real-a", "real-b", "unreachable"],
        "the set still holds everything usable"
    );
    for instance in &mut instances {
        assert!(instance.is_running(), "{} still runs", instance.label);
    }
    registry.deregister(&lease).await.unwrap();
    let answered: Vec<_> = blocking(|| instances.into_iter().map(EchoProcess::terminate).collect());
    tally.assert_every_answer_arrived(&answered);
}

/// A duplicate of a live instance's id, written under a key that sorts *before* the live
/// instance's own key (`{prefix}{name}/{id}`), must not take the live instance's place: the
/// entry at the key the backend itself writes for that id is the registration, the other one
/// is the duplicate to skip.
///
/// (Found by this test: the watch handed its entries on in key order and the first entry of
/// an id won, so the rogue key's dead address replaced the live `real-a`; fixed in 5dc1b49 by
/// believing an entry only at its own key.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_a_duplicate_id_does_not_shadow_the_live_instance() {
    let logs = logs();
    let Some(etcd) = blocking(RealEtcd::start) else {
        return;
    };
    let service = "shadow-etcd";
    let url = etcd.url();
    let instances: Vec<EchoProcess> = blocking(|| {
        ["real-a", "real-b"]
            .iter()
            .map(|label| EchoProcess::start(&url, service, label, TTL_LONG))
            .collect()
    });
    let (client, _watch) = client_of(&url, service).await;
    until_endpoints(&client, &["real-a", "real-b"]).await;
    let real_a = instances[0].addr.clone();
    let load = Load::start(&client, 4);
    load.until_more_calls(100).await;

    let mark = logs.mark();
    let prefix = format!("{}{service}/", Etcd::DEFAULT_PREFIX);
    let dead = dead_address();
    etcd.0
        .put(
            format!("{prefix}0-rogue"),
            format!(
                r#"{{"name":"{service}","version":"1.0.0","id":"real-a","addresses":{{"thrift":"{dead}"}}}}"#
            ),
        )
        .unwrap();
    // One of the two entries of `real-a` is skipped, with a logged reason.
    let line = blocking(|| {
        logs.wait_for(
            mark,
            |l| l.contains("registry entry skipped") && l.contains("real-a"),
            PATIENCE,
        )
    })
    .unwrap();
    load.until_more_calls(300).await;
    let endpoints = client.endpoints();
    let a = endpoints.find("real-a").expect("real-a is in the set");
    assert_eq!(
        &**a.address(),
        real_a,
        "the live registration of real-a, not the duplicate at {prefix}0-rogue ({dead}); logged: {line}"
    );
    // And the live instance still gets calls.
    let before = load.tally().served_by("real-a");
    load.until_served_by("real-a", before + 10).await;
    let tally = load.finish().await;
    tally.assert_no_failure();
    let answered: Vec<_> = blocking(|| instances.into_iter().map(EchoProcess::terminate).collect());
    tally.assert_every_answer_arrived(&answered);
}

/// See [`discovery_support::the_original_is_found_again_after_a_duplicate_id_leaves`].
///
/// (Found by this test: the second registration took the key `{prefix}twins-etcd/twin` over
/// and deleted it when it left, while the first twin's lease, alive with no key, kept
/// answering its keepalives, so it was never registered again; fixed in 5dc1b49 by a
/// heartbeat that checks the key is still there under its lease.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_the_original_is_found_again_after_a_duplicate_id_leaves() {
    logs();
    let Some(etcd) = blocking(RealEtcd::start) else {
        return;
    };
    discovery_support::the_original_is_found_again_after_a_duplicate_id_leaves(&etcd, "twins-etcd")
        .await;
}
