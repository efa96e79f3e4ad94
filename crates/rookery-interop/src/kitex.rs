//! rookery's side of the interoperability with Kitex (`interop/kitex`): the echo service of
//! `interop/kitex/idl` (Thrift and Protobuf) served by rookery with the same semantics as the
//! Kitex peer's server ([`EchoHandler`], [`serve`]), and the cases a rookery client runs
//! against either server ([`run_thrift_case`], [`run_protobuf_case`]), by the names the Kitex
//! peer's client gives them.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::future::join_all;
use rookery::{
    Address, Client, Context, ProtobufClient, Router, RunningService, Service, Status,
    codegen::{Bytes, FastStr, HashMap},
    transport::metainfo::Persistent,
};

use crate::{
    echo::{Echo, EchoClient, EchoEchoError, EchoError, EchoRequest, EchoResponse, EchoServer},
    echo_pb::echo::pb,
};

/// The response metadata key both echo servers set, with their name as the value (a Kitex
/// backward value).
pub const ECHOED_BY: &str = "echoed-by";

/// The cases a client runs against a Thrift echo server.
pub const THRIFT_CASES: &[&str] = &[
    "small",
    "large",
    "metadata",
    "exception",
    "error",
    "oneway",
    "concurrent",
];

/// The cases a client runs against a Protobuf echo server (Protobuf has no declared
/// exceptions and no one-way calls).
pub const PROTOBUF_CASES: &[&str] = &["small", "large", "metadata", "error", "concurrent"];

/// How many calls the `concurrent` case makes at once.
pub const CONCURRENT_CALLS: usize = 200;

/// Answers the echo service of both IDLs as the Kitex peer's server does: echoes the
/// message and payload after `delay_ms`, returns the request metadata values the request
/// names, fails as `fail` asks, sets [`ECHOED_BY`] to `rookery` in the response metadata, and
/// keeps what `notify` brings. Clones share the notifications.
#[derive(Clone, Debug, Default)]
pub struct EchoHandler {
    notified: Arc<Mutex<Vec<FastStr>>>,
}

impl EchoHandler {
    /// A handler that has been notified of nothing.
    pub fn new() -> EchoHandler {
        EchoHandler::default()
    }

    /// The messages `notify` brought so far, oldest first.
    pub fn notified_messages(&self) -> Vec<FastStr> {
        self.notified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn answer(
        cx: &mut Context,
        delay_ms: i32,
        keys: &[FastStr],
    ) -> HashMap<FastStr, FastStr> {
        if delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(delay_ms as u64)).await;
        }
        cx.response_metadata_mut().insert(ECHOED_BY, "rookery");
        keys.iter()
            .filter_map(|k| Some((k.clone(), FastStr::new(cx.metadata().get(k)?))))
            .collect()
    }
}

impl Echo for EchoHandler {
    async fn echo(
        &self,
        cx: &mut Context,
        req: EchoRequest,
    ) -> Result<EchoResponse, EchoEchoError> {
        match &*req.fail {
            "exception" => {
                return Err(EchoEchoError::Err(EchoError {
                    code: 7,
                    message: req.message,
                }));
            }
            "error" => {
                return Err(
                    Status::internal(format!("rookery fails as asked: {}", req.message)).into(),
                );
            }
            _ => {}
        }
        let metadata = Self::answer(cx, req.delay_ms, &req.echo_metadata).await;
        Ok(EchoResponse {
            message: req.message,
            payload: req.payload,
            metadata,
        })
    }

    async fn notify(&self, _: &mut Context, message: FastStr) -> Result<(), Status> {
        self.notified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message);
        Ok(())
    }

    async fn notified(&self, _: &mut Context) -> Result<Vec<FastStr>, Status> {
        Ok(self.notified_messages())
    }
}

impl pb::Echo for EchoHandler {
    async fn echo(
        &self,
        cx: &mut Context,
        req: pb::EchoRequest,
    ) -> Result<pb::EchoResponse, Status> {
        if req.fail == "error" {
            return Err(Status::internal(format!(
                "rookery fails as asked: {}",
                req.message
            )));
        }
        let metadata = Self::answer(cx, req.delay_ms, &req.echo_metadata).await;
        Ok(pb::EchoResponse {
            message: req.message,
            payload: req.payload,
            metadata: metadata.into_iter().collect(),
        })
    }
}

/// Serves `handler` on `addr` (port 0 picks one): the Thrift echo service over every
/// framing rookery detects (TTHeader among them), and the Protobuf one over Kitex Protobuf
/// (and gRPC) on the same port.
pub async fn serve(handler: &EchoHandler, addr: &str) -> Result<RunningService, rookery::Error> {
    Service::builder("kitex-echo")
        .addr(addr)
        .no_registry()
        .router(Router::new().add_service(EchoServer::new(handler.clone())))
        .serve_grpc(
            pb::EchoServer::<EchoHandler>::SERVICE,
            pb::EchoServer::new(handler.clone()),
        )
        .build()?
        .start()
        .await
}

