//! The server: accept loop, per-connection protocol detection, routing, limits, and graceful
//! shutdown.

mod conn;
mod external;
mod http;
mod router;

use std::{io, net::SocketAddr, sync::Arc, time::Duration};

use faststr::FastStr;
use rookery_codec::thrift::DecodeLimits;
use rookery_core::{BoxService, Service};
use tokio::sync::{Semaphore, watch};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

pub use external::{BoxError, HttpBody, HttpFuture, HttpHandler};
pub use router::{IdlService, NamedService, Router};

use crate::{
    Address, DEFAULT_MAX_FRAME_SIZE, Health, HealthState, KitexProtobufRequest,
    KitexProtobufResponse, Listener, ThriftRequest, ThriftResponse,
};

/// Settings of a [`Server`].
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) max_frame_size: usize,
    pub(crate) max_connections: usize,
    pub(crate) drain_timeout: Duration,
    pub(crate) limits: DecodeLimits,
    pub(crate) service_name: FastStr,
    pub(crate) health: Health,
    pub(crate) http: Option<external::SharedHandler>,
    pub(crate) routes: Arc<[http::GetRoute]>,
    pub(crate) protobuf: Option<ProtobufService>,
    /// How long a client has to finish its TLS handshake.
    #[cfg(feature = "tls")]
    pub(crate) handshake_timeout: Duration,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::Acceptor>,
}

/// The service that answers Kitex Protobuf calls.
#[derive(Clone)]
pub(crate) struct ProtobufService(
    pub(crate) BoxService<KitexProtobufRequest, KitexProtobufResponse>,
);

impl std::fmt::Debug for ProtobufService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProtobufService")
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_connections: 10_000,
            drain_timeout: Duration::from_secs(30),
            limits: DecodeLimits::default(),
            service_name: FastStr::empty(),
            health: Health::new(),
            http: None,
            routes: Arc::new([]),
            protobuf: None,
            #[cfg(feature = "tls")]
            handshake_timeout: Duration::from_secs(10),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// Builds a [`Server`].
#[derive(Debug, Default)]
pub struct ServerBuilder {
    config: Config,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::TlsConfig>,
}

