//! The gRPC interop cases against grpc-go (the Go module `interop/grpc-go`, which pins
//! google.golang.org/grpc), over loopback TCP, both ways:
//!
//! - grpc-go's interop client (`google.golang.org/grpc/interop/client`, one `--test_case` a
//!   run) against rookery's interop server: every standard case, in cleartext (h2c) and over
//!   TLS; and `interop/grpc-go/extra check` (grpc-go's health client, the reflection v1
//!   stubs, a unary call compressed by gzip) against a rookery server of TestService, health
//!   and reflection, in cleartext and over TLS.
//! - rookery's client against grpc-go's interop server
//!   (`google.golang.org/grpc/interop/server`): every case of [`interop::CASES`] and
//!   [`interop::EXTRA_CASES`], in cleartext and over TLS; and, requests compressed by gzip,
//!   against `extra serve` (grpc-go's own TestService with gzip registered, which the stock
//!   server does not register).
//!
//! The Go programs are built by `go build` on first use (a minute with a cold Go cache,
//! moments after); `ROOKERY_SKIP_GO=1` skips these tests where Go is missing.

mod common;

use rookery_testkit::within;
use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use rookery_grpc::{ClientBuilder, Compression, GrpcClient, interop};
use rookery_testkit::{ChildProcess, go_build_or_skip};

/// The Go module of the grpc-go peers, relative to the repository's root.
const MODULE: &str = "interop/grpc-go";
const GO_CLIENT: &str = "google.golang.org/grpc/interop/client";
const GO_SERVER: &str = "google.golang.org/grpc/interop/server";
/// The module's own program: `check` and `serve`.
const GO_EXTRA: &str = "./extra";
/// The Go program `package` of the module, built (once per test binary) off the async
/// workers; `None` when `ROOKERY_SKIP_GO` is set.
fn go_program(package: &str) -> Option<PathBuf> {
    tokio::task::block_in_place(|| go_build_or_skip(MODULE, package))
}

// ---------------------------------------------------------------------------------------------
// Certificates.

/// A throwaway CA and a server certificate it issued for `localhost` and 127.0.0.1, as PEM
/// files in a directory removed on drop.
#[cfg(feature = "tls")]
struct Pki {
    dir: rookery_testkit::TempDir,
    ca_pem: String,
    server_pem: String,
    server_key: String,
}

#[cfg(feature = "tls")]
impl Pki {
    fn new() -> Pki {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "rookery grpc-go interop CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = ca.self_signed(&ca_key).unwrap();

        let server_key = KeyPair::generate().unwrap();
        let mut server =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server = server.signed_by(&server_key, &ca, &ca_key).unwrap();

        let pki = Pki {
            dir: rookery_testkit::TempDir::new("rookery-grpc-go-tls").unwrap(),
            ca_pem: ca.pem(),
            server_pem: server.pem(),
            server_key: server_key.serialize_pem(),
        };
        std::fs::write(pki.ca_file(), &pki.ca_pem).unwrap();
        std::fs::write(pki.cert_file(), &pki.server_pem).unwrap();
        std::fs::write(pki.key_file(), &pki.server_key).unwrap();
        pki
    }

    fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn cert_file(&self) -> PathBuf {
        self.dir.path().join("server.pem")
    }

    fn key_file(&self) -> PathBuf {
        self.dir.path().join("server.key")
    }
}

// ---------------------------------------------------------------------------------------------
// grpc-go's client against rookery's server.

/// How grpc-go's client fails `cancel_after_begin` when it loses a race of its own: it
/// cancels, then half-closes at once, and a server that answers the empty request stream
/// before the reset reaches it has its `OK` read by the client, which delays the
/// cancellation until what was received is read (`recvBufferReader` in grpc-go's
/// transport). The server did right; the case is run again.
const CANCEL_RACE_LOST: &str = "CloseAndRecv() got error code 0, want 1";