/// Why a case failed.
pub type CaseResult = Result<(), String>;

fn random_payload(len: usize, seed: u64) -> Bytes {
    // A xorshift stream: different bytes for every call, no dependency for it.
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

/// The request and context of the `metadata` case: a transient value (`tenant`, the
/// context's metadata) and a persistent one (`region`), which the server must read and
/// return.
fn metadata_call() -> (Context, Vec<FastStr>) {
    let mut cx = Context::new();
    cx.metadata_mut().insert("tenant", "t-1");
    Persistent::insert(&mut cx, "region", "p-1");
    (cx, vec!["tenant".into(), "region".into(), "absent".into()])
}

fn check_metadata(cx: &Context, got: &HashMap<FastStr, FastStr>, server: &str) -> CaseResult {
    let mut got: Vec<(&str, &str)> = got.iter().map(|(k, v)| (&**k, &**v)).collect();
    got.sort();
    if got != [("region", "p-1"), ("tenant", "t-1")] {
        return Err(format!(
            "the server read the metadata {got:?}, not region=p-1 and tenant=t-1"
        ));
    }
    match cx.response_metadata().get(ECHOED_BY) {
        Some(by) if by == server => Ok(()),
        other => Err(format!(
            "the reply's metadata has {ECHOED_BY}={other:?}, not {server:?}"
        )),
    }
}

fn check_echo(what: &str, sent: (&str, &Bytes), got: (&str, &Bytes)) -> CaseResult {
    if sent.0 != got.0 {
        return Err(format!(
            "{what}: message {:?} came back as {:?}",
            sent.0, got.0
        ));
    }
    if sent.1 != got.1 {
        return Err(format!(
            "{what}: a payload of {} bytes came back as {} different bytes",
            sent.1.len(),
            got.1.len()
        ));
    }
    Ok(())
}

fn check_error(status: &Status, marker: &str) -> CaseResult {
    // A handler's undeclared failure is a Thrift application exception of kind
    // INTERNAL_ERROR on the wire, whichever side sent it.
    if status.code() != rookery::Code::Internal {
        return Err(format!("want INTERNAL, got {status}"));
    }
    if !status.message().contains(marker) {
        return Err(format!("the status lost the server's message: {status}"));
    }
    Ok(())
}

/// Runs the Thrift case `name` with `client` against an echo server whose [`ECHOED_BY`] is
/// `server` (`kitex` or `rookery`).
pub async fn run_thrift_case(name: &str, client: &EchoClient<Client>, server: &str) -> CaseResult {
    let echo = |message: &str, payload: Bytes, delay_ms: i32| EchoRequest {
        message: FastStr::new(message),
        payload,
        delay_ms,
        ..EchoRequest::default()
    };
    match name {
        "small" | "large" => {
            let size = if name == "small" { 16 } else { 1 << 20 };
            let req = echo(name, random_payload(size, 1), 0);
            let got = client
                .echo(&mut Context::new(), req.clone())
                .await
                .map_err(|e| format!("{e:?}"))?;
            check_echo(
                name,
                (&req.message, &req.payload),
                (&got.message, &got.payload),
            )
        }
        "metadata" => {
            let (mut cx, keys) = metadata_call();
            let req = EchoRequest {
                echo_metadata: keys,
                ..echo("metadata", Bytes::new(), 0)
            };
            let got = client
                .echo(&mut cx, req)
                .await
                .map_err(|e| format!("{e:?}"))?;
            check_metadata(&cx, &got.metadata, server)
        }
        "exception" => {
            let req = EchoRequest {
                fail: "exception".into(),
                ..echo("declared", Bytes::new(), 0)
            };
            match client.echo(&mut Context::new(), req).await {
                Err(EchoEchoError::Err(e)) if e.code == 7 && e.message == "declared" => Ok(()),
                other => Err(format!(
                    "want the declared EchoError {{code: 7, message: \"declared\"}}, got {other:?}"
                )),
            }
        }
        "error" => {
            let req = EchoRequest {
                fail: "error".into(),
                ..echo("undeclared-7f3a", Bytes::new(), 0)
            };
            match client.echo(&mut Context::new(), req).await {
                Err(EchoEchoError::Status(status)) => check_error(&status, "undeclared-7f3a")?,
                other => return Err(format!("want an undeclared failure, got {other:?}")),
            }
            // The connection serves the next call.
            let req = echo("after an error", random_payload(16, 2), 0);
            let got = client
                .echo(&mut Context::new(), req.clone())
                .await
                .map_err(|e| format!("after the error: {e:?}"))?;
            check_echo(
                name,
                (&req.message, &req.payload),
                (&got.message, &got.payload),
            )
        }
        "oneway" => {
            let message = FastStr::new(format!("oneway-{}", std::process::id()));
            client
                .notify(&mut Context::new(), message.clone())
                .await
                .map_err(|e| format!("notify: {e}"))?;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                let got = client
                    .notified(&mut Context::new())
                    .await
                    .map_err(|e| format!("notified: {e}"))?;
                if got.contains(&message) {
                    return Ok(());
                }
                if tokio::time::Instant::now() > deadline {
                    return Err(format!(
                        "{message:?} is not among the notified messages after 10 s: {got:?}"
                    ));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        "concurrent" => {
            let calls = (0..CONCURRENT_CALLS).map(|i| {
                // The later calls wait less on the server, so replies come back out of order.
                let req = echo(
                    &format!("call-{i}"),
                    random_payload(64 + i, i as u64 + 3),
                    ((CONCURRENT_CALLS - i) / 4) as i32,
                );
                async move {
                    let got = client
                        .echo(&mut Context::new(), req.clone())
                        .await
                        .map_err(|e| format!("{}: {e:?}", req.message))?;
                    check_echo(
                        &req.message,
                        (&req.message, &req.payload),
                        (&got.message, &got.payload),
                    )
                }
            });
            concurrent_outcome(join_all(calls).await)
        }
        other => Err(format!("no such Thrift case {other:?}")),
    }
}

fn concurrent_outcome(outcomes: Vec<CaseResult>) -> CaseResult {
    let failed: Vec<String> = outcomes.into_iter().filter_map(Result::err).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        // The first few say why; the count says how many.
        Err(format!(
            "{} of {CONCURRENT_CALLS} calls failed: {}",
            failed.len(),
            failed[..failed.len().min(3)].join("; ")
        ))
    }
}

/// Runs the Protobuf case `name` with `client` against an echo server whose [`ECHOED_BY`]
/// is `server`.
pub async fn run_protobuf_case(
    name: &str,
    client: &pb::EchoClient<ProtobufClient>,
    server: &str,
) -> CaseResult {
    let echo = |message: &str, payload: Bytes, delay_ms: i32| pb::EchoRequest {
        message: FastStr::new(message),
        payload,
        delay_ms,
        ..pb::EchoRequest::default()
    };
    match name {
        "small" | "large" => {
            let size = if name == "small" { 16 } else { 1 << 20 };
            let req = echo(name, random_payload(size, 1), 0);
            let got = client
                .echo(&mut Context::new(), req.clone())
                .await
                .map_err(|e| e.to_string())?;
            check_echo(
                name,
                (&req.message, &req.payload),
                (&got.message, &got.payload),
            )
        }
        "metadata" => {
            let (mut cx, keys) = metadata_call();
            let req = pb::EchoRequest {
                echo_metadata: keys,
                ..echo("metadata", Bytes::new(), 0)
            };
            let got = client.echo(&mut cx, req).await.map_err(|e| e.to_string())?;
            check_metadata(&cx, &got.metadata.into_iter().collect(), server)
        }
        "error" => {
            let req = pb::EchoRequest {
                fail: "error".into(),
                ..echo("undeclared-7f3a", Bytes::new(), 0)
            };
            match client.echo(&mut Context::new(), req).await {
                Err(status) => check_error(&status, "undeclared-7f3a")?,
                Ok(reply) => return Err(format!("want a failure, got {reply:?}")),
            }
            let req = echo("after an error", random_payload(16, 2), 0);
            let got = client
                .echo(&mut Context::new(), req.clone())
                .await
                .map_err(|e| format!("after the error: {e}"))?;
            check_echo(
                name,
                (&req.message, &req.payload),
                (&got.message, &got.payload),
            )
        }
        "concurrent" => {
            let calls = (0..CONCURRENT_CALLS).map(|i| {
                let req = echo(
                    &format!("call-{i}"),
                    random_payload(64 + i, i as u64 + 3),
                    ((CONCURRENT_CALLS - i) / 4) as i32,
                );
                async move {
                    let got = client
                        .echo(&mut Context::new(), req.clone())
                        .await
                        .map_err(|e| format!("{}: {e}", req.message))?;
                    check_echo(
                        &req.message,
                        (&req.message, &req.payload),
                        (&got.message, &got.payload),
                    )
                }
            });
            concurrent_outcome(join_all(calls).await)
        }
        other => Err(format!("no such Protobuf case {other:?}")),
    }
}

/// The TCP port of `addr`, for the Kitex peer's `--addr`.
pub fn tcp_port(addr: &Address) -> Option<u16> {
    match addr {
        Address::Tcp(a) => Some(a.port()),
        _ => None,
    }
}
