//! Connection limits, and clients that let go of their connections.

use std::time::Duration;

use rookery_codec::thrift::{ApplicationException, ApplicationExceptionKind};
use rookery_core::{Context, Status, service_fn};
use rookery_transport::{Client, Router, Server, ServerHandle, ThriftRequest, ThriftResponse};
use tokio::{io::AsyncReadExt, net::TcpStream};

async fn server(max_connections: usize) -> ServerHandle {
    serve(Server::builder().max_connections(max_connections)).await
}

async fn serve(builder: rookery_transport::ServerBuilder) -> ServerHandle {
    let router = Router::new().add_service_named(
        "S",
        &["ping"],
        service_fn(|_cx: &mut Context, req: ThriftRequest| async move {
            Ok::<_, Status>(ThriftResponse::new(req.protocol, &ping()))
        }),
    );
    builder
        .build(router)
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn ping() -> ApplicationException {
    ApplicationException::new(ApplicationExceptionKind::Unknown, "pong")
}

async fn call(client: &Client) -> Result<ApplicationException, Status> {
    client.call(&mut Context::new(), "ping", &ping()).await
}

/// Reads until the server closes the connection; fails the test if it stays open.
async fn expect_closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
        .await
        .expect("the server should close a connection over the limit");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "expected a close, read {read:?}"
    );
}

#[tokio::test]
async fn connections_over_the_limit_are_closed_and_slots_come_back() {
    let handle = server(2).await;
    let addr = handle.local_addr().clone();
    let first = Client::builder(addr.clone()).build();
    let second = Client::builder(addr.clone()).build();
    call(&first).await.unwrap();
    call(&second).await.unwrap();

    // Two connections are open: a third is closed as soon as it is accepted.
    let sock = handle.local_socket_addr().unwrap();
    let mut third = TcpStream::connect(sock).await.unwrap();
    expect_closed(&mut third).await;

    // A client that is dropped closes its connection, and the slot is free again.
    drop(first);
    let mut served = false;
    for _ in 0..200 {
        let again = Client::builder(addr.clone()).build();
        if call(&again).await.is_ok() {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(served, "the slot of the dropped client never came back");
    call(&second).await.unwrap();
    handle.stop().await;
}

/// Opens an HTTP/2 connection as a gRPC client does (the preface, then its SETTINGS) and
/// waits for the server's SETTINGS: the server took it as HTTP/2.
#[cfg(feature = "http2")]
async fn http2_connection(addr: std::net::SocketAddr) -> TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let mut header = [0u8; 9];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut header))
        .await
        .expect("the server should answer the preface")
        .expect("the server should answer the preface with a frame");
    assert_eq!(header[3], 4, "the server's first frame is its SETTINGS");
    stream
}

/// gRPC shares the port with the native protocol, and the connection limit with it: HTTP/2
/// connections take slots as native ones do, and are refused past the limit.
#[cfg(feature = "http2")]
#[tokio::test]
async fn http2_connections_count_toward_the_same_limit() {
    use http_body_util::{BodyExt, Empty};
    // What gRPC is on the port: the handler HTTP/2 is handed to.
    let grpc = |_req: http::Request<hyper::body::Incoming>, _peer| async {
        http::Response::new(Empty::new().map_err(|never| match never {}).boxed_unsync())
    };
    let handle = serve(Server::builder().max_connections(1).http_handler(grpc)).await;
    let addr = handle.local_addr().clone();
    let sock = handle.local_socket_addr().unwrap();

    // An HTTP/2 connection holds the only slot: a native one is closed...
    let h2 = http2_connection(sock).await;
    let mut native = TcpStream::connect(sock).await.unwrap();
    expect_closed(&mut native).await;
    // ...and so is a second HTTP/2 one, before any frame of the server's.
    let mut second = TcpStream::connect(sock).await.unwrap();
    expect_closed(&mut second).await;

    // Once it closes, a native client is served; while that one holds the slot, an HTTP/2
    // connection is closed.
    drop(h2);
    let client = Client::builder(addr.clone()).build();
    let mut served = false;
    for _ in 0..200 {
        if call(&client).await.is_ok() {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(served, "the slot of the HTTP/2 connection never came back");
    let mut refused = TcpStream::connect(sock).await.unwrap();
    expect_closed(&mut refused).await;
    call(&client).await.unwrap();
    handle.stop().await;
}

#[tokio::test]
async fn a_panicking_handler_answers_internal_without_its_text_and_the_connection_serves_on() {
    let router = Router::new().add_service_named(
        "S",
        &["ping", "boom"],
        service_fn(|_cx: &mut Context, req: ThriftRequest| async move {
            if req.method == "boom" {
                panic!("secret detail of the server");
            }
            Ok::<_, Status>(ThriftResponse::new(req.protocol, &ping()))
        }),
    );
    let handle = Server::builder()
        .build(router)
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = Client::builder(handle.local_addr().clone()).build();
    let status = client
        .call::<_, ApplicationException>(&mut Context::new(), "boom", &ping())
        .await
        .unwrap_err();
    assert_eq!(status.code(), rookery_core::Code::Internal, "{status}");
    assert!(!status.message().contains("secret"), "{status}");
    assert_eq!(call(&client).await.unwrap().message, "pong");
}
