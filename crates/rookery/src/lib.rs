//! rookery: a microservice framework for Rust.
//!
//! A service is a [`core::Service`] — an async function from a request and a [`Context`] to a
//! response or a [`Status`] — served by a [`Service`] (this crate's lifecycle: listen, serve,
//! drain on `SIGTERM`), and called through a [`Client`]. Middleware is a [`Layer`], the same on
//! both sides.
//!
//! The parts are separate crates, re-exported here:
//! - [`core`]: `Service`, `Layer`, `Context`, `Status`;
//! - [`codec`]: Thrift binary and compact, Protobuf (feature `protobuf`), JSON (feature `json`);
//! - [`transport`]: TTHeader and Thrift framed/buffered over TCP and Unix sockets, multiplexed
//!   and pooled clients, a server that detects what each connection speaks;
//! - [`registry`]: service registry and discovery (embedded, static, etcd);
//! - [`balance`]: load balancing over the instances a registry knows;
//! - [`broker`]: pub/sub with queue groups, acknowledgements and redelivery (embedded, NATS);
//!   [`ServiceBuilder::subscribe`] runs handlers inside the service's layers ([`pubsub`]);
//! - `grpc` (feature `grpc`): gRPC over HTTP/2, served on the same port as Thrift, and
//!   called by name through `BalancedGrpcClient` (`grpc_connect`).
//!
//! ```no_run
//! use rookery::{Router, Service};
//!
//! # async fn run(router: Router) -> Result<(), rookery::Error> {
//! Service::builder("echo")
//!     .version("1.0.0")
//!     .addr("127.0.0.1:9090")
//!     .router(router)
//!     .build()?
//!     .run() // serve until SIGTERM or SIGINT, then drain and stop
//!     .await
//! # }
//! ```

// The `#[service]` macro names `::rookery`; this lets the crate use it itself.
extern crate self as rookery;

#[cfg(feature = "protobuf")]
mod codegen_protobuf;
mod error;
#[cfg(feature = "grpc")]
mod grpc_client;
#[cfg(feature = "grpc")]
mod grpc_health;
#[cfg(feature = "grpc")]
mod grpc_server;
#[cfg(feature = "protobuf")]
mod kitex_protobuf;
mod layers;
mod lifecycle;
pub mod pubsub;
pub mod rpc;

pub use rookery_balance as balance;
/// Pub/sub: the [`Broker`](rookery_broker::Broker) trait, its backends, and the runner that
/// [`ServiceBuilder::subscribe`] uses.
pub use rookery_broker as broker;
pub use rookery_codec as codec;
pub use rookery_core as core;
/// gRPC over HTTP/2 (feature `grpc`); [`ServiceBuilder::grpc`] serves it on a service's port.
#[cfg(feature = "grpc")]
pub use rookery_grpc as grpc;
/// Governance layers: timeouts, retries, circuit breakers, limits, metrics, tracing, auth.
pub use rookery_middleware as middleware;
pub use rookery_registry as registry;
pub use rookery_transport as transport;

pub use error::Error;
#[cfg(feature = "grpc")]
pub use grpc_client::{BalancedGrpcClient, BalancedGrpcClientBuilder, grpc_connect};
#[cfg(feature = "protobuf")]
pub use kitex_protobuf::ProtobufClient;
#[cfg(feature = "grpc")]
pub use layers::GrpcServiceBox;
pub use layers::{ServerLayer, ThriftService};
pub use lifecycle::{Hook, RunningService, Service, ServiceBuilder, ServiceInfo};
pub use rookery_balance::{Balance, BalancedClient};
pub use rookery_codec::thrift::Protocol;
pub use rookery_core::{Code, Context, Layer, Metadata, Status};
pub use rookery_transport::{Address, Client, ClientBuilder, Framing, NamedService, Router};

/// Makes a Rust trait a service: server and client generated from the trait, arguments and
/// results in serde, no IDL. See [`rpc`] for how methods are written and what travels.
pub use rookery_macros::service;

/// A client of `service`, found in the registry `ROOKERY_REGISTRY` names (the embedded
/// registry of this process when it is not set) and balanced over its instances with P2C
/// and peak EWMA. For other balancers, filters or registries, use
/// [`BalancedClient::builder`].
pub async fn connect(service: &str) -> Result<BalancedClient, Error> {
    let registry = rookery_registry::from_env()
        .await
        .map_err(|e| Error::with_source("choosing the registry", e))?;
    BalancedClient::builder(service.to_string())
        .discover(&*registry)
        .await
        .map_err(|e| Error::with_source(format!("discovering {service}"), e))
}

#[doc(hidden)]
pub mod codegen;
