//! The server: generated Protobuf services served over HTTP/2 cleartext (prior knowledge), or
//! over TLS (feature `tls`), on a TCP listener.

use std::{
    collections::HashMap,
    convert::Infallible,
    fmt,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::Poll,
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header::CONTENT_TYPE};
use http_body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rookery_codec::protobuf::rpc::{
    MethodDescriptor, MethodKind, ProtoRequest, ProtoResponse, ProtoStreamRequest,
    ServiceDescriptor, Streaming,
};
use rookery_core::{BoxService, Context, FastStr, Service, Status};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinSet,
    time::Instant as Deadline,
};

use crate::{
    body::GrpcBody,
    compression::{self, Compression},
    frame::{Decoder, too_large},
    metadata::{
        CONTENT_TYPE_GRPC, GRPC_ACCEPT_ENCODING, GRPC_ENCODING, GRPC_TIMEOUT, Trailers,
        parse_timeout, read_metadata, write_metadata, write_status,
    },
    preface,
    web::{Cors, WebServer},
};

/// The largest message a server or client receives unless told otherwise: 4 MiB, as every
/// gRPC implementation.
pub const DEFAULT_MAX_RECEIVE_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// A gRPC server: services registered by their descriptors, limits, and the HTTP/2 settings
/// it offers. Built by [`Server::builder`], run by [`serve`](Server::serve) or
/// [`serve_with_shutdown`](Server::serve_with_shutdown).
///
/// ```no_run
/// # async fn run<S>(descriptor: &'static rookery_codec::protobuf::rpc::ServiceDescriptor, service: S)
/// # -> std::io::Result<()>
/// # where S: rookery_grpc::GrpcService {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:50051").await?;
/// rookery_grpc::Server::builder()
///     .add_service(descriptor, service) // e.g. (GreeterServer::<H>::SERVICE, GreeterServer::new(h))
///     .build()
///     .serve_with_shutdown(listener, async { tokio::signal::ctrl_c().await.ok(); })
///     .await
/// # }
/// ```
#[derive(Clone)]
pub struct Server {
    router: Router,
    http2: hyper::server::conn::http2::Builder<TokioExecutor>,
    handshake_timeout: Duration,
    web: Option<Arc<WebServer>>,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::Acceptor>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("router", &self.router)
            .finish_non_exhaustive()
    }
}

/// What a service must be to be served: a generated server (`XServer<H>`), or one wrapped in
/// layers, answering both Protobuf contracts (unary, and streaming of every kind): for
/// instance `Observe<XServer<H>, O>`, which reports every call's open, messages and close to
/// an observer ([`rookery_codec::protobuf::observe`]).
pub trait GrpcService:
    Service<ProtoRequest, Response = ProtoResponse>
    + Service<ProtoStreamRequest, Response = Streaming<Bytes>>
    + 'static
{
}

impl<S> GrpcService for S where
    S: Service<ProtoRequest, Response = ProtoResponse>
        + Service<ProtoStreamRequest, Response = Streaming<Bytes>>
        + 'static
{
}

/// The most calls one client connection may have open at once unless set otherwise.
///
/// gRPC clients multiplex every call on one connection: a client with a thousand calls in
/// flight needs a thousand streams, and under a lower limit (hyper's 200) the rest queue in
/// the client. grpc-go and tonic set no limit at all; this keeps one, so what a connection can
/// hold stays bounded.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 4096;

/// Builds a [`Server`].
#[derive(Debug)]
pub struct ServerBuilder {
    router: Router,
    max_concurrent_streams: Option<u32>,
    max_header_list_size: u32,
    web: Option<Cors>,
    handshake_timeout: Duration,
    keepalive_interval: Option<Duration>,
    keepalive_timeout: Duration,
    max_pending_accept_reset_streams: Option<usize>,
    max_local_error_reset_streams: Option<usize>,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::TlsConfig>,
}

