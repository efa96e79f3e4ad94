//! HTTP on the server's port: health checks over HTTP/1.1 (`GET /health` and
//! `/health/ready`: 200 while serving, 503 otherwise; `/health/live`: 200 while the process
//! answers), the application's own `GET` routes (a `/metrics` endpoint, say: see
//! [`ServerBuilder::http_get`](super::ServerBuilder::http_get)), and everything else, HTTP/2
//! included, handed to the server's [`HttpHandler`].

use std::{
    convert::Infallible,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::{Buf, Bytes};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{
    Shared,
    external::{HttpBody, SharedHandler},
};
use crate::{Health, Stream};

/// The client preface that opens every HTTP/2 connection (RFC 9113, section 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the first bytes of a connection say it speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Sniffed {
    /// An HTTP/1 request line.
    Http1,
    /// The HTTP/2 client preface.
    Http2,
    /// Neither: the native protocol (or garbage, which its decoder refuses).
    Native,
}

/// The HTTP methods whose request lines a connection may start with.
const METHODS: [&[u8]; 9] = [
    b"GET ",
    b"HEAD ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"TRACE ",
    b"CONNECT ",
];

/// What `first` (the first bytes of a connection) is the start of; `None` while it may still
/// be more than one thing.
pub(super) fn sniff(first: &[u8]) -> Option<Sniffed> {
    let mut undecided = false;
    for m in METHODS {
        let n = first.len().min(m.len());
        if first[..n] == m[..n] {
            if first.len() >= m.len() {
                return Some(Sniffed::Http1);
            }
            undecided = true;
        }
    }
    let n = first.len().min(H2_PREFACE.len());
    if first[..n] == H2_PREFACE[..n] {
        if n == H2_PREFACE.len() {
            return Some(Sniffed::Http2);
        }
        undecided = true;
    }
    if undecided {
        None
    } else {
        Some(Sniffed::Native)
    }
}

/// Whether `path` is one of the health checks'.
pub(super) fn is_health_path(path: &str) -> bool {
    matches!(path, "/health" | "/health/ready" | "/health/live")
}

/// A path the server answers `GET` on with a body of the application's making (see
/// [`ServerBuilder::http_get`](super::ServerBuilder::http_get)).
#[derive(Clone)]
pub(crate) struct GetRoute {
    path: String,
    content_type: HeaderValue,
    body: Arc<dyn Fn() -> Bytes + Send + Sync>,
}

impl GetRoute {
    pub(super) fn new(
        path: String,
        content_type: &'static str,
        body: impl Fn() -> Bytes + Send + Sync + 'static,
    ) -> GetRoute {
        GetRoute {
            path,
            content_type: HeaderValue::from_static(content_type),
            body: Arc::new(body),
        }
    }

    pub(super) fn path(&self) -> &str {
        &self.path
    }
}

impl std::fmt::Debug for GetRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetRoute")
            .field("path", &self.path)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

/// What the server answers itself, before any handler: its health checks and routes.
#[derive(Clone)]
struct Own {
    health: Health,
    routes: Arc<[GetRoute]>,
}

impl Own {
    fn of(shared: &Shared) -> Own {
        Own {
            health: shared.config.health.clone(),
            routes: Arc::clone(&shared.config.routes),
        }
    }

    fn route(&self, path: &str) -> Option<&GetRoute> {
        self.routes.iter().find(|r| r.path == path)
    }

    fn answers(&self, path: &str) -> bool {
        is_health_path(path) || self.route(path).is_some()
    }
}

/// Answers one request: a health check from the server's health, a route from its body,
/// anything else from the handler (or 404 without one), the request carrying what the
/// connection's `extensions` hold (the client's TLS certificates).
async fn route(
    own: Own,
    handler: Option<SharedHandler>,
    mut req: Request<Incoming>,
    peer: Option<SocketAddr>,
    extensions: http::Extensions,
) -> Result<Response<HttpBody>, Infallible> {
    if !extensions.is_empty() {
        req.extensions_mut().extend(extensions);
    }
    if let Some(handler) = handler
        && !own.answers(req.uri().path())
    {
        return Ok(handler.0.call(req, peer).await);
    }
    Ok(respond(&own, &req).map(|b| b.map_err(|never| match never {}).boxed_unsync()))
}

/// Serves HTTP/1.1 on a connection whose first bytes were already read into `prefix`.
pub(super) async fn serve(
    stream: Stream,
    prefix: Bytes,
    shared: Arc<Shared>,
    peer: Option<SocketAddr>,
    extensions: http::Extensions,
) {
    let own = Own::of(&shared);
    let handler = shared.config.http.clone();
    let io = TokioIo::new(Rewind {
        prefix,
        inner: stream,
    });
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        route(own.clone(), handler.clone(), req, peer, extensions.clone())
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .max_buf_size(64 * 1024)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let outcome = tokio::select! {
        done = conn.as_mut() => done,
        _ = shared.draining.cancelled() => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                done = conn.as_mut() => done,
                _ = shared.hard_stop.cancelled() => Ok(()),
            }
        }
    };
    if let Err(e) = outcome {
        tracing::debug!(?peer, error = %e, "http connection ended");
    }
}

