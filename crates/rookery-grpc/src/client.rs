//! The client: one HTTP/2 connection, every call a stream on it.

use std::{
    fmt,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    task::{Context as TaskContext, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_core::Stream;
use http::{
    HeaderMap, HeaderValue, Request, StatusCode, Uri,
    header::{CONTENT_TYPE, TE, USER_AGENT},
    uri::{Authority, Scheme},
};
use hyper::{body::Incoming, client::conn::http2::SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rookery_codec::protobuf::rpc::{
    MethodDescriptor, ProtoRequest, ProtoResponse, ProtoStreamRequest, Streaming,
};
use rookery_core::{Code, Context, Metadata, Service, Status};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpStream, ToSocketAddrs},
    sync::oneshot,
    time::Sleep,
};

use crate::{
    body::GrpcBody,
    compression::{self, Compression},
    error::status_of,
    frame::{Decoder, too_large},
    metadata::{
        CONTENT_TYPE_GRPC, GRPC_ACCEPT_ENCODING, GRPC_ENCODING, GRPC_TIMEOUT, ResponseHeaders,
        Trailers, code_of_http_status, format_timeout, read_metadata, read_status, write_metadata,
    },
    server::DEFAULT_MAX_RECEIVE_MESSAGE_SIZE,
};

const USER_AGENT_VALUE: &str = concat!("rookery-grpc/", env!("CARGO_PKG_VERSION"));

/// A gRPC client on one HTTP/2 connection, which all its calls share as concurrent streams.
/// Clones share the connection.
///
/// It serves both contracts of generated clients: unary calls
/// (`Service<ProtoRequest, Response = ProtoResponse>`) and calls of every kind
/// (`Service<ProtoStreamRequest, Response = Streaming<Bytes>>`), so a generated `XClient`
/// works over it as it is: `XClient::new(GrpcClient::connect(addr).await?)`.
///
/// The context's deadline goes out as `grpc-timeout` and is enforced here too; its metadata
/// goes out as headers (binary values base64-encoded under `-bin` keys). The response
/// headers' metadata comes back in a [`ResponseHeaders`] the caller put in the context's
/// extensions (and, for unary and server-streaming calls, in [`Context::response_metadata`]
/// too), and the trailing metadata in a [`Trailers`] put there the same way. A failed call's
/// status (code, message, details) is the call's error, or for a streaming call the last item
/// of its response stream. Dropping a call, or its response stream, cancels it (`RST_STREAM`).
///
/// As the Protobuf contract says, a client-streaming or bidirectional call returns at once
/// with its response stream, its request stream being sent meanwhile; the response headers
/// are awaited when that stream is first polled, and a failure before them is its first item.
/// A server may hold its headers until it has a request (grpcio does, until its handler
/// yields), so a caller may await the call and only then feed its first request. Unary and
/// server-streaming calls, whose requests are all sent with the call, return when the
/// response headers arrive.
#[derive(Clone)]
pub struct GrpcClient {
    send: SendRequest<GrpcBody>,
    scheme: Scheme,
    authority: Authority,
    max_receive_message_size: usize,
    max_send_message_size: usize,
    send_compressed: Option<Compression>,
}

impl fmt::Debug for GrpcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcClient")
            .field("authority", &self.authority)
            .field("closed", &self.send.is_closed())
            .finish_non_exhaustive()
    }
}

/// Builds a [`GrpcClient`].
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    max_receive_message_size: usize,
    max_send_message_size: usize,
    max_header_list_size: u32,
    send_compressed: Option<Compression>,
    keepalive_interval: Option<Duration>,
    keepalive_timeout: Duration,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::ClientTlsConfig>,
}

