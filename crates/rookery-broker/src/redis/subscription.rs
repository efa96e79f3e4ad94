use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use faststr::FastStr;
use redis::{
    aio::MultiplexedConnection,
    streams::{StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamReadReply},
};
use rookery_core::BoxFuture;
use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch},
    task::JoinHandle,
};

use super::{Redis, broker::engine_error, names::from_fields};
use crate::{Acknowledge, BrokerError, Delivery, SubscribeOptions, SubscriptionSource};

/// The longest a blocking read waits for new entries before the subscription looks for
/// entries to claim again (and whether it has ended): so this bounds how long unsubscribing
/// takes.
pub(super) const BLOCK_LIMIT: Duration = Duration::from_secs(1);

/// Where a subscription reads: its topic's stream, its consumer group, its own consumer name.
pub(super) struct Target {
    pub(super) topic: FastStr,
    pub(super) key: String,
    pub(super) group: String,
    pub(super) consumer: String,
    /// A plain subscriber's own group goes with it.
    pub(super) destroy_group_on_end: bool,
}

/// One subscription: a task claims the group's entries left pending longer than `ack_wait`
/// (their consumer died or dropped them) and reads new ones, as many as it has room for under
/// `max_in_flight`, and hands them over through a channel.
pub(super) struct RedisSubscription {
    deliveries: mpsc::UnboundedReceiver<Result<Delivery, BrokerError>>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

/// What the task and the deliveries share.
struct Shared {
    broker: Redis,
    target: Target,
    ack_wait: Duration,
    /// The entries handed out and not settled yet, by a local key: handed back when the
    /// subscription ends, so another member claims them at once rather than after `ack_wait`.
    unsettled: Mutex<HashMap<u64, String>>,
    next: AtomicU64,
    /// Set once the subscription ends: a delivery dropped unsettled from then on is left for
    /// the hand-back.
    ending: AtomicBool,
}

impl Shared {
    fn take(&self, key: u64) -> Option<String> {
        lock(&self.unsettled).remove(&key)
    }

    /// Makes the entries `ids`, pending with this consumer, idle for `idle` as Redis counts
    /// it (without counting a delivery): an entry idle for `ack_wait` is claimed by the next
    /// member that looks.
    async fn set_idle(&self, ids: &[String], idle: Duration) -> Result<(), BrokerError> {
        if ids.is_empty() {
            return Ok(());
        }
        let t = &self.target;
        let mut cmd = redis::cmd("XCLAIM");
        cmd.arg(&t.key)
            .arg(&t.group)
            .arg(&t.consumer)
            .arg(0)
            .arg(ids);
        cmd.arg("IDLE").arg(millis(idle)).arg("JUSTID");
        let _: redis::Value = self.broker.query("handing back a delivery", &cmd).await?;
        Ok(())
    }

