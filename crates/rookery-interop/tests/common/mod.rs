//! What the cross-language tests share: the Python environment (python3, its `thrift`
//! package, and the code Debian's `thrift` compiler generates from `idl/ThriftTest.thrift`),
//! the Python client and server as child processes, and rookery clients of every kind.
#![allow(dead_code)] // each test file uses its own subset

use rookery_testkit::probe;
use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use rookery::{Address, Client, Framing, Protocol, RunningService, Service};
use rookery_interop::{
    ServicePrefix, TestHandler, router,
    thrift_test::{SecondServiceClient, ThriftTestClient},
};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, BufReader},
    process::{Child, Command},
};

/// The protocols both sides speak.
pub(crate) const PROTOCOLS: [Protocol; 2] = [Protocol::Binary, Protocol::Compact];
pub(crate) use rookery_testkit::within;

/// The name the Python scripts use for a protocol.
pub(crate) fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Binary => "binary",
        Protocol::Compact => "compact",
    }
}

/// The name the Python scripts use for a framing.
pub(crate) fn transport_name(framing: Framing) -> &'static str {
    match framing {
        Framing::Framed => "framed",
        Framing::Buffered => "buffered",
        other => panic!("no Python name for {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The Python environment.

pub(crate) struct Python {
    /// Where `thrift --gen py` put the `ThriftTest` package.
    gen_dir: PathBuf,
}

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python")
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
    let idl = Path::new(env!("CARGO_MANIFEST_DIR")).join("idl/ThriftTest.thrift");
    probe(
        std::process::Command::new("thrift")
            .args(["--gen", "py", "-out"])
            .arg(&gen_dir)
            .arg(&idl),
        &format!("`thrift --gen py` failed on {}", idl.display()),
    )?;
    Ok(Python { gen_dir })
}

const GEN_PREFIX: &str = "rookery-interop-python-";

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
pub(crate) fn python() -> Option<&'static Python> {
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

/// `python3 SCRIPT --gen-dir DIR`, killed when dropped.
pub(crate) fn python_command(py: &Python, script: &str) -> Command {
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

/// The Python server (`python/thrift_test_server.py`), running until dropped.
pub(crate) struct PyServer {
    _child: Child,
    pub(crate) addr: Address,
    stderr: Arc<Mutex<String>>,
}

impl PyServer {
    /// Starts a Python server of `protocol` over `framing`; with `multiplexed`, it serves
    /// `ThriftTest` and `SecondService` behind Apache's `TMultiplexedProcessor`.
    pub(crate) async fn start(
        py: &Python,
        protocol: Protocol,
        framing: Framing,
        multiplexed: bool,
    ) -> PyServer {
        let mut cmd = python_command(py, "thrift_test_server.py");
        cmd.args(["--protocol", protocol_name(protocol)])
            .args(["--transport", transport_name(framing)]);
        if multiplexed {
            cmd.arg("--multiplexed");
        }
        let mut child = cmd
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
        let Some(port) = line
            .as_deref()
            .and_then(|l| l.strip_prefix("listening on "))
        else {
            let _ = within(30, "the Python server exiting", child.wait()).await;
            tokio::time::sleep(Duration::from_millis(100)).await; // for the stderr collector
            panic!(
                "the Python server did not start: {line:?}\n{}",
                stderr.lock().unwrap()
            );
        };
        let addr = format!("127.0.0.1:{port}")
            .parse()
            .expect("the readiness line has a port");
        PyServer {
            _child: child,
            addr,
            stderr,
        }
    }

    /// What the server wrote to stderr so far (Python's tracebacks).
    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

/// Runs the Python client (`python/thrift_test_client.py`) against `port` to the end, and
/// returns its stdout; fails the test if it does not exit 0.
pub(crate) async fn run_python_client(
    py: &Python,
    port: u16,
    protocol: Protocol,
    framing: Framing,
    multiplexed: bool,
) -> String {
    let what = format!(
        "the Python client ({}, {}{})",
        protocol_name(protocol),
        transport_name(framing),
        if multiplexed { ", multiplexed" } else { "" }
    );
    let mut cmd = python_command(py, "thrift_test_client.py");
    cmd.args(["--port", &port.to_string()])
        .args(["--protocol", protocol_name(protocol)])
        .args(["--transport", transport_name(framing)]);
    if multiplexed {
        cmd.arg("--multiplexed");
    }
    let out = within(120, &what, cmd.output())
        .await
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

// ---------------------------------------------------------------------------------------------
// rookery's side.

/// A rookery server of both services of `handler`, on a port the system picks.
pub(crate) async fn start_rookery(handler: &TestHandler) -> RunningService {
    Service::builder("thrift-test")
        .no_registry()
        .router(router(handler))
        .build()
        .expect("service builds")
        .start()
        .await
        .expect("service starts")
}

/// The TCP port a running service listens on.
pub(crate) fn port_of(running: &RunningService) -> u16 {
    match running.local_addr() {
        Address::Tcp(addr) => addr.port(),
        other => panic!("expected a TCP address, got {other}"),
    }
}

/// How a rookery client uses its connections.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Connections {
    /// One connection, many calls in flight.
    Multiplexed,
    /// A pool, one call per connection at a time.
    Pooled,
}

/// A rookery client of `addr`.
pub(crate) fn client(
    addr: &Address,
    protocol: Protocol,
    framing: Framing,
    connections: Connections,
) -> Client {
    let builder = Client::builder(addr.clone())
        .protocol(protocol)
        .framing(framing)
        .timeout(Duration::from_secs(60));
    match connections {
        Connections::Multiplexed => builder.multiplexed(1),
        Connections::Pooled => builder.pooled(4),
    }
    .build()
}

/// The generated clients over `client`, naming their services in every call
/// (`ThriftTest:testVoid`), as Apache's `TMultiplexedProtocol` does.
pub(crate) fn named_clients(
    client: &Client,
) -> (
    ThriftTestClient<ServicePrefix<Client>>,
    SecondServiceClient<ServicePrefix<Client>>,
) {
    (
        ThriftTestClient::with_service(
            ServicePrefix::new("ThriftTest", client.clone()),
            client.protocol(),
        ),
        SecondServiceClient::with_service(
            ServicePrefix::new("SecondService", client.clone()),
            client.protocol(),
        ),
    )
}

/// Every method name of `ThriftTest`, as the IDL spells them.
pub(crate) const THRIFT_TEST_METHODS: [&str; 22] = [
    "testVoid",
    "testString",
    "testBool",
    "testByte",
    "testI32",
    "testI64",
    "testDouble",
    "testBinary",
    "testStruct",
    "testNest",
    "testMap",
    "testStringMap",
    "testSet",
    "testList",
    "testEnum",
    "testTypedef",
    "testMapMap",
    "testInsanity",
    "testMulti",
    "testException",
    "testMultiException",
    "testOneway",
];

/// Fails the test unless `lines` (a client's report) says `ok` for every method, and for
/// `secondtestString` when `second` is set.
pub(crate) fn assert_every_method_ok(lines: &str, second: bool, what: &str) {
    let second_method = second.then_some("secondtestString");
    for method in THRIFT_TEST_METHODS.into_iter().chain(second_method) {
        let ok = format!("ok {method}");
        assert!(
            lines
                .lines()
                .any(|l| l == ok || l.starts_with(&format!("{ok} "))),
            "{what}: no `{ok}` in\n{lines}"
        );
    }
}
