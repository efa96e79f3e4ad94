//! gRPC-Web on the gRPC port, seen by a bare HTTP/1.1 client: binary and text calls to the
//! interop `TestService`, statuses in the trailers frame, server streaming, CORS, limits.

use std::{net::SocketAddr, time::Duration};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, client::conn::http1::SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rookery_codec::protobuf::ProtoMessage;
use rookery_grpc::{
    GrpcClient, Server,
    interop::{
        self, InteropService,
        proto::grpc::testing::{
            EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest, SimpleResponse,
            StreamingOutputCallRequest, StreamingOutputCallResponse, TestServiceServer,
        },
    },
    web::Cors,
};
use tokio::{net::TcpListener, sync::oneshot};

const ORIGIN: &str = "https://app.example";
const LIMIT: usize = 64 * 1024;

struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// The interop service with gRPC-Web for pages of [`ORIGIN`], receiving at most [`LIMIT`].
async fn start() -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = InteropService::new();
    let cors = Cors::allow_origins([ORIGIN])
        .allow_header(http::HeaderName::from_static("x-grpc-test-echo-initial"))
        .expose_header(http::HeaderName::from_static("x-grpc-test-echo-initial"));
    let server = Server::builder()
        .add_service(
            TestServiceServer::<InteropService>::SERVICE,
            TestServiceServer::new(service),
        )
        .max_receive_message_size(LIMIT)
        .grpc_web(cors)
        .build();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(server.serve_with_shutdown(listener, async move {
        let _ = stopped.await;
    }));
    Running { addr, stop, served }
}

impl Running {
    async fn shutdown(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.served)
            .await
            .expect("the server stops")
            .unwrap()
            .unwrap();
    }
}

async fn http1(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    send
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Binary,
    Text,
}

impl Mode {
    fn content_type(self) -> &'static str {
        match self {
            Mode::Binary => "application/grpc-web+proto",
            Mode::Text => "application/grpc-web-text",
        }
    }
}

fn frame(message: &[u8]) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_u8(0);
    buf.put_u32(message.len() as u32);
    buf.put_slice(message);
    buf.freeze()
}

fn request(mode: Mode, path: &str, message: &impl ProtoMessage) -> Request<Full<Bytes>> {
    let body = frame(&message.encode_to_vec());
    let body = match mode {
        Mode::Binary => body,
        Mode::Text => Bytes::from(STANDARD.encode(body)),
    };
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("host", "localhost")
        .header("content-type", mode.content_type())
        .header("x-grpc-web", "1")
        .header("x-user-agent", "rookery-test")
        .header("origin", ORIGIN)
        .body(Full::new(body))
        .unwrap()
}

/// What a gRPC-Web response carried: its messages and its trailers frame.
#[derive(Debug)]
struct Answer {
    headers: HeaderMap,
    /// The body's chunks as they came, still encoded.
    chunks: Vec<Bytes>,
    messages: Vec<Bytes>,
    trailers: Vec<(String, String)>,
}

impl Answer {
    fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn status(&self) -> i32 {
        self.trailer("grpc-status")
            .expect("a grpc-status in the trailers frame")
            .parse()
            .unwrap()
    }
}

async fn answer(mode: Mode, response: Response<Incoming>) -> Answer {
    assert_eq!(response.status(), StatusCode::OK);
    let (parts, mut body) = response.into_parts();
    let mut chunks = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            chunks.push(data);
        }
    }
    let mut bytes = BytesMut::new();
    for chunk in &chunks {
        match mode {
            Mode::Binary => bytes.extend_from_slice(chunk),
            // Each chunk is base64 on its own: a client may decode it as it comes.
            Mode::Text => bytes.extend_from_slice(
                &STANDARD
                    .decode(chunk)
                    .unwrap_or_else(|e| panic!("chunk {chunk:?} is not base64 on its own: {e}")),
            ),
        }
    }
    let mut bytes = bytes.freeze();
    let mut messages = Vec::new();
    let mut trailers = None;
    while bytes.has_remaining() {
        assert!(trailers.is_none(), "nothing follows the trailers frame");
        let flag = bytes.get_u8();
        let len = bytes.get_u32() as usize;
        let content = bytes.split_to(len);
        match flag {
            0 => messages.push(content),
            0x80 => {
                let text = std::str::from_utf8(&content).unwrap();
                assert!(text.ends_with("\r\n"), "{text:?}");
                let lines = text.trim_end_matches("\r\n").split("\r\n");
                let lines = lines.map(|line| {
                    let (name, value) = line.split_once(": ").expect("name: value");
                    (name.to_string(), value.to_string())
                });
                trailers = Some(lines.collect());
            }
            other => panic!("a frame flagged {other:#x}"),
        }
    }
    Answer {
        headers: parts.headers,
        chunks,
        messages,
        trailers: trailers.expect("a trailers frame"),
    }
}

