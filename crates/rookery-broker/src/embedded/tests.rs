use std::{collections::BTreeSet, task::Poll, time::Duration};

use super::Embedded;
use crate::{Broker, Delivery, Message, SubscribeOptions, Subscription};

/// The delivery already handed to `sub`, if any, without waiting: the embedded broker hands
/// deliveries over synchronously, so "nothing yet" here means "held back".
fn try_next(sub: &mut Subscription) -> Option<Delivery> {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    match sub.poll_next(&mut cx) {
        Poll::Ready(Some(d)) => Some(d.expect("the embedded broker reports no errors")),
        Poll::Ready(None) | Poll::Pending => None,
    }
}

async fn next(sub: &mut Subscription) -> Delivery {
    sub.next()
        .await
        .expect("subscription ended")
        .expect("delivery")
}

fn body(d: &Delivery) -> String {
    String::from_utf8(d.message().payload.to_vec()).unwrap()
}

async fn publish_n(broker: &Embedded, topic: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let m = Message::new(topic.to_string(), format!("m{i}"));
        ids.push(m.id.to_string());
        broker.publish(m).await.unwrap();
    }
    ids
}

#[tokio::test]
async fn every_plain_subscriber_gets_every_message() {
    let broker = Embedded::new();
    let mut a = broker
        .subscribe("t", SubscribeOptions::new())
        .await
        .unwrap();
    let mut b = broker
        .subscribe("t", SubscribeOptions::new())
        .await
        .unwrap();
    let ids = publish_n(&broker, "t", 3).await;
    for sub in [&mut a, &mut b] {
        for (i, id) in ids.iter().enumerate() {
            let d = next(sub).await;
            assert_eq!(d.message().id, id.as_str());
            assert_eq!(body(&d), format!("m{i}"));
            assert_eq!(d.attempt(), 1);
            d.ack().await.unwrap();
        }
        assert!(try_next(sub).is_none());
    }
    // Other topics are not mixed in.
    broker.publish(Message::new("other", "x")).await.unwrap();
    assert!(try_next(&mut a).is_none());
}

#[tokio::test]
async fn a_queue_group_splits_messages_round_robin() {
    let broker = Embedded::new();
    let opts = SubscribeOptions::new().queue_group("workers");
    let mut a = broker.subscribe("t", opts.clone()).await.unwrap();
    let mut b = broker.subscribe("t", opts).await.unwrap();
    let mut plain = broker
        .subscribe("t", SubscribeOptions::new())
        .await
        .unwrap();
    let ids = publish_n(&broker, "t", 10).await;
    let mut seen = BTreeSet::new();
    for sub in [&mut a, &mut b] {
        let mut got = 0;
        while let Some(d) = try_next(sub) {
            assert!(seen.insert(d.message().id.to_string()), "delivered twice");
            d.ack().await.unwrap();
            got += 1;
        }
        assert_eq!(got, 5, "round robin gives each member half");
    }
    assert_eq!(seen, ids.iter().cloned().collect());
    let mut plain_got = 0;
    while try_next(&mut plain).is_some() {
        plain_got += 1;
    }
    assert_eq!(
        plain_got, 10,
        "a plain subscriber beside the group sees all"
    );
}

#[tokio::test]
async fn max_in_flight_holds_messages_back_until_acked() {
    let broker = Embedded::new();
    let mut sub = broker
        .subscribe("t", SubscribeOptions::new().max_in_flight(2))
        .await
        .unwrap();
    publish_n(&broker, "t", 5).await;
    let first = try_next(&mut sub).unwrap();
    let second = try_next(&mut sub).unwrap();
    assert!(try_next(&mut sub).is_none(), "only 2 in flight");
    first.ack().await.unwrap();
    let third = try_next(&mut sub).unwrap();
    assert_eq!(body(&third), "m2");
    assert!(try_next(&mut sub).is_none());
    second.nack(Duration::ZERO).await.unwrap();
    // A nacked message goes back to the front.
    let again = try_next(&mut sub).unwrap();
    assert_eq!(body(&again), "m1");
    assert_eq!(again.attempt(), 2);
}

#[tokio::test]
async fn a_dropped_member_hands_its_unacked_messages_to_the_other() {
    let broker = Embedded::new();
    let opts = SubscribeOptions::new()
        .queue_group("workers")
        .max_in_flight(3);
    let mut a = broker.subscribe("t", opts.clone()).await.unwrap();
    let mut b = broker.subscribe("t", opts).await.unwrap();
    let ids = publish_n(&broker, "t", 6).await;
    // a holds three, acks one, and dies with two unacked (one read, one still in its channel).
    let a1 = try_next(&mut a).unwrap();
    let a2 = try_next(&mut a).unwrap();
    a1.ack().await.unwrap();
    let acked_by_a = 1;
    drop(a);
    let mut seen = BTreeSet::new();
    let mut redelivered = 0;
    while let Some(d) = try_next(&mut b) {
        if d.attempt() > 1 {
            redelivered += 1;
        }
        seen.insert(d.message().id.to_string());
        d.ack().await.unwrap();
    }
    assert_eq!(redelivered, 2);
    assert_eq!(seen.len() + acked_by_a, ids.len(), "none missing");
    // A late ack from the dead member's delivery does nothing (and does not fail).
    a2.ack().await.unwrap();
    let mut c = broker
        .subscribe("t", SubscribeOptions::new().queue_group("workers"))
        .await
        .unwrap();
    assert!(try_next(&mut c).is_none(), "nothing left over");
    assert!(try_next(&mut b).is_none());
}

