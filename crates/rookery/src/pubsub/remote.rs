//! A broker served to other processes over rookery's own RPC: [`BrokerServer`] serves one
//! (the embedded broker of the standalone registry, say) and [`RemoteBroker`] reaches it, so
//! that processes on one machine publish and subscribe with nothing installed.
//!
//! Subscriptions live in the serving process; a remote subscriber pulls its deliveries with
//! long polls (`fetch`) and settles each by a token. A subscriber that stops polling for the
//! server's lease (a process killed) loses its subscription, and the broker hands the
//! deliveries it had not settled to another member of its group: nothing unacknowledged is
//! lost. What the served broker does not keep across a restart (the embedded one keeps
//! nothing), a restart of the serving process loses.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    task::Poll,
    time::Duration,
};

use bytes::Bytes;
use faststr::FastStr;
use rookery_broker::{
    AckMode, Acker, Acknowledge, Backoff, Broker, BrokerError, BrokerErrorKind, Delivery, Message,
    SubscribeOptions, Subscription, SubscriptionSource,
};
use rookery_core::{BoxFuture, Code, Context, Metadata, Status};
use serde::{Deserialize, Serialize};
use tokio::{sync::mpsc, time::Instant};

/// A message on the wire.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireMessage {
    /// [`Message::id`].
    pub id: String,
    /// [`Message::topic`].
    pub topic: String,
    /// The string headers ([`Message::headers`]; binary ones do not travel).
    pub headers: Vec<(String, String)>,
    /// [`Message::payload`].
    pub payload: Vec<u8>,
}

impl WireMessage {
    fn from_message(message: &Message) -> WireMessage {
        WireMessage {
            id: message.id.to_string(),
            topic: message.topic.to_string(),
            headers: message
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            payload: message.payload.to_vec(),
        }
    }

    fn into_message(self) -> Message {
        let mut headers = Metadata::new();
        for (k, v) in self.headers {
            headers.insert(k, v);
        }
        Message {
            id: self.id.into(),
            topic: self.topic.into(),
            headers,
            payload: Bytes::from(self.payload),
        }
    }
}

/// [`SubscribeOptions`] on the wire (durations in milliseconds).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireOptions {
    /// [`SubscribeOptions::queue_group`].
    pub queue_group: Option<String>,
    /// Whether acknowledgements are manual ([`AckMode::Manual`]).
    pub manual_ack: bool,
    /// [`SubscribeOptions::max_in_flight`].
    pub max_in_flight: u64,
    /// [`SubscribeOptions::durable`].
    pub durable: Option<String>,
    /// [`SubscribeOptions::ack_wait`], in milliseconds.
    pub ack_wait_ms: u64,
    /// [`SubscribeOptions::max_attempts`].
    pub max_attempts: u32,
    /// [`Backoff::initial`], in milliseconds.
    pub backoff_initial_ms: u64,
    /// [`Backoff::max`], in milliseconds.
    pub backoff_max_ms: u64,
    /// [`Backoff::multiplier`].
    pub backoff_multiplier: f64,
    /// [`SubscribeOptions::dead_letter_topic`].
    pub dead_letter_topic: Option<String>,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl WireOptions {
    fn from_options(o: &SubscribeOptions) -> WireOptions {
        WireOptions {
            queue_group: o.queue_group.as_ref().map(|g| g.to_string()),
            manual_ack: o.ack_mode == AckMode::Manual,
            max_in_flight: o.max_in_flight as u64,
            durable: o.durable.as_ref().map(|d| d.to_string()),
            ack_wait_ms: millis(o.ack_wait),
            max_attempts: o.max_attempts,
            backoff_initial_ms: millis(o.backoff.initial),
            backoff_max_ms: millis(o.backoff.max),
            backoff_multiplier: o.backoff.multiplier,
            dead_letter_topic: o.dead_letter_topic.as_ref().map(|t| t.to_string()),
        }
    }

    fn into_options(self) -> SubscribeOptions {
        SubscribeOptions {
            queue_group: self.queue_group.map(FastStr::from),
            ack_mode: if self.manual_ack {
                AckMode::Manual
            } else {
                AckMode::Auto
            },
            max_in_flight: usize::try_from(self.max_in_flight).unwrap_or(usize::MAX),
            durable: self.durable.map(FastStr::from),
            ack_wait: Duration::from_millis(self.ack_wait_ms),
            max_attempts: self.max_attempts,
            backoff: Backoff {
                initial: Duration::from_millis(self.backoff_initial_ms),
                max: Duration::from_millis(self.backoff_max_ms),
                multiplier: self.backoff_multiplier,
            },
            dead_letter_topic: self.dead_letter_topic.map(FastStr::from),
        }
    }
}

