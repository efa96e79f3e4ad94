//! Load balancing for rookery: choose, for each call, one instance of a service among those a
//! registry knows, and skip the ones that cannot be reached.
//!
//! - [`Endpoint`]: an instance and the live statistics of the calls sent to it (in flight,
//!   a peak-EWMA latency estimate, connection health), updated without locks.
//! - [`Balance`]: the algorithm, which builds a [`Picker`] for each version of the
//!   [`EndpointSet`]: [`random`](Balance::random), [`round_robin`](Balance::round_robin),
//!   [`weighted`](Balance::weighted), [`least_request`](Balance::least_request),
//!   [`p2c_ewma`](Balance::p2c_ewma) (the default) and
//!   [`consistent_hash`](Balance::consistent_hash) with bounded load on a [`BalanceKey`].
//! - [`Filter`]s (a [`Query`](rookery_registry::Query) is one) and a preferred region.
//! - [`OutlierEjection`]: endpoints whose answers keep failing are left out for a while, a
//!   bounded share of the set at most, and probed before they come back.
//! - [`BalancedClient`]: the [`Service`](rookery_core::Service) that puts it together over a
//!   registry [`Watch`](rookery_registry::Watch), with one transport client per instance.
//! - [`Tried`]: the instances a call's earlier attempts went to, which a retry layer keeps in
//!   the call's context so that its next attempt goes elsewhere.
//!
//! ```
//! use std::{sync::Arc, time::Duration};
//! use rookery_balance::{Balance, BalancedClient};
//! use rookery_codec::thrift::{ApplicationException, ApplicationExceptionKind, Protocol};
//! use rookery_core::{service_fn, Context, Service, Status};
//! use rookery_registry::{embedded::Embedded, protocol, Instance, Query, Registry};
//! use rookery_transport::{Router, Server, ThriftRequest, ThriftResponse};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A server of `echo`, registered in the in-process registry.
//! let echo = service_fn(|_cx: &mut Context, req: ThriftRequest| async move {
//!     // The arguments struct back as the result struct.
//!     let ThriftRequest { protocol, body, limits, .. } = req;
//!     Ok::<_, Status>(ThriftResponse { protocol, body, limits })
//! });
//! let server = Server::builder()
//!     .build(Router::new().add_service_named("Echo", &["echo"], echo))
//!     .bind(&"127.0.0.1:0".parse()?)
//!     .await?;
//! let registry = Arc::new(Embedded::new());
//! let instance = Instance::new("echo", "1.0.0".parse()?)
//!     .with_address(protocol::THRIFT, server.local_addr().to_string());
//! registry.register(&instance, Duration::from_secs(10)).await?;
//!
//! // A client that calls `echo` by name, on instances of version 1.
//! let client = BalancedClient::builder("echo")
//!     .balance(Balance::p2c_ewma())
//!     .filter(Query::all().version("^1")?)
//!     .discover(&*registry)
//!     .await?;
//! let mut cx = Context::new();
//! let args = ApplicationException::new(ApplicationExceptionKind::Unknown, "hi");
//! let reply = client.call(&mut cx, ThriftRequest::new("echo", Protocol::Binary, &args)).await?;
//! assert_eq!(reply.decode::<ApplicationException>()?.message, "hi");
//! // The context names the instance that answered.
//! let address = server.local_addr().to_string();
//! assert_eq!(cx.callee().address.as_deref(), Some(address.as_str()));
//! # server.stop().await;
//! # Ok(())
//! # }
//! ```

mod balance;
mod client;
mod clock;
mod endpoint;
mod ewma;
mod filter;
mod health;
mod key;
mod outlier;
mod rng;
mod select;
mod set;
mod tried;

pub use balance::{
    Balance, ConsistentHash, LeastRequest, P2cEwma, Picker, Random, Request, RoundRobin, Strategy,
    Weighted,
};
pub use client::{BalancedClient, BalancedClientBuilder};
pub use clock::Now;
pub use endpoint::{Endpoint, InFlight};
pub use ewma::{DECAY_NS, PeakEwma};
pub use filter::{Filter, FilterFn, filter_fn};
pub use health::Health;
pub use key::BalanceKey;
pub use outlier::OutlierEjection;
pub use rng::Rng;
pub use select::Selector;
pub use set::EndpointSet;
pub use tried::Tried;
