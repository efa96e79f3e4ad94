//! Governance for rookery: the layers that go-kit, Kitex and go-micro give as middleware, each
//! a [`Layer`](rookery_core::Layer) that works on client and server stacks alike, on the native
//! transport (Thrift, Kitex Protobuf) and on gRPC, unary and streaming.
//!
//! Every layer is generic over the request type: it needs only what [`Request`] and
//! [`Response`] say about a call (the method's name, whether the request can be sent again,
//! when a streamed response ends), so one layer value wraps a Thrift router, a gRPC server and
//! a client connection.
//!
//! Each layer has a folder with the same files: `mod.rs` (what it does and why), `layer.rs`
//! (the [`Layer`](rookery_core::Layer), its builder and its serde configuration),
//! `service.rs` (the wrapped [`Service`](rookery_core::Service)) and `tests.rs` (the layer
//! against a scripted inner service, [`testing::mock`]).
//!
//! ```
//! use std::time::Duration;
//! use rookery_core::{service_fn, Context, Layer, Service, Status};
//! use rookery_middleware::{testing, timeout::TimeoutLayer};
//! use rookery_transport::ThriftRequest;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let slow = service_fn(|_cx: &mut Context, _req: ThriftRequest| async {
//!     tokio::time::sleep(Duration::from_secs(5)).await;
//!     Ok::<_, Status>(testing::thrift_response())
//! });
//! let service = TimeoutLayer::new(Duration::from_millis(20)).layer(slow);
//! let err = service.call(&mut Context::new(), testing::thrift_request("get")).await.unwrap_err();
//! assert!(err.is_timeout());
//! # }
//! ```

pub mod auth;
pub mod breaker;
mod call;
#[cfg(test)]
mod capture;
pub mod codes;
pub mod config;
pub mod duration;
mod keyed;
mod level;
pub mod limit;
pub mod log;
pub mod metrics;
pub mod recover;
pub mod retry;
mod side;
pub mod stack;
pub mod testing;
pub mod timeout;
pub mod trace;

pub use call::{MethodMap, OnEnd, Request, Response};
pub use side::Side;
