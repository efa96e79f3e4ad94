//! One service, one port, three protocols: Thrift, gRPC and Kitex Protobuf over TTHeader
//! answered on the same address (the last two by one handler), and a graceful stop that
//! lets a gRPC call in flight finish.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use rookery::{
    Address, Client, Context, Framing, ProtobufClient, Protocol, Router, Service, Status,
    codec::protobuf::codegen::{BoxStream, Streaming},
    core::service_fn,
    grpc::{
        GrpcClient,
        interop::proto::grpc::testing::{
            Empty, Payload, SimpleRequest, SimpleResponse, StreamingInputCallRequest,
            StreamingInputCallResponse, StreamingOutputCallRequest, StreamingOutputCallResponse,
            TestService, TestServiceClient, TestServiceServer,
        },
    },
    transport::{ThriftRequest, ThriftResponse},
};
use tokio::sync::Notify;

/// Echoes the payload of `UnaryCall`; when the request asks for a response of 1 byte, waits
/// until told before answering (a call in flight while the service stops).
#[derive(Clone, Default)]
struct Handler {
    started: Arc<Notify>,
    release: Arc<Notify>,
}

impl TestService for Handler {
    async fn empty_call(&self, _: &mut Context, _: Empty) -> Result<Empty, Status> {
        Ok(Empty::default())
    }

    async fn unary_call(
        &self,
        _: &mut Context,
        request: SimpleRequest,
    ) -> Result<SimpleResponse, Status> {
        if request.response_size == 1 {
            self.started.notify_one();
            self.release.notified().await;
        }
        Ok(SimpleResponse {
            payload: request.payload,
            ..SimpleResponse::default()
        })
    }

    async fn cacheable_unary_call(
        &self,
        cx: &mut Context,
        request: SimpleRequest,
    ) -> Result<SimpleResponse, Status> {
        self.unary_call(cx, request).await
    }

    async fn streaming_output_call(
        &self,
        _: &mut Context,
        _: StreamingOutputCallRequest,
    ) -> Result<BoxStream<StreamingOutputCallResponse>, Status> {
        Err(Status::unimplemented("not here"))
    }

    async fn streaming_input_call(
        &self,
        _: &mut Context,
        _: Streaming<StreamingInputCallRequest>,
    ) -> Result<StreamingInputCallResponse, Status> {
        Err(Status::unimplemented("not here"))
    }

    async fn full_duplex_call(
        &self,
        _: &mut Context,
        _: Streaming<StreamingOutputCallRequest>,
    ) -> Result<BoxStream<StreamingOutputCallResponse>, Status> {
        Err(Status::unimplemented("not here"))
    }

    async fn half_duplex_call(
        &self,
        _: &mut Context,
        _: Streaming<StreamingOutputCallRequest>,
    ) -> Result<BoxStream<StreamingOutputCallResponse>, Status> {
        Err(Status::unimplemented("not here"))
    }

    async fn unimplemented_call(&self, _: &mut Context, _: Empty) -> Result<Empty, Status> {
        Err(Status::unimplemented("not here"))
    }
}

/// A Thrift service that echoes its arguments struct.
fn thrift_router() -> Router {
    Router::new().add_service_named(
        "Echo",
        &["echo"],
        service_fn(|_cx: &mut Context, req: ThriftRequest| async move {
            Ok::<_, Status>(ThriftResponse {
                protocol: req.protocol,
                body: req.body,
                limits: req.limits,
            })
        }),
    )
}

fn socket(addr: &Address) -> SocketAddr {
    match addr {
        Address::Tcp(sock) => *sock,
        other => panic!("expected a TCP address, got {other}"),
    }
}

fn request(text: &'static [u8], response_size: i32) -> SimpleRequest {
    SimpleRequest {
        response_size,
        payload: Some(Payload {
            body: Bytes::from_static(text),
            ..Payload::default()
        }),
        ..SimpleRequest::default()
    }
}

