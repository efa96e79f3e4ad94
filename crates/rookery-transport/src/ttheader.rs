//! TTHeader, the header transport of Kitex and Volo.
//!
//! ```text
//! u32 LENGTH (of everything after it)
//! u16 MAGIC 0x1000 | u16 FLAGS
//! u32 SEQUENCE ID
//! u16 HEADER SIZE (in 4-byte words, of what follows up to the payload)
//! u8  PROTOCOL ID | u8 NUMBER OF TRANSFORMS | transform ids (u8 each)
//! info blocks, each an u8 id:
//!   0x01 string key/values: u16 count, then (u16 len, key, u16 len, value) each
//!   0x10 int key/values:    u16 count, then (u16 key, u16 len, value) each
//!   0x11 ACL token:         u16 len, token
//!   0x00 padding up to the header size
//! payload: a Thrift message, possibly itself framed (u32 length first)
//! ```
//!
//! Decoding never reads past the header size it was given and never trusts a length it has
//! not checked against the bytes present.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use faststr::FastStr;

use crate::frame::FrameError;

/// The magic number after the length.
pub const MAGIC: u16 = 0x1000;

/// Info block ids.
pub mod info {
    /// Padding to the header size.
    pub const PADDING: u8 = 0x00;
    /// String key/values.
    pub const KEY_VALUE: u8 = 0x01;
    /// Integer-keyed values.
    pub const INT_KEY_VALUE: u8 = 0x10;
    /// An access token.
    pub const ACL_TOKEN_KEY_VALUE: u8 = 0x11;
}

/// The integer keys that Kitex and Volo put in the int key/value block.
pub mod int_key {
    /// The caller's service name.
    pub const FROM_SERVICE: u16 = 3;
    /// The callee's service name.
    pub const TO_SERVICE: u16 = 6;
    /// The method called.
    pub const TO_METHOD: u16 = 9;
    /// The address the caller dialled.
    pub const DEST_ADDRESS: u16 = 11;
    /// The caller's time-out for this call, in milliseconds.
    pub const RPC_TIMEOUT: u16 = 12;
    /// The caller's connect time-out, in milliseconds.
    pub const CONN_TIMEOUT: u16 = 17;
    /// The Thrift message type.
    pub const MSG_TYPE: u16 = 22;
}

/// The string keys rookery itself reads or writes.
pub mod str_key {
    /// Sent by the server (in a reply, or alone in a control frame) while it drains: the
    /// client must not start new calls on this connection. Kitex's name.
    pub const CONNECTION_READY_TO_RESET: &str = "crrst";
    /// The IDL service name, for servers that serve several services. Kitex's name.
    pub const IDL_SERVICE_NAME: &str = "isn";
    /// The exact status code of an exception reply, which Thrift's exception kinds cannot
    /// all express.
    pub const STATUS_CODE: &str = "rookery-status";
    /// Sent by a rookery client on its first call on a connection: it understands control
    /// frames (a header with no payload), so the server may send one when it drains.
    pub const CONTROL: &str = "rookery-control";
}

/// The protocol ids of the payload.
pub mod protocol_id {
    /// Thrift binary.
    pub const BINARY: u8 = 0;
    /// Thrift compact.
    pub const COMPACT: u8 = 2;
    /// Kitex Protobuf.
    pub const PROTOBUF: u8 = 4;
}

/// A decoded TTHeader: everything before the payload.
///
/// The info blocks are checked when the header is decoded and read in place when asked for,
/// so a header costs no allocation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// The flags field.
    pub flags: u16,
    /// The sequence id.
    pub seq_id: i32,
    /// The payload's protocol id.
    pub protocol_id: u8,
    /// The info blocks, checked.
    info: Bytes,
}

/// One entry of a header's info blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InfoEntry {
    /// A string key/value.
    Str(FastStr, FastStr),
    /// An integer-keyed value.
    Int(u16, FastStr),
    /// An access token.
    Token(Bytes),
}

/// Walks a header's info blocks, entry by entry; see [`Header::entries`].
#[derive(Debug)]
pub struct InfoIter {
    buf: Bytes,
    /// Entries left in the current block, and its kind.
    left: u16,
    kind: u8,
}

impl InfoIter {
    fn new(buf: Bytes) -> Self {
        InfoIter {
            buf,
            left: 0,
            kind: info::PADDING,
        }
    }

