//! Kitex Protobuf: how Kitex carries Protobuf calls inside TTHeader.
//!
//! ```text
//! u32 0x9001_0000 | message type (1 call, 2 reply, 3 exception, 4 oneway)
//! u32 method name length, method name
//! u32 sequence id
//! the Protobuf message (a reply's, or an exception's `ErrorProto { int32 TypeID = 1;
//! string Message = 2; }` with a Thrift application exception type)
//! ```
//!
//! The envelope is Thrift binary's with another magic, so a server tells the two apart by the
//! first two bytes of the payload; the TTHeader protocol id is not trusted for it (Kitex sends
//! 0, Thrift binary's, for compatibility with servers that predate id 4).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use faststr::FastStr;
use rookery_codec::thrift::{ApplicationException, ApplicationExceptionKind, MessageType};
use rookery_core::Status;

use crate::{
    frame::{FrameError, Framing, HeaderInfo},
    ttheader::{self, HeaderWriter},
};

/// The first half of the envelope's first word.
const MAGIC: u32 = 0x9001_0000;
/// The longest method name accepted.
const MAX_NAME: usize = 64 * 1024;

/// A call of a Protobuf method over TTHeader, as Kitex frames it: the method and its request
/// message, encoded.
#[derive(Clone, Debug)]
pub struct KitexProtobufRequest {
    /// The method name as the `.proto` spells it (`SayHello`).
    pub method: FastStr,
    /// The encoded request message.
    pub body: Bytes,
}

/// The reply to a [`KitexProtobufRequest`]: the encoded response message.
#[derive(Clone, Debug, Default)]
pub struct KitexProtobufResponse {
    /// The encoded response message.
    pub body: Bytes,
}

/// Whether a TTHeader payload holds a Kitex Protobuf message.
pub(crate) fn is_kitex_protobuf(payload: &[u8]) -> bool {
    payload.len() >= 4 && u32::from_be_bytes([payload[0], payload[1], 0, 0]) == MAGIC
}

/// The envelope of a Kitex Protobuf message.
#[derive(Debug)]
pub(crate) struct Envelope {
    pub(crate) kind: MessageType,
    pub(crate) name: FastStr,
    pub(crate) seq_id: i32,
}

fn malformed(what: &str) -> FrameError {
    FrameError::Malformed(format!("kitex protobuf: {what}"))
}

/// Reads the envelope from the front of `payload`, leaving the message.
pub(crate) fn read_envelope(payload: &mut Bytes) -> Result<Envelope, FrameError> {
    if payload.len() < 8 {
        return Err(malformed("envelope cut short"));
    }
    let word = payload.get_u32();
    if word & 0xffff_0000 != MAGIC {
        return Err(malformed("bad magic"));
    }
    let kind = match word & 0xffff {
        1 => MessageType::Call,
        2 => MessageType::Reply,
        3 => MessageType::Exception,
        4 => MessageType::Oneway,
        other => return Err(malformed(&format!("message type {other}"))),
    };
    let len = payload.get_u32() as usize;
    if len > MAX_NAME || payload.len() < len + 4 {
        return Err(malformed("method name longer than the frame"));
    }
    let name = payload.split_to(len);
    let name = FastStr::from_bytes(name).map_err(|_| malformed("method name is not UTF-8"))?;
    let seq_id = payload.get_i32();
    Ok(Envelope { kind, name, seq_id })
}

fn kind_number(kind: MessageType) -> u32 {
    match kind {
        MessageType::Call => 1,
        MessageType::Reply => 2,
        MessageType::Exception => 3,
        MessageType::Oneway => 4,
    }
}

/// Appends one Kitex Protobuf message in TTHeader (or TTHeader+framed) to `buf`. If the frame
/// is over `max_frame`, nothing is left in `buf` and an error is returned.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_frame(
    buf: &mut BytesMut,
    framing: Framing,
    protocol_id: u8,
    max_frame: usize,
    seq_id: i32,
    name: &str,
    kind: MessageType,
    info: &impl HeaderInfo,
    body: impl FnOnce(&mut BytesMut),
) -> Result<(), FrameError> {
    if !framing.has_header() {
        return Err(FrameError::Unsupported(format!(
            "kitex protobuf over {framing:?}"
        )));
    }
    let start = buf.len();
    let mut w = HeaderWriter::begin(buf, 0, seq_id, protocol_id);
    info.write(&mut w);
    let length_at = w.finish_header()?;
    // The message is always length-prefixed inside the header, whichever TTHeader framing:
    // Kitex's servers look for the Protobuf magic after a length and refuse the message
    // without one ("invalid payload"), and Kitex's clients always send one.
    let inner_at = buf.len();
    buf.put_u32(0);
    buf.put_u32(MAGIC | kind_number(kind));
    buf.put_u32(name.len() as u32);
    buf.put_slice(name.as_bytes());
    buf.put_i32(seq_id);
    body(buf);
    let size = buf.len() - start;
    if size > max_frame + 4 {
        buf.truncate(start);
        return Err(FrameError::TooLarge {
            size,
            limit: max_frame,
        });
    }
    let len = (buf.len() - inner_at - 4) as u32;
    buf[inner_at..inner_at + 4].copy_from_slice(&len.to_be_bytes());
    ttheader::finish_frame(buf, length_at);
    Ok(())
}

