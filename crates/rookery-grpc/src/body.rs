//! The body of a gRPC request or response: length-prefixed messages, pulled one by one from
//! the stream that produces them, and for a response the trailers that end it.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context as TaskContext, Poll, ready},
    time::Instant,
};

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use rookery_codec::protobuf::rpc::BoxStream;
use rookery_core::Status;
use tokio::{sync::oneshot, time::Sleep};

use crate::{
    compression::Compression,
    frame,
    metadata::{Trailers, ok_trailers, write_metadata, write_status},
};

/// The body of a gRPC request or response on the wire.
///
/// A response body sends the messages its handler produces as they come, then trailers with
/// the status (`OK`, or the error the stream ended with, `RESOURCE_EXHAUSTED` for a message
/// over the send limit, `DEADLINE_EXCEEDED` when the deadline passes first) and the trailing
/// metadata. A request body sends its messages and ends; an error from its stream resets the
/// HTTP/2 stream. An empty body ends with the headers (a trailers-only response).
pub struct GrpcBody {
    pending: Option<Bytes>,
    /// What the stream yielded after a batch was full or ended it, for the next poll.
    held: Option<Option<Result<Bytes, Status>>>,
    source: Source,
    deadline: Option<Pin<Box<Sleep>>>,
    max_message_size: usize,
    trailers: Option<Trailers>,
    cancel: Option<oneshot::Receiver<()>>,
    compression: Option<Compression>,
    done: bool,
}

enum Source {
    Nothing,
    Once(Option<Bytes>),
    Stream(BoxStream<Bytes>),
}

impl fmt::Debug for GrpcBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcBody")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl GrpcBody {
    /// A body that ends at once: for a trailers-only response, whose status is in the
    /// headers.
    pub fn empty() -> GrpcBody {
        GrpcBody {
            pending: None,
            held: None,
            source: Source::Nothing,
            deadline: None,
            max_message_size: usize::MAX,
            trailers: None,
            cancel: None,
            compression: None,
            done: true,
        }
    }

    /// The same body, its messages compressed with `compression` if set.
    pub(crate) fn compressed(self, compression: Option<Compression>) -> GrpcBody {
        GrpcBody {
            compression,
            ..self
        }
    }

    /// A request body of one message.
    pub(crate) fn request_once(message: Bytes) -> GrpcBody {
        GrpcBody {
            source: Source::Once(Some(message)),
            done: false,
            ..GrpcBody::empty()
        }
    }

    /// A request body of the messages of `stream`; one over `max_message_size` resets the
    /// stream, and so does dropping the sender of `cancel` (the caller stopped listening).
    pub(crate) fn request_stream(
        stream: BoxStream<Bytes>,
        max_message_size: usize,
        cancel: oneshot::Receiver<()>,
    ) -> GrpcBody {
        GrpcBody {
            source: Source::Stream(stream),
            max_message_size,
            cancel: Some(cancel),
            done: false,
            ..GrpcBody::empty()
        }
    }

    /// A response body of one message, then trailers.
    pub(crate) fn response_once(message: Bytes, trailers: Trailers) -> GrpcBody {
        GrpcBody {
            source: Source::Once(Some(message)),
            trailers: Some(trailers),
            done: false,
            ..GrpcBody::empty()
        }
    }

    /// A response body of the messages of `stream`, then trailers.
    pub(crate) fn response_stream(
        stream: BoxStream<Bytes>,
        trailers: Trailers,
        max_message_size: usize,
        deadline: Option<Instant>,
    ) -> GrpcBody {
        GrpcBody {
            source: Source::Stream(stream),
            trailers: Some(trailers),
            max_message_size,
            deadline: deadline.map(|d| Box::pin(tokio::time::sleep_until(d.into()))),
            done: false,
            ..GrpcBody::empty()
        }
    }

    /// Ends the body: trailers for a response, the end or an error for a request.
    fn finish(&mut self, result: Result<(), Status>) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        self.done = true;
        self.source = Source::Nothing;
        self.deadline = None;
        self.cancel = None;
        match &self.trailers {
            Some(trailers) => {
                let trailing = trailers.take();
                let headers = match result {
                    Ok(()) => ok_trailers(&trailing),
                    Err(status) => {
                        tracing::debug!(%status, "the response stream ends with an error");
                        let mut headers = HeaderMap::new();
                        write_metadata(&trailing, &mut headers);
                        write_status(&status, &mut headers);
                        headers
                    }
                };
                Poll::Ready(Some(Ok(Frame::trailers(headers))))
            }
            None => match result {
                Ok(()) => Poll::Ready(None),
                Err(status) => Poll::Ready(Some(Err(status))),
            },
        }
    }
}

impl Body for GrpcBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        if let Some(data) = this.pending.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(sleep) = &mut this.deadline
            && sleep.as_mut().poll(cx).is_ready()
        {
            return this.finish(Err(Status::deadline_exceeded(
                "the deadline passed before the response stream ended",
            )));
        }
        if let Some(cancel) = &mut this.cancel
            && Pin::new(cancel).poll(cx).is_ready()
        {
            // The reason travels in the source, where hyper looks for the RST_STREAM code.
            let reason = h2::Error::from(h2::Reason::CANCEL);
            return this.finish(Err(
                Status::cancelled("the call was cancelled").with_source(reason)
            ));
        }
        let next = match (this.held.take(), &mut this.source) {
            (Some(held), _) => held,
            (None, Source::Nothing) => None,
            (None, Source::Once(message)) => {
                let message = message.take();
                if message.is_some() && this.trailers.is_none() {
                    // A request of one message: the body ends with it, so its DATA frame
                    // carries END_STREAM (hyper reads `is_end_stream` after each frame)
                    // instead of an empty DATA frame following it.
                    this.done = true;
                    this.deadline = None;
                    this.cancel = None;
                }
                message.map(Ok)
            }
            (None, Source::Stream(stream)) => ready!(stream.as_mut().poll_next(cx)),
        };
        match next {
            Some(Ok(message)) => {
                if message.len() > this.max_message_size {
                    let status = frame::too_large("sent", message.len(), this.max_message_size);
                    return this.finish(Err(status));
                }
                match frame::encode(message, this.compression) {
                    Ok((first, None)) => Poll::Ready(Some(Ok(Frame::data(this.batch(first, cx))))),
                    Ok((first, rest)) => {
                        this.pending = rest;
                        Poll::Ready(Some(Ok(Frame::data(first))))
                    }
                    Err(status) => this.finish(Err(status)),
                }
            }
            Some(Err(status)) => this.finish(Err(status)),
            None => this.finish(Ok(())),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.pending.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        if self.is_end_stream() {
            SizeHint::with_exact(0)
        } else {
            SizeHint::default()
        }
    }
}

