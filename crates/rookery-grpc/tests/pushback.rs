//! gRPC's retry pushback (`grpc-retry-pushback-ms`, gRFC A6) travels from a server's response
//! metadata to the client's, also when the call failed at once (a trailers-only response),
//! so that a client's retry policy can honour it.

use bytes::Bytes;
use rookery_codec::protobuf::rpc::{ProtoRequest, ProtoResponse, ProtoStreamRequest, Streaming};
use rookery_core::{Code, Context, Service, Status};
use rookery_grpc::{
    GrpcClient, RETRY_PUSHBACK, Server,
    interop::{
        InteropService,
        proto::grpc::testing::{Empty, TestServiceClient, TestServiceServer},
    },
};
use tokio::net::TcpListener;

/// Refuses every unary call as an overloaded server would, asking for a pause first.
struct Overloaded<S>(S);

impl<S: Service<ProtoRequest, Response = ProtoResponse>> Service<ProtoRequest> for Overloaded<S> {
    type Response = ProtoResponse;

    async fn call(&self, cx: &mut Context, _req: ProtoRequest) -> Result<ProtoResponse, Status> {
        cx.response_metadata_mut().insert(RETRY_PUSHBACK, "250");
        Err(Status::resource_exhausted("too many calls"))
    }
}

impl<S> Service<ProtoStreamRequest> for Overloaded<S>
where
    S: Service<ProtoStreamRequest, Response = Streaming<Bytes>>,
{
    type Response = Streaming<Bytes>;

    async fn call(
        &self,
        cx: &mut Context,
        req: ProtoStreamRequest,
    ) -> Result<Streaming<Bytes>, Status> {
        self.0.call(cx, req).await
    }
}

#[tokio::test]
async fn a_refused_call_brings_the_servers_pushback_to_the_client() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = Overloaded(TestServiceServer::new(InteropService::default()));
    let server = Server::builder()
        .add_service(TestServiceServer::<InteropService>::SERVICE, service)
        .build();
    tokio::spawn(server.serve(listener));
    let client = TestServiceClient::new(GrpcClient::connect(addr).await.unwrap());

    let mut cx = Context::new();
    let status = client.empty_call(&mut cx, Empty {}).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(cx.response_metadata().get(RETRY_PUSHBACK), Some("250"));
}
