//! gRPC-Web from a real JavaScript client: `web-test/run.mjs`, on `@connectrpc/connect-web`
//! in Node, calls rookery's interop server in binary and text modes.
//!
//! Needs `node` (18 or later) and the packages of `web-test/package-lock.json` installed
//! (`.ci/install` runs `npm ci` there); `ROOKERY_SKIP_NODE=1` skips the test.

use std::{path::Path, process::Stdio, time::Duration};

use http::HeaderName;
use rookery_grpc::{
    Server,
    interop::{InteropService, proto::grpc::testing::TestServiceServer},
    web::Cors,
};
use tokio::{net::TcpListener, process::Command};

/// The origin the client sends, as the page it stands for would.
const ORIGIN: &str = "http://rookery.test";

/// Every case, in both modes, that `run.mjs` must report `ok`.
const CASES: &[&str] = &[
    "empty_call",
    "unary",
    "error_status",
    "unimplemented",
    "server_streaming",
    "server_streaming_error",
    "timeout",
];

/// Whether node and the client's packages are there; a clear failure if not, unless skipped.
fn node_ready(web_test: &Path) -> bool {
    if std::env::var_os("ROOKERY_SKIP_NODE").is_some_and(|v| v == "1") {
        eprintln!("ROOKERY_SKIP_NODE=1: the Node gRPC-Web client is not run");
        return false;
    }
    let version = std::process::Command::new("node").arg("--version").output();
    match version {
        Ok(out) if out.status.success() => {}
        _ => panic!(
            "node is not installed (Node 18 or later runs web-test/run.mjs); install it and \
             run .ci/install, or set ROOKERY_SKIP_NODE=1 to skip"
        ),
    }
    for package in [
        "@connectrpc/connect",
        "@connectrpc/connect-web",
        "@bufbuild/protobuf",
    ] {
        let installed = web_test
            .join("node_modules")
            .join(package)
            .join("package.json");
        assert!(
            installed.exists(),
            "{package} is not installed in {}: run .ci/install (npm ci there), or set \
             ROOKERY_SKIP_NODE=1 to skip",
            web_test.display()
        );
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_web_calls_in_binary_and_text_modes() {
    let web_test = Path::new(env!("CARGO_MANIFEST_DIR")).join("web-test");
    if !node_ready(&web_test) {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let echo = HeaderName::from_static("x-grpc-test-echo-initial");
    let service = InteropService::new();
    let server = Server::builder()
        .add_service(
            TestServiceServer::<InteropService>::SERVICE,
            TestServiceServer::new(service.clone()),
        )
        .grpc_web(
            Cors::allow_origins([ORIGIN])
                .allow_header(echo.clone())
                .expose_header(echo),
        )
        .build();
    let served = tokio::spawn(server.serve(listener));

    let child = Command::new("node")
        .arg("run.mjs")
        .args(["--port", &port.to_string(), "--origin", ORIGIN])
        .current_dir(&web_test)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("run.mjs finishes within a minute")
        .unwrap();
    served.abort();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report = format!("run.mjs ({}):\n{stdout}\nstderr:\n{stderr}", out.status);
    eprintln!("{report}");
    for mode in ["binary", "text"] {
        for case in CASES {
            let line = format!("ok {mode} {case}");
            assert!(
                stdout.lines().any(|l| l == line),
                "no `{line}` from {report}"
            );
        }
    }
    assert!(out.status.success(), "{report}");
    // Every call's handler and response stream are gone, the deadline's included.
    tokio::time::timeout(Duration::from_secs(10), service.idle())
        .await
        .expect("no call left running on the server");
}
