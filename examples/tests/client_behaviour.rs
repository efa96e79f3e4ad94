//! What a rookery `Client` does against a rookery server: deadlines (sent in TTHeader, enforced
//! on both sides, cancelling the handler), connection failures (refused, connect timeout,
//! reconnection with backoff after a restart), replies out of order on one multiplexed
//! connection, metadata both ways, exact status codes over TTHeader and the codes derived from
//! Thrift exception kinds without it, and Unix sockets.

mod common;

use std::{
    collections::HashSet,
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use common::{port_of, within};
use rookery::{
    Address, Client, Code, Context, Framing, Protocol, RunningService, Service, Status,
    codegen::{FastStr, ThriftRequest},
    transport::client::Backoff,
};
use rookery_examples::echo::{Echo, EchoClient, EchoError, EchoServer, FailError, MsgArgs};
use tokio::{
    net::{TcpSocket, TcpStream},
    sync::{mpsc, watch},
    task::JoinSet,
};

// ---------------------------------------------------------------------------------------------
// A handler whose behaviour the message chooses.

/// What the handler records.
struct State {
    /// `(id, finished)` when the future of a `slow:` call is dropped.
    dropped: mpsc::UnboundedSender<(u64, bool)>,
    /// The time left before the deadline that a `slow:` call saw, by id.
    remaining: Mutex<Vec<(u64, Option<Duration>)>>,
    /// For `order:` calls: the index allowed to finish next.
    next_to_finish: watch::Sender<i64>,
    /// For `order:` calls: indexes in the order they finished, and the peers they came from.
    finished: Mutex<Vec<i64>>,
    peers: Mutex<HashSet<String>>,
}

struct Handler(Arc<State>);

/// Reports whether the call finished when its future is dropped.
struct DropGuard {
    id: u64,
    finished: bool,
    tx: mpsc::UnboundedSender<(u64, bool)>,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        let _ = self.tx.send((self.id, self.finished));
    }
}

impl Echo for Handler {
    /// - `slow:ID:MS` sleeps MS ms, recording the deadline it saw and whether it was dropped;
    /// - `order:I` finishes only after `order:I+1` did (the highest index goes first);
    /// - `meta` returns the request metadata `x-request` and sets `x-reply`;
    /// - `code:N` fails with status code N (and sets response metadata `x-error-meta`);
    /// - `deadline` returns whether the call has a deadline;
    /// - anything else is echoed.
    async fn echo(&self, cx: &mut Context, msg: FastStr) -> Result<FastStr, Status> {
        let state = &self.0;
        let mut parts = msg.split(':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("slow"), Some(id), Some(ms)) => {
                let id: u64 = id.parse().unwrap();
                state.remaining.lock().unwrap().push((id, cx.remaining()));
                let mut guard = DropGuard {
                    id,
                    finished: false,
                    tx: state.dropped.clone(),
                };
                tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
                guard.finished = true;
                Ok(msg)
            }
            (Some("order"), Some(i), None) => {
                let i: i64 = i.parse().unwrap();
                if let Some(peer) = &cx.caller().address {
                    state.peers.lock().unwrap().insert(peer.to_string());
                }
                let mut turn = state.next_to_finish.subscribe();
                turn.wait_for(|next| *next == i).await.unwrap();
                state.finished.lock().unwrap().push(i);
                state.next_to_finish.send_replace(i - 1);
                Ok(msg)
            }
            (Some("meta"), None, None) => {
                let got = cx
                    .metadata()
                    .get("x-request")
                    .unwrap_or("<none>")
                    .to_owned();
                cx.response_metadata_mut()
                    .insert("x-reply", format!("re: {got}"));
                Ok(got.into())
            }
            (Some("code"), Some(n), None) => {
                let n: i32 = n.parse().unwrap();
                cx.response_metadata_mut()
                    .insert("x-error-meta", format!("for code {n}"));
                Err(Status::new(Code::from_i32(n), format!("code {n} as asked")))
            }
            (Some("deadline"), None, None) => Ok(match cx.remaining() {
                Some(_) => "deadline".into(),
                None => "none".into(),
            }),
            _ => Ok(msg),
        }
    }

    async fn fail(
        &self,
        _cx: &mut Context,
        code: i32,
        message: FastStr,
    ) -> Result<FastStr, FailError> {
        Err(FailError::Err(EchoError { code, message }))
    }

    async fn notify(&self, _cx: &mut Context, _msg: FastStr) -> Result<(), Status> {
        Ok(())
    }
}

