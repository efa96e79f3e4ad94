//! HTTP/1.1 on the server's port, for health checks: `GET /health` and `/health/ready`
//! (200 while serving, 503 otherwise), `/health/live` (200 while the process answers).

use std::{
    convert::Infallible,
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::{Buf, Bytes};
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::Shared;
use crate::{Health, Stream};

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

/// Whether `first` (the first bytes of a connection) may still be, or already is, the start of
/// an HTTP/1 request line: `Some(true)` it is, `Some(false)` it is not, `None` need more.
pub(super) fn sniff(first: &[u8]) -> Option<bool> {
    let mut undecided = false;
    for m in METHODS {
        let n = first.len().min(m.len());
        if first[..n] == m[..n] {
            if first.len() >= m.len() {
                return Some(true);
            }
            undecided = true;
        }
    }
    if undecided { None } else { Some(false) }
}

/// Serves HTTP/1.1 on a connection whose first bytes were already read into `prefix`.
pub(super) async fn serve(stream: Stream, prefix: Bytes, shared: Arc<Shared>, peer: &str) {
    let health = shared.config.health.clone();
    let io = TokioIo::new(Rewind {
        prefix,
        inner: stream,
    });
    let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        let health = health.clone();
        async move { Ok::<_, Infallible>(respond(&health, &req)) }
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
        tracing::debug!(peer, error = %e, "http connection ended");
    }
}

fn respond<B>(health: &Health, req: &Request<B>) -> Response<Full<Bytes>> {
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
        assert_eq!(sniff(b"GET /health HTTP/1.1"), Some(true));
        assert_eq!(sniff(b"GE"), None);
        assert_eq!(sniff(b"DEL"), None);
        assert_eq!(sniff(b"DELETE "), Some(true));
        assert_eq!(sniff(&[0, 0, 0, 10]), Some(false));
        assert_eq!(sniff(&[0x80, 0x01]), Some(false));
        assert_eq!(sniff(b"PRI * HTTP/2.0"), Some(false));
        assert_eq!(sniff(b""), None);
    }
}
