//! gRPC on a service's port (feature `grpc`): the service's transport hands HTTP/2
//! connections to a [`rookery_grpc::Router`].

use std::net::SocketAddr;

use http_body_util::BodyExt;
use rookery_transport::{HttpBody, HttpHandler};

/// The transport's view of a gRPC router: each HTTP request answered by it.
pub(crate) fn handler(router: rookery_grpc::Router) -> impl HttpHandler {
    move |req: http::Request<hyper::body::Incoming>, peer: Option<SocketAddr>| {
        let router = router.clone();
        async move {
            router
                .handle(req, peer)
                .await
                .map(|body| -> HttpBody { body.map_err(Into::into).boxed_unsync() })
        }
    }
}
