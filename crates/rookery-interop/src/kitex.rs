//! rookery's side of the interoperability with Kitex (`interop/kitex`): the echo service of
//! `interop/kitex/idl` (Thrift and Protobuf) served by rookery with the same semantics as the
//! Kitex peer's server ([`EchoHandler`], [`serve`]), and the cases a rookery client runs
//! against either server ([`run_case`], through an [`EchoCaller`] of either IDL), by the
//! names the Kitex peer's client gives them.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::future::join_all;
use rookery::{
    Address, Client, Context, ProtobufClient, Router, RunningService, Service, Status,
    codegen::{Bytes, FastStr, HashMap},
    transport::metainfo::{BizStatus, Persistent},
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
    "timeout",
    "exception",
    "error",
    "biz",
    "oneway",
    "concurrent",
];

/// The cases a client runs against a Protobuf echo server (Protobuf has no declared
/// exceptions and no one-way calls).
pub const PROTOBUF_CASES: &[&str] = &[
    "small",
    "large",
    "metadata",
    "timeout",
    "error",
    "biz",
    "concurrent",
];

/// The case only a server that answers a connection's calls concurrently passes (rookery's;
/// Kitex's with `WithMuxTransport`): 50 calls sent in order, each waiting less on the server
/// than the one before, come back in another order.
pub const OUT_OF_ORDER: &str = "out_of_order";

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

    /// The time left of the call when it arrived, in milliseconds (0 without a deadline).
    fn timeout_ms(cx: &Context) -> i32 {
        cx.remaining()
            .map_or(0, |left| left.as_millis().min(i32::MAX as u128) as i32)
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
            "biz" => return Err(Status::from(biz_status(&req.message)).into()),
            _ => {}
        }
        let timeout_ms = Self::timeout_ms(cx);
        let metadata = Self::answer(cx, req.delay_ms, &req.echo_metadata).await;
        Ok(EchoResponse {
            message: req.message,
            payload: req.payload,
            metadata,
            timeout_ms,
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
        match &*req.fail {
            "error" => {
                return Err(Status::internal(format!(
                    "rookery fails as asked: {}",
                    req.message
                )));
            }
            "biz" => return Err(biz_status(&req.message).into()),
            _ => {}
        }
        let timeout_ms = Self::timeout_ms(cx);
        let metadata = Self::answer(cx, req.delay_ms, &req.echo_metadata).await;
        Ok(pb::EchoResponse {
            message: req.message,
            payload: req.payload,
            metadata: metadata.into_iter().collect(),
            timeout_ms,
        })
    }
}

