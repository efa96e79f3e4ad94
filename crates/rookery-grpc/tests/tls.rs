//! gRPC over TLS (feature `tls`): rookery's client and server over loopback with certificates
//! made here by a throwaway CA — unary and streaming calls, a server certificate from another
//! CA, client certificates required and read by the handler, a cleartext client on the TLS
//! port — and Python's `grpcio` client over TLS against rookery's server (needs python3 with
//! `grpcio` and `grpcio-tools`; `ROOKERY_SKIP_PYTHON=1` skips it).

#![cfg(feature = "tls")]

use rookery_testkit::probe;
use rookery_testkit::within;
use std::{
    net::SocketAddr,
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use rookery_codec::protobuf::rpc::{ProtoRequest, ProtoResponse, ProtoStreamRequest, Streaming};
use rookery_core::{Code, Context, Service, Status};
use rookery_grpc::{
    GrpcClient, GrpcService, Server,
    interop::{self, InteropService, proto::grpc::testing::TestServiceServer},
    tls::{ClientTlsConfig, PeerCertificates, TlsConfig},
};
use tokio::{net::TcpListener, sync::oneshot};
// ---------------------------------------------------------------------------------------------
// Certificates.

/// A CA, and PEMs of certificates it issued.
struct Pki {
    ca_pem: String,
    server_pem: String,
    server_key: String,
    client_pem: String,
    client_key: String,
}

const CLIENT_DNS: &str = "client.rookery.test";
const CLIENT_URI: &str = "spiffe://rookery.test/client";

impl Pki {
    /// A new CA; a server certificate for `localhost` and 127.0.0.1; a client certificate for
    /// `client.rookery.test` and a SPIFFE ID.
    fn new(name: &str) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, name);
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

        let client_key = KeyPair::generate().unwrap();
        let mut client = CertificateParams::new(vec![CLIENT_DNS.to_string()]).unwrap();
        client
            .subject_alt_names
            .push(SanType::URI(CLIENT_URI.try_into().unwrap()));
        client
            .distinguished_name
            .push(DnType::CommonName, "rookery test client");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client = client.signed_by(&client_key, &ca, &ca_key).unwrap();

        Pki {
            ca_pem: ca.pem(),
            server_pem: server.pem(),
            server_key: server_key.serialize_pem(),
            client_pem: client.pem(),
            client_key: client_key.serialize_pem(),
        }
    }

    fn server_tls(&self) -> TlsConfig {
        TlsConfig::from_pem(&self.server_pem, &self.server_key).unwrap()
    }

    fn client_tls(&self) -> ClientTlsConfig {
        ClientTlsConfig::new().ca_pem(&self.ca_pem).unwrap()
    }

    fn client_tls_with_identity(&self) -> ClientTlsConfig {
        self.client_tls()
            .identity_pem(&self.client_pem, &self.client_key)
            .unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// Servers.

/// What the handlers saw of their callers: the DNS and URI names of each call's client
/// certificate (empty without one).
type Seen = Arc<Mutex<Vec<(Vec<String>, Vec<String>)>>>;

/// The interop service, noting the client certificate of each call before answering it.
struct Identified<S> {
    inner: S,
    seen: Seen,
}

impl<S> Identified<S> {
    fn note(&self, cx: &Context) {
        let names = PeerCertificates::of(cx)
            .map(|c| {
                let own = |names: Vec<&str>| names.into_iter().map(String::from).collect();
                (own(c.dns_names()), own(c.uri_names()))
            })
            .unwrap_or_default();
        self.seen.lock().unwrap().push(names);
    }
}

impl<S: Service<ProtoRequest, Response = ProtoResponse>> Service<ProtoRequest> for Identified<S> {
    type Response = ProtoResponse;

    async fn call(&self, cx: &mut Context, req: ProtoRequest) -> Result<ProtoResponse, Status> {
        self.note(cx);
        self.inner.call(cx, req).await
    }
}

impl<S: Service<ProtoStreamRequest, Response = Streaming<Bytes>>> Service<ProtoStreamRequest>
    for Identified<S>
{
    type Response = Streaming<Bytes>;

    async fn call(
        &self,
        cx: &mut Context,
        req: ProtoStreamRequest,
    ) -> Result<Streaming<Bytes>, Status> {
        self.note(cx);
        self.inner.call(cx, req).await
    }
}

struct Running {
    addr: SocketAddr,
    seen: Seen,
    _stop: oneshot::Sender<()>,
}

/// The interop server with `tls` on an ephemeral loopback port, until dropped.
async fn start(tls: TlsConfig) -> Running {
    let seen = Seen::default();
    let service = Identified {
        inner: TestServiceServer::new(InteropService::new()),
        seen: Arc::clone(&seen),
    };
    start_server(
        Server::builder()
            .tls(tls)
            .add_service(TestServiceServer::<InteropService>::SERVICE, service)
            .build(),
        seen,
    )
    .await
}

async fn start_server(server: Server, seen: Seen) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.serve_with_shutdown(listener, async move {
        let _ = stopped.await;
    }));
    Running {
        addr,
        seen,
        _stop: stop,
    }
}

