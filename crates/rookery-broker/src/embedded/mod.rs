//! The embedded broker: topics, queue groups and acknowledgements in this process, with nothing
//! to install. The default backend.
//!
//! What it does, as every backend does:
//! - **fan-out**: each plain subscriber (no queue group) receives every message published to
//!   its topic after it subscribed;
//! - **queue groups**: each message goes to one member of the group, round robin among the
//!   members that have room under their `max_in_flight`;
//! - **acknowledgements**: a delivery is in flight until it is acked; a nack puts it back after
//!   its delay; one left unsettled past the subscription's `ack_wait` is delivered again; when a
//!   subscription goes away (unsubscribed or dropped) its unsettled deliveries go to another
//!   member of its group at once. Every redelivery raises the delivery's attempt number;
//! - **durable names**: a group with a durable name outlives its members: messages published
//!   while nobody listens wait for the next member with that name;
//! - **limits**: messages over `max_message_size` are refused at publish; a publish fails when
//!   a subscription of its topic already holds `max_pending` undelivered messages, so a
//!   subscriber that does not keep up is reported to the publisher instead of filling memory.
//!
//! What it does **not** do: survive a restart of the process that holds it. Its state, durable
//! groups and unacknowledged messages included, lives in memory and goes with the process.
//! Use an engine with storage (NATS JetStream) where messages must outlive the process.
//!
//! Topics match exactly (no `*` or `>` wildcards). A message published to a topic nobody
//! subscribes to goes nowhere, as in NATS.
//!
//! ```
//! use rookery_broker::{Broker, Message, SubscribeOptions, embedded::Embedded};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), rookery_broker::BrokerError> {
//! let broker = Embedded::new();
//! let mut audit = broker.subscribe("orders", SubscribeOptions::new()).await?;
//! broker.publish(Message::new("orders", "order 1")).await?;
//! let delivery = audit.next().await.expect("subscribed")?;
//! assert_eq!(delivery.message().payload, "order 1");
//! delivery.ack().await?;
//! # Ok(())
//! # }
//! ```

mod broker;
mod state;
mod subscription;
#[cfg(test)]
mod tests;

pub use broker::{DEFAULT_MAX_PENDING, Embedded, EmbeddedBuilder};
