//! Runs a [`Handler`] over a subscription, with the policy every backend shares: decode the
//! payload, call the handler (bounded by a timeout), acknowledge on success, deliver again with
//! exponential backoff on failure, and dead-letter what fails `max_attempts` times or does not
//! decode.

use std::{sync::Arc, time::Duration};

use bytes::{Bytes, BytesMut};
use faststr::FastStr;
use rookery_codec::{Codec, DecodeError, EncodeError};
use tokio::{sync::oneshot, task::JoinHandle, task::JoinSet};
use tracing::Instrument;

use crate::{Broker, BrokerError, SubscribeOptions, Subscription, handler::Handler};

mod process;
#[cfg(test)]
mod tests;

use process::{Runner, process};

/// The payload as it came: for handlers that decode themselves, or take bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawBytes;

impl Codec<Bytes> for RawBytes {
    fn encode(&self, msg: &Bytes, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.extend_from_slice(msg);
        Ok(())
    }

    fn decode(&self, buf: Bytes) -> Result<Bytes, DecodeError> {
        Ok(buf)
    }
}

/// A handler's subscription to one topic: made with [`Subscriber::new`], run with
/// [`serve`](Subscriber::serve) (until the subscription ends) or [`start`](Subscriber::start)
/// (in a task, stopped through the returned [`Serving`]).
///
/// ```
/// use std::sync::Arc;
/// use rookery_broker::{Incoming, SubscribeOptions, Subscriber, embedded::Embedded};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), rookery_broker::BrokerError> {
/// let broker = Arc::new(Embedded::new());
/// let serving = Subscriber::new(broker, "orders", SubscribeOptions::new().queue_group("workers"))
///     .start(rookery_broker::RawBytes, |msg: Incoming<bytes::Bytes>| async move {
///         println!("order {:?}", msg.body);
///         Ok::<(), std::convert::Infallible>(())
///     })
///     .await?;
/// serving.stop().await?;
/// # Ok(())
/// # }
/// ```
pub struct Subscriber {
    broker: Arc<dyn Broker>,
    topic: FastStr,
    options: SubscribeOptions,
    handler_timeout: Option<Duration>,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("topic", &self.topic)
            .field("options", &self.options)
            .field("handler_timeout", &self.handler_timeout)
            .finish_non_exhaustive()
    }
}

impl Subscriber {
    /// A handler's subscription to `topic` on `broker`, with `options` (queue group, ack mode,
    /// attempts, backoff, dead-letter topic).
    pub fn new(
        broker: Arc<dyn Broker>,
        topic: impl Into<FastStr>,
        options: SubscribeOptions,
    ) -> Subscriber {
        Subscriber {
            broker,
            topic: topic.into(),
            options,
            handler_timeout: None,
        }
    }

    /// Fails a handler call that takes longer than `timeout` (the message is tried again, as
    /// on an error). Default: the subscription's `ack_wait`, after which the broker would
    /// deliver the message again anyway.
    pub fn handler_timeout(mut self, timeout: Duration) -> Self {
        self.handler_timeout = Some(timeout);
        self
    }

    /// Subscribes and runs `handler` on each message decoded by `codec`, until the
    /// subscription ends (the broker closed). Deliveries are handled concurrently, up to the
    /// subscription's `max_in_flight`.
    pub async fn serve<T, C, H>(self, codec: C, handler: H) -> Result<(), BrokerError>
    where
        T: Send + 'static,
        C: Codec<T> + Send + Sync + 'static,
        H: Handler<T>,
    {
        let subscription = self
            .broker
            .subscribe(&self.topic, self.options.clone())
            .await?;
        let (_stop, stop_rx) = oneshot::channel();
        run(subscription, self.runner(codec, handler), stop_rx).await
    }

