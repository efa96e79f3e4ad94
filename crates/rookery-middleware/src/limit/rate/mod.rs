//! Rate limits: a token bucket per service and per method.
//!
//! [`RateLimitLayer`] gives a service (all its methods together) a [`Rate`], each method
//! its own, or both: a call must then find a token in both buckets. A bucket fills at the
//! rate, up to its burst, and each call takes a token; a call that finds none is answered
//! `RESOURCE_EXHAUSTED` at once, without running, and the response metadata
//! [`RETRY_PUSHBACK`](crate::limit::RETRY_PUSHBACK) says in how many milliseconds the next
//! token comes.
//!
//! The service is the callee's, from the context (a server's transport puts its name there,
//! gRPC its Protobuf service); the method is the request's. Time is Tokio's, so tests run
//! the buckets with `tokio::time::pause`.

mod bucket;
mod layer;
mod service;
#[cfg(test)]
mod tests;

pub use layer::{Rate, RateLimitConfig, RateLimitLayer};
pub use service::RateLimit;
