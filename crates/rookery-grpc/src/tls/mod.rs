//! TLS (feature `tls`): gRPC over HTTP/2 over TLS, with rustls on its `ring` provider, HTTP/2
//! agreed by ALPN (`h2`), and client certificates (mutual TLS).
//!
//! A server gets a [`TlsConfig`] (its certificate chain and key, and the CAs of the clients it
//! requires, if any) through [`ServerBuilder::tls`](crate::ServerBuilder::tls); a client a
//! [`ClientTlsConfig`] (the CAs it trusts, the name it checks, its own certificate if the server
//! asks for one) through [`ClientBuilder::tls`](crate::ClientBuilder::tls).
//!
//! ```no_run
//! # async fn run<S: rookery_grpc::GrpcService>(
//! #     descriptor: &'static rookery_codec::protobuf::rpc::ServiceDescriptor,
//! #     service: S,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! use rookery_grpc::{GrpcClient, Server, tls::{ClientTlsConfig, TlsConfig}};
//!
//! let tls = TlsConfig::from_pem(std::fs::read("server.pem")?, std::fs::read("server.key")?)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:50051").await?;
//! let server = Server::builder().tls(tls).add_service(descriptor, service).build();
//! tokio::spawn(server.serve(listener));
//!
//! let tls = ClientTlsConfig::new()
//!     .ca_pem(std::fs::read("ca.pem")?)?
//!     .server_name("localhost");
//! let channel = GrpcClient::builder().tls(tls).connect("127.0.0.1:50051").await?;
//! # let _ = channel;
//! # Ok(())
//! # }
//! ```
//!
//! The TLS handshake counts against the server's handshake timeout, with the HTTP/2 preface
//! after it. A client insists on `h2`: a server that does not agree to it by ALPN is refused.
//! With client certificates required, the handlers find the client's verified certificate in
//! each call's context ([`PeerCertificates::of`]).
//!
//! The configuration types are rookery-transport's (its `tls` feature), so one [`TlsConfig`]
//! and one [`ClientTlsConfig`] serve gRPC and the native protocol alike.

use std::{io, net::SocketAddr, sync::Arc};

use rookery_core::Status;
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

pub use rookery_transport::tls::{ClientTlsConfig, PeerCertificates, TlsConfig, TlsError};

pub(crate) use rookery_transport::tls::{ALPN_H2, ALPN_HTTP1};

/// The TLS side of a server's accept loop.
#[derive(Clone)]
pub(crate) struct Acceptor(TlsAcceptor);

/// The acceptor of a server with `config`, offering `alpn` (most preferred first).
pub(crate) fn acceptor(config: &TlsConfig, alpn: &[&[u8]]) -> Acceptor {
    Acceptor(TlsAcceptor::from(config.rustls_config(alpn)))
}

/// The TLS handshake with a client that connected: the stream, and what the connection's
/// requests carry in their extensions (the client's certificates, if it presented any).
/// Time-limited by the caller.
pub(crate) async fn accept(
    acceptor: &Acceptor,
    stream: TcpStream,
) -> io::Result<(tokio_rustls::server::TlsStream<TcpStream>, http::Extensions)> {
    let stream = acceptor.0.accept(stream).await?;
    let mut extensions = http::Extensions::new();
    if let Some(certificates) = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(PeerCertificates::from_chain)
    {
        extensions.insert(certificates);
    }
    Ok((stream, extensions))
}

/// The TLS handshake with the server at `peer` over `stream`, which must agree to HTTP/2.
pub(crate) async fn connect(
    config: &ClientTlsConfig,
    stream: TcpStream,
    peer: SocketAddr,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Status> {
    let invalid = |e: TlsError| Status::invalid_argument(format!("TLS: {e}"));
    let client_config = config.rustls_config(&[ALPN_H2]).map_err(invalid)?;
    let connector = TlsConnector::from(Arc::new(client_config));
    let name = config.server_name_for(Some(peer.ip())).map_err(invalid)?;
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
