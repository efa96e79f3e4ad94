//! The test suite every backend passes (feature `conformance`): the guarantees of the
//! [`Broker`] trait, checked against a real engine.
//!
//! A backend's integration test makes a [`Suite`] from a [`MakeBroker`] (each call gives a
//! broker on the engine under test, ideally a separate connection, as a separate process would
//! have) and runs each check as its own test:
//!
//! ```
//! use std::sync::Arc;
//! use rookery_broker::{Broker, conformance::Suite, embedded::Embedded};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let broker = Arc::new(Embedded::new());
//! let suite = Suite::new(move || {
//!     let broker = Arc::clone(&broker);
//!     async move { broker as Arc<dyn Broker> }
//! });
//! suite.fan_out_reaches_every_plain_subscriber().await;
//! # }
//! ```
//!
//! Each check uses topics of its own (`conformance.<check>.<random>`), so checks can share an
//! engine and run at the same time. Checks that need acknowledgements and redelivery subscribe
//! with a durable name (the engine's at-least-once mode, JetStream on NATS); fan-out and queue
//! splitting use plain and queue-group subscriptions (core NATS). A check fails by panicking
//! with what was expected and what happened. Waiting is bounded by [`Suite::patience`]: a guard
//! against hanging, never a measure of speed.

use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use faststr::FastStr;
use rookery_codec::{Codec, DecodeError, DecodeErrorKind, EncodeError};
use rookery_core::BoxFuture;
use tokio::sync::mpsc;

use crate::{
    Backoff, Broker, Delivery, HandlerError, Incoming, Message, SubscribeOptions, Subscriber,
    Subscription, headers,
};

/// Makes a broker on the engine under test. Every broker made by one `MakeBroker` must reach
/// the same topics (the same engine); each may be its own connection.
///
/// Implemented by every `Fn() -> impl Future<Output = Arc<dyn Broker>>`.
pub trait MakeBroker: Send + Sync + 'static {
    /// A broker on the engine.
    fn make(&self) -> BoxFuture<'static, Arc<dyn Broker>>;
}

impl<F, Fut> MakeBroker for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Arc<dyn Broker>> + Send + 'static,
{
    fn make(&self) -> BoxFuture<'static, Arc<dyn Broker>> {
        Box::pin(self())
    }
}

/// The conformance checks, for one backend.
pub struct Suite {
    make: Arc<dyn MakeBroker>,
    patience: Duration,
    ack_wait: Duration,
}

impl std::fmt::Debug for Suite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Suite")
            .field("patience", &self.patience)
            .field("ack_wait", &self.ack_wait)
            .finish_non_exhaustive()
    }
}

/// Bodies that must be UTF-8; anything else fails to decode.
#[derive(Clone, Copy, Debug)]
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

fn unique(check: &str) -> String {
    format!("conformance.{check}.{:016x}", fastrand::u64(..))
}

impl Suite {
    /// The suite over brokers from `make`; waits up to 10 s for any one expected message, and
    /// uses an ack wait of 1 s where redelivery is checked.
    pub fn new(make: impl MakeBroker) -> Suite {
        Suite {
            make: Arc::new(make),
            patience: Duration::from_secs(10),
            ack_wait: Duration::from_secs(1),
        }
    }

    /// How long to wait for one expected message before the check fails (a guard against
    /// hanging, not a speed requirement).
    pub fn patience(mut self, patience: Duration) -> Suite {
        self.patience = patience;
        self
    }

    /// The ack wait of the subscriptions whose redelivery is checked. Engines with a minimum
    /// ack wait (or a coarse timer) need a longer one.
    pub fn ack_wait(mut self, ack_wait: Duration) -> Suite {
        self.ack_wait = ack_wait;
        self
    }

    /// Runs every check, one after another.
    pub async fn run_all(&self) {
        self.fan_out_reaches_every_plain_subscriber().await;
        self.queue_group_splits_messages().await;
        self.nack_delivers_again().await;
        self.dropped_subscriber_loses_nothing().await;
        self.killed_handler_loses_nothing().await;
        self.dead_letters_after_max_attempts().await;
        self.undecodable_message_is_dead_lettered().await;
        self.oversize_message_is_refused_at_publish().await;
    }

