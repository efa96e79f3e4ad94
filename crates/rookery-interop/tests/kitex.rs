//! rookery against Kitex itself (`interop/kitex`: a Go program on `github.com/cloudwego/kitex`,
//! built from the Go module proxy): the Kitex client, pooled and multiplexed, calls rookery's
//! echo server, and rookery's client, multiplexed and pooled, calls Kitex's echo server
//! (plain, and multiplexed: `server.WithMuxTransport`, which answers out of order), over
//! Thrift binary in TTHeader and Kitex Protobuf in TTHeader. Cases: small and 1 MiB payloads,
//! metadata both ways (transient and persistent metainfo in, a backward value out), a declared
//! exception, an undeclared error, a one-way call, and 200 calls at once answered out of order.
//!
//! Needs Go (the tests build the peer with `go build`; `.ci/install` warms the module and
//! build caches); `ROOKERY_SKIP_GO=1` skips them where Go is missing.

use rookery_testkit::within;
use std::{
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use rookery::{Client, ClientBuilder, Framing, ProtobufClient, RunningService};
use rookery_interop::{
    echo::EchoClient,
    echo_pb::echo::pb::EchoClient as PbEchoClient,
    kitex::{self, EchoCaller, EchoHandler, PROTOBUF_CASES, THRIFT_CASES},
};
use rookery_testkit::{free_port, go_build_or_skip};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, BufReader},
    process::{Child, Command},
};

/// The Kitex peer's program, built once per test binary; `None` when Go tests are skipped.
fn kitex_peer() -> Option<PathBuf> {
    go_build_or_skip(
        "interop/kitex",
        "github.com/rookery-rs/rookery/interop/kitex",
    )
}

/// The Kitex echo server, running until dropped (its stdin closes, and it is killed should
/// it not exit).
struct KitexServer {
    child: Child,
    addr: String,
    /// What it printed on stderr (Kitex's log), for failure messages.
    log: Arc<Mutex<String>>,
}

impl KitexServer {
    async fn start(peer: &PathBuf, idl: &str, mux: bool) -> KitexServer {
        let mut last = String::new();
        // A port picked free may be taken before the peer binds it: try a few.
        for _ in 0..3 {
            let addr = format!("127.0.0.1:{}", free_port().expect("a free port"));
            let mut cmd = Command::new(peer);
            cmd.args(["serve", "--idl", idl, "--addr", &addr]);
            if mux {
                cmd.arg("--mux");
            }
            let mut child = cmd
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("the Kitex peer runs");
            let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
            let line = within(60, "the Kitex server's readiness line", lines.next_line())
                .await
                .unwrap_or(None);
            if line.as_deref() == Some(&format!("listening on {addr}")) {
                // Keep draining its output so it never blocks on a full pipe.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                let log = Arc::new(Mutex::new(String::new()));
                let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
                let sink = Arc::clone(&log);
                tokio::spawn(async move {
                    while let Ok(Some(line)) = stderr.next_line().await {
                        let mut log = sink.lock().unwrap();
                        log.push_str(&line);
                        log.push('\n');
                    }
                });
                return KitexServer { child, addr, log };
            }
            let _ = child.kill().await;
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = stderr.read_to_string(&mut err).await;
            }
            last = format!("first line {line:?}; stderr:\n{err}");
        }
        panic!("the Kitex {idl} server did not start: {last}");
    }
}

impl KitexServer {
    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for KitexServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// `cases`, and [`kitex::OUT_OF_ORDER`] when the calls share one multiplexed connection to
/// a server that answers them concurrently (`one_connection`): with a pool, each call has a
/// connection to itself, and the order replies come back in says nothing of the server.
fn cases_for<'a>(cases: &[&'a str], one_connection: bool) -> Vec<&'a str> {
    let extra = one_connection.then_some(kitex::OUT_OF_ORDER);
    cases.iter().copied().chain(extra).collect()
}

