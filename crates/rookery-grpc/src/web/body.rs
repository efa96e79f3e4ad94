//! The body of a gRPC-Web response: the messages of the gRPC response as they are, then its
//! trailers as one more length-prefixed frame, flagged `0x80`; all base64-encoded for
//! `application/grpc-web-text`.

use std::{
    fmt,
    pin::Pin,
    task::{Context as TaskContext, Poll, ready},
};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use rookery_core::Status;

use crate::{body::GrpcBody, frame::PREFIX_LEN, metadata::write_status};

/// The flag of the frame that carries the trailers.
const TRAILERS_FLAG: u8 = 0x80;

/// The body of a gRPC-Web response: each frame of the gRPC response body as it comes (a
/// message, or its prefix and its bytes), then the trailers (`grpc-status` and the trailing
/// metadata) as a frame flagged `0x80` whose bytes are `name: value\r\n` lines. For
/// `application/grpc-web-text` every frame is base64-encoded on its own, padded, so a client
/// decodes each as it arrives.
pub struct WebBody {
    inner: Option<GrpcBody>,
    /// The trailers frame still to send.
    trailers: Option<HeaderMap>,
    text: bool,
}

impl fmt::Debug for WebBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebBody")
            .field("text", &self.text)
            .field("done", &self.is_end_stream())
            .finish_non_exhaustive()
    }
}

impl Default for WebBody {
    /// A body with nothing in it, for an answer that is not a call's (a preflight, a refusal).
    fn default() -> WebBody {
        WebBody {
            inner: None,
            trailers: None,
            text: false,
        }
    }
}

impl WebBody {
    /// The body of the gRPC response `inner`, ending with its trailers.
    pub(crate) fn of_grpc(inner: GrpcBody, text: bool) -> WebBody {
        WebBody {
            inner: Some(inner),
            trailers: None,
            text,
        }
    }

    /// A body of the trailers frame alone: the status of a call that failed before any
    /// message.
    pub(crate) fn trailers_only(trailers: HeaderMap, text: bool) -> WebBody {
        WebBody {
            inner: None,
            trailers: Some(trailers),
            text,
        }
    }

    fn data(&self, bytes: Bytes) -> Frame<Bytes> {
        if self.text {
            Frame::data(Bytes::from(STANDARD.encode(bytes)))
        } else {
            Frame::data(bytes)
        }
    }
}

/// The trailers frame: the flag, the length, then each header as `name: value\r\n`.
pub(crate) fn encode_trailers(trailers: &HeaderMap) -> Bytes {
    let len: usize = trailers
        .iter()
        .map(|(name, value)| name.as_str().len() + 2 + value.len() + 2)
        .sum();
    let mut buf = BytesMut::with_capacity(PREFIX_LEN + len);
    buf.put_u8(TRAILERS_FLAG);
    // Header lists are bounded far below 4 GiB; saturate rather than wrap if not.
    buf.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
    for (name, value) in trailers {
        buf.put_slice(name.as_str().as_bytes());
        buf.put_slice(b": ");
        buf.put_slice(value.as_bytes());
        buf.put_slice(b"\r\n");
    }
    buf.freeze()
}

impl Body for WebBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        while let Some(inner) = &mut this.inner {
            match ready!(Pin::new(inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => return Poll::Ready(Some(Ok(this.data(data)))),
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            this.trailers = Some(trailers);
                        }
                    }
                },
                // A response body ends with trailers, its errors among them; this is for
                // safety's sake.
                Some(Err(status)) => {
                    let mut trailers = HeaderMap::new();
                    write_status(&status, &mut trailers);
                    this.trailers = Some(trailers);
                    this.inner = None;
                }
                None => this.inner = None,
            }
        }
        match this.trailers.take() {
            Some(trailers) => Poll::Ready(Some(Ok(this.data(encode_trailers(&trailers))))),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        if self.is_end_stream() {
            SizeHint::with_exact(0)
        } else {
            SizeHint::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn trailers_are_a_frame_flagged_0x80_of_header_lines() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        trailers.insert("x-trace", HeaderValue::from_static("abc"));
        let frame = encode_trailers(&trailers);
        let block = b"grpc-status: 0\r\nx-trace: abc\r\n";
        assert_eq!(frame[0], 0x80);
        assert_eq!(&frame[1..5], &(block.len() as u32).to_be_bytes());
        assert_eq!(&frame[5..], block);
    }
}
