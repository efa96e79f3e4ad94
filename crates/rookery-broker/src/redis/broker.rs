use std::{fmt, sync::Arc, time::Duration};

use redis::{AsyncConnectionConfig, aio::MultiplexedConnection};
use rookery_core::BoxFuture;
use tokio::sync::{Mutex, watch};

use super::{
    names::{consumer_name, own_group, shared_group, stream_key, to_fields},
    subscription::RedisSubscription,
};
use crate::{
    Broker, BrokerError, DEFAULT_MAX_MESSAGE_SIZE, Message, SubscribeOptions, Subscription,
    validate_topic,
};

/// The prefix of the stream keys rookery makes (`rookery:<topic>`), unless told otherwise.
pub const DEFAULT_KEY_PREFIX: &str = "rookery";

/// About how many entries a topic's stream keeps (`XADD ... MAXLEN ~`), unless told
/// otherwise: the oldest go first, read or not.
pub const DEFAULT_MAX_LEN: usize = 100_000;

/// How long a command may wait for its reply (a blocking read waits longer, see the
/// subscription).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`Broker`] on Redis Streams. Made with [`Redis::connect`] or [`Redis::builder`].
#[derive(Clone)]
pub struct Redis {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    client: redis::Client,
    /// The connection publishes and acknowledgements share; made again after it is lost.
    conn: Mutex<Option<MultiplexedConnection>>,
    key_prefix: String,
    max_message_size: usize,
    max_len: usize,
    /// Flips to `true` on close; every subscription watches it.
    pub(super) closed: watch::Sender<bool>,
}

/// How to connect a [`Redis`] broker.
#[derive(Clone, Debug)]
pub struct RedisBuilder {
    url: String,
    key_prefix: String,
    max_message_size: usize,
    max_len: usize,
}

impl Redis {
    /// Connects to the Redis server at `url` (`redis://host:port[/db]`) with the defaults.
    pub async fn connect(url: impl Into<String>) -> Result<Redis, BrokerError> {
        Redis::builder(url).connect().await
    }

    /// A builder for a broker on the Redis server at `url`.
    pub fn builder(url: impl Into<String>) -> RedisBuilder {
        RedisBuilder {
            url: url.into(),
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_len: DEFAULT_MAX_LEN,
        }
    }

    /// The redis client underneath, for what rookery does not wrap.
    pub fn client(&self) -> &redis::Client {
        &self.inner.client
    }

    /// The stream key that holds `topic`'s messages.
    pub fn stream_key(&self, topic: &str) -> String {
        stream_key(&self.inner.key_prefix, topic)
    }