/// Runs the Kitex client's `cases` against `addr` and asserts each printed `ok`.
async fn kitex_client(peer: &PathBuf, idl: &str, mode: &str, addr: &str, cases: &[&str]) {
    let out = within(
        300,
        "the Kitex client",
        Command::new(peer)
            .args(["call", "--idl", idl, "--mode", mode, "--addr", addr])
            .args(["--cases", &cases.join(",")])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the Kitex peer runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let failed = rookery_testkit::cases_not_ok(&stdout, cases);
    assert!(
        failed.is_empty() && out.status.success(),
        "the Kitex {idl} client ({mode}) failed {failed:?} against rookery\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn rookery_server(handler: &EchoHandler) -> (RunningService, String) {
    let running = kitex::serve(handler, "127.0.0.1:0")
        .await
        .expect("the rookery echo server starts");
    let port = kitex::tcp_port(running.local_addr()).expect("a TCP address");
    (running, format!("127.0.0.1:{port}"))
}

/// The two ways a rookery client uses its connections, by name: all calls on one
/// multiplexed connection, or a pool of connections with one call on each at a time.
fn rookery_clients(addr: &str) -> [(&'static str, ClientBuilder); 2] {
    let builder = || {
        Client::builder(addr.parse().unwrap())
            .framing(Framing::TTHeader)
            .timeout(Duration::from_secs(60))
    };
    [
        ("multiplexed", builder().multiplexed(1)),
        ("pooled", builder().pooled(4)),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kitex_client_calls_rookery_over_thrift() {
    let Some(peer) = kitex_peer() else { return };
    let handler = EchoHandler::new();
    let (running, addr) = rookery_server(&handler).await;
    for mode in ["pooled", "mux"] {
        kitex_client(
            &peer,
            "thrift",
            mode,
            &addr,
            &cases_for(THRIFT_CASES, mode == "mux"),
        )
        .await;
    }
    // Each run's one-way call reached the handler.
    assert_eq!(handler.notified_messages().len(), 2);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kitex_client_calls_rookery_over_kitex_protobuf() {
    let Some(peer) = kitex_peer() else { return };
    let handler = EchoHandler::new();
    let (running, addr) = rookery_server(&handler).await;
    for mode in ["pooled", "mux"] {
        kitex_client(
            &peer,
            "protobuf",
            mode,
            &addr,
            &cases_for(PROTOBUF_CASES, mode == "mux"),
        )
        .await;
    }
    running.stop().await.unwrap();
}

/// rookery's clients (multiplexed and pooled, made by `client` from a builder) run `cases`
/// against Kitex's `idl` server, plain and multiplexed.
async fn rookery_client_calls_kitex<C: EchoCaller>(
    idl: &str,
    cases: &[&str],
    client: impl Fn(ClientBuilder) -> C,
) {
    let Some(peer) = kitex_peer() else { return };
    let mut failed = Vec::new();
    for mux in [false, true] {
        let server = KitexServer::start(&peer, idl, mux).await;
        for (how, builder) in rookery_clients(&server.addr) {
            let client = client(builder);
            // Kitex's plain server answers a connection's calls one at a time.
            let cases = cases_for(cases, mux && how == "multiplexed");
            for case in &cases {
                let what = format!("{case} ({how} client, Kitex server mux: {mux})");
                if let Err(e) = within(120, &what, kitex::run_case(case, &client, "kitex")).await {
                    failed.push(format!("{what}: {e}"));
                }
            }
        }
        if !failed.is_empty() {
            failed.push(format!("the Kitex server's log:\n{}", server.log()));
            break;
        }
    }
    assert!(
        failed.is_empty(),
        "against Kitex {idl}:\n{}",
        failed.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rookery_client_calls_kitex_over_thrift() {
    rookery_client_calls_kitex("thrift", THRIFT_CASES, |b| EchoClient::new(b.build())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rookery_client_calls_kitex_over_kitex_protobuf() {
    rookery_client_calls_kitex("protobuf", PROTOBUF_CASES, |b| {
        PbEchoClient::new(ProtobufClient::from_builder(b))
    })
    .await;
}