impl Default for ClientBuilder {
    fn default() -> ClientBuilder {
        ClientBuilder {
            max_receive_message_size: DEFAULT_MAX_RECEIVE_MESSAGE_SIZE,
            max_send_message_size: usize::MAX,
            max_header_list_size: 16 * 1024,
            send_compressed: None,
            keepalive_interval: None,
            keepalive_timeout: Duration::from_secs(20),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl ClientBuilder {
    /// The largest message received (4 MiB unless set); a larger one fails its call with
    /// `RESOURCE_EXHAUSTED`.
    pub fn max_receive_message_size(mut self, bytes: usize) -> ClientBuilder {
        self.max_receive_message_size = bytes;
        self
    }

    /// The largest message sent (no limit unless set); a larger one fails its call with
    /// `RESOURCE_EXHAUSTED` without reaching the server.
    pub fn max_send_message_size(mut self, bytes: usize) -> ClientBuilder {
        self.max_send_message_size = bytes;
        self
    }

    /// The largest header list the server may send (16 KiB unless set).
    pub fn max_header_list_size(mut self, bytes: u32) -> ClientBuilder {
        self.max_header_list_size = bytes;
        self
    }

    /// Compresses the messages of every request with `compression` (uncompressed unless
    /// set). The server must speak it: one that does not answers `UNIMPLEMENTED`. Compressed
    /// responses are received in every encoding this build speaks, whatever this says.
    pub fn send_compressed(mut self, compression: Compression) -> ClientBuilder {
        self.send_compressed = Some(compression);
        self
    }

    /// HTTP/2 keepalive: a PING every `interval`, idle or not, and the connection closed
    /// (its calls failing `UNAVAILABLE`) if the answer takes longer than `timeout`. Off unless
    /// set, as in gRPC's clients; servers may refuse pings more often than every 5 minutes.
    pub fn keepalive(mut self, interval: Option<Duration>, timeout: Duration) -> ClientBuilder {
        self.keepalive_interval = interval;
        self.keepalive_timeout = timeout;
        self
    }

    /// Connects over TLS (feature `tls`), as `config` says, with HTTP/2 agreed by ALPN: a
    /// server that does not agree to `h2` is refused, and a handshake that fails (a server
    /// certificate that does not verify, say) fails the connection with `UNAVAILABLE`.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: crate::tls::ClientTlsConfig) -> ClientBuilder {
        self.tls = Some(config);
        self
    }

    /// Connects to `addr`: over HTTP/2 cleartext (prior knowledge), or over TLS when
    /// [`tls`](Self::tls) was set.
    pub async fn connect(self, addr: impl ToSocketAddrs) -> Result<GrpcClient, Status> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| Status::from(e).with_unsent())?;
        let _ = stream.set_nodelay(true);
        let peer = stream
            .peer_addr()
            .map_err(|e| Status::from(e).with_unsent())?;
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            let stream = crate::tls::connect(tls, stream, peer)
                .await
                .map_err(Status::with_unsent)?;
            // The name the server was checked for, as HTTP's authority too.
            let authority = tls
                .configured_server_name()
                .and_then(|name| Authority::try_from(format!("{name}:{}", peer.port())).ok());
            return self.handshake(stream, peer, Scheme::HTTPS, authority).await;
        }
        self.handshake(stream, peer, Scheme::HTTP, None).await
    }

    /// The HTTP/2 handshake over `io`, connected to `peer`.
    async fn handshake<I>(
        self,
        io: I,
        peer: SocketAddr,
        scheme: Scheme,
        authority: Option<Authority>,
    ) -> Result<GrpcClient, Status>
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let authority = match authority {
            Some(authority) => authority,
            None => Authority::try_from(peer.to_string())
                .map_err(|e| Status::internal(format!("authority {peer}: {e}")).with_unsent())?,
        };
        let (send, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .max_header_list_size(self.max_header_list_size)
            .keep_alive_interval(self.keepalive_interval)
            .keep_alive_timeout(self.keepalive_timeout)
            .keep_alive_while_idle(true)
            .handshake(TokioIo::new(io))
            .await
            .map_err(|e| status_of(&e).with_unsent())?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "gRPC connection closed");
            }
        });
        Ok(GrpcClient {
            send,
            scheme,
            authority,
            max_receive_message_size: self.max_receive_message_size,
            max_send_message_size: self.max_send_message_size,
            send_compressed: self.send_compressed,
        })
    }
}

/// How a response began: with headers and a body of messages to come, or with its status in
/// the headers (trailers-only) and `OK`.
enum Started {
    Messages(Decoder<Incoming>),
    Ended,
}

impl GrpcClient {
    /// A builder, to set limits before connecting.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Connects to `addr` with the defaults.
    pub async fn connect(addr: impl ToSocketAddrs) -> Result<GrpcClient, Status> {
        ClientBuilder::default().connect(addr).await
    }

    /// Whether the connection has closed (every call would fail).
    pub fn is_closed(&self) -> bool {
        self.send.is_closed()
    }

