//! TLS (feature `tls`): the native protocol over TLS, with rustls on its `ring` provider, and
//! client certificates (mutual TLS). rookery-grpc's `tls` feature uses the same
//! configuration types, so one [`TlsConfig`] serves both transports.
//!
//! A server gets a [`TlsConfig`] (its certificate chain and key, and the CAs of the clients it
//! requires, if any) through [`ServerBuilder::tls`](crate::ServerBuilder::tls); a client a
//! [`ClientTlsConfig`] (the CAs it trusts, the name it checks, its own certificate if the server
//! asks for one) through [`ClientBuilder::tls`](crate::ClientBuilder::tls).
//!
//! ```no_run
//! # async fn run(router: rookery_transport::Router) -> Result<(), Box<dyn std::error::Error>> {
//! use rookery_transport::{Client, Server, tls::{ClientTlsConfig, TlsConfig}};
//!
//! let tls = TlsConfig::from_pem(std::fs::read("server.pem")?, std::fs::read("server.key")?)?
//!     .client_ca(std::fs::read("clients-ca.pem")?)?; // mutual TLS
//! let server = Server::builder().tls(tls).build(router).bind(&"127.0.0.1:9090".parse()?).await?;
//!
//! let tls = ClientTlsConfig::new()
//!     .ca_pem(std::fs::read("ca.pem")?)?
//!     .server_name("orders.internal")
//!     .identity_pem(std::fs::read("client.pem")?, std::fs::read("client.key")?)?;
//! let client = Client::builder(server.local_addr().clone()).tls(tls)?.build();
//! # let _ = client;
//! # Ok(())
//! # }
//! ```
//!
//! On a TLS server the handshake comes first, within the server's handshake timeout; the
//! protocol of the connection (TTHeader, framed or buffered Thrift, HTTP/1.1, HTTP/2) is then
//! detected on the decrypted bytes as on a cleartext port, so gRPC reaches the server's HTTP
//! handler over the same TLS port (ALPN offers `h2` when there is one). With client
//! certificates required, every call of the connection finds the client's verified
//! certificate in its context ([`PeerCertificates::of`]), whatever its protocol.

mod client;
mod server;

use std::{
    fmt,
    sync::{Arc, OnceLock},
};

use rookery_core::Context;
use rustls::{
    RootCertStore,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
};

pub use client::ClientTlsConfig;
pub use server::TlsConfig;

pub(crate) use client::Connector;
pub(crate) use server::Acceptor;

/// ALPN's name for HTTP/2.
pub const ALPN_H2: &[u8] = b"h2";
/// ALPN's name for HTTP/1.1.
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// A TLS configuration that cannot be used: a PEM without the certificate or key it should
/// hold, a key that does not fit its certificate, CAs that cannot verify anything.
#[derive(Clone, Debug)]
pub struct TlsError {
    message: String,
}

impl TlsError {
    fn new(message: impl Into<String>) -> TlsError {
        TlsError {
            message: message.into(),
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TlsError {}

/// The certificates a client presented in its TLS handshake, verified by the server against
/// the CAs of [`TlsConfig::client_ca`]: in the extensions of the [`Context`] of every call on
/// that connection (see [`of`](PeerCertificates::of)). Clones share them.
#[derive(Clone)]
pub struct PeerCertificates {
    chain: Arc<[CertificateDer<'static>]>,
}

impl PeerCertificates {
    /// The certificates of `chain` (its end-entity certificate first, as rustls gives them
    /// after verifying them), if there are any: for transports that put them in contexts.
    pub fn from_chain(chain: &[CertificateDer<'static>]) -> Option<PeerCertificates> {
        if chain.is_empty() {
            return None;
        }
        Some(PeerCertificates {
            chain: chain.iter().cloned().collect(),
        })
    }

    /// The verified certificates of the client making the call of `cx`, if it presented any.
    pub fn of(cx: &Context) -> Option<&PeerCertificates> {
        cx.extensions().get::<PeerCertificates>()
    }

    /// The client's own certificate (the end entity), DER-encoded.
    pub fn end_entity_der(&self) -> &[u8] {
        // Never empty: `from_chain` refuses an empty chain.
        self.chain.first().map_or(&[], |c| c.as_ref())
    }

    /// Every certificate the client sent, its own first, DER-encoded.
    pub fn chain_der(&self) -> impl Iterator<Item = &[u8]> {
        self.chain.iter().map(|c| c.as_ref())
    }

    /// The DNS names of the client's certificate (`dNSName` entries of its subject
    /// alternative names).
    pub fn dns_names(&self) -> Vec<&str> {
        self.end_entity()
            .map(|cert| cert.valid_dns_names().collect())
            .unwrap_or_default()
    }

    /// The URIs of the client's certificate (`uniformResourceIdentifier` entries of its
    /// subject alternative names; a SPIFFE ID, say).
    pub fn uri_names(&self) -> Vec<&str> {
        self.end_entity()
            .map(|cert| cert.valid_uri_names().collect())
            .unwrap_or_default()
    }

    /// The subject of the client's certificate: its DER-encoded `Name`, without the outer
    /// `SEQUENCE` tag and length.
    pub fn subject_der(&self) -> Vec<u8> {
        self.end_entity()
            .map(|cert| cert.subject().to_vec())
            .unwrap_or_default()
    }

    fn end_entity(&self) -> Option<webpki::EndEntityCert<'_>> {
        webpki::EndEntityCert::try_from(self.chain.first()?).ok()
    }
}

impl fmt::Debug for PeerCertificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerCertificates")
            .field("dns_names", &self.dns_names())
            .field("uri_names", &self.uri_names())
            .field("chain_len", &self.chain.len())
            .finish()
    }
}

/// rustls's `ring` provider, shared.
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    Arc::clone(PROVIDER.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())))
}

/// The certificates of a PEM, at least one.
fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::new(format!("reading the {what} PEM: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError::new(format!(
            "the {what} PEM holds no certificate (no BEGIN CERTIFICATE block)"
        )));
    }
    Ok(certs)
}

/// The private key of a PEM (PKCS#8, PKCS#1 or SEC1).
fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem)
        .map_err(|e| TlsError::new(format!("reading the private key PEM: {e}")))
}

/// The certificates of a PEM as trust anchors.
fn add_roots(roots: &mut RootCertStore, pem: &[u8], what: &str) -> Result<(), TlsError> {
    for cert in certificates(pem, what)? {
        roots
            .add(cert)
            .map_err(|e| TlsError::new(format!("a certificate of the {what} PEM: {e}")))?;
    }
    Ok(())
}
