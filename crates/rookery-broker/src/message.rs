use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use faststr::FastStr;
use rookery_core::Metadata;

use crate::BrokerError;

/// The limit on a message's size (payload plus headers) that a broker applies unless told
/// otherwise: 1 MiB, NATS's own default.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 1024 * 1024;

/// Header names rookery itself writes. Names start with `rookery-` so that they never clash
/// with a user's.
pub mod headers {
    /// On a dead-lettered message: why it was dead-lettered (the handler's last error, the
    /// decode error, or that it was delivered too many times without an acknowledgement).
    pub const DEAD_LETTER_REASON: &str = "rookery-dead-letter-reason";
    /// On a dead-lettered message: how many times it was delivered before it was given up.
    pub const DEAD_LETTER_ATTEMPTS: &str = "rookery-dead-letter-attempts";
    /// On a dead-lettered message: the topic it was published to.
    pub const DEAD_LETTER_TOPIC: &str = "rookery-dead-letter-topic";
    /// On a dead-lettered message: the original message's id (the dead letter has its own, so
    /// an engine that deduplicates by id keeps both).
    pub const DEAD_LETTER_ID: &str = "rookery-dead-letter-id";
    /// On a dead-lettered message: the subscription's queue group (or durable name) that gave
    /// it up, when it had one.
    pub const DEAD_LETTER_GROUP: &str = "rookery-dead-letter-group";
    /// Where a backend whose engine has no message id field carries [`Message::id`](crate::Message)
    /// (the backend removes it again on delivery).
    pub const MESSAGE_ID: &str = "rookery-message-id";
}

/// One message: an id, the topic it is published to, headers, and an opaque payload.
///
/// The id is made when the message is made ([`Message::new`]), so the publisher knows it and
/// every delivery of the message (redeliveries included) carries the same one; consumers use it
/// to recognise duplicates, since delivery is at least once.
///
/// Headers carry trace context and any other metadata, as [`Metadata`] does for calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Unique per message; kept by every delivery of it.
    pub id: FastStr,
    /// Where the message is published.
    pub topic: FastStr,
    /// Metadata that travels with the message.
    pub headers: Metadata,
    /// The encoded body; the broker never looks inside.
    pub payload: Bytes,
}

impl Message {
    /// A message to `topic` with a fresh id and no headers.
    pub fn new(topic: impl Into<FastStr>, payload: impl Into<Bytes>) -> Message {
        Message {
            id: new_message_id(),
            topic: topic.into(),
            headers: Metadata::new(),
            payload: payload.into(),
        }
    }

    /// A message to `topic` whose payload is `body` encoded by `codec` (Thrift, Protobuf, JSON:
    /// any [`Codec`](rookery_codec::Codec)).
    pub fn encode<M, C: rookery_codec::Codec<M>>(
        topic: impl Into<FastStr>,
        body: &M,
        codec: &C,
    ) -> Result<Message, rookery_codec::EncodeError> {
        let mut buf = bytes::BytesMut::new();
        codec.encode(body, &mut buf)?;
        Ok(Message::new(topic, buf.freeze()))
    }

    /// Replaces the id (when the publisher has its own idempotency key).
    pub fn with_id(mut self, id: impl Into<FastStr>) -> Message {
        self.id = id.into();
        self
    }

    /// Adds a header.
    pub fn with_header(mut self, key: impl Into<FastStr>, value: impl Into<FastStr>) -> Message {
        self.headers.insert(key, value);
        self
    }

    /// Replaces the headers.
    pub fn with_headers(mut self, headers: Metadata) -> Message {
        self.headers = headers;
        self
    }

    /// The size that `max_message_size` limits: the payload plus every header's name and
    /// value (string and binary), as NATS counts it.
    pub fn size(&self) -> usize {
        let strings: usize = self.headers.iter().map(|(k, v)| k.len() + v.len()).sum();
        let binary: usize = self
            .headers
            .iter_bin()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        self.payload.len() + strings + binary
    }

    /// Refuses a message over `limit` bytes ([`size`](Message::size)), and one without a
    /// topic. Every backend calls this first in `publish`, so an oversize message fails with
    /// the same clear error everywhere and never reaches the engine.
    pub fn check(&self, limit: usize) -> Result<(), BrokerError> {
        validate_topic(&self.topic)?;
        let size = self.size();
        if size > limit {
            return Err(BrokerError::too_large(&self.topic, size, limit));
        }
        Ok(())
    }
}

/// Checks a topic name: not empty, no whitespace or control characters, and no empty
/// `.`-separated part (the form NATS subjects take, so a topic means the same thing on every
/// backend).
pub fn validate_topic(topic: &str) -> Result<(), BrokerError> {
    if topic.is_empty() {
        return Err(BrokerError::invalid("empty topic"));
    }
    if topic.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(BrokerError::invalid(format!(
            "topic {topic:?} holds whitespace or a control character"
        )));
    }
    if topic.split('.').any(str::is_empty) {
        return Err(BrokerError::invalid(format!(
            "topic {topic:?} has an empty part between dots"
        )));
    }
    Ok(())
}

/// A fresh message id: a random prefix made once per process and a counter, so ids are unique
/// across processes (with overwhelming probability) without a random draw per message.
pub fn new_message_id() -> FastStr {
    static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| fastrand::u64(..));
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    FastStr::from_string(format!("{prefix:016x}-{n:x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_size_counts_headers() {
        let a = Message::new("orders", "abc");
        let b = Message::new("orders", "abc");
        assert_ne!(a.id, b.id);
        let a = a.with_header("k", "vv");
        assert_eq!(a.size(), 3 + 1 + 2);
        assert!(a.check(6).is_ok());
        let err = a.check(5).unwrap_err();
        assert!(err.is_too_large(), "{err}");
        assert!(err.to_string().contains("max_message_size of 5"), "{err}");
    }

    #[test]
    fn topics_are_checked() {
        assert!(validate_topic("orders.created").is_ok());
        for bad in ["", "a b", "a..b", ".a", "a.", "a\nb"] {
            assert!(validate_topic(bad).is_err(), "{bad:?}");
        }
    }
}
