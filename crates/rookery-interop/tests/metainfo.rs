//! Kitex's metainfo through rookery services, without a Kitex peer: a caller's transient
//! value reaches the next service only, a persistent one every service down the chain (over
//! TTHeader they travel under Kitex's names, `RPC_TRANSIT_` and `RPC_PERSIST_`, which
//! `tests/kitex.rs` checks against Kitex itself).

use std::time::Duration;

use rookery::{
    Client, Context, Framing, Router, Service, Status, codegen::FastStr,
    transport::metainfo::Persistent,
};
use rookery_interop::{
    echo::{Echo, EchoClient, EchoEchoError, EchoRequest, EchoResponse, EchoServer},
    kitex::{self, EchoHandler},
};

/// Answers `echo` by calling the next service with a child of the call's context, and
/// returns what the next service read, with what this one read under `here:KEY`.
struct Relay {
    next: EchoClient<Client>,
}

impl Echo for Relay {
    async fn echo(
        &self,
        cx: &mut Context,
        req: EchoRequest,
    ) -> Result<EchoResponse, EchoEchoError> {
        let mut child = cx.child();
        let mut reply = self.next.echo(&mut child, req.clone()).await?;
        for key in &req.echo_metadata {
            if let Some(v) = cx.metadata().get(key) {
                reply
                    .metadata
                    .insert(FastStr::new(format!("here:{key}")), FastStr::new(v));
            }
        }
        Ok(reply)
    }

    async fn notify(&self, _: &mut Context, _: FastStr) -> Result<(), Status> {
        Ok(())
    }

    async fn notified(&self, _: &mut Context) -> Result<Vec<FastStr>, Status> {
        Ok(Vec::new())
    }
}

fn client(addr: &rookery::Address) -> EchoClient<Client> {
    EchoClient::new(
        Client::builder(addr.clone())
            .framing(Framing::TTHeader)
            .timeout(Duration::from_secs(30))
            .build(),
    )
}

#[tokio::test]
async fn persistent_values_pass_through_a_service_and_transient_ones_stop_there() {
    let last = kitex::serve(&EchoHandler::new(), "127.0.0.1:0")
        .await
        .unwrap();
    let relay = Service::builder("relay")
        .no_registry()
        .router(Router::new().add_service(EchoServer::new(Relay {
            next: client(last.local_addr()),
        })))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();

    let mut cx = Context::new();
    cx.metadata_mut().insert("tenant", "t-1");
    Persistent::insert(&mut cx, "region", "p-1");
    let reply = client(relay.local_addr())
        .echo(
            &mut cx,
            EchoRequest {
                message: "through a relay".into(),
                echo_metadata: vec!["tenant".into(), "region".into()],
                ..EchoRequest::default()
            },
        )
        .await
        .unwrap();
    let mut read: Vec<(&str, &str)> = reply.metadata.iter().map(|(k, v)| (&**k, &**v)).collect();
    read.sort();
    assert_eq!(
        read,
        [
            // The last service sees the persistent value only...
            ("here:region", "p-1"),
            // ...the relay both, without Kitex's prefixes.
            ("here:tenant", "t-1"),
            ("region", "p-1"),
        ]
    );
    // The last service's response metadata reached the relay's client context, not ours.
    assert_eq!(cx.response_metadata().get(kitex::ECHOED_BY), None);
    relay.stop().await.unwrap();
    last.stop().await.unwrap();
}

/// The Kitex cases with rookery on both sides: what rookery changed to pass against Kitex
/// (metainfo names, business statuses, Kitex Protobuf length-prefixed in TTHeader) holds
/// without a Kitex peer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kitex_cases_pass_with_rookery_on_both_sides() {
    use rookery::ProtobufClient;
    let running = kitex::serve(&EchoHandler::new(), "127.0.0.1:0")
        .await
        .unwrap();
    let addr = running.local_addr().clone();
    let mut failed = Vec::new();
    for framing in [Framing::TTHeader, Framing::TTHeaderFramed] {
        for multiplexed in [true, false] {
            let builder = || {
                let b = Client::builder(addr.clone())
                    .framing(framing)
                    .timeout(Duration::from_secs(30));
                if multiplexed {
                    b.multiplexed(1)
                } else {
                    b.pooled(4)
                }
            };
            let thrift = EchoClient::new(builder().build());
            let extra = multiplexed.then_some(&kitex::OUT_OF_ORDER);
            for case in kitex::THRIFT_CASES.iter().chain(extra) {
                if let Err(e) = kitex::run_case(case, &thrift, "rookery").await {
                    failed.push(format!(
                        "thrift {case} ({framing:?}, multiplexed: {multiplexed}): {e}"
                    ));
                }
            }
            let protobuf = rookery_interop::echo_pb::echo::pb::EchoClient::new(
                ProtobufClient::from_builder(builder()),
            );
            for case in kitex::PROTOBUF_CASES.iter().chain(extra) {
                if let Err(e) = kitex::run_case(case, &protobuf, "rookery").await {
                    failed.push(format!(
                        "protobuf {case} ({framing:?}, multiplexed: {multiplexed}): {e}"
                    ));
                }
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    running.stop().await.unwrap();
}
