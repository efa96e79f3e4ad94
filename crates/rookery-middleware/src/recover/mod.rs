//! Panic recovery: a handler that panics answers `INTERNAL`, and the service keeps serving.
//!
//! [`RecoverLayer`] catches a panic of the wrapped service, whether it happens when the call
//! starts or while its future runs, and answers the call `INTERNAL` with a message that
//! names the method and says nothing more: the panic's text (which may hold anything: a
//! path, a value, a secret) is logged at error level, not sent. Other calls, running or
//! to come, go on as if nothing happened.
//!
//! The native transport already turns a handler's panic into `INTERNAL` (sending the panic's
//! text along); the gRPC server catches nothing, so there a panic unwinds out of the
//! handler's HTTP/2 stream task, which the runtime ends: the stream is reset rather than
//! answered. Put this layer innermost on a server (next to the handlers) so that every
//! other layer sees an ordinary `INTERNAL` and counts it.
//!
//! Like the transport's guard, it catches with `AssertUnwindSafe`: what a handler shares
//! across calls must stay valid when one of them stops half-way (a `Mutex` it held is
//! poisoned, which the next call sees). A panic while a streamed response is read, after
//! the handler returned it, is not caught here.

mod layer;
mod service;
#[cfg(test)]
mod tests;

pub use layer::RecoverLayer;
pub use service::Recover;
