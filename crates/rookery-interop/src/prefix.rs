//! Calls that name their IDL service, as Apache Thrift's `TMultiplexedProtocol` sends them.

use std::future::Future;

use rookery::{
    Status,
    codegen::{Context, FastStr, Service, ThriftRequest, ThriftResponse},
};

/// Sends every call with its method named `Service:method`, as Apache Thrift's
/// `TMultiplexedProtocol` does, so that a server with several services (Apache's
/// `TMultiplexedProcessor`, or a rookery `Router`) knows which one is meant.
///
/// Wrap a `rookery::Client` in it and give it to a generated client's `with_service`.
#[derive(Clone, Debug)]
pub struct ServicePrefix<S> {
    /// `Service:`, ready to prepend.
    prefix: FastStr,
    inner: S,
}

impl<S> ServicePrefix<S> {
    /// Calls through `inner`, naming the service `service`.
    pub fn new(service: &str, inner: S) -> Self {
        ServicePrefix {
            prefix: FastStr::new(format!("{service}:")),
            inner,
        }
    }
}

impl<S> Service<ThriftRequest> for ServicePrefix<S>
where
    S: Service<ThriftRequest, Response = ThriftResponse>,
{
    type Response = ThriftResponse;

    fn call(
        &self,
        cx: &mut Context,
        mut req: ThriftRequest,
    ) -> impl Future<Output = Result<ThriftResponse, Status>> + Send {
        req.method = FastStr::new(format!("{}{}", self.prefix, req.method));
        self.inner.call(cx, req)
    }
}
