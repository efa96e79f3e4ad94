//! The Redis broker: topics are Redis Streams, and delivery goes through consumer groups, so
//! it is at least once and survives restarts of subscribers (and of a server that persists
//! its data).
//!
//! How rookery's model maps onto Redis:
//! - **a stream per topic** (`rookery:<topic>`, [`RedisBuilder::key_prefix`]); `XADD` with
//!   `MAXLEN ~` bounds it ([`RedisBuilder::max_len`], default 100 000 entries): the oldest
//!   entries are trimmed whether or not every group has read them;
//! - **fan-out**: each plain subscriber (no queue group, no durable name) reads through a
//!   consumer group of its own, made at the stream's end when it subscribes and destroyed
//!   when it unsubscribes (one left behind by a process that died stays, idle, until removed
//!   by hand);
//! - **queue groups and durable names**: the members of a group share one consumer group
//!   named after the durable name, else the group (`g:<name>`), so each message goes to one
//!   member; Redis keeps its position and its pending entries while no member runs;
//! - **acknowledgements**: `XACK`; a delivery left unsettled stays in the group's pending
//!   entries, and once it has been idle for `ack_wait` (its subscriber killed mid-message, or
//!   the delivery dropped) the next member that looks claims it (`XAUTOCLAIM`, every quarter
//!   of `ack_wait`, at most every second); ending a subscription makes its unsettled entries
//!   claimable at once; a nack leaves the entry pending, made idle so that it is claimed
//!   after the nack's delay (a delay past `ack_wait` is kept this subscription's until then);
//! - **attempts**: Redis counts deliveries ([`Delivery::attempt`](crate::Delivery::attempt));
//!   an entry claimed more than `max_attempts + 1` times without being settled is
//!   acknowledged and dropped with a warning (the handler runner dead-letters at
//!   `max_attempts`), so a message every member crashes on cannot loop for ever;
//! - **a lost connection**: the subscription reports it (an `Err` item), connects again, and
//!   re-reads its own pending entries it never handed out (a read whose reply was lost with
//!   the connection), so they come at once rather than after `ack_wait`;
//! - **`max_in_flight`**: each subscription reads and claims no more entries than it has room
//!   for;
//! - **headers** are fields of the entry (`h:<name>`, binary ones `b:<name>` as they are),
//!   beside `id` and `payload`; an entry written by another client without an `id` field gets
//!   its entry id as the message id.
//!
//! Messages over `max_message_size` (default 1 MiB) are refused at publish. Each subscription
//! holds a connection of its own for its blocking reads.
//!
//! ```no_run
//! use rookery_broker::{Broker, Message, SubscribeOptions, redis::Redis};
//!
//! # async fn demo() -> Result<(), rookery_broker::BrokerError> {
//! let broker = Redis::connect("redis://127.0.0.1:6379").await?;
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

pub use broker::{DEFAULT_KEY_PREFIX, DEFAULT_MAX_LEN, Redis, RedisBuilder};
