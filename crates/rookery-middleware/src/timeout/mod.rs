//! Timeouts and deadline propagation.
//!
//! A call's deadline lives in its [`Context`](rookery_core::Context). On a client,
//! [`TimeoutLayer`] shortens it to the method's timeout (never extending one inherited from
//! the call being handled, see [`Context::child`](rookery_core::Context::child)); the
//! transports then carry what is left on the wire (TTHeader's `RPC_TIMEOUT`, gRPC's
//! `grpc-timeout`), and the server's transport makes it the deadline of the handler's context.
//! On either side the layer abandons the inner call when the deadline passes, dropping its
//! future, which cancels the handler (or the request in flight), and answers
//! `DEADLINE_EXCEEDED`. A call whose deadline has already passed is not started at all, and
//! says so (`is_unsent`): no work is done for an answer nobody waits for.
//!
//! A downstream call made while handling a call inherits what is left: a handler makes its
//! calls with `cx.child()`, so along A → B → C the deadline only shrinks.

mod layer;
mod service;
#[cfg(test)]
mod tests;

pub use layer::{TimeoutConfig, TimeoutLayer};
pub use service::Timeout;
