//! Handing HTTP on the server's port to a service the transport does not know: gRPC over
//! HTTP/2 (and, over HTTP/1, gRPC-Web or anything else) served beside the native protocol.

use std::{fmt, future::Future, net::SocketAddr, pin::Pin, sync::Arc};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;

/// The error of an [`HttpBody`]: whatever the handler's body fails with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of a response from an [`HttpHandler`]: any body of `Bytes`, boxed
/// (`body.map_err(Into::into).boxed_unsync()`).
pub type HttpBody = UnsyncBoxBody<Bytes, BoxError>;

/// What an [`HttpHandler`] returns for one request.
pub type HttpFuture = Pin<Box<dyn Future<Output = Response<HttpBody>> + Send>>;

/// An HTTP service the server hands requests to: every request of an HTTP/2 connection (the
/// client's preface `PRI * HTTP/2.0` tells one apart from the native protocol), and requests
/// of HTTP/1 connections whose paths are not the health checks'.
///
/// The server owns the connections: it speaks HTTP with hyper, and on shutdown ends HTTP/2
/// connections with a GOAWAY and lets the requests in flight finish within the drain
/// timeout. A handler only answers requests; errors are responses (a gRPC handler puts its
/// status in the response), so there is no error type.
///
/// Any `Fn(Request<Incoming>, Option<SocketAddr>) -> impl Future<Output = Response<HttpBody>>`
/// is a handler.
pub trait HttpHandler: Send + Sync + 'static {
    /// Answers `req`, which came from `peer` (`None` on a Unix socket).
    fn call(&self, req: Request<Incoming>, peer: Option<SocketAddr>) -> HttpFuture;
}

impl<F, Fut> HttpHandler for F
where
    F: Fn(Request<Incoming>, Option<SocketAddr>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<HttpBody>> + Send + 'static,
{
    fn call(&self, req: Request<Incoming>, peer: Option<SocketAddr>) -> HttpFuture {
        Box::pin(self(req, peer))
    }
}

/// The handler a server was given, shared by its connections.
#[derive(Clone)]
pub(crate) struct SharedHandler(pub(crate) Arc<dyn HttpHandler>);

impl fmt::Debug for SharedHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HttpHandler")
    }
}
