//! Generated Protobuf services over TTHeader, framed as Kitex frames them (feature
//! `protobuf`): the server side routes calls by method name to the same generated servers that
//! answer gRPC, and [`ProtobufClient`] lets a generated client call over it.

use std::{collections::HashMap, future::Future, sync::Arc};

use rookery_codec::protobuf::rpc::{
    MethodDescriptor, ProtoRequest, ProtoResponse, ServiceDescriptor,
};
use rookery_core::{BoxService, Context, Service, Status};
use rookery_transport::{Client, KitexProtobufRequest, KitexProtobufResponse, server::IdlService};

/// One registered service's unary methods.
#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
#[derive(Clone)]
struct Registered {
    descriptor: &'static ServiceDescriptor,
    service: BoxService<ProtoRequest, ProtoResponse>,
}

/// Routes Kitex Protobuf calls to generated servers by method name (and, when the caller
/// names it, by IDL service: TTHeader's `isn`, the full or the short name).
#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
#[derive(Clone, Default)]
pub(crate) struct ProtobufRoutes {
    services: Arc<Vec<Registered>>,
    by_method: Arc<HashMap<&'static str, Vec<usize>>>,
}

#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
impl ProtobufRoutes {
    /// Adds the unary methods of `descriptor`, answered by `service`.
    pub(crate) fn add<S>(&mut self, descriptor: &'static ServiceDescriptor, service: S)
    where
        S: Service<ProtoRequest, Response = ProtoResponse> + 'static,
    {
        let services = Arc::make_mut(&mut self.services);
        let index = services.len();
        services.push(Registered {
            descriptor,
            service: BoxService::new(service),
        });
        let by_method = Arc::make_mut(&mut self.by_method);
        for method in descriptor.methods {
            if !method.kind.client_streams() && !method.kind.server_streams() {
                by_method.entry(method.name).or_default().push(index);
            }
        }
    }

    /// Replaces each service by what `wrap` makes of it (layers around it).
    pub(crate) fn map_services(
        &mut self,
        mut wrap: impl FnMut(
            BoxService<ProtoRequest, ProtoResponse>,
        ) -> BoxService<ProtoRequest, ProtoResponse>,
    ) {
        for registered in Arc::make_mut(&mut self.services) {
            registered.service = wrap(registered.service.clone());
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    fn find(
        &self,
        method: &str,
        idl_service: Option<&str>,
    ) -> Option<(
        &'static MethodDescriptor,
        &BoxService<ProtoRequest, ProtoResponse>,
    )> {
        let candidates = self.by_method.get(method)?;
        let pick = |i: &usize| {
            let r = &self.services[*i];
            r.descriptor.method(method).map(|m| (m, &r.service))
        };
        match idl_service {
            Some(name) => candidates.iter().find_map(|i| {
                let full = self.services[*i].descriptor.name;
                let short = full.rsplit('.').next().unwrap_or(full);
                (full == name || short == name).then(|| pick(i)).flatten()
            }),
            None => candidates.first().and_then(pick),
        }
    }
}

impl Service<KitexProtobufRequest> for ProtobufRoutes {
    type Response = KitexProtobufResponse;

    fn call(
        &self,
        cx: &mut Context,
        req: KitexProtobufRequest,
    ) -> impl Future<Output = Result<KitexProtobufResponse, Status>> + Send {
        let idl_service = cx.extensions().get::<IdlService>().map(|s| s.0.clone());
        let found = self.find(&req.method, idl_service.as_deref());
        let found = found.map(|(method, service)| {
            cx.callee_mut().service = rookery_core::FastStr::from_static_str(method.service);
            (method, service.clone())
        });
        async move {
            let Some((method, service)) = found else {
                return Err(Status::unimplemented(format!(
                    "no unary Protobuf method {} here",
                    req.method
                )));
            };
            let resp = service
                .call(
                    cx,
                    ProtoRequest {
                        method,
                        body: req.body,
                    },
                )
                .await?;
            Ok(KitexProtobufResponse { body: resp.body })
        }
    }
}

/// Calls generated Protobuf clients' unary methods over TTHeader, framed as Kitex frames
/// them, through a transport [`Client`]: `GreeterClient::new(ProtobufClient::new(addr))`.
/// Rookery services that serve a Protobuf service with `serve_grpc` answer it on the same
/// port as gRPC.
#[derive(Clone, Debug)]
pub struct ProtobufClient {
    inner: Client,
}

impl ProtobufClient {
    /// A multiplexed client of `addr` with the default settings.
    pub fn new(addr: rookery_transport::Address) -> ProtobufClient {
        ProtobufClient::from_builder(Client::builder(addr))
    }

    /// A client with the settings of `builder` (timeouts, connections, TTHeader or
    /// TTHeader+framed), speaking Kitex Protobuf.
    pub fn from_builder(builder: rookery_transport::ClientBuilder) -> ProtobufClient {
        ProtobufClient {
            inner: builder.kitex_protobuf().build(),
        }
    }

    /// The transport client calls go through.
    pub fn transport(&self) -> &Client {
        &self.inner
    }
}

impl Service<ProtoRequest> for ProtobufClient {
    type Response = ProtoResponse;

    fn call(
        &self,
        cx: &mut Context,
        req: ProtoRequest,
    ) -> impl Future<Output = Result<ProtoResponse, Status>> + Send {
        let req = KitexProtobufRequest {
            method: rookery_core::FastStr::from_static_str(req.method.name),
            body: req.body,
        };
        async move {
            let resp = Service::call(&self.inner, cx, req).await?;
            Ok(ProtoResponse { body: resp.body })
        }
    }
}
