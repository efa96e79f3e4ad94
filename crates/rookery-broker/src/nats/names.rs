//! How rookery's names and headers map onto NATS's: stream and consumer names (which NATS
//! restricts to a few characters) and message headers (strings only, so binary values are
//! carried base64-encoded under a reserved name).

use async_nats::{HeaderMap, HeaderName, HeaderValue};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use bytes::Bytes;
use faststr::FastStr;
use rookery_core::Metadata;

use crate::{BrokerError, Message};

/// JetStream's de-duplication header: the server drops a second publish of the same id
/// within the stream's duplicate window, so a publisher that retries does not double a message.
pub(super) const NATS_MSG_ID: &str = "Nats-Msg-Id";

/// The prefix under which a binary header `name` travels, base64-encoded.
const BINARY_PREFIX: &str = "rookery-bin-";

/// A JetStream stream or consumer name for `name` under `prefix`: letters, digits and `-`
/// stay; every other byte (`.`, `_`, `*`, anything NATS forbids in names) becomes `_` and two
/// hex digits, so distinct names never map to the same one.
pub(super) fn engine_name(prefix: &str, name: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1 + name.len());
    out.push_str(prefix);
    out.push('_');
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b:02X}"));
        }
    }
    out
}

/// The NATS headers for `message`: its string headers as they are, its binary ones
/// base64-encoded under `rookery-bin-<name>`, and its id as `Nats-Msg-Id`. A header NATS cannot
/// carry (a line break in a value, a bad name) is refused, never silently changed.
pub(super) fn to_nats_headers(message: &Message) -> Result<HeaderMap, BrokerError> {
    let mut headers = HeaderMap::new();
    for (name, value) in message.headers.iter() {
        insert(&mut headers, name, value)?;
    }
    for (name, value) in message.headers.iter_bin() {
        insert(
            &mut headers,
            &format!("{BINARY_PREFIX}{name}"),
            &BASE64.encode(value),
        )?;
    }
    insert(&mut headers, NATS_MSG_ID, &message.id)?;
    Ok(headers)
}

fn insert(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), BrokerError> {
    let header_name: HeaderName = name
        .parse()
        .map_err(|_| BrokerError::invalid(format!("header name {name:?} is not valid in NATS")))?;
    let header_value: HeaderValue = value.parse().map_err(|_| {
        BrokerError::invalid(format!(
            "header {name:?} holds a line break, which NATS headers cannot carry"
        ))
    })?;
    headers.insert(header_name, header_value);
    Ok(())
}

/// The id and headers of a message as it arrives: `Nats-Msg-Id` becomes the id (else
/// `fallback`, for messages published by other NATS clients without one), `rookery-bin-*`
/// headers are decoded back to binary (a value that does not decode stays a string header, so
/// nothing from the wire is dropped or panics), other headers stay strings (the last value of
/// a repeated header).
pub(super) fn from_nats_headers(
    headers: Option<&HeaderMap>,
    fallback: impl FnOnce() -> FastStr,
) -> (FastStr, Metadata) {
    let mut metadata = Metadata::new();
    let mut id = None;
    if let Some(headers) = headers {
        for (name, values) in headers.iter() {
            let Some(value) = values.last() else { continue };
            let (name, value) = (AsRef::<str>::as_ref(name), value.as_str());
            if name.eq_ignore_ascii_case(NATS_MSG_ID) {
                id = Some(FastStr::new(value));
            } else if let Some(bin) = name.strip_prefix(BINARY_PREFIX)
                && let Ok(bytes) = BASE64.decode(value)
            {
                metadata.insert_bin(FastStr::new(bin), Bytes::from(bytes));
            } else {
                metadata.insert(FastStr::new(name), FastStr::new(value));
            }
        }
    }
    (id.unwrap_or_else(fallback), metadata)
}
