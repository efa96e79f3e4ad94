//! Calls of all four kinds pass through an observing layer on both sides of a real gRPC
//! connection: the server's observer (wrapping the generated server in the router) and the
//! client's (wrapping `GrpcClient`) each see the call open, every message both ways, and its
//! close, whether it ends well, fails, or is cancelled by dropping it.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_util::stream;
use rookery_codec::protobuf::{
    observe::{CallObserver, Direction, Observe, ObserveLayer, StreamObserver},
    rpc::{MethodDescriptor, Streaming},
};
use rookery_core::{Code, Context, Layer, Status};
use rookery_grpc::{
    GrpcClient, Server,
    interop::{
        InteropService,
        proto::grpc::testing::{
            EchoStatus, Payload, ResponseParameters, SimpleRequest, StreamingInputCallRequest,
            StreamingOutputCallRequest, TestServiceClient, TestServiceServer,
        },
    },
};
use tokio::{net::TcpListener, sync::mpsc};

/// What one call was seen to do.
#[derive(Clone, Debug, Default)]
struct Record {
    method: &'static str,
    requests: usize,
    responses: usize,
    /// Every close reported: exactly one is expected.
    closes: Vec<Result<(), Code>>,
}

/// Records every call.
#[derive(Default)]
struct Counting {
    calls: Mutex<Vec<Arc<Mutex<Record>>>>,
}

struct CountingCall(Arc<Mutex<Record>>);

impl StreamObserver for Counting {
    type Call = CountingCall;

    fn on_open(&self, _: &Context, method: &'static MethodDescriptor) -> CountingCall {
        let record = Arc::new(Mutex::new(Record {
            method: method.name,
            ..Record::default()
        }));
        self.calls.lock().unwrap().push(Arc::clone(&record));
        CountingCall(record)
    }
}

impl CallObserver for CountingCall {
    fn on_message(&self, direction: Direction, _: &Bytes) {
        let mut record = self.0.lock().unwrap();
        match direction {
            Direction::Request => record.requests += 1,
            Direction::Response => record.responses += 1,
        }
    }

    fn on_close(&self, result: &Result<(), Status>) {
        let closed = result.as_ref().map(|_| ()).map_err(Status::code);
        self.0.lock().unwrap().closes.push(closed);
    }
}

