//! The standard gRPC services a `rookery::Service` serves beside its own: health, driven by
//! the service's lifecycle (SERVING once it serves, NOT_SERVING seen by `Watch` streams when
//! it stops), and server reflection (on by default, off on request).

use std::{net::SocketAddr, time::Duration};

use rookery::{
    Address, Code, Context, Service,
    grpc::{
        GrpcClient,
        health::{HealthCheckRequest, HealthClient, ServingStatus},
        interop::{
            self, InteropService,
            proto::grpc::testing::{TestServiceClient, TestServiceServer},
        },
        reflection::proto::grpc::reflection::v1::{
            ServerReflectionClient, ServerReflectionRequest,
            server_reflection_request::MessageRequest as Q,
            server_reflection_response::MessageResponse as A,
        },
    },
    transport::HealthState,
};

const TEST_SERVICE: &str = "grpc.testing.TestService";

/// Awaits `f`, failing the test if nothing happens within 10 s: a guard against hangs.
async fn within<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(10), f).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: nothing happened within 10 s"),
    }
}

fn socket(addr: &Address) -> SocketAddr {
    match addr {
        Address::Tcp(sock) => *sock,
        other => panic!("expected a TCP address, got {other}"),
    }
}

fn builder() -> rookery::ServiceBuilder {
    Service::builder("standard")
        .no_registry()
        .serve_grpc(
            TestServiceServer::<InteropService>::SERVICE,
            TestServiceServer::new(InteropService::new()),
        )
        .drain_timeout(Duration::from_secs(5))
}

fn request(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_string().into(),
    }
}

async fn check(client: &HealthClient<GrpcClient>, service: &str) -> Result<ServingStatus, Code> {
    within("Check", client.check(&mut Context::new(), request(service)))
        .await
        .map(|r| r.status)
        .map_err(|s| s.code())
}

#[tokio::test]
async fn grpc_health_follows_the_lifecycle_and_watchers_see_the_stop() {
    let running = builder().build().unwrap().start().await.unwrap();
    let channel = GrpcClient::connect(socket(running.local_addr()))
        .await
        .unwrap();
    let health = HealthClient::new(channel.clone());

    assert_eq!(check(&health, "").await, Ok(ServingStatus::SERVING));
    assert_eq!(
        check(&health, TEST_SERVICE).await,
        Ok(ServingStatus::SERVING)
    );
    assert_eq!(check(&health, "no.Such").await, Err(Code::NotFound));

    // The service's own health drives it: a return to starting is NOT_SERVING, and back.
    running.health().set(HealthState::Starting);
    let mut watch = within("Watch", health.watch(&mut Context::new(), request("")))
        .await
        .unwrap();
    let mut first = within("a Watch message", watch.message())
        .await
        .unwrap()
        .map(|r| r.status);
    if first == Some(ServingStatus::SERVING) {
        // The follower had not seen the change yet when the stream opened.
        first = within("a Watch message", watch.message())
            .await
            .unwrap()
            .map(|r| r.status);
    }
    assert_eq!(first, Some(ServingStatus::NOT_SERVING));
    running.health().set(HealthState::Serving);
    let next = within("a Watch message", watch.message()).await.unwrap();
    assert_eq!(next.map(|r| r.status), Some(ServingStatus::SERVING));

    let mut service_watch = within(
        "Watch",
        health.watch(&mut Context::new(), request(TEST_SERVICE)),
    )
    .await
    .unwrap();
    let first = within("a Watch message", service_watch.message())
        .await
        .unwrap();
    assert_eq!(first.map(|r| r.status), Some(ServingStatus::SERVING));

    // Stop: both streams see NOT_SERVING and end, and the stop completes.
    let stop = tokio::spawn(running.stop());
    for stream in [&mut watch, &mut service_watch] {
        let last = within("a Watch message", stream.message()).await.unwrap();
        assert_eq!(last.map(|r| r.status), Some(ServingStatus::NOT_SERVING));
        assert!(
            within("the end of Watch", stream.message())
                .await
                .unwrap()
                .is_none()
        );
    }
    within("the stop", stop).await.unwrap().unwrap();
}

/// Asks one reflection question over v1 and returns the answer.
async fn ask(channel: GrpcClient, question: Q) -> Result<A, Code> {
    let client = ServerReflectionClient::new(channel);
    let requests = futures_util::stream::iter([Ok(ServerReflectionRequest {
        host: String::new().into(),
        message_request: Some(question),
    })]);
    let mut answers = within(
        "ServerReflectionInfo",
        client.server_reflection_info(&mut Context::new(), requests),
    )
    .await
    .map_err(|s| s.code())?;
    let answer = within("an answer", answers.message())
        .await
        .map_err(|s| s.code())?
        .and_then(|a| a.message_response)
        .expect("an answer");
    Ok(answer)
}

#[tokio::test]
async fn reflection_lists_the_services_served_and_describes_them() {
    let running = builder()
        .reflect(interop::proto::FILE_DESCRIPTOR_SET)
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let channel = GrpcClient::connect(socket(running.local_addr()))
        .await
        .unwrap();

    let answer = ask(channel.clone(), Q::ListServices(String::new().into()))
        .await
        .unwrap();
    let A::ListServicesResponse(list) = answer else {
        panic!("{answer:?}");
    };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            TEST_SERVICE,
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection"
        ]
    );

    // The descriptors given are described; the health service's come with it.
    for symbol in [TEST_SERVICE, "grpc.health.v1.Health"] {
        let answer = ask(
            channel.clone(),
            Q::FileContainingSymbol(symbol.to_string().into()),
        )
        .await
        .unwrap();
        assert!(
            matches!(answer, A::FileDescriptorResponse(ref r) if !r.file_descriptor_proto.is_empty()),
            "{symbol}: {answer:?}"
        );
    }

    // The service still answers its own calls.
    TestServiceClient::new(channel)
        .empty_call(&mut Context::new(), Default::default())
        .await
        .unwrap();
    running.stop().await.unwrap();
}

#[tokio::test]
async fn reflection_can_be_turned_off() {
    let running = builder()
        .reflection(false)
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let channel = GrpcClient::connect(socket(running.local_addr()))
        .await
        .unwrap();
    let answer = ask(channel.clone(), Q::ListServices(String::new().into())).await;
    assert_eq!(answer.unwrap_err(), Code::Unimplemented);
    // Health stays.
    let health = HealthClient::new(channel);
    assert_eq!(check(&health, "").await, Ok(ServingStatus::SERVING));
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_descriptor_set_that_does_not_decode_fails_the_build() {
    let err = builder().reflect(&[0xff, 0xff, 0xff]).build().unwrap_err();
    assert!(err.to_string().contains("descriptor set"), "{err}");
}
