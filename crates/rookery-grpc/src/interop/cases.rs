//! The client side of the interop cases, as the gRPC interop spec describes them, run by a
//! rookery client against any `grpc.testing.TestService` server.

use std::{
    fmt,
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_util::stream;
use rookery_codec::protobuf::rpc::Streaming;
use rookery_core::{Code, Context, Status};
use tokio::sync::mpsc;

use super::{
    proto::grpc::testing::{
        EchoStatus, Empty, ResponseParameters, SimpleRequest, StreamingInputCallRequest,
        StreamingOutputCallRequest, StreamingOutputCallResponse, TestServiceClient,
        UnimplementedServiceClient,
    },
    service::{ECHO_INITIAL, ECHO_TRAILING_BIN, payload},
};
use crate::{GrpcClient, ResponseHeaders, Trailers};

/// The interop cases this crate runs, by the names the interop spec gives them.
pub const CASES: &[&str] = &[
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "cancel_after_begin",
    "cancel_after_first_response",
    "timeout_on_sleeping_server",
];

/// Cases beyond the spec's, run by [`run_case`] too: `oversize_message` (a request over the
/// server's 4 MiB default limit fails with `RESOURCE_EXHAUSTED`, and the same connection then
/// carries a call that succeeds).
pub const EXTRA_CASES: &[&str] = &["oversize_message"];

/// Why a case failed.
#[derive(Debug)]
pub struct CaseError(String);

impl fmt::Display for CaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CaseError {}

impl From<Status> for CaseError {
    fn from(status: Status) -> CaseError {
        CaseError(format!("unexpected status: {status}"))
    }
}

macro_rules! check {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(CaseError(format!($($fmt)*)));
        }
    };
}

/// Runs the case `name` (one of [`CASES`] or [`EXTRA_CASES`]) over `channel`.
pub async fn run_case(name: &str, channel: &GrpcClient) -> Result<(), CaseError> {
    let client = TestServiceClient::new(channel.clone());
    match name {
        "empty_unary" => empty_unary(&client).await,
        "large_unary" => large_unary(&client).await,
        "client_streaming" => client_streaming(&client).await,
        "server_streaming" => server_streaming(&client).await,
        "ping_pong" => ping_pong(&client).await,
        "empty_stream" => empty_stream(&client).await,
        "custom_metadata" => custom_metadata(&client).await,
        "status_code_and_message" => status_code_and_message(&client).await,
        "special_status_message" => special_status_message(&client).await,
        "unimplemented_method" => unimplemented_method(&client).await,
        "unimplemented_service" => {
            unimplemented_service(&UnimplementedServiceClient::new(channel.clone())).await
        }
        "cancel_after_begin" => cancel_after_begin(&client).await,
        "cancel_after_first_response" => cancel_after_first_response(&client).await,
        "timeout_on_sleeping_server" => timeout_on_sleeping_server(&client).await,
        "oversize_message" => oversize_message(&client).await,
        other => Err(CaseError(format!("no case named {other}"))),
    }
}

type Client = TestServiceClient<GrpcClient>;

fn payload_of(size: i32) -> Result<Option<super::proto::grpc::testing::Payload>, CaseError> {
    Ok(Some(payload(size)?))
}

fn check_payload(
    got: Option<&super::proto::grpc::testing::Payload>,
    size: usize,
    what: &str,
) -> Result<(), CaseError> {
    let body: &[u8] = got.map_or(&[], |p| &p.body);
    check!(
        body.len() == size,
        "{what}: a payload of {} bytes, {size} expected",
        body.len()
    );
    check!(
        body.iter().all(|&b| b == 0),
        "{what}: a payload not all zeros"
    );
    Ok(())
}

fn duplex_request(
    response_size: i32,
    payload_size: i32,
) -> Result<StreamingOutputCallRequest, CaseError> {
    Ok(StreamingOutputCallRequest {
        response_parameters: vec![ResponseParameters {
            size: response_size,
            ..ResponseParameters::default()
        }],
        payload: payload_of(payload_size)?,
        ..StreamingOutputCallRequest::default()
    })
}

