//! A generated gRPC client over `BalancedGrpcClient`: two `rookery::Service` instances of one
//! generated Protobuf service found by name in a registry, calls (unary and server
//! streaming) spread over both, and every call answered while one instance stops gracefully
//! and after.

use std::{collections::HashMap, sync::Arc, time::Duration};

use rookery::{
    BalancedGrpcClient, Context, RunningService, Service,
    grpc::interop::{
        InteropService,
        proto::grpc::testing::{
            Empty, ResponseParameters, StreamingOutputCallRequest, TestServiceClient,
            TestServiceServer,
        },
    },
    registry::{Registry, embedded::Embedded},
};

async fn instance(registry: Arc<dyn Registry>) -> RunningService {
    Service::builder("balanced-grpc")
        .registry(registry)
        .serve_grpc(
            TestServiceServer::<InteropService>::SERVICE,
            TestServiceServer::new(InteropService::new()),
        )
        .drain_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap()
}

/// Makes `calls` unary calls, `concurrency` at a time, and counts them by the instance that
/// answered.
async fn spread(
    client: &TestServiceClient<BalancedGrpcClient>,
    concurrency: usize,
    calls: usize,
) -> HashMap<String, usize> {
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..calls / concurrency {
                let mut cx = Context::new();
                client.empty_call(&mut cx, Empty::default()).await.unwrap();
                seen.push(cx.callee().address.clone().unwrap().to_string());
            }
            seen
        }));
    }
    let mut by_instance = HashMap::new();
    for task in tasks {
        for address in tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("the calls end within 20 s")
            .unwrap()
        {
            *by_instance.entry(address).or_default() += 1;
        }
    }
    by_instance
}

#[tokio::test]
async fn calls_spread_over_instances_and_survive_a_graceful_stop() {
    let registry: Arc<dyn Registry> = Arc::new(Embedded::new());
    let a = instance(registry.clone()).await;
    let b = instance(registry.clone()).await;
    let (a_addr, b_addr) = (a.local_addr().to_string(), b.local_addr().to_string());

    let channel = BalancedGrpcClient::builder("balanced-grpc")
        .discover(&*registry)
        .await
        .unwrap();
    assert_eq!(channel.endpoints().len(), 2);
    let client = TestServiceClient::new(channel.clone());

    // P2C with peak EWMA spreads concurrent calls over both.
    let counts = spread(&client, 8, 200).await;
    assert_eq!(counts.values().sum::<usize>(), 200);
    assert!(counts.get(&a_addr).is_some_and(|&n| n > 0), "{counts:?}");
    assert!(counts.get(&b_addr).is_some_and(|&n| n > 0), "{counts:?}");

    // The streaming contract too.
    let request = StreamingOutputCallRequest {
        response_parameters: vec![
            ResponseParameters {
                size: 3,
                ..Default::default()
            };
            4
        ],
        ..Default::default()
    };
    let mut stream = client
        .streaming_output_call(&mut Context::new(), request)
        .await
        .unwrap();
    let mut messages = 0;
    while let Some(message) = stream.message().await.unwrap() {
        assert_eq!(message.payload.unwrap().body.len(), 3);
        messages += 1;
    }
    assert_eq!(messages, 4);

    // One instance stops gracefully while calls run: none fails, and afterwards all go to
    // the other.
    let during = {
        let client = client.clone();
        tokio::spawn(async move { spread(&client, 4, 200).await })
    };
    a.stop().await.unwrap();
    let during = during.await.unwrap();
    assert_eq!(during.values().sum::<usize>(), 200);
    let after = spread(&client, 4, 40).await;
    assert_eq!(after.get(&b_addr), Some(&40), "{after:?}");
    assert_eq!(channel.endpoints().len(), 1);

    b.stop().await.unwrap();
    // No instance left: UNAVAILABLE, at once.
    let status = client
        .empty_call(&mut Context::new(), Empty::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), rookery::Code::Unavailable, "{status}");
}

#[tokio::test]
async fn a_call_avoids_the_instances_its_earlier_attempts_tried_and_goes_through_a_retry_layer() {
    use rookery::{
        Layer,
        balance::Tried,
        middleware::retry::{RetryLayer, RetryPolicy},
    };

    let registry: Arc<dyn Registry> = Arc::new(Embedded::new());
    let a = instance(registry.clone()).await;
    let b = instance(registry.clone()).await;
    let (a_addr, b_addr) = (a.local_addr().to_string(), b.local_addr().to_string());
    let channel = BalancedGrpcClient::builder("balanced-grpc")
        .discover(&*registry)
        .await
        .unwrap();
    let client = TestServiceClient::new(channel.clone());
    // A list naming `a` (what a retry layer keeps for a call): the call goes to `b`, which is
    // added to the list.
    for _ in 0..10 {
        let tried = Tried::new();
        tried.insert(a_addr.clone().into());
        let mut cx = Context::new();
        cx.extensions_mut().insert(tried.clone());
        client.empty_call(&mut cx, Empty::default()).await.unwrap();
        assert_eq!(cx.callee().address.as_deref(), Some(&*b_addr));
        assert_eq!(tried.addresses(), [&*a_addr, &*b_addr]);
    }
    // The retry layer is a channel of generated clients: unary and streaming calls go
    // through it.
    let client = TestServiceClient::new(
        RetryLayer::new()
            .policy(RetryPolicy::new().idempotent())
            .layer(channel),
    );
    client
        .empty_call(&mut Context::new(), Empty::default())
        .await
        .unwrap();
    let request = StreamingOutputCallRequest {
        response_parameters: vec![ResponseParameters {
            size: 3,
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut stream = client
        .streaming_output_call(&mut Context::new(), request)
        .await
        .unwrap();
    assert_eq!(
        stream
            .message()
            .await
            .unwrap()
            .unwrap()
            .payload
            .unwrap()
            .body
            .len(),
        3
    );
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}