#[tokio::test]
async fn unsubscribe_returns_unsettled_deliveries_to_the_group() {
    let broker = Embedded::new();
    let opts = SubscribeOptions::new().queue_group("g").max_in_flight(1);
    let mut a = broker.subscribe("t", opts.clone()).await.unwrap();
    publish_n(&broker, "t", 1).await;
    let held = try_next(&mut a).unwrap();
    let mut b = broker.subscribe("t", opts).await.unwrap();
    broker.unsubscribe(a).await.unwrap();
    let d = try_next(&mut b).unwrap();
    assert_eq!(d.message().id, held.message().id);
    assert_eq!(d.attempt(), 2);
    // The old delivery's ack is stale: it neither fails nor settles the new one.
    held.ack().await.unwrap();
    d.nack(Duration::ZERO).await.unwrap();
    assert_eq!(try_next(&mut b).unwrap().attempt(), 3);
}

#[tokio::test(start_paused = true)]
async fn unacked_past_ack_wait_is_delivered_again() {
    let broker = Embedded::new();
    let mut sub = broker
        .subscribe(
            "t",
            SubscribeOptions::new().ack_wait(Duration::from_secs(5)),
        )
        .await
        .unwrap();
    publish_n(&broker, "t", 1).await;
    let first = next(&mut sub).await;
    // The clock is paused: waiting for the next delivery lets it run to the ack wait.
    let again = next(&mut sub).await;
    assert_eq!(again.message().id, first.message().id);
    assert_eq!(again.attempt(), 2);
    again.ack().await.unwrap();
    first.ack().await.unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(try_next(&mut sub).is_none(), "acked: never again");
}

#[tokio::test(start_paused = true)]
async fn nack_with_delay_redelivers_after_it() {
    let broker = Embedded::new();
    let mut sub = broker
        .subscribe("t", SubscribeOptions::new())
        .await
        .unwrap();
    publish_n(&broker, "t", 1).await;
    let d = next(&mut sub).await;
    let start = tokio::time::Instant::now();
    d.nack(Duration::from_secs(3)).await.unwrap();
    assert!(try_next(&mut sub).is_none(), "not before its delay");
    let again = next(&mut sub).await;
    assert_eq!(again.attempt(), 2);
    // Paused clock: the elapsed time is exactly what the broker waited, not a measurement.
    assert!(start.elapsed() >= Duration::from_secs(3));
}

#[tokio::test]
async fn a_durable_group_keeps_messages_while_nobody_listens() {
    let broker = Embedded::new();
    let opts = SubscribeOptions::new().durable("audit");
    let sub = broker.subscribe("t", opts.clone()).await.unwrap();
    drop(sub);
    let ids = publish_n(&broker, "t", 3).await;
    let mut sub = broker.subscribe("t", opts).await.unwrap();
    let mut got = Vec::new();
    while let Some(d) = try_next(&mut sub) {
        got.push(d.message().id.to_string());
        d.ack().await.unwrap();
    }
    assert_eq!(got, ids);
}

#[tokio::test]
async fn a_plain_group_forgets_messages_once_its_last_member_leaves() {
    let broker = Embedded::new();
    let opts = SubscribeOptions::new().queue_group("g");
    drop(broker.subscribe("t", opts.clone()).await.unwrap());
    publish_n(&broker, "t", 2).await;
    let mut sub = broker.subscribe("t", opts).await.unwrap();
    assert!(try_next(&mut sub).is_none());
}

#[tokio::test]
async fn close_ends_subscriptions_and_refuses_publishing() {
    let broker = Embedded::new();
    let mut sub = broker
        .subscribe("t", SubscribeOptions::new())
        .await
        .unwrap();
    publish_n(&broker, "t", 1).await;
    let d = next(&mut sub).await;
    broker.close().await.unwrap();
    assert!(sub.next().await.is_none(), "the stream ends");
    assert!(d.ack().await.unwrap_err().is_closed());
    let err = broker.publish(Message::new("t", "x")).await.unwrap_err();
    assert!(err.is_closed(), "{err}");
    let err = broker
        .subscribe("t", SubscribeOptions::new())
        .await
        .unwrap_err();
    assert!(err.is_closed(), "{err}");
}

#[tokio::test]
async fn limits_and_malformed_input_get_clear_errors() {
    let broker = Embedded::builder()
        .max_message_size(10)
        .max_pending(2)
        .build();
    assert_eq!(broker.max_message_size(), 10);
    let mut sub = broker
        .subscribe("t", SubscribeOptions::new().max_in_flight(1))
        .await
        .unwrap();
    let err = broker
        .publish(Message::new("t", vec![0u8; 11]))
        .await
        .unwrap_err();
    assert!(err.is_too_large(), "{err}");
    assert!(try_next(&mut sub).is_none(), "nothing published");
    // One in flight, two pending: the next publish is refused, naming the laggard.
    publish_n(&broker, "t", 3).await;
    let err = broker.publish(Message::new("t", "x")).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(err.message().contains("max_pending"), "{err}");

    for topic in ["", "a..b", "a b"] {
        assert!(
            broker
                .subscribe(topic, SubscribeOptions::new())
                .await
                .is_err()
        );
        assert!(
            broker
                .publish(Message::new(topic.to_string(), ""))
                .await
                .is_err()
        );
    }
    let err = broker
        .subscribe("orders.*", SubscribeOptions::new())
        .await
        .unwrap_err();
    assert!(err.message().contains("wildcards"), "{err}");
    let err = broker
        .subscribe("t", SubscribeOptions::new().queue_group(""))
        .await
        .unwrap_err();
    assert!(err.message().contains("queue group"), "{err}");
    let err = broker
        .subscribe("t", SubscribeOptions::new().ack_wait(Duration::ZERO))
        .await
        .unwrap_err();
    assert!(err.message().contains("ack_wait"), "{err}");
}