fn put_varint(buf: &mut BytesMut, mut n: u64) {
    while n >= 0x80 {
        buf.put_u8((n as u8) | 0x80);
        n >>= 7;
    }
    buf.put_u8(n as u8);
}

fn get_varint(buf: &mut Bytes) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        if !buf.has_remaining() {
            return None;
        }
        let b = buf.get_u8();
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

/// Appends the `ErrorProto` of `status`.
pub(crate) fn encode_error(buf: &mut BytesMut, status: &Status) {
    let exception = ApplicationException::from_status(status);
    buf.put_u8(0x08); // field 1, varint
    // int32 in Protobuf: negative numbers sign-extended to 64 bits.
    put_varint(buf, i64::from(exception.kind.as_i32()) as u64);
    let message = exception.message.as_bytes();
    if !message.is_empty() {
        buf.put_u8(0x12); // field 2, length-delimited
        put_varint(buf, message.len() as u64);
        buf.put_slice(message);
    }
}

/// Reads an `ErrorProto` into its exception; unknown fields are skipped.
pub(crate) fn decode_error(mut buf: Bytes) -> Option<ApplicationException> {
    let mut kind = 0i32;
    let mut message = FastStr::empty();
    while buf.has_remaining() {
        let tag = get_varint(&mut buf)?;
        match (tag >> 3, tag & 7) {
            (1, 0) => kind = get_varint(&mut buf)? as i32,
            (2, 2) => {
                let len = usize::try_from(get_varint(&mut buf)?).ok()?;
                if len > buf.len() {
                    return None;
                }
                message = FastStr::from_bytes(buf.split_to(len)).ok()?;
            }
            (_, 0) => {
                get_varint(&mut buf)?;
            }
            (_, 1) if buf.len() >= 8 => buf.advance(8),
            (_, 5) if buf.len() >= 4 => buf.advance(4),
            (_, 2) => {
                let len = usize::try_from(get_varint(&mut buf)?).ok()?;
                if len > buf.len() {
                    return None;
                }
                buf.advance(len);
            }
            _ => return None,
        }
    }
    Some(ApplicationException::new(
        ApplicationExceptionKind::from_i32(kind),
        message,
    ))
}

#[cfg(test)]
mod tests {
    use rookery_core::Code;

    use super::*;

    #[test]
    fn errors_round_trip_and_garbage_is_refused() {
        let mut buf = BytesMut::new();
        encode_error(&mut buf, &Status::unimplemented("no such method"));
        let exception = decode_error(buf.freeze()).unwrap();
        assert_eq!(&*exception.message, "no such method");
        assert_eq!(exception.into_status(None).code(), Code::Unimplemented);
        assert!(decode_error(Bytes::from_static(&[0x12, 0x05, b'a'])).is_none());
        assert!(decode_error(Bytes::from_static(&[0x08])).is_none());
        assert!(decode_error(Bytes::from_static(&[0x0b])).is_none());
    }

    #[test]
    fn envelopes_are_read_back_and_bounded() {
        let mut buf = BytesMut::new();
        let info = |_: &mut HeaderWriter<'_>| {};
        write_frame(
            &mut buf,
            Framing::TTHeader,
            0,
            1 << 20,
            7,
            "SayHello",
            MessageType::Call,
            &info,
            |b| b.put_slice(b"\x0a\x01x"),
        )
        .unwrap();
        let (_, mut payload) = ttheader::decode(buf.freeze().slice(4..)).unwrap();
        // Even over plain TTHeader, the message is length-prefixed, as Kitex's servers
        // demand (they look for the magic after the length).
        assert_eq!(
            u32::from_be_bytes(payload[..4].try_into().unwrap()) as usize,
            payload.len() - 4
        );
        payload.advance(4);
        assert!(is_kitex_protobuf(&payload));
        let envelope = read_envelope(&mut payload).unwrap();
        assert_eq!(&*envelope.name, "SayHello");
        assert_eq!(envelope.seq_id, 7);
        assert_eq!(envelope.kind, MessageType::Call);
        assert_eq!(&payload[..], b"\x0a\x01x");

        let mut short = Bytes::from_static(&[0x90, 0x01, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0]);
        assert!(read_envelope(&mut short).is_err());
        let mut bad_kind = Bytes::from_static(&[0x90, 0x01, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(read_envelope(&mut bad_kind).is_err());
    }
}
