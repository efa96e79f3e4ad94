//! The gRPC interop cases, rookery's client against rookery's server, over real TCP on
//! loopback.

mod common;

use rookery_grpc::{GrpcClient, interop};

use common::start;

async fn run(case: &str) {
    let server = start().await;
    let channel = GrpcClient::connect(server.addr).await.unwrap();
    interop::run_case(case, &channel)
        .await
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    // Whatever the case did, cancelled calls included, nothing is left running on the server.
    server.idle().await;
    drop(channel);
    server.shutdown().await;
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                run(stringify!($name)).await;
            }
        )*

        #[test]
        fn every_case_of_the_crate_is_run_here() {
            let here = [$(stringify!($name)),*];
            for case in interop::CASES.iter().chain(interop::EXTRA_CASES) {
                assert!(here.contains(case), "{case} is not run");
            }
        }
    };
}

cases!(
    empty_unary,
    large_unary,
    client_streaming,
    server_streaming,
    ping_pong,
    empty_stream,
    custom_metadata,
    status_code_and_message,
    special_status_message,
    unimplemented_method,
    unimplemented_service,
    cancel_after_begin,
    cancel_after_first_response,
    timeout_on_sleeping_server,
    oversize_message,
);

#[tokio::test]
async fn every_case_on_one_connection_at_once() {
    let server = start().await;
    let channel = GrpcClient::connect(server.addr).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for case in interop::CASES.iter().chain(interop::EXTRA_CASES) {
        let channel = channel.clone();
        tasks.spawn(async move {
            interop::run_case(case, &channel)
                .await
                .unwrap_or_else(|e| panic!("{case}: {e}"));
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    server.idle().await;
    server.shutdown().await;
}
