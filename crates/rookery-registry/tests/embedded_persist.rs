//! The embedded registry's state file: a restart keeps live instances, under the same leases,
//! until their TTL runs out; expired, malformed and duplicated entries are left out; a corrupt
//! file starts the registry empty; saving failures are reported, not fatal.

mod embedded_support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use embedded_support::{
    TempDir, eventually, ids, inst, logged, read_state, saved_entry, sorted_ids,
};
use rookery_registry::{Discover, Query, Registry, embedded::Embedded};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn entry(id: &str, token: i64, ttl_ms: u64, expires_at_ms: u64) -> serde_json::Value {
    serde_json::json!({
        "token": token,
        "ttl_ms": ttl_ms,
        "expires_at_ms": expires_at_ms,
        "instance": {
            "name": "s", "version": "1.0.0", "id": id,
            "addresses": { "thrift": "127.0.0.1:1" }
        }
    })
}

fn write_state(path: &std::path::Path, entries: Vec<serde_json::Value>) {
    let state = serde_json::json!({
        "format": "rookery-registry-state",
        "version": 1,
        "saved_at_ms": now_ms(),
        "entries": entries,
    });
    std::fs::write(path, serde_json::to_vec(&state).unwrap()).unwrap();
}

#[tokio::test]
async fn a_restart_keeps_live_instances_under_the_same_leases() {
    let dir = TempDir::new("persist-restart");
    let path = dir.join("state.json");
    let registry = Embedded::with_state_file(&path);
    let hour = Duration::from_secs(3600);
    let a = registry.register(&inst("s", "a", 1), hour).await.unwrap();
    let b = registry.register(&inst("s", "b", 2), hour).await.unwrap();
    registry.flush().await.unwrap();
    let (token_a, expires_a) = saved_entry(&path, "a").unwrap();
    assert_eq!(token_a, a.token);
    let ahead = expires_a.saturating_sub(now_ms());
    assert!(
        ahead > 3000 * 1000 && ahead <= 3600 * 1000,
        "saved as wall-clock time an hour ahead, got {ahead} ms"
    );
    drop(registry);

    let restarted = Embedded::with_state_file(&path);
    assert_eq!(
        sorted_ids(&restarted.resolve(&Query::service("s")).await.unwrap()),
        ["a", "b"]
    );
    // The leases from before the restart still work.
    restarted.heartbeat(&b).await.unwrap();
    restarted.deregister(&a).await.unwrap();
    restarted.flush().await.unwrap();
    assert!(saved_entry(&path, "a").is_none());
    let (token_b, _) = saved_entry(&path, "b").unwrap();
    assert_eq!(token_b, b.token);
}

#[tokio::test]
async fn restored_entries_keep_the_ttl_they_had_left_and_then_expire() {
    let dir = TempDir::new("persist-left");
    let path = dir.join("state.json");
    let now = now_ms();
    write_state(
        &path,
        vec![
            // Registered for two hours, one hour left.
            entry("long", 11, 7_200_000, now + 3_600_000),
            // Registered for an hour, two seconds left: it must go in two seconds.
            entry("short", 12, 3_600_000, now + 2_000),
            // Expired while the registry was down.
            entry("gone", 13, 3_600_000, now - 1),
        ],
    );
    let registry = Embedded::with_state_file(&path);
    let mut watch = registry.watch(&Query::service("s")).await.unwrap();
    let before = ids(watch.current().instances())
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    assert!(before.contains(&"long".to_string()), "{before:?}");
    assert!(!before.contains(&"gone".to_string()), "{before:?}");
    // Nothing renews "short": its remaining TTL runs out, not its full one.
    while watch.current().instances().iter().any(|i| i.id == "short") {
        embedded_support::within(30, "short expires", watch.changed())
            .await
            .unwrap();
    }
    assert_eq!(ids(watch.current().instances()), ["long"]);
    // Saved again, "long" keeps its expiry, not a fresh TTL.
    registry.flush().await.unwrap();
    let (token, expires) = saved_entry(&path, "long").unwrap();
    assert_eq!(token, 11);
    let drift = expires.abs_diff(now + 3_600_000);
    assert!(
        drift < 60_000,
        "expiry moved by {drift} ms across the restart"
    );
}

