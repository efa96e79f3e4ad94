use std::fmt;

use faststr::FastStr;
use rookery_core::Context;

/// The metadata key of the W3C trace context: `00-<trace id>-<parent id>-<flags>`.
pub const TRACEPARENT: &str = "traceparent";

/// The metadata key of vendors' trace state, passed on unchanged beside [`TRACEPARENT`].
pub const TRACESTATE: &str = "tracestate";

/// The longest `tracestate` passed on: the W3C recommendation says 512 characters.
const MAX_TRACESTATE: usize = 512;

/// The 16 bytes naming a trace: every span of one request, on every service, shares it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId([u8; 16]);

/// The 8 bytes naming one span of a trace.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId([u8; 8]);

impl TraceId {
    /// A random trace id (never all zeros, which means "none").
    pub fn random() -> TraceId {
        TraceId(fastrand::u128(1..).to_be_bytes())
    }

    /// The id of these bytes, or `None` for all zeros (invalid).
    pub fn from_bytes(bytes: [u8; 16]) -> Option<TraceId> {
        (bytes != [0; 16]).then_some(TraceId(bytes))
    }

    /// The id's bytes.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0
    }

    /// The id written as 32 lower-case hex digits, or `None` for anything else or all zeros.
    pub fn from_hex(hex: &str) -> Option<TraceId> {
        TraceId::from_bytes(decode_hex(hex)?)
    }
}

impl SpanId {
    /// A random span id (never all zeros, which means "none").
    pub fn random() -> SpanId {
        SpanId(fastrand::u64(1..).to_be_bytes())
    }

    /// The id of these bytes, or `None` for all zeros (invalid).
    pub fn from_bytes(bytes: [u8; 8]) -> Option<SpanId> {
        (bytes != [0; 8]).then_some(SpanId(bytes))
    }

    /// The id's bytes.
    pub fn to_bytes(self) -> [u8; 8] {
        self.0
    }

    /// The id written as 16 lower-case hex digits, or `None` for anything else or all zeros.
    pub fn from_hex(hex: &str) -> Option<SpanId> {
        SpanId::from_bytes(decode_hex(hex)?)
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 32];
    for (i, b) in bytes.iter().enumerate() {
        buf[2 * i] = DIGITS[usize::from(b >> 4)];
        buf[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
    }
    // Only ASCII digits were written.
    f.write_str(std::str::from_utf8(&buf[..2 * bytes.len()]).map_err(|_| fmt::Error)?)
}

/// `N` bytes from exactly `2 * N` lower-case hex digits (the W3C format allows no others).
fn decode_hex<const N: usize>(hex: &str) -> Option<[u8; N]> {
    let hex = hex.as_bytes();
    if hex.len() != 2 * N {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// A W3C `traceparent` value: the trace a call belongs to, the span that made the call (the
/// parent of the span that answers it), and whether the trace is sampled.
///
/// ```
/// use rookery_middleware::trace::TraceParent;
///
/// let value = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// let parent = TraceParent::parse(value).unwrap();
/// assert!(parent.sampled());
/// assert_eq!(parent.to_string(), value);
/// assert!(TraceParent::parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01").is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace.
    pub trace_id: TraceId,
    /// The calling span.
    pub parent_id: SpanId,
    /// The trace flags: bit 0 says the trace is sampled (recorded).
    pub flags: u8,
}

impl TraceParent {
    /// The value's trace context, or `None` when it is not a valid `traceparent`, which the
    /// receiver then ignores (and starts a new trace): the W3C rules, strictly. The version
    /// is two lower-case hex digits other than `ff`; version `00` is exactly
    /// `00-<32 hex>-<16 hex>-<2 hex>` (55 characters), later versions start the same way
    /// and may go on after a `-`. Hex digits are lower case, ids are not all zeros. Spaces
    /// and tabs around the value are ignored, as around any HTTP header value.
    pub fn parse(value: &str) -> Option<TraceParent> {
        let value = value.trim_matches([' ', '\t']);
        // Slicing below is on ASCII boundaries only once the value is known to be ASCII.
        if value.len() < 55 || !value.is_ascii() {
            return None;
        }
        let version: [u8; 1] = decode_hex(&value[0..2])?;
        match version[0] {
            0xff => return None,
            0x00 if value.len() != 55 => return None,
            _ if value.len() > 55 && value.as_bytes()[55] != b'-' => return None,
            _ => {}
        }
        let b = value.as_bytes();
        if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return None;
        }
        let flags: [u8; 1] = decode_hex(&value[53..55])?;
        Some(TraceParent {
            trace_id: TraceId::from_hex(&value[3..35])?,
            parent_id: SpanId::from_hex(&value[36..52])?,
            flags: flags[0],
        })
    }

    /// Whether the trace is sampled.
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id, self.parent_id, self.flags
        )
    }
}