    fn request(
        &self,
        cx: &Context,
        method: &MethodDescriptor,
        body: GrpcBody,
    ) -> Result<Request<GrpcBody>, Status> {
        let uri = Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(method.path)
            .build()
            .map_err(|e| Status::internal(format!("path {}: {e}", method.path)).with_unsent())?;
        let mut headers = HeaderMap::with_capacity(4 + cx.metadata().len());
        write_metadata(cx.metadata(), &mut headers);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_GRPC));
        headers.insert(TE, HeaderValue::from_static("trailers"));
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        headers.insert(GRPC_ACCEPT_ENCODING, compression::accept_encoding());
        if let Some(compression) = self.send_compressed {
            headers.insert(GRPC_ENCODING, HeaderValue::from_static(compression.name()));
        }
        if let Some(left) = cx.remaining() {
            if left.is_zero() {
                return Err(
                    Status::deadline_exceeded("the deadline passed before the call").with_unsent(),
                );
            }
            if let Ok(value) = HeaderValue::try_from(format_timeout(left)) {
                headers.insert(GRPC_TIMEOUT, value);
            }
        }
        let mut request = Request::new(body.compressed(self.send_compressed));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        Ok(request)
    }

    /// Sends the request, once the connection can take it, and returns what waits for the
    /// response headers. The request (and its stream of messages) goes out without waiting.
    async fn send(&self, request: Request<GrpcBody>) -> Result<PendingResponse, Status> {
        let mut send = self.send.clone();
        std::future::poll_fn(|task| send.poll_ready(task))
            .await
            .map_err(|e| status_of(&e).with_unsent())?;
        let response = send.send_request(request);
        Ok(Box::pin(async move {
            response.await.map_err(|e| status_of(&e))
        }))
    }
}

/// The response of a request sent, before its headers have arrived.
type PendingResponse =
    Pin<Box<dyn Future<Output = Result<http::Response<Incoming>, Status>> + Send + 'static>>;

/// Reads the response headers: how the response began, its headers' metadata recorded in
/// `response_metadata` and `headers` (when given), and the trailers of a trailers-only
/// response in `trailers`.
fn begin(
    response: http::Response<Incoming>,
    max_receive_message_size: usize,
    response_metadata: Option<&mut Metadata>,
    headers: Option<&ResponseHeaders>,
    trailers: Option<&Trailers>,
) -> Result<Started, Status> {
    let (parts, body) = response.into_parts();
    if let Some(status) = read_status(&parts.headers) {
        // Trailers-only: the headers are the trailers. Their metadata is the response's
        // too, so layers that read the response metadata (a retry pushback, for one) see it
        // whether the call failed at once or not.
        record_trailers(&parts.headers, trailers);
        if let Some(metadata) = response_metadata {
            read_metadata(&parts.headers, metadata);
        }
        if let Some(headers) = headers {
            headers.record(&HeaderMap::new());
        }
        return if status.code() == rookery_core::Code::Ok {
            Ok(Started::Ended)
        } else {
            Err(status)
        };
    }
    if parts.status != StatusCode::OK {
        return Err(Status::new(
            code_of_http_status(parts.status),
            format!("the server answered HTTP status {}", parts.status),
        ));
    }
    let content_type = parts.headers.get(CONTENT_TYPE).map(HeaderValue::as_bytes);
    if !content_type.is_some_and(|t| t.starts_with(CONTENT_TYPE_GRPC.as_bytes())) {
        return Err(Status::unknown(format!(
            "the response's content type is {content_type:?}, not gRPC"
        )));
    }
    let compression = compression::of_header(parts.headers.get(GRPC_ENCODING)).map_err(|name| {
        Status::internal(format!(
            "the response is compressed with {name:?}, which this client does not speak"
        ))
    })?;
    if let Some(metadata) = response_metadata {
        read_metadata(&parts.headers, metadata);
    }
    if let Some(headers) = headers {
        headers.record(&parts.headers);
    }
    Ok(Started::Messages(Decoder::new(
        body,
        max_receive_message_size,
        compression,
    )))
}

/// The status in the trailers that ended `decoder`'s body, with its metadata recorded.
fn finish(decoder: &mut Decoder<Incoming>, trailers: Option<&Trailers>) -> Result<(), Status> {
    let Some(headers) = decoder.take_trailers() else {
        return Err(Status::internal("the response ended without a status"));
    };
    record_trailers(&headers, trailers);
    match read_status(&headers) {
        Some(status) if status.code() == rookery_core::Code::Ok => Ok(()),
        Some(status) => Err(status),
        None => Err(Status::internal(
            "the response's trailers have no grpc-status",
        )),
    }
}

