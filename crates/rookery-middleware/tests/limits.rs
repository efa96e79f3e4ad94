//! Server limits on a real native rookery server, called by a real client: a refused call
//! comes back with its status and the retry pushback in the response metadata.

use std::{sync::Arc, time::Duration};

use rookery_codec::thrift::{ApplicationException, ApplicationExceptionKind, Protocol};
use rookery_core::{Code, Context, Layer, Service, Status, service_fn};
use rookery_middleware::limit::{
    Pushback,
    concurrency::ConcurrencyLimitLayer,
    rate::{Rate, RateLimitLayer},
    retry_pushback,
};
use rookery_transport::{Client, Router, Server, ServerHandle, ThriftRequest, ThriftResponse};
use tokio::sync::{Notify, Semaphore};

/// Holds `report` calls: each says it arrived, then waits for a permit.
struct Gate {
    open: Semaphore,
    arrived: Notify,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            open: Semaphore::new(0),
            arrived: Notify::new(),
        }
    }
}

/// A server of `Bank` whose `get` and `put` answer at once and whose `report` waits at
/// `gate`, wrapped in `layer`.
async fn serve<L>(layer: L, gate: Arc<Gate>) -> ServerHandle
where
    L: Layer<Router>,
    L::Service: Service<ThriftRequest, Response = ThriftResponse> + 'static,
{
    let handler = service_fn(move |_cx: &mut Context, req: ThriftRequest| {
        let gate = Arc::clone(&gate);
        async move {
            if &*req.method == "report" {
                gate.arrived.notify_one();
                let _permit = gate.open.acquire().await;
            }
            let ThriftRequest {
                protocol,
                body,
                limits,
                ..
            } = req;
            Ok::<_, Status>(ThriftResponse {
                protocol,
                body,
                limits,
            })
        }
    });
    let router = Router::new().add_service_named("Bank", &["get", "put", "report"], handler);
    Server::builder()
        .service_name("Bank")
        .build(layer.layer(router))
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn request(method: &'static str) -> ThriftRequest {
    let args = ApplicationException::new(ApplicationExceptionKind::Unknown, "args");
    ThriftRequest::new(method, Protocol::Binary, &args)
}

async fn call(client: &Client, method: &'static str) -> Result<(), (Status, Option<Pushback>)> {
    let mut cx = Context::new();
    match Service::call(client, &mut cx, request(method)).await {
        Ok(_) => Ok(()),
        Err(status) => Err((status, retry_pushback(&cx))),
    }
}

#[tokio::test]
async fn a_rate_limited_method_answers_resource_exhausted_with_a_pushback_over_the_wire() {
    let layer = RateLimitLayer::new().method("get", Rate::per_second(0.01).burst(2));
    let server = serve(layer, Arc::default()).await;
    let client = Client::builder(server.local_addr().clone()).build();
    call(&client, "get").await.unwrap();
    call(&client, "get").await.unwrap();
    let (status, pushback) = call(&client, "get").await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status}");
    assert!(status.message().contains("Bank.get"), "{status}");
    let Some(Pushback::After(after)) = pushback else {
        panic!("no pushback came back: {pushback:?}");
    };
    // One token every 100 s: the next is most of that away.
    assert!(after > Duration::from_secs(90), "{after:?}");
    // `put` has no limit.
    for _ in 0..5 {
        call(&client, "put").await.unwrap();
    }
    server.stop().await;
}

#[tokio::test]
async fn an_overloaded_method_is_shed_with_unavailable_and_a_pushback_over_the_wire() {
    let layer = ConcurrencyLimitLayer::shed()
        .method("report", 1)
        .pushback(Duration::from_millis(300));
    let gate = Arc::new(Gate::default());
    let server = serve(layer, Arc::clone(&gate)).await;
    let client = Client::builder(server.local_addr().clone()).build();
    // The first report runs (and waits at the gate); the next ones are shed until it ends.
    let running = {
        let client = client.clone();
        tokio::spawn(async move { call(&client, "report").await })
    };
    gate.arrived.notified().await;
    let (status, pushback) = call(&client, "report").await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(status.message().contains("overloaded"), "{status}");
    assert_eq!(pushback, Some(Pushback::After(Duration::from_millis(300))));
    call(&client, "get").await.unwrap();
    gate.open.add_permits(10);
    running.await.unwrap().unwrap();
    call(&client, "report").await.unwrap();
    server.stop().await;
}
