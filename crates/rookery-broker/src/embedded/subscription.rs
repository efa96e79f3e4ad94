use std::{
    sync::Weak,
    task::{Context, Poll},
    time::Duration,
};

use faststr::FastStr;
use rookery_core::BoxFuture;
use tokio::sync::mpsc::UnboundedReceiver;

use super::{
    broker::Shared,
    state::{GroupKey, Settle},
};
use crate::{Acknowledge, BrokerError, Delivery, SubscriptionSource};

/// One subscription's end of the broker: the deliveries handed to it, and its place in its
/// group, given up when it is dropped.
#[derive(Debug)]
pub(super) struct EmbeddedSource {
    pub(super) rx: UnboundedReceiver<Delivery>,
    pub(super) shared: Weak<Shared>,
    pub(super) topic: FastStr,
    pub(super) key: GroupKey,
    pub(super) member: u64,
}

impl SubscriptionSource for EmbeddedSource {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Delivery, BrokerError>>> {
        self.rx.poll_recv(cx).map(|d| d.map(Ok))
    }

    fn unsubscribe(self: Box<Self>) -> BoxFuture<'static, Result<(), BrokerError>> {
        // Leaving the group is synchronous; `Drop` does it.
        drop(self);
        Box::pin(std::future::ready(Ok(())))
    }
}

impl Drop for EmbeddedSource {
    fn drop(&mut self) {
        // Runs before `rx` is dropped, under the state lock: no delivery can be handed to this
        // member between leaving the group and closing the channel, and the ones it holds go
        // back to the queue.
        if let Some(shared) = self.shared.upgrade() {
            shared.with_state(|state| {
                state.remove_member(&self.topic, &self.key, self.member, &self.shared)
            });
        }
    }
}

/// Settles one embedded delivery, by its token.
#[derive(Debug)]
pub(super) struct EmbeddedAcker {
    pub(super) shared: Weak<Shared>,
    pub(super) topic: FastStr,
    pub(super) key: GroupKey,
    pub(super) token: u64,
}

impl EmbeddedAcker {
    fn settle(self, how: Settle) -> Result<(), BrokerError> {
        let Some(shared) = self.shared.upgrade() else {
            return Err(BrokerError::closed("the embedded broker is gone"));
        };
        shared.with_state(|state| {
            if state.closed {
                return Err(BrokerError::closed("the embedded broker is closed"));
            }
            state.settle(&self.topic, &self.key, self.token, how, &self.shared);
            Ok(())
        })
    }
}

impl Acknowledge for EmbeddedAcker {
    fn ack(self: Box<Self>) -> BoxFuture<'static, Result<(), BrokerError>> {
        Box::pin(std::future::ready(self.settle(Settle::Ack)))
    }

    fn nack(self: Box<Self>, delay: Duration) -> BoxFuture<'static, Result<(), BrokerError>> {
        Box::pin(std::future::ready(self.settle(Settle::Nack(delay))))
    }
}
