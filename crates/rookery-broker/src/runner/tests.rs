use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use rookery_codec::{Codec, DecodeError, DecodeErrorKind, EncodeError};
use tokio::sync::mpsc;

use super::Subscriber;
use crate::{
    Backoff, Broker, Delivery, HandlerError, Incoming, Message, SubscribeOptions, Subscription,
    embedded::Embedded, headers,
};

/// Bodies that must be UTF-8: anything else is a decode error.
struct Utf8;

impl Codec<String> for Utf8 {
    fn encode(&self, msg: &String, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.extend_from_slice(msg.as_bytes());
        Ok(())
    }

    fn decode(&self, buf: Bytes) -> Result<String, DecodeError> {
        String::from_utf8(buf.to_vec())
            .map_err(|e| DecodeError::new(DecodeErrorKind::InvalidUtf8, e.to_string()))
    }
}

fn options() -> SubscribeOptions {
    SubscribeOptions::new()
        .queue_group("workers")
        .max_attempts(3)
        .backoff(Backoff::exponential(
            Duration::from_secs(1),
            Duration::from_secs(10),
        ))
}

async fn next(sub: &mut Subscription) -> Delivery {
    sub.next()
        .await
        .expect("subscription ended")
        .expect("delivery")
}

/// Messages the handler saw, as (body, attempt).
type Seen = mpsc::UnboundedReceiver<(String, u32)>;

