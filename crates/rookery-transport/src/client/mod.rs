//! The client: calls to one address over multiplexed or pooled connections.

mod dial;
mod mux;
mod pool;

use std::{future::Future, sync::Arc, time::Duration};

use bytes::BytesMut;
use faststr::FastStr;
use rookery_codec::thrift::{
    ApplicationException, DecodeLimits, MessageType, Protocol, ThriftDecode, ThriftEncode,
};
use rookery_core::{Code, Context, Service, Status};

pub use dial::Backoff;

use crate::{
    Address, DEFAULT_MAX_FRAME_SIZE, HealthState, KitexProtobufRequest, KitexProtobufResponse,
    ThriftRequest, ThriftResponse,
    frame::{Frame, FrameError, Framing, write_frame},
    health, kitex_protobuf,
    metainfo::{self, BizStatus, biz_key},
    ttheader::{self, HeaderWriter, InfoEntry, int_key, str_key},
};

/// How a [`Client`] uses connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Many calls in flight on each of `connections` connections, replies matched by sequence
    /// id in any order, and the frames of concurrent calls written together.
    Multiplexed {
        /// How many connections to spread calls over.
        connections: usize,
    },
    /// One call at a time per connection, from a pool of at most `max_size` connections;
    /// callers wait for a free one. Works with every Thrift server.
    Pooled {
        /// The most connections open at once.
        max_size: usize,
        /// How long an idle connection is kept.
        idle_timeout: Duration,
    },
}

impl Default for Mode {
    fn default() -> Self {
        Mode::Multiplexed { connections: 1 }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) addr: Address,
    pub(crate) framing: Framing,
    pub(crate) protocol: Protocol,
    pub(crate) mode: Mode,
    pub(crate) timeout: Option<Duration>,
    pub(crate) connect_timeout: Duration,
    pub(crate) backoff: Backoff,
    pub(crate) max_frame_size: usize,
    pub(crate) limits: DecodeLimits,
    pub(crate) caller: FastStr,
    pub(crate) callee: FastStr,
    pub(crate) kitex_protobuf: bool,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::Connector>,
}

/// Builds a [`Client`]. Clones make clients with the same settings, so one builder serves as
/// the template of the clients of many addresses (a balancer's, one per instance).
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    config: Config,
}

impl ClientBuilder {
    /// The address to call, replacing the one the builder was made with.
    pub fn address(mut self, addr: Address) -> Self {
        self.config.addr = addr;
        self
    }

    /// The framing (TTHeader by default).
    pub fn framing(mut self, framing: Framing) -> Self {
        self.config.framing = framing;
        self
    }

    /// The protocol (binary by default).
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.config.protocol = protocol;
        self
    }

    /// Multiplexes calls over `connections` connections (the default, with one).
    pub fn multiplexed(mut self, connections: usize) -> Self {
        self.config.mode = Mode::Multiplexed {
            connections: connections.max(1),
        };
        self
    }

    /// Uses a pool of at most `max_size` connections, one call each at a time; idle
    /// connections are kept for 60 s.
    pub fn pooled(mut self, max_size: usize) -> Self {
        self.config.mode = Mode::Pooled {
            max_size: max_size.max(1),
            idle_timeout: Duration::from_secs(60),
        };
        self
    }

    /// Sets the connection mode.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.config.mode = mode;
        self
    }

    /// The time-out of every call that has no earlier deadline in its context (none by
    /// default). A call's deadline is the earlier of its context's and now plus this.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = Some(timeout);
        self
    }

    /// How long to wait for a connection to open (1 s by default).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// The backoff between failed connection attempts (100 ms doubling up to 10 s, by default).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.config.backoff = backoff;
        self
    }

    /// The largest frame sent or accepted (16 MiB by default).
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.config.max_frame_size = bytes.min(i32::MAX as usize);
        self
    }

    /// How deeply structs and containers in a reply may nest (64 by default).
    pub fn max_depth(mut self, depth: u16) -> Self {
        self.config.limits.max_depth = depth;
        self
    }

    /// The caller's service name, sent to the server (TTHeader's from-service).
    pub fn caller(mut self, name: impl Into<FastStr>) -> Self {
        self.config.caller = name.into();
        self
    }

    /// The callee's service name, sent to the server (TTHeader's to-service).
    pub fn callee(mut self, name: impl Into<FastStr>) -> Self {
        self.config.callee = name.into();
        self
    }

    /// Speaks Kitex Protobuf instead of Thrift: the client then calls Protobuf methods
    /// ([`KitexProtobufRequest`]) over TTHeader (or TTHeader+framed), as Kitex clients of a
    /// Protobuf service do, and refuses Thrift calls.
    pub fn kitex_protobuf(mut self) -> Self {
        self.config.kitex_protobuf = true;
        self
    }

    /// Connects over TLS (feature `tls`), as `config` says: the server's certificate must be
    /// issued by one of its CAs for the name it sets (or the IP address connected to), and
    /// the client presents its own certificate if it has one. The handshake counts against
    /// the connect timeout; a handshake that fails (a server certificate that does not
    /// verify, say) fails the call `UNAVAILABLE`, unsent.
    #[cfg(feature = "tls")]
    pub fn tls(
        mut self,
        config: crate::tls::ClientTlsConfig,
    ) -> Result<Self, crate::tls::TlsError> {
        self.config.tls = Some(crate::tls::Connector::new(config)?);
        Ok(self)
    }

    /// Builds the client. Connections open on the first call.
    pub fn build(self) -> Client {
        let config = Arc::new(self.config);
        let inner = match config.mode {
            Mode::Multiplexed { connections } => {
                Inner::Mux(mux::MuxClient::new(Arc::clone(&config), connections))
            }
            Mode::Pooled {
                max_size,
                idle_timeout,
            } => Inner::Pool(pool::PoolClient::new(
                Arc::clone(&config),
                max_size,
                idle_timeout,
            )),
        };
        Client {
            config,
            inner: Arc::new(inner),
        }
    }
}

