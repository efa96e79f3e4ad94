//! The body of a gRPC-Web request as the router reads a gRPC one: the same length-prefixed
//! messages, base64-decoded as they arrive for `application/grpc-web-text`.

use std::{
    pin::Pin,
    task::{Context as TaskContext, Poll, ready},
};

use base64::{
    Engine as _, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use bytes::{Buf, Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use rookery_core::Status;

/// Base64 as gRPC-Web text sends it: padded, each chunk on its own or the whole body at once;
/// accepted without padding too.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A gRPC-Web request body: binary passed through, text decoded chunk by chunk.
pub(crate) struct RequestBody<B> {
    body: B,
    /// For text: the characters of a base64 quantum not yet complete.
    text: Option<BytesMut>,
    failed: bool,
}

impl<B> RequestBody<B> {
    /// The messages of a binary body, as they are.
    pub(crate) fn binary(body: B) -> RequestBody<B> {
        RequestBody {
            body,
            text: None,
            failed: false,
        }
    }

    /// The messages of a base64 body, decoded.
    pub(crate) fn text(body: B) -> RequestBody<B> {
        RequestBody {
            body,
            text: Some(BytesMut::new()),
            failed: false,
        }
    }
}

impl<B> Body for RequestBody<B>
where
    B: Body + Unpin,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        loop {
            let frame = match ready!(Pin::new(&mut this.body).poll_frame(cx)) {
                None => {
                    return Poll::Ready(match this.text.as_mut().map(finish) {
                        Some(Err(status)) => this.fail(status),
                        Some(Ok(rest)) if !rest.is_empty() => Some(Ok(Frame::data(rest))),
                        _ => None,
                    });
                }
                Some(Err(e)) => return Poll::Ready(this.fail(crate::error::status_of(&e))),
                Some(Ok(frame)) => frame,
            };
            let frame = match frame.into_data() {
                Ok(mut data) => data.copy_to_bytes(data.remaining()),
                // Trailers: a gRPC-Web request has none, and the router does not read them.
                Err(_) => continue,
            };
            let Some(carry) = &mut this.text else {
                return Poll::Ready(Some(Ok(Frame::data(frame))));
            };
            match decode(carry, &frame) {
                Ok(decoded) if decoded.is_empty() => continue,
                Ok(decoded) => return Poll::Ready(Some(Ok(Frame::data(decoded)))),
                Err(status) => return Poll::Ready(this.fail(status)),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed
            || (self.body.is_end_stream() && self.text.as_ref().is_none_or(BytesMut::is_empty))
    }

    fn size_hint(&self) -> SizeHint {
        match self.text {
            None => self.body.size_hint(),
            Some(_) => SizeHint::default(),
        }
    }
}

impl<B> RequestBody<B> {
    fn fail(&mut self, status: Status) -> Option<Result<Frame<Bytes>, Status>> {
        self.failed = true;
        Some(Err(status))
    }
}

/// The bytes of the whole quanta (four characters) of `carry` and `chunk`; what is left of an
/// incomplete quantum stays in `carry`. A padded quantum ends one base64 run and the next
/// may start after it, as when a client encodes each chunk on its own.
fn decode(carry: &mut BytesMut, chunk: &[u8]) -> Result<Bytes, Status> {
    carry.extend_from_slice(chunk);
    let whole = carry.len() / 4 * 4;
    let text = carry.split_to(whole);
    let mut out = Vec::with_capacity(whole / 4 * 3);
    let mut start = 0;
    for (i, quantum) in text.chunks_exact(4).enumerate() {
        if quantum[3] == b'=' {
            let end = (i + 1) * 4;
            decode_run(&text[start..end], &mut out)?;
            start = end;
        }
    }
    decode_run(&text[start..], &mut out)?;
    Ok(Bytes::from(out))
}

/// The bytes of what is left at the end of the body: a last quantum sent without padding.
fn finish(carry: &mut BytesMut) -> Result<Bytes, Status> {
    let rest = carry.split();
    let mut out = Vec::new();
    decode_run(&rest, &mut out)?;
    Ok(Bytes::from(out))
}

fn decode_run(run: &[u8], out: &mut Vec<u8>) -> Result<(), Status> {
    BASE64.decode_vec(run, out).map_err(|e| {
        Status::invalid_argument(format!("a grpc-web-text request that is not base64: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_chunks(chunks: &[&str]) -> Result<Vec<u8>, Status> {
        let mut carry = BytesMut::new();
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend_from_slice(&decode(&mut carry, chunk.as_bytes())?);
        }
        out.extend_from_slice(&finish(&mut carry)?);
        Ok(out)
    }

    #[test]
    fn base64_split_anywhere_and_padded_chunks_joined_decode_whole() {
        let text = BASE64.encode(b"hello, gRPC-Web");
        for at in 0..=text.len() {
            let (a, b) = text.split_at(at);
            assert_eq!(
                decode_chunks(&[a, b]).unwrap(),
                b"hello, gRPC-Web",
                "at {at}"
            );
        }
        let joined = format!("{}{}{}", BASE64.encode(b"a"), BASE64.encode(b"bc"), "ZGVm");
        assert_eq!(decode_chunks(&[&joined]).unwrap(), b"abcdef");
        assert_eq!(decode_chunks(&["ZGV", "mZw"]).unwrap(), b"defg");
    }

    #[test]
    fn any_bytes_in_any_chunks_decode_or_fail_without_panicking() {
        // xorshift: arbitrary inputs, the same on every run.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"ABCxyz019+/=\r\n!";
        for _ in 0..2000 {
            let len = (next() % 40) as usize;
            let text: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let at = (next() as usize) % (len + 1);
            let (a, b) = text.split_at(at);
            let mut carry = BytesMut::new();
            let _ = decode(&mut carry, a).and_then(|_| decode(&mut carry, b));
            let _ = finish(&mut carry);

            // And valid text, encoded in runs and split anywhere, decodes to what it was.
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let cut = (next() as usize) % (len + 1);
            let text = BASE64.encode(&bytes[..cut]) + &BASE64.encode(&bytes[cut..]);
            let at = (next() as usize) % (text.len() + 1);
            let (a, b) = text.split_at(at);
            assert_eq!(decode_chunks(&[a, b]).unwrap(), bytes, "{text} at {at}");
        }
    }

    #[test]
    fn what_is_not_base64_is_invalid_argument() {
        for bad in [&["ab!d"][..], &["abcde"], &["a=bc"]] {
            let err = decode_chunks(bad).unwrap_err();
            assert_eq!(err.code(), rookery_core::Code::InvalidArgument, "{bad:?}");
        }
    }
}
