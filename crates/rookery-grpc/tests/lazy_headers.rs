//! Client-streaming and bidirectional calls return before the server has answered anything:
//! against a server that sends nothing, not even its response headers, until it has read a
//! request, a client that awaits the call before feeding it completes.

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use rookery_codec::protobuf::{
    ProtoMessage,
    rpc::{BoxStream, ProtoStreamRequest, Streaming},
};
use rookery_core::{Code, Context, Service, Status};
use rookery_grpc::{
    GrpcClient, ResponseHeaders, Server, Trailers,
    interop::{
        InteropService,
        proto::grpc::testing::{
            EchoStatus, Empty, ResponseParameters, SimpleRequest, SimpleResponse,
            StreamingInputCallRequest, StreamingInputCallResponse, StreamingOutputCallRequest,
            StreamingOutputCallResponse, TestService, TestServiceClient, TestServiceServer,
            test_service_descriptor,
        },
    },
};
use tokio::{net::TcpListener, sync::mpsc};

/// `TestService` whose full-duplex and client-streaming handlers read a request before they
/// return, so that the server sends its response headers only after a request has arrived.
/// Its other methods are the interop service's.
#[derive(Clone, Default)]
struct Silent {
    interop: InteropService,
}

const INITIAL: &str = "x-silent-initial";

impl TestService for Silent {
    async fn empty_call(&self, cx: &mut Context, request: Empty) -> Result<Empty, Status> {
        self.interop.empty_call(cx, request).await
    }

    async fn unary_call(
        &self,
        cx: &mut Context,
        request: SimpleRequest,
    ) -> Result<SimpleResponse, Status> {
        self.interop.unary_call(cx, request).await
    }

    async fn cacheable_unary_call(
        &self,
        cx: &mut Context,
        request: SimpleRequest,
    ) -> Result<SimpleResponse, Status> {
        self.interop.cacheable_unary_call(cx, request).await
    }

    async fn streaming_output_call(
        &self,
        cx: &mut Context,
        request: StreamingOutputCallRequest,
    ) -> Result<BoxStream<StreamingOutputCallResponse>, Status> {
        self.interop.streaming_output_call(cx, request).await
    }

    async fn streaming_input_call(
        &self,
        cx: &mut Context,
        mut requests: Streaming<StreamingInputCallRequest>,
    ) -> Result<StreamingInputCallResponse, Status> {
        let mut count = 0;
        while let Some(request) = requests.message().await? {
            if count == 0 {
                cx.response_metadata_mut().insert(INITIAL, "first");
            }
            count += request.payload.map_or(0, |p| p.body.len());
        }
        Ok(StreamingInputCallResponse {
            aggregated_payload_size: i32::try_from(count).unwrap_or(i32::MAX),
        })
    }

    async fn full_duplex_call(
        &self,
        cx: &mut Context,
        mut requests: Streaming<StreamingOutputCallRequest>,
    ) -> Result<BoxStream<StreamingOutputCallResponse>, Status> {
        // Nothing goes out, headers included, before the first request is in.
        let Some(first) = requests.message().await? else {
            return Ok(Box::pin(stream::empty()));
        };
        if let Some(status) = first.response_status {
            return Err(Status::new(
                Code::from_i32(status.code),
                status.message.to_string(),
            ));
        }
        cx.response_metadata_mut()
            .insert(INITIAL, "after the first request");
        let responses = stream::unfold(
            (Some(first), requests),
            |(pending, mut requests)| async move {
                let request = match pending {
                    Some(request) => request,
                    None => match requests.message().await {
                        Ok(Some(request)) => request,
                        Ok(None) => return None,
                        Err(status) => return Some((Err(status), (None, requests))),
                    },
                };
                Some((Ok(answer(&request)), (None, requests)))
            },
        );
        Ok(Box::pin(responses))
    }

    async fn half_duplex_call(
        &self,
        cx: &mut Context,
        requests: Streaming<StreamingOutputCallRequest>,
    ) -> Result<BoxStream<StreamingOutputCallResponse>, Status> {
        self.interop.half_duplex_call(cx, requests).await
    }

    async fn unimplemented_call(&self, cx: &mut Context, request: Empty) -> Result<Empty, Status> {
        self.interop.unimplemented_call(cx, request).await
    }
}

/// One response whose payload is as long as the request asks.
fn answer(request: &StreamingOutputCallRequest) -> StreamingOutputCallResponse {
    let size = request.response_parameters.first().map_or(0, |p| p.size);
    StreamingOutputCallResponse {
        payload: Some(rookery_grpc::interop::proto::grpc::testing::Payload {
            body: vec![0; usize::try_from(size).unwrap_or(0)].into(),
            ..Default::default()
        }),
    }
}

fn request(size: i32) -> StreamingOutputCallRequest {
    StreamingOutputCallRequest {
        response_parameters: vec![ResponseParameters {
            size,
            ..ResponseParameters::default()
        }],
        ..StreamingOutputCallRequest::default()
    }
}