/// One delivery on the wire: the message, which delivery of it this is, and the token that
/// settles it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireDelivery {
    /// Settles this delivery (`settle`).
    pub token: u64,
    /// Which delivery of the message this is (1 for the first).
    pub attempt: u32,
    /// The message.
    pub message: WireMessage,
}

/// The broker as served over RPC.
#[crate::service]
pub trait BrokerRpc {
    /// Publishes a message.
    async fn publish(&self, message: WireMessage) -> Result<(), Status>;
    /// Subscribes; returns the subscription's id, for `fetch`, `settle` and `unsubscribe`.
    async fn subscribe(&self, topic: String, options: WireOptions) -> Result<u64, Status>;
    /// Up to `max` deliveries, waiting up to `wait_ms` for the first (long poll).
    async fn fetch(&self, sub: u64, max: u32, wait_ms: u64) -> Result<Vec<WireDelivery>, Status>;
    /// Acknowledges a delivery, or (`ack` false) has it delivered again after `delay_ms`.
    async fn settle(&self, sub: u64, token: u64, ack: bool, delay_ms: u64) -> Result<(), Status>;
    /// Ends a subscription; what it had not settled goes back to the broker.
    async fn unsubscribe(&self, sub: u64) -> Result<(), Status>;
    /// The broker's largest message, in bytes.
    async fn max_message_size(&self) -> Result<u64, Status>;
}

/// The status a broker error travels as, and back.
fn to_status(e: BrokerError) -> Status {
    let code = match e.kind() {
        BrokerErrorKind::Unavailable => Code::Unavailable,
        BrokerErrorKind::Closed => Code::FailedPrecondition,
        BrokerErrorKind::TooLarge => Code::ResourceExhausted,
        BrokerErrorKind::Invalid => Code::InvalidArgument,
        BrokerErrorKind::Unsupported => Code::Unimplemented,
        _ => Code::Unknown,
    };
    Status::new(code, e.message().to_string())
}

fn from_status(s: Status) -> BrokerError {
    let kind = match s.code() {
        Code::FailedPrecondition | Code::NotFound => BrokerErrorKind::Closed,
        Code::ResourceExhausted => BrokerErrorKind::TooLarge,
        Code::InvalidArgument => BrokerErrorKind::Invalid,
        Code::Unimplemented => BrokerErrorKind::Unsupported,
        _ => BrokerErrorKind::Unavailable,
    };
    BrokerError::new(kind, format!("remote broker: {}", s.message()))
}

/// A subscription held for a remote subscriber.
struct Held {
    subscription: tokio::sync::Mutex<Option<Subscription>>,
    /// The deliveries handed out and not settled, by token.
    pending: Mutex<HashMap<u64, Acker>>,
    /// When the subscriber was last heard of (a fetch started or ended).
    seen: Mutex<Instant>,
    /// Set when the subscription ends, so that a fetch waiting on it returns at once rather
    /// than holding the unsubscribe up for its long poll.
    ended: tokio::sync::watch::Sender<bool>,
}

impl Held {
    fn touch(&self) {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }
}

struct State {
    broker: Arc<dyn Broker>,
    subs: Mutex<HashMap<u64, Arc<Held>>>,
    next: AtomicU64,
    lease: Duration,
    max_wait: Duration,
    reaper: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Set when the server stops: fetches waiting return, so they do not hold the drain up.
    stopping: tokio::sync::watch::Sender<bool>,
}

impl Drop for State {
    fn drop(&mut self) {
        if let Some(reaper) = self.reaper.get_mut().ok().and_then(Option::take) {
            reaper.abort();
        }
    }
}

/// Serves a [`Broker`] to other processes: add [`BrokerServer::service`] to a router beside
/// the others (the standalone registry serves its embedded broker so); clients reach it with
/// [`RemoteBroker`].
#[derive(Clone)]
pub struct BrokerServer {
    state: Arc<State>,
}

impl std::fmt::Debug for BrokerServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerServer")
            .field("lease", &self.state.lease)
            .finish_non_exhaustive()
    }
}

impl BrokerServer {
    /// The longest a `fetch` waits, whatever the caller asks.
    pub const MAX_WAIT: Duration = Duration::from_secs(10);
    /// How long a subscription lives without a `fetch` from its subscriber, by default.
    pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