#[derive(Debug)]
enum Inner {
    Mux(mux::MuxClient),
    Pool(pool::PoolClient),
}

/// A client of one server address.
///
/// It is a [`Service`] over [`ThriftRequest`], so layers wrap it like any service; `call`
/// and `oneway` are typed shortcuts. Clones share connections.
///
/// ```no_run
/// # use rookery_transport::Client;
/// # use std::time::Duration;
/// # fn build() -> std::io::Result<Client> {
/// let client = Client::builder("127.0.0.1:9090".parse()?)
///     .timeout(Duration::from_millis(500))
///     .build();
/// # Ok(client)
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    config: Arc<Config>,
    inner: Arc<Inner>,
}

impl Client {
    /// Whether `self` and `other` share their connections (one is a clone of the other).
    pub fn same_connections(&self, other: &Client) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// A builder for a client of `addr`: TTHeader, binary, one multiplexed connection, no
    /// call time-out, a 1 s connect time-out.
    pub fn builder(addr: Address) -> ClientBuilder {
        ClientBuilder {
            config: Config {
                addr,
                framing: Framing::TTHeader,
                protocol: Protocol::Binary,
                mode: Mode::default(),
                timeout: None,
                connect_timeout: Duration::from_secs(1),
                backoff: Backoff::default(),
                max_frame_size: DEFAULT_MAX_FRAME_SIZE,
                limits: DecodeLimits::default(),
                caller: FastStr::empty(),
                callee: FastStr::empty(),
                kitex_protobuf: false,
                #[cfg(feature = "tls")]
                tls: None,
            },
        }
    }

    /// The address called.
    pub fn addr(&self) -> &Address {
        &self.config.addr
    }

    /// The protocol requests are encoded in.
    pub fn protocol(&self) -> Protocol {
        self.config.protocol
    }

    /// Calls `method` with `args` and decodes its result struct. (Callers with a method name
    /// known only at run time build a [`ThriftRequest`] and call the client as a service.)
    pub async fn call<A, R>(
        &self,
        cx: &mut Context,
        method: &'static str,
        args: &A,
    ) -> Result<R, Status>
    where
        A: ThriftEncode + ?Sized,
        R: ThriftDecode,
    {
        let req = ThriftRequest::new(FastStr::from_static_str(method), self.config.protocol, args);
        let resp = Service::call(self, cx, req).await?;
        resp.decode().map_err(|e| {
            Status::internal(format!("reply to {method} does not decode: {e}")).with_source(e)
        })
    }

    /// Sends a oneway call of `method` with `args`; returns once it is queued for writing.
    pub async fn oneway<A>(
        &self,
        cx: &mut Context,
        method: &'static str,
        args: &A,
    ) -> Result<(), Status>
    where
        A: ThriftEncode + ?Sized,
    {
        let req = ThriftRequest::new(FastStr::from_static_str(method), self.config.protocol, args)
            .oneway();
        Service::call(self, cx, req).await.map(|_| ())
    }
}

impl Client {
    /// Calls the built-in health service's `ping`: succeeds once the server answers.
    pub async fn ping(&self, cx: &mut Context) -> Result<(), Status> {
        self.health_call(cx, "rookery.Health:ping")
            .await
            .map(|_| ())
    }

