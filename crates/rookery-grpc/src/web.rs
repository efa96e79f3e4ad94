//! gRPC-Web: calls from browsers, over HTTP/1.1 or HTTP/2, on the port that
//! serves gRPC, with CORS.
//!
//! A gRPC-Web request (`content-type: application/grpc-web`, `application/grpc-web+proto`,
//! or their `-text` forms whose body is base64) is the gRPC call it carries, handed to the
//! same [`Router`], under the same limits (message sizes, `grpc-timeout`). The response has
//! the call's messages in its body, then its trailers as one more frame, flagged `0x80`, of
//! `name: value\r\n` lines (a call that fails before any message has that frame alone); a
//! `-text` response is base64, each chunk encoded on its own so that a client decodes it as
//! it streams. Browsers send a request body whole, so unary and server-streaming calls are
//! served; client and bidirectional streaming methods answer `UNIMPLEMENTED`. Over HTTP/1.1 a
//! call refused before its whole body was read (a message over the receive limit) closes its
//! connection once answered, since the rest of the body is left unread; over HTTP/2 the
//! connection carries on.
//!
//! [`ServerBuilder::grpc_web`](crate::ServerBuilder::grpc_web) turns it on for a [`Server`]
//! (which then accepts HTTP/1.1 connections too); [`GrpcWeb`] serves it in other ways.
//!
//! [`Server`]: crate::Server

mod body;
mod cors;
mod request;
mod sniff;

use std::{convert::Infallible, fmt, net::SocketAddr, pin::Pin, sync::Arc, task::Poll};

use bytes::Bytes;
use http::{
    HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version,
    header::{CONTENT_LENGTH, CONTENT_TYPE, ORIGIN},
};
use http_body::{Body, Frame, SizeHint};
use hyper::{
    body::Incoming,
    server::conn::{http1, http2},
};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rookery_codec::protobuf::rpc::MethodKind;
use rookery_core::Status;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    sync::watch,
    time::Instant,
};

pub use body::WebBody;
pub use cors::Cors;

use crate::{
    Router,
    body::GrpcBody,
    metadata::{CONTENT_TYPE_GRPC, GRPC_MESSAGE, GRPC_STATUS, GRPC_STATUS_DETAILS, write_status},
};
use request::RequestBody;
use sniff::{Http, sniff};

const CONTENT_TYPE_WEB: &str = "application/grpc-web+proto";
const CONTENT_TYPE_WEB_TEXT: &str = "application/grpc-web-text+proto";

/// Serves gRPC-Web calls with a [`Router`]'s services under [`Cors`] rules: what a
/// [`Server`](crate::Server) built with
/// [`grpc_web`](crate::ServerBuilder::grpc_web) does for them, to serve them in other ways
/// (behind another HTTP server, say).
///
/// ```
/// # fn run(router: rookery_grpc::Router) {
/// use rookery_grpc::web::{Cors, GrpcWeb};
///
/// let web = GrpcWeb::new(router, Cors::allow_origins(["https://app.example.com"]));
/// // For each request `req` that GrpcWeb::is_grpc_web(&req) picks:
/// //     let response = web.handle(req, Some(peer)).await;
/// # let _ = web;
/// # }
/// ```
#[derive(Clone)]
pub struct GrpcWeb {
    router: Router,
    cors: Arc<Cors>,
}

impl fmt::Debug for GrpcWeb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcWeb")
            .field("router", &self.router)
            .field("cors", &self.cors)
            .finish()
    }
}

/// The two encodings of gRPC-Web bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Binary,
    Text,
}

impl GrpcWeb {
    /// Serves the calls `router` routes, from the pages `cors` allows.
    pub fn new(router: Router, cors: Cors) -> GrpcWeb {
        GrpcWeb {
            router,
            cors: Arc::new(cors),
        }
    }

    /// Whether `req` is for gRPC-Web rather than gRPC: a CORS preflight (`OPTIONS`), or a
    /// request whose content type is `application/grpc-web` or one of its forms.
    pub fn is_grpc_web<B>(req: &Request<B>) -> bool {
        req.method() == Method::OPTIONS || is_web_content_type(req.headers().get(CONTENT_TYPE))
    }