    /// Serves `broker`.
    pub fn new(broker: Arc<dyn Broker>) -> BrokerServer {
        BrokerServer::with_lease(broker, Self::DEFAULT_LEASE)
    }

    /// Serves `broker`, ending the subscriptions whose subscriber has not polled for `lease`
    /// (at least twice the longest fetch, so a waiting subscriber never loses its own).
    pub fn with_lease(broker: Arc<dyn Broker>, lease: Duration) -> BrokerServer {
        let max_wait = Self::MAX_WAIT.min(lease / 3).max(Duration::from_millis(10));
        BrokerServer {
            state: Arc::new(State {
                broker,
                subs: Mutex::new(HashMap::new()),
                next: AtomicU64::new(1),
                lease,
                max_wait,
                reaper: Mutex::new(None),
                stopping: tokio::sync::watch::channel(false).0,
            }),
        }
    }

    /// The RPC service to add to a router.
    pub fn service(&self) -> BrokerRpcServer<BrokerServer> {
        BrokerRpcServer::new(self.clone())
    }

    /// Ends the fetches waiting for a message, and answers later ones at once, with
    /// `UNAVAILABLE`: call it when the serving process starts to drain, so that long polls do
    /// not hold the drain up. Subscribers poll again until the server is back. Clones share
    /// this.
    pub fn stop_fetches(&self) {
        self.state.stopping.send_replace(true);
    }

    fn held(&self, sub: u64) -> Result<Arc<Held>, Status> {
        self.state
            .subs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&sub)
            .cloned()
            .ok_or_else(|| Status::new(Code::NotFound, format!("no subscription {sub}")))
    }

    /// Ends the subscriptions nobody polls, so a dead subscriber's deliveries go to others.
    fn start_reaper(&self) {
        let mut reaper = self.state.reaper.lock().unwrap_or_else(|e| e.into_inner());
        if reaper.is_some() {
            return;
        }
        let state = Arc::downgrade(&self.state);
        let every = self.state.lease / 4;
        *reaper = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(state) = state.upgrade() else { return };
                let expired: Vec<_> = {
                    let mut subs = state.subs.lock().unwrap_or_else(|e| e.into_inner());
                    let dead: Vec<u64> = subs
                        .iter()
                        .filter(|(_, h)| {
                            h.seen.lock().unwrap_or_else(|e| e.into_inner()).elapsed() > state.lease
                        })
                        .map(|(id, _)| *id)
                        .collect();
                    dead.into_iter().filter_map(|id| subs.remove(&id)).collect()
                };
                for held in expired {
                    tracing::info!("a remote subscriber went silent: its subscription ends");
                    end(held).await;
                }
            }
        }));
    }
}

/// Ends a held subscription: unsettled deliveries are dropped, which hands them back.
async fn end(held: Arc<Held>) {
    held.ended.send_replace(true);
    held.pending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    if let Some(subscription) = held.subscription.lock().await.take() {
        let _ = subscription.unsubscribe().await;
    }
}

impl BrokerRpc for BrokerServer {
    async fn publish(&self, message: WireMessage) -> Result<(), Status> {
        self.state
            .broker
            .publish(message.into_message())
            .await
            .map_err(to_status)
    }

