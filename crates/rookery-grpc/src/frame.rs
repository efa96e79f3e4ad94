//! gRPC's length-prefixed messages: one byte that says whether the message is compressed,
//! four bytes of big-endian length, then the message.

use std::{
    pin::Pin,
    task::{Context as TaskContext, Poll, ready},
};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::HeaderMap;
use http_body::Body;
use rookery_core::Status;

use crate::compression::Compression;

/// The length of a message's prefix.
pub(crate) const PREFIX_LEN: usize = 5;

/// Messages shorter than this are copied after their prefix into one buffer (one DATA
/// frame); longer ones are sent as the prefix and the message itself, without a copy.
const COPY_BELOW: usize = 8 * 1024;

/// The frames that carry `message`, compressed with `compression` if set: one, or the
/// prefix and the message.
pub(crate) fn encode(
    message: Bytes,
    compression: Option<Compression>,
) -> Result<(Bytes, Option<Bytes>), Status> {
    let (flag, message) = match compression {
        None => (0, message),
        Some(compression) => (1, compression.compress(&message)?),
    };
    let len = u32::try_from(message.len())
        .map_err(|_| too_large("sent", message.len(), u32::MAX as usize))?;
    Ok(if message.len() < COPY_BELOW {
        let mut buf = BytesMut::with_capacity(PREFIX_LEN + message.len());
        buf.put_u8(flag);
        buf.put_u32(len);
        buf.put_slice(&message);
        (buf.freeze(), None)
    } else {
        let mut prefix = [flag, 0, 0, 0, 0];
        prefix[1..].copy_from_slice(&len.to_be_bytes());
        (Bytes::copy_from_slice(&prefix), Some(message))
    })
}

/// The status of a message larger than `limit`.
pub(crate) fn too_large(what: &str, len: usize, limit: usize) -> Status {
    Status::resource_exhausted(format!(
        "{what} message of {len} bytes is larger than the limit of {limit} bytes"
    ))
}

/// Reads the messages of an HTTP/2 body one by one, as they arrive, and keeps its trailers.
///
/// Memory is bounded by the bytes that arrived and by the limit: a prefix that announces a
/// message larger than `max_message_size` is refused before anything of it is buffered, and
/// a compressed message is refused as soon as it decompresses to more than the limit.
pub(crate) struct Decoder<B> {
    body: B,
    buf: BytesMut,
    max_message_size: usize,
    compression: Option<Compression>,
    trailers: Option<HeaderMap>,
    body_done: bool,
    failed: bool,
}

impl<B> Decoder<B>
where
    B: Body + Unpin,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    /// A decoder of `body` that refuses messages larger than `max_message_size`, and
    /// decompresses those flagged compressed with `compression` (the body's
    /// `grpc-encoding`).
    pub(crate) fn new(
        body: B,
        max_message_size: usize,
        compression: Option<Compression>,
    ) -> Decoder<B> {
        Decoder {
            body,
            buf: BytesMut::new(),
            max_message_size,
            compression,
            trailers: None,
            body_done: false,
            failed: false,
        }
    }

    /// The trailers, once the body ended with some.
    pub(crate) fn take_trailers(&mut self) -> Option<HeaderMap> {
        self.trailers.take()
    }

    /// The next message; `Ok(None)` at the end of the body (after which the trailers, if
    /// any, are there). After an error, the body is not read again and the end follows.
    pub(crate) fn poll_message(
        &mut self,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Result<Option<Bytes>, Status>> {
        if self.failed {
            return Poll::Ready(Ok(None));
        }
        let result = ready!(self.poll_inner(cx));
        if result.is_err() {
            self.failed = true;
        }
        Poll::Ready(result)
    }

    fn poll_inner(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<Option<Bytes>, Status>> {
        loop {
            if let Some(message) = self.take_message()? {
                return Poll::Ready(Ok(Some(message)));
            }
            if self.body_done {
                if !self.buf.is_empty() {
                    return Poll::Ready(Err(Status::internal(format!(
                        "the stream ended inside a message ({} bytes left over)",
                        self.buf.len()
                    ))));
                }
                return Poll::Ready(Ok(None));
            }
            match ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                None => self.body_done = true,
                Some(Err(e)) => return Poll::Ready(Err(body_error(&e))),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(mut data) => {
                        while data.has_remaining() {
                            let chunk = data.chunk();
                            self.buf.extend_from_slice(chunk);
                            let n = chunk.len();
                            data.advance(n);
                        }
                    }
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            self.trailers = Some(trailers);
                            self.body_done = true;
                        }
                    }
                },
            }
        }
    }

    /// A whole message from the front of the buffer, if one is there.
    fn take_message(&mut self) -> Result<Option<Bytes>, Status> {
        if self.buf.len() < PREFIX_LEN {
            return Ok(None);
        }
        let flag = self.buf[0];
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let compression = match (flag, self.compression) {
            (0, _) => None,
            (1, Some(compression)) => Some(compression),
            (1, None) => {
                return Err(Status::internal(
                    "a compressed message, and no compression was agreed",
                ));
            }
            (flag, _) => {
                return Err(Status::internal(format!(
                    "a message whose compressed flag is {flag}"
                )));
            }
        };
        if len > self.max_message_size {
            return Err(too_large("received", len, self.max_message_size));
        }
        if self.buf.len() - PREFIX_LEN < len {
            return Ok(None);
        }
        self.buf.advance(PREFIX_LEN);
        let message = self.buf.split_to(len).freeze();
        match compression {
            None => Ok(Some(message)),
            Some(compression) => compression
                .decompress(&message, self.max_message_size)
                .map(Some),
        }
    }
}