    fn next_entry(&mut self) -> Result<Option<InfoEntry>, FrameError> {
        while self.left == 0 {
            if !self.buf.has_remaining() {
                return Ok(None);
            }
            self.kind = self.buf.get_u8();
            match self.kind {
                info::PADDING => {}
                info::KEY_VALUE | info::INT_KEY_VALUE => {
                    self.left = take_u16(&mut self.buf, "info count")?;
                }
                info::ACL_TOKEN_KEY_VALUE => {
                    let len = usize::from(take_u16(&mut self.buf, "token length")?);
                    if self.buf.remaining() < len {
                        return Err(malformed("token overruns the header"));
                    }
                    return Ok(Some(InfoEntry::Token(self.buf.split_to(len))));
                }
                other => return Err(malformed(format!("unknown info id {other:#04x}"))),
            }
        }
        self.left -= 1;
        if self.kind == info::KEY_VALUE {
            let k = take_str(&mut self.buf, "string info key")?;
            let v = take_str(&mut self.buf, "string info value")?;
            Ok(Some(InfoEntry::Str(k, v)))
        } else {
            let k = take_u16(&mut self.buf, "int info key")?;
            let v = take_str(&mut self.buf, "int info value")?;
            Ok(Some(InfoEntry::Int(k, v)))
        }
    }
}

impl Iterator for InfoIter {
    type Item = Result<InfoEntry, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_entry() {
            Ok(Some(entry)) => Some(Ok(entry)),
            Ok(None) => None,
            Err(e) => {
                // Stop after the first error.
                self.buf = Bytes::new();
                self.left = 0;
                Some(Err(e))
            }
        }
    }
}

impl Header {
    /// The info entries in wire order, in one pass. The block structure was checked when the
    /// header was decoded; an entry that is not UTF-8 is an error here.
    pub fn entries(&self) -> InfoIter {
        InfoIter::new(self.info.clone())
    }

    /// The value of a string key (entries that do not decode are passed over).
    pub fn string(&self, key: &str) -> Option<FastStr> {
        self.entries().find_map(|e| match e {
            Ok(InfoEntry::Str(k, v)) if k == key => Some(v),
            _ => None,
        })
    }

    /// The value of an integer key (entries that do not decode are passed over).
    pub fn int(&self, key: u16) -> Option<FastStr> {
        self.entries().find_map(|e| match e {
            Ok(InfoEntry::Int(k, v)) if k == key => Some(v),
            _ => None,
        })
    }
}

fn malformed(msg: impl Into<String>) -> FrameError {
    FrameError::Malformed(format!("ttheader: {}", msg.into()))
}

fn take_u16(buf: &mut Bytes, what: &str) -> Result<u16, FrameError> {
    if buf.remaining() < 2 {
        return Err(malformed(format!("header ends inside {what}")));
    }
    Ok(buf.get_u16())
}

fn take_str(buf: &mut Bytes, what: &str) -> Result<FastStr, FrameError> {
    let len = usize::from(take_u16(buf, what)?);
    if buf.remaining() < len {
        return Err(malformed(format!(
            "{what} of {len} bytes overruns the header"
        )));
    }
    FastStr::from_bytes(buf.split_to(len)).map_err(|_| malformed(format!("{what} is not UTF-8")))
}

/// Checks the structure of info blocks (every count and length within the header) without
/// building anything, so that walking them later cannot run past the end.
fn check(mut b: &[u8]) -> Result<(), FrameError> {
    fn u16_at(b: &mut &[u8], what: &str) -> Result<usize, FrameError> {
        match b {
            [hi, lo, rest @ ..] => {
                let v = usize::from(u16::from_be_bytes([*hi, *lo]));
                *b = rest;
                Ok(v)
            }
            _ => Err(malformed(format!("header ends inside {what}"))),
        }
    }
    fn skip(b: &mut &[u8], what: &str) -> Result<(), FrameError> {
        let len = u16_at(b, what)?;
        if b.len() < len {
            return Err(malformed(format!(
                "{what} of {len} bytes overruns the header"
            )));
        }
        *b = &b[len..];
        Ok(())
    }
    while let [id, rest @ ..] = b {
        b = rest;
        match *id {
            info::PADDING => {}
            info::KEY_VALUE => {
                for _ in 0..u16_at(&mut b, "info count")? {
                    skip(&mut b, "string info key")?;
                    skip(&mut b, "string info value")?;
                }
            }
            info::INT_KEY_VALUE => {
                for _ in 0..u16_at(&mut b, "info count")? {
                    u16_at(&mut b, "int info key")?;
                    skip(&mut b, "int info value")?;
                }
            }
            info::ACL_TOKEN_KEY_VALUE => skip(&mut b, "token")?,
            other => return Err(malformed(format!("unknown info id {other:#04x}"))),
        }
    }
    Ok(())
}

