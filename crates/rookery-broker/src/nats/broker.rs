use std::{
    collections::HashSet,
    fmt,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_nats::jetstream::{
    self,
    consumer::{AckPolicy, DeliverPolicy, pull},
    stream::{self, RetentionPolicy, StorageType},
};
use rookery_core::BoxFuture;
use tokio::sync::watch;

use super::{
    names::{engine_name, to_nats_headers},
    subscription::NatsSubscription,
};
use crate::{
    Broker, BrokerError, DEFAULT_MAX_MESSAGE_SIZE, Message, SubscribeOptions, Subscription,
    validate_topic,
};

/// The prefix of the streams rookery makes (`ROOKERY_<topic>`), unless told otherwise.
pub const DEFAULT_STREAM_PREFIX: &str = "ROOKERY";

/// How long a queue group's consumer outlives its last member when the group has no durable
/// name (a durable name keeps it for good).
pub const DEFAULT_GROUP_IDLE: Duration = Duration::from_secs(3600);

/// A [`Broker`] on NATS JetStream. Made with [`Nats::connect`] or [`Nats::builder`].
#[derive(Clone)]
pub struct Nats {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) client: async_nats::Client,
    pub(super) js: jetstream::Context,
    stream_prefix: String,
    max_message_size: usize,
    group_idle: Duration,
    /// Streams known to exist, so a publish costs one round trip, not two.
    streams: Mutex<HashSet<String>>,
    /// Flips to `true` on close; every subscription watches it.
    pub(super) closed: watch::Sender<bool>,
}

/// How to connect a [`Nats`] broker.
#[derive(Clone, Debug)]
pub struct NatsBuilder {
    url: String,
    stream_prefix: String,
    max_message_size: usize,
    group_idle: Duration,
}

impl Nats {
    /// Connects to the NATS server at `url` (`nats://host:port`, or `host:port`) with the
    /// defaults.
    pub async fn connect(url: impl Into<String>) -> Result<Nats, BrokerError> {
        Nats::builder(url).connect().await
    }

    /// A builder for a broker on the NATS server at `url`.
    pub fn builder(url: impl Into<String>) -> NatsBuilder {
        NatsBuilder {
            url: url.into(),
            stream_prefix: DEFAULT_STREAM_PREFIX.to_owned(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            group_idle: DEFAULT_GROUP_IDLE,
        }
    }

    /// The async-nats client underneath, for what rookery does not wrap.
    pub fn client(&self) -> &async_nats::Client {
        &self.inner.client
    }

    /// The JetStream stream that holds `topic`'s messages.
    pub fn stream_name(&self, topic: &str) -> String {
        engine_name(&self.inner.stream_prefix, topic)
    }

    /// Makes sure the stream for `topic` exists: one stream per topic, holding a message
    /// until every consumer of the topic has acknowledged it (interest retention), on disk.
    pub(super) async fn ensure_stream(
        &self,
        topic: &str,
    ) -> Result<jetstream::stream::Stream, BrokerError> {
        let name = self.stream_name(topic);
        let config = stream::Config {
            name: name.clone(),
            subjects: vec![topic.to_owned()],
            retention: RetentionPolicy::Interest,
            storage: StorageType::File,
            max_message_size: i32::try_from(self.inner.max_message_size).unwrap_or(i32::MAX),
            ..Default::default()
        };
        let stream = self
            .inner
            .js
            .get_or_create_stream(config)
            .await
            .map_err(|e| {
                engine_error(
                    &format!("creating stream {name} for {topic:?} (is JetStream on, -js?)"),
                    e,
                )
            })?;
        lock(&self.inner.streams).insert(name);
        Ok(stream)
    }

    fn check_open(&self) -> Result<(), BrokerError> {
        if *self.inner.closed.borrow() {
            return Err(BrokerError::closed("the NATS broker is closed"));
        }
        Ok(())
    }

    async fn publish_message(&self, message: Message) -> Result<(), BrokerError> {
        self.check_open()?;
        message.check(self.inner.max_message_size)?;
        if is_wildcard(&message.topic) {
            return Err(BrokerError::invalid(format!(
                "cannot publish to {:?}: `*` and `>` are wildcards in NATS",
                message.topic
            )));
        }
        let headers = to_nats_headers(&message)?;
        let name = self.stream_name(&message.topic);
        if !lock(&self.inner.streams).contains(&name) {
            self.ensure_stream(&message.topic).await?;
        }
        let mut retried = false;
        loop {
            let sent = self
                .inner
                .js
                .publish_with_headers(
                    message.topic.to_string(),
                    headers.clone(),
                    message.payload.clone(),
                )
                .await;
            let acked = match sent {
                Ok(ack) => ack.await,
                Err(e) => return Err(engine_error("publishing", e)),
            };
            match acked {
                Ok(_) => return Ok(()),
                // The stream went away (deleted by an operator): make it again, once.
                Err(e)
                    if !retried
                        && e.kind() == jetstream::context::PublishErrorKind::StreamNotFound =>
                {
                    retried = true;
                    lock(&self.inner.streams).remove(&name);
                    self.ensure_stream(&message.topic).await?;
                }
                Err(e) => {
                    return Err(engine_error(
                        &format!("publishing to {:?}", message.topic),
                        e,
                    ));
                }
            }
        }
    }

    async fn subscribe_topic(
        &self,
        topic: &str,
        options: SubscribeOptions,
    ) -> Result<Subscription, BrokerError> {
        self.check_open()?;
        validate_topic(topic)?;
        if is_wildcard(topic) {
            return Err(BrokerError::unsupported(format!(
                "the NATS broker subscribes to exact topics; {topic:?} holds a wildcard"
            )));
        }
        let stream = self.ensure_stream(topic).await?;
        // One JetStream consumer per durable name or queue group, shared by its members (so
        // each message goes to one of them); one of its own for a plain subscriber.
        let shared = options.durable.as_ref().or(options.queue_group.as_ref());
        let max_attempts = options.effective_max_attempts();
        let mut config = pull::Config {
            ack_policy: AckPolicy::Explicit,
            ack_wait: options.ack_wait,
            // One delivery past max_attempts, so the runner sees a message nobody acknowledged
            // max_attempts times and dead-letters it; the server then stops, so a message
            // whose every subscriber crashes on it cannot loop for ever.
            max_deliver: i64::from(max_attempts).saturating_add(1),
            deliver_policy: DeliverPolicy::New,
            filter_subject: topic.to_owned(),
            ..Default::default()
        };
        let consumer_name = match shared {
            Some(name) => {
                let name = engine_name("G", name);
                config.durable_name = Some(name.clone());
                if options.durable.is_none() {
                    config.inactive_threshold = self.inner.group_idle;
                }
                Some(name)
            }
            None => {
                // An ephemeral consumer; deleted on unsubscribe, and by the server soon after
                // its subscriber vanished.
                config.inactive_threshold = options.ack_wait.max(Duration::from_secs(30));
                None
            }
        };
        let consumer = match &consumer_name {
            Some(name) => stream.get_or_create_consumer(name, config).await,
            None => stream.create_consumer(config).await,
        }
        .map_err(|e| engine_error(&format!("creating the consumer of {topic:?}"), e))?;
        let delete_on_end = consumer_name.is_none();
        let source = NatsSubscription::start(
            self.clone(),
            stream,
            consumer,
            delete_on_end,
            options.effective_max_in_flight(),
        );
        Ok(Subscription::new(topic.to_owned(), options, source))
    }
}

impl NatsBuilder {
    /// Names the streams `<prefix>_<topic>` (default `ROOKERY`), so that several
    /// applications can share a server.
    pub fn stream_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.stream_prefix = prefix.into();
        self
    }

