//! gRPC-Web on a `rookery::Service`'s one port, seen by a bare HTTP/1.1 client: a binary and
//! a text call, a CORS preflight, a page from an origin not allowed, plain gRPC over HTTP/1.1
//! refused, and the HTTP health checks still answered beside it.

use std::{net::SocketAddr, time::Duration};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, client::conn::http1::SendRequest};
use hyper_util::rt::TokioIo;
use rookery::{
    Address, Service,
    codec::protobuf::ProtoMessage,
    grpc::{
        interop::{
            InteropService,
            proto::grpc::testing::{Payload, SimpleRequest, SimpleResponse, TestServiceServer},
        },
        web::Cors,
    },
};

const ORIGIN: &str = "https://app.example";
const UNARY: &str = "/grpc.testing.TestService/UnaryCall";

fn socket(addr: &Address) -> SocketAddr {
    match addr {
        Address::Tcp(sock) => *sock,
        other => panic!("expected a TCP address, got {other}"),
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

async fn send(addr: SocketAddr, req: Request<Full<Bytes>>) -> (Response<()>, Bytes) {
    let mut client = http1(addr).await;
    let response: Response<Incoming> =
        tokio::time::timeout(Duration::from_secs(10), client.send_request(req))
            .await
            .expect("an answer within 10 s")
            .unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (Response::from_parts(parts, ()), body)
}

fn echo_request(text: &'static [u8]) -> SimpleRequest {
    SimpleRequest {
        response_size: text.len() as i32,
        payload: Some(Payload {
            body: Bytes::from_static(text),
            ..Payload::default()
        }),
        ..SimpleRequest::default()
    }
}

fn call(content_type: &str, path: &str, body: Bytes) -> Request<Full<Bytes>> {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("host", "localhost")
        .header("content-type", content_type)
        .header("x-grpc-web", "1")
        .header("origin", ORIGIN)
        .body(Full::new(body))
        .unwrap()
}

fn frame(message: &[u8]) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_u8(0);
    buf.put_u32(message.len() as u32);
    buf.put_slice(message);
    buf.freeze()
}

/// The messages and the trailers frame's lines of a gRPC-Web body.
fn frames(mut body: Bytes) -> (Vec<Bytes>, String) {
    let mut messages = Vec::new();
    let mut trailers = String::new();
    while body.remaining() >= 5 {
        let flag = body.get_u8();
        let len = body.get_u32() as usize;
        let payload = body.split_to(len);
        if flag & 0x80 != 0 {
            trailers.push_str(std::str::from_utf8(&payload).unwrap());
        } else {
            messages.push(payload);
        }
    }
    assert!(body.is_empty(), "a whole number of frames");
    (messages, trailers)
}

async fn start() -> rookery::RunningService {
    Service::builder("web")
        .no_registry()
        .serve_grpc(
            TestServiceServer::<InteropService>::SERVICE,
            TestServiceServer::new(InteropService::new()),
        )
        .grpc_web(Cors::allow_origins([ORIGIN]))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_browser_calls_over_http1_on_the_service_port() {
    let running = start().await;
    let addr = socket(running.local_addr());
    let message = frame(&echo_request(b"from a page").encode_to_vec());

    // Binary.
    let (response, body) = send(
        addr,
        call("application/grpc-web+proto", UNARY, message.clone()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/grpc-web+proto"
    );
    assert_eq!(response.headers()["access-control-allow-origin"], ORIGIN);
    let (messages, trailers) = frames(body);
    assert_eq!(messages.len(), 1);
    let reply = SimpleResponse::decode(messages[0].clone()).unwrap();
    // The interop service answers `response_size` zero bytes.
    assert_eq!(reply.payload.unwrap().body.len(), b"from a page".len());
    assert!(trailers.contains("grpc-status: 0"), "{trailers:?}");

    // Text: base64 both ways.
    let (response, body) = send(
        addr,
        call(
            "application/grpc-web-text",
            UNARY,
            Bytes::from(STANDARD.encode(&message)),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    // Each chunk is encoded on its own; this body came whole.
    let text = std::str::from_utf8(&body).unwrap();
    let mut decoded = Vec::new();
    for part in text.split_inclusive('=').filter(|p| !p.is_empty()) {
        decoded.extend(STANDARD.decode(part).unwrap());
    }
    let (messages, trailers) = frames(Bytes::from(decoded));
    let reply = SimpleResponse::decode(messages[0].clone()).unwrap();
    // The interop service answers `response_size` zero bytes.
    assert_eq!(reply.payload.unwrap().body.len(), b"from a page".len());
    assert!(trailers.contains("grpc-status: 0"), "{trailers:?}");

    // A method no service has: the status in the trailers frame.
    let (_, body) = send(
        addr,
        call("application/grpc-web", "/no.Such/Method", frame(&[])),
    )
    .await;
    let (messages, trailers) = frames(body);
    assert!(messages.is_empty());
    assert!(trailers.contains("grpc-status: 12"), "{trailers:?}");

    running.stop().await.unwrap();
}

#[tokio::test]
async fn cors_preflights_origins_and_what_stays_the_servers() {
    let running = start().await;
    let addr = socket(running.local_addr());

    // A preflight from the page allowed.
    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri(UNARY)
        .header("host", "localhost")
        .header("origin", ORIGIN)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-grpc-web,x-user-agent",
        )
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (response, _) = send(addr, preflight).await;
    assert!(response.status().is_success(), "{response:?}");
    assert_eq!(response.headers()["access-control-allow-origin"], ORIGIN);

    // A call from another origin is refused.
    let mut other = call(
        "application/grpc-web",
        UNARY,
        frame(&echo_request(b"x").encode_to_vec()),
    );
    other
        .headers_mut()
        .insert("origin", "https://elsewhere.example".parse().unwrap());
    let (response, _) = send(addr, other).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // gRPC itself needs HTTP/2.
    let (response, _) = send(addr, call("application/grpc", UNARY, frame(&[]))).await;
    assert_eq!(response.status(), StatusCode::HTTP_VERSION_NOT_SUPPORTED);

    // The health checks are still the server's.
    let health = Request::builder()
        .uri("/health")
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (response, body) = send(addr, health).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(std::str::from_utf8(&body).unwrap().contains("SERVING"));

    running.stop().await.unwrap();
}
