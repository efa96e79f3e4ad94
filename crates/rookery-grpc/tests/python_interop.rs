//! The gRPC interop cases against a real peer, Python's `grpcio` (`python/`): its client
//! against rookery's server, and rookery's client against its server, over loopback TCP.
//!
//! Needs python3 with `grpcio` and `grpcio-tools` (`.ci/install` installs them); set
//! `ROOKERY_SKIP_PYTHON=1` to skip these tests where they are missing.

mod common;

use rookery_testkit::probe;
use rookery_testkit::within;
use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use rookery_grpc::{ClientBuilder, Compression, GrpcClient, interop};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, BufReader},
    process::{Child, Command},
};
// ---------------------------------------------------------------------------------------------
// The Python environment.

struct Python {
    /// Where `grpc_tools.protoc` put the code of the `grpc.testing` protos.
    gen_dir: PathBuf,
}

const GEN_PREFIX: &str = "rookery-grpc-python-";

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn prepare() -> Result<Python, String> {
    const HINT: &str = "set ROOKERY_SKIP_PYTHON=1 to skip the Python gRPC interoperability tests";
    probe(
        std::process::Command::new("python3").arg("--version"),
        &format!("python3 is missing: install it (Debian: apt-get install python3), or {HINT}"),
    )?;
    let versions = probe(
        std::process::Command::new("python3").args([
            "-c",
            "import importlib.metadata as m, grpc, grpc_tools; \
             print(m.version('grpcio'), m.version('grpcio-tools'))",
        ]),
        &format!(
            "the Python packages `grpcio` and `grpcio-tools` are missing: run .ci/install \
             (pip install grpcio grpcio-tools), or {HINT}"
        ),
    )?;
    eprintln!("python grpcio and grpcio-tools {}", versions.trim());

    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    remove_stale_gen_dirs(tmp);
    let gen_dir = tmp.join(format!("{GEN_PREFIX}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&gen_dir);
    std::fs::create_dir_all(&gen_dir).map_err(|e| format!("creating {gen_dir:?}: {e}"))?;
    let protos = manifest_dir().join("proto/grpc/testing");
    let mut protoc = std::process::Command::new("python3");
    protoc
        .args(["-m", "grpc_tools.protoc"])
        .arg(format!("-I{}", protos.display()))
        .arg(format!("--python_out={}", gen_dir.display()))
        .arg(format!("--grpc_python_out={}", gen_dir.display()));
    for file in ["empty.proto", "messages.proto", "test.proto"] {
        protoc.arg(protos.join(file));
    }
    probe(
        &mut protoc,
        &format!("`grpc_tools.protoc` failed on {}", protos.display()),
    )?;
    Ok(Python { gen_dir })
}

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
        eprintln!("ROOKERY_SKIP_PYTHON=1: skipping a Python gRPC interoperability test");
        return None;
    }
    static PYTHON: OnceLock<Result<Python, String>> = OnceLock::new();
    match PYTHON.get_or_init(prepare) {
        Ok(p) => Some(p),
        Err(e) => panic!("{e}"),
    }
}

/// `python3 python/SCRIPT --gen-dir DIR`, killed when dropped.
fn python_command(py: &Python, script: &str) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg(manifest_dir().join("python").join(script))
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

/// The Python server (`python/grpc_interop_server.py`), running until dropped: dropping
/// closes its stdin, and it exits (and is killed, should it not).
struct PyServer {
    _child: Child,
    port: u16,
    stderr: Arc<Mutex<String>>,
}

impl PyServer {
    async fn start(py: &Python) -> PyServer {
        let mut child = python_command(py, "grpc_interop_server.py")
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
            .and_then(|p| p.trim().parse().ok())
        else {
            let _ = within(30, "the Python server exiting", child.wait()).await;
            tokio::time::sleep(Duration::from_millis(100)).await; // for the stderr collector
            panic!(
                "the Python server did not start: {line:?}\n{}",
                stderr.lock().unwrap()
            );
        };
        PyServer {
            _child: child,
            port,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

/// Runs the Python client against `port` with `cases`, and returns its stdout, whatever its
/// exit status (the lines say which cases passed).
async fn run_python_client(py: &Python, port: u16, cases: &[&str]) -> (String, String) {
    let out = within(
        180,
        "the Python client",
        python_command(py, "grpc_interop_client.py")
            .args(["--port", &port.to_string()])
            .args(["--cases", &cases.join(",")])
            .output(),
    )
    .await
    .expect("python3 runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ---------------------------------------------------------------------------------------------
// The tests.

/// grpcio's client runs every standard case against rookery's interop server, and a large
/// unary call with its request compressed by gzip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_against_rookery_server() {
    let Some(py) = python() else { return };
    let server = common::start().await;
    let mut cases = interop::CASES.to_vec();
    cases.push("client_compressed_unary");
    let (stdout, stderr) = run_python_client(py, server.addr.port(), &cases).await;
    let failed = rookery_testkit::cases_not_ok(&stdout, &cases);
    assert!(
        failed.is_empty() && !stdout.contains("FAIL"),
        "the Python client failed {failed:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // Cancelled calls included, nothing is left running on the server.
    server.idle().await;
    server.shutdown().await;
}

/// rookery's client runs every standard case, and its oversize-message case, against
/// grpcio's server, all on one connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rookery_client_against_python_server() {
    rookery_client_against_python_server_with(GrpcClient::builder(), "").await;
}

/// The same, every request compressed by gzip (grpcio's server speaks gzip and deflate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rookery_client_compressing_against_python_server() {
    rookery_client_against_python_server_with(
        GrpcClient::builder().send_compressed(Compression::Gzip),
        ", requests compressed by gzip",
    )
    .await;
}

async fn rookery_client_against_python_server_with(client: ClientBuilder, how: &str) {
    let Some(py) = python() else { return };
    let server = PyServer::start(py).await;
    let channel = within(
        30,
        "connecting to the Python server",
        client.connect(("127.0.0.1", server.port)),
    )
    .await
    .expect("connecting to the Python server");
    let mut failed = Vec::new();
    for case in interop::CASES.iter().chain(interop::EXTRA_CASES) {
        match within(60, case, interop::run_case(case, &channel)).await {
            Ok(()) => eprintln!("ok {case}"),
            Err(e) => failed.push(format!("{case}: {e}")),
        }
    }
    assert!(
        failed.is_empty(),
        "against grpcio's server{how}, failed:\n{}\nthe server's stderr:\n{}",
        failed.join("\n"),
        server.stderr()
    );
    assert!(!channel.is_closed(), "the connection stays open");
}
