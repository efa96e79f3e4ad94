//! gRPC over HTTP/2 for rookery, on hyper and h2: a [`Server`] that serves services generated
//! from `.proto` files by `rookery-build`, and a [`GrpcClient`] that generated clients call
//! through, with unary calls and the three kinds of streaming.
//!
//! ```no_run
//! use rookery_grpc::{GrpcClient, Server};
//! # use rookery_codec::protobuf::rpc::ServiceDescriptor;
//! # async fn run<S: rookery_grpc::GrpcService>(descriptor: &'static ServiceDescriptor, service: S)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! // Server: each generated server (`GreeterServer::new(handler)`) is registered under its
//! // descriptor (`GreeterServer::<Handler>::SERVICE`).
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let server = Server::builder().add_service(descriptor, service).build();
//! tokio::spawn(server.serve(listener));
//!
//! // Client: one HTTP/2 connection; a generated client runs over it as it is
//! // (`GreeterClient::new(channel)`).
//! let channel = GrpcClient::connect(addr).await?;
//! # let _ = channel;
//! # Ok(())
//! # }
//! ```
//!
//! What travels, as the gRPC over HTTP/2 protocol says: length-prefixed messages under
//! `content-type: application/grpc`; the status in the trailers (`grpc-status`, a
//! percent-encoded `grpc-message`, `grpc-status-details-bin`), or in the headers alone when a
//! call fails before its first message (trailers-only); metadata as headers, binary values
//! base64-encoded under keys ending in `-bin`, held in the call's
//! [`Context`](rookery_core::Context) (response headers in its response metadata or a
//! [`ResponseHeaders`] in its extensions, trailers in a [`Trailers`] there); the deadline as `grpc-timeout`, enforced on both sides.
//! Messages larger than the receive limit (4 MiB unless set) fail their call with
//! `RESOURCE_EXHAUSTED`, and the connection carries on. Messages compressed with gzip or zstd
//! ([`Compression`], features `gzip` and `zstd`, on by default) are received both ways, their
//! decompressed size bounded by the receive limit; each side sends compressed when told to.
//!
//! The server drops a client that sends no HTTP/2 preface within its handshake timeout (10 s),
//! ends with a GOAWAY a connection that floods it with reset streams, refuses header lists over
//! 16 KiB, and both sides can send keepalive pings.
//!
//! Browsers call the same services with gRPC-Web (binary and base64 text, over HTTP/1.1 or
//! HTTP/2, with CORS) on the same port when the server is built with
//! [`ServerBuilder::grpc_web`]; see [`web`].
//!
//! With the feature `tls`, both sides speak TLS (rustls, ALPN `h2`), and a server may require
//! client certificates; see the `tls` module.

mod body;
mod client;
mod compression;
mod error;
mod frame;
#[doc(hidden)]
pub mod fuzzing;
mod metadata;
mod preface;
mod server;
pub mod web;

#[cfg(feature = "health")]
pub mod health;
#[cfg(feature = "interop")]
pub mod interop;
#[cfg(feature = "reflection")]
pub mod reflection;
#[cfg(feature = "tls")]
pub mod tls;

pub use body::GrpcBody;
pub use client::{ClientBuilder, GrpcClient};
pub use compression::Compression;
pub use metadata::{
    RETRY_PUSHBACK, ResponseHeaders, Trailers, format_timeout, parse_timeout, percent_decode,
    percent_encode,
};
pub use server::{
    DEFAULT_MAX_CONCURRENT_STREAMS, DEFAULT_MAX_RECEIVE_MESSAGE_SIZE, GrpcService, Router, Server,
    ServerBuilder,
};