fn _services_are_grpc_services() {
    fn is<S: GrpcService>() {}
    is::<Identified<TestServiceServer<InteropService>>>();
}

async fn run_cases(channel: &GrpcClient, cases: &[&str]) {
    for case in cases {
        within(30, case, interop::run_case(case, channel))
            .await
            .unwrap_or_else(|e| panic!("{case} over TLS: {e}"));
    }
}

// ---------------------------------------------------------------------------------------------
// rookery against rookery.

/// Unary and streaming calls of every kind over TLS, the server's certificate checked for the
/// IP address connected to, and for `localhost` when told.
#[tokio::test]
async fn unary_and_streaming_calls_over_tls() {
    let pki = Pki::new("rookery test CA");
    let server = start(pki.server_tls()).await;
    let cases = [
        "empty_unary",
        "large_unary",
        "client_streaming",
        "server_streaming",
        "ping_pong",
        "custom_metadata",
        "status_code_and_message",
    ];
    let by_ip = GrpcClient::builder()
        .tls(pki.client_tls())
        .connect(server.addr)
        .await
        .expect("connecting over TLS");
    run_cases(&by_ip, &cases).await;

    let by_name = GrpcClient::builder()
        .tls(pki.client_tls().server_name("localhost"))
        .connect(server.addr)
        .await
        .expect("connecting over TLS to localhost");
    run_cases(&by_name, &["large_unary", "server_streaming"]).await;

    // Without client certificates required, the handler sees none.
    assert!(
        server
            .seen
            .lock()
            .unwrap()
            .iter()
            .all(|names| names.0.is_empty())
    );
}

/// A server whose certificate another CA issued is refused: UNAVAILABLE, saying that the
/// certificate did not verify; so is one whose certificate lacks the name asked for.
#[tokio::test]
async fn a_server_certificate_that_does_not_verify_fails_unavailable() {
    let pki = Pki::new("rookery test CA");
    let other = Pki::new("another CA");
    let server = start(pki.server_tls()).await;

    let err = GrpcClient::builder()
        .tls(other.client_tls())
        .connect(server.addr)
        .await
        .expect_err("a certificate from an untrusted CA");
    eprintln!("untrusted CA: {err}");
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    assert!(
        err.message().contains("certificate verification failed"),
        "{err}"
    );

    let err = GrpcClient::builder()
        .tls(pki.client_tls().server_name("elsewhere.example"))
        .connect(server.addr)
        .await
        .expect_err("a certificate for another name");
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    assert!(
        err.message().contains("certificate verification failed"),
        "{err}"
    );

    // The server serves on.
    let channel = GrpcClient::builder()
        .tls(pki.client_tls())
        .connect(server.addr)
        .await
        .unwrap();
    run_cases(&channel, &["empty_unary"]).await;
}

