//! The Redis broker against a real redis-server (Debian's `redis-server`, started by
//! `rookery_testkit::RedisServer`; `ROOKERY_SKIP_REDIS=1` skips). Every message id is counted.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};

use rookery_broker::{
    Broker, Delivery, Message, SubscribeOptions, Subscription, conformance::Suite, redis::Redis,
};
use rookery_testkit::{RedisServer, is_rerun, rerun_test};

/// Long enough for anything these tests wait for; a test that waits this long has failed.
const PATIENCE: Duration = Duration::from_secs(30);

async fn next(sub: &mut Subscription) -> Delivery {
    tokio::time::timeout(PATIENCE, sub.next())
        .await
        .unwrap_or_else(|_| panic!("no delivery on {} in {PATIENCE:?}", sub.topic()))
        .expect("subscription ended")
        .expect("delivery failed")
}

async fn publish_n(broker: &Redis, topic: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let message = Message::new(topic.to_owned(), format!("message {i}")).with_header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
        ids.push(message.id.to_string());
        broker.publish(message).await.unwrap();
    }
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn fan_out_reaches_every_plain_subscriber_with_headers_and_ids() {
    let Some(redis) = RedisServer::start_or_skip() else {
        return;
    };
    let broker = Redis::connect(redis.url()).await.unwrap();
    let mut a = broker
        .subscribe("orders", SubscribeOptions::new())
        .await
        .unwrap();
    let mut b = broker
        .subscribe("orders", SubscribeOptions::new())
        .await
        .unwrap();
    let ids = publish_n(&broker, "orders", 20).await;
    for sub in [&mut a, &mut b] {
        let mut seen = Vec::new();
        for _ in 0..20 {
            let d = next(sub).await;
            assert_eq!(d.attempt(), 1);
            assert_eq!(
                d.message().headers.get("traceparent"),
                Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            );
            assert_eq!(d.message().topic, "orders");
            seen.push(d.message().id.to_string());
            d.ack().await.unwrap();
        }
        assert_eq!(seen, ids, "every message, in order, with its id");
    }
    let key = broker.stream_key("orders");
    assert_eq!(
        redis.xlen(&key).unwrap(),
        20,
        "one stream entry per message"
    );
    let groups = redis.command(&["XINFO", "GROUPS", &key]).unwrap();
    assert_eq!(
        groups.items().len(),
        2,
        "a consumer group per plain subscriber"
    );
    a.unsubscribe().await.unwrap();
    b.unsubscribe().await.unwrap();
    let groups = redis.command(&["XINFO", "GROUPS", &key]).unwrap();
    assert!(
        groups.items().is_empty(),
        "their groups went with them: {groups:?}"
    );
    broker.close().await.unwrap();
    let err = broker
        .publish(Message::new("orders", "late"))
        .await
        .unwrap_err();
    assert!(err.is_closed(), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "the child process of a_member_killed_mid_stream_loses_nothing"]
async fn killed_member_child() {
    if !is_rerun("killed_member_child") {
        return;
    }
    let url = std::env::var("REDIS_URL").unwrap();
    let broker = Redis::connect(url).await.unwrap();
    let mut sub = broker
        .subscribe(
            "jobs",
            SubscribeOptions::new()
                .queue_group("workers")
                .max_in_flight(5)
                .ack_wait(Duration::from_secs(2)),
        )
        .await
        .unwrap();
    println!("READY");
    let mut held = Vec::new();
    while let Some(d) = sub.next().await {
        let d = d.unwrap();
        println!("GOT {}", d.message().id);
        held.push(d);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_killed_mid_stream_loses_nothing() {
    let Some(redis) = RedisServer::start_or_skip() else {
        return;
    };
    let mut child = rerun_test("killed_member_child", &[("REDIS_URL", &redis.url())]).unwrap();
    child
        .wait_for_line(|l| l.ends_with("READY"), PATIENCE)
        .unwrap();
    let broker = Redis::connect(redis.url()).await.unwrap();
    let ids = publish_n(&broker, "jobs", 40).await;
    // The child holds five, unacknowledged, when it is killed.
    let mut held = BTreeSet::new();
    for _ in 0..5 {
        let line = child
            .wait_for_line(|l| l.starts_with("GOT "), PATIENCE)
            .unwrap();
        held.insert(line["GOT ".len()..].to_owned());
    }
    // SIGKILL: no unsubscribe, no hand-back; only ack_wait lets the other member claim them.
    child.kill().unwrap();
    let key = broker.stream_key("jobs");
    let pending = redis.command(&["XPENDING", &key, "g:workers"]).unwrap();
    assert_eq!(
        pending.items().first().and_then(|n| n.as_int()),
        Some(5),
        "the killed member's five are pending in the group: {pending:?}"
    );

    let mut other = broker
        .subscribe(
            "jobs",
            SubscribeOptions::new()
                .queue_group("workers")
                .ack_wait(Duration::from_secs(2)),
        )
        .await
        .unwrap();
    let mut attempts = BTreeMap::new();
    while attempts.len() < ids.len() {
        let d = next(&mut other).await;
        attempts.insert(d.message().id.to_string(), d.attempt());
        d.ack().await.unwrap();
    }
    let got: BTreeSet<_> = attempts.keys().cloned().collect();
    assert_eq!(
        got,
        ids.iter().cloned().collect::<BTreeSet<_>>(),
        "none missing"
    );
    for id in &held {
        assert_eq!(
            attempts[id], 2,
            "{id} held by the killed member was claimed as a second delivery"
        );
    }
    other.unsubscribe().await.unwrap();
    let pending = redis.command(&["XPENDING", &key, "g:workers"]).unwrap();
    assert_eq!(
        pending.items().first().and_then(|n| n.as_int()),
        Some(0),
        "nothing left pending: {pending:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_dropped_holding_deliveries_hands_them_to_the_other() {
    let Some(redis) = RedisServer::start_or_skip() else {
        return;
    };
    let options = SubscribeOptions::new()
        .queue_group("pool")
        .max_in_flight(4)
        // Long: only the hand-back on drop can bring them to the other member in time.
        .ack_wait(Duration::from_secs(3600));
    let broker = Redis::connect(redis.url()).await.unwrap();
    let mut first = broker.subscribe("tasks", options.clone()).await.unwrap();
    let ids = publish_n(&broker, "tasks", 12).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(next(&mut first).await);
    }
    let held_ids: BTreeSet<String> = held.iter().map(|d| d.message().id.to_string()).collect();
    let mut second = broker.subscribe("tasks", options).await.unwrap();
    first.unsubscribe().await.unwrap();
    drop(held);
    let mut got = BTreeMap::new();
    while got.len() < ids.len() {
        let d = next(&mut second).await;
        got.insert(d.message().id.to_string(), d.attempt());
        d.ack().await.unwrap();
    }
    assert_eq!(
        got.keys().cloned().collect::<BTreeSet<_>>(),
        ids.iter().cloned().collect::<BTreeSet<_>>(),
        "none missing"
    );
    for id in &held_ids {
        assert_eq!(got[id], 2, "{id} came back as a second delivery");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn nacks_redeliver_after_their_delay_with_attempts_counted() {
    let Some(redis) = RedisServer::start_or_skip() else {
        return;
    };
    let broker = Redis::connect(redis.url()).await.unwrap();
    let mut sub = broker
        .subscribe(
            "retry",
            SubscribeOptions::new()
                .durable("retrier")
                .ack_wait(Duration::from_millis(400)),
        )
        .await
        .unwrap();
    let ids = publish_n(&broker, "retry", 1).await;
    let mut attempts = Vec::new();
    // A short delay, then one longer than ack_wait (kept ours until it is due).
    for delay in [Duration::from_millis(50), Duration::from_millis(900)] {
        let d = next(&mut sub).await;
        assert_eq!(d.message().id, ids[0]);
        attempts.push(d.attempt());
        d.nack(delay).await.unwrap();
    }
    let d = next(&mut sub).await;
    attempts.push(d.attempt());
    d.ack().await.unwrap();
    assert_eq!(attempts, [1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_durable_group_keeps_its_messages_across_a_server_restart() {
    let Some(mut redis) = RedisServer::start_or_skip() else {
        return;
    };
    let options = SubscribeOptions::new().durable("ledger");
    let broker = Redis::connect(redis.url()).await.unwrap();
    let sub = broker.subscribe("ledger", options.clone()).await.unwrap();
    sub.unsubscribe().await.unwrap();
    let ids = publish_n(&broker, "ledger", 10).await;
    redis.kill().unwrap();
    redis.restart().unwrap();
    // The broker's connection broke with the server: the next command makes a new one.
    let mut sub = loop {
        match broker.subscribe("ledger", options.clone()).await {
            Ok(sub) => break sub,
            Err(e) => assert!(e.is_unavailable(), "{e}"),
        }
    };
    let mut got = Vec::new();
    while got.len() < ids.len() {
        let d = next(&mut sub).await;
        got.push(d.message().id.to_string());
        d.ack().await.unwrap();
    }
    assert_eq!(got, ids, "every message kept by the group, in order");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_goes_on_after_the_server_restarts_under_it() {
    let Some(mut redis) = RedisServer::start_or_skip() else {
        return;
    };
    let broker = Redis::connect(redis.url()).await.unwrap();
    let mut sub = broker
        // The default ack_wait (30 s): a read whose reply was lost with the connection must
        // come back sooner than that.
        .subscribe("events", SubscribeOptions::new().queue_group("steady"))
        .await
        .unwrap();
    let before = publish_n(&broker, "events", 3).await;
    redis.kill().unwrap();
    redis.restart().unwrap();
    // The publisher's connection broke with the server: the first publish may say so.
    let mut after = Vec::new();
    while after.len() < 3 {
        let message = Message::new("events", "after the restart");
        let id = message.id.to_string();
        match broker.publish(message).await {
            Ok(()) => after.push(id),
            Err(e) => assert!(e.is_unavailable(), "{e}"),
        }
    }
    let mut got = BTreeSet::new();
    let mut errors = 0;
    let expected: BTreeSet<String> = before.iter().chain(&after).cloned().collect();
    while got.len() < expected.len() {
        match tokio::time::timeout(PATIENCE, sub.next()).await {
            Ok(Some(Ok(d))) => {
                got.insert(d.message().id.to_string());
                d.ack().await.unwrap();
            }
            // The lost connection is reported, and the subscription goes on.
            Ok(Some(Err(e))) => {
                assert!(e.is_unavailable(), "{e}");
                errors += 1;
                assert!(errors < 100, "the subscription does not recover: {e}");
            }
            Ok(None) => panic!("the subscription ended"),
            Err(_) => panic!(
                "{} of {} messages in {PATIENCE:?}: missing {:?}; pending in the group {:?}",
                got.len(),
                expected.len(),
                expected.difference(&got).collect::<Vec<_>>(),
                redis.command(&["XPENDING", "rookery:events", "g:steady"]),
            ),
        }
    }
    assert_eq!(got, expected, "none missing across the restart");
    sub.unsubscribe().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn oversize_messages_are_refused_at_publish() {
    let Some(redis) = RedisServer::start_or_skip() else {
        return;
    };
    let broker = Redis::builder(redis.url())
        .max_message_size(64)
        .connect()
        .await
        .unwrap();
    let err = broker
        .publish(Message::new("big", vec![0u8; 65]))
        .await
        .unwrap_err();
    assert!(err.is_too_large(), "{err}");
    assert!(err.to_string().contains("64"), "{err}");
    assert_eq!(
        redis.xlen(&broker.stream_key("big")).unwrap(),
        0,
        "nothing reached Redis"
    );
}

/// The backend-agnostic conformance suite, each check on a new connection to one real server.
fn suite(redis: &RedisServer) -> Suite {
    let url = redis.url();
    Suite::new(move || {
        let url = url.clone();
        async move {
            Arc::new(Redis::connect(url).await.expect("connect to redis-server")) as Arc<dyn Broker>
        }
    })
    .ack_wait(Duration::from_secs(1))
}

macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod conformance {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let Some(redis) = RedisServer::start_or_skip() else {
                        return;
                    };
                    suite(&redis).$check().await;
                }
            )*
        }
    };
}

conformance!(
    fan_out_reaches_every_plain_subscriber,
    queue_group_splits_messages,
    nack_delivers_again,
    dropped_subscriber_loses_nothing,
    killed_handler_loses_nothing,
    dead_letters_after_max_attempts,
    undecodable_message_is_dead_lettered,
    oversize_message_is_refused_at_publish,
);

#[tokio::test(flavor = "multi_thread")]
async fn rookery_broker_names_redis_by_url() {
    let Some(redis) = RedisServer::start_or_skip() else {
        return;
    };
    let broker = rookery_broker::from_url(&redis.url()).await.unwrap();
    let mut sub = broker
        .subscribe("chosen", SubscribeOptions::new())
        .await
        .unwrap();
    broker
        .publish(Message::new("chosen", "by url"))
        .await
        .unwrap();
    let d = next(&mut sub).await;
    assert_eq!(d.message().payload, "by url");
    d.ack().await.unwrap();
    assert_eq!(
        redis.xlen("rookery:chosen").unwrap(),
        1,
        "it went through the topic's stream"
    );
}