impl ServerBuilder {
    /// The largest frame a client may send (16 MiB by default). A larger one closes the
    /// connection before its body is read; a reply over it becomes an error reply.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.config.max_frame_size = bytes.min(i32::MAX as usize);
        self
    }

    /// How many connections may be open at once (10 000 by default); connections past it are
    /// closed as soon as they are accepted, with a logged reason.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.config.max_connections = n.max(1);
        self
    }

    /// How long in-flight calls may run after shutdown starts before they are cut off (30 s
    /// by default).
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.config.drain_timeout = timeout;
        self
    }

    /// How deeply structs and containers in a message may nest (64 by default).
    pub fn max_depth(mut self, depth: u16) -> Self {
        self.config.limits.max_depth = depth;
        self
    }

    /// The name this server is known by (its registry name), put in each call's context as
    /// the callee's service.
    pub fn service_name(mut self, name: impl Into<FastStr>) -> Self {
        self.config.service_name = name.into();
        self
    }

    /// The health this server reports (`rookery.Health` calls and HTTP `/health`). The server
    /// sets it to serving once it listens and to draining when it shuts down; share it to
    /// change it from outside.
    pub fn health(mut self, health: Health) -> Self {
        self.config.health = health;
        self
    }

    /// Hands HTTP on this server's port to `handler`: HTTP/2 connections (gRPC; feature
    /// `http2`, without which they are closed) and HTTP/1 requests other than the health
    /// checks, which the server keeps answering itself. Without a handler those get 404.
    pub fn http_handler(mut self, handler: impl HttpHandler) -> Self {
        self.config.http = Some(external::SharedHandler(std::sync::Arc::new(handler)));
        self
    }

    /// Answers HTTP `GET` (and `HEAD`) requests for `path` on this server's port with what
    /// `body` returns at each request, as `content_type`: a metrics endpoint (`/metrics`),
    /// say. Like the health checks, these are answered by the server itself, over HTTP/1.1
    /// and HTTP/2, before any [`HttpHandler`] sees them; other methods on `path` get 405. A
    /// path given twice keeps its last answer; the health checks' paths cannot be taken.
    pub fn http_get<F>(
        mut self,
        path: impl Into<String>,
        content_type: &'static str,
        body: F,
    ) -> Self
    where
        F: Fn() -> bytes::Bytes + Send + Sync + 'static,
    {
        let route = http::GetRoute::new(path.into(), content_type, body);
        let mut routes: Vec<_> = self
            .config
            .routes
            .iter()
            .filter(|r| r.path() != route.path())
            .cloned()
            .collect();
        if http::is_health_path(route.path()) {
            tracing::warn!(
                path = route.path(),
                "not serving a route on a health check's path"
            );
        } else {
            routes.push(route);
        }
        self.config.routes = routes.into();
        self
    }

    /// Answers Protobuf calls framed the way Kitex frames them in TTHeader (Kitex Protobuf)
    /// with `service`, on the same port as everything else. Without one they are answered
    /// `UNIMPLEMENTED`. The facade's `ServiceBuilder::serve_grpc` sets this to the same
    /// generated servers that answer gRPC.
    pub fn kitex_protobuf<P>(mut self, service: P) -> Self
    where
        P: Service<KitexProtobufRequest, Response = KitexProtobufResponse> + 'static,
    {
        self.config.protobuf = Some(ProtobufService(BoxService::new(service)));
        self
    }

    /// Serves over TLS (feature `tls`) only: each client completes a TLS handshake within the
    /// [handshake timeout](Self::handshake_timeout) before anything else, and with
    /// [client CAs](crate::tls::TlsConfig::client_ca) set, presents a certificate they
    /// issued, which each of its calls then finds in its context
    /// ([`PeerCertificates::of`](crate::tls::PeerCertificates::of)). Every protocol of the
    /// port is served inside TLS; a client that speaks cleartext is disconnected.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: crate::tls::TlsConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// How long a client has to finish its TLS handshake (10 s by default; feature `tls`).
    #[cfg(feature = "tls")]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config.handshake_timeout = timeout;
        self
    }

    /// Builds a server that hands every call to `service`, usually a [`Router`] wrapped in
    /// layers.
    pub fn build<S>(self, service: S) -> Server<S>
    where
        S: Service<ThriftRequest, Response = ThriftResponse> + 'static,
    {
        #[allow(unused_mut)]
        let mut config = self.config;
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            use crate::tls::{ALPN_H2, ALPN_HTTP1};
            // HTTP/2 is offered only where it is served; native clients offer nothing.
            let alpn: &[&[u8]] = if cfg!(feature = "http2") && config.http.is_some() {
                &[ALPN_H2, ALPN_HTTP1]
            } else {
                &[ALPN_HTTP1]
            };
            config.tls = Some(crate::tls::Acceptor::new(tls, alpn));
        }
        Server { config, service }
    }
}

/// A server for the native protocol: it accepts TTHeader, framed and buffered Thrift, binary
/// and compact, on one port, and answers each connection the way it was called.
///
/// ```no_run
/// # use rookery_transport::{Router, Server, Address};
/// # async fn run(router: Router) -> std::io::Result<()> {
/// let handle = Server::builder().build(router).bind(&"127.0.0.1:9090".parse()?).await?;
/// println!("listening on {}", handle.local_addr());
/// handle.stop().await; // drain in-flight calls, then close
/// # Ok(())
/// # }
/// ```
pub struct Server<S> {
    config: Config,
    service: S,
}

impl<S> std::fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .finish()
    }
}

/// What connections share, besides the service.
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// Cancelled when shutdown starts: stop accepting, drain.
    pub(crate) draining: CancellationToken,
    /// Cancelled when the drain deadline passes: cut everything off.
    pub(crate) hard_stop: CancellationToken,
    /// Connection tasks and the handler tasks they spawn.
    pub(crate) tasks: TaskTracker,
}

impl Server<()> {
    /// A builder with the defaults.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }
}

