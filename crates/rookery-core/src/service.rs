use std::{future::Future, pin::Pin, sync::Arc};

use crate::{Context, Status};

/// A boxed future that is `Send`, as returned by type-erased services.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An asynchronous function from a request to a response or a [`Status`], with a [`Context`].
///
/// Everything in rookery is a `Service`: a handler written by a user, a generated server that
/// routes to it, a client connection, and every middleware in between. Calls take `&self`, so a
/// service is shared by many concurrent calls without cloning; what a call needs to remember it
/// keeps in its own future or in the [`Context`].
///
/// The context is borrowed mutably for the whole call: a layer may read what the caller put in
/// it (deadline, metadata, identity) and write what the caller should see (response metadata).
pub trait Service<Req>: Send + Sync {
    /// What a successful call returns.
    type Response;

    /// Handles one call.
    fn call(
        &self,
        cx: &mut Context,
        req: Req,
    ) -> impl Future<Output = Result<Self::Response, Status>> + Send;
}

impl<S, Req> Service<Req> for &S
where
    S: Service<Req> + ?Sized,
{
    type Response = S::Response;

    fn call(
        &self,
        cx: &mut Context,
        req: Req,
    ) -> impl Future<Output = Result<Self::Response, Status>> + Send {
        (**self).call(cx, req)
    }
}

impl<S, Req> Service<Req> for Arc<S>
where
    S: Service<Req> + ?Sized,
{
    type Response = S::Response;

    fn call(
        &self,
        cx: &mut Context,
        req: Req,
    ) -> impl Future<Output = Result<Self::Response, Status>> + Send {
        (**self).call(cx, req)
    }
}

impl<S, Req> Service<Req> for Box<S>
where
    S: Service<Req> + ?Sized,
{
    type Response = S::Response;

    fn call(
        &self,
        cx: &mut Context,
        req: Req,
    ) -> impl Future<Output = Result<Self::Response, Status>> + Send {
        (**self).call(cx, req)
    }
}

/// The object-safe form of [`Service`], used to erase a service's type.
trait DynService<Req, Resp>: Send + Sync {
    fn call_boxed<'a>(
        &'a self,
        cx: &'a mut Context,
        req: Req,
    ) -> BoxFuture<'a, Result<Resp, Status>>
    where
        Req: 'a;
}

impl<S, Req> DynService<Req, S::Response> for S
where
    S: Service<Req>,
{
    fn call_boxed<'a>(
        &'a self,
        cx: &'a mut Context,
        req: Req,
    ) -> BoxFuture<'a, Result<S::Response, Status>>
    where
        Req: 'a,
    {
        Box::pin(self.call(cx, req))
    }
}

/// A type-erased, cheaply clonable [`Service`].
///
/// Routers hold one per method and stacks of layers that differ by type end up here. Each call
/// costs one allocation for the boxed future.
pub struct BoxService<Req, Resp> {
    inner: Arc<dyn DynService<Req, Resp>>,
}

impl<Req, Resp> BoxService<Req, Resp> {
    /// Erases the type of `service`.
    pub fn new<S>(service: S) -> Self
    where
        S: Service<Req, Response = Resp> + 'static,
    {
        Self {
            inner: Arc::new(service),
        }
    }
}

impl<Req, Resp> Clone for BoxService<Req, Resp> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<Req, Resp> std::fmt::Debug for BoxService<Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BoxService")
    }
}

impl<Req, Resp> Service<Req> for BoxService<Req, Resp>
where
    Req: Send,
{
    type Response = Resp;

    async fn call(&self, cx: &mut Context, req: Req) -> Result<Resp, Status> {
        self.inner.call_boxed(cx, req).await
    }
}

/// A [`Service`] made from a closure; see [`service_fn`].
#[derive(Clone, Copy, Debug)]
pub struct ServiceFn<F> {
    f: F,
}

/// Makes a [`Service`] from a closure that takes the context and the request and returns a
/// future.
///
/// The returned future cannot borrow the context; read what you need from it before the
/// `async move` block. Implement [`Service`] directly when the future must hold the context.
pub fn service_fn<F>(f: F) -> ServiceFn<F> {
    ServiceFn { f }
}

impl<F, Fut, Req, Resp> Service<Req> for ServiceFn<F>
where
    F: Fn(&mut Context, Req) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Resp, Status>> + Send,
{
    type Response = Resp;

    fn call(
        &self,
        cx: &mut Context,
        req: Req,
    ) -> impl Future<Output = Result<Resp, Status>> + Send {
        (self.f)(cx, req)
    }
}