    async fn broker(&self) -> Arc<dyn Broker> {
        self.make.make().await
    }

    async fn subscribe(
        &self,
        broker: &dyn Broker,
        topic: &str,
        options: SubscribeOptions,
    ) -> Subscription {
        broker
            .subscribe(topic, options)
            .await
            .unwrap_or_else(|e| panic!("subscribe to {topic:?}: {e}"))
    }

    /// The next delivery, within patience.
    async fn next(&self, sub: &mut Subscription, what: &str) -> Delivery {
        match tokio::time::timeout(self.patience, sub.next()).await {
            Ok(Some(Ok(d))) => d,
            Ok(Some(Err(e))) => panic!("{what}: subscription error: {e}"),
            Ok(None) => panic!("{what}: the subscription ended"),
            Err(_) => panic!("{what}: nothing delivered within {:?}", self.patience),
        }
    }

    /// Publishes `n` messages to `topic`, returning their ids in order.
    async fn publish_n(&self, broker: &dyn Broker, topic: &str, n: usize) -> Vec<FastStr> {
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let message = Message::new(topic.to_string(), format!("message {i}"));
            ids.push(message.id.clone());
            broker
                .publish(message)
                .await
                .unwrap_or_else(|e| panic!("publish to {topic:?}: {e}"));
        }
        ids
    }

    /// Every plain subscriber (no queue group) receives every message, with its id, headers
    /// and payload intact.
    pub async fn fan_out_reaches_every_plain_subscriber(&self) {
        let topic = unique("fan_out");
        let publisher = self.broker().await;
        let mut subs = Vec::new();
        for _ in 0..3 {
            let broker = self.broker().await;
            let sub = self
                .subscribe(&*broker, &topic, SubscribeOptions::new())
                .await;
            subs.push((broker, sub));
        }
        let mut ids = Vec::new();
        for i in 0..20 {
            let message = Message::new(topic.clone(), format!("message {i}"))
                .with_header("traceparent", format!("00-{i:032x}-{i:016x}-01"));
            ids.push(message.id.clone());
            publisher.publish(message).await.expect("publish");
        }
        let expected: BTreeSet<_> = ids.iter().cloned().collect();
        for (n, (_broker, sub)) in subs.iter_mut().enumerate() {
            let mut got = BTreeSet::new();
            while got.len() < ids.len() {
                let d = self.next(sub, &format!("fan-out subscriber {n}")).await;
                let m = d.message();
                let i = ids
                    .iter()
                    .position(|id| *id == m.id)
                    .unwrap_or_else(|| panic!("subscriber {n}: unknown message id {:?}", m.id));
                assert_eq!(m.topic, topic.as_str(), "subscriber {n}: topic");
                assert_eq!(m.payload, format!("message {i}"), "subscriber {n}: payload");
                assert_eq!(
                    m.headers.get("traceparent"),
                    Some(format!("00-{i:032x}-{i:016x}-01").as_str()),
                    "subscriber {n}: headers travel"
                );
                got.insert(m.id.clone());
                d.ack().await.expect("ack");
            }
            assert_eq!(got, expected, "subscriber {n} got every message");
        }
    }

    /// The members of a queue group share the messages: each goes to one member, every member
    /// gets some, none is missing.
    pub async fn queue_group_splits_messages(&self) {
        let topic = unique("queue_group");
        let group = unique("group").replace('.', "-");
        let publisher = self.broker().await;
        let (tx, mut rx) = mpsc::unbounded_channel::<(usize, FastStr)>();
        let mut members = Vec::new();
        for member in 0..2 {
            let broker = self.broker().await;
            let mut sub = self
                .subscribe(
                    &*broker,
                    &topic,
                    SubscribeOptions::new().queue_group(group.clone()),
                )
                .await;
            let tx = tx.clone();
            members.push(tokio::spawn(async move {
                let _broker = broker;
                while let Some(Ok(d)) = sub.next().await {
                    let _ = tx.send((member, d.message().id.clone()));
                    let _ = d.ack().await;
                }
            }));
        }
        drop(tx);
        let ids = self.publish_n(&*publisher, &topic, 40).await;
        let mut by_member: BTreeMap<usize, usize> = BTreeMap::new();
        let mut got: BTreeMap<FastStr, usize> = BTreeMap::new();
        while got.len() < ids.len() {
            let (member, id) = tokio::time::timeout(self.patience, rx.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "queue group: {} of {} messages within {:?}",
                        got.len(),
                        ids.len(),
                        self.patience
                    )
                })
                .expect("members run");
            *by_member.entry(member).or_default() += 1;
            *got.entry(id).or_default() += 1;
        }
        for task in &members {
            task.abort();
        }
        let expected: BTreeSet<_> = ids.into_iter().collect();
        assert_eq!(
            got.keys().cloned().collect::<BTreeSet<_>>(),
            expected,
            "none missing"
        );
        assert!(
            got.values().all(|&n| n == 1),
            "each message went to one member: {got:?}"
        );
        assert_eq!(
            by_member.len(),
            2,
            "both members got messages: {by_member:?}"
        );
    }

    /// A nacked delivery comes again, with the same id and a higher attempt number.
    pub async fn nack_delivers_again(&self) {
        let topic = unique("nack");
        let broker = self.broker().await;
        let options = SubscribeOptions::new()
            .durable(unique("nack").replace('.', "-"))
            .ack_wait(self.ack_wait);
        let mut sub = self.subscribe(&*broker, &topic, options).await;
        let ids = self.publish_n(&*broker, &topic, 1).await;
        let first = self.next(&mut sub, "first delivery").await;
        assert_eq!(first.message().id, ids[0]);
        let attempt = first.attempt();
        first.nack(Duration::ZERO).await.expect("nack");
        let again = self.next(&mut sub, "delivery after a nack").await;
        assert_eq!(again.message().id, ids[0], "the same message");
        assert!(
            again.attempt() > attempt,
            "attempt goes up: {} then {}",
            attempt,
            again.attempt()
        );
        again.ack().await.expect("ack");
    }

    /// A queue-group member dropped mid-stream, holding deliveries it had not acknowledged,
    /// loses nothing: the other member gets them. Every message id is counted.
    pub async fn dropped_subscriber_loses_nothing(&self) {
        let topic = unique("dropped");
        let name = unique("dropped").replace('.', "-");
        let options = SubscribeOptions::new()
            .queue_group(name.clone())
            .durable(name)
            .max_in_flight(5)
            .ack_wait(self.ack_wait);
        let publisher = self.broker().await;
        let doomed_broker = self.broker().await;
        let mut doomed = self
            .subscribe(&*doomed_broker, &topic, options.clone())
            .await;
        let ids = self.publish_n(&*publisher, &topic, 50).await;

        // The doomed member takes three, acknowledges one, and goes away holding the others.
        let mut acked: BTreeSet<FastStr> = BTreeSet::new();
        let mut held = Vec::new();
        for i in 0..3 {
            let d = self.next(&mut doomed, "doomed member").await;
            if i == 0 {
                acked.insert(d.message().id.clone());
                d.ack().await.expect("ack");
            } else {
                held.push(d);
            }
        }
        let held_ids: BTreeSet<FastStr> = held.iter().map(|d| d.message().id.clone()).collect();
        let survivor_broker = self.broker().await;
        let mut survivor = self.subscribe(&*survivor_broker, &topic, options).await;
        drop(doomed);
        drop(held);

        let mut survivor_got = BTreeSet::new();
        while !ids.iter().all(|id| acked.contains(id)) {
            let d = self.next(&mut survivor, "surviving member").await;
            survivor_got.insert(d.message().id.clone());
            acked.insert(d.message().id.clone());
            d.ack().await.expect("ack");
        }
        let expected: BTreeSet<_> = ids.into_iter().collect();
        assert_eq!(acked, expected, "every message acknowledged, none missing");
        assert!(
            held_ids.is_subset(&survivor_got),
            "the dropped member's unacknowledged messages went to the other: {held_ids:?}"
        );
    }

    /// A [`Subscriber`] killed while its handler is mid-message loses nothing: the other member
    /// of its group handles every message.
    pub async fn killed_handler_loses_nothing(&self) {
        let topic = unique("killed");
        let name = unique("killed").replace('.', "-");
        let options = SubscribeOptions::new()
            .queue_group(name.clone())
            .durable(name)
            .max_in_flight(4)
            .ack_wait(self.ack_wait);
        let publisher = self.broker().await;

        // The first member never finishes a message: it is killed mid-work.
        let (started_tx, mut started) = mpsc::unbounded_channel::<FastStr>();
        let stuck = Subscriber::new(self.broker().await, topic.clone(), options.clone())
            .start(Utf8, move |m: Incoming<String>| {
                let _ = started_tx.send(m.id.clone());
                async move {
                    std::future::pending::<()>().await;
                    Ok::<_, HandlerError>(())
                }
            })
            .await
            .expect("start the first member");
        let ids = self.publish_n(&*publisher, &topic, 30).await;
        let first = tokio::time::timeout(self.patience, started.recv())
            .await
            .expect("the first member starts on a message")
            .expect("the first member runs");

        let (done_tx, mut done) = mpsc::unbounded_channel::<FastStr>();
        let _survivor = Subscriber::new(self.broker().await, topic.clone(), options)
            .start(Utf8, move |m: Incoming<String>| {
                let _ = done_tx.send(m.id.clone());
                async { Ok::<_, HandlerError>(()) }
            })
            .await
            .expect("start the second member");
        stuck.kill();

        let mut handled = BTreeSet::new();
        while !ids.iter().all(|id| handled.contains(id)) {
            let id = tokio::time::timeout(self.patience, done.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "after the kill, {} of {} messages handled within {:?}",
                        handled.len(),
                        ids.len(),
                        self.patience
                    )
                })
                .expect("the second member runs");
            handled.insert(id);
        }
        assert!(
            handled.contains(&first),
            "the message the killed member was working on was handled by the other"
        );
    }

    /// A message whose handler fails `max_attempts` times goes to the dead-letter topic with
    /// the handler's reason, the attempt count, the original topic and id in its headers, and
    /// its payload and headers intact; the original is not delivered again.
    pub async fn dead_letters_after_max_attempts(&self) {
        let topic = unique("dead_letter");
        let name = unique("dead_letter").replace('.', "-");
        let broker = self.broker().await;
        let dead_letter_topic = format!("{topic}.dlq");
        let mut dlq = self
            .subscribe(&*broker, &dead_letter_topic, SubscribeOptions::new())
            .await;
        let calls = Arc::new(Mutex::new(Vec::<u32>::new()));
        let seen = Arc::clone(&calls);
        let _serving = Subscriber::new(
            Arc::clone(&broker),
            topic.clone(),
            SubscribeOptions::new()
                .queue_group(name.clone())
                .durable(name)
                .ack_wait(self.ack_wait)
                .max_attempts(3)
                .backoff(Backoff::constant(Duration::from_millis(50))),
        )
        .start(Utf8, move |m: Incoming<String>| {
            seen.lock().unwrap().push(m.attempt);
            async move { Err(format!("payment declined for {}", m.body)) }
        })
        .await
        .expect("start the subscriber");
        let message = Message::new(topic.clone(), "order-7").with_header("tenant", "acme");
        let id = message.id.clone();
        broker.publish(message).await.expect("publish");

        let dead = self.next(&mut dlq, "the dead letter").await;
        let m = dead.message();
        assert_eq!(
            m.headers.get(headers::DEAD_LETTER_REASON),
            Some("payment declined for order-7"),
            "the reason is the handler's error"
        );
        assert_eq!(m.headers.get(headers::DEAD_LETTER_ATTEMPTS), Some("3"));
        assert_eq!(
            m.headers.get(headers::DEAD_LETTER_TOPIC),
            Some(topic.as_str())
        );
        assert_eq!(m.headers.get(headers::DEAD_LETTER_ID), Some(id.as_str()));
        assert_eq!(
            m.headers.get("tenant"),
            Some("acme"),
            "original headers kept"
        );
        assert_eq!(m.payload, "order-7", "payload kept");
        assert_eq!(
            *calls.lock().unwrap(),
            [1, 2, 3],
            "three attempts, in order"
        );
        dead.ack().await.expect("ack the dead letter");
    }

    /// A message whose payload does not decode goes to the dead-letter topic at once, with
    /// the decode error as the reason; the handler never sees it.
    pub async fn undecodable_message_is_dead_lettered(&self) {
        let topic = unique("undecodable");
        let name = unique("undecodable").replace('.', "-");
        let broker = self.broker().await;
        let dead_letter_topic = unique("graveyard");
        let mut dlq = self
            .subscribe(&*broker, &dead_letter_topic, SubscribeOptions::new())
            .await;
        let (tx, mut handled) = mpsc::unbounded_channel::<String>();
        let _serving = Subscriber::new(
            Arc::clone(&broker),
            topic.clone(),
            SubscribeOptions::new()
                .queue_group(name.clone())
                .durable(name)
                .ack_wait(self.ack_wait)
                .dead_letter_topic(dead_letter_topic.clone()),
        )
        .start(Utf8, move |m: Incoming<String>| {
            let _ = tx.send(m.body);
            async { Ok::<_, HandlerError>(()) }
        })
        .await
        .expect("start the subscriber");
        let bad = Message::new(topic.clone(), Bytes::from_static(&[0xff, 0xfe, 0xfd]));
        let bad_id = bad.id.clone();
        broker.publish(bad).await.expect("publish");
        broker
            .publish(Message::new(topic.clone(), "good"))
            .await
            .expect("publish");

        let dead = self.next(&mut dlq, "the dead letter").await;
        let m = dead.message();
        assert_eq!(
            m.headers.get(headers::DEAD_LETTER_ID),
            Some(bad_id.as_str())
        );
        let reason = m
            .headers
            .get(headers::DEAD_LETTER_REASON)
            .unwrap_or_default();
        assert!(
            reason.starts_with("decode: invalid UTF-8"),
            "the reason is the decode error: {reason:?}"
        );
        assert_eq!(m.headers.get(headers::DEAD_LETTER_ATTEMPTS), Some("1"));
        assert_eq!(m.payload, &[0xff, 0xfe, 0xfd][..], "the bytes as they came");
        let body = tokio::time::timeout(self.patience, handled.recv())
            .await
            .expect("the good message is handled")
            .expect("handler runs");
        assert_eq!(
            body, "good",
            "the handler saw only the message that decodes"
        );
    }

    /// A message over the broker's `max_message_size` is refused at publish with a clear
    /// error, and nothing of it reaches subscribers; one well under the limit goes through.
    pub async fn oversize_message_is_refused_at_publish(&self) {
        let topic = unique("oversize");
        let broker = self.broker().await;
        let limit = broker.max_message_size();
        let mut sub = self
            .subscribe(&*broker, &topic, SubscribeOptions::new())
            .await;
        let err = broker
            .publish(Message::new(topic.clone(), vec![b'x'; limit + 1]))
            .await
            .expect_err("a message over max_message_size must be refused");
        assert!(err.is_too_large(), "the error says why: {err}");
        assert!(
            err.to_string().contains(&limit.to_string()),
            "the error names the limit: {err}"
        );
        let err = broker
            .publish(
                Message::new(topic.clone(), vec![b'x'; limit - 8])
                    .with_header("padding", "0123456789abcdef"),
            )
            .await
            .expect_err("headers count towards the size");
        assert!(err.is_too_large(), "{err}");

        let fits = Message::new(topic.clone(), vec![b'y'; limit / 2]);
        let fits_id = fits.id.clone();
        broker.publish(fits).await.expect("half the limit fits");
        let d = self.next(&mut sub, "the message that fits").await;
        assert_eq!(
            d.message().id,
            fits_id,
            "the refused messages never arrived"
        );
        d.ack().await.expect("ack");
    }
}
