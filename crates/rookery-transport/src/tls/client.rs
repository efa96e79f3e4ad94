//! The client's side: the CAs it trusts, the name it checks, its own certificate, the
//! handshake.

use std::{fmt, net::IpAddr, sync::Arc};

use rookery_core::Status;
use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName},
};
use tokio_rustls::TlsConnector;

use super::{TlsError, add_roots, certificates, private_key, provider};
use crate::{Address, Stream};

/// A client's TLS: the CAs it trusts to have issued the server's certificate, the name that
/// certificate must hold, and the client's own certificate for servers that require one
/// (mutual TLS). Given to [`ClientBuilder::tls`](crate::ClientBuilder::tls) (and to
/// rookery-grpc's, which shares it).
///
/// ```
/// # fn run(ca_pem: &[u8]) -> Result<(), rookery_transport::tls::TlsError> {
/// use rookery_transport::tls::ClientTlsConfig;
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
        self.rustls_config(&[])?;
        Ok(self)
    }

    /// The rustls configuration of a client, offering `alpn` (none for the native protocol):
    /// for transports built on this crate's TLS (rookery-grpc's client uses it, with `h2`).
    pub fn rustls_config(&self, alpn: &[&[u8]]) -> Result<ClientConfig, TlsError> {
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
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }

    /// The name the server's certificate must hold when connected to at `ip`: the one set by
    /// [`server_name`](Self::server_name), or else `ip`.
    pub fn server_name_for(&self, ip: Option<IpAddr>) -> Result<ServerName<'static>, TlsError> {
        match (&self.server_name, ip) {
            (Some(name), _) => ServerName::try_from(name.clone())
                .map_err(|e| TlsError::new(format!("server name {name:?}: {e}"))),
            (None, Some(ip)) => Ok(ServerName::from(ip)),
            (None, None) => Err(TlsError::new(
                "TLS over a Unix socket needs the server's name (server_name)",
            )),
        }
    }

    /// The name set by [`server_name`](Self::server_name), if any.
    pub fn configured_server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }
}

/// A native client's side of TLS: a connector and the configuration it came from.
#[derive(Clone)]
pub(crate) struct Connector {
    config: ClientTlsConfig,
    connector: TlsConnector,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
    }
}

impl Connector {
    pub(crate) fn new(config: ClientTlsConfig) -> Result<Connector, TlsError> {
        let connector = TlsConnector::from(Arc::new(config.rustls_config(&[])?));
        Ok(Connector { config, connector })
    }

    /// The TLS handshake with the server at `addr` over `stream`. Time-limited by the caller.
    pub(crate) async fn connect(&self, stream: Stream, addr: &Address) -> Result<Stream, Status> {
        let ip = match addr {
            Address::Tcp(addr) => Some(addr.ip()),
            Address::Unix(_) => None,
        };
        let name = self
            .config
            .server_name_for(ip)
            .map_err(|e| Status::invalid_argument(format!("TLS with {addr}: {e}")))?;
        let shown = name.to_str().into_owned();
        let stream = self
            .connector
            .connect(name, stream)
            .await
            .map_err(|e| handshake_failed(&e, addr, &shown))?;
        Ok(Stream::Tls(Box::new(tokio_rustls::TlsStream::Client(
            stream,
        ))))
    }
}

/// The status of a failed handshake, saying plainly when the server's certificate was not
/// trusted.
fn handshake_failed(e: &std::io::Error, addr: &Address, name: &str) -> Status {
    let tls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls {
        Some(rustls::Error::InvalidCertificate(why)) => Status::unavailable(format!(
            "TLS handshake with {addr}: certificate verification failed for {name:?}: {why:?}"
        )),
        Some(other) => Status::unavailable(format!("TLS handshake with {addr}: {other}")),
        None => Status::unavailable(format!("TLS handshake with {addr}: {e}")),
    }
}