/// With client certificates required, a client without one (or with one from another CA)
/// is refused, and the handler reads the names of the one it accepted.
#[tokio::test]
async fn client_certificates_required_and_seen_by_the_handler() {
    let pki = Pki::new("rookery test CA");
    let other = Pki::new("another CA");
    let server = start(pki.server_tls().client_ca(&pki.ca_pem).unwrap()).await;

    for (who, tls) in [
        ("without a certificate", pki.client_tls()),
        (
            "with a certificate from another CA",
            pki.client_tls()
                .identity_pem(&other.client_pem, &other.client_key)
                .unwrap(),
        ),
    ] {
        // In TLS 1.3 the server refuses the certificate after the client's handshake is
        // done: the connection may open, but no call gets through it.
        let refused = async {
            let channel = GrpcClient::builder().tls(tls).connect(server.addr).await?;
            interop::run_case("empty_unary", &channel)
                .await
                .map_err(|e| Status::unavailable(e.to_string()))
        };
        let err = within(30, who, refused)
            .await
            .expect_err("a client without an accepted certificate is refused");
        assert_eq!(err.code(), Code::Unavailable, "{who}: {err}");
        eprintln!("{who}: {err}");
    }
    assert!(
        server.seen.lock().unwrap().is_empty(),
        "no call got through"
    );

    let channel = GrpcClient::builder()
        .tls(pki.client_tls_with_identity())
        .connect(server.addr)
        .await
        .expect("a client with a certificate");
    run_cases(&channel, &["empty_unary", "server_streaming"]).await;
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    for (dns, uris) in seen {
        assert_eq!(dns, [CLIENT_DNS]);
        assert_eq!(uris, [CLIENT_URI]);
    }
}

/// A client speaking cleartext HTTP/2 to the TLS port fails its call at once, and the server
/// serves TLS clients as before.
#[tokio::test]
async fn a_cleartext_client_on_the_tls_port_fails_and_the_server_serves_on() {
    let pki = Pki::new("rookery test CA");
    let server = start(pki.server_tls()).await;
    let cleartext = async {
        let channel = GrpcClient::connect(server.addr).await?;
        interop::run_case("empty_unary", &channel)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))
    };
    within(30, "a cleartext client", cleartext)
        .await
        .expect_err("cleartext on a TLS port");

    let channel = GrpcClient::builder()
        .tls(pki.client_tls())
        .connect(server.addr)
        .await
        .unwrap();
    run_cases(&channel, &["empty_unary", "large_unary"]).await;
}

/// A server without TLS: a TLS client's handshake fails, UNAVAILABLE.
#[tokio::test]
async fn a_tls_client_against_a_cleartext_server_fails_unavailable() {
    let pki = Pki::new("rookery test CA");
    let server = start_server(interop::server(InteropService::new()), Seen::default()).await;
    let err = within(
        30,
        "a TLS client",
        GrpcClient::builder()
            .tls(pki.client_tls())
            .connect(server.addr),
    )
    .await
    .expect_err("TLS against cleartext");
    assert_eq!(err.code(), Code::Unavailable, "{err}");
}

/// A client that connects and never finishes the TLS handshake, or finishes it and sends no
/// HTTP/2 preface, is dropped after the handshake timeout.
#[tokio::test]
async fn a_client_that_stalls_its_handshake_is_dropped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let pki = Pki::new("rookery test CA");
    let server = start_server(
        Server::builder()
            .tls(pki.server_tls())
            .handshake_timeout(Duration::from_millis(300))
            .build(),
        Seen::default(),
    )
    .await;

    // Silent: not a byte of TLS.
    let mut silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut buf = [0u8; 64];
    let read = within(10, "the silent client dropped", silent.read(&mut buf)).await;
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

    // TLS done, then silence: no HTTP/2 preface.
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates({
        let mut roots = rustls::RootCertStore::empty();
        let ca = first_certificate(&pki.ca_pem);
        roots.add(ca).unwrap();
        roots
    })
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.expect("TLS handshake");
    tls.flush().await.unwrap();
    let read = within(
        10,
        "the client without a preface dropped",
        tls.read(&mut buf),
    )
    .await;
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

/// The DER of the first certificate of a PEM.
fn first_certificate(pem: &str) -> rustls::pki_types::CertificateDer<'static> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

