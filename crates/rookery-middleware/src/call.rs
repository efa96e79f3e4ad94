//! What layers know about a call whatever its protocol: the [`Request`] and [`Response`]
//! traits, and per-method settings ([`MethodMap`]).

use std::{collections::HashMap, sync::Arc};

use faststr::FastStr;
use rookery_core::{Context, Status};
use rookery_transport::{
    KitexProtobufRequest, KitexProtobufResponse, ThriftRequest, ThriftResponse,
};
use serde::{Deserialize, Serialize};

/// What a layer may ask of a request, whatever its protocol.
pub trait Request: Send + Sized + 'static {
    /// The method called, as its IDL spells it.
    fn method(&self) -> &str;

    /// The method's name to keep after the request has been sent on (cheap: no copy of the
    /// text for names known at compile time or already shared).
    fn method_name(&self) -> FastStr;

    /// A copy to send again (to retry, or to hedge), or `None` when the request cannot be
    /// sent twice (a stream of messages the caller is still writing).
    fn try_clone(&self) -> Option<Self>;

    /// The size in bytes of the encoded request, when it is known before it is sent (not for
    /// a stream of messages): what access logs report.
    fn body_size(&self) -> Option<usize> {
        None
    }
}

/// Called once when a call has ended: with its status, or `None` on success.
pub type OnEnd = Box<dyn FnOnce(Option<&Status>) + Send>;

/// What a layer may ask of a response.
pub trait Response: Send + Sized + 'static {
    /// This response, with `on_end` called when the call is over: at once for a unary
    /// response, when the last message has been read (or the stream failed, or was dropped
    /// unfinished, reported as `CANCELLED`) for a stream.
    fn on_end(self, on_end: OnEnd) -> Self;

    /// The size in bytes of the encoded response, when it is known (not for a stream).
    fn body_size(&self) -> Option<usize> {
        None
    }
}

impl Request for ThriftRequest {
    fn method(&self) -> &str {
        &self.method
    }

    fn method_name(&self) -> FastStr {
        self.method.clone()
    }

    fn try_clone(&self) -> Option<Self> {
        Some(self.clone())
    }

    fn body_size(&self) -> Option<usize> {
        Some(self.body.len())
    }
}

impl Response for ThriftResponse {
    fn on_end(self, on_end: OnEnd) -> Self {
        on_end(None);
        self
    }

    fn body_size(&self) -> Option<usize> {
        Some(self.body.len())
    }
}

impl Request for KitexProtobufRequest {
    fn method(&self) -> &str {
        &self.method
    }

    fn method_name(&self) -> FastStr {
        self.method.clone()
    }

    fn try_clone(&self) -> Option<Self> {
        Some(self.clone())
    }

    fn body_size(&self) -> Option<usize> {
        Some(self.body.len())
    }
}

impl Response for KitexProtobufResponse {
    fn on_end(self, on_end: OnEnd) -> Self {
        on_end(None);
        self
    }

    fn body_size(&self) -> Option<usize> {
        Some(self.body.len())
    }
}

#[cfg(feature = "protobuf")]
mod protobuf {
    use std::{
        pin::Pin,
        task::{Context as TaskContext, Poll},
    };

    use faststr::FastStr;
    use futures_core::Stream;
    use rookery_codec::protobuf::rpc::{
        BoxStream, ProtoRequest, ProtoResponse, ProtoStreamRequest, Streaming,
    };
    use rookery_core::Status;

    use super::{OnEnd, Request, Response};

    impl Request for ProtoRequest {
        fn method(&self) -> &str {
            self.method.name
        }

        fn method_name(&self) -> FastStr {
            FastStr::from_static_str(self.method.name)
        }

        fn try_clone(&self) -> Option<Self> {
            Some(self.clone())
        }

        fn body_size(&self) -> Option<usize> {
            Some(self.body.len())
        }
    }

    impl Response for ProtoResponse {
        fn on_end(self, on_end: OnEnd) -> Self {
            on_end(None);
            self
        }

        fn body_size(&self) -> Option<usize> {
            Some(self.body.len())
        }
    }

    impl Request for ProtoStreamRequest {
        fn method(&self) -> &str {
            self.method.name
        }

