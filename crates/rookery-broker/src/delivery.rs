use std::{fmt, time::Duration};

use rookery_core::BoxFuture;

use crate::{BrokerError, Message};

/// How a backend settles one delivery with its engine. Backends implement it; users call
/// [`Delivery::ack`] and [`Delivery::nack`] (or [`Acker`]'s, after
/// [`Delivery::into_parts`]).
///
/// Both methods consume the handle: a delivery is settled once. Settling a delivery whose
/// subscription has gone away (so the message was handed to another subscriber) must not fail
/// loudly nor disturb the new delivery: the engine has already moved on.
pub trait Acknowledge: Send + Sync + 'static {
    /// The message was processed: do not deliver it again.
    fn ack(self: Box<Self>) -> BoxFuture<'static, Result<(), BrokerError>>;

    /// The message was not processed: deliver it again after `delay` (to this subscriber or,
    /// in a queue group, to any member).
    fn nack(self: Box<Self>, delay: Duration) -> BoxFuture<'static, Result<(), BrokerError>>;
}

/// The right to settle one delivery: [`ack`](Acker::ack) or [`nack`](Acker::nack) it.
///
/// Dropping it unsettled leaves the message in flight: the broker delivers it again when the
/// subscription's `ack_wait` runs out, or when the subscription goes away. It is never lost,
/// and never acknowledged by accident (a subscriber killed mid-message must not lose it).
pub struct Acker {
    inner: Box<dyn Acknowledge>,
}

impl Acker {
    /// Wraps a backend's handle.
    pub fn new(inner: impl Acknowledge) -> Acker {
        Acker {
            inner: Box::new(inner),
        }
    }

    /// The message was processed: it will not be delivered again.
    pub async fn ack(self) -> Result<(), BrokerError> {
        self.inner.ack().await
    }

    /// The message was not processed: deliver it again after `delay`.
    pub async fn nack(self, delay: Duration) -> Result<(), BrokerError> {
        self.inner.nack(delay).await
    }
}

impl fmt::Debug for Acker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acker").finish_non_exhaustive()
    }
}

/// One delivery of a message to a subscription: the message, which attempt this is, and the
/// right to settle it.
///
/// Every delivery must be settled, in either [`AckMode`](crate::AckMode): acknowledged when
/// the message was processed, or nacked to have it delivered again. A delivery dropped
/// unsettled stays in flight until the subscription's `ack_wait` runs out or the subscription
/// goes away, and is then delivered again (with its attempt number raised).
#[derive(Debug)]
pub struct Delivery {
    message: Message,
    attempt: u32,
    acker: Acker,
}

impl Delivery {
    /// A delivery of `message`, the `attempt`-th (1 for the first), settled through `acker`.
    /// Backends make these.
    pub fn new(message: Message, attempt: u32, acker: impl Acknowledge) -> Delivery {
        Delivery {
            message,
            attempt: attempt.max(1),
            acker: Acker::new(acker),
        }
    }

    /// The message.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// Which delivery of the message this is: 1 for the first, higher after redeliveries (by
    /// nack, by `ack_wait`, or because a subscriber went away). Engines that do not count
    /// deliveries say 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The message was processed: it will not be delivered again.
    pub async fn ack(self) -> Result<(), BrokerError> {
        self.acker.ack().await
    }

    /// The message was not processed: deliver it again after `delay` (zero for at once).
    pub async fn nack(self, delay: Duration) -> Result<(), BrokerError> {
        self.acker.nack(delay).await
    }

    /// The message, the attempt number, and the right to settle it, apart: for code that hands
    /// the message on and settles later.
    pub fn into_parts(self) -> (Message, u32, Acker) {
        (self.message, self.attempt, self.acker)
    }
}