/// A request stream the case feeds by hand, and its feeder.
fn request_channel<T: Send + 'static>() -> (
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

async fn next<T: Send + 'static>(responses: &mut Streaming<T>, what: &str) -> Result<T, CaseError> {
    match responses.message().await {
        Ok(Some(m)) => Ok(m),
        Ok(None) => Err(CaseError(format!("{what}: the stream ended"))),
        Err(status) => Err(CaseError(format!("{what}: {status}"))),
    }
}

async fn check_end<T: Send + 'static>(responses: &mut Streaming<T>) -> Result<(), CaseError> {
    match responses.message().await {
        Ok(None) => Ok(()),
        Ok(Some(_)) => Err(CaseError("a response after the last one expected".into())),
        Err(status) => Err(status.into()),
    }
}

async fn empty_unary(client: &Client) -> Result<(), CaseError> {
    let reply = client.empty_call(&mut Context::new(), Empty {}).await?;
    check!(reply == Empty {}, "a non-empty reply");
    Ok(())
}

async fn large_unary(client: &Client) -> Result<(), CaseError> {
    let request = SimpleRequest {
        response_size: 314_159,
        payload: payload_of(271_828)?,
        ..SimpleRequest::default()
    };
    let reply = client.unary_call(&mut Context::new(), request).await?;
    check_payload(reply.payload.as_ref(), 314_159, "the response")
}

async fn client_streaming(client: &Client) -> Result<(), CaseError> {
    let mut requests = Vec::new();
    for size in [27_182, 8, 1_828, 45_904] {
        requests.push(Ok(StreamingInputCallRequest {
            payload: payload_of(size)?,
            ..StreamingInputCallRequest::default()
        }));
    }
    let reply = client
        .streaming_input_call(&mut Context::new(), Streaming::iter(requests))
        .await?;
    check!(
        reply.aggregated_payload_size == 74_922,
        "aggregated size {}, 74922 expected",
        reply.aggregated_payload_size
    );
    Ok(())
}

async fn server_streaming(client: &Client) -> Result<(), CaseError> {
    let sizes = [31_415, 9, 2_653, 58_979];
    let request = StreamingOutputCallRequest {
        response_parameters: sizes
            .iter()
            .map(|&size| ResponseParameters {
                size,
                ..ResponseParameters::default()
            })
            .collect(),
        ..StreamingOutputCallRequest::default()
    };
    let mut responses = client
        .streaming_output_call(&mut Context::new(), request)
        .await?;
    for (i, size) in sizes.into_iter().enumerate() {
        let what = format!("response {i}");
        let response = next(&mut responses, &what).await?;
        check_payload(response.payload.as_ref(), size as usize, &what)?;
    }
    check_end(&mut responses).await
}

async fn ping_pong(client: &Client) -> Result<(), CaseError> {
    let (tx, requests) = request_channel();
    let pairs = [(31_415, 27_182), (9, 8), (2_653, 1_828), (58_979, 45_904)];
    let send = |(response_size, payload_size)| {
        tx.send(duplex_request(response_size, payload_size)?)
            .map_err(|_| CaseError("the request stream closed".into()))
    };
    // The call returns before the server has answered anything (a server may hold its
    // response headers until it has a request, as grpcio does), so it is awaited first.
    let mut responses = client
        .full_duplex_call(&mut Context::new(), requests)
        .await?;
    for (i, (response_size, _)) in pairs.into_iter().enumerate() {
        send(pairs[i])?;
        let what = format!("response {i}");
        let response = next(&mut responses, &what).await?;
        check_payload(response.payload.as_ref(), response_size as usize, &what)?;
    }
    drop(tx);
    check_end(&mut responses).await
}

async fn empty_stream(client: &Client) -> Result<(), CaseError> {
    let mut responses = client
        .full_duplex_call(&mut Context::new(), Streaming::empty())
        .await?;
    check_end(&mut responses).await
}