struct TestService {
    running: RunningService,
    state: Arc<State>,
    dropped: mpsc::UnboundedReceiver<(u64, bool)>,
}

async fn start_at(addr: &str) -> TestService {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Arc::new(State {
        dropped: tx,
        remaining: Mutex::new(Vec::new()),
        next_to_finish: watch::Sender::new(-1),
        finished: Mutex::new(Vec::new()),
        peers: Mutex::new(HashSet::new()),
    });
    let running = Service::builder("behaviour")
        .addr(addr)
        .serve(EchoServer::new(Handler(Arc::clone(&state))))
        .drain_timeout(Duration::from_secs(10))
        .build()
        .expect("service builds")
        .start()
        .await
        .expect("service starts");
    TestService {
        running,
        state,
        dropped: rx,
    }
}

async fn start() -> TestService {
    start_at("127.0.0.1:0").await
}

impl TestService {
    fn addr(&self) -> Address {
        self.running.local_addr().clone()
    }

    /// Waits for the future of `slow:` call `id` to be dropped; returns whether it finished.
    async fn dropped(&mut self, id: u64) -> bool {
        within(30, &format!("slow call {id} being dropped"), async {
            loop {
                let (got, finished) = self.dropped.recv().await.expect("handler state alive");
                if got == id {
                    return finished;
                }
            }
        })
        .await
    }

    fn remaining_seen(&self, id: u64) -> Option<Duration> {
        let seen = self.state.remaining.lock().unwrap();
        seen.iter()
            .find(|(i, _)| *i == id)
            .unwrap_or_else(|| panic!("slow call {id} never reached the handler"))
            .1
    }

    async fn stop(self) {
        within(60, "stopping the service", self.running.stop())
            .await
            .expect("service stops");
    }
}

fn client(addr: Address, pooled: bool) -> ClientBuilderExt {
    ClientBuilderExt {
        builder: Client::builder(addr),
        pooled,
    }
}

/// A client builder that remembers which mode the test asked for.
struct ClientBuilderExt {
    builder: rookery::ClientBuilder,
    pooled: bool,
}

impl ClientBuilderExt {
    fn with(mut self, f: impl FnOnce(rookery::ClientBuilder) -> rookery::ClientBuilder) -> Self {
        self.builder = f(self.builder);
        self
    }

    fn build(self) -> EchoClient {
        let builder = if self.pooled {
            self.builder.pooled(4)
        } else {
            self.builder.multiplexed(1)
        };
        EchoClient::new(builder.build())
    }
}

fn mode(pooled: bool) -> &'static str {
    if pooled { "pooled" } else { "multiplexed" }
}

// ---------------------------------------------------------------------------------------------
// Deadlines.

/// A per-call deadline shorter than the handler: the client gets DEADLINE_EXCEEDED; the server
/// received the time left in the TTHeader, gave the handler that deadline, and dropped the
/// handler's future when it passed; the client is usable afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_call_deadline_is_sent_and_cancels_the_handler() {
    let mut svc = start().await;
    for (id, pooled) in [(1, false), (2, true)] {
        let client = client(svc.addr(), pooled).build();
        let mut cx = Context::new();
        cx.shorten_deadline(Duration::from_millis(300));
        let status = within(
            30,
            "a call past its deadline",
            client.echo(&mut cx, format!("slow:{id}:60000")),
        )
        .await
        .expect_err("the handler takes a minute");
        assert_eq!(
            status.code(),
            Code::DeadlineExceeded,
            "{}: {status:?}",
            mode(pooled)
        );
        assert!(status.is_timeout());

        let finished = svc.dropped(id).await;
        assert!(
            !finished,
            "{}: the handler ran to the end instead of being cut off",
            mode(pooled)
        );
        let seen = svc
            .remaining_seen(id)
            .expect("the handler got a deadline from the TTHeader");
        assert!(
            seen <= Duration::from_millis(300),
            "{}: the handler's deadline ({seen:?}) is later than the caller's",
            mode(pooled)
        );

        let reply = client
            .echo(&mut Context::new(), "after the timeout")
            .await
            .unwrap();
        assert_eq!(&*reply, "after the timeout", "{}", mode(pooled));
    }
    svc.stop().await;
}

