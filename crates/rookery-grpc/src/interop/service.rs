//! `grpc.testing.TestService` as the interop spec describes the test server.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use bytes::Bytes;
use futures_util::stream;
use rookery_codec::protobuf::rpc::{BoxStream, Streaming};
use rookery_core::{Code, Context, Status};
use tokio::sync::watch;

use super::proto::grpc::testing::{
    EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest, SimpleResponse,
    StreamingInputCallRequest, StreamingInputCallResponse, StreamingOutputCallRequest,
    StreamingOutputCallResponse, TestService,
};
use crate::Trailers;

/// The initial metadata key the test server echoes in the response headers.
pub const ECHO_INITIAL: &str = "x-grpc-test-echo-initial";
/// The binary metadata key the test server echoes in the trailers.
pub const ECHO_TRAILING_BIN: &str = "x-grpc-test-echo-trailing-bin";

/// The largest payload the test server builds on request.
const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

/// The interop test server's `TestService`: payloads of the sizes asked, statuses echoed as
/// asked, metadata echoed (`x-grpc-test-echo-initial` in the headers,
/// `x-grpc-test-echo-trailing-bin` in the trailers), and `UnimplementedCall` unimplemented.
///
/// It counts the calls in progress (a handler running or its response stream alive), so
/// that tests can see a cancelled call's handler dropped.
#[derive(Clone, Debug)]
pub struct InteropService {
    in_flight: Arc<watch::Sender<usize>>,
}

impl Default for InteropService {
    fn default() -> InteropService {
        InteropService::new()
    }
}

/// Counts a call in progress while it lives.
struct InFlight(Arc<watch::Sender<usize>>);

