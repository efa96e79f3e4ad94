//! Framing and connections for rookery's native protocol: Thrift messages over TTHeader
//! (compatible with Kitex and Volo), or over plain Thrift framed and buffered transports
//! (compatible with Apache Thrift), on TCP and Unix sockets.
//!
//! - [`Server`] accepts connections, detects on each which framing and protocol it speaks
//!   (all on one port), routes calls by service and method through a [`Router`], enforces frame
//!   and connection limits, and drains in-flight calls on shutdown.
//! - [`Client`] calls one address, either **multiplexed** (many calls in flight on one
//!   connection, replies matched by sequence id in any order, frames of concurrent calls written
//!   together) or **pooled** (one call per connection at a time, from a bounded pool), with
//!   connect and call timeouts and reconnection with exponential backoff and jitter.
//!
//! Both sides are [`rookery_core::Service`]s over [`ThriftRequest`] and [`ThriftResponse`]:
//! a request's arguments and a response's result travel as encoded structs, so layers can
//! retry or inspect calls without knowing their types, and typed code encodes and decodes at
//! the edges.

mod addr;
pub mod client;
mod frame;
pub mod health;
mod kitex_protobuf;
mod message;
pub mod metainfo;
mod queue;
pub mod server;
#[cfg(feature = "tls")]
pub mod tls;
pub mod ttheader;

pub use addr::{Address, Listener, Stream};
pub use client::{Client, ClientBuilder};
pub use frame::{FrameError, Framing};
pub use health::{Health, HealthState};
pub use kitex_protobuf::{KitexProtobufRequest, KitexProtobufResponse};
pub use message::{ThriftRequest, ThriftResponse};
pub use server::{
    HttpBody, HttpHandler, NamedService, Router, Server, ServerBuilder, ServerHandle,
};

/// The default largest frame a peer may send: 16 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 16 * 1024 * 1024;