/// Runs grpc-go's interop client once per case against `127.0.0.1:port` with `extra_args`,
/// and returns the failures, each with the client's exit status and output. A case that
/// fails only by [`CANCEL_RACE_LOST`] is run again, up to three times in all.
async fn run_go_client(
    client: &Path,
    port: u16,
    cases: &[&str],
    extra_args: &[&str],
) -> Vec<String> {
    let mut failed = Vec::new();
    for case in cases {
        let mut attempt = 1;
        loop {
            let out = within(
                60,
                &format!("grpc-go's client running {case}"),
                tokio::process::Command::new(client)
                    .args(["--server_host", "127.0.0.1"])
                    .args(["--server_port", &port.to_string()])
                    .args(["--test_case", case])
                    .args(extra_args)
                    .kill_on_drop(true)
                    .output(),
            )
            .await
            .expect("grpc-go's interop client runs");
            let stderr = String::from_utf8_lossy(&out.stderr);
            if out.status.success() {
                eprintln!("ok {case}");
            } else if stderr.contains(CANCEL_RACE_LOST) && attempt < 3 {
                eprintln!("{case}: grpc-go's client lost its cancellation race; again");
                attempt += 1;
                continue;
            } else {
                failed.push(format!(
                    "{case} (attempt {attempt}): {}\nstdout:\n{}\nstderr:\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout).trim(),
                    stderr.trim()
                ));
            }
            break;
        }
    }
    failed
}

/// grpc-go's interop client runs every standard case against rookery's interop server in
/// cleartext, each case its own process and connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_go_client_against_rookery_server() {
    let Some(client) = go_program(GO_CLIENT) else {
        return;
    };
    let server = common::start().await;
    let failed = run_go_client(&client, server.addr.port(), interop::CASES, &[]).await;
    assert!(
        failed.is_empty(),
        "grpc-go's client against rookery's server failed {} case(s):\n{}",
        failed.len(),
        failed.join("\n\n")
    );
    // Cancelled calls included, nothing is left running on the server.
    server.idle().await;
    server.shutdown().await;
}

/// The same over TLS: grpc-go's client trusts the test CA alone and checks the server's
/// certificate for `localhost`.
#[cfg(feature = "tls")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_go_client_over_tls_against_rookery_server() {
    let Some(client) = go_program(GO_CLIENT) else {
        return;
    };
    let pki = Pki::new();
    let server = tls_server::start(&pki).await;
    let ca = pki.ca_file();
    let args = [
        "--use_tls",
        "--use_test_ca",
        "--ca_file",
        ca.to_str().unwrap(),
        "--server_host_override",
        "localhost",
    ];
    let failed = run_go_client(&client, server.port, interop::CASES, &args).await;
    assert!(
        failed.is_empty(),
        "grpc-go's client over TLS against rookery's server failed {} case(s):\n{}",
        failed.len(),
        failed.join("\n\n")
    );
}

#[cfg(feature = "tls")]
mod tls_server {
    use super::Pki;
    use rookery_grpc::{
        Server,
        interop::{InteropService, proto::grpc::testing::TestServiceServer},
        tls::TlsConfig,
    };
    use tokio::{net::TcpListener, sync::oneshot};

    /// rookery's interop server over TLS with the test CA's server certificate; stops when
    /// dropped.
    pub(super) struct Running {
        pub(super) port: u16,
        _stop: oneshot::Sender<()>,
    }

    pub(super) async fn start(pki: &Pki) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = Server::builder()
            .tls(TlsConfig::from_pem(&pki.server_pem, &pki.server_key).unwrap())
            .add_service(
                TestServiceServer::<InteropService>::SERVICE,
                TestServiceServer::new(InteropService::new()),
            )
            .build();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.serve_with_shutdown(listener, async move {
            let _ = stopped.await;
        }));
        Running { port, _stop: stop }
    }
}

#[cfg(all(feature = "health", feature = "reflection"))]
mod standard_services {
    use super::*;
    use rookery_grpc::{
        Server, ServerBuilder,
        health::HealthReporter,
        interop::{InteropService, proto::grpc::testing::TestServiceServer},
        reflection::Reflection,
    };
    use tokio::net::TcpListener;