/// With gRPC-Web on, ALPN offers `http/1.1` beside `h2`, and a browser's gRPC-Web request
/// over HTTP/1.1 in TLS is answered.
#[tokio::test]
async fn grpc_web_over_tls_with_http1_by_alpn() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let pki = Pki::new("rookery test CA");
    let seen = Seen::default();
    let service = Identified {
        inner: TestServiceServer::new(InteropService::new()),
        seen: Arc::clone(&seen),
    };
    let server = start_server(
        Server::builder()
            .tls(pki.server_tls())
            .grpc_web(rookery_grpc::web::Cors::any_origin())
            .add_service(TestServiceServer::<InteropService>::SERVICE, service)
            .build(),
        seen,
    )
    .await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(first_certificate(&pki.ca_pem)).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.expect("TLS handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));

    // EmptyCall with an empty message: one frame, flag 0, length 0.
    let request = "POST /grpc.testing.TestService/EmptyCall HTTP/1.1\r\nhost: localhost\r\n\
                   content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n\
                   content-length: 5\r\nconnection: close\r\n\r\n";
    tls.write_all(request.as_bytes()).await.unwrap();
    tls.write_all(&[0, 0, 0, 0, 0]).await.unwrap();
    tls.flush().await.unwrap();
    let mut response = Vec::new();
    within(10, "the gRPC-Web answer", async {
        // The server closes as asked; a TLS close_notify may or may not come first.
        let _ = tls.read_to_end(&mut response).await;
    })
    .await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("grpc-status: 0"), "{response}");
    assert_eq!(server.seen.lock().unwrap().len(), 1);
}

/// PEMs without what they should hold are errors, not panics.
#[test]
fn bad_pems_are_errors() {
    let pki = Pki::new("rookery test CA");
    assert!(TlsConfig::from_pem("", &pki.server_key).is_err());
    assert!(TlsConfig::from_pem(&pki.server_pem, "").is_err());
    assert!(TlsConfig::from_pem(&pki.server_pem, "-----BEGIN PRIVATE KEY-----\nAAAA\n").is_err());
    // A key that is not the certificate's.
    assert!(TlsConfig::from_pem(&pki.server_pem, &pki.client_key).is_err());
    assert!(pki.server_tls().client_ca("no PEM here").is_err());
    assert!(ClientTlsConfig::new().ca_pem("").is_err());
    assert!(
        ClientTlsConfig::new()
            .identity_pem(&pki.client_pem, &pki.server_key)
            .is_err()
    );
}

// ---------------------------------------------------------------------------------------------
// Python's grpcio over TLS.

/// grpcio's client, trusting the test CA, runs unary and server-streaming cases against a
/// rookery server over TLS, checking its certificate for `localhost`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_over_tls() {
    if std::env::var("ROOKERY_SKIP_PYTHON").is_ok_and(|v| v == "1") {
        eprintln!("ROOKERY_SKIP_PYTHON=1: skipping the Python gRPC client over TLS");
        return;
    }
    const HINT: &str = "set ROOKERY_SKIP_PYTHON=1 to skip the Python gRPC interoperability tests";
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Its own folder: the generated code and the CA, gone with the test.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("rookery-grpc-python-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let protos = manifest.join("proto/grpc/testing");
    let mut protoc = std::process::Command::new("python3");
    protoc
        .args(["-m", "grpc_tools.protoc"])
        .arg(format!("-I{}", protos.display()))
        .arg(format!("--python_out={}", dir.display()))
        .arg(format!("--grpc_python_out={}", dir.display()));
    for file in ["empty.proto", "messages.proto", "test.proto"] {
        protoc.arg(protos.join(file));
    }
    if let Err(e) = probe(
        &mut protoc,
        &format!(
            "python3 with the packages `grpcio` and `grpcio-tools` is needed: run .ci/install \
             (pip install grpcio grpcio-tools), or {HINT}"
        ),
    ) {
        panic!("{e}");
    }

    let pki = Pki::new("rookery test CA");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let server = start(pki.server_tls()).await;
    let cases = ["empty_unary", "large_unary", "server_streaming"];
    let out = within(
        120,
        "the Python client",
        tokio::process::Command::new("python3")
            .arg(manifest.join("python/grpc_interop_client.py"))
            .arg("--gen-dir")
            .arg(&dir)
            .args(["--port", &server.addr.port().to_string()])
            .args(["--cases", &cases.join(",")])
            .arg("--tls-ca")
            .arg(&ca)
            .args(["--server-host-override", "localhost"])
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("python3 runs");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let failed = rookery_testkit::cases_not_ok(&stdout, &cases);
    assert!(
        failed.is_empty() && out.status.success(),
        "grpcio over TLS failed {failed:?}\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.seen.lock().unwrap().len(), cases.len());
}