    /// Asks the server's built-in health service how it is: `SERVING`, `DRAINING` or
    /// `STARTING`.
    pub async fn check_health(&self, cx: &mut Context) -> Result<HealthState, Status> {
        match &*self.health_call(cx, "rookery.Health:check").await? {
            "SERVING" => Ok(HealthState::Serving),
            "DRAINING" => Ok(HealthState::Draining),
            "STARTING" => Ok(HealthState::Starting),
            other => Err(Status::internal(format!("unknown health state {other:?}"))),
        }
    }

    async fn health_call(&self, cx: &mut Context, method: &'static str) -> Result<FastStr, Status> {
        let result: health::StringResult = self.call(cx, method, &health::NoArgs).await?;
        Ok(result.0)
    }
}

impl Service<ThriftRequest> for Client {
    type Response = ThriftResponse;

    fn call(
        &self,
        cx: &mut Context,
        req: ThriftRequest,
    ) -> impl Future<Output = Result<ThriftResponse, Status>> + Send {
        if let Some(timeout) = self.config.timeout {
            cx.shorten_deadline(timeout);
        }
        if cx.callee().method.is_empty() {
            cx.callee_mut().method = req.method.clone();
        }
        async move {
            if self.config.kitex_protobuf {
                return Err(Status::invalid_argument(
                    "a Thrift call on a client that speaks Kitex Protobuf",
                )
                .with_unsent());
            }
            if req.protocol != self.config.protocol {
                return Err(Status::invalid_argument(format!(
                    "request encoded in {:?}, client speaks {:?}",
                    req.protocol, self.config.protocol
                ))
                .with_unsent());
            }
            if cx.remaining() == Some(Duration::ZERO) {
                return Err(
                    Status::deadline_exceeded("deadline passed before the call was sent")
                        .with_unsent(),
                );
            }
            match &*self.inner {
                Inner::Mux(m) => m.call(cx, req).await,
                Inner::Pool(p) => p.call(cx, req).await,
            }
        }
    }
}

impl Service<KitexProtobufRequest> for Client {
    type Response = KitexProtobufResponse;

    fn call(
        &self,
        cx: &mut Context,
        req: KitexProtobufRequest,
    ) -> impl Future<Output = Result<KitexProtobufResponse, Status>> + Send {
        if let Some(timeout) = self.config.timeout {
            cx.shorten_deadline(timeout);
        }
        if cx.callee().method.is_empty() {
            cx.callee_mut().method = req.method.clone();
        }
        async move {
            if !self.config.kitex_protobuf || !self.config.framing.has_header() {
                return Err(Status::invalid_argument(
                    "a Protobuf call needs a client built with kitex_protobuf() and a TTHeader framing",
                )
                .with_unsent());
            }
            if cx.remaining() == Some(Duration::ZERO) {
                return Err(
                    Status::deadline_exceeded("deadline passed before the call was sent")
                        .with_unsent(),
                );
            }
            let req = ThriftRequest {
                method: req.method,
                oneway: false,
                protocol: self.config.protocol,
                body: req.body,
                limits: self.config.limits,
            };
            let resp = match &*self.inner {
                Inner::Mux(m) => m.call(cx, req).await,
                Inner::Pool(p) => p.call(cx, req).await,
            }?;
            Ok(KitexProtobufResponse { body: resp.body })
        }
    }
}

/// A small decimal formatter, so header values need no allocation.
struct Decimal {
    buf: [u8; 20],
    start: usize,
}

impl Decimal {
    fn new(mut n: u64) -> Self {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Decimal { buf, start: i }
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits were written.
        std::str::from_utf8(&self.buf[self.start..]).unwrap_or("0")
    }
}

/// Appends the frame of a request: its envelope, its arguments, and a TTHeader with the
/// context's metadata, the time left, and the names of both sides.
pub(crate) fn write_request(
    buf: &mut BytesMut,
    config: &Config,
    cx: &Context,
    req: &ThriftRequest,
    seq_id: i32,
    announce_control: bool,
) -> Result<(), FrameError> {
    let kind = if req.oneway {
        MessageType::Oneway
    } else {
        MessageType::Call
    };
    let timeout_ms = cx
        .remaining()
        .map(|d| Decimal::new(d.as_millis().clamp(1, u64::MAX as u128) as u64));
    let info = |w: &mut HeaderWriter<'_>| {
        let control = announce_control.then_some(("", str_key::CONTROL, "1"));
        w.prefixed_strings(metainfo::outgoing(cx).chain(control));
        let timeout = timeout_ms
            .as_ref()
            .map(|t| (int_key::RPC_TIMEOUT, t.as_str()));
        let caller = (!config.caller.is_empty()).then(|| (int_key::FROM_SERVICE, &*config.caller));
        let callee = (!config.callee.is_empty()).then(|| (int_key::TO_SERVICE, &*config.callee));
        w.ints(
            timeout
                .into_iter()
                .chain(caller)
                .chain(callee)
                .chain([(int_key::TO_METHOD, &*req.method)]),
        );
    };
    if config.kitex_protobuf {
        // Protocol id 0, as Kitex sends it: servers that predate id 4 accept it too.
        return kitex_protobuf::write_frame(
            buf,
            config.framing,
            ttheader::protocol_id::BINARY,
            config.max_frame_size,
            seq_id,
            &req.method,
            kind,
            &info,
            |b| b.extend_from_slice(&req.body),
        );
    }
    write_frame(
        buf,
        config.framing,
        config.protocol,
        config.max_frame_size,
        seq_id,
        &req.method,
        kind,
        &info,
        |b| b.extend_from_slice(&req.body),
    )
}