    /// Has `id` delivered again after `delay`: it stays pending, made idle enough that a
    /// member claims it once `delay` has passed. A delay past `ack_wait` keeps it ours (idle
    /// 0) until only `ack_wait` is left; if this process dies meanwhile, it is claimed after
    /// `ack_wait` as any entry of a dead consumer is.
    async fn nack(self: Arc<Self>, id: String, delay: Duration) -> Result<(), BrokerError> {
        let ids = [id];
        if delay < self.ack_wait {
            return self.set_idle(&ids, self.ack_wait - delay).await;
        }
        self.set_idle(&ids, Duration::ZERO).await?;
        tokio::spawn(async move {
            let due = Instant::now() + delay;
            let step = self.ack_wait / 2;
            loop {
                let left = due.saturating_duration_since(Instant::now());
                if left < self.ack_wait {
                    let _ = self.set_idle(&ids, self.ack_wait - left).await;
                    return;
                }
                let wait = step.min(left - self.ack_wait + Duration::from_millis(1));
                tokio::time::sleep(wait).await;
                // Still more than ack_wait to go: keep it ours a while longer.
                if due.saturating_duration_since(Instant::now()) >= self.ack_wait {
                    let _ = self.set_idle(&ids, Duration::ZERO).await;
                }
            }
        });
        Ok(())
    }
}

impl RedisSubscription {
    pub(super) fn start(
        broker: Redis,
        reader: MultiplexedConnection,
        target: Target,
        options: &SubscribeOptions,
    ) -> RedisSubscription {
        let (tx, rx) = mpsc::unbounded_channel();
        let (stop, stopped) = watch::channel(false);
        let claim_every = (options.ack_wait / 4).clamp(Duration::from_millis(10), BLOCK_LIMIT);
        let shared = Arc::new(Shared {
            broker: broker.clone(),
            target,
            ack_wait: options.ack_wait,
            unsettled: Mutex::default(),
            next: AtomicU64::new(0),
            ending: AtomicBool::new(false),
        });
        let pump = Pump {
            shared: Arc::clone(&shared),
            reader,
            closed: broker.inner.closed.subscribe(),
            stopped,
            tx,
            room: Arc::new(Semaphore::new(options.effective_max_in_flight())),
            claim_every,
            last_claim: None,
            cursor: "0-0".to_owned(),
            own_cursor: None,
            max_attempts: options.effective_max_attempts(),
        };
        let ending = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            pump.run().await;
            shared.ending.store(true, Ordering::SeqCst);
            let t = &shared.target;
            if t.destroy_group_on_end {
                let mut cmd = redis::cmd("XGROUP");
                cmd.arg("DESTROY").arg(&t.key).arg(&t.group);
                let _: Result<redis::Value, _> = shared
                    .broker
                    .query("removing the consumer group", &cmd)
                    .await;
                return;
            }
            // Hand back what is still unsettled, so another member (or the next subscriber
            // with this durable name) claims it at once.
            let ids: Vec<String> = lock(&shared.unsettled).drain().map(|(_, id)| id).collect();
            if let Err(e) = shared.set_idle(&ids, shared.ack_wait).await {
                tracing::debug!(error = %e, "Redis subscription: could not hand back deliveries; they are claimed after ack_wait");
            }
        });
        RedisSubscription {
            deliveries: rx,
            stop,
            task: Some(task),
            shared: ending,
        }
    }
}

impl RedisSubscription {
    /// Tells the task to end; deliveries dropped unsettled from now on are handed back with
    /// the rest.
    fn end(&self) {
        self.shared.ending.store(true, Ordering::SeqCst);
        self.stop.send_replace(true);
    }
}

impl SubscriptionSource for RedisSubscription {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Delivery, BrokerError>>> {
        self.deliveries.poll_recv(cx)
    }

    fn unsubscribe(mut self: Box<Self>) -> BoxFuture<'static, Result<(), BrokerError>> {
        self.end();
        let task = self.task.take();
        Box::pin(async move {
            if let Some(task) = task {
                task.await
                    .map_err(|e| BrokerError::unavailable(format!("Redis subscription: {e}")))?;
            }
            Ok(())
        })
    }
}

impl Drop for RedisSubscription {
    fn drop(&mut self) {
        // The task sees it, hands back the unsettled deliveries and ends on its own.
        self.end();
    }
}

