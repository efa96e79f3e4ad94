use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use async_nats::jetstream::{
    self, AckKind,
    consumer::{Consumer, pull},
};
use faststr::FastStr;
use futures_util::StreamExt;
use rookery_core::BoxFuture;
use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch},
    task::JoinHandle,
};

use super::{Nats, broker::engine_error, names::from_nats_headers};
use crate::{Acknowledge, BrokerError, Delivery, Message, SubscriptionSource};

/// How long one pull request waits for messages before the next is sent: a subscription
/// that ends waits for its last one, so this bounds how long unsubscribing takes.
const PULL_EXPIRES: Duration = Duration::from_secs(2);

/// One subscription: a task pulls from its JetStream consumer as many messages as it has room
/// for under `max_in_flight`, and hands them over through a channel.
pub(super) struct NatsSubscription {
    deliveries: mpsc::UnboundedReceiver<Result<Delivery, BrokerError>>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

/// The deliveries handed out and not settled yet, by a local key: handed back (nak) when the
/// subscription ends, so another member gets them at once rather than after `ack_wait`.
#[derive(Default)]
struct Unsettled {
    next: AtomicU64,
    ackers: Mutex<HashMap<u64, jetstream::message::Acker>>,
}

impl Unsettled {
    fn take(&self, key: u64) -> Option<jetstream::message::Acker> {
        self.ackers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key)
    }
}

impl NatsSubscription {
    pub(super) fn start(
        broker: Nats,
        stream: jetstream::stream::Stream,
        consumer: Consumer<pull::Config>,
        delete_on_end: bool,
        max_in_flight: usize,
    ) -> NatsSubscription {
        let (tx, rx) = mpsc::unbounded_channel();
        let (stop, stopped) = watch::channel(false);
        let pump = Pump {
            closed: broker.inner.closed.subscribe(),
            stopped,
            consumer,
            tx,
            room: Arc::new(Semaphore::new(max_in_flight)),
            unsettled: Arc::default(),
        };
        let task = tokio::spawn(async move {
            let unsettled = Arc::clone(&pump.unsettled);
            let consumer_name = pump.consumer.cached_info().name.clone();
            pump.run().await;
            // Hand back what is still unsettled, so another member (or the next subscriber
            // with this durable name) receives it at once.
            let ackers: Vec<_> = unsettled
                .ackers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain()
                .map(|(_, a)| a)
                .collect();
            for acker in ackers {
                let _ = acker.ack_with(AckKind::Nak(None)).await;
            }
            if delete_on_end {
                let _ = stream.delete_consumer(&consumer_name).await;
            }
            let _ = broker.inner.client.flush().await;
        });
        NatsSubscription {
            deliveries: rx,
            stop,
            task: Some(task),
        }
    }
}

impl SubscriptionSource for NatsSubscription {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Delivery, BrokerError>>> {
        self.deliveries.poll_recv(cx)
    }

    fn unsubscribe(mut self: Box<Self>) -> BoxFuture<'static, Result<(), BrokerError>> {
        self.stop.send_replace(true);
        let task = self.task.take();
        Box::pin(async move {
            if let Some(task) = task {
                task.await
                    .map_err(|e| BrokerError::unavailable(format!("NATS subscription: {e}")))?;
            }
            Ok(())
        })
    }
}

impl Drop for NatsSubscription {
    fn drop(&mut self) {
        // The task sees it, hands back the unsettled deliveries and ends on its own.
        self.stop.send_replace(true);
    }
}

struct Pump {
    closed: watch::Receiver<bool>,
    stopped: watch::Receiver<bool>,
    consumer: Consumer<pull::Config>,
    tx: mpsc::UnboundedSender<Result<Delivery, BrokerError>>,
    room: Arc<Semaphore>,
    unsettled: Arc<Unsettled>,
}

impl Pump {
    fn done(&self) -> bool {
        *self.closed.borrow() || *self.stopped.borrow() || self.tx.is_closed()
    }

