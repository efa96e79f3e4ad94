//! Every server answers health checks on its one port: the Thrift `rookery.Health` service
//! in every framing, and HTTP `/health`, whatever services it serves.

use std::time::Duration;

use rookery_core::{Code, Context, Status, service_fn};
use rookery_transport::{
    Client, Framing, HealthState, Router, Server, ServerHandle, ThriftRequest, ThriftResponse,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::oneshot,
};

/// A server whose one method waits until told to answer.
async fn server() -> (ServerHandle, tokio::sync::mpsc::Sender<oneshot::Sender<()>>) {
    let (tx, rx) = tokio::sync::mpsc::channel::<oneshot::Sender<()>>(8);
    let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
    let router = Router::new().add_service_named(
        "Slow",
        &["wait"],
        service_fn(move |_cx: &mut Context, req: ThriftRequest| {
            let rx = std::sync::Arc::clone(&rx);
            async move {
                // Tell the test the call started, then wait (the sender is held, never fired:
                // only the drain deadline ends the call).
                let (_never_fired, go_rx) = oneshot::channel::<()>();
                let started = rx.lock().await.recv().await;
                if let Some(started) = started {
                    let _ = started.send(());
                }
                let _ = tokio::time::timeout(Duration::from_secs(30), go_rx).await;
                Ok::<_, Status>(ThriftResponse::empty(req.protocol))
            }
        }),
    );
    let handle = Server::builder()
        .drain_timeout(Duration::from_millis(300))
        .build(router)
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (handle, tx)
}

async fn http(addr: std::net::SocketAddr, request: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut out))
        .await
        .expect("an HTTP answer")
        .unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {out:?}"));
    (status, out)
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
}

#[tokio::test]
async fn thrift_health_calls_in_every_framing() {
    let (handle, _tx) = server().await;
    for framing in [
        Framing::TTHeader,
        Framing::TTHeaderFramed,
        Framing::Framed,
        Framing::Buffered,
    ] {
        for pooled in [false, true] {
            let mut b = Client::builder(handle.local_addr().clone()).framing(framing);
            if pooled {
                b = b.pooled(2);
            }
            let client = b.build();
            client.ping(&mut Context::new()).await.unwrap();
            assert_eq!(
                client.check_health(&mut Context::new()).await.unwrap(),
                HealthState::Serving,
                "{framing:?}"
            );
        }
    }
    handle.stop().await;
}

#[tokio::test]
async fn http_health_on_the_same_port() {
    let (handle, _tx) = server().await;
    let addr = handle.local_socket_addr().unwrap();
    let (status, body) = http(addr, &get("/health")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"status\":\"SERVING\""), "{body}");
    assert!(
        body.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{body}"
    );
    assert_eq!(http(addr, &get("/health/live")).await.0, 200);
    assert_eq!(http(addr, &get("/health/ready")).await.0, 200);
    assert_eq!(http(addr, &get("/nothing")).await.0, 404);
    let post = "POST /health HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    assert_eq!(http(addr, post).await.0, 405);
    // Thrift still works on the same port, and a second request on a kept-alive HTTP
    // connection is answered too.
    Client::builder(handle.local_addr().clone())
        .build()
        .ping(&mut Context::new())
        .await
        .unwrap();
    let mut s = TcpStream::connect(addr).await.unwrap();
    let keep = "GET /health HTTP/1.1\r\nHost: t\r\n\r\n";
    s.write_all(format!("{keep}{}", get("/health/live")).as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2, "{out}");
    handle.stop().await;
}

#[tokio::test]
async fn a_draining_server_says_so() {
    let (handle, tx) = server().await;
    let client = Client::builder(handle.local_addr().clone()).build();
    // Keep a call in flight so the server drains for a while.
    let (started_tx, started_rx) = oneshot::channel();
    tx.send(started_tx).await.unwrap();
    let slow = {
        let client = client.clone();
        tokio::spawn(async move {
            let req = ThriftRequest::new(
                "wait",
                client.protocol(),
                &rookery_transport::health::NoArgs,
            );
            rookery_core::Service::call(&client, &mut Context::new(), req).await
        })
    };
    started_rx.await.unwrap();
    handle.shutdown();
    assert_eq!(handle.health().get(), HealthState::Draining);
    // The connection in use still answers, and says it is draining.
    assert_eq!(
        client.check_health(&mut Context::new()).await.unwrap(),
        HealthState::Draining
    );
    handle.wait().await;
    // The drain deadline cut the waiting call off.
    let err = slow.await.unwrap().unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    // And an unknown method of the health service is UNIMPLEMENTED.
    let (handle, _tx) = server().await;
    let client = Client::builder(handle.local_addr().clone()).build();
    let err = client
        .call::<_, rookery_transport::health::StringResult>(
            &mut Context::new(),
            "rookery.Health:nothing",
            &rookery_transport::health::NoArgs,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented, "{err}");
    handle.stop().await;
}

#[tokio::test]
async fn routes_of_the_application_answer_get_on_the_same_port() {
    let scrapes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = scrapes.clone();
    let router = Router::new().add_service_named(
        "Echo",
        &["echo"],
        service_fn(|_cx: &mut Context, req: ThriftRequest| async move {
            Ok::<_, Status>(ThriftResponse::empty(req.protocol))
        }),
    );
    let handle = Server::builder()
        .http_get("/metrics", "text/plain; version=0.0.4", move || {
            // Made at each request: the answer is current.
            let n = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            bytes::Bytes::from(format!("scrapes_total {n}\n"))
        })
        .http_get("/health", "text/plain", || {
            bytes::Bytes::from_static(b"taken")
        })
        .build(router)
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = handle.local_socket_addr().unwrap();

    let (status, out) = http(addr, &get("/metrics")).await;
    assert_eq!(status, 200, "{out}");
    assert!(out.ends_with("\r\n\r\nscrapes_total 1\n"), "{out}");
    assert!(
        out.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{out}"
    );
    let (status, out) = http(addr, &get("/metrics")).await;
    assert_eq!(status, 200);
    assert!(out.ends_with("scrapes_total 2\n"), "{out}");
    let head = "HEAD /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let (status, out) = http(addr, head).await;
    assert_eq!(status, 200);
    assert!(
        !out.contains("scrapes_total"),
        "a HEAD answer has no body: {out}"
    );
    let post =
        "POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    assert_eq!(http(addr, post).await.0, 405);
    // The health check keeps its path; other paths are still not found.
    let (status, out) = http(addr, &get("/health")).await;
    assert_eq!(status, 200);
    assert!(out.contains("SERVING"), "{out}");
    assert_eq!(http(addr, &get("/metrics/other")).await.0, 404);
    handle.stop().await;
}