/// Decodes a TTHeader frame body (everything after the 4-byte length): returns the header and
/// the payload, which share `frame`'s memory.
pub fn decode(mut frame: Bytes) -> Result<(Header, Bytes), FrameError> {
    if frame.remaining() < 10 {
        return Err(malformed(format!(
            "frame of {} bytes is too short",
            frame.len()
        )));
    }
    let magic = frame.get_u16();
    if magic != MAGIC {
        return Err(malformed(format!("bad magic {magic:#06x}")));
    }
    let flags = frame.get_u16();
    let seq_id = frame.get_i32();
    let header_len = usize::from(frame.get_u16()) * 4;
    if header_len < 2 || header_len > frame.remaining() {
        return Err(malformed(format!(
            "header size {header_len} with {} bytes left",
            frame.remaining()
        )));
    }
    let mut header = frame.split_to(header_len);
    let protocol_id = header.get_u8();
    let transforms = header.get_u8();
    if transforms > 0 {
        return Err(FrameError::Unsupported(format!(
            "ttheader transforms ({transforms}) are not supported"
        )));
    }
    check(&header)?;
    Ok((
        Header {
            flags,
            seq_id,
            protocol_id,
            info: header,
        },
        frame,
    ))
}

/// Writes a TTHeader frame into a buffer: [`begin`](HeaderWriter::begin) writes the fixed part,
/// the info methods add blocks, [`finish_header`](HeaderWriter::finish_header) pads and fixes
/// the header size, the caller appends the payload, and [`finish_frame`] fixes the length.
#[derive(Debug)]
pub struct HeaderWriter<'a> {
    buf: &'a mut BytesMut,
    frame_start: usize,
    header_start: usize,
}

impl<'a> HeaderWriter<'a> {
    /// Starts a frame at the end of `buf`.
    pub fn begin(buf: &'a mut BytesMut, flags: u16, seq_id: i32, protocol_id: u8) -> Self {
        let frame_start = buf.len();
        // The fixed part in one copy: length and header size are fixed later, no transforms.
        let mut fixed = [0u8; 16];
        fixed[4..6].copy_from_slice(&MAGIC.to_be_bytes());
        fixed[6..8].copy_from_slice(&flags.to_be_bytes());
        fixed[8..12].copy_from_slice(&seq_id.to_be_bytes());
        fixed[14] = protocol_id;
        buf.extend_from_slice(&fixed);
        let header_start = frame_start + 14;
        HeaderWriter {
            buf,
            frame_start,
            header_start,
        }
    }

    /// Adds a string key/value block. Pairs longer than a u16 can say are left out, with a
    /// warning; an empty iterator writes nothing.
    pub fn strings<'k, I>(&mut self, pairs: I)
    where
        I: IntoIterator<Item = (&'k str, &'k str)>,
    {
        self.prefixed_strings(pairs.into_iter().map(|(k, v)| ("", k, v)));
    }

