//! Peers that misbehave: a client that never sends the HTTP/2 preface, one that floods the
//! server with reset streams or with headers, peers that stop answering keepalive pings. Each
//! is dropped or refused, and the server goes on serving others.

use rookery_testkit::within;
use std::{convert::Infallible, net::SocketAddr, time::Duration};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rookery_grpc::{
    GrpcClient, Server, ServerBuilder,
    interop::{self, InteropService, proto::grpc::testing::TestServiceServer},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

const EMPTY_CALL: &str = "http://localhost/grpc.testing.TestService/EmptyCall";
/// An interop server built by `configure` on a loopback port.
async fn start(configure: impl FnOnce(ServerBuilder) -> ServerBuilder) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let builder = Server::builder().add_service(
        TestServiceServer::<InteropService>::SERVICE,
        TestServiceServer::new(InteropService::new()),
    );
    tokio::spawn(configure(builder).build().serve(listener));
    addr
}

/// A fresh connection to the server still carries calls.
async fn still_serves(addr: SocketAddr) {
    let channel = within(10, "connecting", GrpcClient::connect(addr))
        .await
        .unwrap();
    within(10, "a call", interop::run_case("large_unary", &channel))
        .await
        .unwrap();
}

/// Reads from `tcp` until the server closes it, discarding what it sent.
async fn closed_by_server(tcp: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

#[tokio::test]
async fn a_client_that_never_sends_the_preface_is_dropped() {
    let addr = start(|b| b.handshake_timeout(Duration::from_millis(200))).await;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    within(
        10,
        "the silent client's disconnection",
        closed_by_server(&mut silent),
    )
    .await;
    // Half a preface is no better.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    within(
        10,
        "the slow client's disconnection",
        closed_by_server(&mut slow),
    )
    .await;
    // Nor is HTTP/1, which is refused at once.
    let mut http1 = TcpStream::connect(addr).await.unwrap();
    http1
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    within(
        10,
        "the HTTP/1 client's disconnection",
        closed_by_server(&mut http1),
    )
    .await;
    still_serves(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rapid_reset_flood_ends_with_goaway() {
    let addr = start(|b| b).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut send, connection) = h2::client::handshake(tcp).await.unwrap();
    let connection = tokio::spawn(connection);
    // HEADERS then RST_STREAM, as fast as the client goes, until the server stops it.
    let mut refused = None;
    for _ in 0..100_000 {
        send = match send.ready().await {
            Ok(send) => send,
            Err(e) => {
                refused = Some(e);
                break;
            }
        };
        let request = Request::post(EMPTY_CALL)
            .header("content-type", "application/grpc")
            .body(())
            .unwrap();
        match send.send_request(request, false) {
            Ok((_, mut stream)) => stream.send_reset(h2::Reason::CANCEL),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let ended = within(10, "the flooding connection's end", connection)
        .await
        .unwrap();
    // The server sends GOAWAY ENHANCE_YOUR_CALM and closes; the client reads the GOAWAY, or,
    // when the close resets the socket first, only sees the connection broken.
    let errors: Vec<h2::Error> = ended.err().into_iter().chain(refused).collect();
    assert!(!errors.is_empty(), "the server ended the flood");
    for e in &errors {
        if let Some(reason) = e.reason() {
            assert_eq!(reason, h2::Reason::ENHANCE_YOUR_CALM, "{e}");
        } else {
            assert!(e.is_io() || e.is_go_away(), "{e}");
        }
    }
    still_serves(addr).await;
}

#[tokio::test]
async fn a_header_flood_is_refused_and_the_server_stays_up() {
    let addr = start(|b| b).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut send, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(connection);
    // 64 KiB of headers, four times the server's limit, a few times over.
    let big = "a".repeat(1024);
    for _ in 0..8 {
        let mut request = Request::post(EMPTY_CALL)
            .header("content-type", "application/grpc")
            .header("te", "trailers");
        for i in 0..64 {
            request = request.header(format!("x-flood-{i}"), &big);
        }
        let body = Full::new(Bytes::from_static(&[0, 0, 0, 0, 0]))
            .map_err(|e: Infallible| match e {})
            .boxed();
        let result = within(
            10,
            "the flooding request",
            send.send_request(request.body(body).unwrap()),
        )
        .await;
        // h2 answers 431 to a header list over the limit, or resets the stream.
        if let Ok(response) = result {
            assert_eq!(
                response.status(),
                http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            );
        }
        if send.is_closed() {
            break;
        }
    }
    still_serves(addr).await;
}

#[tokio::test]
async fn the_server_drops_a_client_that_stops_answering_pings() {
    let addr =
        start(|b| b.keepalive(Some(Duration::from_millis(100)), Duration::from_millis(100))).await;
    // A client that says hello (the preface and its SETTINGS) and then never reads nor
    // answers: no PING comes back.
    let mut mute = TcpStream::connect(addr).await.unwrap();
    mute.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    within(
        10,
        "the mute client's disconnection",
        closed_by_server(&mut mute),
    )
    .await;
    still_serves(addr).await;
}

#[tokio::test]
async fn the_client_drops_a_server_that_stops_answering_pings() {
    // A "server" that accepts and reads, and never writes a byte.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        while let Ok(n) = tcp.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    });
    let channel = GrpcClient::builder()
        .keepalive(Some(Duration::from_millis(100)), Duration::from_millis(100))
        .connect(addr)
        .await
        .unwrap();
    within(10, "the client closing its connection", async {
        while !channel.is_closed() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    // And keepalive pings do not trouble a server that answers them.
    let addr = start(|b| b).await;
    let channel = GrpcClient::builder()
        .keepalive(Some(Duration::from_millis(50)), Duration::from_secs(5))
        .connect(addr)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!channel.is_closed());
    interop::run_case("empty_unary", &channel).await.unwrap();
}
