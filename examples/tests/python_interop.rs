//! Interoperability with a real Thrift peer: Apache Thrift's Python library.
//!
//! - A Python client (`python/echo_client.py`) calls rookery's echo server over framed and
//!   buffered transports, binary and compact protocols: echoes (empty, unicode, 1 MiB), the
//!   declared exception, oneway calls (which the Rust handler must count), an unknown method and
//!   a wrong multiplexed service name (`TApplicationException` UNKNOWN_METHOD), and the
//!   multiplexed protocol with service name `Echo`.
//! - rookery's `Client`, multiplexed and pooled, calls a Python server
//!   (`python/echo_server.py`): echoes, the declared exception, oneway calls (the Python
//!   handler reports what it received), and many concurrent calls on one multiplexed connection
//!   to a server that handles one connection at a time.
//! - An idle Python client does not hold a stopping server open.
//!
//! The Python code for Echo is generated here with `thrift --gen py`. If `python3`, its
//! `thrift` module or the `thrift` compiler is missing, the tests fail and say which, unless
//! `ROOKERY_SKIP_PYTHON=1` is set.

mod common;

use rookery_testkit::probe;
use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use common::{port_of, within};
use rookery::{
    Address, Client, Context, Framing, Protocol, RunningService, Service, Status, codegen::FastStr,
};
use rookery_examples::echo::{Echo, EchoClient, EchoError, EchoServer, FailError};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, BufReader},
    process::{Child, Command},
    sync::watch,
    task::JoinSet,
};

// ---------------------------------------------------------------------------------------------
// The Python environment.

struct Python {
    /// Where `thrift --gen py` put the `echo` package.
    gen_dir: PathBuf,
}

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

