//! The NATS broker: topics are NATS subjects, and delivery goes through JetStream, so it is
//! at least once and survives restarts of subscribers and of the server.
//!
//! How rookery's model maps onto NATS:
//! - **a stream per topic** (`ROOKERY_<topic>`, made on first use) captures the topic's
//!   subject, on disk, with *interest* retention: a message is kept until every consumer of
//!   the topic has acknowledged it, and one published while nobody subscribes goes nowhere;
//! - **fan-out**: each plain subscriber (no queue group, no durable name) has its own
//!   ephemeral consumer, deleted when it unsubscribes (or by the server soon after it
//!   vanished);
//! - **queue groups and durable names**: the members of a group share one durable consumer
//!   named after the durable name, else the group, so each message goes to one member;
//!   JetStream keeps its position and its unacknowledged messages while no member runs
//!   (a group without a durable name is dropped an hour after its last member left,
//!   [`NatsBuilder::group_idle`]);
//! - **acknowledgements**: explicit; `ack_wait` is the consumer's, so a delivery left unsettled
//!   (its subscriber killed mid-message) is delivered again to a member of its group after
//!   it; a nack redelivers after its delay (`-NAK` with a delay); ending a subscription hands
//!   its unsettled deliveries back at once; an ack waits for the server's confirmation;
//! - **attempts**: JetStream counts deliveries ([`Delivery::attempt`](crate::Delivery::attempt));
//!   the consumer's `max_deliver` is `max_attempts + 1`, so the handler runner sees a message
//!   nobody acknowledged `max_attempts` times (and dead-letters it), and the server stops
//!   there;
//! - **`max_in_flight`**: each subscription pulls no more messages than it has room for;
//! - **headers** are NATS headers (trace context travels as it is); binary headers travel
//!   base64-encoded as `rookery-bin-<name>`; the message id is `Nats-Msg-Id`, so JetStream
//!   drops a duplicate publish of the same id (within its two-minute window).
//!
//! Topics are exact: `*` and `>` (NATS wildcards) are refused. Messages over
//! `max_message_size` (at most the server's `max_payload`) are refused at publish.
//!
//! ```no_run
//! use rookery_broker::{Broker, Message, SubscribeOptions, nats::Nats};
//!
//! # async fn demo() -> Result<(), rookery_broker::BrokerError> {
//! let broker = Nats::connect("nats://127.0.0.1:4222").await?;
//! let mut workers = broker
//!     .subscribe("orders", SubscribeOptions::new().queue_group("workers"))
//!     .await?;
//! broker.publish(Message::new("orders", "order 1")).await?;
//! let delivery = workers.next().await.expect("subscribed")?;
//! delivery.ack().await?;
//! # Ok(())
//! # }
//! ```

mod broker;
mod names;
mod subscription;
#[cfg(test)]
mod tests;

pub use broker::{DEFAULT_GROUP_IDLE, DEFAULT_STREAM_PREFIX, Nats, NatsBuilder};