impl<S> Server<S>
where
    S: Service<ThriftRequest, Response = ThriftResponse> + 'static,
{
    /// Binds `addr` and starts serving on it.
    pub async fn bind(self, addr: &Address) -> io::Result<ServerHandle> {
        let listener = addr.bind().await?;
        self.serve(listener)
    }

    /// Starts serving on a bound listener, in a background task.
    pub fn serve(self, listener: Listener) -> io::Result<ServerHandle> {
        let local_addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config: self.config,
            draining: CancellationToken::new(),
            hard_stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
        });
        shared.config.health.set(HealthState::Serving);
        let (done_tx, done_rx) = watch::channel(false);
        tokio::spawn(run(
            listener,
            Arc::new(self.service),
            Arc::clone(&shared),
            done_tx,
        ));
        Ok(ServerHandle {
            local_addr,
            shared,
            done: done_rx,
        })
    }
}

async fn run<S>(listener: Listener, service: Arc<S>, shared: Arc<Shared>, done: watch::Sender<bool>)
where
    S: Service<ThriftRequest, Response = ThriftResponse> + 'static,
{
    let slots = Arc::new(Semaphore::new(shared.config.max_connections));
    let spawn = |stream, peer: Option<std::net::SocketAddr>| {
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(
                peer = ?peer,
                limit = shared.config.max_connections,
                "closing connection: too many connections"
            );
            drop(stream);
            return;
        };
        let conn_shared = Arc::clone(&shared);
        let conn_service = Arc::clone(&service);
        shared.tasks.spawn(async move {
            conn::serve_connection(stream, peer, conn_service, conn_shared).await;
            drop(slot);
        });
    };
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shared.draining.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => spawn(stream, peer),
            Err(e) => {
                // Running out of file descriptors and the like: back off briefly, keep serving.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    // Connections the kernel completed before the listener closes would be reset with it,
    // losing a call their client may already have sent: take them, and serve what they send
    // within the drain's grace, as on any draining connection.
    while let Ok(Some((stream, peer))) = listener.try_accept() {
        spawn(stream, peer);
    }
    drop(listener);
    shared.config.health.set(HealthState::Draining);
    shared.tasks.close();
    tokio::select! {
        _ = shared.tasks.wait() => {}
        _ = tokio::time::sleep(shared.config.drain_timeout) => {
            tracing::warn!(
                remaining = shared.tasks.len(),
                "drain deadline passed; cutting off the calls still running"
            );
            shared.hard_stop.cancel();
            shared.tasks.wait().await;
        }
    }
    let _ = done.send(true);
}

/// Controls a running [`Server`].
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: Address,
    shared: Arc<Shared>,
    done: watch::Receiver<bool>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish()
    }
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> &Address {
        &self.local_addr
    }

    /// The TCP address the server listens on, if it listens on TCP.
    pub fn local_socket_addr(&self) -> Option<SocketAddr> {
        match &self.local_addr {
            Address::Tcp(addr) => Some(*addr),
            Address::Unix(_) => None,
        }
    }

    /// The health the server reports.
    pub fn health(&self) -> &Health {
        &self.shared.config.health
    }

    /// The number of connections and calls being served now.
    pub fn active_tasks(&self) -> usize {
        self.shared.tasks.len()
    }

    /// Starts a graceful shutdown and returns at once: the listener closes, clients are told
    /// to stop sending on their connections, and in-flight calls run to completion within the
    /// drain timeout.
    pub fn shutdown(&self) {
        self.shared.config.health.set(HealthState::Draining);
        self.shared.draining.cancel();
    }

    /// Whether shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.draining.is_cancelled()
    }

    /// Waits until the server has stopped: after [`shutdown`](ServerHandle::shutdown), once
    /// every connection is closed.
    pub async fn wait(&self) {
        let mut done = self.done.clone();
        let _ = done.wait_for(|d| *d).await;
    }

    /// Shuts down gracefully and waits until the server has stopped.
    pub async fn stop(&self) {
        self.shutdown();
        self.wait().await;
    }
}
