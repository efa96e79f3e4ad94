use std::{
    fmt,
    pin::Pin,
    task::{Context, Poll},
};

use faststr::FastStr;
use rookery_core::BoxFuture;

use crate::{BrokerError, Delivery, Message, SubscribeOptions};

/// Publishes messages to topics and subscribes to them.
///
/// Object safe: services hold an `Arc<dyn Broker>` chosen in code or by `ROOKERY_BROKER`, and
/// every backend (embedded, NATS, ...) passes the same suite (`conformance`, behind the feature
/// of that name).
///
/// Delivery is at least once for acknowledged subscriptions: a message is delivered until a
/// delivery of it is acknowledged, or it is dead-lettered. Consumers recognise duplicates by
/// [`Message::id`].
pub trait Broker: Send + Sync + 'static {
    /// Publishes `message` to its topic. Fails with
    /// [`BrokerErrorKind::TooLarge`](crate::BrokerErrorKind::TooLarge) when the message is over
    /// [`max_message_size`](Broker::max_message_size) (nothing is published), and with
    /// `Closed` after [`close`](Broker::close).
    ///
    /// Returns once the engine has accepted the message: a subscription that existed before
    /// the call will receive it.
    fn publish(&self, message: Message) -> BoxFuture<'_, Result<(), BrokerError>>;

    /// Subscribes to `topic` with `options`. The subscription receives messages published
    /// after this returns (and, for a durable subscription on an engine with storage, those it
    /// had not acknowledged before).
    fn subscribe<'a>(
        &'a self,
        topic: &'a str,
        options: SubscribeOptions,
    ) -> BoxFuture<'a, Result<Subscription, BrokerError>>;

    /// Ends `subscription`: its unsettled deliveries go to another member of its queue group
    /// (or back to the topic's durable state). Dropping a subscription does the same without
    /// waiting.
    fn unsubscribe(&self, subscription: Subscription) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(subscription.unsubscribe())
    }

    /// Closes the broker: publishing fails from now on, and every subscription ends (its
    /// stream returns `None`).
    fn close(&self) -> BoxFuture<'_, Result<(), BrokerError>>;

    /// The largest message (payload plus headers, [`Message::size`]) that
    /// [`publish`](Broker::publish) accepts.
    fn max_message_size(&self) -> usize;
}

/// What a backend implements for one subscription: a stream of deliveries, and a way to end
/// it. Wrapped in a [`Subscription`].
pub trait SubscriptionSource: Send + 'static {
    /// The next delivery, `Ready(None)` once the subscription has ended (unsubscribed, or the
    /// broker closed). An `Err` reports a failure the backend met (a lost connection it is
    /// recovering from); the subscription goes on unless `None` follows.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Delivery, BrokerError>>>;

    /// Ends the subscription; its unsettled deliveries go back to the broker.
    fn unsubscribe(self: Box<Self>) -> BoxFuture<'static, Result<(), BrokerError>>;
}

/// A live subscription: a stream of [`Delivery`]s ([`next`](Subscription::next), or
/// `futures_core::Stream`).
///
/// Dropping it ends the subscription, as [`unsubscribe`](Subscription::unsubscribe) does
/// without waiting: its unsettled deliveries go to another member of its queue group.
pub struct Subscription {
    topic: FastStr,
    options: SubscribeOptions,
    source: Box<dyn SubscriptionSource>,
}

impl Subscription {
    /// A subscription to `topic` with `options`, fed by a backend's `source`.
    pub fn new(
        topic: impl Into<FastStr>,
        options: SubscribeOptions,
        source: impl SubscriptionSource,
    ) -> Subscription {
        Subscription {
            topic: topic.into(),
            options,
            source: Box::new(source),
        }
    }

    /// The topic subscribed to.
    pub fn topic(&self) -> &FastStr {
        &self.topic
    }

    /// The options it was made with.
    pub fn options(&self) -> &SubscribeOptions {
        &self.options
    }

    /// The next delivery, or `None` once the subscription has ended.
    pub async fn next(&mut self) -> Option<Result<Delivery, BrokerError>> {
        std::future::poll_fn(|cx| self.source.poll_next(cx)).await
    }

    /// Polls for the next delivery.
    pub fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Delivery, BrokerError>>> {
        self.source.poll_next(cx)
    }

    /// Ends the subscription and waits until the broker has taken back its unsettled
    /// deliveries.
    pub async fn unsubscribe(self) -> Result<(), BrokerError> {
        self.source.unsubscribe().await
    }
}

impl futures_core::Stream for Subscription {
    type Item = Result<Delivery, BrokerError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().source.poll_next(cx)
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("topic", &self.topic)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