impl InFlight {
    fn new(counter: &Arc<watch::Sender<usize>>) -> InFlight {
        counter.send_modify(|n| *n += 1);
        InFlight(Arc::clone(counter))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

impl InteropService {
    /// A test service with no call in progress.
    pub fn new() -> InteropService {
        InteropService {
            in_flight: Arc::new(watch::Sender::new(0)),
        }
    }

    /// How many calls are in progress.
    pub fn in_flight(&self) -> usize {
        *self.in_flight.borrow()
    }

    /// Waits until no call is in progress.
    pub async fn idle(&self) {
        let mut rx = self.in_flight.subscribe();
        let _ = rx.wait_for(|&n| n == 0).await;
    }

    fn enter(&self) -> InFlight {
        InFlight::new(&self.in_flight)
    }
}

/// A payload of `size` zero bytes.
pub(crate) fn payload(size: i32) -> Result<Payload, Status> {
    let size = usize::try_from(size)
        .ok()
        .filter(|&s| s <= MAX_PAYLOAD)
        .ok_or_else(|| Status::invalid_argument(format!("payload size {size}")))?;
    Ok(Payload {
        body: Bytes::from(vec![0u8; size]),
        ..Payload::default()
    })
}

/// The status a request asks for, if not `OK`.
fn echo_status(status: Option<&EchoStatus>) -> Result<(), Status> {
    match status {
        Some(s) if s.code != 0 => Err(Status::new(Code::from_i32(s.code), s.message.to_string())),
        _ => Ok(()),
    }
}

/// Echoes the metadata the interop spec asks echoed.
fn echo_metadata(cx: &mut Context) {
    if let Some(value) = cx.metadata().get(ECHO_INITIAL) {
        let value = value.to_string();
        cx.response_metadata_mut().insert(ECHO_INITIAL, value);
    }
    if let Some(value) = cx.metadata().get_bin(ECHO_TRAILING_BIN).cloned()
        && let Some(trailers) = Trailers::of(cx)
    {
        trailers.insert_bin(ECHO_TRAILING_BIN, value);
    }
}

async fn respond(p: &ResponseParameters) -> Result<StreamingOutputCallResponse, Status> {
    if p.interval_us > 0 {
        tokio::time::sleep(Duration::from_micros(u64::from(
            p.interval_us.unsigned_abs(),
        )))
        .await;
    }
    Ok(StreamingOutputCallResponse {
        payload: Some(payload(p.size)?),
    })
}

/// What a duplex response stream holds between messages.
struct Duplex {
    requests: Streaming<StreamingOutputCallRequest>,
    pending: VecDeque<ResponseParameters>,
    done: bool,
    _in_flight: InFlight,
}

impl TestService for InteropService {
    async fn empty_call(&self, cx: &mut Context, _: Empty) -> Result<Empty, Status> {
        let _in_flight = self.enter();
        echo_metadata(cx);
        Ok(Empty {})
    }

    async fn unary_call(
        &self,
        cx: &mut Context,
        request: SimpleRequest,
    ) -> Result<SimpleResponse, Status> {
        let _in_flight = self.enter();
        echo_metadata(cx);
        if request.expect_compressed.is_some_and(|b| b.value) {
            return Err(Status::invalid_argument(
                "this server does not accept compressed requests",
            ));
        }
        echo_status(request.response_status.as_ref())?;
        Ok(SimpleResponse {
            payload: Some(payload(request.response_size)?),
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
        cx: &mut Context,
        request: StreamingOutputCallRequest,
    ) -> Result<BoxStream<StreamingOutputCallResponse>, Status> {
        echo_metadata(cx);
        let state = (
            VecDeque::from(request.response_parameters),
            request.response_status,
            self.enter(),
        );
        Ok(Box::pin(stream::unfold(
            state,
            |(mut params, status, in_flight)| async move {
                match params.pop_front() {
                    Some(p) => Some((respond(&p).await, (params, status, in_flight))),
                    None => match echo_status(status.as_ref()) {
                        Err(s) => Some((Err(s), (params, None, in_flight))),
                        Ok(()) => None,
                    },
                }
            },
        )))
    }

    async fn streaming_input_call(
        &self,
        cx: &mut Context,
        mut requests: Streaming<StreamingInputCallRequest>,
    ) -> Result<StreamingInputCallResponse, Status> {
        let _in_flight = self.enter();
        echo_metadata(cx);
        let mut total: usize = 0;
        while let Some(request) = requests.message().await? {
            total += request.payload.map_or(0, |p| p.body.len());
        }
        Ok(StreamingInputCallResponse {
            aggregated_payload_size: i32::try_from(total).unwrap_or(i32::MAX),
        })
    }

    async fn full_duplex_call(
        &self,
        cx: &mut Context,
        requests: Streaming<StreamingOutputCallRequest>,
    ) -> Result<BoxStream<StreamingOutputCallResponse>, Status> {
        echo_metadata(cx);
        let state = Duplex {
            requests,
            pending: VecDeque::new(),
            done: false,
            _in_flight: self.enter(),
        };
        Ok(Box::pin(stream::unfold(state, |mut state| async move {
            if state.done {
                return None;
            }
            loop {
                if let Some(p) = state.pending.pop_front() {
                    let response = respond(&p).await;
                    return Some((response, state));
                }
                match state.requests.message().await {
                    Ok(Some(request)) => {
                        if let Err(status) = echo_status(request.response_status.as_ref()) {
                            state.done = true;
                            return Some((Err(status), state));
                        }
                        state.pending.extend(request.response_parameters);
                    }
                    Ok(None) => return None,
                    Err(status) => {
                        state.done = true;
                        return Some((Err(status), state));
                    }
                }
            }
        })))
    }

    async fn half_duplex_call(
        &self,
        cx: &mut Context,
        requests: Streaming<StreamingOutputCallRequest>,
    ) -> Result<BoxStream<StreamingOutputCallResponse>, Status> {
        echo_metadata(cx);
        let state = Duplex {
            requests,
            pending: VecDeque::new(),
            done: false,
            _in_flight: self.enter(),
        };
        // All the requests first, then all the responses.
        Ok(Box::pin(stream::unfold(
            (state, false),
            |(mut state, mut read)| async move {
                if state.done {
                    return None;
                }
                while !read {
                    match state.requests.message().await {
                        Ok(Some(request)) => state.pending.extend(request.response_parameters),
                        Ok(None) => read = true,
                        Err(status) => {
                            state.done = true;
                            return Some((Err(status), (state, true)));
                        }
                    }
                }
                let p = state.pending.pop_front()?;
                Some((respond(&p).await, (state, read)))
            },
        )))
    }

    async fn unimplemented_call(&self, _: &mut Context, _: Empty) -> Result<Empty, Status> {
        Err(Status::unimplemented(
            "UnimplementedCall is not implemented, as the interop spec says",
        ))
    }
}