    /// Answers one gRPC-Web request: a preflight with the CORS rules; a call with its
    /// messages and its trailers in the body. A request that is not gRPC-Web is answered
    /// `415 Unsupported Media Type`, a method other than `POST` `405 Method Not Allowed`, a
    /// call from an origin the rules do not allow `403 Forbidden`.
    pub async fn handle<B>(&self, req: Request<B>, peer: Option<SocketAddr>) -> Response<WebBody>
    where
        B: Body + Unpin + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        if req.method() == Method::OPTIONS {
            return self.cors.preflight(req.headers());
        }
        let origin = req.headers().get(ORIGIN).cloned();
        let origin = origin.as_ref();
        if !self.cors.allows(origin) {
            return self.refuse(origin, StatusCode::FORBIDDEN);
        }
        let Some(mode) = mode_of(req.headers().get(CONTENT_TYPE)) else {
            return self.refuse(origin, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        };
        if req.method() != Method::POST {
            return self.refuse(origin, StatusCode::METHOD_NOT_ALLOWED);
        }
        let mut response = self.call(req, mode, peer).await;
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static(match mode {
                Mode::Binary => CONTENT_TYPE_WEB,
                Mode::Text => CONTENT_TYPE_WEB_TEXT,
            }),
        );
        // Allowed, as checked above.
        let _ = self.cors.allow(origin, &mut response);
        response
    }

    /// The call, through the router, with the response recast for gRPC-Web.
    async fn call<B>(
        &self,
        req: Request<B>,
        mode: Mode,
        peer: Option<SocketAddr>,
    ) -> Response<WebBody>
    where
        B: Body + Unpin + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let text = mode == Mode::Text;
        if let Some(kind @ (MethodKind::ClientStreaming | MethodKind::BidiStreaming)) =
            self.router.method_kind(req.uri().path())
        {
            let what = match kind {
                MethodKind::ClientStreaming => "client streaming",
                _ => "bidirectional streaming",
            };
            let status = Status::unimplemented(format!(
                "{} is a {what} method, which gRPC-Web does not carry (a browser sends its \
                 request whole); call it over gRPC",
                req.uri().path()
            ));
            let mut trailers = HeaderMap::new();
            write_status(&status, &mut trailers);
            return Response::new(WebBody::trailers_only(trailers, text));
        }

        let (mut parts, body) = req.into_parts();
        parts
            .headers
            .insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_GRPC));
        // A text body's length is not its messages'.
        parts.headers.remove(CONTENT_LENGTH);
        let body = match mode {
            Mode::Binary => RequestBody::binary(body),
            Mode::Text => RequestBody::text(body),
        };
        let response = self
            .router
            .handle(Request::from_parts(parts, body), peer)
            .await;

        let (mut parts, body) = response.into_parts();
        let body = if parts.status != StatusCode::OK {
            WebBody::default()
        } else if parts.headers.contains_key(GRPC_STATUS) {
            // Trailers-only: the status moves from the headers into the trailers frame, where
            // every gRPC-Web client looks for it.
            let mut trailers = HeaderMap::new();
            for name in [GRPC_STATUS, GRPC_MESSAGE, GRPC_STATUS_DETAILS] {
                if let Some(value) = parts.headers.remove(name) {
                    trailers.insert(name, value);
                }
            }
            WebBody::trailers_only(trailers, text)
        } else {
            WebBody::of_grpc(body, text)
        };
        parts.headers.remove(CONTENT_LENGTH);
        Response::from_parts(parts, body)
    }

    /// An HTTP error, with what lets the page read it if its origin is allowed.
    fn refuse(&self, origin: Option<&HeaderValue>, code: StatusCode) -> Response<WebBody> {
        let mut response = Response::new(WebBody::default());
        *response.status_mut() = code;
        let _ = self.cors.allow(origin, &mut response);
        response
    }

    /// Answers any request of a connection that serves both: gRPC-Web here, gRPC by the
    /// router.
    async fn dispatch<B>(&self, req: Request<B>, peer: Option<SocketAddr>) -> Response<ServerBody>
    where
        B: Body + Unpin + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        if GrpcWeb::is_grpc_web(&req) {
            return self.handle(req, peer).await.map(ServerBody::Web);
        }
        if req.version() < Version::HTTP_2
            && req
                .headers()
                .get(CONTENT_TYPE)
                .is_some_and(|t| t.as_bytes().starts_with(CONTENT_TYPE_GRPC.as_bytes()))
        {
            // gRPC needs HTTP/2's trailers.
            let mut response = Response::new(ServerBody::Grpc(GrpcBody::empty()));
            *response.status_mut() = StatusCode::HTTP_VERSION_NOT_SUPPORTED;
            return response;
        }
        self.router.handle(req, peer).await.map(ServerBody::Grpc)
    }
}

fn is_web_content_type(value: Option<&HeaderValue>) -> bool {
    value.is_some_and(|v| {
        v.as_bytes()
            .get(..b"application/grpc-web".len())
            .is_some_and(|p| p.eq_ignore_ascii_case(b"application/grpc-web"))
    })
}

/// The encoding a content type names: `application/grpc-web` and `application/grpc-web-text`,
/// with `+proto` or without, and any parameters.
fn mode_of(value: Option<&HeaderValue>) -> Option<Mode> {
    let value = value?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or_default().trim();
    let essence = essence.to_ascii_lowercase();
    match essence.as_str() {
        "application/grpc-web" | "application/grpc-web+proto" => Some(Mode::Binary),
        "application/grpc-web-text" | "application/grpc-web-text+proto" => Some(Mode::Text),
        _ => None,
    }
}

