//! The client's side: the CAs it trusts, the name it checks, its own certificate, the
//! handshake.

use std::{fmt, net::SocketAddr, sync::Arc};

use rookery_core::Status;
use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName},
};
use tokio::net::TcpStream;
use tokio_rustls::{TlsConnector, client::TlsStream};

use super::{ALPN_H2, TlsError, add_roots, certificates, private_key, provider};

/// A client's TLS: the CAs it trusts to have issued the server's certificate, the name that
/// certificate must hold, and the client's own certificate for servers that require one
/// (mutual TLS). Given to [`ClientBuilder::tls`](crate::ClientBuilder::tls).
///
/// ```
/// # fn run(ca_pem: &[u8]) -> Result<(), rookery_grpc::tls::TlsError> {
/// use rookery_grpc::tls::ClientTlsConfig;
///
/// let tls = ClientTlsConfig::new().ca_pem(ca_pem)?.server_name("api.example.com");
/// # let _ = tls;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ClientTlsConfig {
    roots: RootCertStore,
    server_name: Option<String>,
    identity: Option<Arc<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>>,
}

impl fmt::Debug for ClientTlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTlsConfig")
            .field("cas", &self.roots.len())
            .field("server_name", &self.server_name)
            .field("identity", &self.identity.is_some())
            .finish()
    }
}

impl Default for ClientTlsConfig {
    fn default() -> ClientTlsConfig {
        ClientTlsConfig::new()
    }
}

impl ClientTlsConfig {
    /// A configuration that trusts no CA yet (add some with [`ca_pem`](Self::ca_pem)), checks
    /// the server's certificate for the IP address connected to unless given a
    /// [`server_name`](Self::server_name), and has no client certificate.
    pub fn new() -> ClientTlsConfig {
        ClientTlsConfig {
            roots: RootCertStore::empty(),
            server_name: None,
            identity: None,
        }
    }

    /// Trusts the CA certificates in `pem` (one or more) to have issued server certificates.
    /// Called again, the CAs add up.
    pub fn ca_pem(mut self, pem: impl AsRef<[u8]>) -> Result<ClientTlsConfig, TlsError> {
        add_roots(&mut self.roots, pem.as_ref(), "CA")?;
        Ok(self)
    }

    /// The name the server's certificate must hold, and the one sent as SNI: a DNS name or
    /// an IP address. Unless set, the IP address connected to.
    pub fn server_name(mut self, name: impl Into<String>) -> ClientTlsConfig {
        self.server_name = Some(name.into());
        self
    }

    /// The certificate chain (PEM, the client's own first) and private key (PEM) the client
    /// presents to servers that require one. An error if either is missing or they do not
    /// belong together.
    pub fn identity_pem(
        mut self,
        cert_chain_pem: impl AsRef<[u8]>,
        key_pem: impl AsRef<[u8]>,
    ) -> Result<ClientTlsConfig, TlsError> {
        let chain = certificates(cert_chain_pem.as_ref(), "client certificate chain")?;
        let key = private_key(key_pem.as_ref())?;
        self.identity = Some(Arc::new((chain, key)));
        // Checked now, so that connecting never fails for it.
        self.client_config()?;
        Ok(self)
    }

    fn client_config(&self) -> Result<ClientConfig, TlsError> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::new(format!("TLS versions: {e}")))?
            .with_root_certificates(self.roots.clone());
        let mut config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some(identity) => {
                let (chain, key) = &**identity;
                builder
                    .with_client_auth_cert(chain.clone(), key.clone_key())
                    .map_err(|e| {
                        TlsError::new(format!("the client certificate chain and key: {e}"))
                    })?
            }
        };
        config.alpn_protocols = vec![ALPN_H2.to_vec()];
        Ok(config)
    }

    /// The name to verify the server at `peer` for.
    fn name_for(&self, peer: SocketAddr) -> Result<ServerName<'static>, TlsError> {
        match &self.server_name {
            None => Ok(ServerName::from(peer.ip())),
            Some(name) => ServerName::try_from(name.clone())
                .map_err(|e| TlsError::new(format!("server name {name:?}: {e}"))),
        }
    }

    /// The name set by [`server_name`](Self::server_name), if any.
    pub(crate) fn configured_server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }
}

/// The TLS handshake with the server at `peer` over `stream`, which must agree to HTTP/2.
pub(crate) async fn connect(
    config: &ClientTlsConfig,
    stream: TcpStream,
    peer: SocketAddr,
) -> Result<TlsStream<TcpStream>, Status> {
    let invalid = |e: TlsError| Status::invalid_argument(format!("TLS: {e}"));
    let connector = TlsConnector::from(Arc::new(config.client_config().map_err(invalid)?));
    let name = config.name_for(peer).map_err(invalid)?;
    let shown = name.to_str().into_owned();
    let stream = connector
        .connect(name, stream)
        .await
        .map_err(|e| handshake_failed(&e, peer, &shown))?;
    match stream.get_ref().1.alpn_protocol() {
        Some(ALPN_H2) => Ok(stream),
        Some(other) => Err(Status::unavailable(format!(
            "TLS with {peer}: the server chose {:?} by ALPN, not HTTP/2 (h2)",
            String::from_utf8_lossy(other)
        ))),
        None => Err(Status::unavailable(format!(
            "TLS with {peer}: the server did not agree to HTTP/2 by ALPN (h2); it may not speak \
             gRPC over TLS"
        ))),
    }
}

/// The status of a failed handshake, saying plainly when the server's certificate was not
/// trusted.
fn handshake_failed(e: &std::io::Error, peer: SocketAddr, name: &str) -> Status {
    let tls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls {
        Some(rustls::Error::InvalidCertificate(why)) => Status::unavailable(format!(
            "TLS handshake with {peer}: certificate verification failed for {name:?}: {why:?}"
        )),
        Some(other) => Status::unavailable(format!("TLS handshake with {peer}: {other}")),
        None => Status::unavailable(format!("TLS handshake with {peer}: {e}")),
    }
}