fn prepare() -> Result<Python, String> {
    const HINT: &str = "set ROOKERY_SKIP_PYTHON=1 to skip the Python interoperability tests";
    probe(
        std::process::Command::new("python3").arg("--version"),
        &format!("python3 is missing: install it (Debian: apt-get install python3), or {HINT}"),
    )?;
    let version = probe(
        std::process::Command::new("python3").args([
            "-c",
            "import importlib.metadata as m, thrift; print(m.version('thrift'))",
        ]),
        &format!("the Python `thrift` module is missing: pip install thrift, or {HINT}"),
    )?;
    let compiler = probe(
        std::process::Command::new("thrift").arg("--version"),
        &format!(
            "the `thrift` compiler is missing: install it (Debian: apt-get install \
             thrift-compiler), or {HINT}"
        ),
    )?;
    eprintln!(
        "python thrift {}, {}",
        version.trim(),
        compiler.trim().to_lowercase()
    );

    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    remove_stale_gen_dirs(tmp);
    let gen_dir = tmp.join(format!("{GEN_PREFIX}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&gen_dir);
    std::fs::create_dir_all(&gen_dir).map_err(|e| format!("creating {gen_dir:?}: {e}"))?;
    let idl = Path::new(env!("CARGO_MANIFEST_DIR")).join("idl/echo.thrift");
    probe(
        std::process::Command::new("thrift")
            .args(["--gen", "py", "-out"])
            .arg(&gen_dir)
            .arg(&idl),
        &format!("`thrift --gen py` failed on {}", idl.display()),
    )?;
    Ok(Python { gen_dir })
}

const GEN_PREFIX: &str = "rookery-examples-python-";

/// Removes the generated code of earlier runs whose process is gone (on Linux, where /proc
/// says which are alive), so they do not pile up.
fn remove_stale_gen_dirs(tmp: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(GEN_PREFIX)) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The Python environment, prepared once per test binary; `None` when the tests are skipped.
fn python() -> Option<&'static Python> {
    if std::env::var("ROOKERY_SKIP_PYTHON").is_ok_and(|v| v == "1") {
        eprintln!("ROOKERY_SKIP_PYTHON=1: skipping a Python interoperability test");
        return None;
    }
    static PYTHON: OnceLock<Result<Python, String>> = OnceLock::new();
    match PYTHON.get_or_init(prepare) {
        Ok(p) => Some(p),
        Err(e) => panic!("{e}"),
    }
}

fn python_command(py: &Python, script: &str) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg(scripts_dir().join(script))
        .arg("--gen-dir")
        .arg(&py.gen_dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .kill_on_drop(true);
    cmd
}

/// Collects a child's stderr in the background, for failure messages.
fn collect_stderr(child: &mut Child) -> Arc<Mutex<String>> {
    let out = Arc::new(Mutex::new(String::new()));
    if let Some(mut stderr) = child.stderr.take() {
        let out = Arc::clone(&out);
        tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text).await;
            out.lock().unwrap().push_str(&text);
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// A rookery server for Python clients.

/// Records what reached the rookery handler.
#[derive(Clone, Default)]
struct Seen {
    /// The messages of `notify` calls, in arrival order.
    notified: Arc<watch::Sender<Vec<String>>>,
    /// The short messages of `echo` calls.
    echoed: Arc<Mutex<Vec<String>>>,
}

struct Handler(Seen);

impl Echo for Handler {
    async fn echo(&self, _cx: &mut Context, msg: FastStr) -> Result<FastStr, Status> {
        if msg.len() < 64 {
            self.0.echoed.lock().unwrap().push(msg.to_string());
        }
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

    async fn notify(&self, _cx: &mut Context, msg: FastStr) -> Result<(), Status> {
        self.0.notified.send_modify(|n| n.push(msg.to_string()));
        Ok(())
    }
}

async fn start_rookery(seen: &Seen, drain: Duration) -> RunningService {
    Service::builder("echo")
        .serve(EchoServer::new(Handler(seen.clone())))
        .drain_timeout(drain)
        .build()
        .expect("service builds")
        .start()
        .await
        .expect("service starts")
}

async fn python_client_suite(transport: &str, protocol: &str) {
    let Some(py) = python() else { return };
    let seen = Seen::default();
    let running = start_rookery(&seen, Duration::from_secs(10)).await;
    let port = port_of(&running);

    let out = within(
        120,
        "the Python client",
        python_command(py, "echo_client.py")
            .args(["--port", &port.to_string()])
            .args(["--transport", transport, "--protocol", protocol])
            .args(["--notify", "3"])
            .output(),
    )
    .await
    .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "Python client ({transport}, {protocol}) failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    for check in [
        "ok echo empty, ascii, unicode, 1MiB",
        "ok fail raises EchoError(42)",
        "ok notify x3",
        "ok unknown method -> TApplicationException UNKNOWN_METHOD",
        "ok multiplexed Echo: echo and fail",
        "ok multiplexed Nope: -> TApplicationException UNKNOWN_METHOD",
    ] {
        assert!(
            stdout.contains(check),
            "missing `{check}` ({transport}, {protocol}):\n{stdout}\n{stderr}"
        );
    }

    // The oneway calls reached the Rust handler, in order.
    let mut notified = seen.notified.subscribe();
    let got = within(10, "the notify calls reaching the handler", async {
        notified.wait_for(|n| n.len() >= 3).await.unwrap().clone()
    })
    .await;
    assert_eq!(got, ["note 0", "note 1", "note 2"]);

    // The multiplexed call named `Echo:echo` reached the handler with the prefix stripped;
    // the one for service `Nope` did not reach it at all.
    let echoed = seen.echoed.lock().unwrap().clone();
    for msg in ["", "hello", "after notify", "still here", "via Echo:"] {
        assert!(echoed.iter().any(|m| m == msg), "{msg:?} not in {echoed:?}");
    }
    assert!(
        !echoed.iter().any(|m| m == "to nobody"),
        "a call to service Nope reached Echo: {echoed:?}"
    );

    within(30, "stopping the server", running.stop())
        .await
        .expect("server stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_framed_binary() {
    python_client_suite("framed", "binary").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_framed_compact() {
    python_client_suite("framed", "compact").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_buffered_binary() {
    python_client_suite("buffered", "binary").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_buffered_compact() {
    python_client_suite("buffered", "compact").await;
}

/// A Python client that sits idle on its connection does not keep a stopping server open:
/// with a drain timeout of an hour, `stop` returns only because the server closes the idle
/// connection on its own, and the client sees it closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_python_client_is_closed_at_shutdown() {
    let Some(py) = python() else { return };
    for (transport, protocol) in [("framed", "binary"), ("buffered", "compact")] {
        let seen = Seen::default();
        let running = start_rookery(&seen, Duration::from_secs(3600)).await;
        let mut child = python_command(py, "echo_client.py")
            .args(["--port", &port_of(&running).to_string()])
            .args(["--transport", transport, "--protocol", protocol])
            .args(["--mode", "idle"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let stderr = collect_stderr(&mut child);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = within(60, "the idle client's first call", lines.next_line()).await;
        assert_eq!(
            first.unwrap().as_deref(),
            Some("idle"),
            "{}",
            stderr.lock().unwrap()
        );

        within(
            60,
            "stop() with an idle Python client (the drain timeout is an hour)",
            running.stop(),
        )
        .await
        .expect("server stops");

        let closed = within(60, "the idle client noticing the close", lines.next_line()).await;
        assert_eq!(closed.unwrap().as_deref(), Some("closed by server"));
        let status = within(30, "the idle client exiting", child.wait())
            .await
            .unwrap();
        assert!(
            status.success(),
            "idle client: {status}\n{}",
            stderr.lock().unwrap()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A Python server for rookery clients.

struct PyServer {
    _child: Child,
    addr: Address,
    stderr: Arc<Mutex<String>>,
}

async fn start_python_server(py: &Python, transport: &str, protocol: &str, kind: &str) -> PyServer {
    let mut child = python_command(py, "echo_server.py")
        .args(["--transport", transport, "--protocol", protocol])
        .args(["--server", kind])
        .stdin(Stdio::piped()) // it exits when this closes
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let stderr = collect_stderr(&mut child);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = within(60, "the Python server's readiness line", lines.next_line())
        .await
        .expect("reading the Python server's stdout");
    let Some(addr) = line
        .as_deref()
        .and_then(|l| l.strip_prefix("listening on "))
    else {
        // Give the stderr collector a moment to finish for the message.
        let _ = within(30, "the Python server exiting", child.wait()).await;
        tokio::task::yield_now().await;
        panic!(
            "the Python server did not start: {line:?}\n{}",
            stderr.lock().unwrap()
        );
    };
    let addr = addr.parse().expect("the readiness line has an address");
    PyServer {
        _child: child,
        addr,
        stderr,
    }
}

fn framing_of(transport: &str) -> Framing {
    match transport {
        "framed" => Framing::Framed,
        "buffered" => Framing::Buffered,
        other => panic!("no framing {other}"),
    }
}

fn protocol_of(protocol: &str) -> Protocol {
    match protocol {
        "binary" => Protocol::Binary,
        "compact" => Protocol::Compact,
        other => panic!("no protocol {other}"),
    }
}

fn big_message() -> String {
    let unit = "0123456789abcdef\u{e9}\u{1f980}";
    let mut s = unit.repeat(1024 * 1024 / unit.len() + 1);
    while s.len() > 1024 * 1024 {
        s.pop();
    }
    s
}

async fn rookery_client_suite(transport: &str, protocol: &str) {
    let Some(py) = python() else { return };
    let server = start_python_server(py, transport, protocol, "threaded").await;
    let context = format!("{transport}, {protocol}");
    let mut expected_seen: Vec<String> = Vec::new();

    for mode in ["mux", "pool"] {
        let builder = Client::builder(server.addr.clone())
            .framing(framing_of(transport))
            .protocol(protocol_of(protocol))
            .timeout(Duration::from_secs(60));
        let builder = match mode {
            "mux" => builder.multiplexed(1),
            _ => builder.pooled(4),
        };
        let client = EchoClient::new(builder.build());
        let cx = &mut Context::new();
        let what = format!("{mode}, {context}");

        for msg in [
            String::new(),
            "hello".to_owned(),
            "h\u{e9}llo w\u{f6}rld \u{2713} \u{1f980} \u{65e5}\u{672c}\u{8a9e}".to_owned(),
            big_message(),
        ] {
            let got = within(60, &what, client.echo(cx, msg.clone()))
                .await
                .unwrap_or_else(|e| {
                    panic!("echo ({what}): {e}\n{}", server.stderr.lock().unwrap())
                });
            assert!(
                *got == *msg,
                "echo of {} bytes ({what}) came back different",
                msg.len()
            );
        }

        match within(60, &what, client.fail(cx, 42, "as asked \u{2713}")).await {
            Err(FailError::Err(e)) => assert_eq!(
                e,
                EchoError {
                    code: 42,
                    message: "as asked \u{2713}".into()
                },
                "{what}"
            ),
            other => panic!("fail ({what}) should raise EchoError, got {other:?}"),
        }

        for i in 0..3 {
            let msg = format!("{mode}-{i}");
            within(60, &what, client.notify(cx, msg.clone()))
                .await
                .unwrap_or_else(|e| panic!("notify ({what}): {e}"));
            expected_seen.push(msg);
        }
        // The calls are sequential on one connection, which the Python server serves in
        // order: by the time it answers this echo it has handled the oneway calls.
        let seen = within(60, &what, client.echo(cx, "seen")).await.unwrap();
        assert_eq!(&*seen, expected_seen.join("|"), "{what}");
        let count = within(60, &what, client.echo(cx, "count")).await.unwrap();
        assert_eq!(&*count, expected_seen.len().to_string(), "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rookery_client_to_python_server_framed_binary() {
    rookery_client_suite("framed", "binary").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rookery_client_to_python_server_framed_compact() {
    rookery_client_suite("framed", "compact").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rookery_client_to_python_server_buffered_binary() {
    rookery_client_suite("buffered", "binary").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rookery_client_to_python_server_buffered_compact() {
    rookery_client_suite("buffered", "compact").await;
}

/// Many calls in flight at once on one multiplexed connection to `TSimpleServer`, which
/// serves one connection at a time and its calls strictly in order: every call gets its own
/// reply. (A second connection would not be served until the first closed, so the calls
/// completing at all shows they shared one.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_calls_on_one_connection_to_a_sequential_python_server() {
    let Some(py) = python() else { return };
    for (transport, protocol) in [
        ("framed", "binary"),
        ("framed", "compact"),
        ("buffered", "binary"),
        ("buffered", "compact"),
    ] {
        let server = start_python_server(py, transport, protocol, "simple").await;
        let client = EchoClient::new(
            Client::builder(server.addr.clone())
                .framing(framing_of(transport))
                .protocol(protocol_of(protocol))
                .multiplexed(1)
                .timeout(Duration::from_secs(60))
                .build(),
        );
        let mut calls = JoinSet::new();
        for i in 0..300 {
            let client = client.clone();
            calls.spawn(async move {
                let msg = format!("call {i} {}", "x".repeat(i % 50));
                let got = client.echo(&mut Context::new(), msg.clone()).await;
                (msg, got)
            });
        }
        let mut done = 0;
        while let Some(joined) = within(120, "the concurrent calls", calls.join_next()).await {
            let (msg, got) = joined.unwrap();
            match got {
                Ok(reply) => assert_eq!(&*reply, msg, "({transport}, {protocol})"),
                Err(e) => panic!(
                    "call {msg:?} ({transport}, {protocol}) failed: {e}\n{}",
                    server.stderr.lock().unwrap()
                ),
            }
            done += 1;
        }
        assert_eq!(done, 300);
        // Oneway calls in between concurrent ones are handled too.
        let cx = &mut Context::new();
        client.notify(cx, "last").await.unwrap();
        assert_eq!(&*client.echo(cx, "seen").await.unwrap(), "last");
    }
}