/// The business status both echo servers fail with when asked to (`fail: "biz"`): code
/// 1001, the request's message, one extra field.
fn biz_status(message: &str) -> BizStatus {
    BizStatus::new(1001, FastStr::new(message)).with_extra(r#"{"k":"v"}"#)
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

/// One echo call, whichever the IDL.
#[derive(Clone, Debug, Default)]
pub struct Call {
    /// Echoed back.
    pub message: FastStr,
    /// Echoed back.
    pub payload: Bytes,
    /// How long the server waits before it answers.
    pub delay_ms: i32,
    /// The request metadata keys whose values the server returns.
    pub keys: Vec<FastStr>,
    /// How the server fails: `""`, `"exception"` (Thrift only), `"error"` or `"biz"`.
    pub fail: FastStr,
}

/// The answer to a [`Call`].
#[derive(Clone, Debug)]
pub struct Reply {
    /// The message sent.
    pub message: FastStr,
    /// The payload sent.
    pub payload: Bytes,
    /// The values of the call's keys the server found.
    pub metadata: HashMap<FastStr, FastStr>,
    /// The time the caller gave the call, in milliseconds, as the server received it.
    pub timeout_ms: i32,
}

/// How a [`Call`] failed: with the exception the Thrift IDL declares, or a status.
#[derive(Debug)]
pub enum Failure {
    /// `EchoError`.
    Declared(EchoError),
    /// Anything else.
    Status(Status),
}

/// A client of the echo service, over either IDL: what the cases call.
pub trait EchoCaller: Sync {
    /// Calls `echo`.
    fn echo(
        &self,
        cx: &mut Context,
        call: Call,
    ) -> impl Future<Output = Result<Reply, Failure>> + Send;
    /// Calls the one-way `notify` (Thrift only).
    fn notify(&self, message: FastStr) -> impl Future<Output = Result<(), Status>> + Send;
    /// Calls `notified` (Thrift only).
    fn notified(&self) -> impl Future<Output = Result<Vec<FastStr>, Status>> + Send;
}

impl EchoCaller for EchoClient<Client> {
    async fn echo(&self, cx: &mut Context, call: Call) -> Result<Reply, Failure> {
        let req = EchoRequest {
            message: call.message,
            payload: call.payload,
            delay_ms: call.delay_ms,
            echo_metadata: call.keys,
            fail: call.fail,
        };
        match EchoClient::echo(self, cx, req).await {
            Ok(r) => Ok(Reply {
                message: r.message,
                payload: r.payload,
                metadata: r.metadata,
                timeout_ms: r.timeout_ms,
            }),
            Err(EchoEchoError::Err(e)) => Err(Failure::Declared(e)),
            Err(EchoEchoError::Status(s)) => Err(Failure::Status(s)),
        }
    }

    async fn notify(&self, message: FastStr) -> Result<(), Status> {
        EchoClient::notify(self, &mut Context::new(), message).await
    }

    async fn notified(&self) -> Result<Vec<FastStr>, Status> {
        EchoClient::notified(self, &mut Context::new()).await
    }
}

impl EchoCaller for pb::EchoClient<ProtobufClient> {
    async fn echo(&self, cx: &mut Context, call: Call) -> Result<Reply, Failure> {
        let req = pb::EchoRequest {
            message: call.message,
            payload: call.payload,
            delay_ms: call.delay_ms,
            echo_metadata: call.keys,
            fail: call.fail,
        };
        let r = pb::EchoClient::echo(self, cx, req)
            .await
            .map_err(Failure::Status)?;
        Ok(Reply {
            message: r.message,
            payload: r.payload,
            metadata: r.metadata.into_iter().collect(),
            timeout_ms: r.timeout_ms,
        })
    }

    async fn notify(&self, _: FastStr) -> Result<(), Status> {
        Err(Status::unimplemented("Protobuf has no one-way calls"))
    }

    async fn notified(&self) -> Result<Vec<FastStr>, Status> {
        Err(Status::unimplemented("Protobuf has no one-way calls"))
    }
}

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

fn call(message: &str, payload: Bytes, delay_ms: i32) -> Call {
    Call {
        message: FastStr::new(message),
        payload,
        delay_ms,
        ..Call::default()
    }
}

/// Calls echo and checks the message and payload came back.
async fn round_trip(client: &impl EchoCaller, call: Call) -> CaseResult {
    let sent = call.clone();
    let got = client
        .echo(&mut Context::new(), call)
        .await
        .map_err(|e| format!("{}: {e:?}", sent.message))?;
    if sent.message != got.message {
        return Err(format!(
            "message {:?} came back as {:?}",
            sent.message, got.message
        ));
    }
    if sent.payload != got.payload {
        return Err(format!(
            "{}: a payload of {} bytes came back as {} different bytes",
            sent.message,
            sent.payload.len(),
            got.payload.len()
        ));
    }
    Ok(())
}

/// Runs the case `name` (one of [`THRIFT_CASES`], or of [`PROTOBUF_CASES`] for a Protobuf
/// client) with `client` against an echo server whose [`ECHOED_BY`] is `server` (`kitex`
/// or `rookery`).
pub async fn run_case(name: &str, client: &impl EchoCaller, server: &str) -> CaseResult {
    match name {
        "small" => round_trip(client, call(name, random_payload(16, 1), 0)).await,
        "large" => round_trip(client, call(name, random_payload(1 << 20, 1), 0)).await,
        "metadata" => {
            // A transient value (the context's metadata) and a persistent one.
            let mut cx = Context::new();
            cx.metadata_mut().insert("tenant", "t-1");
            Persistent::insert(&mut cx, "region", "p-1");
            let keys = vec!["tenant".into(), "region".into(), "absent".into()];
            let got = client
                .echo(
                    &mut cx,
                    Call {
                        keys,
                        ..call(name, Bytes::new(), 0)
                    },
                )
                .await
                .map_err(|e| format!("{e:?}"))?;
            let mut read: Vec<(&str, &str)> =
                got.metadata.iter().map(|(k, v)| (&**k, &**v)).collect();
            read.sort();
            if read != [("region", "p-1"), ("tenant", "t-1")] {
                return Err(format!(
                    "the server read the metadata {read:?}, not region=p-1 and tenant=t-1"
                ));
            }
            match cx.response_metadata().get(ECHOED_BY) {
                Some(by) if by == server => Ok(()),
                other => Err(format!(
                    "the reply's metadata has {ECHOED_BY}={other:?}, not {server:?}"
                )),
            }
        }
        "timeout" => {
            // The time the client gives the call reaches the server (TTHeader's RPC timeout).
            let mut cx = Context::new();
            cx.shorten_deadline(Duration::from_secs(5));
            let got = client
                .echo(&mut cx, call(name, Bytes::new(), 0))
                .await
                .map_err(|e| format!("{e:?}"))?;
            if got.timeout_ms <= 1000 || got.timeout_ms > 5000 {
                return Err(format!(
                    "the server saw a timeout of {} ms, not 5000 ms less the time on the way",
                    got.timeout_ms
                ));
            }
            Ok(())
        }
        "exception" => {
            let failing = Call {
                fail: "exception".into(),
                ..call("declared", Bytes::new(), 0)
            };
            match client.echo(&mut Context::new(), failing).await {
                Err(Failure::Declared(e)) if e.code == 7 && e.message == "declared" => Ok(()),
                other => Err(format!(
                    "want the declared EchoError {{code: 7, message: \"declared\"}}, got {other:?}"
                )),
            }
        }
        "error" => {
            let failing = Call {
                fail: "error".into(),
                ..call("undeclared-7f3a", Bytes::new(), 0)
            };
            // An undeclared failure is a Thrift application exception of kind
            // INTERNAL_ERROR on the wire (Kitex Protobuf carries the same), whichever side
            // sent it, and keeps the server's message.
            match client.echo(&mut Context::new(), failing).await {
                Err(Failure::Status(status))
                    if status.code() == rookery::Code::Internal
                        && status.message().contains("undeclared-7f3a") => {}
                other => {
                    return Err(format!(
                        "want INTERNAL with the server's message, got {other:?}"
                    ));
                }
            }
            // The connection serves the next call.
            round_trip(client, call("after an error", random_payload(16, 2), 0)).await
        }
        "biz" => {
            let failing = Call {
                fail: "biz".into(),
                ..call("biz-1", Bytes::new(), 0)
            };
            match client.echo(&mut Context::new(), failing).await {
                Err(Failure::Status(status)) => match BizStatus::of(&status) {
                    Some(biz)
                        if biz.code == 1001
                            && biz.message == "biz-1"
                            && biz.extra.as_deref() == Some(r#"{"k":"v"}"#) => {}
                    other => {
                        return Err(format!(
                            "want business status 1001 \"biz-1\" {{\"k\":\"v\"}}, got {other:?} in {status}"
                        ));
                    }
                },
                other => return Err(format!("want a business status, got {other:?}")),
            }
            round_trip(
                client,
                call("after a business status", random_payload(16, 4), 0),
            )
            .await
        }
        "oneway" => {
            let message = FastStr::new(format!("oneway-{}", std::process::id()));
            client
                .notify(message.clone())
                .await
                .map_err(|e| format!("notify: {e}"))?;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                let got = client
                    .notified()
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
                round_trip(
                    client,
                    call(
                        &format!("call-{i}"),
                        random_payload(64 + i, i as u64 + 3),
                        ((CONCURRENT_CALLS - i) / 4) as i32,
                    ),
                )
            });
            let failed: Vec<String> = join_all(calls)
                .await
                .into_iter()
                .filter_map(Result::err)
                .collect();
            if failed.is_empty() {
                return Ok(());
            }
            // The first few say why; the count says how many.
            Err(format!(
                "{} of {CONCURRENT_CALLS} calls failed: {}",
                failed.len(),
                failed[..failed.len().min(3)].join("; ")
            ))
        }
        OUT_OF_ORDER => {
            const N: usize = 50;
            let finished = std::sync::atomic::AtomicUsize::new(0);
            let order: Vec<Result<usize, String>> = join_all((0..N).map(|i| {
                let finished = &finished;
                async move {
                    // Sent in order: each call starts a millisecond after the one before.
                    tokio::time::sleep(Duration::from_millis(i as u64)).await;
                    let message = format!("order-{i}");
                    let got = client
                        .echo(
                            &mut Context::new(),
                            call(&message, Bytes::new(), (5 * (N - i)) as i32),
                        )
                        .await
                        .map_err(|e| format!("{message}: {e:?}"))?;
                    let at = finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if got.message != message {
                        return Err(format!(
                            "{message} was answered with the reply to {:?}",
                            got.message
                        ));
                    }
                    Ok(at)
                }
            }))
            .await;
            let order: Vec<usize> = order.into_iter().collect::<Result<_, _>>()?;
            if order[N - 1] > order[0] {
                return Err(format!(
                    "the last call sent (waiting 5 ms) finished after the first (waiting {} ms): \
                     replies came in the order sent",
                    5 * N
                ));
            }
            Ok(())
        }
        other => Err(format!("no such case {other:?}")),
    }
}

/// The TCP port of `addr`, for the Kitex peer's `--addr`.
pub fn tcp_port(addr: &Address) -> Option<u16> {
    match addr {
        Address::Tcp(a) => Some(a.port()),
        _ => None,
    }
}
