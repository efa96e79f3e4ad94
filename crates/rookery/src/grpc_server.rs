//! gRPC on a service's port (feature `grpc`): the service's transport hands HTTP/2
//! connections, and HTTP/1 requests other than its own health checks, to a
//! [`rookery_grpc::Router`] — with the standard health and reflection services added, and
//! gRPC-Web answered beside it when asked for.

use std::net::SocketAddr;

use http_body_util::BodyExt;
use rookery_grpc::{
    Router,
    health::{HealthReporter, HealthServer},
    reflection::{
        Reflection,
        proto::grpc::reflection::{v1, v1alpha},
    },
    web::{Cors, GrpcWeb},
};
use rookery_transport::{HttpBody, HttpHandler};

use crate::Error;

/// What the facade serves beside a service's own gRPC services.
#[derive(Debug)]
pub(crate) struct GrpcOptions {
    /// The full names of the services served with `serve_grpc`: health answers for each.
    pub(crate) names: Vec<&'static str>,
    /// The encoded descriptor sets reflection answers from.
    pub(crate) descriptor_sets: Vec<&'static [u8]>,
    /// Whether server reflection is served.
    pub(crate) reflection: bool,
    /// gRPC-Web's CORS rules, when it is served.
    pub(crate) web: Option<Cors>,
}

impl Default for GrpcOptions {
    fn default() -> Self {
        GrpcOptions {
            names: Vec::new(),
            descriptor_sets: Vec::new(),
            reflection: true,
            web: None,
        }
    }
}

/// A router ready to serve: the service's, with health (and reflection) added.
pub(crate) struct Prepared {
    pub(crate) router: Router,
    pub(crate) health: HealthReporter,
    pub(crate) web: Option<Cors>,
}

impl GrpcOptions {
    /// Adds `grpc.health.v1.Health` (answering for `""` and each served name) and, unless
    /// turned off, server reflection v1 and v1alpha over the descriptor sets given.
    pub(crate) fn prepare(self, router: Router) -> Result<Prepared, Error> {
        let health = HealthReporter::new();
        for name in &self.names {
            health.add_service(*name);
        }
        let mut router = router.add_service(
            HealthServer::<HealthReporter>::SERVICE,
            HealthServer::new(health.clone()),
        );
        if self.reflection {
            let mut reflection = Reflection::new()
                .register_file_descriptor_set(rookery_grpc::health::FILE_DESCRIPTOR_SET)
                .map_err(|e| Error::with_source("the health service's descriptors", e))?;
            for set in self.descriptor_sets {
                reflection = reflection
                    .register_file_descriptor_set(set)
                    .map_err(|e| Error::with_source("a descriptor set given to reflect()", e))?;
            }
            if !self.names.is_empty() {
                // The services served, not every service of the files (their imports may
                // declare others).
                let mut listed: Vec<&str> = self.names.clone();
                listed.push(rookery_grpc::health::SERVICE_NAME);
                reflection = reflection.list_services(listed);
            }
            router = router
                .add_service(
                    v1::ServerReflectionServer::<Reflection>::SERVICE,
                    reflection.v1(),
                )
                .add_service(
                    v1alpha::ServerReflectionServer::<Reflection>::SERVICE,
                    reflection.v1alpha(),
                );
        }
        Ok(Prepared {
            router,
            health,
            web: self.web,
        })
    }
}

/// The transport's view of a gRPC router: each HTTP request answered by it, or by gRPC-Web
/// when `web` is set and the request is one of its (its content type, or a CORS preflight).
pub(crate) fn handler(router: Router, web: Option<Cors>) -> impl HttpHandler {
    let web = web.map(|cors| GrpcWeb::new(router.clone(), cors));
    move |req: http::Request<hyper::body::Incoming>, peer: Option<SocketAddr>| {
        let router = router.clone();
        let web = web.clone();
        async move {
            match web {
                Some(web) if GrpcWeb::is_grpc_web(&req) => web
                    .handle(req, peer)
                    .await
                    .map(|body| -> HttpBody { body.map_err(Into::into).boxed_unsync() }),
                _ if req.version() < http::Version::HTTP_2 && is_grpc(&req) => {
                    // gRPC needs HTTP/2's trailers.
                    let mut response = http::Response::new(HttpBody::default());
                    *response.status_mut() = http::StatusCode::HTTP_VERSION_NOT_SUPPORTED;
                    response
                }
                _ => router
                    .handle(req, peer)
                    .await
                    .map(|body| -> HttpBody { body.map_err(Into::into).boxed_unsync() }),
            }
        }
    }
}

/// Whether `req` says it is gRPC (`application/grpc`, `application/grpc+proto`...), not
/// gRPC-Web.
fn is_grpc<B>(req: &http::Request<B>) -> bool {
    req.headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|t| {
            let t = t.as_bytes();
            t.get(..16)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"application/grpc"))
                && !t
                    .get(..20)
                    .is_some_and(|p| p.eq_ignore_ascii_case(b"application/grpc-web"))
        })
}