impl Counting {
    /// The one call seen, once it has closed.
    async fn closed_call(&self) -> Record {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            {
                let calls = self.calls.lock().unwrap();
                assert!(calls.len() <= 1, "{} calls seen", calls.len());
                if let Some(call) = calls.first() {
                    let record = call.lock().unwrap().clone();
                    if !record.closes.is_empty() {
                        return record;
                    }
                }
            }
            assert!(Instant::now() < deadline, "the call closes");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

type Client = TestServiceClient<Observe<GrpcClient, Counting>>;

struct Sides {
    client: Client,
    client_seen: Arc<Counting>,
    server_seen: Arc<Counting>,
}

async fn start() -> Sides {
    let server_seen = Arc::new(Counting::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = ObserveLayer::from_arc(Arc::clone(&server_seen))
        .layer(TestServiceServer::new(InteropService::new()));
    let server = Server::builder()
        .add_service(TestServiceServer::<InteropService>::SERVICE, service)
        .build();
    tokio::spawn(server.serve(listener));
    let client_seen = Arc::new(Counting::default());
    let channel = GrpcClient::connect(addr).await.unwrap();
    let client =
        TestServiceClient::new(ObserveLayer::from_arc(Arc::clone(&client_seen)).layer(channel));
    Sides {
        client,
        client_seen,
        server_seen,
    }
}

impl Sides {
    /// Both sides saw one call of `method` with these many messages each way, and closed it
    /// once: the client as `client`, the server as `server` (`None`: with any error).
    async fn check(
        &self,
        method: &str,
        requests: usize,
        responses: usize,
        client: Result<(), Code>,
        server: Option<Result<(), Code>>,
    ) {
        for (side, seen, expected) in [
            ("client", &self.client_seen, Some(client)),
            ("server", &self.server_seen, server),
        ] {
            let record = seen.closed_call().await;
            assert_eq!(record.method, method, "{side}");
            assert_eq!(record.requests, requests, "{side}: requests");
            assert_eq!(record.responses, responses, "{side}: responses");
            // Nothing more arrives later.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let record = seen.closed_call().await;
            assert_eq!(record.closes.len(), 1, "{side}: {:?}", record.closes);
            match expected {
                Some(expected) => assert_eq!(record.closes[0], expected, "{side}"),
                None => assert!(record.closes[0].is_err(), "{side}: {:?}", record.closes),
            }
        }
    }
}

fn payload(size: usize) -> Option<Payload> {
    Some(Payload {
        body: vec![0; size].into(),
        ..Payload::default()
    })
}

fn failing() -> Option<EchoStatus> {
    Some(EchoStatus {
        code: Code::Unknown.as_i32(),
        message: "asked to fail".into(),
    })
}

fn asking(sizes: &[i32]) -> StreamingOutputCallRequest {
    StreamingOutputCallRequest {
        response_parameters: sizes
            .iter()
            .map(|&size| ResponseParameters {
                size,
                ..ResponseParameters::default()
            })
            .collect(),
        ..StreamingOutputCallRequest::default()
    }
}

/// A request stream fed by hand.
fn channel<T: Send + 'static>() -> (
    mpsc::UnboundedSender<T>,
    impl futures_core::Stream<Item = Result<T, Status>> + Send + 'static,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let requests = stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|m| (Ok(m), rx)) },
    );
    (tx, requests)
}

#[tokio::test]
async fn unary_ok_and_error() {
    let sides = start().await;
    let request = SimpleRequest {
        response_size: 10,
        payload: payload(5),
        ..SimpleRequest::default()
    };
    sides
        .client
        .unary_call(&mut Context::new(), request)
        .await
        .unwrap();
    sides.check("UnaryCall", 1, 1, Ok(()), Some(Ok(()))).await;

    let sides = start().await;
    let request = SimpleRequest {
        response_status: failing(),
        ..SimpleRequest::default()
    };
    let err = sides
        .client
        .unary_call(&mut Context::new(), request)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unknown);
    sides
        .check(
            "UnaryCall",
            1,
            0,
            Err(Code::Unknown),
            Some(Err(Code::Unknown)),
        )
        .await;
}

#[tokio::test]
async fn unary_cancelled_by_drop() {
    let sides = start().await;
    let request = SimpleRequest {
        response_size: 10,
        ..SimpleRequest::default()
    };
    let mut cx = Context::new();
    let call = sides.client.unary_call(&mut cx, request);
    // Polled once, so that it opens, then dropped.
    let _ = tokio::time::timeout(Duration::ZERO, call).await;
    let record = sides.client_seen.closed_call().await;
    assert_eq!(record.closes, vec![Err(Code::Cancelled)]);
    assert_eq!(record.responses, 0);
}

#[tokio::test]
async fn server_streaming_ok_and_error() {
    let sides = start().await;
    let mut responses = sides
        .client
        .streaming_output_call(&mut Context::new(), asking(&[1, 2, 3]))
        .await
        .unwrap();
    while responses.message().await.unwrap().is_some() {}
    sides
        .check("StreamingOutputCall", 1, 3, Ok(()), Some(Ok(())))
        .await;

    let sides = start().await;
    let request = StreamingOutputCallRequest {
        response_status: failing(),
        ..asking(&[4])
    };
    let mut responses = sides
        .client
        .streaming_output_call(&mut Context::new(), request)
        .await
        .unwrap();
    assert!(responses.message().await.unwrap().is_some());
    assert_eq!(responses.message().await.unwrap_err().code(), Code::Unknown);
    sides
        .check(
            "StreamingOutputCall",
            1,
            1,
            Err(Code::Unknown),
            Some(Err(Code::Unknown)),
        )
        .await;
}

#[tokio::test]
async fn server_streaming_cancelled_by_drop() {
    let sides = start().await;
    // More than the flow-control window holds, so the server is still sending at the drop.
    let mut responses = sides
        .client
        .streaming_output_call(&mut Context::new(), asking(&[64 * 1024; 64]))
        .await
        .unwrap();
    assert!(responses.message().await.unwrap().is_some());
    drop(responses);
    let client = sides.client_seen.closed_call().await;
    assert_eq!(client.closes, vec![Err(Code::Cancelled)]);
    assert_eq!((client.requests, client.responses), (1, 1));
    let server = sides.server_seen.closed_call().await;
    assert_eq!(server.closes.len(), 1);
    assert!(server.closes[0].is_err(), "{:?}", server.closes);
    assert_eq!(server.requests, 1);
}