/// The client's default timeout applies to calls whose context has no deadline, and it too
/// reaches the server and cancels the handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_client_timeout() {
    let mut svc = start().await;
    for (id, pooled) in [(10, false), (11, true)] {
        let client = client(svc.addr(), pooled)
            .with(|b| b.timeout(Duration::from_millis(250)))
            .build();
        let status = within(
            30,
            "a call past the default timeout",
            client.echo(&mut Context::new(), format!("slow:{id}:60000")),
        )
        .await
        .expect_err("the handler takes a minute");
        assert_eq!(
            status.code(),
            Code::DeadlineExceeded,
            "{}: {status:?}",
            mode(pooled)
        );
        assert!(
            !svc.dropped(id).await,
            "{}: the handler was not cut off",
            mode(pooled)
        );
        assert!(
            svc.remaining_seen(id)
                .is_some_and(|d| d <= Duration::from_millis(250))
        );

        // A call that fits in the timeout succeeds, and the handler sees the deadline.
        let ok = client
            .echo(&mut Context::new(), format!("slow:{}:1", id + 100))
            .await
            .unwrap();
        assert_eq!(*ok, *format!("slow:{}:1", id + 100));
        assert!(svc.dropped(id + 100).await, "the short call finished");
    }
    svc.stop().await;
}

/// Without TTHeader there is nowhere to send the deadline: over framed and buffered Thrift the
/// handler sees none (the client still enforces its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_travel_only_in_ttheader() {
    let svc = start().await;
    for framing in [
        Framing::TTHeader,
        Framing::TTHeaderFramed,
        Framing::Framed,
        Framing::Buffered,
    ] {
        let client = client(svc.addr(), false)
            .with(|b| b.framing(framing).timeout(Duration::from_secs(30)))
            .build();
        let seen = client.echo(&mut Context::new(), "deadline").await.unwrap();
        let expected = if framing.has_header() {
            "deadline"
        } else {
            "none"
        };
        assert_eq!(&*seen, expected, "{framing:?}");
    }
    svc.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Connection failures.

/// A port nobody listens on: bind one, learn its number, close it.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A refused connection is UNAVAILABLE and marked unsent, in both modes, and so is the
/// fail-fast answer while the client backs off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_unavailable_and_unsent() {
    let addr: Address = format!("127.0.0.1:{}", closed_port()).parse().unwrap();
    for pooled in [false, true] {
        let client = client(addr.clone(), pooled)
            .with(|b| {
                b.backoff(Backoff {
                    base: Duration::from_secs(60),
                    max: Duration::from_secs(60),
                })
            })
            .build();
        let first = within(30, "a refused call", client.echo(&mut Context::new(), "x"))
            .await
            .unwrap_err();
        assert_eq!(
            first.code(),
            Code::Unavailable,
            "{}: {first:?}",
            mode(pooled)
        );
        assert!(first.is_unsent(), "{}: {first:?}", mode(pooled));
        assert!(first.message().contains("connecting to"), "{first}");

        let second = within(
            30,
            "a call during backoff",
            client.echo(&mut Context::new(), "x"),
        )
        .await
        .unwrap_err();
        assert_eq!(second.code(), Code::Unavailable, "{second:?}");
        assert!(second.is_unsent(), "{second:?}");
        assert!(second.message().contains("next attempt in"), "{second}");
    }
}

/// A listener that never accepts, with its accept queue full: new connections get no answer,
/// so the connect timeout fires. The call is UNAVAILABLE and unsent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connect_timeout() {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap(); // never accepted from
    let addr = listener.local_addr().unwrap();
    // Fill the accept queue: once a connection attempt gets no answer, it is full.
    let mut fillers = Vec::new();
    let mut full = false;
    for _ in 0..16 {
        match tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => fillers.push(s),
            Ok(Err(e)) => panic!("filling the accept queue: {e}"),
            Err(_) => {
                full = true;
                break;
            }
        }
    }
    assert!(full, "the accept queue never filled");

    for pooled in [false, true] {
        let client = client(Address::Tcp(addr), pooled)
            .with(|b| b.connect_timeout(Duration::from_millis(200)))
            .build();
        let status = within(
            30,
            "a connect that times out",
            client.echo(&mut Context::new(), "x"),
        )
        .await
        .unwrap_err();
        assert_eq!(
            status.code(),
            Code::Unavailable,
            "{}: {status:?}",
            mode(pooled)
        );
        assert!(status.is_unsent(), "{}: {status:?}", mode(pooled));
        assert!(status.message().contains("no answer within"), "{status}");
    }
    drop(fillers);
}