fn record_trailers(headers: &HeaderMap, trailers: Option<&Trailers>) {
    if let Some(trailers) = trailers {
        trailers.update(|m| read_metadata(headers, m));
    }
}

/// `call`, failed with `DEADLINE_EXCEEDED` if `deadline` passes first (see
/// [`blame_deadline`] for a cancellation that comes once it has).
async fn with_deadline<T>(
    deadline: Option<Instant>,
    call: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    match deadline {
        None => call.await,
        Some(deadline) => tokio::time::timeout_at(deadline.into(), call)
            .await
            .unwrap_or_else(|_| Err(deadline_passed()))
            .map_err(|status| blame_deadline(status, Some(deadline))),
    }
}

fn deadline_passed() -> Status {
    Status::deadline_exceeded("the deadline passed before the call completed")
}

/// A call's failure as its caller should see it: a cancellation that arrives once the
/// call's deadline has passed is reported as `DEADLINE_EXCEEDED`.
///
/// A server that gives up on a call at its deadline may reset the stream with `CANCEL`
/// rather than answer with that status (grpc-go's server does), and the reset can arrive
/// before this side's own timer fires, since tokio's timers tick in whole milliseconds,
/// rounded up. The cause is still the deadline, and grpc-go's client reports it so too.
fn blame_deadline(status: Status, deadline: Option<Instant>) -> Status {
    match deadline {
        Some(deadline) if status.code() == Code::Cancelled && Instant::now() >= deadline => {
            Status::deadline_exceeded(format!(
                "the deadline passed before the call completed (then: {})",
                status.message()
            ))
        }
        _ => status,
    }
}

impl Service<ProtoRequest> for GrpcClient {
    type Response = ProtoResponse;

    async fn call(&self, cx: &mut Context, req: ProtoRequest) -> Result<ProtoResponse, Status> {
        if req.body.len() > self.max_send_message_size {
            return Err(
                too_large("sent", req.body.len(), self.max_send_message_size).with_unsent(),
            );
        }
        let request = self.request(cx, req.method, GrpcBody::request_once(req.body))?;
        let trailers = Trailers::of(cx);
        let deadline = cx.deadline();
        let headers = ResponseHeaders::of(cx);
        let max_receive = self.max_receive_message_size;
        let call = async {
            let response = self.send(request).await?.await?;
            let started = begin(
                response,
                max_receive,
                Some(cx.response_metadata_mut()),
                headers.as_ref(),
                trailers.as_ref(),
            )?;
            let mut decoder = match started {
                Started::Messages(decoder) => decoder,
                Started::Ended => return Err(Status::internal("the response has no message")),
            };
            let message = std::future::poll_fn(|task| decoder.poll_message(task)).await?;
            let extra = std::future::poll_fn(|task| decoder.poll_message(task)).await?;
            finish(&mut decoder, trailers.as_ref())?;
            match (message, extra) {
                (Some(body), None) => Ok(ProtoResponse { body }),
                (None, _) => Err(Status::internal("the response has no message")),
                (Some(_), Some(_)) => Err(Status::internal(
                    "a unary response with more than one message",
                )),
            }
        };
        with_deadline(deadline, call).await
    }
}

impl Service<ProtoStreamRequest> for GrpcClient {
    type Response = Streaming<Bytes>;

