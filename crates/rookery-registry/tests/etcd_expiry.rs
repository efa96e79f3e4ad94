//! Expiry with a real etcd and a real paused process: a server frozen with `SIGSTOP` past
//! its TTL disappears from a watching client's set; after `SIGCONT` its registration finds
//! the lease lost, registers again, and the client sees it again.
//!
//! The server is this test binary run again as a child (`child_registrant`), so it runs
//! the same code a service would: `Registration` heartbeating to etcd.

#![cfg(feature = "etcd")]

mod etcd_support;

use std::{sync::Arc, time::Duration};

use etcd_support::{PATIENCE, instance, wait_for};
use rookery_registry::{Discover, Query, Registration, etcd::Etcd};
use rookery_testkit::{EtcdServer, is_rerun, rerun_test};

const CHILD: &str = "child_registrant";
const ENDPOINT_ENV: &str = "ROOKERY_TEST_ETCD_ENDPOINT";
const ID_ENV: &str = "ROOKERY_TEST_INSTANCE_ID";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_server_expires_and_registers_again_when_resumed() {
    let Some(server) = EtcdServer::start_or_skip() else {
        return;
    };
    let etcd = Etcd::connect(&server.endpoint()).await.unwrap();
    let mut watch = etcd.watch(&Query::service("paused")).await.unwrap();
    let id = rookery_registry::new_id();

    let mut child =
        rerun_test(CHILD, &[(ENDPOINT_ENV, &server.endpoint()), (ID_ENV, &id)]).unwrap();
    child
        .wait_for_line(|l| l == format!("REGISTERED {id}"), PATIENCE)
        .unwrap();
    let has = |id: &str| {
        let id = id.to_owned();
        move |s: &rookery_registry::InstanceSet| s.instances().iter().any(|i| i.id == id)
    };
    wait_for(&mut watch, "the child registered", has(&id)).await;

    child.pause().unwrap();
    wait_for(&mut watch, "the paused child expired", |s| {
        !s.instances().iter().any(|i| i.id == id)
    })
    .await;
    assert!(!watch.is_stale(), "expiry is a change, not an outage");

    child.resume().unwrap();
    let line = child
        .wait_for_line(
            |l| l.contains("registered again after the lease was lost"),
            PATIENCE,
        )
        .unwrap();
    assert!(line.contains(&id), "{line}");
    let set = wait_for(&mut watch, "the resumed child is back", has(&id)).await;
    assert_eq!(set.len(), 1);
    drop(child);
}

/// The server of the test above: registers `paused` with a 1 s TTL, says so, and serves
/// until killed. Run only as that test's child process.
#[test]
#[ignore = "run as a child process by a_paused_server_expires_and_registers_again_when_resumed"]
fn child_registrant() {
    if !is_rerun(CHILD) {
        return;
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stdout)
        .with_ansi(false)
        .with_env_filter("rookery_registry=info")
        .init();
    let endpoint = std::env::var(ENDPOINT_ENV).expect("the endpoint of etcd");
    let id = std::env::var(ID_ENV).expect("the instance id");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let etcd = Arc::new(Etcd::connect(&endpoint).await.unwrap());
        let mut me = instance("paused", 9001);
        me.id = id.clone();
        let _registration = Registration::start(etcd, me, Duration::from_secs(1))
            .await
            .unwrap();
        println!("REGISTERED {id}");
        // Killed by the parent long before this; a bound in case the parent died.
        tokio::time::sleep(Duration::from_secs(600)).await;
    });
}
