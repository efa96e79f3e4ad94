//! The native protocol over TLS (feature `tls`): rookery's client and server over loopback
//! with certificates made here by throwaway CAs — mutual TLS with the client's certificate in
//! the handler's context, on multiplexed and pooled connections and every framing; clients
//! without a certificate, with one from a foreign CA, or that do not trust the server's CA,
//! refused; a cleartext client on the TLS port; HTTP health checks inside TLS.

#![cfg(feature = "tls")]

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use rookery_codec::thrift::Protocol;
use rookery_core::{Code, Context, Service, Status, service_fn};
use rookery_transport::{
    Client, Framing, Server, ServerHandle, ThriftRequest, ThriftResponse,
    health::StringResult,
    tls::{ClientTlsConfig, PeerCertificates, TlsConfig},
};

/// Awaits `f`, failing the test with `what` if it has no outcome within `secs` seconds: a
/// guard against hangs, far above any expected duration.
async fn within<F: Future>(secs: u64, what: &str, f: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(secs), f).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: nothing happened within {secs} s"),
    }
}

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

    /// The server's TLS, requiring client certificates from this CA.
    fn mutual_server_tls(&self) -> TlsConfig {
        self.server_tls().client_ca(&self.ca_pem).unwrap()
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

/// A server whose `who` answers the DNS and URI names of the caller's certificate (or
/// `anonymous`) followed by the size of the arguments it got; it counts the calls that
/// reached it.
async fn server(tls: TlsConfig, reached: Arc<AtomicUsize>) -> ServerHandle {
    let who = service_fn(move |cx: &mut Context, req: ThriftRequest| {
        reached.fetch_add(1, Ordering::SeqCst);
        let names = match PeerCertificates::of(cx) {
            Some(certs) => format!("{:?} {:?}", certs.dns_names(), certs.uri_names()),
            None => "anonymous".to_string(),
        };
        let answer = format!("{names} {}", req.body.len());
        async move {
            Ok::<_, Status>(ThriftResponse::new(
                req.protocol,
                &StringResult(answer.into()),
            ))
        }
    });
    Server::builder()
        .tls(tls)
        .handshake_timeout(Duration::from_secs(5))
        .build(who)
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// A call of `who` whose arguments are `size` bytes (a string field).
async fn who(client: &Client, size: usize) -> Result<String, Status> {
    let args = StringResult("x".repeat(size).into());
    let req = ThriftRequest::new("who", client.protocol(), &args);
    let resp = Service::call(client, &mut Context::new(), req).await?;
    Ok(resp.decode::<StringResult>().unwrap().0.to_string())
}

fn client(handle: &ServerHandle, tls: ClientTlsConfig) -> rookery_transport::ClientBuilder {
    Client::builder(handle.local_addr().clone())
        .timeout(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(5))
        .tls(tls)
        .unwrap()
}

/// The size of the arguments of a call of [`who`] with `size` bytes.
fn encoded(size: usize) -> usize {
    Protocol::Binary
        .encode_to_bytes(&StringResult("x".repeat(size).into()))
        .len()
}

const NAMES: &str = r#"["client.rookery.test"] ["spiffe://rookery.test/client"]"#;

#[tokio::test]
async fn a_client_with_a_certificate_from_the_servers_ca_is_served_and_named() {
    let pki = Pki::new("rookery test CA");
    let reached = Arc::new(AtomicUsize::new(0));
    let handle = server(pki.mutual_server_tls(), Arc::clone(&reached)).await;

    // Multiplexed, many calls at once, some larger than a TLS record and a socket buffer.
    let mux = client(&handle, pki.client_tls_with_identity()).build();
    let calls = (0..40).map(|i| {
        let mux = mux.clone();
        let size = if i % 8 == 0 { 3 << 20 } else { 100 };
        async move { (size, who(&mux, size).await) }
    });
    for (size, answer) in within(60, "multiplexed calls", futures_join(calls)).await {
        let answer = answer.unwrap();
        assert!(answer.starts_with(NAMES), "{answer}");
        assert!(answer.ends_with(&format!(" {}", encoded(size))), "{answer}");
    }

    // Pooled, and every framing, the name checked as `localhost`.
    for framing in [Framing::TTHeader, Framing::Framed, Framing::Buffered] {
        let pooled = client(
            &handle,
            pki.client_tls_with_identity().server_name("localhost"),
        )
        .framing(framing)
        .pooled(2)
        .build();
        for _ in 0..3 {
            let answer = within(30, "a pooled call", who(&pooled, 1000))
                .await
                .unwrap();
            assert!(answer.starts_with(NAMES), "{framing:?}: {answer}");
        }
    }
    assert_eq!(reached.load(Ordering::SeqCst), 49);
    within(30, "the server stops", handle.stop()).await;
}

/// Runs the futures at once, their outputs in order.
async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test]
async fn clients_without_a_certificate_or_with_a_foreign_one_are_refused() {
    let pki = Pki::new("rookery test CA");
    let foreign = Pki::new("a foreign CA");
    let reached = Arc::new(AtomicUsize::new(0));
    let handle = server(pki.mutual_server_tls(), Arc::clone(&reached)).await;

    for (who_, tls) in [
        ("without a certificate", pki.client_tls()),
        (
            "with a certificate from a foreign CA",
            pki.client_tls()
                .identity_pem(&foreign.client_pem, &foreign.client_key)
                .unwrap(),
        ),
    ] {
        for pooled in [false, true] {
            let mut builder = client(&handle, tls.clone());
            if pooled {
                builder = builder.pooled(1);
            }
            // In TLS 1.3 the server refuses the certificate after the client's side of the
            // handshake is done: the connection may open, but no call gets through it.
            let err = within(30, who_, who(&builder.build(), 10))
                .await
                .expect_err("refused");
            assert_eq!(err.code(), Code::Unavailable, "{who_}: {err}");
            eprintln!("{who_} (pooled: {pooled}): {err}");
        }
    }
    assert_eq!(reached.load(Ordering::SeqCst), 0, "no call got through");

    // The server serves on.
    let good = client(&handle, pki.client_tls_with_identity()).build();
    assert!(who(&good, 1).await.unwrap().starts_with(NAMES));
}

#[tokio::test]
async fn a_client_refuses_a_server_it_does_not_trust_or_that_has_another_name() {
    let pki = Pki::new("rookery test CA");
    let foreign = Pki::new("a foreign CA");
    let reached = Arc::new(AtomicUsize::new(0));
    let handle = server(pki.server_tls(), Arc::clone(&reached)).await;

    for (what, tls) in [
        ("a server from an untrusted CA", foreign.client_tls()),
        (
            "a server without the name asked for",
            pki.client_tls().server_name("elsewhere.example"),
        ),
        ("a client that trusts no CA", ClientTlsConfig::new()),
    ] {
        let err = within(30, what, who(&client(&handle, tls).build(), 10))
            .await
            .expect_err(what);
        assert_eq!(err.code(), Code::Unavailable, "{what}: {err}");
        assert!(
            err.message().contains("certificate verification failed"),
            "{what}: {err}"
        );
        assert!(err.is_unsent(), "{what}: nothing was sent: {err}");
    }
    assert_eq!(reached.load(Ordering::SeqCst), 0);

    // Without client certificates required, a client without one is served, and anonymous.
    let answer = who(&client(&handle, pki.client_tls()).build(), 5)
        .await
        .unwrap();
    assert_eq!(answer, format!("anonymous {}", encoded(5)));
}

#[tokio::test]
async fn a_cleartext_client_on_the_tls_port_fails_and_the_server_serves_on() {
    let pki = Pki::new("rookery test CA");
    let reached = Arc::new(AtomicUsize::new(0));
    let handle = server(pki.server_tls(), Arc::clone(&reached)).await;
    let cleartext = Client::builder(handle.local_addr().clone())
        .timeout(Duration::from_secs(10))
        .build();
    within(30, "a cleartext client", who(&cleartext, 10))
        .await
        .expect_err("cleartext on a TLS port");
    assert_eq!(reached.load(Ordering::SeqCst), 0);
    who(&client(&handle, pki.client_tls()).build(), 10)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_tls_client_against_a_cleartext_server_fails_unavailable() {
    let server = Server::builder()
        .build(service_fn(
            |_: &mut Context, req: ThriftRequest| async move {
                Ok::<_, Status>(ThriftResponse::empty(req.protocol))
            },
        ))
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let pki = Pki::new("rookery test CA");
    let err = within(
        30,
        "TLS against cleartext",
        who(&client(&server, pki.client_tls()).build(), 1),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    assert!(err.is_unsent(), "{err}");
}

#[tokio::test]
async fn a_client_that_stalls_its_handshake_is_dropped() {
    use tokio::io::AsyncReadExt;

    let pki = Pki::new("rookery test CA");
    let handle = Server::builder()
        .tls(pki.server_tls())
        .handshake_timeout(Duration::from_millis(300))
        .build(service_fn(
            |_: &mut Context, req: ThriftRequest| async move {
                Ok::<_, Status>(ThriftResponse::empty(req.protocol))
            },
        ))
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = handle.local_socket_addr().unwrap();
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 64];
    let read = within(10, "the silent client dropped", silent.read(&mut buf)).await;
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

/// HTTP on the port is served inside TLS too: the health check answers over HTTPS.
#[tokio::test]
async fn health_checks_are_answered_inside_tls() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let pki = Pki::new("rookery test CA");
    let handle = server(pki.server_tls(), Arc::default()).await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(
            <rustls::pki_types::CertificateDer as rustls::pki_types::pem::PemObject>::from_pem_slice(
                pki.ca_pem.as_bytes(),
            )
            .unwrap(),
        )
        .unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(handle.local_socket_addr().unwrap())
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.expect("TLS handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    tls.write_all(b"GET /health HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    within(10, "the health answer", async {
        let _ = tls.read_to_end(&mut response).await;
    })
    .await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("SERVING"), "{response}");
}