async fn call(
    send: &mut SendRequest<Full<Bytes>>,
    mode: Mode,
    req: Request<Full<Bytes>>,
) -> Answer {
    let response = send.send_request(req).await.unwrap();
    answer(mode, response).await
}

const UNARY: &str = "/grpc.testing.TestService/UnaryCall";
const STREAMING_OUTPUT: &str = "/grpc.testing.TestService/StreamingOutputCall";

#[tokio::test]
async fn unary_calls_answer_their_message_then_the_status_in_a_trailers_frame() {
    let server = start().await;
    let mut send = http1(server.addr).await;
    for mode in [Mode::Binary, Mode::Text] {
        let message = SimpleRequest {
            response_size: 1000,
            payload: Some(Payload {
                body: Bytes::from(vec![1u8; 500]),
                ..Payload::default()
            }),
            ..SimpleRequest::default()
        };
        let mut req = request(mode, UNARY, &message);
        req.headers_mut()
            .insert("x-grpc-test-echo-initial", "hello".parse().unwrap());
        req.headers_mut().insert(
            "x-grpc-test-echo-trailing-bin",
            STANDARD.encode(b"\x00\xff").parse().unwrap(),
        );
        // On one HTTP/1.1 connection, one call after the other.
        let answer = call(&mut send, mode, req).await;
        let content_type = match mode {
            Mode::Binary => "application/grpc-web+proto",
            Mode::Text => "application/grpc-web-text+proto",
        };
        assert_eq!(answer.headers["content-type"], content_type);
        assert_eq!(answer.headers["x-grpc-test-echo-initial"], "hello");
        assert_eq!(answer.headers["access-control-allow-origin"], ORIGIN);
        let exposed = answer.headers["access-control-expose-headers"]
            .to_str()
            .unwrap();
        assert!(exposed.contains("grpc-status, grpc-message, grpc-status-details-bin"));
        assert!(exposed.contains("x-grpc-test-echo-initial"), "{exposed}");
        assert_eq!(answer.messages.len(), 1, "{mode:?}");
        let response = SimpleResponse::decode(answer.messages[0].clone()).unwrap();
        assert_eq!(response.payload.unwrap().body.len(), 1000);
        assert_eq!(answer.status(), 0);
        assert_eq!(
            answer.trailer("x-grpc-test-echo-trailing-bin"),
            Some(STANDARD.encode(b"\x00\xff").trim_end_matches('='))
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn an_error_status_comes_in_the_trailers_frame() {
    let server = start().await;
    let mut send = http1(server.addr).await;
    for mode in [Mode::Binary, Mode::Text] {
        let message = SimpleRequest {
            response_status: Some(EchoStatus {
                code: 2,
                message: "oops \u{1f426} 100%".into(),
            }),
            ..SimpleRequest::default()
        };
        let answer = call(&mut send, mode, request(mode, UNARY, &message)).await;
        assert!(answer.messages.is_empty());
        assert_eq!(answer.status(), 2, "{mode:?}");
        let message = answer.trailer("grpc-message").unwrap();
        assert_eq!(
            rookery_grpc::percent_decode(message.as_bytes()),
            "oops \u{1f426} 100%"
        );
        assert!(
            !answer.headers.contains_key("grpc-status"),
            "the status is in the body only"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn server_streaming_answers_each_message_as_it_comes() {
    let server = start().await;
    let mut send = http1(server.addr).await;
    for mode in [Mode::Binary, Mode::Text] {
        let sizes = [1, 10, 20_000, 0, 7];
        let message = StreamingOutputCallRequest {
            response_parameters: sizes
                .iter()
                .map(|&size| ResponseParameters {
                    size,
                    interval_us: 1000,
                    ..ResponseParameters::default()
                })
                .collect(),
            ..StreamingOutputCallRequest::default()
        };
        let answer = call(&mut send, mode, request(mode, STREAMING_OUTPUT, &message)).await;
        let got: Vec<i32> = answer
            .messages
            .iter()
            .map(|m| {
                let m = StreamingOutputCallResponse::decode(m.clone()).unwrap();
                m.payload.unwrap().body.len() as i32
            })
            .collect();
        assert_eq!(got, sizes, "{mode:?}");
        assert_eq!(answer.status(), 0);
        assert!(
            answer.chunks.len() > sizes.len(),
            "streamed in several chunks"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_streaming_error_after_messages_ends_the_body() {
    let server = start().await;
    let mut send = http1(server.addr).await;
    let message = StreamingOutputCallRequest {
        response_parameters: vec![ResponseParameters {
            size: 3,
            ..ResponseParameters::default()
        }],
        response_status: Some(EchoStatus {
            code: 9,
            message: "not now".into(),
        }),
        ..StreamingOutputCallRequest::default()
    };
    let answer = call(
        &mut send,
        Mode::Text,
        request(Mode::Text, STREAMING_OUTPUT, &message),
    )
    .await;
    assert_eq!(answer.messages.len(), 1);
    assert_eq!(answer.status(), 9);
    assert_eq!(answer.trailer("grpc-message"), Some("not now"));
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_methods_and_client_streaming_are_unimplemented() {
    let server = start().await;
    let mut send = http1(server.addr).await;
    for path in [
        "/grpc.testing.TestService/NoSuchCall",
        "/grpc.testing.NoSuchService/EmptyCall",
        "/grpc.testing.TestService/UnimplementedCall",
    ] {
        let answer = call(
            &mut send,
            Mode::Binary,
            request(Mode::Binary, path, &Empty {}),
        )
        .await;
        assert_eq!(answer.status(), 12, "{path}");
    }
    for path in [
        "/grpc.testing.TestService/StreamingInputCall",
        "/grpc.testing.TestService/FullDuplexCall",
    ] {
        let answer = call(&mut send, Mode::Text, request(Mode::Text, path, &Empty {})).await;
        assert_eq!(answer.status(), 12, "{path}");
        let message =
            rookery_grpc::percent_decode(answer.trailer("grpc-message").unwrap().as_bytes());
        assert!(message.contains("gRPC-Web"), "{message}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversize_message_is_resource_exhausted_and_the_server_serves_on() {
    let server = start().await;
    for mode in [Mode::Binary, Mode::Text] {
        let mut send = http1(server.addr).await;
        let message = SimpleRequest {
            payload: Some(Payload {
                body: Bytes::from(vec![0u8; LIMIT + 1]),
                ..Payload::default()
            }),
            ..SimpleRequest::default()
        };
        let answer = call(&mut send, mode, request(mode, UNARY, &message)).await;
        assert_eq!(answer.status(), 8, "{mode:?}");
        // The rest of the body is not read, so HTTP/1.1 cannot go on on this connection; the
        // next call comes on another.
        let mut send = http1(server.addr).await;
        let ok = call(
            &mut send,
            mode,
            request(mode, UNARY, &SimpleRequest::default()),
        )
        .await;
        assert_eq!(ok.status(), 0);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn grpc_timeout_is_enforced() {
    let server = start().await;
    let mut send = http1(server.addr).await;
    let message = StreamingOutputCallRequest {
        response_parameters: vec![ResponseParameters {
            size: 1,
            interval_us: 10_000_000,
            ..ResponseParameters::default()
        }],
        ..StreamingOutputCallRequest::default()
    };
    let mut req = request(Mode::Binary, STREAMING_OUTPUT, &message);
    req.headers_mut()
        .insert("grpc-timeout", "50m".parse().unwrap());
    let answer = call(&mut send, Mode::Binary, req).await;
    assert_eq!(answer.status(), 4);
    server.shutdown().await;
}

#[tokio::test]
async fn a_text_body_that_is_not_base64_is_invalid_argument() {
    let server = start().await;
    let mut send = http1(server.addr).await;
    let mut req = request(Mode::Text, UNARY, &SimpleRequest::default());
    *req.body_mut() = Full::new(Bytes::from_static(b"AAAA!!!!"));
    let answer = call(&mut send, Mode::Text, req).await;
    assert_eq!(answer.status(), 3);
    server.shutdown().await;
}

fn preflight(origin: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri(UNARY)
        .header("host", "localhost")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-grpc-web,x-user-agent",
        )
        .body(Full::new(Bytes::new()))
        .unwrap()
}

#[tokio::test]
async fn cors_preflights_are_answered_for_allowed_origins_only() {
    let server = start().await;
    let mut send = http1(server.addr).await;
    let response = send.send_request(preflight(ORIGIN)).await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    assert_eq!(headers["access-control-allow-methods"], "POST");
    let allowed = headers["access-control-allow-headers"].to_str().unwrap();
    for name in [
        "content-type",
        "x-grpc-web",
        "x-user-agent",
        "grpc-timeout",
        "x-grpc-test-echo-initial",
    ] {
        assert!(
            allowed.split(", ").any(|a| a == name),
            "{name} in {allowed}"
        );
    }
    assert_eq!(headers["access-control-max-age"], "86400");
    assert!(
        headers
            .get_all("vary")
            .iter()
            .any(|v| v.to_str().unwrap().contains("origin"))
    );
    let response = send
        .send_request(preflight("https://elsewhere.example"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );

    // A call from a page of another origin is refused before it reaches the service.
    let mut req = request(Mode::Binary, UNARY, &SimpleRequest::default());
    req.headers_mut()
        .insert("origin", "https://elsewhere.example".parse().unwrap());
    let response = send.send_request(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    server.shutdown().await;
}

#[tokio::test]
async fn grpc_web_over_http2_and_grpc_share_the_port() {
    let server = start().await;
    // gRPC, by rookery's client.
    let channel = GrpcClient::connect(server.addr).await.unwrap();
    interop::run_case("empty_unary", &channel).await.unwrap();
    interop::run_case("server_streaming", &channel)
        .await
        .unwrap();

    // gRPC-Web over HTTP/2 with prior knowledge.
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    for message in [
        SimpleRequest {
            response_size: 3,
            ..SimpleRequest::default()
        },
        // Oversize, then another call on the same HTTP/2 connection.
        SimpleRequest {
            payload: Some(Payload {
                body: Bytes::from(vec![0u8; LIMIT + 1]),
                ..Payload::default()
            }),
            ..SimpleRequest::default()
        },
        SimpleRequest::default(),
    ] {
        let oversize = message.payload.is_some();
        let mut req = request(Mode::Text, UNARY, &message);
        req.headers_mut().remove("host");
        let response = send.send_request(req).await.unwrap();
        let answer = answer(Mode::Text, response).await;
        if oversize {
            assert_eq!(answer.status(), 8);
        } else {
            assert_eq!(answer.messages.len(), 1);
            assert_eq!(answer.status(), 0);
        }
    }

    // gRPC over HTTP/1.1 cannot carry trailers: refused.
    let mut send = http1(server.addr).await;
    let mut req = request(Mode::Binary, UNARY, &SimpleRequest::default());
    req.headers_mut()
        .insert("content-type", "application/grpc".parse().unwrap());
    let response = send.send_request(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::HTTP_VERSION_NOT_SUPPORTED);

    drop(channel);
    server.shutdown().await;
}

#[tokio::test]
async fn a_server_without_grpc_web_speaks_http2_only() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = tokio::spawn(interop::server(InteropService::new()).serve(listener));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let handshake = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(tcp));
    let (mut send, conn) = handshake.await.unwrap();
    tokio::spawn(conn);
    let req = request(Mode::Binary, UNARY, &SimpleRequest::default());
    assert!(send.send_request(req).await.is_err());
    served.abort();
}

/// What a server in another framework needs of the public gRPC-Web types: futures and bodies
/// it can move across threads.
#[allow(dead_code)]
fn public_futures_and_bodies_are_send(web: rookery_grpc::web::GrpcWeb, req: Request<Incoming>) {
    fn send<T: Send>(_: &T) {}
    let handling = web.handle(req, None);
    send(&handling);
    send(&rookery_grpc::web::WebBody::default());
    send(&web);
}
