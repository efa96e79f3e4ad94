//! Pub/sub in one run, on the embedded broker: an order service publishes events, two
//! instances of a worker share a queue group (each event goes to one of them), and an audit
//! subscriber sees every event. Midway one worker is killed while it holds events it has not
//! acknowledged; they go to the other, and the run counts every event id to show that none was
//! lost. An order the worker cannot process, and a message that is not an order at all, end in
//! the dead-letter topic with the reason.
//!
//! ```text
//! cargo run --example pubsub
//! ```

use std::{
    collections::{BTreeMap, BTreeSet},
    process::ExitCode,
    sync::{Arc, Mutex},
    time::Duration,
};

use rookery_broker::{
    Backoff, Broker, HandlerError, Incoming, Message, SubscribeOptions, Subscriber,
    embedded::Embedded, headers,
};
use rookery_codec::json::Json;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct OrderPlaced {
    order: u32,
    customer: String,
    cents: u64,
}

const EVENTS: u32 = 60;
const TOPIC: &str = "orders.placed";

/// Which worker fulfilled which order, at which delivery attempt, in the order they finished.
type Log = Arc<Mutex<Vec<(&'static str, u32, u32)>>>;

fn worker(name: &'static str, log: Log) -> impl rookery_broker::Handler<OrderPlaced> {
    move |event: Incoming<OrderPlaced>| {
        let log = Arc::clone(&log);
        async move {
            if event.body.customer == "mallory" {
                return Err(HandlerError::new(format!(
                    "order {}: card declined",
                    event.body.order
                )));
            }
            // Fulfilment takes a moment; worker-1 is killed while busy with some.
            tokio::time::sleep(Duration::from_millis(5)).await;
            log.lock()
                .unwrap()
                .push((name, event.body.order, event.attempt));
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let broker: Arc<dyn Broker> = Arc::new(Embedded::new());
    let workers = SubscribeOptions::new()
        .queue_group("fulfilment")
        .durable("fulfilment")
        .max_in_flight(4)
        .ack_wait(Duration::from_secs(2))
        .max_attempts(3)
        .backoff(Backoff::exponential(
            Duration::from_millis(20),
            Duration::from_millis(200),
        ));

    // Dead letters, and an audit trail that sees every event.
    let mut dead_letters = broker
        .subscribe(&format!("{TOPIC}.dlq"), SubscribeOptions::new())
        .await
        .expect("subscribe to the dead-letter topic");
    let audited = Arc::new(Mutex::new(BTreeSet::new()));
    let audit = {
        let audited = Arc::clone(&audited);
        Subscriber::new(Arc::clone(&broker), TOPIC, SubscribeOptions::new())
            .start(
                rookery_broker::RawBytes,
                move |m: Incoming<bytes::Bytes>| {
                    audited.lock().unwrap().insert(m.id);
                    async { Ok::<_, HandlerError>(()) }
                },
            )
            .await
            .expect("start the audit")
    };

    let log: Log = Arc::default();
    let mut worker_1 = Some(
        Subscriber::new(Arc::clone(&broker), TOPIC, workers.clone())
            .start(Json, worker("worker-1", Arc::clone(&log)))
            .await
            .expect("start worker-1"),
    );
    let worker_2 = Subscriber::new(Arc::clone(&broker), TOPIC, workers)
        .start(Json, worker("worker-2", Arc::clone(&log)))
        .await
        .expect("start worker-2");

    // The order service.
    let mut published = BTreeMap::new();
    for order in 1..=EVENTS {
        let customer = if order == 13 { "mallory" } else { "alice" };
        let event = OrderPlaced {
            order,
            customer: customer.into(),
            cents: 1999 + u64::from(order),
        };
        let message = Message::encode(TOPIC, &event, &Json)
            .expect("encode")
            .with_header("traceparent", format!("00-{order:032x}-{order:016x}-01"));
        published.insert(message.id.clone(), order);
        broker.publish(message).await.expect("publish");
        // Orders trickle in, so that both workers get to fulfil some.
        tokio::time::sleep(Duration::from_millis(2)).await;
        if order == EVENTS / 2 {
            // worker-1 dies mid-stream, holding events it has not acknowledged.
            if let Some(worker_1) = worker_1.take() {
                worker_1.kill();
            }
            println!("worker-1 killed after order {order} was published");
        }
    }
    let junk = Message::new(TOPIC, "this is not an order");
    broker.publish(junk).await.expect("publish");

    // Every order but mallory's is fulfilled; two messages are dead-lettered.
    let expected_fulfilled = EVENTS as usize - 1;
    let mut reasons = Vec::new();
    let waited = tokio::time::timeout(Duration::from_secs(20), async {
        while reasons.len() < 2 {
            let d = dead_letters.next().await.expect("open").expect("delivery");
            let h = &d.message().headers;
            reasons.push(format!(
                "{} attempt(s): {}",
                h.get(headers::DEAD_LETTER_ATTEMPTS).unwrap_or("?"),
                h.get(headers::DEAD_LETTER_REASON).unwrap_or("?")
            ));
            d.ack().await.expect("ack");
        }
        loop {
            let done: BTreeSet<u32> = log.lock().unwrap().iter().map(|(_, o, _)| *o).collect();
            if done.len() >= expected_fulfilled {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    worker_2.stop().await.expect("stop worker-2");
    audit.stop().await.expect("stop the audit");

    let log = log.lock().unwrap().clone();
    let mut per_worker: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, _, _) in &log {
        *per_worker.entry(name).or_default() += 1;
    }
    let fulfilled: BTreeSet<u32> = log.iter().map(|(_, o, _)| *o).collect();
    let taken_over = log
        .iter()
        .filter(|(name, _, attempt)| *name == "worker-2" && *attempt > 1)
        .count();
    let missing: Vec<u32> = (1..=EVENTS)
        .filter(|o| *o != 13 && !fulfilled.contains(o))
        .collect();
    let audited = audited.lock().unwrap().len();

    println!("published {EVENTS} orders and 1 message that is not an order");
    for (name, n) in &per_worker {
        println!("  {name} fulfilled {n}");
    }
    println!("  worker-2 took over {taken_over} that worker-1 held unacknowledged when killed");
    println!(
        "  fulfilled {} distinct orders ({} duplicate deliveries, at least once)",
        fulfilled.len(),
        log.len() - fulfilled.len()
    );
    println!("  audit saw {audited} of {} messages", EVENTS + 1);
    for reason in &reasons {
        println!("  dead-lettered after {reason}");
    }
    println!("  missing: {missing:?}");
    let ok = waited.is_ok() && missing.is_empty() && audited == EVENTS as usize + 1;
    if ok {
        println!("nothing lost");
        ExitCode::SUCCESS
    } else {
        println!("FAILED: something was lost or the run timed out");
        ExitCode::FAILURE
    }
}
