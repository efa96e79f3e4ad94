//! Graceful shutdown: under load nothing that reached a handler is lost, the drain timeout
//! cuts off handlers that never finish, and idle connections do not hold a stopping server
//! open.

mod common;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use common::{port_of, within};
use rookery::{
    Address, Client, Code, Context, Framing, RunningService, Service, Status, codegen::FastStr,
};
use rookery_examples::echo::{Echo, EchoClient, EchoError, EchoServer, FailError, MsgArgs};
use tokio::{
    io::AsyncReadExt,
    net::TcpStream,
    sync::{oneshot, watch},
    task::JoinSet,
};

/// Counts what the handler started and finished, and sleeps 5 to 50 ms in each `echo`, so
/// that many calls are in flight at any moment. `echo("hang")` never returns; dropping it
/// (when the server cuts it off) is reported. `echo("gated:...")` returns when the test opens
/// the gate.
#[derive(Clone, Default)]
struct Counters {
    started: Arc<watch::Sender<u64>>,
    finished: Arc<AtomicU64>,
    hang_dropped: Arc<Mutex<Option<oneshot::Sender<()>>>>,
    /// `echo("gated:...")` waits until this is true.
    gate: Arc<watch::Sender<bool>>,
}

struct SlowHandler(Counters);

/// Reports when the future holding it is dropped.
struct DropGuard(Option<oneshot::Sender<()>>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

impl Echo for SlowHandler {
    async fn echo(&self, _cx: &mut Context, msg: FastStr) -> Result<FastStr, Status> {
        if &*msg == "hang" {
            let _guard = DropGuard(self.0.hang_dropped.lock().unwrap().take());
            self.0.started.send_modify(|n| *n += 1);
            std::future::pending::<()>().await;
        }
        if msg.starts_with("gated:") {
            self.0.started.send_modify(|n| *n += 1);
            let mut gate = self.0.gate.subscribe();
            let _ = gate.wait_for(|open| *open).await;
            self.0.finished.fetch_add(1, Ordering::SeqCst);
            return Ok(msg);
        }
        let n = {
            let mut n = 0;
            self.0.started.send_modify(|c| {
                *c += 1;
                n = *c;
            });
            n
        };
        // 5 to 50 ms, varying from call to call.
        let pause = 5 + (n.wrapping_mul(2_654_435_761) % 46);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        self.0.finished.fetch_add(1, Ordering::SeqCst);
        Ok(msg)
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

async fn start(counters: &Counters, drain: Duration) -> RunningService {
    Service::builder("echo")
        .serve(EchoServer::new(SlowHandler(counters.clone())))
        .drain_timeout(drain)
        .build()
        .expect("service builds")
        .start()
        .await
        .expect("service starts")
}

/// How one worker's loop ended.
struct Outcome {
    succeeded: u64,
    /// The error that ended the loop, and whether shutdown had started when it came.
    error: Option<(Status, bool)>,
    wrong_replies: Vec<String>,
}

/// Runs `clients` (name, client, number of concurrent workers), each worker calling `echo` in
/// a loop until a call fails; stops the server once 3 000 calls have started; then checks that
/// every call a handler started succeeded on the client (started == succeeded), and, if
/// `require_unsent`, that every failed call was UNAVAILABLE and marked unsent (refused by the
/// closed listener, or never written), so that retrying it is safe. The drain timeout is an
/// hour: `stop` returning at all shows the server drained by itself.
async fn stop_under_load(
    require_unsent: bool,
    clients: impl Fn(&Address) -> Vec<(&'static str, Client, usize)>,
) {
    let counters = Counters::default();
    let running = start(&counters, Duration::from_secs(3600)).await;
    let stopping = Arc::new(AtomicBool::new(false));

    let mut workers = JoinSet::new();
    for (name, client, count) in clients(running.local_addr()) {
        let client = EchoClient::new(client);
        for w in 0..count {
            let client = client.clone();
            let stopping = Arc::clone(&stopping);
            workers.spawn(async move {
                let mut out = Outcome {
                    succeeded: 0,
                    error: None,
                    wrong_replies: Vec::new(),
                };
                for i in 0.. {
                    let msg = format!("{name}/{w}/{i}");
                    match client.echo(&mut Context::new(), msg.clone()).await {
                        Ok(reply) => {
                            out.succeeded += 1;
                            if *reply != *msg {
                                out.wrong_replies.push(format!("{msg} -> {reply}"));
                            }
                        }
                        Err(status) => {
                            out.error = Some((status, stopping.load(Ordering::SeqCst)));
                            break;
                        }
                    }
                }
                (name, out)
            });
        }
    }

    // Stop in the middle of the load: once plenty of calls have been started.
    let mut started = counters.started.subscribe();
    within(120, "the load reaching 3 000 calls", async {
        started.wait_for(|n| *n >= 3_000).await.unwrap();
    })
    .await;
    stopping.store(true, Ordering::SeqCst);
    let in_flight_at_stop = *counters.started.borrow() - counters.finished.load(Ordering::SeqCst);
    within(120, "stop() under load", running.stop())
        .await
        .expect("server stops");

    let mut succeeded = 0;
    let mut failures_by_kind = std::collections::BTreeMap::<String, u64>::new();
    let mut bad = Vec::new();
    while let Some(joined) = within(120, "the workers ending", workers.join_next()).await {
        let (name, out) = joined.expect("worker task");
        succeeded += out.succeeded;
        bad.extend(out.wrong_replies);
        let (status, during_shutdown) = out.error.expect("every worker ends on an error");
        let kind = format!(
            "{name}: {}{}",
            status.code(),
            if status.is_unsent() { " unsent" } else { "" }
        );
        *failures_by_kind.entry(kind).or_default() += 1;
        if !during_shutdown {
            bad.push(format!("{name}: failed before shutdown: {status:?}"));
        } else if status.code() != Code::Unavailable || (require_unsent && !status.is_unsent()) {
            bad.push(format!(
                "{name}: failed with {status:?}, not an unsent UNAVAILABLE"
            ));
        }
    }
    let started = *counters.started.borrow();
    let finished = counters.finished.load(Ordering::SeqCst);
    eprintln!(
        "{in_flight_at_stop} calls in handlers when stop() began; started {started}, \
         finished {finished}, succeeded {succeeded}; failures: {failures_by_kind:?}"
    );
    assert!(in_flight_at_stop > 0, "the server was stopped under load");
    assert!(bad.is_empty(), "{} bad outcomes: {bad:#?}", bad.len());
    assert_eq!(finished, started, "every handler that started finished");
    assert_eq!(
        succeeded, started,
        "every call a handler started succeeded on the client"
    );
}

/// Many rookery clients over TTHeader — multiplexed and pooled, several instances, hundreds
/// of calls in flight — and the server stopped in the middle: see [`stop_under_load`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_call_that_reached_a_handler_is_lost_at_shutdown() {
    stop_under_load(true, |addr| {
        vec![
            (
                "mux-1",
                Client::builder(addr.clone()).multiplexed(1).build(),
                96,
            ),
            (
                "mux-2",
                Client::builder(addr.clone()).multiplexed(2).build(),
                96,
            ),
            (
                "pool-16",
                Client::builder(addr.clone()).pooled(16).build(),
                48,
            ),
            (
                "pool-8",
                Client::builder(addr.clone()).pooled(8).build(),
                24,
            ),
        ]
    })
    .await;
}

/// A multiplexed client over framed Thrift (no header, so the server cannot ask it to stop)
/// keeping calls in flight without pause. The server still drains — serves what was sent
/// before the drain, stops reading, answers the calls it started, closes — without waiting for
/// the drain timeout (an hour here) and without losing a reply. Calls the client sends after
/// that fail as UNAVAILABLE (not necessarily unsent: without a header the client cannot know).
///
/// (Until `ceeb5df` the server kept dispatching new calls on such a connection until the drain
/// timeout, then cut off the handlers running and dropped replies already produced.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_framed_multiplexed_client_under_load_does_not_prevent_the_drain() {
    stop_under_load(false, |addr| {
        vec![(
            "framed-mux",
            Client::builder(addr.clone())
                .framing(Framing::Framed)
                .multiplexed(1)
                .build(),
            64,
        )]
    })
    .await;
}

/// Pooled clients over framed Thrift — the way Apache Thrift clients call — under load: each
/// connection has one call at a time, so the server finds it idle between calls and closes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framed_pooled_clients_under_load_lose_nothing_at_shutdown() {
    stop_under_load(false, |addr| {
        vec![
            (
                "framed-pool-32",
                Client::builder(addr.clone())
                    .framing(Framing::Framed)
                    .pooled(32)
                    .build(),
                64,
            ),
            (
                "buffered-pool-16",
                Client::builder(addr.clone())
                    .framing(Framing::Buffered)
                    .pooled(16)
                    .build(),
                16,
            ),
        ]
    })
    .await;
}

/// A handler that never returns is cut off when the drain timeout passes: `stop` returns,
/// the handler's future is dropped, and its caller sees the connection go (UNAVAILABLE, not
/// marked unsent: the request did reach the server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_timeout_cuts_off_a_handler_that_never_returns() {
    const DRAIN: Duration = Duration::from_millis(300);
    let counters = Counters::default();
    let (dropped_tx, dropped_rx) = oneshot::channel();
    *counters.hang_dropped.lock().unwrap() = Some(dropped_tx);
    let running = start(&counters, DRAIN).await;
    let client = EchoClient::new(Client::builder(running.local_addr().clone()).build());

    let call = tokio::spawn({
        let client = client.clone();
        async move { client.echo(&mut Context::new(), "hang").await }
    });
    let mut started = counters.started.subscribe();
    within(30, "the hanging handler starting", async {
        started.wait_for(|n| *n >= 1).await.unwrap();
    })
    .await;

    let stop_began = Instant::now();
    within(60, "stop() with a hanging handler", running.stop())
        .await
        .expect("server stops");
    // The drain timeout is a lower bound on how long the server waited (timers never fire
    // early); there is no upper bound here beyond the hang guard.
    assert!(
        stop_began.elapsed() >= DRAIN,
        "stop() returned before the drain timeout"
    );
    within(30, "the hanging handler being dropped", dropped_rx)
        .await
        .expect("the handler future was dropped, not leaked");

    let status = within(30, "the hanging call failing", call)
        .await
        .unwrap()
        .expect_err("a call cut off by the drain timeout fails");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(!status.is_unsent(), "the request was sent: {status:?}");
}

