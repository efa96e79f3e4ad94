/// Wraps a service in another: the unit of middleware.
///
/// A layer is applied once per stack (per client, or per server); the service it returns is
/// shared by every call. The same layer works on client and server stacks, because both are
/// [`Service`](crate::Service)s over the same [`Context`](crate::Context).
pub trait Layer<S> {
    /// The wrapped service.
    type Service;

    /// Wraps `inner`.
    fn layer(&self, inner: S) -> Self::Service;
}

/// The layer that wraps nothing: `Identity.layer(s)` is `s`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Identity;

impl<S> Layer<S> for Identity {
    type Service = S;

    fn layer(&self, inner: S) -> S {
        inner
    }
}

/// Two layers applied one after the other: `inner` first, then `outer` around it.
#[derive(Clone, Debug, Default)]
pub struct Stack<Inner, Outer> {
    inner: Inner,
    outer: Outer,
}

impl<Inner, Outer> Stack<Inner, Outer> {
    /// Stacks `outer` on top of `inner`.
    pub fn new(inner: Inner, outer: Outer) -> Self {
        Self { inner, outer }
    }
}

impl<S, Inner, Outer> Layer<S> for Stack<Inner, Outer>
where
    Inner: Layer<S>,
    Outer: Layer<Inner::Service>,
{
    type Service = Outer::Service;

    fn layer(&self, service: S) -> Self::Service {
        self.outer.layer(self.inner.layer(service))
    }
}

/// A layer made from a closure; see [`layer_fn`].
#[derive(Clone, Copy, Debug)]
pub struct LayerFn<F> {
    f: F,
}

/// Makes a [`Layer`] from a closure that wraps a service.
pub fn layer_fn<F>(f: F) -> LayerFn<F> {
    LayerFn { f }
}

impl<F, S, Out> Layer<S> for LayerFn<F>
where
    F: Fn(S) -> Out,
{
    type Service = Out;

    fn layer(&self, inner: S) -> Out {
        (self.f)(inner)
    }
}
