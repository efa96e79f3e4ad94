use std::{
    borrow::Cow,
    fmt,
    future::Future,
    sync::{Arc, Mutex},
};

use faststr::FastStr;
use rookery_core::{BoxFuture, Metadata};

use crate::Acker;

/// A message handed to a [`Handler`]: the decoded body, the headers, and what identifies the
/// delivery.
#[derive(Debug)]
pub struct Incoming<T> {
    /// The decoded payload.
    pub body: T,
    /// The message's headers (trace context and other metadata).
    pub headers: Metadata,
    /// The message id; the same on every delivery of the message, so a handler can recognise
    /// a duplicate (delivery is at least once).
    pub id: FastStr,
    /// The topic it was published to.
    pub topic: FastStr,
    /// Which delivery of the message this is (1 for the first).
    pub attempt: u32,
    /// In [`AckMode::Manual`](crate::AckMode::Manual), the right to settle it.
    acker: Option<ManualAcker>,
}

/// Where a manual-mode delivery's [`Acker`] waits for the handler to take it; what is left is
/// the runner's to nack when the handler fails.
pub(crate) type ManualAcker = Arc<Mutex<Option<Acker>>>;

impl<T> Incoming<T> {
    pub(crate) fn new(
        body: T,
        headers: Metadata,
        id: FastStr,
        topic: FastStr,
        attempt: u32,
        acker: Option<ManualAcker>,
    ) -> Incoming<T> {
        Incoming {
            body,
            headers,
            id,
            topic,
            attempt,
            acker,
        }
    }

    /// In [`AckMode::Manual`](crate::AckMode::Manual): takes the right to settle this
    /// message, to [`ack`](Acker::ack) it (now or later, from anywhere) or
    /// [`nack`](Acker::nack) it. Once taken, the runner no longer settles the message, even
    /// if the handler fails. `None` in automatic mode, and once taken.
    pub fn take_acker(&self) -> Option<Acker> {
        let slot = self.acker.as_ref()?;
        slot.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Why a handler failed: the reason travels to the dead-letter topic in
/// [`headers::DEAD_LETTER_REASON`](crate::headers::DEAD_LETTER_REASON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandlerError {
    reason: Cow<'static, str>,
}

impl HandlerError {
    /// A failure for `reason`.
    pub fn new(reason: impl Into<Cow<'static, str>>) -> HandlerError {
        HandlerError {
            reason: reason.into(),
        }
    }

    /// The reason.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for HandlerError {}

/// What consumes messages of type `T`: `Ok` when the message was processed, an error (any
/// `Display`, kept as the reason) when it should be tried again.
///
/// Implemented by every `Fn(Incoming<T>) -> impl Future<Output = Result<(), E>>` with
/// `E: Display`:
///
/// ```
/// use rookery_broker::{HandlerError, Incoming};
///
/// let handler = |msg: Incoming<String>| async move {
///     if msg.body.is_empty() {
///         return Err(HandlerError::new("empty order"));
///     }
///     Ok(())
/// };
/// # fn is_handler<H: rookery_broker::Handler<String>>(_: &H) {}
/// # is_handler(&handler);
/// ```
pub trait Handler<T>: Send + Sync + 'static {
    /// Processes one message.
    fn call(&self, message: Incoming<T>) -> BoxFuture<'static, Result<(), HandlerError>>;
}

impl<T, F, Fut, E> Handler<T> for F
where
    F: Fn(Incoming<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: fmt::Display,
{
    fn call(&self, message: Incoming<T>) -> BoxFuture<'static, Result<(), HandlerError>> {
        let fut = self(message);
        Box::pin(async move { fut.await.map_err(|e| HandlerError::new(e.to_string())) })
    }
}