        fn method_name(&self) -> FastStr {
            FastStr::from_static_str(self.method.name)
        }

        fn try_clone(&self) -> Option<Self> {
            None
        }
    }

    impl<T: Send + 'static> Response for Streaming<T> {
        fn on_end(self, on_end: OnEnd) -> Self {
            Streaming::new(Ending {
                inner: self.into_inner(),
                on_end: Some(on_end),
            })
        }
    }

    /// A stream that reports how it ended.
    struct Ending<T> {
        inner: BoxStream<T>,
        on_end: Option<OnEnd>,
    }

    impl<T> Stream for Ending<T> {
        type Item = Result<T, Status>;

        fn poll_next(
            mut self: Pin<&mut Self>,
            cx: &mut TaskContext<'_>,
        ) -> Poll<Option<Self::Item>> {
            let item = std::task::ready!(self.inner.as_mut().poll_next(cx));
            match &item {
                None => {
                    if let Some(f) = self.on_end.take() {
                        f(None)
                    }
                }
                Some(Err(status)) => {
                    if let Some(f) = self.on_end.take() {
                        f(Some(status))
                    }
                }
                Some(Ok(_)) => {}
            }
            Poll::Ready(item)
        }
    }

    impl<T> Drop for Ending<T> {
        fn drop(&mut self) {
            if let Some(f) = self.on_end.take() {
                f(Some(&Status::cancelled(
                    "the stream was dropped before its end",
                )))
            }
        }
    }
}

/// A setting per method, with a default for the others: per-method policies.
///
/// Keys are a method name (`get`) or a service and method (`Bank.get`, `Bank/get`); the more
/// specific key wins. In a configuration file it reads as a table:
///
/// ```toml
/// [retry]
/// default = { max_attempts = 2 }
/// methods."Bank.get" = { max_attempts = 3, idempotent = true }
/// ```
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MethodMap<T> {
    /// What methods not listed get.
    #[serde(default)]
    pub default: T,
    /// Settings of single methods, by `method` or `Service.method`.
    #[serde(default = "HashMap::new")]
    pub methods: HashMap<String, T>,
}

impl<T> MethodMap<T> {
    /// Every method gets `default`.
    pub fn new(default: T) -> Self {
        MethodMap {
            default,
            methods: HashMap::new(),
        }
    }

    /// `method` (a method name, or `Service.method`) gets `value`.
    pub fn method(mut self, method: impl Into<String>, value: T) -> Self {
        self.methods.insert(method.into().replace('/', "."), value);
        self
    }

    /// The setting of `method` of `service`.
    pub fn get(&self, service: &str, method: &str) -> &T {
        // Per-method tables are short: one pass, no key built per call.
        let mut by_method = None;
        for (key, value) in &self.methods {
            if key == method {
                by_method = Some(value);
            } else if !service.is_empty()
                && key.len() == service.len() + 1 + method.len()
                && key.starts_with(service)
                && key.ends_with(method)
                && key.as_bytes()[service.len()] == b'.'
            {
                return value;
            }
        }
        by_method.unwrap_or(&self.default)
    }

    /// The setting of the call `req` in `cx` (service from the context's callee).
    pub fn for_call<R: Request>(&self, cx: &Context, req: &R) -> &T {
        self.get(&cx.callee().service, req.method())
    }

    /// The same map with every value changed by `f`, shared.
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> MethodMap<U> {
        MethodMap {
            default: f(self.default),
            methods: self.methods.into_iter().map(|(k, v)| (k, f(v))).collect(),
        }
    }
}

impl<T> MethodMap<Arc<T>> {
    /// A map whose values are shared by clones of the layer that holds it.
    pub fn shared(map: MethodMap<T>) -> Self {
        map.map(Arc::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_key_wins() {
        let map = MethodMap::new(1)
            .method("get", 2)
            .method("Bank/get", 3)
            .method("Shop.put", 4);
        assert_eq!(*map.get("Bank", "get"), 3);
        assert_eq!(*map.get("Other", "get"), 2);
        assert_eq!(*map.get("", "get"), 2);
        assert_eq!(*map.get("Shop", "put"), 4);
        assert_eq!(*map.get("Bank", "put"), 1);
    }
}