/// A `tracestate` value worth passing on: printable ASCII, at most 512 characters (the W3C
/// limit that receivers may enforce); others are dropped rather than sent on half-checked.
pub(crate) fn valid_tracestate(value: &str) -> Option<FastStr> {
    let value = value.trim_matches([' ', '\t']);
    let ok = !value.is_empty()
        && value.len() <= MAX_TRACESTATE
        && value.bytes().all(|b| (0x20..=0x7e).contains(&b));
    ok.then(|| FastStr::new(value))
}

/// One span of a trace, as a layer made it for one hop of a call: on a server the span
/// that answers the call, on a client the span that makes it.
///
/// A server's trace layer puts its span in the context's
/// [`inherited`](rookery_core::Context::inherited) values, so the handler finds it with
/// [`TraceContext::current`] and a downstream call made with `cx.child()` continues the
/// trace; each layer also puts its span among the call's
/// [`extensions`](rookery_core::Context::extensions) (what access logs read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: TraceId,
    span_id: SpanId,
    parent_id: Option<SpanId>,
    flags: u8,
    trace_state: Option<FastStr>,
}

impl TraceContext {
    /// The first span of a new trace, sampled.
    pub fn root() -> TraceContext {
        TraceContext {
            trace_id: TraceId::random(),
            span_id: SpanId::random(),
            parent_id: None,
            flags: 1,
            trace_state: None,
        }
    }

    /// A span whose parent is the span that sent `parent` (from another process), with the
    /// trace state that came with it.
    pub fn from_remote(parent: &TraceParent, trace_state: Option<FastStr>) -> TraceContext {
        TraceContext {
            trace_id: parent.trace_id,
            span_id: SpanId::random(),
            parent_id: Some(parent.parent_id),
            flags: parent.flags,
            trace_state,
        }
    }

    /// A new span of the same trace whose parent is this one.
    pub fn child(&self) -> TraceContext {
        TraceContext {
            trace_id: self.trace_id,
            span_id: SpanId::random(),
            parent_id: Some(self.span_id),
            flags: self.flags,
            trace_state: self.trace_state.clone(),
        }
    }

    /// The span of the call being handled, which downstream calls made with `cx.child()`
    /// continue: the server trace layer's span, or one put there by the application.
    pub fn current(cx: &Context) -> Option<&TraceContext> {
        cx.inherited().get::<TraceContext>()
    }

    /// The span of this hop of the call (the one a trace layer made for it), or else the
    /// trace it continues.
    pub(crate) fn of_call(cx: &Context) -> Option<&TraceContext> {
        cx.extensions()
            .get::<TraceContext>()
            .or_else(|| TraceContext::current(cx))
    }

    /// The trace.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// This span.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The span this one was started by, if any.
    pub fn parent_id(&self) -> Option<SpanId> {
        self.parent_id
    }

    /// The trace flags (bit 0: sampled).
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Whether the trace is sampled.
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    /// The vendors' trace state passed on with the trace, if any.
    pub fn trace_state(&self) -> Option<&FastStr> {
        self.trace_state.as_ref()
    }

    /// The `traceparent` this span sends to the call it makes: its trace, itself as the
    /// parent, its flags.
    pub fn traceparent(&self) -> TraceParent {
        TraceParent {
            trace_id: self.trace_id,
            parent_id: self.span_id,
            flags: self.flags,
        }
    }

    /// The same span with other ids and flags (an OpenTelemetry SDK chose them).
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn with_ids(self, trace_id: TraceId, span_id: SpanId, flags: u8) -> TraceContext {
        TraceContext {
            trace_id,
            span_id,
            flags,
            ..self
        }
    }
}
