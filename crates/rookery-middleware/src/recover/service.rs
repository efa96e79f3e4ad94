use std::{
    any::Any,
    future::{Future, poll_fn},
    panic::{AssertUnwindSafe, catch_unwind},
    pin::pin,
    task::Poll,
};

use faststr::FastStr;
use rookery_core::{Context, Service, Status};

use crate::Request;

/// A service whose panics become `INTERNAL` answers. See [the module](super).
#[derive(Clone, Debug)]
pub struct Recover<S> {
    inner: S,
}

impl<S> Recover<S> {
    pub(super) fn new(inner: S) -> Self {
        Recover { inner }
    }

    /// The wrapped service.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S, Req> Service<Req> for Recover<S>
where
    S: Service<Req>,
    Req: Request,
{
    type Response = S::Response;

    async fn call(&self, cx: &mut Context, req: Req) -> Result<S::Response, Status> {
        let service = cx.callee().service.clone();
        let method = req.method_name();
        // A service may panic as it starts the call, before there is a future to poll.
        let started = catch_unwind(AssertUnwindSafe(|| self.inner.call(cx, req)));
        let call = match started {
            Ok(call) => call,
            Err(panic) => return Err(panicked(&service, &method, &*panic)),
        };
        let mut call = pin!(call);
        poll_fn(
            |task| match catch_unwind(AssertUnwindSafe(|| call.as_mut().poll(task))) {
                Ok(poll) => poll,
                Err(panic) => Poll::Ready(Err(panicked(&service, &method, &*panic))),
            },
        )
        .await
    }
}

/// Logs the panic and makes the answer, which names the method and nothing of the panic.
fn panicked(service: &FastStr, method: &FastStr, panic: &(dyn Any + Send)) -> Status {
    let text = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)");
    tracing::error!(%service, %method, panic = text, "the handler panicked; answered INTERNAL");
    let name = if service.is_empty() {
        method.to_string()
    } else {
        format!("{service}.{method}")
    };
    Status::internal(format!(
        "{name}: the handler failed (panicked); see the server's log"
    ))
}