    /// Subscribes, then runs `handler` in a task. The subscription exists when this returns.
    pub async fn start<T, C, H>(self, codec: C, handler: H) -> Result<Serving, BrokerError>
    where
        T: Send + 'static,
        C: Codec<T> + Send + Sync + 'static,
        H: Handler<T>,
    {
        let subscription = self
            .broker
            .subscribe(&self.topic, self.options.clone())
            .await?;
        let (stop, stop_rx) = oneshot::channel();
        let task = tokio::spawn(run(subscription, self.runner(codec, handler), stop_rx));
        Ok(Serving {
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// [`serve`](Subscriber::serve) with JSON bodies.
    #[cfg(feature = "json")]
    pub async fn serve_json<T, H>(self, handler: H) -> Result<(), BrokerError>
    where
        T: Send + 'static,
        rookery_codec::json::Json: Codec<T>,
        H: Handler<T>,
    {
        self.serve(rookery_codec::json::Json, handler).await
    }

    /// [`start`](Subscriber::start) with JSON bodies.
    #[cfg(feature = "json")]
    pub async fn start_json<T, H>(self, handler: H) -> Result<Serving, BrokerError>
    where
        T: Send + 'static,
        rookery_codec::json::Json: Codec<T>,
        H: Handler<T>,
    {
        self.start(rookery_codec::json::Json, handler).await
    }

    fn runner<C, H>(self, codec: C, handler: H) -> Arc<Runner<C, H>> {
        let handler_timeout = self.handler_timeout.unwrap_or(self.options.ack_wait);
        Arc::new(Runner {
            dead_letter_topic: self.options.dead_letter_topic_for(&self.topic),
            broker: self.broker,
            topic: self.topic,
            options: self.options,
            handler_timeout,
            codec,
            handler,
        })
    }
}

/// A running [`Subscriber`]. [`stop`](Serving::stop) ends it cleanly; dropping it (or
/// [`kill`](Serving::kill)) ends it at once, as a crash would: the deliveries it had not
/// settled go to another member of its queue group.
#[derive(Debug)]
pub struct Serving {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), BrokerError>>>,
}

impl Serving {
    /// Stops taking messages, lets the handlers at work finish and settle theirs, then
    /// unsubscribes (deliveries not yet started go back to the broker).
    pub async fn stop(mut self) -> Result<(), BrokerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.join().await
    }

    /// Waits until the subscription ends by itself (the broker closed).
    pub async fn wait(mut self) -> Result<(), BrokerError> {
        self.join().await
    }

    /// Ends it now, handlers mid-message included: nothing is acknowledged that was not
    /// already, so the broker delivers those messages again.
    pub fn kill(self) {
        drop(self);
    }

    async fn join(&mut self) -> Result<(), BrokerError> {
        match self.task.take() {
            Some(task) => task
                .await
                .map_err(|e| BrokerError::closed(format!("the subscriber task ended: {e}")))?,
            None => Ok(()),
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn run<T, C, H>(
    mut subscription: Subscription,
    runner: Arc<Runner<C, H>>,
    mut stop: oneshot::Receiver<()>,
) -> Result<(), BrokerError>
where
    T: Send + 'static,
    C: Codec<T> + Send + Sync + 'static,
    H: Handler<T>,
{
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = joined {
                    tracing::error!(topic = %runner.topic, error = %e, "a message task failed");
                }
            }
            next = subscription.next() => match next {
                None => break,
                Some(Err(e)) => {
                    tracing::warn!(topic = %runner.topic, error = %e, "subscription error");
                }
                Some(Ok(delivery)) => {
                    let span = tracing::debug_span!(
                        "message",
                        topic = %runner.topic,
                        id = %delivery.message().id,
                        attempt = delivery.attempt(),
                    );
                    tasks.spawn(process(Arc::clone(&runner), delivery).instrument(span));
                }
            }
        }
    }
    // Handlers at work finish and settle before the subscription goes, so their messages are
    // not handed to another member meanwhile.
    while tasks.join_next().await.is_some() {}
    subscription.unsubscribe().await
}
