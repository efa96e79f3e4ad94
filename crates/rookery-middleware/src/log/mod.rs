//! Access logs: one structured [`tracing`] event per call, when it ends.
//!
//! Each event (target `rookery::access`) has the fields `side` (`client` or `server`),
//! `service`, `method`, `peer` (the caller's address on a server, the instance called on a
//! client), `caller` (the calling service, on a server, when it sent its name), `code` (the
//! status name: `OK`, `UNAVAILABLE`, ...), `duration_ms`, `request_size` and
//! `response_size` (bytes, when known: not for streams), `trace_id` (when the call belongs
//! to a trace, see [`trace`](crate::trace)) and `error` (the status message of a failure).
//!
//! Successful calls log at `INFO` (or `DEBUG`, for a busy service:
//! [`AccessLogLayer::ok_level`]), failures at `WARN`. A streamed response logs when its last
//! message has been read, or it failed, or it was dropped unfinished (`CANCELLED`), as does
//! a call abandoned by its caller. Filter them like any other events:
//! `RUST_LOG=rookery::access=warn` keeps the failures only.

mod layer;
mod service;
#[cfg(test)]
mod tests;

pub use layer::{AccessLogConfig, AccessLogLayer};
pub use service::AccessLog;
