//! Connection limits, and clients that let go of their connections.

use std::time::Duration;

use rookery_codec::thrift::{ApplicationException, ApplicationExceptionKind};
use rookery_core::{Context, Status, service_fn};
use rookery_transport::{Client, Router, Server, ServerHandle, ThriftRequest, ThriftResponse};
use tokio::{io::AsyncReadExt, net::TcpStream};

async fn server(max_connections: usize) -> ServerHandle {
    let router = Router::new().add_service_named(
        "S",
        &["ping"],
        service_fn(|_cx: &mut Context, req: ThriftRequest| async move {
            Ok::<_, Status>(ThriftResponse::new(req.protocol, &ping()))
        }),
    );
    Server::builder()
        .max_connections(max_connections)
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
