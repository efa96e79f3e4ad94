//! Cutting Thrift messages out of a byte stream, and writing them into one, for each framing.

use std::fmt;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use rookery_codec::{
    DecodeError,
    thrift::{DecodeLimits, MessageType, Protocol},
};

use crate::ttheader::{self, HeaderWriter};

/// How Thrift messages are delimited on a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Framing {
    /// TTHeader (Kitex, Volo): a length, a header with metadata, then the message.
    #[default]
    TTHeader,
    /// TTHeader whose payload is itself framed: Volo's default and Kitex's `TTHeaderFramed`.
    TTHeaderFramed,
    /// Apache Thrift's framed transport: a 4-byte length, then the message.
    Framed,
    /// Apache Thrift's buffered (unframed) transport: messages back to back.
    Buffered,
}

impl Framing {
    /// Whether frames carry a TTHeader.
    pub fn has_header(self) -> bool {
        matches!(self, Framing::TTHeader | Framing::TTHeaderFramed)
    }
}

/// Why a connection's bytes could not be cut into messages. Each closes the connection it
/// happened on, with this as the logged reason.
#[derive(Debug)]
pub enum FrameError {
    /// A frame larger than the limit was announced.
    TooLarge {
        /// The announced size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes break the framing's rules.
    Malformed(String),
    /// The bytes are valid but use something this side does not support.
    Unsupported(String),
    /// The message inside a frame does not decode.
    Decode(DecodeError),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge { size, limit } => {
                write!(f, "frame of {size} bytes is over the {limit}-byte limit")
            }
            FrameError::Malformed(msg) => write!(f, "malformed frame: {msg}"),
            FrameError::Unsupported(msg) => write!(f, "unsupported: {msg}"),
            FrameError::Decode(e) => write!(f, "bad message: {e}"),
        }
    }
}

impl std::error::Error for FrameError {}

impl From<DecodeError> for FrameError {
    fn from(e: DecodeError) -> Self {
        FrameError::Decode(e)
    }
}

/// One Thrift message cut out of the stream.
#[derive(Debug)]
pub(crate) struct Frame {
    /// How it was framed (a reply goes back the same way).
    pub(crate) framing: Framing,
    /// Its TTHeader, if it had one.
    pub(crate) header: Option<ttheader::Header>,
    /// The protocol of the message (meaningless when `kitex_protobuf`).
    pub(crate) protocol: Protocol,
    /// The message is Kitex Protobuf, not Thrift (TTHeader only).
    pub(crate) kitex_protobuf: bool,
    /// The whole message: envelope and body.
    pub(crate) message: Bytes,
}

/// Cuts frames out of a connection's read buffer. On a server the framing is detected from
/// the first bytes; on a client it is known.
#[derive(Debug)]
pub(crate) struct FrameDecoder {
    framing: Option<Framing>,
    buffered_protocol: Option<Protocol>,
    max_frame: usize,
    limits: DecodeLimits,
}

fn length_prefix(buf: &[u8]) -> usize {
    u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize
}

/// Whether `payload` is a framed Thrift message: a length that matches what follows, then a
/// strict binary or compact envelope.
fn is_inner_framed(payload: &[u8]) -> bool {
    payload.len() >= 6
        && length_prefix(payload) == payload.len() - 4
        && (Protocol::detect(&payload[4..]).is_some()
            || crate::kitex_protobuf::is_kitex_protobuf(&payload[4..]))
}

fn describe(first: &[u8]) -> String {
    let shown: Vec<String> = first.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("unrecognised protocol; first bytes {}", shown.join(" "))
}

impl FrameDecoder {
    /// A decoder that detects the framing from the first bytes.
    pub(crate) fn detecting(max_frame: usize, limits: DecodeLimits) -> Self {
        FrameDecoder {
            framing: None,
            buffered_protocol: None,
            max_frame,
            limits,
        }
    }

    /// A decoder for a known framing (and, for buffered, a known protocol).
    pub(crate) fn fixed(
        framing: Framing,
        protocol: Protocol,
        max_frame: usize,
        limits: DecodeLimits,
    ) -> Self {
        FrameDecoder {
            framing: Some(framing),
            buffered_protocol: Some(protocol),
            max_frame,
            limits,
        }
    }

    /// The framing in use, once known.
    pub(crate) fn framing(&self) -> Option<Framing> {
        self.framing
    }