impl Server {
    /// A builder with the defaults: 4 MiB received per message, no limit on messages sent,
    /// 4096 concurrent streams per connection, 16 KiB of header list, 10 s for a client's
    /// preface, a keepalive ping every 2 hours answered within 20 s (gRPC's server defaults),
    /// and hyper's limits on reset streams (20 reset before they were served, 1024 reset for
    /// errors), past which the connection ends with a GOAWAY.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            router: Router::new(),
            max_concurrent_streams: Some(DEFAULT_MAX_CONCURRENT_STREAMS),
            max_header_list_size: 16 * 1024,
            web: None,
            handshake_timeout: Duration::from_secs(10),
            keepalive_interval: Some(Duration::from_secs(2 * 60 * 60)),
            keepalive_timeout: Duration::from_secs(20),
            max_pending_accept_reset_streams: Some(20),
            max_local_error_reset_streams: Some(1024),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// The router that maps calls to services, to serve it in other ways.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Serves connections from `listener` until an accept error that is not about one
    /// connection.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<()> {
        self.serve_with_shutdown(listener, std::future::pending())
            .await
    }

    /// Serves connections from `listener` until `signal` completes; then stops accepting,
    /// sends every connection a GOAWAY, lets the calls in flight finish, and returns when the
    /// last connection has closed.
    pub async fn serve_with_shutdown(
        self,
        listener: TcpListener,
        signal: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut connections = JoinSet::new();
        let mut signal = std::pin::pin!(signal);
        loop {
            tokio::select! {
                () = &mut signal => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        connections.spawn(self.clone().connection(stream, peer, shutdown_rx.clone()));
                    }
                    Err(e) if is_connection_error(&e) => {
                        tracing::debug!(error = %e, "accepting a connection");
                    }
                    Err(e) => {
                        // Out of file descriptors, most likely: wait for some to close.
                        tracing::warn!(error = %e, "accepting connections");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(listener);
        let _ = shutdown.send(true);
        while connections.join_next().await.is_some() {}
        Ok(())
    }

    async fn connection(
        self,
        stream: TcpStream,
        peer: SocketAddr,
        shutdown: watch::Receiver<bool>,
    ) {
        // A client that connects and never finishes its handshake (TLS's, then the HTTP/2
        // preface) costs its socket for this long.
        let deadline = Deadline::now().checked_add(self.handshake_timeout);
        #[cfg(feature = "tls")]
        if let Some(acceptor) = &self.tls {
            let mut shutdown = shutdown;
            let handshake = before(deadline, crate::tls::accept(acceptor, stream));
            let accepted = tokio::select! {
                accepted = handshake => accepted,
                _ = shutdown.wait_for(|&stop| stop) => return,
            };
            return match accepted {
                Some(Ok((stream, extensions))) => {
                    self.serve_connection(stream, peer, extensions, deadline, shutdown)
                        .await
                }
                Some(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed; closing"),
                None => tracing::debug!(%peer, "no TLS handshake in time; closing"),
            };
        }
        self.serve_connection(stream, peer, http::Extensions::new(), deadline, shutdown)
            .await
    }

    /// Serves HTTP/2 (and HTTP/1.1 for gRPC-Web) on a connection whose TLS handshake, if any,
    /// is done, its requests carrying `extensions` (what TLS told of the client).
    async fn serve_connection<I>(
        self,
        stream: I,
        peer: SocketAddr,
        extensions: http::Extensions,
        deadline: Option<Deadline>,
        mut shutdown: watch::Receiver<bool>,
    ) where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        if let Some(web) = &self.web {
            let http2 = &self.http2;
            return web
                .serve_connection(
                    http2,
                    deadline,
                    self.router,
                    stream,
                    peer,
                    extensions,
                    shutdown,
                )
                .await;
        }
        let preface = before(deadline, preface::read(stream));
        let stream = tokio::select! {
            read = preface => match read {
                Some(Ok(stream)) => stream,
                Some(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "no HTTP/2 preface; closing");
                    return;
                }
                None => {
                    tracing::debug!(%peer, "no HTTP/2 preface in time; closing");
                    return;
                }
            },
            _ = shutdown.wait_for(|&stop| stop) => return,
        };
        let router = self.router;
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            let router = router.clone();
            if !extensions.is_empty() {
                req.extensions_mut().extend(extensions.clone());
            }
            // Boxed: hyper moves the future of every request into a task of its own, and
            // a pointer moves faster than the whole call's state (callgrind showed the copies).
            let call = Box::pin(async move { router.handle(req, Some(peer)).await });
            async move { Ok::<_, Infallible>(call.await) }
        });
        let conn = self.http2.serve_connection(TokioIo::new(stream), service);
        let mut conn = std::pin::pin!(conn);
        let result = tokio::select! {
            result = conn.as_mut() => result,
            () = async { let _ = shutdown.wait_for(|&stop| stop).await; } => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = result {
            tracing::debug!(%peer, error = %e, "connection closed");
        }
    }
}

