//! The server's side: its certificate and key, the client CAs it requires, the handshake.

use std::{fmt, io, sync::Arc};

use rustls::{
    RootCertStore, ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer},
    server::WebPkiClientVerifier,
};
use tokio_rustls::TlsAcceptor;

use crate::Stream;

use super::{PeerCertificates, TlsError, add_roots, certificates, private_key, provider};

/// A server's TLS: the certificate chain it presents and its private key, and the CAs whose
/// client certificates it requires ([`client_ca`](TlsConfig::client_ca)), if any. Given to
/// [`ServerBuilder::tls`](crate::ServerBuilder::tls) (and to rookery-grpc's, which shares it).
///
/// TLS 1.2 and 1.3, rustls's safe defaults. A native server offers `http/1.1` by ALPN, and `h2`
/// too when it hands HTTP/2 to a handler (gRPC on the same port); native clients offer none. A
/// gRPC server offers `h2` (and `http/1.1` when it serves gRPC-Web).
#[derive(Clone)]
pub struct TlsConfig {
    cert_chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
    client_roots: Option<Arc<RootCertStore>>,
    /// Built and checked whenever the above change, so that a server never fails to start.
    config: Arc<ServerConfig>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("cert_chain_len", &self.cert_chain.len())
            .field(
                "client_cas",
                &self.client_roots.as_ref().map(|roots| roots.len()),
            )
            .finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// The server's certificate chain (PEM, its own certificate first, then any
    /// intermediates) and its private key (PEM: PKCS#8, PKCS#1 or SEC1). An error if either
    /// is missing or they do not belong together.
    pub fn from_pem(
        cert_chain_pem: impl AsRef<[u8]>,
        key_pem: impl AsRef<[u8]>,
    ) -> Result<TlsConfig, TlsError> {
        let cert_chain = certificates(cert_chain_pem.as_ref(), "certificate chain")?;
        let key = Arc::new(private_key(key_pem.as_ref())?);
        let config = Arc::new(server_config(&cert_chain, &key, None)?);
        Ok(TlsConfig {
            cert_chain,
            key,
            client_roots: None,
            config,
        })
    }

    /// Requires every client to present a certificate issued by one of the CAs in `ca_pem`
    /// (mutual TLS): a client without one, or with another, fails its handshake. Called
    /// again, the CAs add up. The client's verified certificate is in each call's context
    /// ([`PeerCertificates::of`]).
    pub fn client_ca(mut self, ca_pem: impl AsRef<[u8]>) -> Result<TlsConfig, TlsError> {
        let mut roots = self
            .client_roots
            .as_deref()
            .cloned()
            .unwrap_or_else(RootCertStore::empty);
        add_roots(&mut roots, ca_pem.as_ref(), "client CA")?;
        let roots = Arc::new(roots);
        self.config = Arc::new(server_config(
            &self.cert_chain,
            &self.key,
            Some(Arc::clone(&roots)),
        )?);
        self.client_roots = Some(roots);
        Ok(self)
    }

    /// The rustls configuration of a server, offering `alpn` (most preferred first): for
    /// transports built on this crate's TLS (rookery-grpc's server uses it).
    pub fn rustls_config(&self, alpn: &[&[u8]]) -> Arc<ServerConfig> {
        let mut config = ServerConfig::clone(&self.config);
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }

    /// Whether clients must present a certificate.
    pub fn requires_client_certificates(&self) -> bool {
        self.client_roots.is_some()
    }
}

fn server_config(
    cert_chain: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
    client_roots: Option<Arc<RootCertStore>>,
) -> Result<ServerConfig, TlsError> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::new(format!("TLS versions: {e}")))?;
    let builder = match client_roots {
        None => builder.with_no_client_auth(),
        Some(roots) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider())
                .build()
                .map_err(|e| TlsError::new(format!("client CAs: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    builder
        .with_single_cert(cert_chain.to_vec(), key.clone_key())
        .map_err(|e| TlsError::new(format!("the certificate chain and key: {e}")))
}

/// The TLS side of a native server's accept loop.
#[derive(Clone)]
pub(crate) struct Acceptor(TlsAcceptor);

impl fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Acceptor")
    }
}

impl Acceptor {
    pub(crate) fn new(config: &TlsConfig, alpn: &[&[u8]]) -> Acceptor {
        Acceptor(TlsAcceptor::from(config.rustls_config(alpn)))
    }

    /// The TLS handshake with a client that connected: the stream, and what the calls of the
    /// connection carry in their extensions (the client's certificates, if it presented
    /// any). Time-limited by the caller.
    pub(crate) async fn accept(&self, stream: Stream) -> io::Result<(Stream, http::Extensions)> {
        let stream = self.0.accept(stream).await?;
        let mut extensions = http::Extensions::new();
        if let Some(certificates) = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(PeerCertificates::from_chain)
        {
            extensions.insert(certificates);
        }
        Ok((
            Stream::Tls(Box::new(tokio_rustls::TlsStream::Server(stream))),
            extensions,
        ))
    }
}