struct Pump {
    shared: Arc<Shared>,
    /// A connection of its own: a blocking read holds up every command behind it.
    reader: MultiplexedConnection,
    closed: watch::Receiver<bool>,
    stopped: watch::Receiver<bool>,
    tx: mpsc::UnboundedSender<Result<Delivery, BrokerError>>,
    room: Arc<Semaphore>,
    claim_every: Duration,
    last_claim: Option<Instant>,
    /// Where the next XAUTOCLAIM goes on scanning the group's pending entries.
    cursor: String,
    /// Set after a lost connection: where the re-read of this consumer's own pending entries
    /// goes on (`0` from the start).
    own_cursor: Option<String>,
    max_attempts: u32,
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
            let due = self
                .last_claim
                .is_none_or(|at| at.elapsed() >= self.claim_every);
            self.reread_own(&mut permits).await;
            let mut result = Ok(());
            if due && !permits.is_empty() {
                self.last_claim = Some(Instant::now());
                result = self.claim(&mut permits).await;
            }
            if result.is_ok() && !permits.is_empty() && !self.done() {
                result = self.read_new(&mut permits).await;
            }
            match result {
                Ok(()) => failures = 0,
                Err(e) => {
                    failures += 1;
                    if self.tx.send(Err(e)).is_err() {
                        return;
                    }
                    self.pause(failures).await;
                    self.recover().await;
                }
            }
        }
    }

    /// Claims the group's entries pending longer than `ack_wait` (a dead member's, a nacked
    /// one whose delay passed, one dropped unsettled), and delivers them with the number of
    /// deliveries Redis counted.
    async fn claim(&mut self, permits: &mut Vec<OwnedSemaphorePermit>) -> Result<(), BrokerError> {
        let shared = Arc::clone(&self.shared);
        let t = &shared.target;
        let mut cmd = redis::cmd("XAUTOCLAIM");
        cmd.arg(&t.key)
            .arg(&t.group)
            .arg(&t.consumer)
            .arg(millis(self.shared.ack_wait))
            .arg(&self.cursor)
            .arg("COUNT")
            .arg(permits.len());
        let reply: StreamAutoClaimReply = self.query("claiming pending messages", &cmd).await?;
        self.cursor = reply.next_stream_id;
        self.deliver_counted(reply.claimed, permits).await
    }

    /// After a lost connection: this consumer's own pending entries that it never handed out
    /// (a read whose reply was lost with the connection), so they come now rather than after
    /// `ack_wait`. Best effort: on failure, `ack_wait` brings them back as it would anyway.
    async fn reread_own(&mut self, permits: &mut Vec<OwnedSemaphorePermit>) {
        let Some(from) = self.own_cursor.clone() else {
            return;
        };
        let shared = Arc::clone(&self.shared);
        let t = &shared.target;
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&t.group)
            .arg(&t.consumer)
            .arg("COUNT")
            .arg(permits.len())
            .arg("STREAMS")
            .arg(&t.key)
            .arg(&from);
        let reply: Option<StreamReadReply> =
            match self.query("reading own pending messages", &cmd).await {
                Ok(r) => r,
                Err(_) => {
                    self.own_cursor = None;
                    return;
                }
            };
        let entries: Vec<StreamId> = reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .collect();
        let Some(last) = entries.last() else {
            self.own_cursor = None;
            return;
        };
        self.own_cursor = Some(last.id.clone());
        let held: std::collections::HashSet<String> =
            lock(&shared.unsettled).values().cloned().collect();
        let lost: Vec<StreamId> = entries
            .into_iter()
            .filter(|e| !held.contains(&e.id))
            .collect();
        if self.deliver_counted(lost, permits).await.is_err() {
            self.own_cursor = None;
        }
    }

    /// Delivers pending `entries` with the number of deliveries Redis counted for each.
    async fn deliver_counted(
        &mut self,
        entries: Vec<StreamId>,
        permits: &mut Vec<OwnedSemaphorePermit>,
    ) -> Result<(), BrokerError> {
        if entries.is_empty() {
            return Ok(());
        }
        let shared = Arc::clone(&self.shared);
        let t = &shared.target;
        // Neither XAUTOCLAIM nor a read of pending entries says how often an entry was
        // delivered; XPENDING does.
        let mut pipe = redis::pipe();
        for entry in &entries {
            pipe.cmd("XPENDING")
                .arg(&t.key)
                .arg(&t.group)
                .arg(&entry.id)
                .arg(&entry.id)
                .arg(1);
        }
        let counts: Vec<StreamPendingCountReply> = pipe
            .query_async(&mut self.reader)
            .await
            .map_err(|e| engine_error("reading delivery counts", e))?;
        let counts: HashMap<String, usize> = counts
            .into_iter()
            .flat_map(|r| r.ids)
            .map(|p| (p.id, p.times_delivered))
            .collect();
        for entry in entries {
            let attempt = counts.get(&entry.id).copied().unwrap_or(2);
            let attempt = u32::try_from(attempt).unwrap_or(u32::MAX);
            // One delivery past max_attempts lets the handler runner dead-letter a message
            // nobody acknowledged; past that, every member crashes on it: stop there, as
            // JetStream's max_deliver does, so it cannot loop for ever.
            if attempt > self.max_attempts.saturating_add(1) {
                tracing::warn!(
                    topic = %t.topic,
                    entry = %entry.id,
                    attempt,
                    "Redis: a message was delivered more than max_attempts + 1 times without \
                     being settled; it is dropped from the group's pending entries"
                );
                let mut ack = redis::cmd("XACK");
                ack.arg(&t.key).arg(&t.group).arg(&entry.id);
                let _: i64 = self.query("acknowledging a spent message", &ack).await?;
                continue;
            }
            let Some(permit) = permits.pop() else { break };
            self.deliver(entry, attempt, permit);
        }
        Ok(())
    }

    /// Reads entries no member of the group has had yet, waiting a while for some.
    async fn read_new(
        &mut self,
        permits: &mut Vec<OwnedSemaphorePermit>,
    ) -> Result<(), BrokerError> {
        let shared = Arc::clone(&self.shared);
        let t = &shared.target;
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&t.group)
            .arg(&t.consumer)
            .arg("COUNT")
            .arg(permits.len())
            .arg("BLOCK")
            .arg(millis(self.claim_every).max(1))
            .arg("STREAMS")
            .arg(&t.key)
            .arg(">");
        let reply: Option<StreamReadReply> = self.query("reading messages", &cmd).await?;
        for key in reply.into_iter().flat_map(|r| r.keys) {
            for entry in key.ids {
                // The read never brings more than there are permits.
                let Some(permit) = permits.pop() else { break };
                self.deliver(entry, 1, permit);
            }
        }
        Ok(())
    }

    async fn query<T: redis::FromRedisValue>(
        &mut self,
        what: &str,
        cmd: &redis::Cmd,
    ) -> Result<T, BrokerError> {
        cmd.query_async(&mut self.reader)
            .await
            .map_err(|e| engine_error(what, e))
    }

    fn deliver(&self, entry: StreamId, attempt: u32, permit: OwnedSemaphorePermit) {
        let message = from_fields(&self.shared.target.topic, &entry.id, entry.map);
        let key = self.shared.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.shared.unsettled).insert(key, entry.id);
        let delivery = Delivery::new(
            message,
            attempt,
            Settle {
                shared: Arc::clone(&self.shared),
                key,
                _permit: permit,
            },
        );
        // A closed channel: the subscription is ending, and the hand-back takes it.
        let _ = self.tx.send(Ok(delivery));
    }

    /// After a failure: a new connection (the old one may be gone), and the group made again
    /// if it went away (the key deleted, the server restarted without its data).
    async fn recover(&mut self) {
        let broker = &self.shared.broker;
        let timeout = Duration::from_secs(10) + BLOCK_LIMIT;
        if let Ok(conn) = broker.inner.connection(timeout).await {
            self.reader = conn;
        }
        self.own_cursor = Some("0".to_owned());
        let t = &self.shared.target;
        let _ = broker.ensure_group(&t.key, &t.group).await;
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
}

