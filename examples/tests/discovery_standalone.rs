//! Discovery, balancing and the service lifecycle against the standalone embedded registry
//! (the registry `cargo run --example registry` serves, with a state file), run as a separate
//! process and restarted on the same port with the same state file; every Echo instance a
//! separate process running `rookery::Service::run` registered through
//! `ROOKERY_REGISTRY=registry://...`, and the test itself the client that calls by name.

mod discovery_support;

use discovery_support::{
    Backend, EchoProcess, Load, Standalone, TTL_LONG, blocking, client_of, dead_address,
    endpoint_ids, eventually, logs, until_endpoints,
};
use rookery::registry::{Instance, Registry, embedded::RemoteRegistry, protocol};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_a_paused_instance_expires_and_comes_back() {
    logs();
    let registry = blocking(Standalone::start);
    discovery_support::a_paused_instance_expires_and_comes_back(&registry, "paused-standalone")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_the_last_known_set_serves_while_the_registry_restarts() {
    logs();
    let mut registry = blocking(Standalone::start);
    discovery_support::the_last_known_set_serves_through_a_registry_outage(
        &mut registry,
        "outage-standalone",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_a_rolling_restart_under_load_fails_no_call() {
    logs();
    let registry = blocking(Standalone::start);
    discovery_support::a_rolling_restart_under_load_fails_no_call(&registry, "rolling-standalone")
        .await;
}

/// Bad input under load, for the standalone registry: its state file holds, when it starts,
/// an entry that is not an entry, one whose version is not semver, one whose address does not
/// parse, and two live entries with the same id and addresses nothing listens on; while it
/// serves, an instance with an unreachable address is registered over the wire. The registry
/// process skips each bad entry (and the second of the same id) with a logged reason and
/// keeps serving; every call succeeds, on the two real instances only, the unreachable ones
/// being tried, marked down and skipped; nothing crashes.
///
/// (Two unreachable instances at most: a call tries up to three instances, never one twice,
/// so with three unreachable instances among five, a fresh client's first call can land on
/// the three of them in a row and fail, as the balanced client documents.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_bad_entries_are_skipped_and_calls_keep_succeeding() {
    logs();
    let service = "bad-input-standalone";
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let entry = |id: &str, version: &str, address: &str| {
        format!(
            r#"{{"token":7,"ttl_ms":60000,"expires_at_ms":{},"instance":{{"name":"{service}","version":"{version}","id":"{id}","addresses":{{"thrift":"{address}"}}}}}}"#,
            now_ms + 60_000
        )
    };
    let state = format!(
        r#"{{"format":"rookery-registry-state","version":1,"saved_at_ms":{now_ms},"entries":[{}]}}"#,
        [
            "\"not an entry\"".to_owned(),
            entry("saved-bad-version", "one", "127.0.0.1:1"),
            entry("saved-bad-address", "1.0.0", "nowhere"),
            entry("saved-twice", "1.0.0", &dead_address()),
            entry("saved-twice", "1.0.0", &dead_address()),
        ]
        .join(",")
    );
    let registry = blocking(|| Standalone::start_with_state(Some(&state)));
    // The registry process read its state, skipping each bad entry with a reason, before the
    // summary line. (Its output is read by other threads, and may come before or after the
    // line that said it listens: look at all of it.)
    eventually("the registry logs what it restored", || {
        registry
            .process()
            .output()
            .iter()
            .any(|l| l.contains("registry state restored"))
    })
    .await;
    let output = registry.process().output();
    for (what, needles) in [
        (
            "not an entry",
            &["saved registry entry skipped", "index=0"][..],
        ),
        (
            "not semver",
            &[
                "saved registry entry skipped",
                "saved-bad-version",
                "version",
            ],
        ),
        (
            "bad address",
            &[
                "saved registry entry skipped",
                "saved-bad-address",
                "thrift address",
            ],
        ),
        ("duplicate id", &["duplicate id", "saved-twice"]),
        (
            "the summary",
            &["registry state restored", "restored=1", "skipped=4"],
        ),
    ] {
        assert!(
            output.iter().any(|l| needles.iter().all(|n| l.contains(n))),
            "{what}: no line with {needles:?} in:\n{}",
            output.join("\n")
        );
    }

    let url = registry.url();
    let mut instances: Vec<EchoProcess> = blocking(|| {
        ["real-a", "real-b"]
            .iter()
            .map(|label| EchoProcess::start(&url, service, label, TTL_LONG))
            .collect()
    });
    let (client, watch) = client_of(&url, service).await;
    let load = Load::start(&client, 4);
    // Registered over the wire, the proper way, but nothing listens there.
    let remote = RemoteRegistry::connect(&registry.process().addr).unwrap();
    let mut dead = Instance::new(service, "1.0.0".parse().unwrap())
        .with_address(protocol::THRIFT, dead_address());
    dead.id = "unreachable".into();
    let lease = remote.register(&dead, TTL_LONG).await.unwrap();

    let usable = ["real-a", "real-b", "saved-twice", "unreachable"];
    until_endpoints(&client, &usable).await;
    for id in ["saved-twice", "unreachable"] {
        eventually(&format!("{id} is tried and marked down"), || {
            client
                .endpoints()
                .find(id)
                .is_some_and(|e| e.health().failures() >= 1)
        })
        .await;
    }
    load.until_more_calls(300).await;

    let tally = load.finish().await;
    tally.assert_no_failure();
    assert_eq!(
        tally.by_label.keys().collect::<Vec<_>>(),
        ["real-a", "real-b"],
        "only the real instances answered"
    );
    assert!(!watch.is_stale());
    assert_eq!(endpoint_ids(&client), usable);
    for instance in &mut instances {
        assert!(instance.is_running(), "{} still runs", instance.label);
    }
    remote.deregister(&lease).await.unwrap();
    let answered: Vec<_> = blocking(|| {
        instances
            .into_iter()
            .map(EchoProcess::terminate)
            .collect::<Vec<_>>()
    });
    tally.assert_every_answer_arrived(&answered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_the_original_is_found_again_after_a_duplicate_id_leaves() {
    logs();
    let registry = blocking(Standalone::start);
    discovery_support::the_original_is_found_again_after_a_duplicate_id_leaves(
        &registry,
        "twins-standalone",
    )
    .await;
}