    /// The shared connection (made again if the last one was lost).
    pub(super) async fn conn(&self) -> Result<MultiplexedConnection, BrokerError> {
        let mut slot = self.inner.conn.lock().await;
        if let Some(conn) = &*slot {
            return Ok(conn.clone());
        }
        let conn = self.inner.connection(RESPONSE_TIMEOUT).await?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// Runs `cmd` on the shared connection; a lost connection is dropped, so the next command
    /// makes a new one.
    pub(super) async fn query<T: redis::FromRedisValue>(
        &self,
        what: &str,
        cmd: &redis::Cmd,
    ) -> Result<T, BrokerError> {
        let mut conn = self.conn().await?;
        match cmd.query_async::<T>(&mut conn).await {
            Ok(v) => Ok(v),
            Err(e) => {
                if is_connection_lost(&e) {
                    self.inner.conn.lock().await.take();
                }
                Err(engine_error(what, e))
            }
        }
    }

    fn check_open(&self) -> Result<(), BrokerError> {
        if *self.inner.closed.borrow() {
            return Err(BrokerError::closed("the Redis broker is closed"));
        }
        Ok(())
    }

    async fn publish_message(&self, message: Message) -> Result<(), BrokerError> {
        self.check_open()?;
        message.check(self.inner.max_message_size)?;
        let mut cmd = redis::cmd("XADD");
        cmd.arg(self.stream_key(&message.topic))
            .arg("MAXLEN")
            .arg("~")
            .arg(self.inner.max_len)
            .arg("*");
        for (field, value) in to_fields(&message) {
            cmd.arg(field).arg(value.as_ref());
        }
        let _: String = self
            .query(&format!("publishing to {:?}", message.topic), &cmd)
            .await?;
        Ok(())
    }

    /// Makes the consumer group `group` of `key` at the stream's end (and the stream, if it
    /// does not exist yet); an existing group keeps its position.
    pub(super) async fn ensure_group(&self, key: &str, group: &str) -> Result<(), BrokerError> {
        let mut cmd = redis::cmd("XGROUP");
        cmd.arg("CREATE")
            .arg(key)
            .arg(group)
            .arg("$")
            .arg("MKSTREAM");
        let mut conn = self.conn().await?;
        match cmd.query_async::<()>(&mut conn).await {
            Ok(()) => Ok(()),
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            Err(e) => {
                if is_connection_lost(&e) {
                    self.inner.conn.lock().await.take();
                }
                Err(engine_error(
                    &format!("creating consumer group {group} of {key}"),
                    e,
                ))
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
        if options.ack_wait.is_zero() {
            return Err(BrokerError::invalid(
                "ack_wait must be above zero: every pending message would be claimed again at \
                 once, for ever",
            ));
        }
        let key = self.stream_key(topic);
        // One consumer group per durable name or queue group, shared by its members (so each
        // message goes to one of them); one of its own for a plain subscriber.
        let shared = options.durable.as_ref().or(options.queue_group.as_ref());
        let (group, own) = match shared {
            Some(name) => (shared_group(name), false),
            None => (own_group(), true),
        };
        self.ensure_group(&key, &group).await?;
        let reader = self
            .inner
            .connection(RESPONSE_TIMEOUT + super::subscription::BLOCK_LIMIT)
            .await?;
        let source = RedisSubscription::start(
            self.clone(),
            reader,
            super::subscription::Target {
                topic: faststr::FastStr::new(topic),
                key,
                group,
                consumer: consumer_name(),
                destroy_group_on_end: own,
            },
            &options,
        );
        Ok(Subscription::new(topic.to_owned(), options, source))
    }
}

impl Inner {
    /// A new connection whose commands wait up to `timeout` for their reply.
    pub(super) async fn connection(
        &self,
        timeout: Duration,
    ) -> Result<MultiplexedConnection, BrokerError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(timeout));
        self.client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| engine_error("connecting", e))
    }
}

impl RedisBuilder {
    /// Names the stream keys `<prefix>:<topic>` (default `rookery`), so that several
    /// applications can share a server.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Refuses messages over `bytes` at publish (default 1 MiB).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// About how many entries each topic's stream keeps (default 100 000): the bound of
    /// `XADD ... MAXLEN ~`. Older entries are trimmed whether or not every group has read
    /// them, so this must exceed what subscribers may fall behind by.
    pub fn max_len(mut self, entries: usize) -> Self {
        self.max_len = entries.max(1);
        self
    }

    /// Connects, and checks the server answers.
    pub async fn connect(self) -> Result<Redis, BrokerError> {
        let client = redis::Client::open(self.url.as_str())
            .map_err(|e| BrokerError::invalid(format!("Redis URL {:?}: {e}", self.url)))?;
        let redis = Redis {
            inner: Arc::new(Inner {
                client,
                conn: Mutex::new(None),
                key_prefix: self.key_prefix,
                max_message_size: self.max_message_size,
                max_len: self.max_len,
                closed: watch::Sender::new(false),
            }),
        };
        let _: String = redis
            .query(&format!("connecting to {}", self.url), &redis::cmd("PING"))
            .await?;
        Ok(redis)
    }
}

impl Broker for Redis {
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
            // Subscriptions see the flag, hand back their unsettled deliveries and end.
            self.inner.closed.send_replace(true);
            Ok(())
        })
    }

    fn max_message_size(&self) -> usize {
        self.inner.max_message_size
    }
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("key_prefix", &self.inner.key_prefix)
            .field("max_message_size", &self.inner.max_message_size)
            .field("max_len", &self.inner.max_len)
            .finish_non_exhaustive()
    }
}

/// Whether `e` means the connection is gone (so a new one is needed).
pub(super) fn is_connection_lost(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error() || e.is_timeout()
}

/// An engine failure: unavailable (trying again may work), with what was being done.
pub(super) fn engine_error(what: &str, e: impl fmt::Display) -> BrokerError {
    BrokerError::unavailable(format!("Redis: {what}: {e}"))
}