    /// Refuses messages over `bytes` at publish (default 1 MiB; never more than the server's
    /// own `max_payload`).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// How long a queue group without a durable name keeps its consumer (and the messages
    /// waiting for it) after its last member left. Default one hour.
    pub fn group_idle(mut self, idle: Duration) -> Self {
        self.group_idle = idle;
        self
    }

    /// Connects. (A server without JetStream is reported by the first publish or subscribe,
    /// which make streams.)
    pub async fn connect(self) -> Result<Nats, BrokerError> {
        let client = async_nats::connect(self.url.as_str())
            .await
            .map_err(|e| engine_error(&format!("connecting to NATS at {}", self.url), e))?;
        let js = jetstream::new(client.clone());
        let server_max = client.server_info().max_payload;
        let max_message_size = if server_max > 0 {
            self.max_message_size.min(server_max)
        } else {
            self.max_message_size
        };
        Ok(Nats {
            inner: Arc::new(Inner {
                client,
                js,
                stream_prefix: self.stream_prefix,
                max_message_size,
                group_idle: self.group_idle,
                streams: Mutex::new(HashSet::new()),
                closed: watch::Sender::new(false),
            }),
        })
    }
}

impl Broker for Nats {
    fn publish(&self, message: Message) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(self.publish_message(message))
    }

    fn subscribe<'a>(
        &'a self,
        topic: &'a str,
        options: SubscribeOptions,
    ) -> BoxFuture<'a, Result<Subscription, BrokerError>> {
        Box::pin(self.subscribe_topic(topic, options))
    }

    fn close(&self) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            self.inner.closed.send_replace(true);
            // Subscriptions hand back their unsettled deliveries (nak) when they see the flag;
            // flushing sends those and any publish still buffered.
            tokio::task::yield_now().await;
            self.inner
                .client
                .flush()
                .await
                .map_err(|e| engine_error("flushing on close", e))
        })
    }

    fn max_message_size(&self) -> usize {
        self.inner.max_message_size
    }
}

impl fmt::Debug for Nats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nats")
            .field("stream_prefix", &self.inner.stream_prefix)
            .field("max_message_size", &self.inner.max_message_size)
            .finish_non_exhaustive()
    }
}

fn is_wildcard(topic: &str) -> bool {
    topic.split('.').any(|part| part == "*" || part == ">")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An engine failure: unavailable (trying again may work), with what was being done.
pub(super) fn engine_error(what: &str, e: impl fmt::Display) -> BrokerError {
    BrokerError::unavailable(format!("NATS: {what}: {e}"))
}
