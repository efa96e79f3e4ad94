use std::time::Duration;

use faststr::FastStr;

/// Who acknowledges a message when it is consumed through a handler (the
/// runner).
///
/// A [`Delivery`](crate::Delivery) read straight from a [`Subscription`](crate::Subscription)
/// is settled by its reader in both modes; the mode tells the handler runner whether to do it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AckMode {
    /// The runner acknowledges when the handler returns `Ok`, and has the message delivered
    /// again (with backoff) when it fails or times out.
    #[default]
    Auto,
    /// The handler acknowledges itself, when it chooses; the runner still has the message
    /// delivered again when the handler fails, unless the handler settled it first.
    Manual,
}

/// How long to wait before a failed message is delivered again: exponential, from `initial`,
/// multiplied by `multiplier` after each failure, never over `max`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// The delay after the first failure.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
    /// The factor between one delay and the next (1.0 for a constant delay).
    pub multiplier: f64,
}

impl Backoff {
    /// Exponential backoff from `initial`, doubling, never over `max`.
    pub fn exponential(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max,
            multiplier: 2.0,
        }
    }

    /// The same delay every time.
    pub fn constant(delay: Duration) -> Backoff {
        Backoff {
            initial: delay,
            max: delay,
            multiplier: 1.0,
        }
    }

    /// The delay before delivery `attempt + 1`, after delivery `attempt` (1-based) failed.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(64) as i32;
        let factor = self.multiplier.max(1.0).powi(exp);
        let secs = self.initial.as_secs_f64() * factor;
        if !secs.is_finite() || secs >= self.max.as_secs_f64() {
            self.max
        } else {
            Duration::from_secs_f64(secs)
        }
    }
}

impl Default for Backoff {
    /// 100 ms, doubling, up to 30 s.
    fn default() -> Backoff {
        Backoff::exponential(Duration::from_millis(100), Duration::from_secs(30))
    }
}

/// How a subscription receives messages. Made with [`SubscribeOptions::new`] and the builder
/// methods; the fields are public so that backends read them.
#[derive(Clone, Debug, PartialEq)]
pub struct SubscribeOptions {
    /// The queue group: each message goes to one member of the group. Without one, the
    /// subscription receives every message published to the topic.
    pub queue_group: Option<FastStr>,
    /// Who acknowledges when a handler consumes the subscription. Default [`AckMode::Auto`].
    pub ack_mode: AckMode,
    /// The most deliveries handed out and not yet settled; the broker holds back the rest.
    /// Default 64; 0 is read as 1.
    pub max_in_flight: usize,
    /// A name under which an engine with storage keeps the subscription's position and its
    /// unacknowledged messages across reconnects and restarts of the subscriber (a JetStream
    /// durable consumer, a Redis consumer group). Members of a queue group share it.
    pub durable: Option<FastStr>,
    /// How long a delivery may stay unsettled before it is delivered again. Default 30 s.
    pub ack_wait: Duration,
    /// How many deliveries a message gets before it is dead-lettered. Default 5.
    pub max_attempts: u32,
    /// The delay before a failed message is delivered again. Default: 100 ms, doubling, up to
    /// 30 s.
    pub backoff: Backoff,
    /// Where messages that failed `max_attempts` times go. Default `<topic>.dlq`
    /// ([`SubscribeOptions::dead_letter_topic_for`]).
    pub dead_letter_topic: Option<FastStr>,
}

impl Default for SubscribeOptions {
    fn default() -> SubscribeOptions {
        SubscribeOptions {
            queue_group: None,
            ack_mode: AckMode::Auto,
            max_in_flight: 64,
            durable: None,
            ack_wait: Duration::from_secs(30),
            max_attempts: 5,
            backoff: Backoff::default(),
            dead_letter_topic: None,
        }
    }
}

impl SubscribeOptions {
    /// The defaults: a plain subscriber, automatic acks, 64 in flight, 30 s ack wait, 5
    /// attempts.
    pub fn new() -> SubscribeOptions {
        SubscribeOptions::default()
    }

    /// Joins queue group `group`: each message goes to one member.
    pub fn queue_group(mut self, group: impl Into<FastStr>) -> Self {
        self.queue_group = Some(group.into());
        self
    }

    /// Sets the acknowledgement mode.
    pub fn ack_mode(mut self, mode: AckMode) -> Self {
        self.ack_mode = mode;
        self
    }

    /// The handler acknowledges itself ([`AckMode::Manual`]).
    pub fn manual_ack(self) -> Self {
        self.ack_mode(AckMode::Manual)
    }

    /// At most `n` deliveries unsettled at once.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Keeps the subscription's state under `name` in engines with storage.
    pub fn durable(mut self, name: impl Into<FastStr>) -> Self {
        self.durable = Some(name.into());
        self
    }

    /// Delivers a message again when it stays unsettled this long.
    pub fn ack_wait(mut self, wait: Duration) -> Self {
        self.ack_wait = wait;
        self
    }

    /// Dead-letters a message after `n` deliveries (0 is read as 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    /// Sets the delay before a failed message is delivered again.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sends messages given up on to `topic` instead of `<topic>.dlq`.
    pub fn dead_letter_topic(mut self, topic: impl Into<FastStr>) -> Self {
        self.dead_letter_topic = Some(topic.into());
        self
    }

    /// The dead-letter topic for a subscription to `topic`: the one set, or `<topic>.dlq`.
    pub fn dead_letter_topic_for(&self, topic: &str) -> FastStr {
        match &self.dead_letter_topic {
            Some(t) => t.clone(),
            None => FastStr::from_string(format!("{topic}.dlq")),
        }
    }

    /// [`max_in_flight`](SubscribeOptions::max_in_flight), at least 1.
    pub fn effective_max_in_flight(&self) -> usize {
        self.max_in_flight.max(1)
    }

    /// [`max_attempts`](SubscribeOptions::max_attempts), at least 1.
    pub fn effective_max_attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let b = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(b.delay(1), Duration::from_millis(100));
        assert_eq!(b.delay(2), Duration::from_millis(200));
        assert_eq!(b.delay(4), Duration::from_millis(800));
        assert_eq!(b.delay(5), Duration::from_secs(1));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(1));
        let c = Backoff::constant(Duration::from_millis(5));
        assert_eq!(c.delay(9), Duration::from_millis(5));
    }

    #[test]
    fn dead_letter_topic_defaults_to_dlq_suffix() {
        let o = SubscribeOptions::new();
        assert_eq!(o.dead_letter_topic_for("orders"), "orders.dlq");
        let o = o.dead_letter_topic("graveyard");
        assert_eq!(o.dead_letter_topic_for("orders"), "graveyard");
    }
}