    async fn subscribe(&self, topic: String, options: WireOptions) -> Result<u64, Status> {
        let subscription = self
            .state
            .broker
            .subscribe(&topic, options.into_options())
            .await
            .map_err(to_status)?;
        let id = self.state.next.fetch_add(1, Ordering::Relaxed);
        let held = Arc::new(Held {
            subscription: tokio::sync::Mutex::new(Some(subscription)),
            pending: Mutex::new(HashMap::new()),
            seen: Mutex::new(Instant::now()),
            ended: tokio::sync::watch::channel(false).0,
        });
        self.state
            .subs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, held);
        self.start_reaper();
        Ok(id)
    }

    async fn fetch(&self, sub: u64, max: u32, wait_ms: u64) -> Result<Vec<WireDelivery>, Status> {
        let mut stopping = self.state.stopping.subscribe();
        if *stopping.borrow() {
            return Err(Status::new(
                Code::Unavailable,
                "the broker server is stopping",
            ));
        }
        let held = self.held(sub)?;
        held.touch();
        let wait = Duration::from_millis(wait_ms).min(self.state.max_wait);
        let mut out = Vec::new();
        let mut ended = held.ended.subscribe();
        {
            let mut guard = held.subscription.lock().await;
            let Some(subscription) = guard.as_mut() else {
                return Err(Status::new(
                    Code::NotFound,
                    format!("subscription {sub} ended"),
                ));
            };
            let mut first = true;
            while out.len() < max.max(1) as usize {
                // The first waits; the rest take only what is ready.
                let limit = if first { wait } else { Duration::ZERO };
                first = false;
                let next = tokio::select! {
                    next = tokio::time::timeout(limit, subscription.next()) => next,
                    _ = ended.wait_for(|ended| *ended) => break,
                    _ = stopping.wait_for(|stopping| *stopping) => break,
                };
                match next {
                    Err(_) => break,
                    Ok(None) => {
                        if out.is_empty() {
                            return Err(Status::new(
                                Code::FailedPrecondition,
                                "the broker closed the subscription",
                            ));
                        }
                        break;
                    }
                    Ok(Some(Err(e))) => {
                        if out.is_empty() {
                            return Err(to_status(e));
                        }
                        break;
                    }
                    Ok(Some(Ok(delivery))) => {
                        let (message, attempt, acker) = delivery.into_parts();
                        let token = self.state.next.fetch_add(1, Ordering::Relaxed);
                        held.pending
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(token, acker);
                        out.push(WireDelivery {
                            token,
                            attempt,
                            message: WireMessage::from_message(&message),
                        });
                    }
                }
            }
        }
        held.touch();
        Ok(out)
    }

    async fn settle(&self, sub: u64, token: u64, ack: bool, delay_ms: u64) -> Result<(), Status> {
        let held = self.held(sub)?;
        held.touch();
        let acker = held
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&token)
            .ok_or_else(|| {
                Status::new(
                    Code::NotFound,
                    format!("delivery {token} is settled already or was handed back"),
                )
            })?;
        let settled = if ack {
            acker.ack().await
        } else {
            acker.nack(Duration::from_millis(delay_ms)).await
        };
        settled.map_err(to_status)
    }

    async fn unsubscribe(&self, sub: u64) -> Result<(), Status> {
        let held = self
            .state
            .subs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&sub);
        if let Some(held) = held {
            end(held).await;
        }
        Ok(())
    }

    async fn max_message_size(&self) -> Result<u64, Status> {
        Ok(self.state.broker.max_message_size() as u64)
    }
}

type Rpc = BrokerRpcClient<rookery_transport::Client>;

/// A [`Broker`] served by another process's [`BrokerServer`]: `rookery://HOST:PORT` to
/// [`from_url`].
#[derive(Clone)]
pub struct RemoteBroker {
    rpc: Rpc,
    max_message_size: usize,
}

impl std::fmt::Debug for RemoteBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteBroker")
            .field("max_message_size", &self.max_message_size)
            .finish_non_exhaustive()
    }
}

/// How long a subscriber's fetch waits for a message.
const FETCH_WAIT: Duration = Duration::from_secs(5);

impl RemoteBroker {
    /// Connects to the broker served at `addr` (`HOST:PORT`).
    pub async fn connect(addr: &str) -> Result<RemoteBroker, BrokerError> {
        let address: rookery_transport::Address = addr
            .parse()
            .map_err(|e| BrokerError::invalid(format!("broker address {addr:?}: {e}")))?;
        let transport = rookery_transport::Client::builder(address)
            // Longer than a fetch's long poll.
            .timeout(FETCH_WAIT + Duration::from_secs(10))
            .build();
        let rpc = BrokerRpcClient::new(transport);
        let max = rpc
            .max_message_size(&mut Context::new())
            .await
            .map_err(from_status)?;
        Ok(RemoteBroker {
            rpc,
            max_message_size: usize::try_from(max).unwrap_or(usize::MAX),
        })
    }
}

impl Broker for RemoteBroker {
    fn publish(&self, message: Message) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            let size = message.payload.len()
                + message
                    .headers
                    .iter()
                    .map(|(k, v)| k.len() + v.len())
                    .sum::<usize>();
            if size > self.max_message_size {
                return Err(BrokerError::too_large(
                    &message.topic,
                    size,
                    self.max_message_size,
                ));
            }
            self.rpc
                .publish(&mut Context::new(), WireMessage::from_message(&message))
                .await
                .map_err(from_status)
        })
    }

    fn subscribe<'a>(
        &'a self,
        topic: &'a str,
        options: SubscribeOptions,
    ) -> BoxFuture<'a, Result<Subscription, BrokerError>> {
        Box::pin(async move {
            let id = self
                .rpc
                .subscribe(
                    &mut Context::new(),
                    topic.to_string(),
                    WireOptions::from_options(&options),
                )
                .await
                .map_err(from_status)?;
            let (tx, rx) = mpsc::channel(options.effective_max_in_flight());
            let rpc = self.rpc.clone();
            let pull = tokio::spawn(pull(rpc.clone(), id, options.effective_max_in_flight(), tx));
            let source = RemoteSource { rpc, id, rx, pull };
            Ok(Subscription::new(
                FastStr::from(topic.to_string()),
                options,
                source,
            ))
        })
    }

    fn close(&self) -> BoxFuture<'_, Result<(), BrokerError>> {
        // The served broker is the serving process's; closing a client closes nothing there.
        Box::pin(async { Ok(()) })
    }

    fn max_message_size(&self) -> usize {
        self.max_message_size
    }
}

