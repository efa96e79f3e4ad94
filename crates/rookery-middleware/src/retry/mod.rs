//! Retries and backup requests, on the client.
//!
//! A failed call is sent again only when that is safe ([`RetryPolicy`]): when it never left
//! this process (the connection was refused, the instance was draining, the stream was
//! refused: [`Status::is_unsent`](rookery_core::Status::is_unsent)), or when its method is
//! marked idempotent and it failed with a code the policy names (`UNAVAILABLE` by default,
//! `DEADLINE_EXCEEDED` only if asked). A call that was sent and timed out or failed on a
//! method not marked idempotent is never sent again: the server may have acted on it.
//! Streaming calls, whose requests cannot be copied, go once.
//!
//! Each retry
//! - waits an exponential [`Backoff`] with jitter, or what the server asked for in its
//!   response metadata ([`PUSHBACK_KEY`], `grpc-retry-pushback-ms`: milliseconds to wait; a
//!   negative or malformed value stops retries);
//! - is not made if that wait would reach the call's deadline;
//! - draws on the [`RetryBudget`] shared by the whole client (by default 20% of its calls plus
//!   10 a second, over 10 seconds), so that when a service fails, its clients do not multiply
//!   its load: beyond the budget, the last failure is returned;
//! - goes to another instance: the layer keeps a [`Tried`](rookery_balance::Tried) list in
//!   the call's context, which [`BalancedClient`](rookery_balance::BalancedClient) reads to
//!   avoid the instances already tried while others exist;
//! - starts with the call's own deadline (a timeout layer placed inside this one gives each
//!   attempt its own timeout; placed outside, one timeout for the whole call).
//!
//! A [`Backup`] request is sent for an idempotent method when its attempt has not ended after
//! a delay (fixed, or the method's latency at a percentile, such as p99, which the layer
//! observes per method in a small histogram over a sliding window of 10 to 20 seconds). It
//! goes to another instance, with a copy of the context; the first success wins, and the
//! other attempt's future is dropped, which cancels it. The caller's context then holds the
//! winner's callee and response metadata. Backups draw on the budget and count as attempts.
//!
//! Policies are per method ([`MethodMap`](crate::MethodMap)), in code or from a
//! configuration file ([`RetryConfig`]).
//!
//! A client with retries is a stack: a timeout for the whole call outside, the retry layer,
//! a timeout per attempt inside, and the balanced client at the bottom.
//!
//! ```no_run
//! use std::time::Duration;
//! use rookery_balance::BalancedClient;
//! use rookery_core::Layer;
//! use rookery_middleware::{
//!     retry::{Backup, RetryLayer, RetryPolicy},
//!     timeout::TimeoutLayer,
//! };
//! use rookery_registry::embedded::Embedded;
//!
//! # async fn build(registry: &Embedded) -> Result<(), Box<dyn std::error::Error>> {
//! let balanced = BalancedClient::builder("bank").discover(registry).await?;
//! let retries = RetryLayer::new().method(
//!     "Bank.get",
//!     RetryPolicy::new().idempotent().backup(Backup::percentile(99.0)),
//! );
//! let client = TimeoutLayer::new(Duration::from_secs(1)).layer(
//!     retries.layer(TimeoutLayer::new(Duration::from_millis(250)).layer(balanced)),
//! );
//! // A generated Thrift client sends through it:
//! // `BankClient::with_service(client, Protocol::Binary)`.
//! # let _ = client;
//! # Ok(())
//! # }
//! ```
//!
//! The layer is generic over the request: the same value wraps a gRPC channel
//! (`BalancedGrpcClient`, unary calls retried, streaming calls sent once).
//!
//! Against a scripted inner service:
//!
//! ```
//! use rookery_core::{Context, Layer, Service, Status};
//! use rookery_middleware::{retry::{RetryLayer, RetryPolicy}, testing};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let (inner, handle) = testing::mock();
//! // The first attempt finds the instance gone; the second is answered.
//! handle.answer_with(|n, _, _| match n {
//!     1 => Err(Status::unavailable("connection refused").with_unsent()),
//!     _ => Ok(testing::thrift_response()),
//! });
//! let client = RetryLayer::new()
//!     .method("get", RetryPolicy::new().idempotent().max_attempts(3))
//!     .layer(inner);
//! client.call(&mut Context::new(), testing::thrift_request("get")).await.unwrap();
//! # }
//! ```

mod backoff;
mod budget;
mod hedge;
mod layer;
mod policy;
mod service;
#[cfg(test)]
mod tests;

pub use backoff::{Backoff, Jitter};
pub use budget::RetryBudget;
pub use hedge::Backup;
pub use layer::{
    BackupConfig, BudgetConfig, RetryConfig, RetryConfigError, RetryLayer, RetryPolicyConfig,
};
pub use policy::{PUSHBACK_KEY, RetryPolicy};
pub use service::Retry;