#[tokio::test(start_paused = true)]
async fn ok_acknowledges_and_nothing_comes_again() {
    let broker = Arc::new(Embedded::new());
    let (tx, mut seen): (_, Seen) = mpsc::unbounded_channel();
    let serving = Subscriber::new(broker.clone(), "t", options())
        .start(Utf8, move |m: Incoming<String>| {
            let tx = tx.clone();
            async move {
                assert_eq!(m.headers.get("traceparent"), Some("00-abc-def-01"));
                tx.send((m.body, m.attempt)).unwrap();
                Ok::<_, HandlerError>(())
            }
        })
        .await
        .unwrap();
    broker
        .publish(Message::new("t", "hello").with_header("traceparent", "00-abc-def-01"))
        .await
        .unwrap();
    assert_eq!(seen.recv().await.unwrap(), ("hello".into(), 1));
    // Past the ack wait: an acknowledged message is not delivered again.
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert!(seen.try_recv().is_err());
    serving.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_then_dead_letter_with_the_reason() {
    let broker = Arc::new(Embedded::new());
    let mut dlq = broker
        .subscribe("t.dlq", SubscribeOptions::new())
        .await
        .unwrap();
    let (tx, mut seen): (_, Seen) = mpsc::unbounded_channel();
    let _serving = Subscriber::new(broker.clone(), "t", options())
        .start(Utf8, move |m: Incoming<String>| {
            let tx = tx.clone();
            async move {
                tx.send((m.body, m.attempt)).unwrap();
                Err(format!("no stock for {}", m.id))
            }
        })
        .await
        .unwrap();
    let message = Message::new("t", "order-1").with_header("tenant", "acme");
    let id = message.id.clone();
    broker.publish(message).await.unwrap();
    let start = tokio::time::Instant::now();
    let dead = next(&mut dlq).await;
    // Paused clock: this is the backoff the runner asked for (1 s, then 2 s), not a measurement.
    assert!(start.elapsed() >= Duration::from_secs(3));
    let attempts: Vec<u32> = std::iter::from_fn(|| seen.try_recv().ok())
        .map(|(_, a)| a)
        .collect();
    assert_eq!(attempts, [1, 2, 3]);
    let h = &dead.message().headers;
    assert_eq!(
        h.get(headers::DEAD_LETTER_REASON),
        Some(format!("no stock for {id}").as_str())
    );
    assert_eq!(h.get(headers::DEAD_LETTER_ATTEMPTS), Some("3"));
    assert_eq!(h.get(headers::DEAD_LETTER_TOPIC), Some("t"));
    assert_eq!(h.get(headers::DEAD_LETTER_ID), Some(id.as_str()));
    assert_eq!(h.get(headers::DEAD_LETTER_GROUP), Some("workers"));
    assert_eq!(h.get("tenant"), Some("acme"), "the original headers stay");
    assert_eq!(dead.message().payload, "order-1");
    // The original was acknowledged: it does not come back.
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert!(seen.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn an_undecodable_payload_goes_straight_to_the_dead_letter_topic() {
    let broker = Arc::new(Embedded::new());
    let mut dlq = broker
        .subscribe("graveyard", SubscribeOptions::new())
        .await
        .unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&calls);
    let _serving = Subscriber::new(
        broker.clone(),
        "t",
        options().dead_letter_topic("graveyard"),
    )
    .start(Utf8, move |_: Incoming<String>| {
        counted.fetch_add(1, Ordering::Relaxed);
        async { Ok::<_, HandlerError>(()) }
    })
    .await
    .unwrap();
    broker
        .publish(Message::new("t", vec![0xff, 0xfe]))
        .await
        .unwrap();
    let dead = next(&mut dlq).await;
    let reason = dead
        .message()
        .headers
        .get(headers::DEAD_LETTER_REASON)
        .unwrap();
    assert!(reason.starts_with("decode: invalid UTF-8"), "{reason}");
    assert_eq!(
        dead.message().headers.get(headers::DEAD_LETTER_ATTEMPTS),
        Some("1")
    );
    assert_eq!(calls.load(Ordering::Relaxed), 0, "the handler never saw it");
}

#[tokio::test(start_paused = true)]
async fn a_timeout_or_a_panic_counts_as_a_failed_attempt() {
    let broker = Arc::new(Embedded::new());
    let (tx, mut seen): (_, Seen) = mpsc::unbounded_channel();
    let _serving = Subscriber::new(broker.clone(), "t", options())
        .handler_timeout(Duration::from_secs(2))
        .start(Utf8, move |m: Incoming<String>| {
            let tx = tx.clone();
            async move {
                match m.attempt {
                    1 => std::future::pending::<()>().await,
                    2 => panic!("boom"),
                    _ => {}
                }
                tx.send((m.body, m.attempt)).unwrap();
                Ok::<_, HandlerError>(())
            }
        })
        .await
        .unwrap();
    broker.publish(Message::new("t", "x")).await.unwrap();
    assert_eq!(seen.recv().await.unwrap(), ("x".into(), 3));
}

#[tokio::test(start_paused = true)]
async fn manual_mode_lets_the_handler_settle() {
    let broker = Arc::new(Embedded::new());
    let (tx, mut seen): (_, Seen) = mpsc::unbounded_channel();
    let _serving = Subscriber::new(broker.clone(), "t", options().manual_ack())
        .start(Utf8, move |m: Incoming<String>| {
            let tx = tx.clone();
            async move {
                tx.send((m.body.clone(), m.attempt)).unwrap();
                if m.body == "settle-later" {
                    // The handler keeps the acker and settles after it returned.
                    let acker = m.take_acker().expect("manual mode");
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        acker.ack().await.unwrap();
                    });
                    return Ok(());
                }
                // Failing without taking the acker: the runner nacks with backoff.
                if m.attempt == 1 {
                    return Err("not yet");
                }
                m.take_acker().unwrap().ack().await.unwrap();
                Ok(())
            }
        })
        .await
        .unwrap();
    broker
        .publish(Message::new("t", "settle-later"))
        .await
        .unwrap();
    broker.publish(Message::new("t", "retry")).await.unwrap();
    let mut got = vec![
        seen.recv().await.unwrap(),
        seen.recv().await.unwrap(),
        seen.recv().await.unwrap(),
    ];
    got.sort();
    assert_eq!(
        got,
        [
            ("retry".into(), 1),
            ("retry".into(), 2),
            ("settle-later".into(), 1)
        ]
    );
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert!(
        seen.try_recv().is_err(),
        "both settled: nothing comes again"
    );
}

#[tokio::test(start_paused = true)]
async fn stop_lets_handlers_at_work_finish_and_acknowledge() {
    let broker = Arc::new(Embedded::new());
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let (tx, mut seen): (_, Seen) = mpsc::unbounded_channel();
    let serving = Subscriber::new(broker.clone(), "t", options())
        .start(Utf8, move |m: Incoming<String>| {
            let (tx, started_tx) = (tx.clone(), started_tx.clone());
            async move {
                started_tx.send(()).unwrap();
                tokio::time::sleep(Duration::from_secs(1)).await;
                tx.send((m.body, m.attempt)).unwrap();
                Ok::<_, HandlerError>(())
            }
        })
        .await
        .unwrap();
    broker.publish(Message::new("t", "slow")).await.unwrap();
    started.recv().await.unwrap();
    // Another member of the group, which would get "slow" if the stop gave it back.
    let mut other = broker.subscribe("t", options()).await.unwrap();
    serving.stop().await.unwrap();
    assert_eq!(seen.recv().await.unwrap(), ("slow".into(), 1));
    // It was acknowledged before the subscription went: the next message the other member
    // gets is a new one (a returned message would come first).
    broker.publish(Message::new("t", "next")).await.unwrap();
    let d = next(&mut other).await;
    assert_eq!(d.message().payload, "next");
    assert_eq!(d.attempt(), 1);
}