    const TEST_SERVICE: &str = "grpc.testing.TestService";

    /// The cases of `extra check`, each to be reported `ok`.
    const CHECKS: &[&str] = &[
        "health_check",
        "health_unknown_service",
        "health_watch",
        "health_list",
        "reflection_list",
        "reflection_resolve",
        "client_compressed_unary",
    ];

    /// A rookery server from `builder` (cleartext, or with TLS set) of TestService, health
    /// (TestService added, serving once the server is) and reflection (v1 and v1alpha, over
    /// both services' files); on its own task, for the test's lifetime. Returns its port.
    async fn start(builder: ServerBuilder) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let health = HealthReporter::new();
        health.add_service(TEST_SERVICE);
        let reflection = Reflection::new()
            .register_file_descriptor_set(interop::proto::FILE_DESCRIPTOR_SET)
            .unwrap()
            .register_file_descriptor_set(rookery_grpc::health::FILE_DESCRIPTOR_SET)
            .unwrap()
            .list_services([TEST_SERVICE, "grpc.health.v1.Health"]);
        let server = builder
            .add_health(&health)
            .add_reflection(reflection)
            .add_service(
                TestServiceServer::<InteropService>::SERVICE,
                TestServiceServer::new(InteropService::new()),
            )
            .build();
        tokio::spawn(async move {
            server
                .serve_with_health(listener, &health, std::future::pending())
                .await
        });
        port
    }

    /// Runs `extra check` with `args` and fails the test naming each case not reported `ok`.
    async fn check(extra: &Path, port: u16, args: &[&str], how: &str) {
        let out = within(
            120,
            "extra check",
            tokio::process::Command::new(extra)
                .arg("check")
                .args(["--addr", &format!("127.0.0.1:{port}")])
                .args(["--cases", &CHECKS.join(",")])
                .args(args)
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("extra check runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let failed = rookery_testkit::cases_not_ok(&stdout, CHECKS);
        assert!(
            failed.is_empty() && out.status.success(),
            "grpc-go (extra check){how} failed {failed:?} ({})\nstdout:\n{stdout}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// grpc-go's health client and reflection v1 stubs, and a gzip-compressed unary call,
    /// against a rookery server of TestService, health and reflection, in cleartext.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn grpc_go_checks_health_reflection_and_compression_on_rookery_server() {
        let Some(extra) = go_program(GO_EXTRA) else {
            return;
        };
        let port = start(Server::builder()).await;
        check(&extra, port, &[], "").await;
    }

    /// The same over TLS, grpc-go trusting the test CA alone.
    #[cfg(feature = "tls")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn grpc_go_checks_health_reflection_and_compression_over_tls() {
        let Some(extra) = go_program(GO_EXTRA) else {
            return;
        };
        let pki = Pki::new();
        let tls = rookery_grpc::tls::TlsConfig::from_pem(&pki.server_pem, &pki.server_key);
        let port = start(Server::builder().tls(tls.unwrap())).await;
        let ca = pki.ca_file();
        let args = [
            "--ca_file",
            ca.to_str().unwrap(),
            "--server_host_override",
            "localhost",
        ];
        check(&extra, port, &args, " over TLS").await;
    }
}

// ---------------------------------------------------------------------------------------------
// rookery's client against grpc-go's server.

/// A grpc-go server as a child process, killed on drop, and the port it listens on.
struct GoServer {
    child: ChildProcess,
    port: u16,
}

impl GoServer {
    /// grpc-go's stock interop server, with `args` (TLS flags). It is given port 0, so the
    /// kernel picks a free port (no race with other tests), and it reports the port in its
    /// log line `interop server listening on [::]:PORT`, printed once its listener accepts.
    fn start_stock(server: &Path, args: &[&str]) -> GoServer {
        let mut cmd = Command::new(server);
        cmd.args(["--port", "0"])
            .args(args)
            // INFO, for that line and for the server's story in failure messages.
            .env("GRPC_GO_LOG_SEVERITY_LEVEL", "info");
        GoServer::start(
            "grpc-go interop server",
            cmd,
            "interop server listening on ",
        )
    }

    /// `extra serve`: grpc-go's TestService with gzip registered, on `127.0.0.1:0`.
    fn start_extra(extra: &Path) -> GoServer {
        let mut cmd = Command::new(extra);
        cmd.args(["serve", "--addr", "127.0.0.1:0"]);
        GoServer::start("grpc-go extra serve", cmd, "listening on ")
    }

    fn start(name: &str, cmd: Command, marker: &str) -> GoServer {
        let mut child = ChildProcess::spawn(name, cmd).expect("the Go server starts");
        let line = tokio::task::block_in_place(|| {
            child.wait_for_line(|l| l.contains(marker), Duration::from_secs(30))
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let port = line
            .rsplit(':')
            .next()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name}: no port in {line:?}"));
        GoServer { child, port }
    }

    fn output(&self) -> String {
        self.child.output().join("\n")
    }
}

/// Runs every case of [`interop::CASES`] and [`interop::EXTRA_CASES`] with a client from
/// `builder` against `server`, all on one connection, and fails the test naming each case
/// that failed, with the server's output.
async fn rookery_client_against(server: &GoServer, builder: ClientBuilder, how: &str) {
    let channel = within(
        30,
        "connecting to the grpc-go server",
        builder.connect(("127.0.0.1", server.port)),
    )
    .await
    .unwrap_or_else(|e| panic!("connecting to grpc-go's server{how}: {e}"));
    let mut failed = Vec::new();
    for case in interop::CASES.iter().chain(interop::EXTRA_CASES) {
        match within(60, case, interop::run_case(case, &channel)).await {
            Ok(()) => eprintln!("ok {case}"),
            Err(e) => failed.push(format!("{case}: {e}")),
        }
    }
    assert!(
        failed.is_empty(),
        "against grpc-go's server{how}, failed:\n{}\nthe server's output:\n{}",
        failed.join("\n"),
        server.output()
    );
    assert!(!channel.is_closed(), "the connection stays open");
}

/// rookery's client runs every case against grpc-go's stock interop server, in cleartext.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rookery_client_against_grpc_go_server() {
    let Some(server) = go_program(GO_SERVER) else {
        return;
    };
    let server = GoServer::start_stock(&server, &[]);
    rookery_client_against(&server, GrpcClient::builder(), "").await;
}

/// The same, every request compressed by gzip, against grpc-go's TestService with gzip
/// registered (`extra serve`): the stock server registers no compressor, so it would
/// rightly answer every compressed request `UNIMPLEMENTED`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rookery_client_compressing_against_grpc_go_server() {
    let Some(extra) = go_program(GO_EXTRA) else {
        return;
    };
    let server = GoServer::start_extra(&extra);
    rookery_client_against(
        &server,
        GrpcClient::builder().send_compressed(Compression::Gzip),
        ", requests compressed by gzip",
    )
    .await;
}

/// rookery's client over TLS, trusting the test CA alone and checking the certificate for
/// `localhost`, against grpc-go's stock interop server with that certificate.
#[cfg(feature = "tls")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rookery_client_over_tls_against_grpc_go_server() {
    use rookery_grpc::tls::ClientTlsConfig;

    let Some(server) = go_program(GO_SERVER) else {
        return;
    };
    let pki = Pki::new();
    let (cert, key) = (pki.cert_file(), pki.key_file());
    let server = GoServer::start_stock(
        &server,
        &[
            "--use_tls",
            "--tls_cert_file",
            cert.to_str().unwrap(),
            "--tls_key_file",
            key.to_str().unwrap(),
        ],
    );
    let tls = ClientTlsConfig::new()
        .ca_pem(&pki.ca_pem)
        .unwrap()
        .server_name("localhost");
    rookery_client_against(&server, GrpcClient::builder().tls(tls), " over TLS").await;
}