/// Idle connections — a pooled rookery client (which does not understand control frames), a
/// multiplexed one over TTHeader (which does), one over framed Thrift, and a raw TCP
/// connection that never sent a byte — do not hold a stopping server open: with a drain
/// timeout of an hour, `stop` returns only because the server closes them itself. Afterwards
/// the clients fail fast with UNAVAILABLE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_do_not_hold_a_stopping_server() {
    let counters = Counters::default();
    let running = start(&counters, Duration::from_secs(3600)).await;
    let addr = running.local_addr().clone();
    let pooled = EchoClient::new(Client::builder(addr.clone()).pooled(4).build());
    let mux = EchoClient::new(Client::builder(addr.clone()).build());
    let framed = EchoClient::new(
        Client::builder(addr.clone())
            .framing(Framing::Framed)
            .build(),
    );
    for client in [&pooled, &mux, &framed] {
        assert_eq!(
            &*client.echo(&mut Context::new(), "hi").await.unwrap(),
            "hi"
        );
    }
    let mut raw = TcpStream::connect(("127.0.0.1", port_of(&running)))
        .await
        .unwrap();

    within(
        60,
        "stop() with idle connections (the drain timeout is an hour)",
        running.stop(),
    )
    .await
    .expect("server stops");

    let mut byte = [0u8; 1];
    let read = within(30, "the raw connection being closed", raw.read(&mut byte)).await;
    assert!(
        matches!(read, Ok(0)) || read.is_err(),
        "the server sent {read:?} to a silent connection"
    );
    for (name, client) in [("pooled", &pooled), ("mux", &mux), ("framed", &framed)] {
        let status = client
            .echo(&mut Context::new(), "after")
            .await
            .expect_err("the server is gone");
        assert_eq!(status.code(), Code::Unavailable, "{name}: {status:?}");
        // The pooled client checks a connection for end-of-stream before reusing it, and the
        // multiplexed TTHeader one was told to stop by a control frame before the close. The
        // framed one learns of the close only when its reader task sees it, so a call racing
        // that may be written to the dead connection: then it cannot be marked unsent.
        if name != "framed" {
            assert!(status.is_unsent(), "{name}: {status:?}");
        }
    }
}