/// The server stops: calls fail fast, UNAVAILABLE and unsent. It starts again on the same port:
/// after the backoff, calls succeed again, on a new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reconnects_after_the_server_restarts() {
    let svc = start().await;
    let port = port_of(&svc.running);
    let clients: Vec<(bool, EchoClient)> = [false, true]
        .into_iter()
        .map(|pooled| {
            let c = client(svc.addr(), pooled)
                .with(|b| {
                    // Long enough that the second call below surely falls in it.
                    b.backoff(Backoff {
                        base: Duration::from_secs(2),
                        max: Duration::from_secs(2),
                    })
                    .timeout(Duration::from_secs(30))
                })
                .build();
            (pooled, c)
        })
        .collect();
    for (_, c) in &clients {
        assert_eq!(
            &*c.echo(&mut Context::new(), "before").await.unwrap(),
            "before"
        );
    }
    svc.stop().await;

    for (pooled, c) in &clients {
        let first = c.echo(&mut Context::new(), "down").await.unwrap_err();
        assert_eq!(
            first.code(),
            Code::Unavailable,
            "{}: {first:?}",
            mode(*pooled)
        );
        assert!(first.is_unsent(), "{}: {first:?}", mode(*pooled));
        let second = c.echo(&mut Context::new(), "down").await.unwrap_err();
        assert!(second.is_unsent(), "{}: {second:?}", mode(*pooled));
        assert!(
            second.message().contains("next attempt in"),
            "{}: no backoff: {second}",
            mode(*pooled)
        );
    }

    let svc = start_at(&format!("127.0.0.1:{port}")).await;
    for (pooled, c) in &clients {
        let mut failures = 0;
        within(30, "the client reconnecting", async {
            loop {
                match c.echo(&mut Context::new(), "back").await {
                    Ok(reply) => {
                        assert_eq!(&*reply, "back");
                        break;
                    }
                    Err(status) => {
                        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                        assert!(status.is_unsent(), "{}: {status:?}", mode(*pooled));
                        failures += 1;
                        // The client is backing off; there is no event to wait for.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        })
        .await;
        eprintln!(
            "{}: {failures} fail-fast calls before reconnecting",
            mode(*pooled)
        );
    }
    svc.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Multiplexing.

/// Many calls in flight on one multiplexed connection, whose handlers finish in the reverse of
/// the order they were sent (each waits for the next one to finish): every call gets its own
/// reply, and the server saw them all on one connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multiplexed_replies_out_of_order_on_one_connection() {
    const N: i64 = 64;
    for framing in [Framing::TTHeader, Framing::Framed, Framing::Buffered] {
        let svc = start().await;
        svc.state.next_to_finish.send_replace(N - 1);
        let client = client(svc.addr(), false)
            .with(|b| b.framing(framing).timeout(Duration::from_secs(60)))
            .build();
        let mut calls = JoinSet::new();
        for i in 0..N {
            let client = client.clone();
            calls.spawn(async move {
                (
                    i,
                    client.echo(&mut Context::new(), format!("order:{i}")).await,
                )
            });
        }
        let mut replies = 0;
        while let Some(joined) = within(60, "the out-of-order calls", calls.join_next()).await {
            let (i, reply) = joined.unwrap();
            assert_eq!(*reply.unwrap(), *format!("order:{i}"), "{framing:?}");
            replies += 1;
        }
        assert_eq!(replies, N);
        let finished = svc.state.finished.lock().unwrap().clone();
        let reversed: Vec<i64> = (0..N).rev().collect();
        assert_eq!(
            finished, reversed,
            "{framing:?}: handlers finished in reverse order"
        );
        let peers = svc.state.peers.lock().unwrap().clone();
        assert_eq!(peers.len(), 1, "{framing:?}: calls came on {peers:?}");
        svc.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Metadata and status codes.

/// Request metadata reaches the handler's context; response metadata set by the handler
/// reaches the caller's context, on success and on error, in both modes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_travels_both_ways_in_ttheader() {
    let svc = start().await;
    for framing in [Framing::TTHeader, Framing::TTHeaderFramed] {
        for pooled in [false, true] {
            let what = format!("{framing:?}, {}", mode(pooled));
            let client = client(svc.addr(), pooled)
                .with(|b| b.framing(framing))
                .build();
            let mut cx = Context::new();
            cx.metadata_mut().insert("x-request", "abc \u{2713}");
            cx.metadata_mut().insert("x-other", "ignored");
            let got = client.echo(&mut cx, "meta").await.unwrap();
            assert_eq!(
                &*got, "abc \u{2713}",
                "{what}: the handler saw the request metadata"
            );
            assert_eq!(
                cx.response_metadata().get("x-reply"),
                Some("re: abc \u{2713}"),
                "{what}: {:?}",
                cx.response_metadata()
            );

            let mut cx = Context::new();
            let status = client.echo(&mut cx, "code:7").await.unwrap_err();
            assert_eq!(status.code(), Code::PermissionDenied, "{what}");
            assert_eq!(
                cx.response_metadata().get("x-error-meta"),
                Some("for code 7"),
                "{what}: response metadata of an error reply"
            );
        }
    }
    svc.stop().await;
}

/// Every status code a handler returns arrives exactly over TTHeader (which carries the code
/// beside the Thrift exception), with its message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_status_codes_round_trip_over_ttheader() {
    let svc = start().await;
    for framing in [Framing::TTHeader, Framing::TTHeaderFramed] {
        for pooled in [false, true] {
            let client = client(svc.addr(), pooled)
                .with(|b| b.framing(framing))
                .build();
            for n in 1..=16 {
                let status = client
                    .echo(&mut Context::new(), format!("code:{n}"))
                    .await
                    .unwrap_err();
                assert_eq!(
                    status.code(),
                    Code::from_i32(n),
                    "{framing:?}, {}: {status:?}",
                    mode(pooled)
                );
                assert_eq!(status.message(), format!("code {n} as asked"));
            }
        }
    }
    svc.stop().await;
}

/// Without a header only the Thrift exception travels, so the code is derived from its kind:
/// UNIMPLEMENTED (unknown method), INVALID_ARGUMENT (protocol error) and INTERNAL survive;
/// other codes arrive as UNKNOWN, message intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_framed_the_code_comes_from_the_exception_kind() {
    let svc = start().await;
    for framing in [Framing::Framed, Framing::Buffered] {
        for protocol in [Protocol::Binary, Protocol::Compact] {
            let what = format!("{framing:?}, {protocol:?}");
            let raw = Client::builder(svc.addr())
                .framing(framing)
                .protocol(protocol)
                .build();
            let client = EchoClient::new(raw.clone());
            for (n, expected) in [
                (12, Code::Unimplemented),
                (3, Code::InvalidArgument),
                (13, Code::Internal),
                (7, Code::Unknown),
                (14, Code::Unknown),
                (4, Code::Unknown),
            ] {
                let status = client
                    .echo(&mut Context::new(), format!("code:{n}"))
                    .await
                    .unwrap_err();
                assert_eq!(status.code(), expected, "{what}, code {n}: {status:?}");
                assert_eq!(status.message(), format!("code {n} as asked"), "{what}");
            }

            // An unknown method.
            let req = ThriftRequest::new("no_such_method", protocol, &MsgArgs { msg: "x".into() });
            let status = rookery::core::Service::call(&raw, &mut Context::new(), req)
                .await
                .unwrap_err();
            assert_eq!(status.code(), Code::Unimplemented, "{what}: {status:?}");
            assert!(status.message().contains("no_such_method"), "{status}");
        }
    }
    svc.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Unix sockets.

/// A server on a Unix socket and clients of it, multiplexed and pooled, TTHeader and framed:
/// echo, the declared exception, a oneway call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket_round_trip() {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("client-behaviour-{}.sock", std::process::id()));
    let svc = start_at(&format!("unix:{}", path.display())).await;
    assert_eq!(svc.addr(), Address::Unix(path.clone()));
    for framing in [Framing::TTHeader, Framing::Framed, Framing::Buffered] {
        for pooled in [false, true] {
            let what = format!("{framing:?}, {}", mode(pooled));
            let client = client(svc.addr(), pooled)
                .with(|b| b.framing(framing))
                .build();
            let cx = &mut Context::new();
            assert_eq!(
                &*client.echo(cx, "over unix").await.unwrap(),
                "over unix",
                "{what}"
            );
            match client.fail(cx, 5, "unix").await {
                Err(FailError::Err(e)) => assert_eq!(e.code, 5, "{what}"),
                other => panic!("{what}: {other:?}"),
            }
            client.notify(cx, "unix").await.unwrap();
            assert_eq!(&*client.echo(cx, "again").await.unwrap(), "again", "{what}");
        }
    }
    svc.stop().await;
    let _ = std::fs::remove_file(&path);
}