async fn start(handler: Handler) -> rookery::RunningService {
    Service::builder("both")
        .no_registry()
        .router(thrift_router())
        .serve_grpc(
            TestServiceServer::<Handler>::SERVICE,
            TestServiceServer::new(handler),
        )
        .drain_timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn thrift_and_grpc_clients_are_answered_on_one_port() {
    let running = start(Handler::default()).await;
    let addr = running.local_addr().clone();

    // Thrift: an empty arguments struct (binary: one STOP byte), echoed back.
    let thrift = Client::builder(addr.clone()).build();
    let req = ThriftRequest {
        method: "echo".into(),
        oneway: false,
        protocol: Protocol::Binary,
        body: Bytes::from_static(&[0]),
        limits: Default::default(),
    };
    let resp = rookery::core::Service::call(&thrift, &mut Context::new(), req)
        .await
        .unwrap();
    assert_eq!(&resp.body[..], &[0]);

    // gRPC, on the same address, with the generated client.
    let channel = GrpcClient::connect(socket(&addr)).await.unwrap();
    let grpc = TestServiceClient::new(channel);
    let reply = grpc
        .unary_call(&mut Context::new(), request(b"hello", 0))
        .await
        .unwrap();
    assert_eq!(&reply.payload.unwrap().body[..], b"hello");
    let status = grpc
        .unimplemented_call(&mut Context::new(), Empty::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), rookery::Code::Unimplemented);

    // HTTP/1 health checks are still the server's own.
    let mut http = tokio::net::TcpStream::connect(socket(&addr)).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    http.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    http.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");

    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_graceful_stop_finishes_the_grpc_call_in_flight() {
    let handler = Handler::default();
    let running = start(handler.clone()).await;
    let addr = socket(running.local_addr());
    let channel = GrpcClient::connect(addr).await.unwrap();
    let grpc = TestServiceClient::new(channel);

    let call = tokio::spawn(async move {
        grpc.unary_call(&mut Context::new(), request(b"slow", 1))
            .await
    });
    handler.started.notified().await;
    let stop = tokio::spawn(running.stop());
    // The stop waits for the call: it is not done while the handler holds the call.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !stop.is_finished(),
        "the stop must wait for the call in flight"
    );
    handler.release.notify_one();
    let reply = call.await.unwrap().unwrap();
    assert_eq!(&reply.payload.unwrap().body[..], b"slow");
    tokio::time::timeout(Duration::from_secs(10), stop)
        .await
        .expect("the stop ends once the call is answered")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn one_handler_answers_grpc_and_kitex_protobuf_on_one_port() {
    let running = start(Handler::default()).await;
    let addr = running.local_addr().clone();

    for framing in [Framing::TTHeader, Framing::TTHeaderFramed] {
        let client = ProtobufClient::from_builder(Client::builder(addr.clone()).framing(framing));
        let pb = TestServiceClient::new(client);
        let reply = pb
            .unary_call(&mut Context::new(), request(b"over ttheader", 0))
            .await
            .unwrap();
        assert_eq!(
            &reply.payload.unwrap().body[..],
            b"over ttheader",
            "{framing:?}"
        );
        pb.empty_call(&mut Context::new(), Empty::default())
            .await
            .unwrap();
        // The handler's status comes back with its code and message.
        let status = pb
            .unimplemented_call(&mut Context::new(), Empty::default())
            .await
            .unwrap_err();
        assert_eq!(status.code(), rookery::Code::Unimplemented);
        assert!(status.message().contains("not here"), "{status}");
        // A deadline travels: a call that waits past it ends DEADLINE_EXCEEDED.
        let mut cx = Context::new();
        cx.shorten_deadline(Duration::from_millis(100));
        let status = pb
            .unary_call(&mut cx, request(b"slow", 1))
            .await
            .unwrap_err();
        assert_eq!(status.code(), rookery::Code::DeadlineExceeded);
    }

    // Streaming methods are not served over TTHeader: the caller is told so.
    let client = ProtobufClient::new(addr.clone());
    let req = rookery::codec::protobuf::rpc::ProtoRequest {
        method: &TestServiceServer::<Handler>::SERVICE.methods[3],
        body: Bytes::new(),
    };
    let status = rookery::core::Service::call(&client, &mut Context::new(), req)
        .await
        .unwrap_err();
    assert_eq!(status.code(), rookery::Code::Unimplemented);

    // And gRPC still answers beside it.
    let channel = GrpcClient::connect(socket(&addr)).await.unwrap();
    let reply = TestServiceClient::new(channel)
        .unary_call(&mut Context::new(), request(b"over grpc", 0))
        .await
        .unwrap();
    assert_eq!(&reply.payload.unwrap().body[..], b"over grpc");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_server_without_protobuf_refuses_kitex_protobuf_calls_and_stays_up() {
    let running = Service::builder("thrift-only")
        .no_registry()
        .router(thrift_router())
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let pb = TestServiceClient::new(ProtobufClient::new(running.local_addr().clone()));
    for _ in 0..2 {
        let status = pb
            .empty_call(&mut Context::new(), Empty::default())
            .await
            .unwrap_err();
        assert_eq!(status.code(), rookery::Code::Unimplemented, "{status}");
    }
    running.stop().await.unwrap();
}

#[tokio::test]
async fn the_registry_records_both_protocols_and_clients_choose() {
    use rookery::{
        BalancedClient,
        registry::{Discover, Query, embedded::Embedded, protocol},
    };
    let registry = Arc::new(Embedded::new());
    let running = Service::builder("both")
        .registry(registry.clone())
        .router(thrift_router())
        .serve_grpc(
            TestServiceServer::<Handler>::SERVICE,
            TestServiceServer::new(Handler::default()),
        )
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let addr = running.local_addr().to_string();
    let found = registry.resolve(&Query::service("both")).await.unwrap();
    let instance = &found[0];
    assert_eq!(instance.address(protocol::THRIFT), Some(&*addr));
    assert_eq!(instance.address(protocol::GRPC), Some(&*addr));

    // A client of the gRPC protocol picks the gRPC address, and calls it.
    let balanced = BalancedClient::builder("both")
        .protocol(protocol::GRPC)
        .discover(&*registry)
        .await
        .unwrap();
    let picked = balanced.pick(None).expect("an instance");
    let channel = GrpcClient::connect(&**picked.address()).await.unwrap();
    let reply = TestServiceClient::new(channel)
        .unary_call(&mut Context::new(), request(b"found", 0))
        .await
        .unwrap();
    assert_eq!(&reply.payload.unwrap().body[..], b"found");
    // A client of a protocol no instance serves finds none.
    let none = BalancedClient::builder("both")
        .protocol(protocol::HTTP)
        .discover(&*registry)
        .await
        .unwrap();
    assert!(none.pick(None).is_none());
    running.stop().await.unwrap();
}
