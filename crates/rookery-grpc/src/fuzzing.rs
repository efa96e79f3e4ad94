//! Entry points for the fuzz targets in `fuzz/` (not a public API): the wire decoders of this
//! crate, run on arbitrary bytes.

use std::{
    collections::VecDeque,
    convert::Infallible,
    pin::Pin,
    task::{Context as TaskContext, Poll},
};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use http_body::{Body, Frame};
use rookery_core::{Metadata, Status};

use crate::{
    compression::Compression,
    frame::Decoder,
    metadata::{read_metadata, read_status},
};

struct Chunks(VecDeque<Bytes>);

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(|c| Ok(Frame::data(c))))
    }
}

/// The messages the frame decoder reads from a body of `chunks`, refusing messages over
/// `max_message_size` and decompressing with `compression` (by its `grpc-encoding` name):
/// every message, or the error that ended the body. Each message is at most the limit.
pub fn decode_frames(
    chunks: Vec<Bytes>,
    max_message_size: usize,
    compression: &[u8],
) -> Vec<Result<Bytes, Status>> {
    let compression = Compression::from_name(compression);
    let mut decoder = Decoder::new(Chunks(chunks.into()), max_message_size, compression);
    let mut cx = TaskContext::from_waker(std::task::Waker::noop());
    let mut out = Vec::new();
    loop {
        match decoder.poll_message(&mut cx) {
            Poll::Ready(Ok(Some(message))) => {
                assert!(
                    message.len() <= max_message_size,
                    "a message over the limit"
                );
                out.push(Ok(message));
            }
            Poll::Ready(Err(status)) => out.push(Err(status)),
            Poll::Ready(Ok(None)) | Poll::Pending => return out,
        }
    }
}

/// The custom metadata and the status read from a header block of `pairs` (those that are
/// valid header names and values).
pub fn read_headers(pairs: &[(&[u8], &[u8])]) -> (Metadata, Option<Status>) {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    let mut metadata = Metadata::new();
    read_metadata(&headers, &mut metadata);
    (metadata, read_status(&headers))
}
