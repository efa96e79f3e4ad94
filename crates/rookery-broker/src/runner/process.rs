//! One delivery, from decoding to settling, and dead letters.

use std::{
    any::Any,
    future::Future,
    panic::AssertUnwindSafe,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use faststr::FastStr;
use rookery_codec::Codec;

use crate::{
    AckMode, Acker, Broker, Delivery, HandlerError, Incoming, Message, SubscribeOptions,
    handler::Handler, headers,
};

/// The longest reason written into a dead-letter header; longer ones are cut, so a verbose
/// error cannot push the dead letter over the broker's message size.
const MAX_REASON_LEN: usize = 512;

/// What every delivery's task shares.
pub(super) struct Runner<C, H> {
    pub(super) broker: Arc<dyn Broker>,
    pub(super) topic: FastStr,
    pub(super) options: SubscribeOptions,
    pub(super) dead_letter_topic: FastStr,
    pub(super) handler_timeout: Duration,
    pub(super) codec: C,
    pub(super) handler: H,
}

/// One delivery, from decoding to settling.
pub(super) async fn process<T, C, H>(runner: Arc<Runner<C, H>>, delivery: Delivery)
where
    T: Send + 'static,
    C: Codec<T> + Send + Sync + 'static,
    H: Handler<T>,
{
    let (message, attempt, acker) = delivery.into_parts();
    let max_attempts = runner.options.effective_max_attempts();
    if attempt > max_attempts {
        // Delivered again by the broker (ack wait, a member gone) more often than allowed.
        let reason = format!(
            "delivered {} times without being settled (ack_wait {:?})",
            attempt - 1,
            runner.options.ack_wait
        );
        return runner
            .dead_letter(message, attempt - 1, reason, acker)
            .await;
    }
    let body = match runner.codec.decode(message.payload.clone()) {
        Ok(body) => body,
        Err(e) => {
            // Trying again cannot help: the bytes will not change.
            let reason = format!("decode: {e}");
            return runner.dead_letter(message, attempt, reason, acker).await;
        }
    };
    let (auto, manual) = match runner.options.ack_mode {
        AckMode::Auto => (Some(acker), None),
        AckMode::Manual => (None, Some(Arc::new(Mutex::new(Some(acker))))),
    };
    let incoming = Incoming::new(
        body,
        message.headers.clone(),
        message.id.clone(),
        message.topic.clone(),
        attempt,
        manual.clone(),
    );
    let call = CatchUnwind(runner.handler.call(incoming));
    let outcome = match tokio::time::timeout(runner.handler_timeout, call).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(e),
        Ok(Err(panic)) => Err(HandlerError::new(format!(
            "handler panicked: {}",
            panic_message(&*panic)
        ))),
        Err(_) => Err(HandlerError::new(format!(
            "handler timed out after {:?}",
            runner.handler_timeout
        ))),
    };
    // What is left for the runner to settle: in manual mode, only what the handler did not take.
    let acker = match manual {
        None => auto,
        Some(slot) => slot.lock().unwrap_or_else(|e| e.into_inner()).take(),
    };
    let Some(acker) = acker else {
        return;
    };
    match outcome {
        Ok(()) if runner.options.ack_mode == AckMode::Auto => {
            if let Err(e) = acker.ack().await {
                tracing::warn!(error = %e, "could not acknowledge; the message may come again");
            }
        }
        Ok(()) => {
            tracing::debug!(
                "manual ack mode: the handler returned without settling; the message is \
                 delivered again after ack_wait"
            );
            drop(acker);
        }
        Err(e) if attempt >= max_attempts => {
            runner
                .dead_letter(message, attempt, e.reason().to_string(), acker)
                .await
        }
        Err(e) => {
            let delay = runner.options.backoff.delay(attempt);
            tracing::debug!(reason = %e, ?delay, "handler failed; delivering again after a delay");
            if let Err(e) = acker.nack(delay).await {
                tracing::warn!(error = %e, "could not nack; the message comes again after ack_wait");
            }
        }
    }
}

impl<C, H> Runner<C, H> {
    /// Publishes `message` to the dead-letter topic with why and after how many attempts, then
    /// acknowledges the original. If the dead letter cannot be published the original is
    /// nacked instead: given up on or not, a message is never lost.
    async fn dead_letter(&self, message: Message, attempts: u32, reason: String, acker: Acker) {
        let reason = truncate(reason, MAX_REASON_LEN);
        let mut dead = Message::new(self.dead_letter_topic.clone(), message.payload)
            .with_headers(message.headers);
        dead.headers
            .insert(headers::DEAD_LETTER_REASON, reason.clone());
        dead.headers
            .insert(headers::DEAD_LETTER_ATTEMPTS, attempts.to_string());
        dead.headers
            .insert(headers::DEAD_LETTER_TOPIC, message.topic.clone());
        dead.headers
            .insert(headers::DEAD_LETTER_ID, message.id.clone());
        if let Some(group) = self
            .options
            .queue_group
            .as_ref()
            .or(self.options.durable.as_ref())
        {
            dead.headers
                .insert(headers::DEAD_LETTER_GROUP, group.clone());
        }
        match self.broker.publish(dead).await {
            Ok(()) => {
                tracing::warn!(
                    topic = %message.topic,
                    id = %message.id,
                    attempts,
                    reason = %reason,
                    dead_letter_topic = %self.dead_letter_topic,
                    "message dead-lettered"
                );
                if let Err(e) = acker.ack().await {
                    tracing::warn!(error = %e, "could not acknowledge a dead-lettered message");
                }
            }
            Err(e) => {
                tracing::error!(
                    topic = %message.topic,
                    id = %message.id,
                    error = %e,
                    "could not publish to the dead-letter topic; the message stays in the topic"
                );
                let _ = acker.nack(self.options.backoff.delay(attempts)).await;
            }
        }
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "(not a string)"
    }
}

/// A handler's future with its panic caught, so a panicking handler counts as a failed
/// attempt (redelivered, then dead-lettered) instead of a message left in flight.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}