    fn detect(&mut self, buf: &[u8]) -> Result<Option<Framing>, FrameError> {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        if first & 0x80 != 0 {
            if buf.len() < 2 {
                return Ok(None);
            }
            let protocol =
                Protocol::detect(buf).ok_or_else(|| FrameError::Malformed(describe(buf)))?;
            self.buffered_protocol = Some(protocol);
            return Ok(Some(Framing::Buffered));
        }
        if buf.len() < 6 {
            return Ok(None);
        }
        if buf[4..6] == ttheader::MAGIC.to_be_bytes() {
            Ok(Some(Framing::TTHeader))
        } else if Protocol::detect(&buf[4..]).is_some() {
            Ok(Some(Framing::Framed))
        } else {
            Err(FrameError::Malformed(describe(buf)))
        }
    }

    fn cut_length_prefixed(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        if buf.len() < 4 {
            return Ok(None);
        }
        let len = length_prefix(buf);
        if len > self.max_frame {
            return Err(FrameError::TooLarge {
                size: len,
                limit: self.max_frame,
            });
        }
        if len == 0 {
            return Err(FrameError::Malformed("empty frame".into()));
        }
        if buf.len() < 4 + len {
            buf.reserve(4 + len - buf.len());
            return Ok(None);
        }
        buf.advance(4);
        Ok(Some(buf.split_to(len).freeze()))
    }

    /// Cuts the next frame from the front of `buf`: `Ok(None)` means "read more"; an error is
    /// final for the connection.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        let framing = match self.framing {
            Some(f) => f,
            None => match self.detect(buf)? {
                Some(f) => {
                    self.framing = Some(f);
                    f
                }
                None => return Ok(None),
            },
        };
        match framing {
            Framing::TTHeader | Framing::TTHeaderFramed => {
                let Some(body) = self.cut_length_prefixed(buf)? else {
                    return Ok(None);
                };
                let (header, mut payload) = ttheader::decode(body)?;
                let framing = if is_inner_framed(&payload) {
                    payload.advance(4);
                    Framing::TTHeaderFramed
                } else {
                    Framing::TTHeader
                };
                if crate::kitex_protobuf::is_kitex_protobuf(&payload) {
                    return Ok(Some(Frame {
                        framing,
                        header: Some(header),
                        protocol: Protocol::Binary,
                        kitex_protobuf: true,
                        message: payload,
                    }));
                }
                let protocol = match Protocol::detect(&payload) {
                    Some(p) => p,
                    None => match header.protocol_id {
                        ttheader::protocol_id::BINARY => Protocol::Binary,
                        ttheader::protocol_id::COMPACT => Protocol::Compact,
                        other => {
                            return Err(FrameError::Unsupported(format!(
                                "ttheader payload protocol id {other}"
                            )));
                        }
                    },
                };
                Ok(Some(Frame {
                    framing,
                    header: Some(header),
                    protocol,
                    kitex_protobuf: false,
                    message: payload,
                }))
            }
            Framing::Framed => {
                let Some(message) = self.cut_length_prefixed(buf)? else {
                    return Ok(None);
                };
                // Non-strict binary carries no marker; assume binary for it.
                let protocol = Protocol::detect(&message).unwrap_or(Protocol::Binary);
                Ok(Some(Frame {
                    framing,
                    header: None,
                    protocol,
                    kitex_protobuf: false,
                    message,
                }))
            }
            Framing::Buffered => {
                let protocol = self.buffered_protocol.unwrap_or_default();
                match protocol.measure_message(buf, self.limits)? {
                    Some(len) => Ok(Some(Frame {
                        framing,
                        header: None,
                        protocol,
                        kitex_protobuf: false,
                        message: buf.split_to(len).freeze(),
                    })),
                    None if buf.len() > self.max_frame => Err(FrameError::TooLarge {
                        size: buf.len(),
                        limit: self.max_frame,
                    }),
                    None => Ok(None),
                }
            }
        }
    }
}