/// Long-polls the server for a subscription's deliveries, until the subscription ends.
async fn pull(rpc: Rpc, id: u64, max: usize, tx: mpsc::Sender<Result<Delivery, BrokerError>>) {
    let max = u32::try_from(max).unwrap_or(u32::MAX);
    loop {
        let fetched = rpc
            .fetch(&mut Context::new(), id, max, millis(FETCH_WAIT))
            .await;
        match fetched {
            Ok(deliveries) => {
                for d in deliveries {
                    let acker = RemoteAck {
                        rpc: rpc.clone(),
                        sub: id,
                        token: d.token,
                    };
                    let delivery = Delivery::new(d.message.into_message(), d.attempt, acker);
                    if tx.send(Ok(delivery)).await.is_err() {
                        return;
                    }
                }
            }
            Err(status) if matches!(status.code(), Code::NotFound | Code::FailedPrecondition) => {
                // The subscription is gone (the server forgot it, or the broker closed it).
                let _ = tx.send(Err(from_status(status))).await;
                return;
            }
            Err(status) => {
                tracing::warn!(error = %status, "fetching from the remote broker; trying again");
                if tx.is_closed() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

struct RemoteSource {
    rpc: Rpc,
    id: u64,
    rx: mpsc::Receiver<Result<Delivery, BrokerError>>,
    pull: tokio::task::JoinHandle<()>,
}

impl Drop for RemoteSource {
    fn drop(&mut self) {
        // Dropped without unsubscribing (a crash): the server's lease ends the subscription.
        self.pull.abort();
    }
}

impl SubscriptionSource for RemoteSource {
    fn poll_next(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<Delivery, BrokerError>>> {
        self.rx.poll_recv(cx)
    }

    fn unsubscribe(self: Box<Self>) -> BoxFuture<'static, Result<(), BrokerError>> {
        self.pull.abort();
        let (rpc, id) = (self.rpc.clone(), self.id);
        Box::pin(async move {
            rpc.unsubscribe(&mut Context::new(), id)
                .await
                .map_err(from_status)
        })
    }
}

struct RemoteAck {
    rpc: Rpc,
    sub: u64,
    token: u64,
}

impl Acknowledge for RemoteAck {
    fn ack(self: Box<Self>) -> BoxFuture<'static, Result<(), BrokerError>> {
        Box::pin(async move {
            self.rpc
                .settle(&mut Context::new(), self.sub, self.token, true, 0)
                .await
                .map_err(from_status)
        })
    }

    fn nack(self: Box<Self>, delay: Duration) -> BoxFuture<'static, Result<(), BrokerError>> {
        Box::pin(async move {
            self.rpc
                .settle(
                    &mut Context::new(),
                    self.sub,
                    self.token,
                    false,
                    millis(delay),
                )
                .await
                .map_err(from_status)
        })
    }
}

/// The broker a URL names: `rookery://HOST:PORT` is a [`BrokerServer`] reached over RPC
/// ([`RemoteBroker`]); anything else is [`rookery_broker::from_url`]'s.
pub async fn from_url(url: &str) -> Result<Arc<dyn Broker>, BrokerError> {
    match url.strip_prefix("rookery://") {
        Some(addr) => Ok(Arc::new(RemoteBroker::connect(addr).await?)),
        None => rookery_broker::from_url(url).await,
    }
}

/// The broker `ROOKERY_BROKER` names ([`from_url`]), or the embedded one of this process.
pub async fn from_env() -> Result<Arc<dyn Broker>, BrokerError> {
    match std::env::var(rookery_broker::ENV_VAR) {
        Ok(url) if !url.trim().is_empty() => from_url(url.trim()).await,
        _ => rookery_broker::from_env().await,
    }
}
