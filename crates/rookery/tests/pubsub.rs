//! Subscriptions in a service: started with it, drained when it stops, run inside its layers.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use rookery::{
    Context, Service,
    broker::{Backoff, Broker, Incoming, Message, RawBytes, SubscribeOptions, embedded::Embedded},
    middleware::{
        metrics::Metrics,
        trace::{TraceContext, TraceLayer},
    },
    pubsub,
};
use tokio::sync::{Notify, mpsc, oneshot};

/// Waits for the next value, failing the test rather than hanging when none comes.
async fn next<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a message within 10 s")
        .expect("the handler is alive")
}

fn sample(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start)?.strip_prefix(' '))
        .map(|v| v.parse().expect("a number"))
}

#[tokio::test]
async fn a_running_service_handles_what_is_published() {
    let broker = Arc::new(Embedded::new());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let running = Service::builder("orders")
        .no_registry()
        .broker(broker.clone())
        .subscribe(
            "orders.created",
            SubscribeOptions::new().queue_group("workers"),
            RawBytes,
            move |_cx: Context, msg: Incoming<Bytes>| {
                let tx = tx.clone();
                async move {
                    tx.send((msg.body, msg.headers.get("tenant").map(str::to_owned)))
                        .map_err(|_| "test over")
                }
            },
        )
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let on: &Arc<dyn Broker> = running.broker().expect("the service has a broker");
    for i in 0..3 {
        on.publish(
            Message::new("orders.created", format!("order {i}")).with_header("tenant", "acme"),
        )
        .await
        .unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(next(&mut rx).await);
    }
    got.sort();
    let want: Vec<_> = (0..3)
        .map(|i| (Bytes::from(format!("order {i}")), Some("acme".to_owned())))
        .collect();
    assert_eq!(got, want);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn stop_drains_the_handlers_at_work_before_it_returns() {
    let broker = Arc::new(Embedded::new());
    let (started_tx, started_rx) = oneshot::channel();
    let started_tx = Arc::new(Mutex::new(Some(started_tx)));
    let release = Arc::new(Notify::new());
    let finished = Arc::new(AtomicBool::new(false));
    let (handler_release, handler_finished) = (release.clone(), finished.clone());
    let running = Service::builder("slow")
        .no_registry()
        .broker(broker.clone())
        .subscribe(
            "jobs",
            SubscribeOptions::new(),
            RawBytes,
            move |_cx: Context, _msg: Incoming<Bytes>| {
                let started = started_tx.lock().unwrap().take();
                let (release, finished) = (handler_release.clone(), handler_finished.clone());
                async move {
                    if let Some(started) = started {
                        let _ = started.send(());
                    }
                    release.notified().await;
                    finished.store(true, Ordering::SeqCst);
                    Ok::<(), std::convert::Infallible>(())
                }
            },
        )
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    broker.publish(Message::new("jobs", "one")).await.unwrap();
    started_rx.await.unwrap();
    let stopping = tokio::spawn(running.stop());
    // The stop waits for the handler: it cannot have returned while the handler is held.
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    assert!(
        !stopping.is_finished(),
        "stop returned with a handler at work"
    );
    release.notify_one();
    stopping.await.unwrap().unwrap();
    assert!(
        finished.load(Ordering::SeqCst),
        "the handler finished before stop returned"
    );
    // Acknowledged, not handed back: a new subscriber of the topic gets nothing of it.
    let mut again = broker
        .subscribe("jobs", SubscribeOptions::new())
        .await
        .unwrap();
    broker.publish(Message::new("jobs", "two")).await.unwrap();
    let delivery = again.next().await.unwrap().unwrap();
    assert_eq!(delivery.message().payload, Bytes::from("two"));
}

#[tokio::test]
async fn metrics_count_deliveries_by_topic() {
    let broker = Arc::new(Embedded::new());
    let metrics = Metrics::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (orders_tx, audit_tx) = (tx.clone(), tx);
    let options = SubscribeOptions::new().backoff(Backoff::constant(Duration::from_millis(10)));
    let running = Service::builder("shop")
        .no_registry()
        .broker(broker.clone())
        .metrics(&metrics)
        .subscribe(
            "orders",
            options.clone(),
            RawBytes,
            move |_cx: Context, msg: Incoming<Bytes>| {
                let tx = orders_tx.clone();
                async move {
                    // "bad" fails its first attempt: one failed call, then one that succeeds.
                    if msg.body == "bad" && msg.attempt == 1 {
                        return Err("not yet".to_owned());
                    }
                    tx.send(("orders", msg.body)).map_err(|e| e.to_string())
                }
            },
        )
        .subscribe(
            "audit",
            options,
            RawBytes,
            move |_cx: Context, msg: Incoming<Bytes>| {
                let tx = audit_tx.clone();
                async move { tx.send(("audit", msg.body)).map_err(|e| e.to_string()) }
            },
        )
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    for body in ["a", "b", "bad"] {
        broker.publish(Message::new("orders", body)).await.unwrap();
    }
    for body in ["x", "y"] {
        broker.publish(Message::new("audit", body)).await.unwrap();
    }
    for _ in 0..5 {
        next(&mut rx).await;
    }
    // Stopped: every call has ended, so every count is final.
    running.stop().await.unwrap();
    let text = metrics.encode();
    let series = |method: &str, code: &str| {
        format!(
            r#"rookery_calls_total{{side="server",service="shop",method="{method}",code="{code}",peer=""}}"#
        )
    };
    assert_eq!(sample(&text, &series("orders", "OK")), Some(3.0), "{text}");
    assert_eq!(
        sample(&text, &series("orders", "UNKNOWN")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(sample(&text, &series("audit", "OK")), Some(2.0), "{text}");
    assert_eq!(sample(&text, &series("audit", "UNKNOWN")), None, "{text}");
}

#[tokio::test]
async fn a_trace_travels_from_publisher_to_subscriber() {
    let broker = Arc::new(Embedded::new());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let running = Service::builder("audit")
        .no_registry()
        .broker(broker.clone())
        .layer(TraceLayer::server())
        .subscribe(
            "orders",
            SubscribeOptions::new(),
            RawBytes,
            move |cx: Context, msg: Incoming<Bytes>| {
                let seen = TraceContext::current(&cx).cloned();
                let traceparent = msg.headers.get("traceparent").map(str::to_owned);
                let tx = tx.clone();
                async move { tx.send((seen, traceparent)).map_err(|e| e.to_string()) }
            },
        )
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();

    // The publisher is handling a call of its own: its context holds that call's span.
    let publisher_span = TraceContext::root();
    let mut cx = Context::new();
    cx.inherited_mut().insert(publisher_span.clone());
    pubsub::publish(&*broker, &cx.child(), Message::new("orders", "{}"))
        .await
        .unwrap();
    let (seen, traceparent) = next(&mut rx).await;
    let seen = seen.expect("the handler runs inside a span");
    assert_eq!(seen.trace_id(), publisher_span.trace_id());
    // The subscriber's span is a child of the publish's span, itself a child of the caller's.
    let sent = traceparent.expect("publish wrote a traceparent");
    let sent = rookery::middleware::trace::TraceParent::parse(&sent).unwrap();
    assert_eq!(seen.parent_id(), Some(sent.parent_id));
    assert_ne!(sent.parent_id, publisher_span.span_id());

    // Without a trace in the publisher's context, the subscriber starts its own.
    pubsub::publish(&*broker, &Context::new(), Message::new("orders", "{}"))
        .await
        .unwrap();
    let (seen, traceparent) = next(&mut rx).await;
    assert_eq!(traceparent, None);
    let seen = seen.expect("a new trace");
    assert_ne!(seen.trace_id(), publisher_span.trace_id());
    assert_eq!(seen.parent_id(), None);
    running.stop().await.unwrap();
}

/// Typed messages: JSON bodies decoded for the handler; what does not decode goes to the
/// dead-letter topic at once, with the decode error, and never reaches the handler or its
/// layers.
#[cfg(feature = "json")]
#[tokio::test]
async fn typed_json_messages_and_what_does_not_decode() {
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Order {
        id: u32,
    }
    let broker = Arc::new(Embedded::new());
    let metrics = Metrics::new();
    let mut dead = broker
        .subscribe("orders.dlq", SubscribeOptions::new())
        .await
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let running = Service::builder("typed")
        .no_registry()
        .broker(broker.clone())
        .metrics(&metrics)
        .subscribe_json(
            "orders",
            SubscribeOptions::new(),
            move |_cx: Context, msg: Incoming<Order>| {
                let tx = tx.clone();
                async move { tx.send(msg.body).map_err(|e| e.to_string()) }
            },
        )
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    broker
        .publish(Message::new("orders", "not json"))
        .await
        .unwrap();
    broker
        .publish(Message::new("orders", r#"{"id":7}"#))
        .await
        .unwrap();
    assert_eq!(next(&mut rx).await, Order { id: 7 });
    let letter = tokio::time::timeout(Duration::from_secs(10), dead.next())
        .await
        .expect("a dead letter within 10 s")
        .unwrap()
        .unwrap();
    assert_eq!(letter.message().payload, Bytes::from("not json"));
    let reason = letter
        .message()
        .headers
        .get(rookery::broker::headers::DEAD_LETTER_REASON)
        .unwrap();
    assert!(reason.starts_with("decode:"), "{reason}");
    running.stop().await.unwrap();
    let text = metrics.encode();
    let calls: f64 = text
        .lines()
        .filter(|l| {
            l.starts_with(r#"rookery_calls_total{side="server",service="typed",method="orders""#)
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(calls, 1.0, "{text}");
}