/// What goes into a frame's TTHeader besides the sequence id; ignored for other framings.
pub(crate) trait HeaderInfo {
    /// Writes the info blocks.
    fn write(&self, w: &mut HeaderWriter<'_>);
}

impl<F: Fn(&mut HeaderWriter<'_>)> HeaderInfo for F {
    fn write(&self, w: &mut HeaderWriter<'_>) {
        self(w)
    }
}

/// Appends one framed Thrift message to `buf`: the framing, the envelope, then whatever
/// `body` writes. If the frame is over `max_frame`, nothing is left in `buf` and an error is
/// returned.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_frame(
    buf: &mut BytesMut,
    framing: Framing,
    protocol: Protocol,
    max_frame: usize,
    seq_id: i32,
    name: &str,
    kind: MessageType,
    info: &impl HeaderInfo,
    body: impl FnOnce(&mut BytesMut),
) -> Result<(), FrameError> {
    let start = buf.len();
    let mut length_at = None;
    let mut inner_at = None;
    match framing {
        Framing::TTHeader | Framing::TTHeaderFramed => {
            let id = match protocol {
                Protocol::Binary => ttheader::protocol_id::BINARY,
                Protocol::Compact => ttheader::protocol_id::COMPACT,
            };
            let mut w = HeaderWriter::begin(buf, 0, seq_id, id);
            info.write(&mut w);
            length_at = Some(w.finish_header()?);
            if framing == Framing::TTHeaderFramed {
                inner_at = Some(buf.len());
                buf.put_u32(0);
            }
        }
        Framing::Framed => {
            length_at = Some(buf.len());
            buf.put_u32(0);
        }
        Framing::Buffered => {}
    }
    protocol.write_message_header(buf, name, kind, seq_id);
    body(buf);
    let size = buf.len() - start;
    if size > max_frame + 4 {
        buf.truncate(start);
        return Err(FrameError::TooLarge {
            size,
            limit: max_frame,
        });
    }
    if let Some(at) = inner_at {
        let len = (buf.len() - at - 4) as u32;
        buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
    if let Some(at) = length_at {
        ttheader::finish_frame(buf, at);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_of(framing: Framing, protocol: Protocol, seq_id: i32) -> BytesMut {
        let mut buf = BytesMut::new();
        write_frame(
            &mut buf,
            framing,
            protocol,
            1 << 20,
            seq_id,
            "echo",
            MessageType::Call,
            &|w: &mut HeaderWriter<'_>| w.strings([("k", "v")]),
            |b| b.put_u8(0), // an empty struct
        )
        .unwrap();
        buf
    }

    #[test]
    fn every_framing_is_detected_and_cut_in_pieces() {
        for framing in [
            Framing::TTHeader,
            Framing::TTHeaderFramed,
            Framing::Framed,
            Framing::Buffered,
        ] {
            for protocol in [Protocol::Binary, Protocol::Compact] {
                let mut stream = frame_of(framing, protocol, 1);
                stream.extend_from_slice(&frame_of(framing, protocol, 2));
                let whole = stream.clone();
                // Feed the bytes one at a time: every prefix is "need more" until a frame ends.
                let mut dec = FrameDecoder::detecting(1 << 20, DecodeLimits::default());
                let mut buf = BytesMut::new();
                let mut seqs = Vec::new();
                for b in whole.iter() {
                    buf.put_u8(*b);
                    while let Some(frame) = dec.decode(&mut buf).unwrap() {
                        assert_eq!(frame.framing, framing);
                        assert_eq!(frame.protocol, protocol);
                        assert_eq!(frame.header.is_some(), framing.has_header());
                        let mut msg = frame.message.clone();
                        let h = protocol.read_message_header(&mut msg).unwrap();
                        assert_eq!(&*h.name, "echo");
                        assert_eq!(&msg[..], &[0]);
                        seqs.push(h.seq_id);
                    }
                }
                assert_eq!(seqs, [1, 2], "{framing:?} {protocol:?}");
                assert!(buf.is_empty());
            }
        }
    }

    #[test]
    fn oversize_and_garbage_are_refused_before_reading_the_body() {
        let mut dec = FrameDecoder::detecting(1024, DecodeLimits::default());
        let mut buf = BytesMut::from(&[0x00, 0x10, 0x00, 0x00, 0x10, 0x00][..]);
        assert!(matches!(
            dec.decode(&mut buf),
            Err(FrameError::TooLarge { size: 0x100000, .. })
        ));

        let mut dec = FrameDecoder::detecting(1024, DecodeLimits::default());
        let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\n"[..]);
        let err = dec.decode(&mut buf).unwrap_err();
        assert!(err.to_string().contains("unrecognised protocol"), "{err}");

        let mut dec = FrameDecoder::detecting(1024, DecodeLimits::default());
        let mut buf = BytesMut::from(&[0xff, 0xff, 0, 0][..]);
        assert!(dec.decode(&mut buf).is_err());
    }

    #[test]
    fn an_oversize_message_is_not_written() {
        let mut buf = BytesMut::from(&b"earlier"[..]);
        let err = write_frame(
            &mut buf,
            Framing::TTHeader,
            Protocol::Binary,
            64,
            1,
            "echo",
            MessageType::Reply,
            &|_: &mut HeaderWriter<'_>| {},
            |b| b.put_slice(&[0u8; 100]),
        )
        .unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }));
        assert_eq!(&buf[..], b"earlier");
    }
}
