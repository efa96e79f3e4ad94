//! Pub/sub for rookery: services talk asynchronously through a [`Broker`].
//!
//! - [`Message`]: an id, a topic, headers ([`rookery_core::Metadata`]: trace context and any
//!   other metadata travel here) and an opaque payload.
//! - [`Broker`]: publish to a topic; subscribe with [`SubscribeOptions`] — a queue group (each
//!   message goes to one member; without a group every subscriber gets every message), an
//!   [`AckMode`], a bound on the messages in flight, a durable name, the ack wait, and how
//!   failures are retried and dead-lettered. A message larger than the broker's
//!   `max_message_size` is refused at publish with a clear error.
//! - [`Subscription`]: a stream of [`Delivery`]s; each is acknowledged, nacked (delivered again
//!   after a delay), or left unsettled and delivered again after the ack wait or when its
//!   subscriber goes away. Nothing unacknowledged is lost.
//! - [`Subscriber`]: runs a [`Handler`] over a subscription with typed messages (any
//!   `rookery_codec::Codec`: JSON with feature `json`, Protobuf with `protobuf`, Thrift):
//!   acknowledged when the handler returns `Ok`, delivered again with exponential backoff when
//!   it fails or times out, and published to a dead-letter topic (`<topic>.dlq`) with the reason
//!   in its headers after `max_attempts`, or at once when the payload does not decode.
//!
//! Backends, sibling modules with the same file set, chosen in code or by `ROOKERY_BROKER`
//! ([`from_env`]): [`embedded`] (in this process; the default), `nats` (feature `nats`:
//! JetStream) and `redis` (feature `redis`: Redis Streams with consumer groups).
//!
//! ```
//! use rookery_broker::{Broker, Message, SubscribeOptions};
//!
//! async fn demo(broker: &dyn Broker) -> Result<(), rookery_broker::BrokerError> {
//!     let options = SubscribeOptions::new().queue_group("workers").max_in_flight(16);
//!     let mut orders = broker.subscribe("orders.created", options).await?;
//!     broker
//!         .publish(Message::new("orders.created", r#"{"id":7}"#).with_header("tenant", "acme"))
//!         .await?;
//!     if let Some(delivery) = orders.next().await {
//!         let delivery = delivery?;
//!         assert_eq!(delivery.message().headers.get("tenant"), Some("acme"));
//!         delivery.ack().await?;
//!     }
//!     orders.unsubscribe().await
//! }
//! ```

mod broker;
#[cfg(feature = "conformance")]
pub mod conformance;
mod delivery;
pub mod embedded;
mod error;
mod handler;
mod message;
#[cfg(feature = "nats")]
pub mod nats;
mod options;
#[cfg(feature = "redis")]
pub mod redis;
pub mod runner;

pub use broker::{Broker, Subscription, SubscriptionSource};
pub use delivery::{Acker, Acknowledge, Delivery};
pub use error::{BrokerError, BrokerErrorKind};
pub use handler::{Handler, HandlerError, Incoming};
pub use message::{DEFAULT_MAX_MESSAGE_SIZE, Message, headers, new_message_id, validate_topic};
pub use options::{AckMode, Backoff, SubscribeOptions};
pub use runner::{RawBytes, Serving, Subscriber};

/// The environment variable that chooses the broker backend.
pub const ENV_VAR: &str = "ROOKERY_BROKER";

/// The broker `ROOKERY_BROKER` names (see [`from_url`]), or the embedded one of this process
/// when it is not set.
pub async fn from_env() -> Result<std::sync::Arc<dyn Broker>, BrokerError> {
    match std::env::var(ENV_VAR) {
        Ok(url) if !url.trim().is_empty() => from_url(url.trim()).await,
        _ => Ok(embedded::Embedded::global()),
    }
}

/// The broker a URL names: `embedded` (or `embedded://`) is the broker of this process
/// ([`embedded::Embedded::global`]); `nats://host:port` connects to NATS (with the `nats`
/// feature); `redis://host:port[/db]` connects to Redis (with the `redis` feature). Other schemes name the engines of backends that are not
/// built in, and fail with a clear error.
pub async fn from_url(url: &str) -> Result<std::sync::Arc<dyn Broker>, BrokerError> {
    if url == "embedded" || url == "embedded://" {
        return Ok(embedded::Embedded::global());
    }
    #[cfg(feature = "nats")]
    if url.starts_with("nats://") {
        return Ok(std::sync::Arc::new(nats::Nats::connect(url).await?));
    }
    #[cfg(feature = "redis")]
    if url.starts_with("redis://") {
        return Ok(std::sync::Arc::new(redis::Redis::connect(url).await?));
    }
    match url.split_once("://") {
        Some((scheme, _)) => Err(BrokerError::unsupported(format!(
            "broker {url:?}: no backend for {scheme}:// is built in (expected embedded; engines \
             come with their crate feature)"
        ))),
        None => Err(BrokerError::invalid(format!(
            "broker {url:?}: expected embedded or SCHEME://ADDRESS"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send<T: Send>(_: &T) {}
    fn send_sync<T: Send + Sync>() {}

    // Handlers run on a multi-threaded runtime: the futures users await must be `Send`, and a
    // `&Delivery` held across an await must be too.
    #[allow(dead_code, unreachable_code, clippy::diverging_sub_expression)]
    fn public_futures_are_send(broker: &dyn Broker, mut sub: Subscription, d: Delivery) {
        send_sync::<Delivery>();
        send_sync::<Message>();
        send::<Subscription>(&sub);
        send(&broker.publish(Message::new("t", "")));
        send(&broker.subscribe("t", SubscribeOptions::new()));
        send(&sub.next());
        send(&d.ack());
        send(&from_env());
    }

    #[tokio::test]
    async fn urls_name_backends() {
        let a = from_url("embedded").await.unwrap();
        let b = from_url("embedded://").await.unwrap();
        assert_eq!(a.max_message_size(), b.max_message_size());
        let err = from_url("kafka://localhost:9092").await.err().unwrap();
        assert_eq!(err.kind(), BrokerErrorKind::Unsupported);
        assert!(err.message().contains("kafka://"), "{err}");
        let err = from_url("localhost").await.err().unwrap();
        assert_eq!(err.kind(), BrokerErrorKind::Invalid);
    }
}
