//! A server that gives up on a call at its deadline by resetting the stream with `CANCEL`
//! (as grpc-go's does) rather than answering `DEADLINE_EXCEEDED`: rookery's client reports
//! the deadline, not a cancellation, even when the reset beats its own timer.
//!
//! Found against grpc-go's interop server (`timeout_on_sleeping_server`, now and then
//! `CANCELLED`): the server's timer starts when the request arrives, so its reset comes just
//! after the client's deadline, and tokio's client timer, rounded up to whole milliseconds,
//! often fires later still. The bare HTTP/2 server here resets each call precisely when the
//! `grpc-timeout` it was sent has run out, from when it got the headers, to land in that gap.

use std::time::{Duration, Instant};

use futures_util::stream;
use rookery_core::{Code, Context, Status};
use rookery_grpc::{
    GrpcClient,
    interop::proto::grpc::testing::{SimpleRequest, StreamingOutputCallRequest, TestServiceClient},
};
use tokio::net::TcpListener;

/// How long each call is given; the server resets it when that is up.
const TIMEOUT: Duration = Duration::from_millis(3);
/// Calls of each kind: the reset lands before the client's timer in most, not all.
const CALLS: usize = 20;

/// The duration a `grpc-timeout` value (`3m`, `2999u`, ...) says.
fn parse_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// A bare HTTP/2 server on loopback that answers no call: it resets each with `CANCEL` when
/// its `grpc-timeout` runs out, timed from the arrival of its headers by a thread that
/// watches the clock (a tokio timer would round up, as the client's does).
async fn start_resetting_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut conn = h2::server::handshake(tcp).await.unwrap();
                while let Some(Ok((request, mut respond))) = conn.accept().await {
                    let arrived = Instant::now();
                    let timeout = request
                        .headers()
                        .get("grpc-timeout")
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_timeout)
                        .expect("the call carries a grpc-timeout");
                    tokio::task::spawn_blocking(move || {
                        let at = arrived + timeout;
                        while Instant::now() < at {
                            std::hint::spin_loop();
                        }
                        respond.send_reset(h2::Reason::CANCEL);
                    });
                }
            });
        }
    });
    addr
}

fn within_timeout() -> Context {
    let mut cx = Context::new();
    cx.set_deadline(Some(Instant::now() + TIMEOUT));
    cx
}

fn expect_deadline(result: Result<(), Status>, what: &str, failed: &mut Vec<String>) {
    match result {
        Err(status) if status.code() == Code::DeadlineExceeded => {}
        other => failed.push(format!("{what}: {other:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_at_the_deadline_is_reported_as_the_deadline() {
    let addr = start_resetting_server().await;
    let client = TestServiceClient::new(GrpcClient::connect(addr).await.unwrap());
    let mut failed = Vec::new();
    for i in 0..CALLS {
        let result = client
            .unary_call(&mut within_timeout(), SimpleRequest::default())
            .await
            .map(drop);
        expect_deadline(result, &format!("unary call {i}"), &mut failed);

        let result = async {
            let requests = stream::iter([Ok::<_, Status>(StreamingOutputCallRequest::default())]);
            let mut responses = client
                .full_duplex_call(&mut within_timeout(), requests)
                .await?;
            while responses.message().await?.is_some() {}
            Ok(())
        }
        .await;
        expect_deadline(result, &format!("full-duplex call {i}"), &mut failed);
    }
    assert!(
        failed.is_empty(),
        "calls reset by the server at their deadline, not DEADLINE_EXCEEDED:\n{}",
        failed.join("\n")
    );
}
