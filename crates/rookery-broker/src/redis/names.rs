//! How rookery's names and messages map onto Redis's: the stream key of a topic, the consumer
//! group of a subscription, and a message as the fields of a stream entry (Redis values are
//! binary-safe, so binary headers travel as they are).

use std::collections::HashMap;

use bytes::Bytes;
use faststr::FastStr;
use redis::Value;
use rookery_core::Metadata;

use crate::Message;

/// The field that holds the message id.
pub(super) const ID_FIELD: &str = "id";
/// The field that holds the payload.
pub(super) const PAYLOAD_FIELD: &str = "payload";
/// The prefix of the fields that hold string headers (`h:traceparent`).
const HEADER_PREFIX: &str = "h:";
/// The prefix of the fields that hold binary headers.
const BINARY_PREFIX: &str = "b:";

/// The stream key of `topic`: `<prefix>:<topic>`.
pub(super) fn stream_key(prefix: &str, topic: &str) -> String {
    format!("{prefix}:{topic}")
}

/// The consumer group shared by the members of a queue group or durable name.
pub(super) fn shared_group(name: &str) -> String {
    format!("g:{name}")
}

/// The consumer group of one plain subscriber, its own so that it sees every message.
pub(super) fn own_group() -> String {
    format!("s:{:016x}", fastrand::u64(..))
}

/// A consumer name unique to one subscription.
pub(super) fn consumer_name() -> String {
    format!("c:{:016x}", fastrand::u64(..))
}

/// The fields of the stream entry for `message`: its id, its payload, and each header.
pub(super) fn to_fields(message: &Message) -> Vec<(String, Bytes)> {
    let mut fields = Vec::with_capacity(2 + message.headers.len());
    fields.push((ID_FIELD.to_owned(), Bytes::from(message.id.to_string())));
    fields.push((PAYLOAD_FIELD.to_owned(), message.payload.clone()));
    for (k, v) in message.headers.iter() {
        fields.push((format!("{HEADER_PREFIX}{k}"), Bytes::from(v.to_string())));
    }
    for (k, v) in message.headers.iter_bin() {
        fields.push((format!("{BINARY_PREFIX}{k}"), v.clone()));
    }
    fields
}

/// The message a stream entry holds. An entry written by another client (no `id` field) gets
/// its entry id as the message id; fields rookery does not know are left out; a string header
/// that is not UTF-8 is read lossily; headers come sorted by name (Redis keeps their order, the
/// client's reply type does not). Nothing from the wire panics.
pub(super) fn from_fields(
    topic: &FastStr,
    entry_id: &str,
    fields: HashMap<String, Value>,
) -> Message {
    let mut id = None;
    let mut payload = Bytes::new();
    let mut headers = Metadata::new();
    // The reply comes as a map: sorted, so headers come in the same order every time.
    let mut fields: Vec<(String, Value)> = fields.into_iter().collect();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    for (field, value) in fields {
        let Some(bytes) = value_bytes(value) else {
            continue;
        };
        if field == ID_FIELD {
            id = Some(FastStr::from_string(
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        } else if field == PAYLOAD_FIELD {
            payload = bytes;
        } else if let Some(name) = field.strip_prefix(HEADER_PREFIX) {
            let value = String::from_utf8_lossy(&bytes).into_owned();
            headers.insert(FastStr::new(name), FastStr::from_string(value));
        } else if let Some(name) = field.strip_prefix(BINARY_PREFIX) {
            headers.insert_bin(FastStr::new(name), bytes);
        }
    }
    Message {
        id: id.unwrap_or_else(|| FastStr::new(entry_id)),
        topic: topic.clone(),
        headers,
        payload,
    }
}

fn value_bytes(value: Value) -> Option<Bytes> {
    match value {
        Value::BulkString(b) => Some(Bytes::from(b)),
        Value::SimpleString(s) => Some(Bytes::from(s)),
        Value::Int(n) => Some(Bytes::from(n.to_string())),
        _ => None,
    }
}
