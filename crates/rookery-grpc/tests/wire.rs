//! What rookery's server puts on the wire, seen by a bare HTTP/2 client, and what the client
//! does on cancel and shutdown.

mod common;

use std::{
    convert::Infallible,
    pin::Pin,
    task::{Context as TaskContext, Poll},
};

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{StreamExt, stream};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::{body::Incoming, client::conn::http2::SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rookery_core::{Code, Context, Status};
use rookery_grpc::{
    GrpcClient,
    interop::proto::grpc::testing::{
        ResponseParameters, StreamingInputCallRequest, StreamingOutputCallRequest,
        TestServiceClient,
    },
};
use tokio::sync::mpsc;

use common::start;

type RawBody = BoxBody<Bytes, Infallible>;

/// A body that never sends anything and never ends.
struct Silent;

impl Body for Silent {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Pending
    }
}

async fn raw(addr: std::net::SocketAddr) -> SendRequest<RawBody> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    send
}

fn framed(message: &[u8]) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_u8(0);
    buf.put_u32(message.len() as u32);
    buf.put_slice(message);
    buf.freeze()
}

async fn call(
    send: &mut SendRequest<RawBody>,
    path: &str,
    headers: &[(&str, &str)],
    body: RawBody,
) -> Response<Incoming> {
    let mut request = Request::post(format!("http://localhost{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    send.send_request(request.body(body).unwrap())
        .await
        .unwrap()
}

fn grpc_status(headers: &HeaderMap) -> Option<&str> {
    headers.get("grpc-status").map(|v| v.to_str().unwrap())
}

const EMPTY_CALL: &str = "/grpc.testing.TestService/EmptyCall";
const FULL_DUPLEX: &str = "/grpc.testing.TestService/FullDuplexCall";

#[tokio::test]
async fn errors_before_any_message_are_answered_in_the_headers_alone() {
    let server = start().await;
    let mut send = raw(server.addr).await;
    for path in [
        "/grpc.testing.UnimplementedService/UnimplementedCall",
        "/grpc.testing.TestService/NoSuchMethod",
        "/nonsense",
    ] {
        let response = call(&mut send, path, &[], Full::new(framed(b"")).boxed()).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/grpc");
        assert_eq!(grpc_status(response.headers()), Some("12"), "{path}");
        assert!(response.body().is_end_stream(), "trailers-only for {path}");
    }
    // A compression the server does not speak: it says what it accepts.
    let response = call(
        &mut send,
        EMPTY_CALL,
        &[("grpc-encoding", "snappy")],
        Full::new(framed(b"")).boxed(),
    )
    .await;
    assert_eq!(grpc_status(response.headers()), Some("12"));
    assert_eq!(
        response.headers()["grpc-accept-encoding"],
        "identity,gzip,zstd"
    );
    // A request that is not gRPC gets HTTP's answers.
    let request = Request::get(format!("http://localhost{EMPTY_CALL}"))
        .body(Full::new(Bytes::new()).boxed())
        .unwrap();
    let response = send.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let request = Request::post(format!("http://localhost{EMPTY_CALL}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::new()).boxed())
        .unwrap();
    let response = send.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // And the connection still serves calls.
    let response = call(&mut send, EMPTY_CALL, &[], Full::new(framed(b"")).boxed()).await;
    let collected = response.into_body().collect().await.unwrap();
    assert_eq!(grpc_status(collected.trailers().unwrap()), Some("0"));
    assert_eq!(collected.to_bytes(), framed(b""));
    server.shutdown().await;
}

#[tokio::test]
async fn the_server_enforces_grpc_timeout_and_drops_the_handler() {
    let server = start().await;
    let mut send = raw(server.addr).await;
    // Before the handler answers: trailers-only.
    let response = call(
        &mut send,
        EMPTY_CALL,
        &[("grpc-timeout", "50m")],
        Silent.boxed(),
    )
    .await;
    assert_eq!(grpc_status(response.headers()), Some("4"));
    // While the response streams: in the trailers.
    let response = call(
        &mut send,
        FULL_DUPLEX,
        &[("grpc-timeout", "50m")],
        Silent.boxed(),
    )
    .await;
    assert_eq!(grpc_status(response.headers()), None);
    let collected = response.into_body().collect().await.unwrap();
    assert_eq!(grpc_status(collected.trailers().unwrap()), Some("4"));
    server.idle().await;
    // A timeout that does not parse.
    let response = call(
        &mut send,
        EMPTY_CALL,
        &[("grpc-timeout", "1x")],
        Silent.boxed(),
    )
    .await;
    assert_eq!(grpc_status(response.headers()), Some("13"));
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversize_prefix_is_refused_before_its_message_arrives() {
    let server = start().await;
    let mut send = raw(server.addr).await;
    let mut prefix = BytesMut::new();
    prefix.put_u8(0);
    prefix.put_u32(64 * 1024 * 1024);
    // Only the prefix is sent, and the body never ends: the answer cannot wait for the rest.
    let body =
        stream::iter([Ok::<_, Infallible>(Frame::data(prefix.freeze()))]).chain(stream::pending());
    let response = call(
        &mut send,
        "/grpc.testing.TestService/UnaryCall",
        &[],
        BodyExt::boxed(http_body_util::StreamBody::new(body)),
    )
    .await;
    assert_eq!(grpc_status(response.headers()), Some("8"));
    let message = response.headers()["grpc-message"].to_str().unwrap();
    assert!(message.contains("67108864"), "{message}");
    let response = call(&mut send, EMPTY_CALL, &[], Full::new(framed(b"")).boxed()).await;
    let collected = response.into_body().collect().await.unwrap();
    assert_eq!(grpc_status(collected.trailers().unwrap()), Some("0"));
    server.shutdown().await;
}

fn feed<T: Send + 'static>() -> (
    mpsc::UnboundedSender<T>,
    impl futures_core::Stream<Item = Result<T, Status>> + Send + 'static,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let requests = stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|m| (Ok(m), rx)) },
    );
    (tx, requests)
}

#[tokio::test]
async fn a_cancelled_call_drops_its_handler_while_the_request_stream_is_open() {
    let server = start().await;
    let client = TestServiceClient::new(GrpcClient::connect(server.addr).await.unwrap());

    // Client streaming, dropped while waiting for the response.
    let (tx, requests) = feed::<StreamingInputCallRequest>();
    tx.send(StreamingInputCallRequest::default()).unwrap();
    let mut cx = Context::new();
    let call = client.streaming_input_call(&mut cx, requests);
    let mut call = Box::pin(call);
    tokio::select! {
        result = &mut call => panic!("the call cannot end while its requests go on: {result:?}"),
        () = server.busy() => {}
    }
    drop(call);
    server.idle().await;

    // Bidirectional, response stream dropped after the first response.
    let (tx2, requests) = feed();
    let mut responses = client
        .full_duplex_call(&mut Context::new(), requests)
        .await
        .unwrap();
    tx2.send(StreamingOutputCallRequest {
        response_parameters: vec![ResponseParameters {
            size: 3,
            ..Default::default()
        }],
        ..Default::default()
    })
    .unwrap();
    assert!(responses.message().await.unwrap().is_some());
    assert_eq!(server.service.in_flight(), 1);
    drop(responses);
    server.idle().await;
    // The request senders are still open: the server saw cancels, not ends.
    drop((tx, tx2));
    server.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_lets_calls_in_flight_finish() {
    let mut server = start().await;
    let channel = GrpcClient::connect(server.addr).await.unwrap();
    let client = TestServiceClient::new(channel.clone());
    let request = StreamingOutputCallRequest {
        response_parameters: (0..3)
            .map(|_| ResponseParameters {
                size: 10,
                interval_us: 100_000,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let mut responses = client
        .streaming_output_call(&mut Context::new(), request)
        .await
        .unwrap();
    server.signal_shutdown();
    let mut n = 0;
    while let Some(response) = responses.message().await.unwrap() {
        assert_eq!(response.payload.unwrap().body.len(), 10);
        n += 1;
    }
    assert_eq!(n, 3, "the call in flight finished");
    let addr = server.addr;
    server.stopped().await;
    let err = GrpcClient::connect(addr).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(err.is_unsent());
}

#[test]
fn public_futures_are_send() {
    fn send<T: Send>(_: T) {}
    let client: Option<GrpcClient> = None;
    if let Some(client) = client {
        let client = TestServiceClient::new(client);
        let mut cx = Context::new();
        send(client.empty_call(&mut cx, Default::default()));
        send(client.full_duplex_call(&mut cx, rookery_codec::protobuf::rpc::Streaming::empty()));
    }
    send(GrpcClient::connect("127.0.0.1:1"));
    let listener: Option<tokio::net::TcpListener> = None;
    if let Some(listener) = listener {
        send(rookery_grpc::interop::server(Default::default()).serve(listener));
    }
}