/// A framed (non-control) client that pipelined a call after the drain began, and reads a
/// large reply slowly. The server answers the call it started, stops reading, and closes; the
/// reply to the call it started must arrive whole. (Closing a socket with unread input makes
/// the kernel send a reset and discard what is still queued for sending, so a server that
/// closes without reading its input to the end can cut off a reply it has "written".)
///
/// (Until the server lingered, reading and dropping input after its last reply, 8 576 000 of
/// the 12 582 946 reply bytes arrived, then ECONNRESET: the kernel answers a close with unread
/// input with a reset and discards what is still queued for sending.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_written_before_the_close_is_not_cut_off_by_unread_input() {
    use tokio::io::AsyncWriteExt;
    let counters = Counters::default();
    let running = start(&counters, Duration::from_secs(3600)).await;
    let port = port_of(&running);
    let mut raw = TcpStream::connect(("127.0.0.1", port)).await.unwrap();

    // A call whose 12 MiB reply does not fit in the sockets' buffers, held at the gate.
    let big = format!("gated:{}", "x".repeat(12 * 1024 * 1024));
    raw.write_all(&framed_echo(1, &big)).await.unwrap();
    let mut started = counters.started.subscribe();
    within(30, "the gated call starting", async {
        started.wait_for(|n| *n >= 1).await.unwrap();
    })
    .await;

    // Stop, and wait until the listener is closed: the drain has begun.
    let stopping = tokio::spawn(running.stop());
    within(30, "the listener closing", async {
        while TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    // The connection's task wakes on the same signal as the listener; give it a moment to
    // take what was sent before the drain (if it has not, the call below is simply served).
    tokio::time::sleep(Duration::from_millis(100)).await;
    raw.write_all(&framed_echo(2, "sent after the drain began"))
        .await
        .unwrap();

    // Let the gated call finish, and read its reply slowly.
    counters.gate.send_replace(true);
    let mut reply = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let outcome = within(120, "reading the big reply", async {
        loop {
            match raw.read(&mut chunk).await {
                Ok(0) => return Ok(()),
                Ok(n) => reply.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(e),
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    within(60, "stop()", stopping).await.unwrap().unwrap();
    assert_eq!(
        counters.finished.load(Ordering::SeqCst),
        1,
        "the gated call ran"
    );
    let expected = framed_reply_len(1, &big);
    assert!(
        reply.len() >= expected,
        "the reply to a call the server ran was cut off: {} of {expected} bytes, then {outcome:?}",
        reply.len()
    );
}

/// A framed binary `echo(msg)` call.
fn framed_echo(seq: i32, msg: &str) -> Vec<u8> {
    use rookery::{
        Protocol,
        codegen::{BytesMut, MessageType},
    };
    let mut message = BytesMut::new();
    Protocol::Binary.write_message_header(&mut message, "echo", MessageType::Call, seq);
    Protocol::Binary.encode(
        &MsgArgs {
            msg: FastStr::new(msg),
        },
        &mut message,
    );
    let mut out = (message.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&message);
    out
}

/// The size of the framed binary reply to `echo(msg)`: the same as the call's (the reply's
/// envelope and result struct have the sizes of the call's envelope and arguments).
fn framed_reply_len(seq: i32, msg: &str) -> usize {
    framed_echo(seq, msg).len()
}
