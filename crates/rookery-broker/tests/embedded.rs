//! The conformance suite against the embedded broker: the same checks the NATS backend runs
//! against a real nats-server. Real time (short ack waits), as on a real engine.

use std::{sync::Arc, time::Duration};

use rookery_broker::{Broker, conformance::Suite, embedded::Embedded};

fn suite() -> Suite {
    let broker = Arc::new(Embedded::new());
    Suite::new(move || {
        let broker = Arc::clone(&broker);
        async move { broker as Arc<dyn Broker> }
    })
    .ack_wait(Duration::from_millis(200))
}

#[tokio::test]
async fn fan_out_reaches_every_plain_subscriber() {
    suite().fan_out_reaches_every_plain_subscriber().await;
}

#[tokio::test]
async fn queue_group_splits_messages() {
    suite().queue_group_splits_messages().await;
}

#[tokio::test]
async fn nack_delivers_again() {
    suite().nack_delivers_again().await;
}

#[tokio::test]
async fn dropped_subscriber_loses_nothing() {
    suite().dropped_subscriber_loses_nothing().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_handler_loses_nothing() {
    suite().killed_handler_loses_nothing().await;
}

#[tokio::test]
async fn dead_letters_after_max_attempts() {
    suite().dead_letters_after_max_attempts().await;
}

#[tokio::test]
async fn undecodable_message_is_dead_lettered() {
    suite().undecodable_message_is_dead_lettered().await;
}

#[tokio::test]
async fn oversize_message_is_refused_at_publish() {
    suite().oversize_message_is_refused_at_publish().await;
}

#[tokio::test]
async fn oversize_with_a_configured_limit() {
    let broker = Arc::new(Embedded::builder().max_message_size(4096).build());
    Suite::new(move || {
        let broker = Arc::clone(&broker);
        async move { broker as Arc<dyn Broker> }
    })
    .oversize_message_is_refused_at_publish()
    .await;
}

#[tokio::test]
async fn run_all_on_one_broker() {
    suite().run_all().await;
}
