//! Circuit breakers: stop calling what is failing, and find out when it works again.
//!
//! [`CircuitBreakerLayer`] keeps one breaker per target: the callee's service (from the
//! context) and the method (from the request), and, when the callee's address is already in
//! the context as the call enters (the layer wraps the connection to one instance), the
//! instance too. A breaker is:
//!
//! - **closed**: calls pass; their outcomes are counted over a sliding window of time
//!   buckets. Once the window holds at least [`min_calls`](BreakerPolicy::min_calls) calls
//!   and the share that failed reaches [`failure_rate`](BreakerPolicy::failure_rate), it
//!   opens. Which codes are failures is the policy's
//!   ([`failure_codes`](BreakerPolicy::failure_codes)): by default the callee's troubles
//!   (`UNAVAILABLE`, `DEADLINE_EXCEEDED`, `INTERNAL`, `UNKNOWN`, `RESOURCE_EXHAUSTED`), not
//!   the caller's mistakes (`INVALID_ARGUMENT`, `NOT_FOUND`), which count as answers. A call
//!   that failed before leaving for a reason of its own (a deadline already passed, a local
//!   limit) counts as nothing, nor does one the caller cancelled.
//! - **open**: calls are refused at once with `UNAVAILABLE`, marked unsent: nothing is sent,
//!   so a retry layer knows trying elsewhere is safe. After
//!   [`open_for`](BreakerPolicy::open_for) it becomes
//! - **half-open**: up to [`probes`](BreakerPolicy::probes) calls are let through; when they
//!   have all succeeded the breaker closes, when one fails it opens again, for twice as long
//!   (up to [`max_open_for`](BreakerPolicy::max_open_for)).
//!
//! A streamed response counts when its stream ends, by how it ended
//! ([`Response::on_end`](crate::Response::on_end)). Time is Tokio's, so tests run the
//! breaker's clock with `tokio::time::pause`.

mod layer;
mod service;
mod state;
#[cfg(test)]
mod tests;
mod window;

pub use layer::{BreakerPolicy, CircuitBreakerConfig, CircuitBreakerLayer};
pub use service::CircuitBreaker;
pub use state::BreakerState;