/// HTTP/1.1 beside HTTP/2 on one port, for a [`Server`](crate::Server) that serves gRPC-Web.
pub(crate) struct WebServer {
    cors: Arc<Cors>,
    http1: http1::Builder,
}

impl fmt::Debug for WebServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebServer")
            .field("cors", &self.cors)
            .finish_non_exhaustive()
    }
}

impl WebServer {
    /// gRPC-Web under `cors`; HTTP/1.1 requests whose headers exceed `max_header_list_size`
    /// (or hyper's least buffer, 8 KiB) are refused.
    pub(crate) fn new(cors: Cors, max_header_list_size: u32) -> WebServer {
        let mut http1 = http1::Builder::new();
        let buffer = usize::try_from(max_header_list_size)
            .unwrap_or(usize::MAX)
            .max(8 * 1024);
        // The timer bounds how long a client takes to send a request's headers (30 s).
        http1.timer(TokioTimer::new()).max_buf_size(buffer);
        WebServer {
            cors: Arc::new(cors),
            http1,
        }
    }

    /// Serves one connection until it closes, HTTP/2 with `http2` or HTTP/1.1 as its first
    /// bytes say, which must come before `deadline`; its requests carry `extensions`; on
    /// `shutdown`, lets the calls in flight finish and closes it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn serve_connection<I>(
        &self,
        http2: &http2::Builder<TokioExecutor>,
        deadline: Option<Instant>,
        router: Router,
        stream: I,
        peer: SocketAddr,
        extensions: http::Extensions,
        mut shutdown: watch::Receiver<bool>,
    ) where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let sniffed = tokio::select! {
            sniffed = crate::server::before(deadline, sniff(stream)) => sniffed,
            _ = shutdown.wait_for(|&stop| stop) => return,
        };
        let (http, stream) = match sniffed {
            Some(Ok(sniffed)) => sniffed,
            Some(Err(e)) => {
                tracing::debug!(%peer, error = %e, "closed before a request");
                return;
            }
            None => {
                tracing::debug!(%peer, "no request in time; closing");
                return;
            }
        };
        let web = GrpcWeb {
            router,
            cors: Arc::clone(&self.cors),
        };
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            let web = web.clone();
            if !extensions.is_empty() {
                req.extensions_mut().extend(extensions.clone());
            }
            async move { Ok::<_, Infallible>(web.dispatch(req, Some(peer)).await) }
        });
        let io = TokioIo::new(stream);
        // The same dance for both versions, whose connections are different types.
        macro_rules! serve {
            ($conn:expr) => {{
                let mut conn = std::pin::pin!($conn);
                tokio::select! {
                    result = conn.as_mut() => result,
                    () = async { let _ = shutdown.wait_for(|&stop| stop).await; } => {
                        conn.as_mut().graceful_shutdown();
                        conn.await
                    }
                }
            }};
        }
        let result = match http {
            Http::Two => serve!(http2.serve_connection(io, service)),
            Http::One => serve!(self.http1.serve_connection(io, service)),
        };
        if let Err(e) = result {
            tracing::debug!(%peer, error = %e, "connection closed");
        }
    }
}

/// The body of a response on a connection that serves gRPC and gRPC-Web.
enum ServerBody {
    Grpc(GrpcBody),
    Web(WebBody),
}

impl Body for ServerBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        match self.get_mut() {
            ServerBody::Grpc(body) => Pin::new(body).poll_frame(cx),
            ServerBody::Web(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ServerBody::Grpc(body) => body.is_end_stream(),
            ServerBody::Web(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ServerBody::Grpc(body) => body.size_hint(),
            ServerBody::Web(body) => body.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_content_types_are_recognised() {
        let mode = |v: &'static str| mode_of(Some(&HeaderValue::from_static(v)));
        assert_eq!(mode("application/grpc-web"), Some(Mode::Binary));
        assert_eq!(mode("application/grpc-web+proto"), Some(Mode::Binary));
        assert_eq!(
            mode("Application/gRPC-Web+proto; charset=utf-8"),
            Some(Mode::Binary)
        );
        assert_eq!(mode("application/grpc-web-text"), Some(Mode::Text));
        assert_eq!(mode("application/grpc-web-text+proto"), Some(Mode::Text));
        assert_eq!(mode("application/grpc-web+json"), None);
        assert_eq!(mode("application/grpc"), None);
        assert!(is_web_content_type(Some(&HeaderValue::from_static(
            "application/grpc-web+json"
        ))));
        assert!(!is_web_content_type(Some(&HeaderValue::from_static(
            "application/grpc"
        ))));
    }
}