/// Turns a reply frame into the call's outcome: a result struct, or the status of an
/// exception. Response metadata from the header goes into the context.
pub(crate) fn read_reply(
    cx: &mut Context,
    frame: Frame,
    seq_id: i32,
    limits: DecodeLimits,
) -> Result<ThriftResponse, Status> {
    let Frame {
        header,
        protocol,
        kitex_protobuf,
        mut message,
        ..
    } = frame;
    let mut exact_code = None;
    let (mut biz_status, mut biz_message, mut biz_extra) = (None, None, None);
    if let Some(header) = header {
        for entry in header.entries() {
            match entry {
                Ok(InfoEntry::Str(k, v)) => match &*k {
                    str_key::STATUS_CODE => exact_code = v.parse::<i32>().ok().map(Code::from_i32),
                    str_key::CONNECTION_READY_TO_RESET => {}
                    biz_key::STATUS => biz_status = Some(v),
                    biz_key::MESSAGE => biz_message = Some(v),
                    biz_key::EXTRA => biz_extra = Some(v),
                    _ => {
                        cx.response_metadata_mut().insert(k, v);
                    }
                },
                Ok(_) => {}
                Err(e) => {
                    return Err(Status::internal(format!(
                        "reply header does not decode: {e}"
                    )));
                }
            }
        }
    }
    // A business status (Kitex's BizStatusError) comes in a reply, whatever its body.
    if let Some(biz) = BizStatus::from_entries(biz_status.as_deref(), biz_message, biz_extra) {
        return Err(biz.into());
    }
    if kitex_protobuf {
        return read_protobuf_reply(message, seq_id, protocol, limits, exact_code);
    }
    let envelope = protocol
        .read_message_header(&mut message)
        .map_err(|e| Status::internal(format!("reply envelope does not decode: {e}")))?;
    if envelope.seq_id != seq_id {
        return Err(Status::internal(format!(
            "reply carries sequence id {} for call {seq_id}",
            envelope.seq_id
        )));
    }
    match envelope.kind {
        MessageType::Reply => Ok(ThriftResponse {
            protocol,
            body: message,
            limits,
        }),
        MessageType::Exception => {
            let exception: ApplicationException = protocol
                .decode_with(message, limits)
                .map_err(|e| Status::internal(format!("exception does not decode: {e}")))?;
            Err(exception.into_status(exact_code))
        }
        other => Err(Status::internal(format!("server sent a {other:?} message"))),
    }
}

/// The outcome of a Kitex Protobuf reply: the response message, or the status of an
/// exception (its `ErrorProto`, with the exact code when the header carries one).
fn read_protobuf_reply(
    mut message: bytes::Bytes,
    seq_id: i32,
    protocol: Protocol,
    limits: DecodeLimits,
    exact_code: Option<Code>,
) -> Result<ThriftResponse, Status> {
    let envelope = kitex_protobuf::read_envelope(&mut message)
        .map_err(|e| Status::internal(format!("reply envelope does not decode: {e}")))?;
    match envelope.kind {
        MessageType::Exception => {
            let exception = kitex_protobuf::decode_error(message)
                .ok_or_else(|| Status::internal("exception does not decode"))?;
            Err(exception.into_status(exact_code))
        }
        _ if envelope.seq_id != seq_id => Err(Status::internal(format!(
            "reply carries sequence id {} for call {seq_id}",
            envelope.seq_id
        ))),
        MessageType::Reply => Ok(ThriftResponse {
            protocol,
            body: message,
            limits,
        }),
        other => Err(Status::internal(format!("server sent a {other:?} message"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_formats_like_to_string() {
        for n in [0u64, 7, 10, 999, 1_000_000, u64::MAX] {
            assert_eq!(Decimal::new(n).as_str(), n.to_string());
        }
    }
}
