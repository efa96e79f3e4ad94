//! The broker conformance suite against a broker served over rookery's RPC: an embedded
//! broker behind a `BrokerServer`, each broker the suite asks for a separate `RemoteBroker`
//! connection, as separate processes would have.

use std::{sync::Arc, time::Duration};

use rookery::{
    Router,
    broker::{Broker, conformance::Suite, embedded::Embedded},
    pubsub::{BrokerServer, RemoteBroker},
    transport::{Server, ServerHandle},
};

/// The suite, and the server it runs against (served while the handle lives).
async fn suite() -> (Suite, ServerHandle) {
    let served = BrokerServer::with_lease(Arc::new(Embedded::new()), Duration::from_secs(1));
    let handle = Server::builder()
        .build(Router::new().add_service(served.service()))
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = handle.local_addr().to_string();
    let suite = Suite::new(move || {
        let addr = addr.clone();
        async move { Arc::new(RemoteBroker::connect(&addr).await.unwrap()) as Arc<dyn Broker> }
    })
    .ack_wait(Duration::from_millis(300));
    (suite, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_reaches_every_plain_subscriber() {
    let (suite, _server) = suite().await;
    suite.fan_out_reaches_every_plain_subscriber().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_group_splits_messages() {
    let (suite, _server) = suite().await;
    suite.queue_group_splits_messages().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nack_delivers_again() {
    let (suite, _server) = suite().await;
    suite.nack_delivers_again().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_subscriber_loses_nothing() {
    let (suite, _server) = suite().await;
    suite.dropped_subscriber_loses_nothing().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_handler_loses_nothing() {
    let (suite, _server) = suite().await;
    suite.killed_handler_loses_nothing().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_after_max_attempts() {
    let (suite, _server) = suite().await;
    suite.dead_letters_after_max_attempts().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_message_is_dead_lettered() {
    let (suite, _server) = suite().await;
    suite.undecodable_message_is_dead_lettered().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_message_is_refused_at_publish() {
    let (suite, _server) = suite().await;
    suite.oversize_message_is_refused_at_publish().await;
}

/// A service subscribes through the served broker and a publisher in "another process" (its
/// own connection) reaches it; the service stops cleanly, its subscription drained.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_subscribes_through_the_served_broker() {
    use rookery::{
        Context, Service,
        broker::{Incoming, Message, RawBytes, SubscribeOptions},
    };
    let served = BrokerServer::new(Arc::new(Embedded::new()));
    let handle = Server::builder()
        .build(Router::new().add_service(served.service()))
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("rookery://{}", handle.local_addr());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let running = Service::builder("worker")
        .no_registry()
        .broker(rookery::pubsub::from_url(&url).await.unwrap())
        .subscribe(
            "jobs",
            SubscribeOptions::new().queue_group("workers"),
            RawBytes,
            move |_cx: Context, msg: Incoming<bytes::Bytes>| {
                let tx = tx.clone();
                async move { tx.send(msg.body).map_err(|e| e.to_string()) }
            },
        )
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let publisher = rookery::pubsub::from_url(&url).await.unwrap();
    publisher
        .publish(Message::new("jobs", "one"))
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("delivered within 10 s");
    assert_eq!(got.as_deref(), Some(&b"one"[..]));
    // The unsubscribe ends the subscriber's fetch waiting on the server; then the server
    // ends the fetches of others, as the standalone registry does when it drains.
    running.stop().await.unwrap();
    served.stop_fetches();
    handle.stop().await;
}
