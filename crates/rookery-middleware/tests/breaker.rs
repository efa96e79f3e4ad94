//! The circuit breaker on a real client against a real native rookery server: once open it
//! sends nothing (the server counts every call it receives), and it closes again through
//! half-open probes once the server recovers.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use rookery_codec::thrift::{ApplicationException, ApplicationExceptionKind, Protocol};
use rookery_core::{Code, Context, Layer, Service, Status, service_fn};
use rookery_middleware::breaker::{BreakerPolicy, BreakerState, CircuitBreakerLayer};
use rookery_transport::{Client, Router, Server, ServerHandle, ThriftRequest, ThriftResponse};

/// What the server saw: calls received, and whether it answers them well.
#[derive(Default)]
struct Backend {
    received: AtomicUsize,
    healthy: AtomicBool,
}

async fn serve(backend: Arc<Backend>) -> ServerHandle {
    let handler = service_fn(move |_cx: &mut Context, req: ThriftRequest| {
        let backend = Arc::clone(&backend);
        async move {
            backend.received.fetch_add(1, Ordering::SeqCst);
            if backend.healthy.load(Ordering::SeqCst) {
                let ThriftRequest {
                    protocol,
                    body,
                    limits,
                    ..
                } = req;
                Ok(ThriftResponse {
                    protocol,
                    body,
                    limits,
                })
            } else {
                Err(Status::unavailable("the backend is down"))
            }
        }
    });
    Server::builder()
        .service_name("Bank")
        .build(Router::new().add_service_named("Bank", &["get"], handler))
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn get() -> ThriftRequest {
    let args = ApplicationException::new(ApplicationExceptionKind::Unknown, "account 7");
    ThriftRequest::new("get", Protocol::Binary, &args)
}

#[tokio::test]
async fn an_open_breaker_sends_nothing_to_a_real_server_and_recovers_through_probes() {
    let backend = Arc::new(Backend::default());
    let server = serve(Arc::clone(&backend)).await;
    let open_for = Duration::from_millis(200);
    let policy = BreakerPolicy::default()
        .min_calls(5)
        .failure_rate(0.5)
        .open_for(open_for, Duration::from_secs(1))
        .probes(2);
    let client = CircuitBreakerLayer::new(policy)
        .layer(Client::builder(server.local_addr().clone()).build());
    let call = || async { client.call(&mut Context::new(), get()).await };

    for _ in 0..5 {
        let status = call().await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
        assert!(!status.is_unsent(), "the server answered: {status}");
    }
    assert_eq!(backend.received.load(Ordering::SeqCst), 5);
    assert_eq!(client.state("", "get", None), Some(BreakerState::Open));

    // Open: a hundred calls, none reaches the server.
    for _ in 0..100 {
        let status = call().await.unwrap_err();
        assert!(status.is_unsent(), "{status}");
    }
    assert_eq!(backend.received.load(Ordering::SeqCst), 5);

    // The server recovers; once the open time has passed, probes reach it and close the
    // breaker.
    backend.healthy.store(true, Ordering::SeqCst);
    tokio::time::sleep(open_for).await;
    let mut answered = 0;
    for _ in 0..200 {
        match call().await {
            Ok(_) => answered += 1,
            // Open time not quite over by the breaker's clock: wait a little more.
            Err(status) if status.is_unsent() => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(status) => panic!("the recovered server failed: {status}"),
        }
        if answered == 10 {
            break;
        }
    }
    assert_eq!(answered, 10);
    assert_eq!(client.state("", "get", None), Some(BreakerState::Closed));
    assert_eq!(backend.received.load(Ordering::SeqCst), 15);
    server.stop().await;
}