/// Serves HTTP/2 on a connection whose first bytes (the preface) were already read into
/// `prefix`. On shutdown the client gets a GOAWAY; the streams it opened before finish
/// within the drain timeout.
#[cfg(feature = "http2")]
pub(super) async fn serve_h2(
    stream: Stream,
    prefix: Bytes,
    shared: Arc<Shared>,
    peer: Option<SocketAddr>,
    extensions: http::Extensions,
) {
    let own = Own::of(&shared);
    let handler = shared.config.http.clone();
    let io = TokioIo::new(Rewind {
        prefix,
        inner: stream,
    });
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        route(own.clone(), handler.clone(), req, peer, extensions.clone())
    });
    let executor = Tracked {
        tasks: shared.tasks.clone(),
        hard_stop: shared.hard_stop.clone(),
    };
    let conn = hyper::server::conn::http2::Builder::new(executor)
        .timer(hyper_util::rt::TokioTimer::new())
        // As rookery-grpc's server: room for clients that multiplex thousands of calls on
        // one connection, and still a bound.
        .max_concurrent_streams(4096)
        .max_header_list_size(16 * 1024)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let outcome = tokio::select! {
        done = conn.as_mut() => done,
        _ = shared.draining.cancelled() => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                done = conn.as_mut() => done,
                _ = shared.hard_stop.cancelled() => Ok(()),
            }
        }
    };
    if let Err(e) = outcome {
        tracing::debug!(?peer, error = %e, "http/2 connection ended");
    }
}

/// Runs hyper's per-stream tasks among the server's tasks, so the drain waits for them, and
/// ends them when the drain deadline passes.
#[cfg(feature = "http2")]
#[derive(Clone)]
struct Tracked {
    tasks: tokio_util::task::TaskTracker,
    hard_stop: tokio_util::sync::CancellationToken,
}

#[cfg(feature = "http2")]
impl<F> hyper::rt::Executor<F> for Tracked
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        let hard_stop = self.hard_stop.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                _ = fut => {}
                _ = hard_stop.cancelled() => {}
            }
        });
    }
}

fn respond<B>(own: &Own, req: &Request<B>) -> Response<Full<Bytes>> {
    if let Some(route) = own.route(req.uri().path()) {
        return match *req.method() {
            Method::GET | Method::HEAD => {
                // A HEAD answer carries the headers of a GET and no body (hyper drops it).
                let mut resp = Response::new(Full::new((route.body)()));
                resp.headers_mut()
                    .insert(header::CONTENT_TYPE, route.content_type.clone());
                resp
            }
            _ => {
                let mut resp =
                    Response::new(Full::new(Bytes::from_static(b"{\"error\":\"use GET\"}\n")));
                *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("application/json"),
                );
                resp
            }
        };
    }
    let health = &own.health;
    let state = health.get();
    let (status, body) = match (req.method(), req.uri().path()) {
        (&Method::GET | &Method::HEAD, "/health" | "/health/ready") => {
            let status = if health.is_ready() {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (status, format!("{{\"status\":\"{}\"}}\n", state.as_str()))
        }
        (&Method::GET | &Method::HEAD, "/health/live") => (
            StatusCode::OK,
            format!("{{\"status\":\"{}\"}}\n", state.as_str()),
        ),
        (_, "/health" | "/health/ready" | "/health/live") => (
            StatusCode::METHOD_NOT_ALLOWED,
            "{\"error\":\"use GET\"}\n".to_string(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "{\"error\":\"not found\"}\n".to_string(),
        ),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

/// A stream whose first bytes were read already: they are read again first.
struct Rewind {
    prefix: Bytes,
    inner: Stream,
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.prefix.has_remaining() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_request_lines_and_nothing_else() {
        assert_eq!(sniff(b"GET /health HTTP/1.1"), Some(Sniffed::Http1));
        assert_eq!(sniff(b"GE"), None);
        assert_eq!(sniff(b"DEL"), None);
        assert_eq!(sniff(b"P"), None);
        assert_eq!(sniff(b"POST "), Some(Sniffed::Http1));
        assert_eq!(sniff(b"DELETE "), Some(Sniffed::Http1));
        assert_eq!(sniff(&[0, 0, 0, 10]), Some(Sniffed::Native));
        assert_eq!(sniff(&[0x80, 0x01]), Some(Sniffed::Native));
        assert_eq!(sniff(b"PRI * HTTP/2.0"), None);
        assert_eq!(sniff(H2_PREFACE), Some(Sniffed::Http2));
        assert_eq!(sniff(b"PRI * HTTP/1.1\r\n"), Some(Sniffed::Native));
        assert_eq!(sniff(b""), None);
    }
}
