//! `grpc.health.v1.Health` over loopback TCP, called by its generated client through
//! rookery's `GrpcClient`: `Check` of the whole server, of a served service and of an unknown
//! one; `List`; `Watch` following changes, an unknown name, and the start of a graceful
//! shutdown.

#![cfg(feature = "health")]

use rookery_testkit::within;
use std::net::SocketAddr;

use rookery_codec::protobuf::rpc::Streaming;
use rookery_core::{Code, Context};
use rookery_grpc::{
    GrpcClient, Server,
    health::{
        HealthCheckRequest, HealthCheckResponse, HealthClient, HealthListRequest, HealthReporter,
        ServingStatus,
    },
    interop::{InteropService, proto::grpc::testing::TestServiceServer},
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

const TEST_SERVICE: &str = "grpc.testing.TestService";
struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    served: JoinHandle<std::io::Result<()>>,
}

/// A server of TestService and health on an ephemeral loopback port, `health` tied to it.
async fn start(health: &HealthReporter) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    health.add_service(TEST_SERVICE);
    let server = Server::builder()
        .add_health(health)
        .add_service(
            TestServiceServer::<InteropService>::SERVICE,
            TestServiceServer::new(InteropService::new()),
        )
        .build();
    let (stop, stopped) = oneshot::channel::<()>();
    let health = health.clone();
    let served = tokio::spawn(async move {
        server
            .serve_with_health(listener, &health, async move {
                let _ = stopped.await;
            })
            .await
    });
    Running {
        addr,
        stop: Some(stop),
        served,
    }
}

async fn client(addr: SocketAddr) -> HealthClient<GrpcClient> {
    HealthClient::new(
        within(10, "connecting", GrpcClient::connect(addr))
            .await
            .unwrap(),
    )
}

fn request(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_string().into(),
    }
}

async fn check(client: &HealthClient<GrpcClient>, service: &str) -> Result<ServingStatus, Code> {
    within(
        10,
        "Check",
        client.check(&mut Context::new(), request(service)),
    )
    .await
    .map(|r| r.status)
    .map_err(|s| s.code())
}

#[tokio::test]
async fn check_answers_the_server_a_served_service_and_not_found_for_others() {
    let health = HealthReporter::new();
    assert_eq!(health.status(""), Some(ServingStatus::NOT_SERVING));
    let server = start(&health).await;
    let client = client(server.addr).await;

    assert_eq!(check(&client, "").await, Ok(ServingStatus::SERVING));
    assert_eq!(
        check(&client, TEST_SERVICE).await,
        Ok(ServingStatus::SERVING)
    );
    assert_eq!(
        check(&client, "grpc.testing.NoSuchService").await,
        Err(Code::NotFound)
    );

    // The application's own say.
    health.set_not_serving(TEST_SERVICE);
    assert_eq!(
        check(&client, TEST_SERVICE).await,
        Ok(ServingStatus::NOT_SERVING)
    );
    health.set_serving("extra.Service");
    assert_eq!(
        check(&client, "extra.Service").await,
        Ok(ServingStatus::SERVING)
    );
    health.clear("extra.Service");
    assert_eq!(check(&client, "extra.Service").await, Err(Code::NotFound));

    let list = within(
        10,
        "List",
        client.list(&mut Context::new(), HealthListRequest::default()),
    )
    .await
    .unwrap();
    let mut statuses: Vec<(String, ServingStatus)> = list
        .statuses
        .iter()
        .map(|(name, r)| (name.to_string(), r.status))
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            (String::new(), ServingStatus::SERVING),
            (TEST_SERVICE.to_string(), ServingStatus::NOT_SERVING)
        ]
    );
}

#[tokio::test]
async fn list_refuses_more_than_a_hundred_services() {
    let health = HealthReporter::new();
    for i in 0..100 {
        health.set_serving(format!("many.Service{i}"));
    }
    let server = start(&health).await;
    let client = client(server.addr).await;
    let err = within(
        10,
        "List",
        client.list(&mut Context::new(), HealthListRequest::default()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err}");
}

async fn next(stream: &mut Streaming<HealthCheckResponse>) -> Option<ServingStatus> {
    within(10, "a Watch message", stream.message())
        .await
        .unwrap()
        .map(|r| r.status)
}

#[tokio::test]
async fn watch_sends_the_status_then_each_change_and_not_serving_when_shutdown_begins() {
    let health = HealthReporter::new();
    let mut server = start(&health).await;
    let client = client(server.addr).await;

    let mut whole = within(10, "Watch", client.watch(&mut Context::new(), request("")))
        .await
        .unwrap();
    let mut service = within(
        10,
        "Watch",
        client.watch(&mut Context::new(), request(TEST_SERVICE)),
    )
    .await
    .unwrap();
    assert_eq!(next(&mut whole).await, Some(ServingStatus::SERVING));
    assert_eq!(next(&mut service).await, Some(ServingStatus::SERVING));

    // Each change is sent; setting the same status again is not a change.
    health.set_not_serving(TEST_SERVICE);
    health.set_not_serving(TEST_SERVICE);
    assert_eq!(next(&mut service).await, Some(ServingStatus::NOT_SERVING));
    health.set_serving(TEST_SERVICE);
    assert_eq!(next(&mut service).await, Some(ServingStatus::SERVING));

    // Graceful shutdown: NOT_SERVING, then the stream ends, and the server stops.
    let _ = server.stop.take().unwrap().send(());
    assert_eq!(next(&mut whole).await, Some(ServingStatus::NOT_SERVING));
    assert_eq!(next(&mut whole).await, None);
    assert_eq!(next(&mut service).await, Some(ServingStatus::NOT_SERVING));
    assert_eq!(next(&mut service).await, None);
    within(10, "the server to stop", &mut server.served)
        .await
        .unwrap()
        .unwrap();
    // For good: the application cannot make it serve again.
    health.set_serving("");
    assert_eq!(health.status(""), Some(ServingStatus::NOT_SERVING));
}

#[tokio::test]
async fn watch_of_an_unknown_service_answers_service_unknown_and_stays_open() {
    let health = HealthReporter::new();
    let server = start(&health).await;
    let client = client(server.addr).await;

    let mut stream = within(
        10,
        "Watch",
        client.watch(&mut Context::new(), request("later.Service")),
    )
    .await
    .unwrap();
    let first = within(10, "a Watch message", stream.message())
        .await
        .unwrap();
    assert_eq!(
        first.map(|r| r.status),
        Some(ServingStatus::SERVICE_UNKNOWN)
    );

    health.set_serving("later.Service");
    let second = within(10, "a Watch message", stream.message())
        .await
        .unwrap();
    assert_eq!(second.map(|r| r.status), Some(ServingStatus::SERVING));

    health.clear("later.Service");
    let third = within(10, "a Watch message", stream.message())
        .await
        .unwrap();
    assert_eq!(
        third.map(|r| r.status),
        Some(ServingStatus::SERVICE_UNKNOWN)
    );
}

#[tokio::test]
async fn a_name_added_after_the_start_is_serving() {
    let health = HealthReporter::new();
    let server = start(&health).await;
    let client = client(server.addr).await;
    health.add_service("late.Service");
    assert_eq!(
        check(&client, "late.Service").await,
        Ok(ServingStatus::SERVING)
    );
}

#[test]
fn public_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let health = HealthReporter::new();
    send(&health.shutdown());
}