async fn start() -> GrpcClient {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .add_service(
            TestServiceServer::<Silent>::SERVICE,
            TestServiceServer::new(Silent::default()),
        )
        .build();
    tokio::spawn(server.serve(listener));
    GrpcClient::connect(addr).await.unwrap()
}

/// A request stream fed by hand.
fn channel<T: Send + 'static>() -> (
    mpsc::UnboundedSender<Result<T, Status>>,
    impl futures_core::Stream<Item = Result<T, Status>> + Send + 'static,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let requests = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
    (tx, requests)
}

/// `f`, which must not hang: a generous bound, so that a deadlock fails the test instead of
/// stalling it.
async fn soon<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("no deadlock")
}

#[tokio::test]
async fn a_bidi_call_awaited_before_its_first_request_completes() {
    let client = TestServiceClient::new(start().await);
    let (tx, requests) = channel();
    let headers = ResponseHeaders::new();
    let trailers = Trailers::new();
    let mut cx = Context::new();
    cx.extensions_mut().insert(headers.clone());
    cx.extensions_mut().insert(trailers.clone());

    // The server has sent nothing yet: the call returns all the same.
    let mut responses = soon(client.full_duplex_call(&mut cx, requests))
        .await
        .unwrap();
    assert!(!headers.has_arrived());

    for size in [3, 0, 1000] {
        tx.send(Ok(request(size))).unwrap();
        let response = soon(responses.message()).await.unwrap().unwrap();
        assert_eq!(response.payload.unwrap().body.len(), size as usize);
        // The headers, read with the first response, are in the handle.
        let initial = headers.get().expect("the headers have arrived");
        assert_eq!(initial.get(INITIAL), Some("after the first request"));
    }
    drop(tx);
    assert!(soon(responses.message()).await.unwrap().is_none());
}

#[tokio::test]
async fn a_failure_before_the_headers_is_the_first_item_of_the_stream() {
    let client = TestServiceClient::new(start().await);
    let (tx, requests) = channel();
    let headers = ResponseHeaders::new();
    let mut cx = Context::new();
    cx.extensions_mut().insert(headers.clone());
    let mut responses = soon(client.full_duplex_call(&mut cx, requests))
        .await
        .unwrap();
    tx.send(Ok(StreamingOutputCallRequest {
        response_status: Some(EchoStatus {
            code: Code::PermissionDenied.as_i32(),
            message: "not you".into(),
        }),
        ..StreamingOutputCallRequest::default()
    }))
    .unwrap();
    let err = soon(responses.message()).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(err.message(), "not you");
    // Trailers-only: an answer came, with no headers of its own.
    assert_eq!(headers.get().map(|m| m.len()), Some(0));
    assert!(soon(responses.message()).await.unwrap().is_none());
}

#[tokio::test]
async fn a_bidi_call_to_a_method_nobody_serves_fails_in_its_stream() {
    let channel = start().await;
    let (_tx, requests) = channel_of_bytes();
    let req = ProtoStreamRequest {
        method: &UNSERVED,
        messages: Streaming::new(requests),
    };
    let mut responses = soon(channel.call(&mut Context::new(), req)).await.unwrap();
    let err = soon(responses.message()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
}

static UNSERVED: rookery_codec::protobuf::rpc::MethodDescriptor =
    rookery_codec::protobuf::rpc::MethodDescriptor {
        service: "grpc.testing.Nobody",
        name: "Chat",
        path: "/grpc.testing.Nobody/Chat",
        kind: rookery_codec::protobuf::rpc::MethodKind::BidiStreaming,
        request: "grpc.testing.Empty",
        response: "grpc.testing.Empty",
    };

fn channel_of_bytes() -> (
    mpsc::UnboundedSender<Result<Bytes, Status>>,
    impl futures_core::Stream<Item = Result<Bytes, Status>> + Send + 'static,
) {
    channel()
}

#[tokio::test]
async fn a_client_streaming_call_returns_before_its_first_request() {
    let channel = start().await;
    let (tx, requests) = channel_of_bytes();
    let headers = ResponseHeaders::new();
    let mut cx = Context::new();
    cx.extensions_mut().insert(headers.clone());
    let req = ProtoStreamRequest {
        method: test_service_descriptor::STREAMING_INPUT_CALL,
        messages: Streaming::new(requests),
    };
    let responses = soon(channel.call(&mut cx, req)).await.unwrap();
    assert!(!headers.has_arrived());
    for size in [5, 7] {
        let request = StreamingInputCallRequest {
            payload: Some(rookery_grpc::interop::proto::grpc::testing::Payload {
                body: vec![0; size].into(),
                ..Default::default()
            }),
            ..StreamingInputCallRequest::default()
        };
        tx.send(Ok(request.encode_to_bytes())).unwrap();
    }
    drop(tx);
    let response = soon(responses.single()).await.unwrap();
    let response = StreamingInputCallResponse::decode(response).unwrap();
    assert_eq!(response.aggregated_payload_size, 12);
    let initial = headers.get().expect("the headers have arrived");
    assert_eq!(initial.get(INITIAL), Some("first"));
}
