//! Pub/sub in a service: subscription handlers run inside the same layers as calls.
//!
//! [`ServiceBuilder::subscribe`](crate::ServiceBuilder::subscribe) subscribes a handler to a
//! topic on the service's broker ([`ServiceBuilder::broker`](crate::ServiceBuilder::broker),
//! or the one `ROOKERY_BROKER` names). The subscriptions start once the service listens and
//! has registered, and stop, drained (the handlers at work finish and settle their messages),
//! first thing when it stops, before it deregisters.
//!
//! Each delivery is handled as a call: a [`Delivered`] request (its method is the topic)
//! through every [`layer`](crate::ServiceBuilder::layer) of the builder, so metrics count
//! deliveries by topic, access logs log them, and the trace layer continues the publisher's
//! trace from the message's `traceparent` header, which [`publish`] writes from the
//! publisher's context. A handler's error (or a layer's: a timeout, a limit) is a failed
//! attempt: the broker delivers the message again with backoff, then dead-letters it.

use std::{any::Any, fmt, future::Future, marker::PhantomData, sync::Arc};

use faststr::FastStr;
use rookery_broker::{Broker, BrokerError, Handler, HandlerError, Incoming, Message};
use rookery_core::{BoxFuture, BoxService, Code, Context, Metadata, Service, Status};
use rookery_middleware::trace::{TRACEPARENT, TRACESTATE, TraceContext};

pub use rookery_broker::{AckMode, Backoff, SubscribeOptions};

pub mod remote;
pub use remote::{BrokerServer, RemoteBroker, from_env, from_url};

/// One delivery of a message, as the layers around a subscription handler see it: a call
/// whose method is the topic, whose metadata are the message's headers.
pub struct Delivered {
    topic: FastStr,
    id: FastStr,
    attempt: u32,
    /// The decoded message (`Incoming<T>`), type-erased so that one boxed layer stack serves
    /// every subscription whatever its message type.
    message: Box<dyn Any + Send>,
}

impl Delivered {
    /// The topic the message was published to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The message id (the same on every delivery of the message).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Which delivery of the message this is (1 for the first).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }
}

impl fmt::Debug for Delivered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivered")
            .field("topic", &self.topic)
            .field("id", &self.id)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl rookery_middleware::Request for Delivered {
    fn method(&self) -> &str {
        &self.topic
    }

    fn method_name(&self) -> FastStr {
        self.topic.clone()
    }

    /// A delivery is not retried by a layer: the broker delivers it again, with backoff.
    fn try_clone(&self) -> Option<Self> {
        None
    }
}

/// What a subscription handler's call answers: that the message was handled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Handled;

impl rookery_middleware::Response for Handled {
    fn on_end(self, on_end: rookery_middleware::OnEnd) -> Self {
        on_end(None);
        self
    }
}

/// A subscription handler with its type erased, inside the builder's layers.
pub type MessageService = BoxService<Delivered, Handled>;

/// What handles the messages of one subscription: called with a context for the calls it
/// makes (it continues the trace of the delivery, as `cx.child()` does in an RPC handler) and
/// the decoded message; `Ok` acknowledges it (in automatic ack mode), an error is a failed
/// attempt.
///
/// Implemented by every `Fn(Context, Incoming<T>) -> impl Future<Output = Result<(), E>>`
/// with `E: Display`.
pub trait MessageHandler<T>: Send + Sync + 'static {
    /// Handles one message.
    fn handle(&self, cx: Context, message: Incoming<T>) -> BoxFuture<'static, Result<(), Status>>;
}

impl<T, F, Fut, E> MessageHandler<T> for F
where
    F: Fn(Context, Incoming<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: fmt::Display,
{
    fn handle(&self, cx: Context, message: Incoming<T>) -> BoxFuture<'static, Result<(), Status>> {
        let fut = self(cx, message);
        Box::pin(async move {
            fut.await
                .map_err(|e| Status::new(Code::Unknown, e.to_string()))
        })
    }
}

/// The innermost service of a subscription: the user's handler.
pub(crate) struct Innermost<T, H> {
    handler: Arc<H>,
    _message: PhantomData<fn(T)>,
}

impl<T, H> Innermost<T, H> {
    pub(crate) fn new(handler: H) -> Self {
        Innermost {
            handler: Arc::new(handler),
            _message: PhantomData,
        }
    }
}

impl<T, H> Service<Delivered> for Innermost<T, H>
where
    T: Send + 'static,
    H: MessageHandler<T>,
{
    type Response = Handled;

    async fn call(&self, cx: &mut Context, req: Delivered) -> Result<Handled, Status> {
        let message = req.message.downcast::<Incoming<T>>().map_err(|_| {
            // A layer swapped the request's message: a bug, not something to retry for ever.
            Status::new(
                Code::Internal,
                "a layer replaced the delivered message with another type",
            )
        })?;
        self.handler.handle(cx.child(), *message).await?;
        Ok(Handled)
    }
}

/// A subscription's handler for the runner: each delivery becomes a call through the layers.
pub(crate) struct Layered<T> {
    service: MessageService,
    /// The service that subscribes: the callee the layers name.
    name: FastStr,
    _message: PhantomData<fn(T)>,
}

impl<T> Layered<T> {
    pub(crate) fn new(service: MessageService, name: FastStr) -> Self {
        Layered {
            service,
            name,
            _message: PhantomData,
        }
    }
}

impl<T: Send + 'static> Handler<T> for Layered<T> {
    fn call(&self, message: Incoming<T>) -> BoxFuture<'static, Result<(), HandlerError>> {
        let service = self.service.clone();
        let mut cx = Context::new();
        // The headers are the call's metadata: the trace context, and what the publisher set.
        *cx.metadata_mut() = message.headers.clone();
        cx.callee_mut().service = self.name.clone();
        cx.callee_mut().method = message.topic.clone();
        let req = Delivered {
            topic: message.topic.clone(),
            id: message.id.clone(),
            attempt: message.attempt,
            message: Box::new(message),
        };
        Box::pin(async move {
            match service.call(&mut cx, req).await {
                Ok(Handled) => Ok(()),
                Err(status) => Err(HandlerError::new(status.message().to_string())),
            }
        })
    }
}

/// Publishes `message` on `broker` as a call made from `cx` would be: the trace of the call
/// being handled (or of the context's own span) continues in the subscriber, through a
/// `traceparent` header (and `tracestate`) for a new span of it. Headers the message has
/// already are kept; without a trace in `cx` none is written, and the subscriber starts one.
pub async fn publish(
    broker: &dyn Broker,
    cx: &Context,
    mut message: Message,
) -> Result<(), BrokerError> {
    write_trace(cx, &mut message.headers);
    broker.publish(message).await
}

/// Writes the trace context of `cx` (a new child span of its current one) into `headers`,
/// unless they carry one already.
pub fn write_trace(cx: &Context, headers: &mut Metadata) {
    if headers.get(TRACEPARENT).is_some() {
        return;
    }
    let Some(current) = TraceContext::current(cx).or_else(|| cx.extensions().get()) else {
        return;
    };
    let span = current.child();
    headers.insert(TRACEPARENT, span.traceparent().to_string());
    if let Some(state) = span.trace_state() {
        headers.insert(TRACESTATE, state.clone());
    }
}
