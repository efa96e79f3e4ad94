//! What gRPC carries in HTTP/2 headers and trailers: custom metadata (text, and binary under
//! `-bin` keys in base64), `grpc-timeout`, and the status (`grpc-status`, the percent-encoded
//! `grpc-message`, `grpc-status-details-bin`).

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use base64::{
    Engine as _, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use rookery_core::{Code, Context, Metadata, Status};

pub(crate) const GRPC_STATUS: &str = "grpc-status";
pub(crate) const GRPC_MESSAGE: &str = "grpc-message";
pub(crate) const GRPC_STATUS_DETAILS: &str = "grpc-status-details-bin";
pub(crate) const GRPC_TIMEOUT: &str = "grpc-timeout";
pub(crate) const GRPC_ENCODING: &str = "grpc-encoding";
pub(crate) const GRPC_ACCEPT_ENCODING: &str = "grpc-accept-encoding";
pub(crate) const CONTENT_TYPE_GRPC: &str = "application/grpc";

/// gRPC's base64: sent without padding, accepted with or without.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Metadata sent after the messages of a call: gRPC's trailing metadata.
///
/// The response headers carry [`Context::response_metadata`]; what comes after the messages
/// needs a place that outlives the handler's call (a streaming handler returns before its
/// stream ends), so it is this shared handle, found in the context's extensions:
///
/// - **server**: the server puts one in every call's context before the handler runs; what
///   the handler (or its response stream) writes into it goes out in the trailers, beside
///   `grpc-status`.
/// - **client**: put one in the context before a call, and the client fills it with the
///   trailing metadata when the trailers arrive (for a streaming call, when its response
///   stream ends).
#[derive(Clone, Debug, Default)]
pub struct Trailers {
    inner: Arc<Mutex<Metadata>>,
}

impl Trailers {
    /// An empty set.
    pub fn new() -> Trailers {
        Trailers::default()
    }

    /// The handle in `cx`'s extensions, if any.
    pub fn of(cx: &Context) -> Option<Trailers> {
        cx.extensions().get::<Trailers>().cloned()
    }

    /// Changes the metadata in place.
    pub fn update<R>(&self, f: impl FnOnce(&mut Metadata) -> R) -> R {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A copy of the metadata as it is now.
    pub fn get(&self) -> Metadata {
        self.update(|m| m.clone())
    }

    /// Sets a text value.
    pub fn insert(&self, key: &str, value: &str) {
        self.update(|m| {
            m.insert(key.to_string(), value.to_string());
        });
    }

    /// Sets a binary value (the key should end in `-bin`).
    pub fn insert_bin(&self, key: &str, value: Bytes) {
        self.update(|m| {
            m.insert_bin(key.to_string(), value);
        });
    }

    pub(crate) fn take(&self) -> Metadata {
        self.update(std::mem::take)
    }
}

/// The metadata of a call's response headers, as a client received them: gRPC's initial
/// metadata, reachable after the call has returned.
///
/// A client-streaming or bidirectional call returns at once with its response stream (a
/// server may send no headers until it has a request, grpcio's until its handler yields a
/// response), so its response headers arrive while the stream is read, after the call has
/// given back the context. Put one of these in the context's extensions before the call, and
/// the client fills it when the headers arrive: by the time the response stream has yielded
/// its first item (or, for a client-streaming call, the call has answered), [`get`](Self::get)
/// has them. A response with no headers of its own (trailers-only, a failure before the
/// headers) leaves it empty but arrived, unless the call failed before any answer came.
///
/// Unary and server-streaming calls return once their headers are in, so they fill the
/// context's [`Context::response_metadata`] as well as this handle, if there is one.
#[derive(Clone, Debug, Default)]
pub struct ResponseHeaders {
    inner: Arc<Mutex<Option<Metadata>>>,
}

impl ResponseHeaders {
    /// A handle with nothing arrived yet.
    pub fn new() -> ResponseHeaders {
        ResponseHeaders::default()
    }

    /// The handle in `cx`'s extensions, if any.
    pub fn of(cx: &Context) -> Option<ResponseHeaders> {
        cx.extensions().get::<ResponseHeaders>().cloned()
    }

    /// A copy of the headers' metadata, or `None` before they have arrived.
    pub fn get(&self) -> Option<Metadata> {
        self.lock().clone()
    }

    /// Whether the response headers have arrived.
    pub fn has_arrived(&self) -> bool {
        self.lock().is_some()
    }

    /// Records the metadata of `headers` as the response headers.
    pub(crate) fn record(&self, headers: &HeaderMap) {
        let mut metadata = Metadata::new();
        read_metadata(headers, &mut metadata);
        *self.lock() = Some(metadata);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Metadata>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether `name` is one gRPC or HTTP/2 reserves, never custom metadata.
fn is_reserved(name: &str) -> bool {
    // gRPC's retry pushback (gRFC A6) is a server's to send and a client's retry policy's to
    // read: it travels as metadata.
    (name.starts_with("grpc-") && name != RETRY_PUSHBACK)
        || name.starts_with(':')
        || matches!(
            name,
            "content-type" | "te" | "content-length" | "connection" | "host"
        )
}

/// The trailer in which a server tells a client how long to wait before a retry (in
/// milliseconds; a negative or malformed value: do not retry).
pub const RETRY_PUSHBACK: &str = "grpc-retry-pushback-ms";

/// The custom metadata among `headers` into `into`: text values as they are, `-bin` values
/// base64-decoded. Values that are not valid (not visible ASCII, not base64) are skipped; a
/// key sent several times keeps its text values joined by `,`, and its first binary value.
pub(crate) fn read_metadata(headers: &HeaderMap, into: &mut Metadata) {
    for name in headers.keys() {
        let key = name.as_str();
        if is_reserved(key) {
            continue;
        }
        if key.ends_with("-bin") {
            let Some(value) = headers.get(name) else {
                continue;
            };
            // Several values may also come comma-separated in one header.
            let first = value.as_bytes().split(|&b| b == b',').next().unwrap_or(&[]);
            match BASE64.decode(first.trim_ascii()) {
                Ok(bytes) => {
                    into.insert_bin(key.to_string(), Bytes::from(bytes));
                }
                Err(e) => {
                    tracing::debug!(key, error = %e, "skipping a -bin value that is not base64")
                }
            }
        } else {
            let mut joined = String::new();
            for value in headers.get_all(name) {
                match value.to_str() {
                    Ok(text) => {
                        if !joined.is_empty() {
                            joined.push(',');
                        }
                        joined.push_str(text);
                    }
                    Err(_) => tracing::debug!(key, "skipping a metadata value that is not text"),
                }
            }
            into.insert(key.to_string(), joined);
        }
    }
}

/// `metadata` into `headers`: text values as they are, binary values base64-encoded. Keys
/// that gRPC reserves or that are not valid header names are skipped, as are text values
/// that are not valid header values; a text value under a `-bin` key is sent as its bytes.
pub(crate) fn write_metadata(metadata: &Metadata, headers: &mut HeaderMap) {
    for (key, value) in metadata.iter() {
        let Some(name) = custom_name(key) else {
            continue;
        };
        let value = if name.as_str().ends_with("-bin") {
            HeaderValue::try_from(BASE64.encode(value.as_bytes()))
        } else {
            HeaderValue::from_str(value)
        };
        match value {
            Ok(value) => {
                headers.append(name, value);
            }
            Err(_) => tracing::debug!(%key, "skipping a metadata value that is not a header value"),
        }
    }
    for (key, value) in metadata.iter_bin() {
        let Some(name) = custom_name(key) else {
            continue;
        };
        if !name.as_str().ends_with("-bin") {
            tracing::debug!(%key, "skipping a binary metadata value whose key does not end in -bin");
            continue;
        }
        if let Ok(value) = HeaderValue::try_from(BASE64.encode(value)) {
            headers.append(name, value);
        }
    }
}

fn custom_name(key: &str) -> Option<HeaderName> {
    match HeaderName::from_bytes(key.as_bytes()) {
        Ok(name) if !is_reserved(name.as_str()) => Some(name),
        Ok(_) => {
            tracing::debug!(key, "skipping metadata under a reserved key");
            None
        }
        Err(_) => {
            tracing::debug!(key, "skipping metadata whose key is not a header name");
            None
        }
    }
}

/// The duration of a `grpc-timeout` value: 1 to 8 ASCII digits and a unit (`H`ours,
/// `M`inutes, `S`econds, `m`illiseconds, `u`microseconds, `n`anoseconds).
pub fn parse_timeout(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

/// `timeout` as a `grpc-timeout` value: in the finest unit whose count fits in 8 digits,
/// rounded up so that the peer never gives up before the caller does.
pub fn format_timeout(timeout: Duration) -> String {
    const MAX: u128 = 99_999_999;
    let nanos = timeout.as_nanos();
    let units: [(u128, char); 6] = [
        (1, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ];
    for (per, unit) in units {
        let n = nanos.div_ceil(per);
        if n <= MAX {
            return format!("{n}{unit}");
        }
    }
    format!("{MAX}H")
}

/// `message` percent-encoded for `grpc-message`: every byte outside printable ASCII, and `%`.
pub fn percent_encode(message: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(message.len());
    for &b in message.as_bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

/// A `grpc-message` decoded: `%XX` sequences become bytes (others are kept as they are),
/// and bytes that are not UTF-8 become U+FFFD.
pub fn percent_decode(value: &[u8]) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'%' && i + 2 < value.len() {
            if let (Some(h), Some(l)) = (hex(value[i + 1]), hex(value[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(value[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The status `headers` carry (trailers, or the headers of a trailers-only response), if
/// they have `grpc-status`.
pub(crate) fn read_status(headers: &HeaderMap) -> Option<Status> {
    let code = headers.get(GRPC_STATUS)?;
    let code = std::str::from_utf8(code.as_bytes())
        .ok()
        .and_then(|c| c.trim().parse::<i32>().ok())
        .map_or(Code::Unknown, Code::from_i32);
    let message = headers
        .get(GRPC_MESSAGE)
        .map(|m| percent_decode(m.as_bytes()))
        .unwrap_or_default();
    let mut status = Status::new(code, message);
    if let Some(details) = headers.get(GRPC_STATUS_DETAILS)
        && let Ok(details) = BASE64.decode(details.as_bytes().trim_ascii())
    {
        status = status.with_details(Bytes::from(details));
    }
    Some(status)
}

/// `status` into `headers`: `grpc-status`, `grpc-message` when there is one,
/// `grpc-status-details-bin` when there are details.
pub(crate) fn write_status(status: &Status, headers: &mut HeaderMap) {
    headers.insert(GRPC_STATUS, HeaderValue::from(status.code().as_i32()));
    if !status.message().is_empty()
        && let Ok(value) = HeaderValue::try_from(percent_encode(status.message()))
    {
        headers.insert(GRPC_MESSAGE, value);
    }
    if !status.details().is_empty()
        && let Ok(value) = HeaderValue::try_from(BASE64.encode(status.details()))
    {
        headers.insert(GRPC_STATUS_DETAILS, value);
    }
}

/// Headers saying "OK" (`grpc-status: 0`).
pub(crate) fn ok_trailers(trailing: &Metadata) -> HeaderMap {
    let mut headers = HeaderMap::new();
    write_metadata(trailing, &mut headers);
    headers.insert(GRPC_STATUS, HeaderValue::from_static("0"));
    headers
}

/// The gRPC code for an HTTP status that came without `grpc-status`, as the gRPC spec maps
/// them.
pub(crate) fn code_of_http_status(status: http::StatusCode) -> Code {
    match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502..=504 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_in_every_unit() {
        assert_eq!(parse_timeout(b"2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_timeout(b"3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_timeout(b"4S"), Some(Duration::from_secs(4)));
        assert_eq!(parse_timeout(b"5m"), Some(Duration::from_millis(5)));
        assert_eq!(parse_timeout(b"6u"), Some(Duration::from_micros(6)));
        assert_eq!(
            parse_timeout(b"99999999n"),
            Some(Duration::from_nanos(99_999_999))
        );
        for bad in [
            &b""[..],
            b"S",
            b"1",
            b"123456789S",
            b"1x",
            b"-1S",
            b"1 S",
            b"\xffS",
        ] {
            assert_eq!(parse_timeout(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn timeouts_format_in_the_finest_unit_that_fits_and_round_trip() {
        assert_eq!(format_timeout(Duration::from_nanos(5)), "5n");
        assert_eq!(format_timeout(Duration::from_millis(1)), "1000000n");
        assert_eq!(format_timeout(Duration::from_secs(1)), "1000000u");
        assert_eq!(format_timeout(Duration::from_secs(1000)), "1000000m");
        assert_eq!(format_timeout(Duration::from_secs(10 * 86400)), "864000S");
        assert_eq!(format_timeout(Duration::from_secs(u64::MAX)), "99999999H");
        for d in [1, 999, 123_456_789, 7_000_000_001] {
            let d = Duration::from_nanos(d);
            let back = parse_timeout(format_timeout(d).as_bytes()).unwrap();
            assert!(back >= d, "{d:?} -> {back:?}");
        }
    }

    #[test]
    fn messages_are_percent_encoded_as_grpc_says() {
        let text = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";
        let encoded = percent_encode(text);
        assert!(encoded.bytes().all(|b| (0x20..=0x7e).contains(&b)));
        assert_eq!(percent_decode(encoded.as_bytes()), text);
        assert_eq!(percent_encode("100%"), "100%25");
        // Malformed escapes are kept as they are; bad UTF-8 does not fail.
        assert_eq!(percent_decode(b"a%zz%4"), "a%zz%4");
        assert_eq!(percent_decode(b"%FF"), "\u{fffd}");
    }

    #[test]
    fn metadata_round_trips_through_headers() {
        let mut m = Metadata::new();
        m.insert("x-text", "value");
        m.insert("grpc-timeout", "1S");
        m.insert("Bad Key", "v");
        m.insert_bin("x-data-bin", Bytes::from_static(&[0xab, 0xab, 0xab]));
        m.insert_bin("no-suffix", Bytes::from_static(b"x"));
        let mut headers = HeaderMap::new();
        write_metadata(&m, &mut headers);
        assert_eq!(headers.len(), 2, "{headers:?}");
        assert_eq!(headers["x-data-bin"], "q6ur");
        // Padded values are accepted too.
        headers.insert("x-padded-bin", HeaderValue::from_static("qw=="));
        headers.insert("x-broken-bin", HeaderValue::from_static("!!"));
        headers.insert("content-type", HeaderValue::from_static("application/grpc"));
        let mut back = Metadata::new();
        read_metadata(&headers, &mut back);
        assert_eq!(back.get("x-text"), Some("value"));
        assert_eq!(
            back.get_bin("x-data-bin").map(|b| &b[..]),
            Some(&[0xab; 3][..])
        );
        assert_eq!(
            back.get_bin("x-padded-bin").map(|b| &b[..]),
            Some(&[0xab][..])
        );
        assert_eq!(back.get_bin("x-broken-bin"), None);
        assert_eq!(back.get("content-type"), None);
    }

    #[test]
    fn statuses_round_trip_through_headers() {
        let status = Status::new(Code::Unknown, "bad % news ☺")
            .with_details(Bytes::from_static(b"\x00\x01"));
        let mut headers = HeaderMap::new();
        write_status(&status, &mut headers);
        let back = read_status(&headers).unwrap();
        assert_eq!(back.code(), Code::Unknown);
        assert_eq!(back.message(), "bad % news ☺");
        assert_eq!(&back.details()[..], b"\x00\x01");
        headers.insert(GRPC_STATUS, HeaderValue::from_static("banana"));
        assert_eq!(read_status(&headers).unwrap().code(), Code::Unknown);
        assert!(read_status(&HeaderMap::new()).is_none());
    }
}