/// `f`'s output, or `None` if `deadline` passes first (never, without one).
pub(crate) async fn before<F: Future>(deadline: Option<Deadline>, f: F) -> Option<F::Output> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, f).await.ok(),
        None => Some(f.await),
    }
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    )
}

impl ServerBuilder {
    /// Serves `service` under the name and methods of `descriptor` (a generated server's
    /// `XServer::<H>::SERVICE`). A service registered again under the same name replaces the
    /// first.
    pub fn add_service<S: GrpcService>(
        mut self,
        descriptor: &'static ServiceDescriptor,
        service: S,
    ) -> ServerBuilder {
        self.router = self.router.add_service(descriptor, service);
        self
    }

    /// The largest message received (4 MiB unless set); a larger one is answered
    /// `RESOURCE_EXHAUSTED`, and the connection carries on.
    pub fn max_receive_message_size(mut self, bytes: usize) -> ServerBuilder {
        self.router.max_receive_message_size = bytes;
        self
    }

    /// The largest message sent (no limit unless set); a handler that answers a larger one
    /// ends its call with `RESOURCE_EXHAUSTED`.
    pub fn max_send_message_size(mut self, bytes: usize) -> ServerBuilder {
        self.router.max_send_message_size = bytes;
        self
    }

    /// Compresses the messages of responses with `compression` when the caller's
    /// `grpc-accept-encoding` lists it (uncompressed unless set). Compressed requests are
    /// received in every encoding this build speaks, whatever this says.
    pub fn send_compressed(mut self, compression: Compression) -> ServerBuilder {
        self.router.send_compressed = Some(compression);
        self
    }

