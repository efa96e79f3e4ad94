//! What the etcd tests share: instances, waiting on a watch, and the captured log.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use rookery_registry::{Instance, InstanceSet, Watch, protocol};
use rookery_testkit::logs::{self, Logs};

/// Long enough for anything on a loaded machine; tests wait on changes, never on time.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The log of this test binary (the registry's own lines at debug).
pub fn logs() -> &'static Logs {
    logs::capture("rookery_registry=debug,rookery_testkit=debug")
}

/// An instance of `name` with a fresh id, reachable (for its address's sake) on `port`.
pub fn instance(name: &str, port: u16) -> Instance {
    Instance::new(name, "1.2.0".parse().unwrap())
        .with_address(protocol::THRIFT, format!("127.0.0.1:{port}"))
}

/// The ids in a set, in order.
pub fn ids(set: &InstanceSet) -> Vec<String> {
    set.instances().iter().map(|i| i.id.clone()).collect()
}

/// `ids` sorted, as a set's would be.
pub fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// Waits until the view's set satisfies `done` (checking it now and after each change),
/// and returns that set; panics after [`PATIENCE`] naming `what` and showing the set.
pub async fn wait_for(
    watch: &mut Watch,
    what: &str,
    done: impl Fn(&InstanceSet) -> bool,
) -> InstanceSet {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let set = watch.current();
        if done(&set) {
            return set;
        }
        match tokio::time::timeout_at(deadline, watch.changed()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("waiting for {what}: the watch ended: {e}"),
            Err(_) => panic!(
                "waiting for {what}: not seen in {PATIENCE:?}; the set is {:?} (stale: {}, errors: {})",
                ids(&watch.current()),
                watch.is_stale(),
                watch.errors()
            ),
        }
    }
}

/// Waits until `check` holds, polling; panics after [`PATIENCE`] naming `what`.
pub async fn poll_until(what: &str, check: impl Fn() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < PATIENCE,
            "{what}: not so after {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