/// How many bytes of messages a stream has ready at once go out as one frame of the body.
///
/// One frame per message costs h2 a write per message when the connection keeps up (a
/// stream of a hundred 1 KiB messages took over eighty `writev`s, and four times tonic's CPU
/// per call); batched, the messages a handler yields without waiting leave together, as
/// tonic sends them (it batches up to 32 KiB too).
const BATCH_UP_TO: usize = 32 * 1024;

impl GrpcBody {
    /// `first` (one encoded message of a stream) followed by the messages the stream has
    /// ready now, while they fit in [`BATCH_UP_TO`]; what ends the batch, a message that
    /// does not fit, a status or the end of the stream, is held for the next poll.
    fn batch(&mut self, first: Bytes, cx: &mut TaskContext<'_>) -> Bytes {
        let Source::Stream(stream) = &mut self.source else {
            return first;
        };
        let mut batch = BytesMut::new();
        while batch.len().max(first.len()) < BATCH_UP_TO {
            let Poll::Ready(next) = stream.as_mut().poll_next(cx) else {
                break;
            };
            let message = match next {
                Some(Ok(message))
                    if message.len() <= self.max_message_size
                        && batch.len().max(first.len()) + message.len() <= BATCH_UP_TO =>
                {
                    message
                }
                other => {
                    self.held = Some(other);
                    break;
                }
            };
            match frame::encode(message, self.compression) {
                Ok((bytes, rest)) => {
                    if batch.is_empty() {
                        batch.reserve(BATCH_UP_TO);
                        batch.extend_from_slice(&first);
                    }
                    batch.extend_from_slice(&bytes);
                    if let Some(rest) = rest {
                        batch.extend_from_slice(&rest);
                    }
                }
                Err(status) => {
                    self.held = Some(Some(Err(status)));
                    break;
                }
            }
        }
        if batch.is_empty() {
            first
        } else {
            batch.freeze()
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use rookery_codec::protobuf::rpc::Streaming;

    use super::*;

    /// The frames of `body`: data lengths, then the trailers' `grpc-status`, as text.
    async fn frames(mut body: GrpcBody) -> Vec<String> {
        let mut seen = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.expect("a response body ends with trailers, not an error");
            match frame.into_data() {
                Ok(data) => seen.push(format!("data {}", data.len())),
                Err(frame) => {
                    let trailers = frame.into_trailers().expect("data or trailers");
                    seen.push(format!("status {:?}", trailers["grpc-status"]));
                }
            }
        }
        seen
    }

    fn stream_of(items: Vec<Result<Bytes, Status>>) -> BoxStream<Bytes> {
        Streaming::iter(items).into_inner()
    }

    #[tokio::test]
    async fn a_request_of_one_message_ends_with_its_data_frame() {
        let mut body = GrpcBody::request_once(Bytes::from_static(b"hello"));
        assert!(!body.is_end_stream(), "the message is still to be sent");
        let frame = body.frame().await.expect("a frame").expect("not an error");
        // The 5-byte prefix and the message, and then nothing: hyper sends END_STREAM on
        // this DATA frame rather than an empty one after it.
        assert_eq!(frame.into_data().expect("data").len(), 5 + 5);
        assert!(body.is_end_stream());
        assert!(body.frame().await.is_none());
    }

    #[tokio::test]
    async fn ready_messages_leave_together_and_the_status_after_them() {
        let message = || Ok(Bytes::from(vec![7u8; 1000]));
        let body = GrpcBody::response_stream(
            stream_of(vec![message(), message(), message()]),
            Trailers::new(),
            usize::MAX,
            None,
        );
        assert_eq!(frames(body).await, ["data 3015", "status \"0\""]);

        let body = GrpcBody::response_stream(
            stream_of(vec![message(), message(), Err(Status::internal("late"))]),
            Trailers::new(),
            usize::MAX,
            None,
        );
        assert_eq!(frames(body).await, ["data 2010", "status \"13\""]);
    }

    #[tokio::test]
    async fn a_batch_stops_at_its_size_and_large_messages_keep_their_own_frames() {
        let small = Ok(Bytes::from(vec![1u8; 5_000]));
        let large = Ok(Bytes::from(vec![2u8; 40_000]));
        let mut items = vec![small; 7];
        items.push(large);
        let body = GrpcBody::response_stream(stream_of(items), Trailers::new(), usize::MAX, None);
        // Six messages of 5,005 bytes fit in 32 KiB, the seventh starts the next batch; the
        // large message goes as its prefix and itself, without a copy.
        assert_eq!(
            frames(body).await,
            [
                "data 30030",
                "data 5005",
                "data 5",
                "data 40000",
                "status \"0\""
            ]
        );
    }
}