    /// Sends the call. A unary or server-streaming call returns when the response headers
    /// arrive (they fill the context's response metadata); a client-streaming or
    /// bidirectional call returns at once, its headers awaited when the response stream is
    /// first polled (see [`ResponseHeaders`]). Either way the call fails only for what
    /// stopped it before the server was reached or answered; what comes later is an `Err`
    /// item of the stream.
    async fn call(
        &self,
        cx: &mut Context,
        req: ProtoStreamRequest,
    ) -> Result<Streaming<Bytes>, Status> {
        // Dropping `listening` (with the call, or with its response stream) stops the request
        // stream and resets the HTTP/2 stream.
        let (listening, cancel) = oneshot::channel();
        let body = GrpcBody::request_stream(
            req.messages.into_inner(),
            self.max_send_message_size,
            cancel,
        );
        let request = self.request(cx, req.method, body)?;
        let trailers = Trailers::of(cx);
        let headers = ResponseHeaders::of(cx);
        let deadline = cx.deadline();
        let mut stream = ResponseStream {
            phase: Phase::Done,
            max_receive_message_size: self.max_receive_message_size,
            headers,
            trailers,
            deadline: deadline.map(|d| Box::pin(tokio::time::sleep_until(d.into()))),
            _listening: Some(listening),
        };
        if req.method.kind.client_streams() {
            // The server may say nothing until it has requests, which the caller may send
            // only once it has the response stream: return it now.
            stream.phase = Phase::Starting(self.send(request).await?);
            return Ok(Streaming::new(stream));
        }
        let start = async {
            let response = self.send(request).await?.await?;
            begin(
                response,
                stream.max_receive_message_size,
                Some(cx.response_metadata_mut()),
                stream.headers.as_ref(),
                stream.trailers.as_ref(),
            )
        };
        match with_deadline(deadline, start).await? {
            Started::Ended => Ok(Streaming::empty()),
            Started::Messages(decoder) => {
                stream.phase = Phase::Reading(decoder);
                Ok(Streaming::new(stream))
            }
        }
    }
}

/// Where a streaming call's response is.
enum Phase {
    /// The request is sent; the response headers are awaited.
    Starting(PendingResponse),
    /// The headers are in; messages are read.
    Reading(Decoder<Incoming>),
    /// The status has been yielded (or the call ended well).
    Done,
}

/// The messages of a streaming call's response, then its status; the response headers first,
/// when the call returned before them.
struct ResponseStream {
    phase: Phase,
    max_receive_message_size: usize,
    headers: Option<ResponseHeaders>,
    trailers: Option<Trailers>,
    deadline: Option<Pin<Box<Sleep>>>,
    _listening: Option<oneshot::Sender<()>>,
}

impl ResponseStream {
    fn end(&mut self, result: Result<(), Status>) -> Poll<Option<Result<Bytes, Status>>> {
        let deadline = self
            .deadline
            .take()
            .map(|sleep| sleep.deadline().into_std());
        self.phase = Phase::Done;
        self._listening = None;
        Poll::Ready(
            result
                .err()
                .map(|status| Err(blame_deadline(status, deadline))),
        )
    }
}

impl Stream for ResponseStream {
    type Item = Result<Bytes, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if matches!(this.phase, Phase::Done) {
            return Poll::Ready(None);
        }
        if let Some(sleep) = &mut this.deadline
            && sleep.as_mut().poll(cx).is_ready()
        {
            return this.end(Err(deadline_passed()));
        }
        if let Phase::Starting(response) = &mut this.phase {
            let response = match response.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(status)) => return this.end(Err(status)),
                Poll::Ready(Ok(response)) => response,
            };
            let started = begin(
                response,
                this.max_receive_message_size,
                None,
                this.headers.as_ref(),
                this.trailers.as_ref(),
            );
            match started {
                Ok(Started::Messages(decoder)) => this.phase = Phase::Reading(decoder),
                Ok(Started::Ended) => return this.end(Ok(())),
                Err(status) => return this.end(Err(status)),
            }
        }
        let Phase::Reading(decoder) = &mut this.phase else {
            return Poll::Ready(None);
        };
        match decoder.poll_message(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(Some(message))) => Poll::Ready(Some(Ok(message))),
            Poll::Ready(Err(status)) => this.end(Err(status)),
            Poll::Ready(Ok(None)) => {
                let result = finish(decoder, this.trailers.as_ref());
                this.end(result)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancellation_after_the_deadline_is_the_deadline() {
        let past = Instant::now() - Duration::from_millis(1);
        let reset = Status::cancelled("HTTP/2: stream no longer needed");
        let status = blame_deadline(reset, Some(past));
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
        assert!(
            status.message().contains("stream no longer needed"),
            "{status}"
        );
    }

    #[test]
    fn a_cancellation_before_the_deadline_or_without_one_stays_one() {
        let future = Instant::now() + Duration::from_secs(60);
        for deadline in [Some(future), None] {
            let status = blame_deadline(Status::cancelled("by the server"), deadline);
            assert_eq!(status.code(), Code::Cancelled, "{status}");
        }
    }

    #[test]
    fn other_failures_after_the_deadline_keep_their_code() {
        let past = Instant::now() - Duration::from_millis(1);
        let status = blame_deadline(Status::unavailable("connection reset"), Some(past));
        assert_eq!(status.code(), Code::Unavailable, "{status}");
    }
}
