//! etcd stopped under a live watch: the view keeps the last-known set (stale, counting
//! errors, never emptied), and when etcd comes back on the same ports with the same data
//! the watch catches up with what changed after the restart.

#![cfg(feature = "etcd")]

mod etcd_support;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use etcd_support::{PATIENCE, ids, instance, logs, poll_until, sorted, wait_for};
use rookery_registry::{Discover, Query, Registry, etcd::Etcd};
use rookery_testkit::EtcdServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_set_serves_while_etcd_is_down_and_the_watch_catches_up_after() {
    let Some(mut server) = EtcdServer::start_or_skip() else {
        return;
    };
    let etcd = Etcd::builder(&server.endpoint())
        .request_timeout(Duration::from_secs(2))
        .connect()
        .await
        .unwrap();
    let a = instance("steady", 9001);
    let b = instance("steady", 9002);
    let lease_a = etcd.register(&a, Duration::from_secs(60)).await.unwrap();
    let lease_b = etcd.register(&b, Duration::from_secs(60)).await.unwrap();
    let mut watch = etcd.watch(&Query::service("steady")).await.unwrap();
    let before = watch.current();
    assert_eq!(ids(&before), sorted(&[&a.id, &b.id]));

    // Every set the view shows from now on, to check that none is empty.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = {
        let seen = Arc::clone(&seen);
        let mut view = watch.clone();
        tokio::spawn(async move {
            while let Ok(set) = view.changed().await {
                seen.lock().unwrap().push(set);
            }
        })
    };

    let mark = logs().mark();
    server.kill().unwrap();
    poll_until("the watch notices etcd is gone", || {
        watch.is_stale() && watch.errors() >= 2
    })
    .await;
    assert_eq!(watch.current(), before, "the last-known set is kept");
    logs()
        .wait_for(
            mark,
            |l| l.contains("keeping the last known instances") && l.contains("kept=2"),
            PATIENCE,
        )
        .unwrap();
    let err = etcd.resolve(&Query::service("steady")).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    let err = etcd.heartbeat(&lease_a).await.unwrap_err();
    assert!(err.is_unavailable(), "an outage is not a lost lease: {err}");

    server.restart().unwrap();
    // Changes made after the restart: a leaves, c comes.
    etcd.deregister(&lease_a).await.unwrap();
    let c = instance("steady", 9003);
    let lease_c = etcd.register(&c, Duration::from_secs(60)).await.unwrap();
    let set = wait_for(&mut watch, "the changes made after the restart", |s| {
        ids(s) == sorted(&[&b.id, &c.id])
    })
    .await;
    assert!(!watch.is_stale(), "caught up");
    assert!(set.revision() > before.revision());
    etcd.heartbeat(&lease_b).await.unwrap();

    // The watch still follows etcd after catching up.
    etcd.deregister(&lease_c).await.unwrap();
    wait_for(&mut watch, "c leaves", |s| ids(s) == [b.id.clone()]).await;

    recorder.abort();
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().all(|s| !s.is_empty()),
        "the view never emptied: {:?}",
        seen.iter().map(ids).collect::<Vec<_>>()
    );
    etcd.deregister(&lease_b).await.unwrap();
}
