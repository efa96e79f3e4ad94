use std::{sync::Arc, time::Duration};

use rookery_core::{Context, Service, Status};

use crate::{MethodMap, Request};

/// A service whose calls end by their deadline: the method's timeout, or the one inherited,
/// whichever comes first. See [the module](super).
#[derive(Clone, Debug)]
pub struct Timeout<S> {
    inner: S,
    timeouts: Arc<MethodMap<Option<Duration>>>,
}

impl<S> Timeout<S> {
    pub(super) fn new(inner: S, timeouts: Arc<MethodMap<Option<Duration>>>) -> Self {
        Timeout { inner, timeouts }
    }

    /// The wrapped service.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S, Req> Service<Req> for Timeout<S>
where
    S: Service<Req>,
    Req: Request,
{
    type Response = S::Response;

    async fn call(&self, cx: &mut Context, req: Req) -> Result<S::Response, Status> {
        if let Some(timeout) = self.timeouts.for_call(cx, &req) {
            cx.shorten_deadline(*timeout);
        }
        let Some(deadline) = cx.deadline() else {
            return self.inner.call(cx, req).await;
        };
        let method = req.method_name();
        if deadline <= std::time::Instant::now() {
            return Err(Status::deadline_exceeded(format!(
                "{method}: the deadline passed before the call started"
            ))
            .with_unsent());
        }
        match tokio::time::timeout_at(deadline.into(), self.inner.call(cx, req)).await {
            Ok(result) => result,
            Err(_) => Err(Status::deadline_exceeded(format!(
                "{method}: the deadline passed"
            ))),
        }
    }
}
