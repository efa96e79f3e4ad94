//! A connection the kernel completed just before the server stopped listening is served, not
//! reset: its client may already have sent a call.

use std::{io::Write, time::Duration};

use bytes::{BufMut, BytesMut};
use rookery_codec::thrift::{MessageType, Protocol};
use rookery_core::{Context, Status, service_fn};
use rookery_transport::{
    Router, Server, ThriftRequest, ThriftResponse,
    health::{NoArgs, StringResult},
};
use tokio::io::AsyncReadExt;

/// A framed binary call of the built-in health service's `ping`.
fn ping_frame() -> Vec<u8> {
    let mut msg = BytesMut::new();
    Protocol::Binary.write_message_header(&mut msg, "rookery.Health:ping", MessageType::Call, 7);
    Protocol::Binary.encode(&NoArgs, &mut msg);
    let mut frame = Vec::new();
    frame.put_u32(msg.len() as u32);
    frame.extend_from_slice(&msg);
    frame
}

#[tokio::test(flavor = "current_thread")]
async fn a_connection_waiting_in_the_backlog_at_shutdown_is_served() {
    let router = Router::new().add_service_named(
        "S",
        &["m"],
        service_fn(|_cx: &mut Context, req: ThriftRequest| async move {
            Ok::<_, Status>(ThriftResponse::empty(req.protocol))
        }),
    );
    let handle = Server::builder()
        .build(router)
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = handle.local_socket_addr().unwrap();
    // On this single-threaded runtime the server's accept loop cannot run until the test
    // awaits: the connection completes in the kernel's backlog, unaccepted, and the server
    // starts draining before it ever sees it.
    let mut raw = std::net::TcpStream::connect(addr).unwrap();
    handle.shutdown();
    raw.write_all(&ping_frame()).unwrap();
    raw.set_nonblocking(true).unwrap();
    let mut stream = tokio::net::TcpStream::from_std(raw).unwrap();

    let mut reply = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut reply))
        .await
        .expect("the server answers and closes");
    read.expect("the connection is closed cleanly, not reset");
    assert!(reply.len() > 4, "a reply arrived: {reply:?}");
    let mut body = bytes::Bytes::from(reply).slice(4..);
    let envelope = Protocol::Binary.read_message_header(&mut body).unwrap();
    assert_eq!(envelope.kind, MessageType::Reply);
    assert_eq!(envelope.seq_id, 7);
    let pong: StringResult = Protocol::Binary.decode(body).unwrap();
    assert_eq!(&*pong.0, "pong");
    handle.wait().await;
}