/// Settles one delivery with Redis.
struct Settle {
    shared: Arc<Shared>,
    key: u64,
    /// Room under `max_in_flight`, given back when this is settled or dropped.
    _permit: OwnedSemaphorePermit,
}

impl Acknowledge for Settle {
    fn ack(self: Box<Self>) -> BoxFuture<'static, Result<(), BrokerError>> {
        let id = self.shared.take(self.key);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            // Gone: the subscription ended and handed it back already.
            let Some(id) = id else { return Ok(()) };
            let t = &shared.target;
            let mut cmd = redis::cmd("XACK");
            cmd.arg(&t.key).arg(&t.group).arg(&id);
            let _: i64 = shared.broker.query("acknowledging", &cmd).await?;
            Ok(())
        })
    }

    fn nack(self: Box<Self>, delay: Duration) -> BoxFuture<'static, Result<(), BrokerError>> {
        let id = self.shared.take(self.key);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let Some(id) = id else { return Ok(()) };
            shared.nack(id, delay).await
        })
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        // Dropped unsettled: it stays pending and is claimed after ack_wait. Forget it so the
        // map does not grow, unless the subscription is ending: then the hand-back takes it.
        if !self.shared.ending.load(Ordering::SeqCst) {
            self.shared.take(self.key);
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