fn input(size: usize) -> StreamingInputCallRequest {
    StreamingInputCallRequest {
        payload: payload(size),
        ..StreamingInputCallRequest::default()
    }
}

#[tokio::test]
async fn client_streaming_ok_and_error() {
    let sides = start().await;
    let requests = Streaming::iter([Ok(input(1)), Ok(input(2)), Ok(input(3))]);
    let reply = sides
        .client
        .streaming_input_call(&mut Context::new(), requests)
        .await
        .unwrap();
    assert_eq!(reply.aggregated_payload_size, 6);
    sides
        .check("StreamingInputCall", 3, 1, Ok(()), Some(Ok(())))
        .await;

    // The request stream never ends: the deadline fails the call on both sides.
    let sides = start().await;
    let (tx, requests) = channel();
    tx.send(input(1)).unwrap();
    let mut cx = Context::new();
    cx.set_deadline(Some(Instant::now() + Duration::from_millis(200)));
    let err = sides
        .client
        .streaming_input_call(&mut cx, requests)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
    sides
        .check(
            "StreamingInputCall",
            1,
            0,
            Err(Code::DeadlineExceeded),
            None,
        )
        .await;
    drop(tx);
}

#[tokio::test]
async fn client_streaming_cancelled_by_drop() {
    let sides = start().await;
    let (tx, requests) = channel();
    tx.send(input(1)).unwrap();
    let mut cx = Context::new();
    let call = sides.client.streaming_input_call(&mut cx, requests);
    let wait_for_server = async {
        loop {
            let seen = sides.server_seen.calls.lock().unwrap().first().cloned();
            if seen.is_some_and(|r| r.lock().unwrap().requests == 1) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::select! {
        result = call => panic!("the call ended: {result:?}"),
        () = wait_for_server => {}
    }
    let client = sides.client_seen.closed_call().await;
    assert_eq!(client.closes, vec![Err(Code::Cancelled)]);
    let server = sides.server_seen.closed_call().await;
    assert_eq!(server.closes.len(), 1);
    assert!(server.closes[0].is_err(), "{:?}", server.closes);
    drop(tx);
}

#[tokio::test]
async fn bidi_ok_and_error() {
    let sides = start().await;
    let (tx, requests) = channel();
    let mut responses = sides
        .client
        .full_duplex_call(&mut Context::new(), requests)
        .await
        .unwrap();
    for size in [1, 2] {
        tx.send(asking(&[size])).unwrap();
        assert!(responses.message().await.unwrap().is_some());
    }
    drop(tx);
    assert!(responses.message().await.unwrap().is_none());
    sides
        .check("FullDuplexCall", 2, 2, Ok(()), Some(Ok(())))
        .await;

    let sides = start().await;
    let request = StreamingOutputCallRequest {
        response_status: failing(),
        ..StreamingOutputCallRequest::default()
    };
    let mut responses = sides
        .client
        .full_duplex_call(&mut Context::new(), Streaming::iter([Ok(request)]))
        .await
        .unwrap();
    assert_eq!(responses.message().await.unwrap_err().code(), Code::Unknown);
    sides
        .check(
            "FullDuplexCall",
            1,
            0,
            Err(Code::Unknown),
            Some(Err(Code::Unknown)),
        )
        .await;
}

#[tokio::test]
async fn bidi_cancelled_by_drop() {
    let sides = start().await;
    let (tx, requests) = channel();
    let mut responses = sides
        .client
        .full_duplex_call(&mut Context::new(), requests)
        .await
        .unwrap();
    tx.send(asking(&[1])).unwrap();
    assert!(responses.message().await.unwrap().is_some());
    drop(responses);
    let client = sides.client_seen.closed_call().await;
    assert_eq!(client.closes, vec![Err(Code::Cancelled)]);
    assert_eq!((client.requests, client.responses), (1, 1));
    let server = sides.server_seen.closed_call().await;
    assert_eq!(server.closes.len(), 1);
    assert!(server.closes[0].is_err(), "{:?}", server.closes);
    assert_eq!((server.requests, server.responses), (1, 1));
    drop(tx);
}