/// The status of a body that failed to arrive: the peer reset the stream, or the connection
/// broke.
pub(crate) fn body_error(e: &(dyn std::error::Error + 'static)) -> Status {
    crate::error::status_of(e)
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::convert::Infallible;

    use http_body::Frame;

    use super::*;

    struct Frames(VecDeque<Frame<Bytes>>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut TaskContext<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(self.0.pop_front().map(Ok))
        }
    }

    fn decode_all(frames: Vec<Frame<Bytes>>, max: usize) -> (Vec<Result<Bytes, Status>>, bool) {
        decode_all_with(frames, max, None)
    }

    fn decode_all_with(
        frames: Vec<Frame<Bytes>>,
        max: usize,
        compression: Option<Compression>,
    ) -> (Vec<Result<Bytes, Status>>, bool) {
        let mut decoder = Decoder::new(Frames(frames.into()), max, compression);
        let waker = std::task::Waker::noop();
        let mut cx = TaskContext::from_waker(waker);
        let mut out = Vec::new();
        loop {
            match decoder.poll_message(&mut cx) {
                Poll::Ready(Ok(Some(m))) => out.push(Ok(m)),
                Poll::Ready(Ok(None)) => break,
                Poll::Ready(Err(e)) => out.push(Err(e)),
                Poll::Pending => unreachable!(),
            }
        }
        (out, decoder.take_trailers().is_some())
    }

    fn framed(messages: &[&[u8]]) -> Bytes {
        let mut buf = BytesMut::new();
        for m in messages {
            let (a, b) = encode(Bytes::copy_from_slice(m), None).unwrap();
            buf.extend_from_slice(&a);
            if let Some(b) = b {
                buf.extend_from_slice(&b);
            }
        }
        buf.freeze()
    }

    #[test]
    fn messages_split_and_joined_across_frames_come_out_whole() {
        let big = vec![7u8; 20_000];
        let all = framed(&[b"one", b"", &big, b"four"]);
        // Every split of the bytes into two frames, at a few places.
        for at in [0, 1, 4, 5, 7, 8, 100, all.len() - 1, all.len()] {
            let frames = vec![
                Frame::data(all.slice(..at)),
                Frame::data(all.slice(at..)),
                Frame::trailers(HeaderMap::new()),
            ];
            let (out, trailers) = decode_all(frames, 1 << 20);
            let out: Vec<Bytes> = out.into_iter().map(Result::unwrap).collect();
            assert_eq!(out.len(), 4, "split at {at}");
            assert_eq!(&out[0][..], b"one");
            assert!(out[1].is_empty());
            assert_eq!(out[2].len(), 20_000);
            assert_eq!(&out[3][..], b"four");
            assert!(trailers);
        }
    }

    #[test]
    fn an_oversize_prefix_is_refused_before_its_bytes_arrive() {
        let mut prefix = vec![0u8];
        prefix.extend_from_slice(&(u32::MAX).to_be_bytes());
        let (out, _) = decode_all(vec![Frame::data(Bytes::from(prefix))], 4 << 20);
        assert_eq!(out.len(), 1);
        let err = out[0].as_ref().unwrap_err();
        assert_eq!(err.code(), rookery_core::Code::ResourceExhausted);
    }

    #[test]
    fn truncated_and_compressed_messages_are_errors() {
        let all = framed(&[b"hello"]);
        let (out, _) = decode_all(vec![Frame::data(all.slice(..7))], 100);
        assert_eq!(
            out[0].as_ref().unwrap_err().code(),
            rookery_core::Code::Internal
        );
        let (out, _) = decode_all(vec![Frame::data(Bytes::from_static(&[1, 0, 0, 0, 0]))], 100);
        assert_eq!(
            out[0].as_ref().unwrap_err().code(),
            rookery_core::Code::Internal
        );
        assert_eq!(out.len(), 1, "nothing follows an error");
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn compressed_messages_are_decompressed_within_the_limit() {
        let gzip = Some(Compression::Gzip);
        let mut buf = BytesMut::new();
        for m in [&b"small"[..], &[3u8; 20_000], &[0u8; 5000]] {
            let (a, b) = encode(Bytes::copy_from_slice(m), gzip).unwrap();
            assert_eq!(a[0], 1, "flagged compressed");
            buf.extend_from_slice(&a);
            if let Some(b) = b {
                buf.extend_from_slice(&b);
            }
        }
        // An uncompressed message may follow under the same encoding.
        let (a, _) = encode(Bytes::from_static(b"plain"), None).unwrap();
        buf.extend_from_slice(&a);
        let (out, _) = decode_all_with(vec![Frame::data(buf.freeze())], 10_000, gzip);
        assert_eq!(&out[0].as_ref().unwrap()[..], b"small");
        // 20 000 bytes is over the limit once decompressed, though small on the wire.
        let err = out[1].as_ref().unwrap_err();
        assert_eq!(err.code(), rookery_core::Code::ResourceExhausted, "{err}");
        assert_eq!(out.len(), 2, "nothing follows an error");
    }
}
