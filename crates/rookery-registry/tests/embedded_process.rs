//! The standalone embedded registry as a real separate process (this test binary run again as
//! a child, see `registry_server_child`), restarted twice on the same port and state file:
//! once gracefully (SIGTERM: release the long polls, drain, save) and once by a crash
//! (SIGKILL: whatever was saved last). Clients keep their last set while it is down and catch
//! up after; leases and a Registration go on working across both restarts.

mod embedded_support;

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use embedded_support::{eventually, inst, saved_entry, serve, sorted_ids, stop};
use rookery_registry::{
    Discover, Query, Registration, Registry,
    embedded::{Embedded, RemoteRegistry},
};
use rookery_testkit::{ChildProcess, TempDir, is_rerun, rerun_test};

const CHILD: &str = "registry_server_child";
const ADDR_ENV: &str = "ROOKERY_REGISTRY_TEST_ADDR";
const STATE_ENV: &str = "ROOKERY_REGISTRY_TEST_STATE";

/// The registry server process: serves on `$ADDR_ENV` with the state file `$STATE_ENV`, prints
/// `listening on ADDR` when ready, and stops gracefully on SIGTERM.
#[test]
#[ignore = "run as a child process by the_registry_process_restarts_with_its_state"]
fn registry_server_child() {
    if !is_rerun(CHILD) {
        return;
    }
    let addr = std::env::var(ADDR_ENV).unwrap();
    let state = std::env::var(STATE_ENV).unwrap();
    tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).unwrap();
        let registry = Embedded::builder()
            .state_file(state)
            .flush_interval(Duration::from_millis(200))
            .build();
        let (server, handle) = serve(registry, &addr).await;
        println!("listening on {}", handle.local_addr());
        term.recv().await;
        stop(server, handle).await;
        println!("stopped");
    });
}

/// Starts the server process; returns it with the address it listens on.
fn start_server(addr: &str, state: &Path) -> (ChildProcess, String) {
    let mut child = rerun_test(
        CHILD,
        &[(ADDR_ENV, addr), (STATE_ENV, state.to_str().unwrap())],
    )
    .unwrap();
    // libtest prints "test NAME ... " without a newline before the child's own output.
    let line = child
        .wait_for_line(|l| l.contains("listening on "), Duration::from_secs(30))
        .unwrap();
    let addr = line
        .rsplit("listening on ")
        .next()
        .unwrap()
        .trim()
        .to_owned();
    (child, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_process_restarts_with_its_state() {
    embedded_support::init_tracing();
    let dir = TempDir::new("rookery-registry-process").unwrap();
    let state = dir.path().join("state.json");
    let (mut child, addr) = tokio::task::block_in_place(|| start_server("127.0.0.1:0", &state));

    let remote = Arc::new(
        RemoteRegistry::builder(&addr)
            .backoff(rookery_transport::client::Backoff {
                base: Duration::from_millis(20),
                max: Duration::from_millis(200),
            })
            .build()
            .unwrap(),
    );
    let watch = remote.watch(&Query::service("s")).await.unwrap();
    let lease = remote
        .register(&inst("s", "leased", 1), Duration::from_secs(60))
        .await
        .unwrap();
    let registration =
        Registration::start(remote.clone(), inst("s", "kept", 2), Duration::from_secs(3))
            .await
            .unwrap();
    eventually("both seen", || watch.current().len() == 2).await;
    let before = watch.current();
    // Both saved, so that even a crash keeps them.
    eventually("both saved", || {
        saved_entry(&state, "leased").is_some() && saved_entry(&state, "kept").is_some()
    })
    .await;
    let (kept_token, _) = saved_entry(&state, "kept").unwrap();

    // Every set the watch shows from now on.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = {
        let mut watch = watch.clone();
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Ok(set) = watch.changed().await {
                let ids: Vec<String> = set.instances().iter().map(|i| i.id.clone()).collect();
                seen.lock().unwrap().push(ids);
            }
        })
    };

    for how in ["SIGTERM", "SIGKILL"] {
        let errors = watch.errors();
        tokio::task::block_in_place(|| {
            if how == "SIGTERM" {
                let status = child.terminate(Duration::from_secs(30)).unwrap();
                assert!(status.success(), "{}", child.error("did not stop cleanly"));
                assert!(child.output().iter().any(|l| l.ends_with("stopped")));
            } else {
                child.kill().unwrap();
            }
        });
        // Down: the watch keeps its set, marked stale, failures counted.
        eventually(&format!("stale after {how}"), || {
            watch.is_stale() && watch.errors() > errors
        })
        .await;
        assert_eq!(watch.current(), before);

        let (restarted, same) = tokio::task::block_in_place(|| start_server(&addr, &state));
        child = restarted;
        assert_eq!(same, addr);
        eventually(&format!("fresh after the restart after {how}"), || {
            !watch.is_stale()
        })
        .await;
        assert_eq!(sorted_ids(watch.current().instances()), ["kept", "leased"]);
        // The lease from before works on the new process.
        remote.heartbeat(&lease).await.unwrap();
        // The registration heartbeats on under its old lease: the saved expiry moves on,
        // the token stays.
        let (_, restored) = saved_entry(&state, "kept").unwrap();
        eventually(
            &format!("a heartbeat after the restart after {how}"),
            || saved_entry(&state, "kept").is_some_and(|(t, at)| t == kept_token && at > restored),
        )
        .await;
    }
    // At no point did the watch lose an instance.
    for set in seen.lock().unwrap().iter() {
        assert_eq!(set, &["kept", "leased"], "the watch showed {set:?}");
    }

    registration.deregister().await.unwrap();
    remote.deregister(&lease).await.unwrap();
    eventually("all gone", || watch.current().is_empty()).await;
    assert!(remote.resolve(&Query::all()).await.unwrap().is_empty());
    recorder.abort();
    let status = tokio::task::block_in_place(|| child.terminate(Duration::from_secs(30))).unwrap();
    assert!(status.success());
}
