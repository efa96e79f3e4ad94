//! Concurrency limits: at most so many calls running at once, per service and per method.
//!
//! [`ConcurrencyLimitLayer`] gives a service (all its methods together) a number of slots,
//! each method its own, or both: a call must then hold a slot of each. It holds them until it
//! has ended: a unary call until its answer, a streamed response until its stream has ended
//! ([`Response::on_end`](crate::Response::on_end)).
//!
//! What a call finds when the slots are taken is the layer's [`WhenFull`]:
//!
//! - on a server, [`shed`](ConcurrencyLimitLayer::shed) it: answer `UNAVAILABLE` at once,
//!   with a retry pushback ([`RETRY_PUSHBACK`](crate::limit::RETRY_PUSHBACK)) telling the
//!   caller when to try again;
//! - on a client, [`wait`](ConcurrencyLimitLayer::wait) for a slot until the call's
//!   deadline (`DEADLINE_EXCEEDED` then), or [`fail_fast`](ConcurrencyLimitLayer::fail_fast)
//!   with `RESOURCE_EXHAUSTED`.
//!
//! A refused call never ran, and says so (`is_unsent`).

mod layer;
mod service;
#[cfg(test)]
mod tests;

pub use layer::{ConcurrencyLimitConfig, ConcurrencyLimitLayer, WhenFull};
pub use service::ConcurrencyLimit;
