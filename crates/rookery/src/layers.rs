//! Server layers on a [`ServiceBuilder`](crate::ServiceBuilder): one layer value put around
//! every service the builder serves, whatever the protocol it is reached over.

use std::{fmt, sync::Arc};

use rookery_core::{BoxService, Context, Layer, Service, Status};
use rookery_transport::{Router, ThriftRequest, ThriftResponse};

use crate::pubsub::{Delivered, Handled, MessageService};

/// A Thrift service with its type erased: what server layers wrap on the Thrift side.
pub type ThriftService = BoxService<ThriftRequest, ThriftResponse>;

/// A layer the [`ServiceBuilder`](crate::ServiceBuilder) can put around every service it
/// serves: Thrift services, and with feature `grpc` the generated Protobuf services reached
/// over gRPC and Kitex Protobuf. Every layer of `rookery-middleware` is one (they are generic
/// over the request); a layer of your own is one when it wraps every kind of service:
/// Thrift, Protobuf (with `grpc`), and subscription handlers ([`MessageService`]).
pub trait ServerLayer: Send + Sync + 'static {
    /// Wraps a Thrift service.
    fn wrap_thrift(&self, service: ThriftService) -> ThriftService;

    /// Wraps a subscription handler: each delivery is a call (see [`crate::pubsub`]).
    fn wrap_message(&self, service: MessageService) -> MessageService;

    /// Wraps a Protobuf service (unary and streaming sides).
    #[cfg(feature = "grpc")]
    fn wrap_grpc(&self, service: GrpcServiceBox) -> GrpcServiceBox;
}

#[cfg(not(feature = "grpc"))]
impl<L> ServerLayer for L
where
    L: Layer<ThriftService> + Layer<MessageService> + Send + Sync + 'static,
    <L as Layer<ThriftService>>::Service:
        Service<ThriftRequest, Response = ThriftResponse> + 'static,
    <L as Layer<MessageService>>::Service: Service<Delivered, Response = Handled> + 'static,
{
    fn wrap_thrift(&self, service: ThriftService) -> ThriftService {
        BoxService::new(Layer::<ThriftService>::layer(self, service))
    }

    fn wrap_message(&self, service: MessageService) -> MessageService {
        BoxService::new(Layer::<MessageService>::layer(self, service))
    }
}

#[cfg(feature = "grpc")]
impl<L> ServerLayer for L
where
    L: Layer<ThriftService> + Layer<GrpcServiceBox> + Layer<MessageService> + Send + Sync + 'static,
    <L as Layer<ThriftService>>::Service:
        Service<ThriftRequest, Response = ThriftResponse> + 'static,
    <L as Layer<GrpcServiceBox>>::Service: rookery_grpc::GrpcService + Send + Sync,
    <L as Layer<MessageService>>::Service: Service<Delivered, Response = Handled> + 'static,
{
    fn wrap_thrift(&self, service: ThriftService) -> ThriftService {
        BoxService::new(Layer::<ThriftService>::layer(self, service))
    }

    fn wrap_message(&self, service: MessageService) -> MessageService {
        BoxService::new(Layer::<MessageService>::layer(self, service))
    }

    fn wrap_grpc(&self, service: GrpcServiceBox) -> GrpcServiceBox {
        GrpcServiceBox::new(Layer::<GrpcServiceBox>::layer(self, service))
    }
}

/// A Protobuf service with its type erased, both sides (feature `grpc`).
#[cfg(feature = "grpc")]
#[derive(Clone, Debug)]
pub struct GrpcServiceBox {
    unary: BoxService<
        rookery_codec::protobuf::rpc::ProtoRequest,
        rookery_codec::protobuf::rpc::ProtoResponse,
    >,
    streaming: BoxService<
        rookery_codec::protobuf::rpc::ProtoStreamRequest,
        rookery_codec::protobuf::rpc::Streaming<bytes::Bytes>,
    >,
}

#[cfg(feature = "grpc")]
mod grpc_box {
    use bytes::Bytes;
    use rookery_codec::protobuf::rpc::{
        ProtoRequest, ProtoResponse, ProtoStreamRequest, Streaming,
    };
    use rookery_core::{BoxService, Context, Service, Status};

    use super::GrpcServiceBox;

    impl GrpcServiceBox {
        /// Erases the type of `service`.
        pub fn new<S: rookery_grpc::GrpcService + Send + Sync>(service: S) -> Self {
            let service = std::sync::Arc::new(service);
            GrpcServiceBox {
                unary: BoxService::new(std::sync::Arc::clone(&service)),
                streaming: BoxService::new(service),
            }
        }

        pub(crate) fn from_parts(
            unary: BoxService<ProtoRequest, ProtoResponse>,
            streaming: BoxService<ProtoStreamRequest, Streaming<Bytes>>,
        ) -> Self {
            GrpcServiceBox { unary, streaming }
        }

        pub(crate) fn into_parts(
            self,
        ) -> (
            BoxService<ProtoRequest, ProtoResponse>,
            BoxService<ProtoStreamRequest, Streaming<Bytes>>,
        ) {
            (self.unary, self.streaming)
        }
    }

    impl Service<ProtoRequest> for GrpcServiceBox {
        type Response = ProtoResponse;

        async fn call(&self, cx: &mut Context, req: ProtoRequest) -> Result<ProtoResponse, Status> {
            self.unary.call(cx, req).await
        }
    }

    impl Service<ProtoStreamRequest> for GrpcServiceBox {
        type Response = Streaming<Bytes>;

        async fn call(
            &self,
            cx: &mut Context,
            req: ProtoStreamRequest,
        ) -> Result<Streaming<Bytes>, Status> {
            self.streaming.call(cx, req).await
        }
    }
}

/// The layers of a builder, the first added outermost.
#[derive(Clone, Default)]
pub(crate) struct ServerLayers(Vec<Arc<dyn ServerLayer>>);

impl fmt::Debug for ServerLayers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerLayers({})", self.0.len())
    }
}

impl ServerLayers {
    pub(crate) fn push(&mut self, layer: Arc<dyn ServerLayer>) {
        self.0.push(layer);
    }

    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `router` inside every layer: the last added wraps it first.
    pub(crate) fn thrift(&self, router: Router) -> Routed {
        if self.0.is_empty() {
            return Routed::Plain(router);
        }
        let mut service = BoxService::new(router);
        for layer in self.0.iter().rev() {
            service = layer.wrap_thrift(service);
        }
        Routed::Layered(service)
    }

    /// A subscription handler inside every layer, the last added innermost.
    pub(crate) fn message(&self, mut service: MessageService) -> MessageService {
        for layer in self.0.iter().rev() {
            service = layer.wrap_message(service);
        }
        service
    }

    #[cfg(feature = "grpc")]
    pub(crate) fn grpc(&self, mut service: GrpcServiceBox) -> GrpcServiceBox {
        for layer in self.0.iter().rev() {
            service = layer.wrap_grpc(service);
        }
        service
    }
}

/// The Thrift side of a service as served: the router alone (no boxing per call), or inside
/// its layers.
#[derive(Clone, Debug)]
pub(crate) enum Routed {
    Plain(Router),
    Layered(ThriftService),
}

impl Service<ThriftRequest> for Routed {
    type Response = ThriftResponse;

    async fn call(&self, cx: &mut Context, req: ThriftRequest) -> Result<ThriftResponse, Status> {
        match self {
            Routed::Plain(router) => router.call(cx, req).await,
            Routed::Layered(service) => service.call(cx, req).await,
        }
    }
}