    /// The most calls a client may have open at once on one connection (HTTP/2's
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`; 4096 unless set, `None` for no limit).
    pub fn max_concurrent_streams(mut self, streams: Option<u32>) -> ServerBuilder {
        self.max_concurrent_streams = streams;
        self
    }

    /// The largest header list a client may send (HTTP/2's `SETTINGS_MAX_HEADER_LIST_SIZE`;
    /// 16 KiB unless set).
    pub fn max_header_list_size(mut self, bytes: u32) -> ServerBuilder {
        self.max_header_list_size = bytes;
        self
    }

    /// How long a client has, once connected, to send the HTTP/2 connection preface (10 s
    /// unless set), its TLS handshake included when the server has TLS; one that sends
    /// nothing, or something else, is disconnected.
    pub fn handshake_timeout(mut self, timeout: Duration) -> ServerBuilder {
        self.handshake_timeout = timeout;
        self
    }

    /// HTTP/2 keepalive: a PING every `interval` (`None`: never), and the connection closed
    /// if its answer takes longer than `timeout`. Every 2 hours within 20 s unless set.
    pub fn keepalive(mut self, interval: Option<Duration>, timeout: Duration) -> ServerBuilder {
        self.keepalive_interval = interval;
        self.keepalive_timeout = timeout;
        self
    }

    /// How many streams a client may reset before the server has served them, at once,
    /// before the connection ends with a GOAWAY (`ENHANCE_YOUR_CALM`): the guard against
    /// rapid reset floods. 20 unless set; `None` for no limit.
    pub fn max_pending_accept_reset_streams(mut self, max: Option<usize>) -> ServerBuilder {
        self.max_pending_accept_reset_streams = max;
        self
    }

    /// How many streams the server may reset for a client's protocol errors before the
    /// connection ends with a GOAWAY. 1024 unless set; `None` for no limit.
    pub fn max_local_error_reset_streams(mut self, max: Option<usize>) -> ServerBuilder {
        self.max_local_error_reset_streams = max;
        self
    }

    /// Serves gRPC-Web too, from the pages `cors` allows, on the same port: the server then
    /// accepts HTTP/1.1 connections beside HTTP/2 ones, and answers requests of content
    /// type `application/grpc-web` (and `-text`, base64) with the same services and limits
    /// (see [`GrpcWeb`](crate::web::GrpcWeb)).
    pub fn grpc_web(mut self, cors: Cors) -> ServerBuilder {
        self.web = Some(cors);
        self
    }

    /// Serves over TLS (feature `tls`) only: clients must complete a TLS handshake within
    /// the [handshake timeout](Self::handshake_timeout) (then send the HTTP/2 preface within
    /// what is left of it), and agree by ALPN to `h2` (or `http/1.1`, for gRPC-Web when the
    /// server [serves it](Self::grpc_web)). A client that speaks cleartext is disconnected.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: crate::tls::TlsConfig) -> ServerBuilder {
        self.tls = Some(config);
        self
    }

    /// The server.
    pub fn build(self) -> Server {
        let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_concurrent_streams(self.max_concurrent_streams)
            .max_header_list_size(self.max_header_list_size)
            .keep_alive_interval(self.keepalive_interval)
            .keep_alive_timeout(self.keepalive_timeout)
            .max_pending_accept_reset_streams(self.max_pending_accept_reset_streams)
            .max_local_error_reset_streams(self.max_local_error_reset_streams);
        Server {
            router: self.router,
            http2,
            handshake_timeout: self.handshake_timeout,
            #[cfg(feature = "tls")]
            tls: self.tls.map(|tls| {
                use crate::tls::{ALPN_H2, ALPN_HTTP1, acceptor};
                match self.web {
                    Some(_) => acceptor(&tls, &[ALPN_H2, ALPN_HTTP1]),
                    None => acceptor(&tls, &[ALPN_H2]),
                }
            }),
            web: self
                .web
                .map(|cors| Arc::new(WebServer::new(cors, self.max_header_list_size))),
        }
    }
}

/// Maps each call to its service by the `:path` of the request, and runs it: the HTTP side
/// of a [`Server`], to be served in other ways too.
#[derive(Clone)]
pub struct Router {
    services: Arc<HashMap<&'static str, Registered>>,
    max_receive_message_size: usize,
    max_send_message_size: usize,
    send_compressed: Option<Compression>,
}

#[derive(Clone)]
struct Registered {
    unary: BoxService<ProtoRequest, ProtoResponse>,
    streaming: BoxService<ProtoStreamRequest, Streaming<Bytes>>,
    descriptor: &'static ServiceDescriptor,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.services.keys().copied().collect();
        names.sort_unstable();
        f.debug_struct("Router")
            .field("services", &names)
            .field("max_receive_message_size", &self.max_receive_message_size)
            .field("max_send_message_size", &self.max_send_message_size)
            .field("send_compressed", &self.send_compressed)
            .finish()
    }
}

impl Default for Router {
    fn default() -> Router {
        Router::new()
    }
}

impl Router {
    /// A router with no services and the default limits.
    pub fn new() -> Router {
        Router {
            services: Arc::new(HashMap::new()),
            max_receive_message_size: DEFAULT_MAX_RECEIVE_MESSAGE_SIZE,
            max_send_message_size: usize::MAX,
            send_compressed: None,
        }
    }

    /// Routes the methods of `descriptor` to `service`.
    pub fn add_service<S: GrpcService>(
        mut self,
        descriptor: &'static ServiceDescriptor,
        service: S,
    ) -> Router {
        let service = Arc::new(service);
        let registered = Registered {
            unary: BoxService::new(Arc::clone(&service)),
            streaming: BoxService::new(service),
            descriptor,
        };
        Arc::make_mut(&mut self.services).insert(descriptor.name, registered);
        self
    }

    /// Replaces each routed service by what `wrap` makes of it (the service's unary and
    /// streaming sides, boxed): how layers are put around services registered before.
    pub fn map_services<F>(mut self, mut wrap: F) -> Router
    where
        F: FnMut(
            &'static ServiceDescriptor,
            BoxService<ProtoRequest, ProtoResponse>,
            BoxService<ProtoStreamRequest, Streaming<Bytes>>,
        ) -> (
            BoxService<ProtoRequest, ProtoResponse>,
            BoxService<ProtoStreamRequest, Streaming<Bytes>>,
        ),
    {
        let services = Arc::make_mut(&mut self.services);
        for registered in services.values_mut() {
            let (unary, streaming) = wrap(
                registered.descriptor,
                registered.unary.clone(),
                registered.streaming.clone(),
            );
            registered.unary = unary;
            registered.streaming = streaming;
        }
        self
    }

    /// The kind of the method at `path`, if one is routed.
    pub(crate) fn method_kind(&self, path: &str) -> Option<MethodKind> {
        self.lookup(path).map(|(_, method)| method.kind)
    }

    fn lookup(&self, path: &str) -> Option<(&Registered, &'static MethodDescriptor)> {
        let (service, _) = path.strip_prefix('/')?.split_once('/')?;
        let registered = self.services.get(service)?;
        let method = registered.descriptor.method_by_path(path)?;
        Some((registered, method))
    }

    /// Answers one HTTP/2 request: the call's response headers, and a body that streams its
    /// messages and ends with its status. Errors before the first message are answered in the
    /// headers alone (trailers-only).
    pub async fn handle<B>(&self, req: Request<B>, peer: Option<SocketAddr>) -> Response<GrpcBody>
    where
        B: Body + Unpin + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        if req.method() != http::Method::POST {
            return http_error(StatusCode::METHOD_NOT_ALLOWED);
        }
        if !is_grpc_content_type(req.headers().get(CONTENT_TYPE)) {
            return http_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
        let (parts, body) = req.into_parts();
        let Some((service, method)) = self.lookup(parts.uri.path()) else {
            let status = Status::unimplemented(format!(
                "no service here has the method {}",
                parts.uri.path()
            ));
            return trailers_only(&status, &HeaderMap::new());
        };
        let received_compression = match compression::of_header(parts.headers.get(GRPC_ENCODING)) {
            Ok(compression) => compression,
            Err(name) => {
                let status = Status::unimplemented(format!(
                    "messages compressed with {name:?} are not accepted"
                ));
                return trailers_only(&status, &HeaderMap::new());
            }
        };
        let send_compression = self
            .send_compressed
            .filter(|&c| compression::accepts(parts.headers.get(GRPC_ACCEPT_ENCODING), c));

        let mut cx = Context::new();
        read_metadata(&parts.headers, cx.metadata_mut());
        if let Some(timeout) = parts.headers.get(GRPC_TIMEOUT) {
            match parse_timeout(timeout.as_bytes()) {
                Some(timeout) => cx.set_deadline(Instant::now().checked_add(timeout)),
                None => {
                    let status = Status::internal(format!("malformed grpc-timeout {timeout:?}"));
                    return trailers_only(&status, &HeaderMap::new());
                }
            }
        }
        let callee = cx.callee_mut();
        callee.service = FastStr::from_static_str(method.service);
        callee.method = FastStr::from_static_str(method.name);
        if let Some(peer) = peer {
            cx.caller_mut().address = Some(FastStr::from_string(peer.to_string()));
        }
        #[cfg(feature = "tls")]
        if let Some(certificates) = parts.extensions.get::<crate::tls::PeerCertificates>() {
            cx.extensions_mut().insert(certificates.clone());
        }
        let trailers = Trailers::new();
        cx.extensions_mut().insert(trailers.clone());
        let deadline = cx.deadline();
        let decoder = Decoder::new(body, self.max_receive_message_size, received_compression);

        let call = async {
            match method.kind {
                MethodKind::Unary => self.unary(service, method, &mut cx, decoder).await,
                _ => {
                    let req = ProtoStreamRequest {
                        method,
                        messages: Streaming::new(Messages(decoder)),
                    };
                    service
                        .streaming
                        .call(&mut cx, req)
                        .await
                        .map(Answer::Stream)
                }
            }
        };
        let answer = match deadline {
            None => call.await,
            Some(deadline) => tokio::time::timeout_at(deadline.into(), call)
                .await
                .unwrap_or_else(|_| {
                    Err(Status::deadline_exceeded(
                        "the deadline passed before the handler answered",
                    ))
                }),
        };

        let mut headers = HeaderMap::new();
        write_metadata(cx.response_metadata(), &mut headers);
        if let Some(compression) = send_compression
            && answer.is_ok()
        {
            headers.insert(GRPC_ENCODING, HeaderValue::from_static(compression.name()));
        }
        match answer {
            Ok(Answer::Once(message)) => ok_response(
                headers,
                GrpcBody::response_once(message, trailers).compressed(send_compression),
            ),
            Ok(Answer::Stream(messages)) => {
                let body = GrpcBody::response_stream(
                    messages.into_inner(),
                    trailers,
                    self.max_send_message_size,
                    deadline,
                )
                .compressed(send_compression);
                ok_response(headers, body)
            }
            Err(status) => {
                tracing::debug!(method = method.path, %status, "call failed");
                write_metadata(&trailers.take(), &mut headers);
                trailers_only(&status, &headers)
            }
        }
    }

    async fn unary<B>(
        &self,
        service: &Registered,
        method: &'static MethodDescriptor,
        cx: &mut Context,
        mut decoder: Decoder<B>,
    ) -> Result<Answer, Status>
    where
        B: Body + Unpin,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let Some(body) = std::future::poll_fn(|task| decoder.poll_message(task)).await? else {
            return Err(Status::internal("the request has no message"));
        };
        if std::future::poll_fn(|task| decoder.poll_message(task))
            .await?
            .is_some()
        {
            return Err(Status::internal(
                "a unary request with more than one message",
            ));
        }
        drop(decoder);
        let response = service
            .unary
            .call(cx, ProtoRequest { method, body })
            .await?;
        if response.body.len() > self.max_send_message_size {
            return Err(too_large(
                "sent",
                response.body.len(),
                self.max_send_message_size,
            ));
        }
        Ok(Answer::Once(response.body))
    }
}

enum Answer {
    Once(Bytes),
    Stream(Streaming<Bytes>),
}

/// The messages of a request body, as the handler's stream.
struct Messages<B>(Decoder<B>);

impl<B> Stream for Messages<B>
where
    B: Body + Unpin,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Item = Result<Bytes, Status>;

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Self::Item>> {
        self.get_mut().0.poll_message(cx).map(Result::transpose)
    }
}

fn is_grpc_content_type(value: Option<&HeaderValue>) -> bool {
    let Some(value) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(rest) = value.strip_prefix(CONTENT_TYPE_GRPC) else {
        return false;
    };
    rest.is_empty() || rest.starts_with(';') || rest == "+proto" || rest.starts_with("+proto;")
}

fn ok_response(headers: HeaderMap, body: GrpcBody) -> Response<GrpcBody> {
    let mut response = Response::new(body);
    *response.headers_mut() = headers;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_GRPC));
    // What this server receives, so that a client may compress its next calls.
    headers.insert(GRPC_ACCEPT_ENCODING, compression::accept_encoding());
    response
}

/// A response whose headers carry the status: for an error before any message.
fn trailers_only(status: &Status, headers: &HeaderMap) -> Response<GrpcBody> {
    let mut response = ok_response(headers.clone(), GrpcBody::empty());
    write_status(status, response.headers_mut());
    response
}

fn http_error(code: StatusCode) -> Response<GrpcBody> {
    let mut response = Response::new(GrpcBody::empty());
    *response.status_mut() = code;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_content_types_are_recognised() {
        let ok = |v: &'static str| is_grpc_content_type(Some(&HeaderValue::from_static(v)));
        assert!(ok("application/grpc"));
        assert!(ok("application/grpc+proto"));
        assert!(ok("application/grpc;charset=utf-8"));
        assert!(!ok("application/grpc+json"));
        assert!(!ok("application/grpcx"));
        assert!(!ok("text/plain"));
        assert!(!is_grpc_content_type(None));
    }
}