    async fn run(mut self) {
        let mut failures = 0u32;
        while !self.done() {
            // Wait for room for one delivery, then take all the room there is: one permit
            // goes with each delivery, back when it is settled.
            let first = tokio::select! {
                p = Arc::clone(&self.room).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => return,
                },
                _ = self.closed.changed() => return,
                _ = self.stopped.changed() => return,
            };
            let mut permits = vec![first];
            while let Ok(p) = Arc::clone(&self.room).try_acquire_owned() {
                permits.push(p);
            }
            let want = permits.len();
            let batch = self
                .consumer
                .batch()
                .max_messages(want)
                .expires(PULL_EXPIRES)
                .messages()
                .await;
            let mut batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    failures += 1;
                    if self
                        .tx
                        .send(Err(engine_error("pulling messages", e)))
                        .is_err()
                    {
                        return;
                    }
                    self.pause(failures).await;
                    continue;
                }
            };
            // Once the subscription ends, the pull request already sent is read to its end
            // (at most PULL_EXPIRES) and what it brings is handed back at once: dropped
            // unread, the server would deliver into a dead inbox and the messages would wait
            // out ack_wait.
            let mut ending = false;
            loop {
                let next = if ending {
                    batch.next().await
                } else {
                    tokio::select! {
                        m = batch.next() => m,
                        _ = self.closed.changed() => { ending = true; continue }
                        _ = self.stopped.changed() => { ending = true; continue }
                    }
                };
                let Some(next) = next else { break };
                match next {
                    Ok(message) if ending || self.done() => {
                        ending = true;
                        let _ = message.ack_with(AckKind::Nak(None)).await;
                    }
                    Ok(message) => {
                        failures = 0;
                        // The batch never brings more than `want` messages.
                        let Some(permit) = permits.pop() else { break };
                        if self.tx.send(Ok(self.delivery(message, permit))).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        if self
                            .tx
                            .send(Err(engine_error("receiving messages", e)))
                            .is_err()
                        {
                            return;
                        }
                        self.pause(failures).await;
                        break;
                    }
                }
            }
        }
    }

    /// Waits a little longer after each failure in a row (up to 2 s), so a lost server is
    /// not hammered, unless the subscription ends meanwhile.
    async fn pause(&mut self, failures: u32) {
        let delay =
            Duration::from_millis(50 * 2u64.pow(failures.min(6))).min(Duration::from_secs(2));
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = self.closed.changed() => {}
            _ = self.stopped.changed() => {}
        }
    }

    fn delivery(&self, message: jetstream::Message, permit: OwnedSemaphorePermit) -> Delivery {
        let (attempt, fallback) = match message.info() {
            Ok(info) => (
                u32::try_from(info.delivered).unwrap_or(u32::MAX),
                format!("{}:{}", info.stream, info.stream_sequence),
            ),
            Err(_) => (1, String::new()),
        };
        let (message, acker) = message.split();
        let (id, headers) = from_nats_headers(message.headers.as_ref(), || {
            FastStr::from_string(if fallback.is_empty() {
                crate::new_message_id().to_string()
            } else {
                fallback
            })
        });
        let key = self.unsettled.next.fetch_add(1, Ordering::Relaxed);
        self.unsettled
            .ackers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, acker);
        let message = Message {
            id,
            topic: FastStr::new(message.subject.as_str()),
            headers,
            payload: message.payload,
        };
        Delivery::new(
            message,
            attempt,
            Settle {
                unsettled: Arc::clone(&self.unsettled),
                key,
                _permit: permit,
            },
        )
    }
}

/// Settles one delivery with JetStream.
struct Settle {
    unsettled: Arc<Unsettled>,
    key: u64,
    /// Room under `max_in_flight`, given back when this is settled or dropped.
    _permit: OwnedSemaphorePermit,
}

impl Acknowledge for Settle {
    fn ack(self: Box<Self>) -> BoxFuture<'static, Result<(), BrokerError>> {
        let acker = self.unsettled.take(self.key);
        Box::pin(async move {
            // Gone: the subscription ended and handed it back already.
            let Some(acker) = acker else { return Ok(()) };
            // Waits for the server to record it, so "acked" means it will not come back.
            acker
                .double_ack()
                .await
                .map_err(|e| engine_error("acknowledging", e))
        })
    }

    fn nack(self: Box<Self>, delay: Duration) -> BoxFuture<'static, Result<(), BrokerError>> {
        let acker = self.unsettled.take(self.key);
        Box::pin(async move {
            let Some(acker) = acker else { return Ok(()) };
            let delay = (!delay.is_zero()).then_some(delay);
            acker
                .ack_with(AckKind::Nak(delay))
                .await
                .map_err(|e| engine_error("nacking", e))
        })
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        // Dropped unsettled: JetStream delivers it again after ack_wait. Forget the acker so
        // the map does not grow.
        self.unsettled.take(self.key);
    }
}
