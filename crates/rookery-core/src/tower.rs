//! Adapters between rookery's [`Service`] and [`tower::Service`](tower_service::Service),
//! both ways, so that the tower ecosystem's middleware (limits, buffers, load shedding) wraps
//! rookery services and rookery layers wrap tower services.
//!
//! A tower service takes its request by value and returns a `'static` future, so the context
//! travels with the request: the tower side sees `(Context, Req)` and answers
//! `(Context, Resp)`.
//!
//! ```
//! use std::time::Duration;
//! use rookery_core::{service_fn, tower::TowerLayer, Context, Layer, Service, Status};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Status> {
//! let echo = service_fn(|_cx: &mut Context, s: String| async move { Ok::<_, Status>(s) });
//! // tower's concurrency limit around a rookery service:
//! let limited = TowerLayer::new(tower::limit::ConcurrencyLimitLayer::new(8)).layer(echo);
//! assert_eq!(limited.call(&mut Context::new(), "hi".into()).await?, "hi");
//! # Ok(())
//! # }
//! ```

use std::{
    error::Error,
    future::{Future, poll_fn},
    sync::Arc,
    task::{Context as TaskContext, Poll},
};

use crate::{BoxFuture, Context, Layer, Service, Status};

/// A rookery service seen as a [`tower::Service`](tower_service::Service) over
/// `(Context, Req)`.
pub struct IntoTower<S> {
    inner: Arc<S>,
}

impl<S> IntoTower<S> {
    /// Wraps `service`.
    pub fn new(service: S) -> Self {
        Self {
            inner: Arc::new(service),
        }
    }
}

impl<S> Clone for IntoTower<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S, Req> tower_service::Service<(Context, Req)> for IntoTower<S>
where
    S: Service<Req> + 'static,
    Req: Send + 'static,
{
    type Response = (Context, S::Response);
    type Error = Status;
    type Future = BoxFuture<'static, Result<(Context, S::Response), Status>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, (mut cx, req): (Context, Req)) -> Self::Future {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let resp = inner.call(&mut cx, req).await?;
            Ok((cx, resp))
        })
    }
}

/// A [`tower::Service`](tower_service::Service) over `(Context, Req)` seen as a rookery
/// service.
///
/// Each call clones the tower service (tower's convention for shared use) and waits until it
/// is ready. When the tower service fails, the context it was given is lost: the caller's
/// context is left empty.
#[derive(Clone, Debug)]
pub struct FromTower<T> {
    inner: T,
}

impl<T> FromTower<T> {
    /// Wraps `service`.
    pub fn new(service: T) -> Self {
        Self { inner: service }
    }
}

/// Turns an error from a tower service into a [`Status`]: a status passes through unchanged,
/// anything else becomes [`Code::Unknown`](crate::Code::Unknown) with its message.
fn into_status(err: Box<dyn Error + Send + Sync>) -> Status {
    match err.downcast::<Status>() {
        Ok(status) => *status,
        Err(other) => Status::unknown(other.to_string()),
    }
}

impl<T, Req, Resp> Service<Req> for FromTower<T>
where
    T: tower_service::Service<(Context, Req), Response = (Context, Resp)> + Clone + Send + Sync,
    T::Future: Send,
    T::Error: Into<Box<dyn Error + Send + Sync>>,
    Req: Send,
{
    type Response = Resp;

    fn call(
        &self,
        cx: &mut Context,
        req: Req,
    ) -> impl Future<Output = Result<Resp, Status>> + Send {
        let mut svc = self.inner.clone();
        let owned = std::mem::take(cx);
        async move {
            poll_fn(|task| svc.poll_ready(task))
                .await
                .map_err(|e| into_status(e.into()))?;
            let (returned, resp) = svc
                .call((owned, req))
                .await
                .map_err(|e| into_status(e.into()))?;
            *cx = returned;
            Ok(resp)
        }
    }
}

/// A [`tower::Layer`](tower_layer::Layer) used as a rookery [`Layer`]: the rookery service is
/// adapted to tower, wrapped, and adapted back.
#[derive(Clone, Debug)]
pub struct TowerLayer<L> {
    inner: L,
}

impl<L> TowerLayer<L> {
    /// Wraps a tower layer.
    pub fn new(layer: L) -> Self {
        Self { inner: layer }
    }
}

impl<L, S> Layer<S> for TowerLayer<L>
where
    L: tower_layer::Layer<IntoTower<S>>,
{
    type Service = FromTower<L::Service>;

    fn layer(&self, inner: S) -> Self::Service {
        FromTower::new(self.inner.layer(IntoTower::new(inner)))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{Code, service_fn};

    #[tokio::test]
    async fn tower_sees_the_context_and_rookery_gets_it_back() {
        let svc = service_fn(|cx: &mut Context, n: u32| {
            cx.response_metadata_mut().insert("seen", n.to_string());
            async move { Ok::<_, Status>(n * 2) }
        });
        let mut tower_svc = IntoTower::new(svc);
        let mut cx = Context::new();
        cx.metadata_mut().insert("k", "v");
        let (cx, out) = tower::ServiceExt::oneshot(&mut tower_svc, (cx, 21))
            .await
            .unwrap();
        assert_eq!(out, 42);
        assert_eq!(cx.response_metadata().get("seen"), Some("21"));
        assert_eq!(cx.metadata().get("k"), Some("v"));

        let back = FromTower::new(tower_svc);
        let mut cx = Context::new();
        assert_eq!(back.call(&mut cx, 5).await.unwrap(), 10);
        assert_eq!(cx.response_metadata().get("seen"), Some("5"));
    }

    #[tokio::test]
    async fn tower_errors_become_statuses() {
        let slow = service_fn(|_cx: &mut Context, _: ()| async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<_, Status>(())
        });
        let timed = TowerLayer::new(tower::timeout::TimeoutLayer::new(Duration::from_millis(10)))
            .layer(slow);
        let err = timed.call(&mut Context::new(), ()).await.unwrap_err();
        assert_eq!(err.code(), Code::Unknown);
        assert!(err.message().contains("timed out"), "{err}");

        let failing = service_fn(|_cx: &mut Context, _: ()| async move {
            Err::<(), _>(Status::not_found("no such thing"))
        });
        let round_trip = FromTower::new(IntoTower::new(failing));
        let err = round_trip.call(&mut Context::new(), ()).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
    }
}
