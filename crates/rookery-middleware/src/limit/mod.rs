//! Limits and load shedding: what a server refuses when it has too much to do, and what a
//! client holds back.
//!
//! - [`rate`]: a token bucket per service and per method; a call over the rate is answered
//!   `RESOURCE_EXHAUSTED` at once.
//! - [`concurrency`]: a bound on the calls running at once, per service and per method. On a
//!   server, a call over it is shed: answered `UNAVAILABLE` at once (the server is
//!   overloaded, another instance may not be). On a client, it waits for a slot until its
//!   deadline, or fails at once if so configured; either way it is marked unsent.
//!
//! A refused call carries a **retry pushback**: the response metadata key
//! [`RETRY_PUSHBACK`] (`grpc-retry-pushback-ms`, gRPC's name for it) says in milliseconds
//! when trying again makes sense: when the next token comes, or a configured pause after an
//! overload. Both transports send response metadata with errors (TTHeader string info,
//! gRPC trailers), and a client's retry layer reads it back with [`retry_pushback`].
//!
//! The handler is never run for a refused call, so refusals are marked unsent: on a client
//! the call never left, and on a server its handler did nothing.
//!
//! The server's connection limit is the transport's (`ServerBuilder::max_connections`): it
//! bounds native and HTTP/2 (gRPC) connections on the port together, as both are accepted
//! by the same loop.

pub mod concurrency;
pub mod rate;

use std::time::Duration;

use rookery_core::Context;

/// The response metadata key of the retry pushback, in milliseconds: gRPC's name, the one
/// the [retry layer](crate::retry) honours.
pub const RETRY_PUSHBACK: &str = crate::retry::PUSHBACK_KEY;

/// What a refused call's pushback says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushback {
    /// Try again after this long, not sooner.
    After(Duration),
    /// Do not try again (a negative or unreadable value, as gRPC says).
    Never,
}

/// The pushback the callee sent with its answer, if it sent one.
pub fn retry_pushback(cx: &Context) -> Option<Pushback> {
    let value = cx.response_metadata().get(RETRY_PUSHBACK)?;
    Some(match value.trim().parse::<u64>() {
        Ok(ms) => Pushback::After(Duration::from_millis(ms)),
        Err(_) => Pushback::Never,
    })
}

/// Tells the caller to try again after `after`.
pub(crate) fn push_back(cx: &mut Context, after: Duration) {
    // Rounded up: sooner than this would be refused again.
    let ms = after.as_nanos().div_ceil(1_000_000);
    cx.response_metadata_mut()
        .insert(RETRY_PUSHBACK, ms.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pushback_reads_back_as_written() {
        let mut cx = Context::new();
        assert_eq!(retry_pushback(&cx), None);
        push_back(&mut cx, Duration::from_micros(1500));
        assert_eq!(cx.response_metadata().get(RETRY_PUSHBACK), Some("2"));
        assert_eq!(
            retry_pushback(&cx),
            Some(Pushback::After(Duration::from_millis(2)))
        );
        cx.response_metadata_mut().insert(RETRY_PUSHBACK, "-1");
        assert_eq!(retry_pushback(&cx), Some(Pushback::Never));
    }
}
