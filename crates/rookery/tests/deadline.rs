//! Deadline propagation along A → B → C with real services: the client's timeout travels in
//! TTHeader, each hop sees less time than the one before, and when it runs out C's handler is
//! cancelled (its future dropped), not left running.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use rookery::{
    Client, Context, Layer, Protocol, Service, Status,
    middleware::timeout::{Timeout, TimeoutLayer},
};
use tokio::sync::oneshot;

/// One hop of a chain of services.
#[rookery::service(name = "hop")]
pub trait Hop {
    /// Passes the call on to the next hop, if any; the last hop never answers.
    async fn relay(&self, cx: &mut Context, note: String) -> Result<String, Status>;
}

type Seen = Arc<Mutex<Vec<(&'static str, Duration)>>>;

struct Node {
    name: &'static str,
    next: Option<HopClient<Timeout<Client>>>,
    seen: Seen,
    cancelled: Mutex<Option<oneshot::Sender<()>>>,
}

/// Sends when dropped: the handler's future was dropped before it finished.
struct OnDrop(Option<oneshot::Sender<()>>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

impl Hop for Node {
    async fn relay(&self, cx: &mut Context, note: String) -> Result<String, Status> {
        let remaining = cx.remaining().expect("every hop has a deadline");
        self.seen.lock().unwrap().push((self.name, remaining));
        match &self.next {
            Some(next) => {
                // Some work before passing the call on, so each hop has visibly less left.
                tokio::time::sleep(Duration::from_millis(30)).await;
                // The downstream call's context: what is left of this call's deadline.
                let mut downstream = cx.child();
                next.relay(&mut downstream, format!("{note} > {}", self.name))
                    .await
            }
            None => {
                let _guard = OnDrop(self.cancelled.lock().unwrap().take());
                std::future::pending::<()>().await;
                unreachable!("the last hop never answers")
            }
        }
    }
}

async fn start(
    name: &'static str,
    next: Option<&rookery::RunningService>,
    seen: &Seen,
) -> (rookery::RunningService, oneshot::Receiver<()>) {
    let (tx, rx) = oneshot::channel();
    let next = next.map(|n| {
        // A client timeout far longer than the chain's deadline: the inherited deadline is
        // the one that counts.
        let client = TimeoutLayer::new(Duration::from_secs(30))
            .layer(Client::builder(n.local_addr().clone()).build());
        HopClient::with_service(client, Protocol::Binary)
    });
    let node = Node {
        name,
        next,
        seen: Arc::clone(seen),
        cancelled: Mutex::new(Some(tx)),
    };
    let running = Service::builder("hop")
        .no_registry()
        .layer(TimeoutLayer::inherited())
        .serve(HopServer::new(node))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    (running, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_shrinks_along_a_b_c_and_c_is_cancelled_when_it_passes() {
    let seen = Seen::default();
    let (c, c_cancelled) = start("C", None, &seen).await;
    let (b, _) = start("B", Some(&c), &seen).await;
    let (a, _) = start("A", Some(&b), &seen).await;

    let budget = Duration::from_millis(600);
    let client = HopClient::with_service(
        TimeoutLayer::new(budget).layer(Client::builder(a.local_addr().clone()).build()),
        Protocol::Binary,
    );
    let status = client
        .relay(&mut Context::new(), "start".into())
        .await
        .unwrap_err();
    assert!(status.is_timeout(), "{status}");

    tokio::time::timeout(Duration::from_secs(10), c_cancelled)
        .await
        .expect("C's handler is cancelled once the deadline passes")
        .expect("C's handler was dropped, not finished");

    let seen = seen.lock().unwrap().clone();
    let names: Vec<&str> = seen.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["A", "B", "C"]);
    assert!(
        seen[0].1 <= budget,
        "A had at most the client's budget: {seen:?}"
    );
    assert!(
        seen[1].1 < seen[0].1 && seen[2].1 < seen[1].1,
        "the deadline only shrinks along the chain: {seen:?}"
    );
    for s in [a, b, c] {
        s.stop().await.unwrap();
    }
}