#[test]
fn malformed_duplicated_and_expired_entries_are_skipped_with_reasons() {
    let dir = TempDir::new("persist-garbage");
    let path = dir.join("state.json");
    let now = now_ms();
    let mut bad_version = entry("bad-version", 1, 60_000, now + 60_000);
    bad_version["instance"]["version"] = "one".into();
    let mut no_address = entry("no-address", 2, 60_000, now + 60_000);
    no_address["instance"]["addresses"] = serde_json::json!({});
    let mut bad_address = entry("bad-address", 3, 60_000, now + 60_000);
    bad_address["instance"]["addresses"]["thrift"] = "nowhere".into();
    let mut no_token = entry("no-token", 4, 60_000, now + 60_000);
    no_token.as_object_mut().unwrap().remove("token");
    write_state(
        &path,
        vec![
            entry("good", 5, 60_000, now + 60_000),
            bad_version,
            no_address,
            bad_address,
            no_token,
            entry("zero-ttl", 6, 0, now + 60_000),
            entry("good", 7, 60_000, now + 60_000),
            entry("expired", 8, 60_000, now - 5),
            serde_json::json!(42),
            serde_json::json!({"instance": "not an object"}),
        ],
    );
    let (registry, log) = logged(|| Embedded::with_state_file(&path));
    let restored = registry.snapshot(&Query::all());
    assert_eq!(ids(&restored), ["good"]);
    for why in [
        "\"bad-version\": version \"one\"",
        "no address",
        "thrift address \"nowhere\"",
        "\"no-token\"",
        "\"zero-ttl\": a TTL of 0 ms",
        "duplicate id",
        "expired while the registry was down",
        "restored=1 expired=1 skipped=8",
    ] {
        assert!(log.contains(why), "the log should say {why}:\n{log}");
    }
}

#[tokio::test]
async fn a_corrupt_file_starts_the_registry_empty_and_is_set_aside() {
    let dir = TempDir::new("persist-corrupt");
    for (name, content) in [
        ("garbage.json", &b"{ this is not json"[..]),
        ("empty.json", &b""[..]),
        ("binary.json", &[0xff, 0xfe, 0x00, 0x13][..]),
        (
            "other-format.json",
            &br#"{"format":"something-else","version":1,"entries":[]}"#[..],
        ),
        (
            "future-version.json",
            &br#"{"format":"rookery-registry-state","version":99,"entries":[]}"#[..],
        ),
        (
            "not-a-list.json",
            &br#"{"format":"rookery-registry-state","version":1,"entries":7}"#[..],
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let (registry, log) = logged(|| Embedded::with_state_file(&path));
        assert!(registry.is_empty(), "{name}");
        assert!(log.contains("unusable; starting empty"), "{name}:\n{log}");
        let aside = dir.join(&format!("{name}.corrupt"));
        assert_eq!(std::fs::read(&aside).unwrap(), content, "{name} kept aside");
        // It works, and saves a good file.
        registry
            .register(&inst("s", "a", 1), Duration::from_secs(60))
            .await
            .unwrap();
        registry.flush().await.unwrap();
        assert!(saved_entry(&path, "a").is_some(), "{name}");
    }
}

#[tokio::test]
async fn changes_and_heartbeats_are_saved_without_being_asked() {
    let dir = TempDir::new("persist-auto");
    let path = dir.join("nested").join("state.json");
    let registry = Embedded::builder()
        .state_file(&path)
        .flush_interval(Duration::from_millis(50))
        .build();
    let lease = registry
        .register(&inst("s", "a", 1), Duration::from_secs(60))
        .await
        .unwrap();
    // The directory is made, the registration saved, without flush().
    eventually("registration saved", || saved_entry(&path, "a").is_some()).await;
    let (_, first) = saved_entry(&path, "a").unwrap();
    // Heartbeats move the saved expiry forward, within the flush interval.
    eventually("heartbeat saved", || {
        registry.heartbeat_now(&lease).unwrap();
        saved_entry(&path, "a").is_some_and(|(_, at)| at > first)
    })
    .await;
    registry.deregister(&lease).await.unwrap();
    eventually("removal saved", || {
        read_state(&path).is_some_and(|s| s["entries"].as_array().is_some_and(Vec::is_empty))
    })
    .await;
    // Nothing but the state file is left in the directory (no temporary files).
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["state.json"]);
}

#[tokio::test]
async fn dropping_the_registry_saves_what_is_left_unsaved() {
    let dir = TempDir::new("persist-drop");
    let path = dir.join("state.json");
    // Heartbeats would wait an hour to be saved.
    let registry = Embedded::builder()
        .state_file(&path)
        .flush_interval(Duration::from_secs(3600))
        .build();
    let lease = registry
        .register(&inst("s", "a", 1), Duration::from_secs(600))
        .await
        .unwrap();
    registry.flush().await.unwrap();
    let (_, first) = saved_entry(&path, "a").unwrap();
    // Let the wall clock move past a millisecond, then renew and drop at once.
    std::thread::sleep(Duration::from_millis(50));
    registry.heartbeat(&lease).await.unwrap();
    drop(registry);
    eventually("the renewal saved on drop", || {
        saved_entry(&path, "a").is_some_and(|(_, at)| at > first)
    })
    .await;
}

#[tokio::test]
async fn a_state_file_that_cannot_be_written_is_reported_not_fatal() {
    let dir = TempDir::new("persist-unwritable");
    let blocker = dir.join("a-file");
    std::fs::write(&blocker, b"").unwrap();
    // A path under a regular file can never be created.
    let registry = Embedded::with_state_file(blocker.join("state.json"));
    registry
        .register(&inst("s", "a", 1), Duration::from_secs(60))
        .await
        .unwrap();
    let e = registry.flush().await.unwrap_err();
    assert!(e.is_unavailable(), "{e}");
    assert!(e.to_string().contains("state.json"), "{e}");
    // The registry goes on working in memory.
    assert_eq!(registry.len(), 1);
}