    /// Adds a string key/value block of `(prefix, key, value)` entries, each key written as
    /// `prefix` then `key` (Kitex's metainfo names its keys so: `RPC_TRANSIT_` + `key`).
    /// Pairs longer than a u16 can say are left out, with a warning; an empty iterator
    /// writes nothing.
    pub fn prefixed_strings<'k, I>(&mut self, entries: I)
    where
        I: IntoIterator<Item = (&'k str, &'k str, &'k str)>,
    {
        let mut entries = entries.into_iter().peekable();
        if entries.peek().is_none() {
            return;
        }
        self.buf.put_u8(info::KEY_VALUE);
        let count_at = self.buf.len();
        self.buf.put_u16(0);
        let mut count = 0u16;
        for (prefix, k, v) in entries {
            let key_len = prefix.len() + k.len();
            if key_len > usize::from(u16::MAX)
                || v.len() > usize::from(u16::MAX)
                || count == u16::MAX
            {
                tracing::warn!(key = k, "metadata entry too long for ttheader; not sent");
                continue;
            }
            self.buf.put_u16(key_len as u16);
            self.buf.put_slice(prefix.as_bytes());
            self.buf.put_slice(k.as_bytes());
            self.buf.put_u16(v.len() as u16);
            self.buf.put_slice(v.as_bytes());
            count += 1;
        }
        self.buf[count_at..count_at + 2].copy_from_slice(&count.to_be_bytes());
    }

    /// Adds an integer-keyed block; an empty iterator writes nothing.
    pub fn ints<'v, I>(&mut self, pairs: I)
    where
        I: IntoIterator<Item = (u16, &'v str)>,
    {
        let mut pairs = pairs.into_iter().peekable();
        if pairs.peek().is_none() {
            return;
        }
        self.buf.put_u8(info::INT_KEY_VALUE);
        let count_at = self.buf.len();
        self.buf.put_u16(0);
        let mut count = 0u16;
        for (k, v) in pairs {
            if v.len() > usize::from(u16::MAX) || count == u16::MAX {
                continue;
            }
            self.buf.put_u16(k);
            self.buf.put_u16(v.len() as u16);
            self.buf.put_slice(v.as_bytes());
            count += 1;
        }
        self.buf[count_at..count_at + 2].copy_from_slice(&count.to_be_bytes());
    }

    /// Pads the header to a multiple of 4 bytes and records its size. Returns the frame's
    /// start, for [`finish_frame`]. Fails if the header is over the 256 KiB a u16 of words
    /// can describe.
    pub fn finish_header(self) -> Result<usize, FrameError> {
        let mut len = self.buf.len() - self.header_start;
        while len % 4 != 0 {
            self.buf.put_u8(info::PADDING);
            len += 1;
        }
        let words = u16::try_from(len / 4).map_err(|_| FrameError::TooLarge {
            size: len,
            limit: usize::from(u16::MAX) * 4,
        })?;
        let at = self.header_start - 2;
        self.buf[at..at + 2].copy_from_slice(&words.to_be_bytes());
        Ok(self.frame_start)
    }
}

/// Fixes the length of the frame that starts at `frame_start` once its payload is written.
pub fn finish_frame(buf: &mut BytesMut, frame_start: usize) {
    let len = (buf.len() - frame_start - 4) as u32;
    buf[frame_start..frame_start + 4].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_it_reads() {
        let mut buf = BytesMut::new();
        let mut w = HeaderWriter::begin(&mut buf, 0, 7, protocol_id::COMPACT);
        w.strings([("trace", "abc"), ("k", "")]);
        w.ints([(int_key::RPC_TIMEOUT, "250"), (int_key::TO_METHOD, "echo")]);
        let start = w.finish_header().unwrap();
        buf.put_slice(b"payload");
        finish_frame(&mut buf, start);

        let len = u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize;
        assert_eq!(len, buf.len() - 4);
        let header_words = u16::from_be_bytes(buf[12..14].try_into().unwrap());
        assert_eq!((usize::from(header_words) * 4) % 4, 0);
        let (h, payload) = decode(buf.freeze().slice(4..)).unwrap();
        assert_eq!(h.seq_id, 7);
        assert_eq!(h.protocol_id, protocol_id::COMPACT);
        assert_eq!(h.string("trace").as_deref(), Some("abc"));
        assert_eq!(h.string("k").as_deref(), Some(""));
        assert_eq!(h.int(int_key::RPC_TIMEOUT).as_deref(), Some("250"));
        assert_eq!(h.entries().count(), 4);
        assert_eq!(&payload[..], b"payload");
    }

    #[test]
    fn rejects_lies_about_sizes() {
        // Header size says 400 bytes, 4 are present.
        let frame = Bytes::from_static(&[0x10, 0x00, 0, 0, 0, 0, 0, 1, 0, 100, 0, 0, 0, 0]);
        assert!(matches!(decode(frame), Err(FrameError::Malformed(_))));
        // A string key claims 255 bytes inside an 8-byte header.
        let frame = Bytes::from_static(&[
            0x10,
            0x00,
            0,
            0,
            0,
            0,
            0,
            1,
            0,
            2,
            0,
            0,
            info::KEY_VALUE,
            0,
            1,
            0,
            0xff,
            0,
            0,
            0,
        ]);
        let err = decode(frame).unwrap_err();
        assert!(err.to_string().contains("overruns"), "{err}");
        // Wrong magic.
        let frame = Bytes::from_static(&[0x0f, 0xff, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0]);
        assert!(decode(frame).unwrap_err().to_string().contains("magic"));
        // A count of 65535 pairs in a tiny header fails without reserving for them.
        let frame = Bytes::from_static(&[
            0x10,
            0x00,
            0,
            0,
            0,
            0,
            0,
            1,
            0,
            1,
            0,
            0,
            info::INT_KEY_VALUE,
            0xff,
            0xff,
            0,
        ]);
        assert!(decode(frame).is_err());
    }
}