fn metadata_context() -> (Context, ResponseHeaders, Trailers) {
    let mut cx = Context::new();
    cx.metadata_mut()
        .insert(ECHO_INITIAL, "test_initial_metadata_value");
    cx.metadata_mut()
        .insert_bin(ECHO_TRAILING_BIN, Bytes::from_static(&[0xab, 0xab, 0xab]));
    let headers = ResponseHeaders::new();
    cx.extensions_mut().insert(headers.clone());
    let trailers = Trailers::new();
    cx.extensions_mut().insert(trailers.clone());
    (cx, headers, trailers)
}

fn check_echoed(
    headers: &ResponseHeaders,
    trailers: &Trailers,
    what: &str,
) -> Result<(), CaseError> {
    let initial = headers.get();
    let initial = initial.as_ref().and_then(|m| m.get(ECHO_INITIAL));
    check!(
        initial == Some("test_initial_metadata_value"),
        "{what}: initial metadata {initial:?}"
    );
    let trailing = trailers.get();
    let bin = trailing.get_bin(ECHO_TRAILING_BIN).map(|b| &b[..]);
    check!(
        bin == Some(&[0xab, 0xab, 0xab][..]),
        "{what}: trailing metadata {bin:?}"
    );
    Ok(())
}

async fn custom_metadata(client: &Client) -> Result<(), CaseError> {
    let (mut cx, headers, trailers) = metadata_context();
    let request = SimpleRequest {
        response_size: 314_159,
        payload: payload_of(271_828)?,
        ..SimpleRequest::default()
    };
    let reply = client.unary_call(&mut cx, request).await?;
    check_payload(reply.payload.as_ref(), 314_159, "the unary response")?;
    check_echoed(&headers, &trailers, "unary")?;
    // A unary call returns with its headers, so they are in the context too.
    let initial = cx.response_metadata().get(ECHO_INITIAL);
    check!(
        initial == Some("test_initial_metadata_value"),
        "unary: initial metadata in the context {initial:?}"
    );

    // A full-duplex call returns before its headers: they are in the handle alone.
    let (mut cx, headers, trailers) = metadata_context();
    let requests = Streaming::iter([Ok(duplex_request(314_159, 271_828)?)]);
    let mut responses = client.full_duplex_call(&mut cx, requests).await?;
    let response = next(&mut responses, "the streamed response").await?;
    check_payload(response.payload.as_ref(), 314_159, "the streamed response")?;
    check_end(&mut responses).await?;
    check_echoed(&headers, &trailers, "full duplex")
}

fn check_status(err: &Status, code: Code, message: &str, what: &str) -> Result<(), CaseError> {
    check!(
        err.code() == code && err.message() == message,
        "{what}: {:?} {:?}, {code:?} {message:?} expected",
        err.code(),
        err.message()
    );
    Ok(())
}

async fn status_code_and_message(client: &Client) -> Result<(), CaseError> {
    let message = "test status message";
    echo_status_both_ways(client, message).await
}

async fn special_status_message(client: &Client) -> Result<(), CaseError> {
    let message = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";
    let request = SimpleRequest {
        response_status: Some(EchoStatus {
            code: 2,
            message: message.into(),
        }),
        ..SimpleRequest::default()
    };
    let err = client
        .unary_call(&mut Context::new(), request)
        .await
        .err()
        .ok_or_else(|| CaseError("the call succeeded".into()))?;
    check_status(&err, Code::Unknown, message, "unary")
}

