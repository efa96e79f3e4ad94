//! Compressed messages: the interop cases with both sides compressing, in each encoding; what
//! goes on the wire; and a decompression bomb refused with the connection kept.

use std::{convert::Infallible, io::Write, time::Duration};

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::{body::Incoming, client::conn::http2::SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rookery_grpc::{
    Compression, GrpcClient, Server,
    interop::{self, InteropService, proto::grpc::testing::TestServiceServer},
};
use tokio::net::TcpListener;

const EMPTY_CALL: &str = "/grpc.testing.TestService/EmptyCall";
const UNARY_CALL: &str = "/grpc.testing.TestService/UnaryCall";

/// An interop server that answers compressed with `compression` when the caller accepts it.
async fn start(compression: Option<Compression>) -> (std::net::SocketAddr, InteropService) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = InteropService::new();
    let mut builder = Server::builder().add_service(
        TestServiceServer::<InteropService>::SERVICE,
        TestServiceServer::new(service.clone()),
    );
    if let Some(compression) = compression {
        builder = builder.send_compressed(compression);
    }
    tokio::spawn(builder.build().serve(listener));
    (addr, service)
}

async fn every_case_compressed(compression: Compression) {
    let (addr, service) = start(Some(compression)).await;
    let channel = GrpcClient::builder()
        .send_compressed(compression)
        .connect(addr)
        .await
        .unwrap();
    for case in interop::CASES.iter().chain(interop::EXTRA_CASES) {
        interop::run_case(case, &channel)
            .await
            .unwrap_or_else(|e| panic!("{case} with {compression}: {e}"));
    }
    tokio::time::timeout(Duration::from_secs(10), service.idle())
        .await
        .expect("no call left running");
}

#[tokio::test]
async fn every_case_with_gzip_both_ways() {
    every_case_compressed(Compression::Gzip).await;
}

#[tokio::test]
async fn every_case_with_zstd_both_ways() {
    every_case_compressed(Compression::Zstd).await;
}

#[tokio::test]
async fn a_compressing_client_and_a_plain_server_agree() {
    let (addr, _) = start(None).await;
    for compression in [Compression::Gzip, Compression::Zstd] {
        let channel = GrpcClient::builder()
            .send_compressed(compression)
            .connect(addr)
            .await
            .unwrap();
        for case in ["large_unary", "client_streaming", "ping_pong"] {
            interop::run_case(case, &channel)
                .await
                .unwrap_or_else(|e| panic!("{case} with {compression}: {e}"));
        }
    }
    // And a plain client of a compressing server.
    let (addr, _) = start(Some(Compression::Zstd)).await;
    let channel = GrpcClient::connect(addr).await.unwrap();
    for case in ["large_unary", "server_streaming"] {
        interop::run_case(case, &channel)
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));
    }
}

// ---------------------------------------------------------------------------------------------
// On the wire, with a bare HTTP/2 client.

type RawBody = BoxBody<Bytes, Infallible>;

async fn raw(addr: std::net::SocketAddr) -> SendRequest<RawBody> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    send
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn framed(flag: u8, message: &[u8]) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_u8(flag);
    buf.put_u32(message.len() as u32);
    buf.put_slice(message);
    buf.freeze()
}

async fn call(
    send: &mut SendRequest<RawBody>,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Response<Incoming> {
    let mut request = Request::post(format!("http://localhost{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    send.send_request(request.body(Full::new(body).boxed()).unwrap())
        .await
        .unwrap()
}

fn grpc_status(headers: &HeaderMap) -> Option<&str> {
    headers.get("grpc-status").map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn compressed_messages_on_the_wire() {
    let (addr, _) = start(Some(Compression::Gzip)).await;
    let mut send = raw(addr).await;
    // A gzip request, and a caller that accepts gzip: the answer is flagged compressed.
    let response = call(
        &mut send,
        EMPTY_CALL,
        &[("grpc-encoding", "gzip"), ("grpc-accept-encoding", "gzip")],
        framed(1, &gzip(b"")),
    )
    .await;
    assert_eq!(response.headers()["grpc-encoding"], "gzip");
    let collected = response.into_body().collect().await.unwrap();
    assert_eq!(grpc_status(collected.trailers().unwrap()), Some("0"));
    let data = collected.to_bytes();
    assert_eq!(data[0], 1, "the response message is flagged compressed");
    assert_eq!(&data[5..7], b"\x1f\x8b", "a gzip member");
    // A caller that does not accept gzip gets plain messages.
    let response = call(&mut send, EMPTY_CALL, &[], framed(0, b"")).await;
    assert!(response.headers().get("grpc-encoding").is_none());
    let collected = response.into_body().collect().await.unwrap();
    assert_eq!(&collected.to_bytes()[..], &[0, 0, 0, 0, 0]);
    // A message flagged compressed under no grpc-encoding is an error.
    let response = call(&mut send, EMPTY_CALL, &[], framed(1, &gzip(b""))).await;
    assert_eq!(grpc_status(response.headers()), Some("13"));
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_and_the_connection_carries_on() {
    let (addr, service) = start(None).await;
    let mut send = raw(addr).await;
    // 10 MiB of zeros in about 10 KiB: over the 4 MiB receive limit only once inflated.
    let bomb = gzip(&vec![0u8; 10 << 20]);
    assert!(bomb.len() < 64 * 1024, "{} bytes", bomb.len());
    let response = call(
        &mut send,
        UNARY_CALL,
        &[("grpc-encoding", "gzip")],
        framed(1, &bomb),
    )
    .await;
    assert_eq!(grpc_status(response.headers()), Some("8"));
    let message = response.headers()["grpc-message"].to_str().unwrap();
    assert!(message.contains("4194304"), "{message}");
    assert_eq!(service.in_flight(), 0, "the handler never ran");
    // The same connection serves the next call, compressed or not.
    for (headers, body) in [
        (&[("grpc-encoding", "gzip")][..], framed(1, &gzip(b""))),
        (&[][..], framed(0, b"")),
    ] {
        let response = call(&mut send, EMPTY_CALL, headers, body).await;
        let collected = response.into_body().collect().await.unwrap();
        assert_eq!(grpc_status(collected.trailers().unwrap()), Some("0"));
    }
}