async fn echo_status_both_ways(client: &Client, message: &str) -> Result<(), CaseError> {
    let status = EchoStatus {
        code: 2,
        message: message.to_string().into(),
    };
    let request = SimpleRequest {
        response_status: Some(status.clone()),
        ..SimpleRequest::default()
    };
    let err = client
        .unary_call(&mut Context::new(), request)
        .await
        .err()
        .ok_or_else(|| CaseError("the unary call succeeded".into()))?;
    check_status(&err, Code::Unknown, message, "unary")?;

    let request = StreamingOutputCallRequest {
        response_status: Some(status),
        ..StreamingOutputCallRequest::default()
    };
    let result = async {
        let mut responses = client
            .full_duplex_call(&mut Context::new(), Streaming::iter([Ok(request)]))
            .await?;
        while responses.message().await?.is_some() {}
        Ok::<_, Status>(())
    }
    .await;
    let err = result
        .err()
        .ok_or_else(|| CaseError("the full duplex call succeeded".into()))?;
    check_status(&err, Code::Unknown, message, "full duplex")
}

async fn unimplemented_method(client: &Client) -> Result<(), CaseError> {
    let err = client
        .unimplemented_call(&mut Context::new(), Empty {})
        .await
        .err()
        .ok_or_else(|| CaseError("the call succeeded".into()))?;
    check!(err.code() == Code::Unimplemented, "{err}");
    Ok(())
}

async fn unimplemented_service(
    client: &UnimplementedServiceClient<GrpcClient>,
) -> Result<(), CaseError> {
    let err = client
        .unimplemented_call(&mut Context::new(), Empty {})
        .await
        .err()
        .ok_or_else(|| CaseError("the call succeeded".into()))?;
    check!(err.code() == Code::Unimplemented, "{err}");
    Ok(())
}

/// Starts a client-streaming call and drops it (rookery's cancel) before sending anything.
async fn cancel_after_begin(client: &Client) -> Result<(), CaseError> {
    let (tx, requests) = request_channel::<StreamingInputCallRequest>();
    let mut cx = Context::new();
    let call = client.streaming_input_call(&mut cx, requests);
    match tokio::time::timeout(Duration::from_millis(100), call).await {
        Err(_) => {}
        Ok(result) => {
            return Err(CaseError(format!(
                "the call ended before it was cancelled: {result:?}"
            )));
        }
    }
    drop(tx);
    Ok(())
}

/// Gets the first response of a full-duplex call, then drops the call (rookery's cancel).
async fn cancel_after_first_response(client: &Client) -> Result<(), CaseError> {
    let (tx, requests) = request_channel();
    let mut responses = client
        .full_duplex_call(&mut Context::new(), requests)
        .await?;
    tx.send(duplex_request(31_415, 27_182)?)
        .map_err(|_| CaseError("the request stream closed".into()))?;
    let response: StreamingOutputCallResponse = next(&mut responses, "the response").await?;
    check_payload(response.payload.as_ref(), 31_415, "the response")?;
    drop(responses);
    drop(tx);
    Ok(())
}

async fn timeout_on_sleeping_server(client: &Client) -> Result<(), CaseError> {
    let (tx, requests) = request_channel();
    let mut cx = Context::new();
    cx.set_deadline(Some(Instant::now() + Duration::from_millis(1)));
    let request = StreamingOutputCallRequest {
        payload: payload_of(27_182)?,
        ..StreamingOutputCallRequest::default()
    };
    let _ = tx.send(request);
    let result = async {
        let mut responses = client.full_duplex_call(&mut cx, requests).await?;
        while responses.message().await?.is_some() {}
        Ok::<_, Status>(())
    }
    .await;
    drop(tx);
    let err = result
        .err()
        .ok_or_else(|| CaseError("the call succeeded".into()))?;
    check!(err.code() == Code::DeadlineExceeded, "{err}");
    Ok(())
}

async fn oversize_message(client: &Client) -> Result<(), CaseError> {
    let request = SimpleRequest {
        response_size: 1,
        payload: payload_of(5 * 1024 * 1024)?,
        ..SimpleRequest::default()
    };
    let err = client
        .unary_call(&mut Context::new(), request)
        .await
        .err()
        .ok_or_else(|| CaseError("the oversize call succeeded".into()))?;
    check!(err.code() == Code::ResourceExhausted, "{err}");
    // The connection carries on.
    empty_unary(client).await?;
    large_unary(client).await
}
