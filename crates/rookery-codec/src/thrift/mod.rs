//! Thrift's binary and compact protocols.
//!
//! A message type implements [`ThriftEncode`] and [`ThriftDecode`] once, against the
//! [`ProtocolWrite`] and [`ProtocolRead`] traits; each protocol implements those traits, and the
//! compiler produces one specialised encoder and decoder per pair. The same `encode` walks a
//! message to compute its size ([`Protocol::encoded_len`]) with a writer that only counts, so a
//! size never disagrees with what is written.
//!
//! Readers are generic over [`bytes::Buf`]: over [`Bytes`] they hand out strings and binaries
//! as slices of the input without copying; over `&[u8]` they copy.

mod binary;
mod compact;
mod exception;
mod sink;

use bytes::{Buf, Bytes, BytesMut};
use faststr::FastStr;

pub use binary::{BinaryReader, BinaryWriter};
pub use compact::{CompactReader, CompactWriter};
pub use exception::{ApplicationException, ApplicationExceptionKind};
pub use sink::{Counter, Sink, SliceSink};

pub use crate::{DecodeError, DecodeErrorKind};

use crate::{Codec, EncodeError};

/// The type of a value on the wire, with the numbers of the binary protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TType {
    /// Ends a struct's fields.
    Stop = 0,
    /// `bool`.
    Bool = 2,
    /// `byte` / `i8`.
    I8 = 3,
    /// `double`.
    Double = 4,
    /// `i16`.
    I16 = 6,
    /// `i32` and enums.
    I32 = 8,
    /// `i64`.
    I64 = 10,
    /// `string` and `binary`.
    Binary = 11,
    /// `struct`, `union` and `exception`.
    Struct = 12,
    /// `map`.
    Map = 13,
    /// `set`.
    Set = 14,
    /// `list`.
    List = 15,
    /// `uuid` (16 bytes).
    Uuid = 16,
}

impl TType {
    /// The type for a binary-protocol type id.
    pub fn from_u8(id: u8) -> Result<TType, DecodeError> {
        Ok(match id {
            0 => TType::Stop,
            2 => TType::Bool,
            3 => TType::I8,
            4 => TType::Double,
            6 => TType::I16,
            8 => TType::I32,
            10 => TType::I64,
            11 => TType::Binary,
            12 => TType::Struct,
            13 => TType::Map,
            14 => TType::Set,
            15 => TType::List,
            16 => TType::Uuid,
            other => return Err(DecodeError::invalid(format!("unknown type id {other}"))),
        })
    }
}

/// The kind of a Thrift message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    /// A request that expects a reply.
    Call = 1,
    /// A successful reply (which may carry a declared exception in its result struct).
    Reply = 2,
    /// A reply carrying an [`ApplicationException`].
    Exception = 3,
    /// A request that expects no reply.
    Oneway = 4,
}

impl MessageType {
    /// The message type for its number on the wire.
    pub fn from_u8(n: u8) -> Result<MessageType, DecodeError> {
        Ok(match n {
            1 => MessageType::Call,
            2 => MessageType::Reply,
            3 => MessageType::Exception,
            4 => MessageType::Oneway,
            other => {
                return Err(DecodeError::invalid(format!(
                    "unknown message type {other}"
                )));
            }
        })
    }
}

/// The envelope of a Thrift message: method name, message type, sequence id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageHeader {
    /// The method name, possibly prefixed with `Service:` by a multiplexing client.
    pub name: FastStr,
    /// Call, reply, exception or oneway.
    pub kind: MessageType,
    /// The sequence id that matches a reply to its call.
    pub seq_id: i32,
}

/// Limits a reader enforces beyond the bytes present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// How deeply structs and containers may nest (64 by default). Each level costs a little
    /// stack in the decoder, so this bounds stack use on hostile input.
    pub max_depth: u16,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits { max_depth: 64 }
    }
}

/// Counts how deeply a reader is nested in structs and containers, against the limit.
#[derive(Debug)]
pub(crate) struct Depth {
    level: u16,
    max: u16,
}

impl Depth {
    pub(crate) fn new(limits: DecodeLimits) -> Self {
        Depth {
            level: 0,
            max: limits.max_depth,
        }
    }

    /// Goes one level deeper, or fails past the limit.
    #[inline]
    pub(crate) fn enter(&mut self) -> Result<(), DecodeError> {
        if self.level >= self.max {
            return Err(DecodeError::new(
                DecodeErrorKind::DepthLimit,
                format!("more than {} levels", self.max),
            ));
        }
        self.level += 1;
        Ok(())
    }

    /// Comes back up one level.
    #[inline]
    pub(crate) fn leave(&mut self) {
        self.level = self.level.saturating_sub(1);
    }
}

/// Writes Thrift values in one protocol.
///
/// Writing is infallible: sizes are computed first (see [`Protocol::encoded_len`]) and the
/// transport refuses a message over its frame limit before a byte is written.
/// Collection lengths must fit in an `i32`.
pub trait ProtocolWrite {
    /// Writes a message envelope.
    fn write_message_begin(&mut self, name: &str, kind: MessageType, seq_id: i32);
    /// Starts a struct.
    fn write_struct_begin(&mut self);
    /// Ends a struct (after its [`write_field_stop`](ProtocolWrite::write_field_stop)).
    fn write_struct_end(&mut self);
    /// Starts a field; its value follows.
    fn write_field_begin(&mut self, ty: TType, id: i16);
    /// Ends a struct's fields.
    fn write_field_stop(&mut self);
    /// Writes a `bool`.
    fn write_bool(&mut self, v: bool);
    /// Writes an `i8`.
    fn write_i8(&mut self, v: i8);
    /// Writes an `i16`.
    fn write_i16(&mut self, v: i16);
    /// Writes an `i32`.
    fn write_i32(&mut self, v: i32);
    /// Writes an `i64`.
    fn write_i64(&mut self, v: i64);
    /// Writes a `double`.
    fn write_double(&mut self, v: f64);
    /// Writes a `binary`.
    fn write_binary(&mut self, v: &[u8]);
    /// Writes a `string`.
    fn write_string(&mut self, v: &str) {
        self.write_binary(v.as_bytes());
    }
    /// Writes a `uuid`.
    fn write_uuid(&mut self, v: &[u8; 16]);
    /// Starts a list of `len` elements of type `elem`.
    fn write_list_begin(&mut self, elem: TType, len: usize);
    /// Starts a set of `len` elements of type `elem`.
    fn write_set_begin(&mut self, elem: TType, len: usize);
    /// Starts a map of `len` entries.
    fn write_map_begin(&mut self, key: TType, value: TType, len: usize);
}

/// Reads Thrift values in one protocol.
///
/// Every method returns an error rather than panicking on malformed input. Lengths are checked
/// against the bytes that remain before anything is allocated, and
/// [`read_struct_begin`](ProtocolRead::read_struct_begin) and the container `begin` methods
/// count nesting against [`DecodeLimits::max_depth`]; each must be paired with its `end`.
pub trait ProtocolRead {
    /// Reads a message envelope.
    fn read_message_begin(&mut self) -> Result<MessageHeader, DecodeError>;
    /// Starts a struct, counting one level of nesting.
    fn read_struct_begin(&mut self) -> Result<(), DecodeError>;
    /// Ends a struct.
    fn read_struct_end(&mut self);
    /// Reads a field header: `(TType::Stop, 0)` after the last field.
    fn read_field_begin(&mut self) -> Result<(TType, i16), DecodeError>;
    /// Reads a `bool`.
    fn read_bool(&mut self) -> Result<bool, DecodeError>;
    /// Reads an `i8`.
    fn read_i8(&mut self) -> Result<i8, DecodeError>;
    /// Reads an `i16`.
    fn read_i16(&mut self) -> Result<i16, DecodeError>;
    /// Reads an `i32`.
    fn read_i32(&mut self) -> Result<i32, DecodeError>;
    /// Reads an `i64`.
    fn read_i64(&mut self) -> Result<i64, DecodeError>;
    /// Reads a `double`.
    fn read_double(&mut self) -> Result<f64, DecodeError>;
    /// Reads a `binary` (a slice of the input when reading from [`Bytes`]).
    fn read_binary(&mut self) -> Result<Bytes, DecodeError>;
    /// Reads a `string`, checking that it is UTF-8.
    fn read_string(&mut self) -> Result<FastStr, DecodeError> {
        let bytes = self.read_binary()?;
        FastStr::from_bytes(bytes)
            .map_err(|e| DecodeError::new(DecodeErrorKind::InvalidUtf8, e.to_string()))
    }
    /// Reads a `uuid`.
    fn read_uuid(&mut self) -> Result<[u8; 16], DecodeError>;
    /// Starts a list: its element type and length. Counts one level of nesting.
    fn read_list_begin(&mut self) -> Result<(TType, usize), DecodeError>;
    /// Ends a list.
    fn read_list_end(&mut self);
    /// Starts a set: its element type and length. Counts one level of nesting.
    fn read_set_begin(&mut self) -> Result<(TType, usize), DecodeError> {
        self.read_list_begin()
    }
    /// Ends a set.
    fn read_set_end(&mut self) {
        self.read_list_end();
    }
    /// Starts a map: key type, value type and length. Counts one level of nesting.
    fn read_map_begin(&mut self) -> Result<(TType, TType, usize), DecodeError>;
    /// Ends a map.
    fn read_map_end(&mut self);
    /// Skips `len` raw bytes (the body of a binary being skipped).
    fn skip_bytes(&mut self, len: usize) -> Result<(), DecodeError>;
    /// The number of bytes left in the input.
    fn remaining(&self) -> usize;

    /// Skips one value of type `ty`, however nested, within the depth limit. Decoders call it
    /// for fields they do not know.
    fn skip(&mut self, ty: TType) -> Result<(), DecodeError> {
        skip_value(self, ty)
    }
}

/// A value that can be written in any Thrift protocol.
pub trait ThriftEncode {
    /// Writes `self`.
    fn encode<W: ProtocolWrite>(&self, w: &mut W);
}

/// A value that can be read from any Thrift protocol.
pub trait ThriftDecode: Sized {
    /// Reads one value.
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError>;
}

impl<T: ThriftEncode + ?Sized> ThriftEncode for &T {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        (**self).encode(w);
    }
}

/// One of Thrift's protocols, chosen at run time (a server answers in the protocol it was
/// called in).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// The binary protocol (strict: messages carry a version).
    #[default]
    Binary,
    /// The compact protocol.
    Compact,
}

impl Protocol {
    /// The exact number of bytes `encode` writes for `msg`.
    pub fn encoded_len<M: ThriftEncode + ?Sized>(self, msg: &M) -> usize {
        match self {
            Protocol::Binary => {
                let mut w = BinaryWriter::new(Counter::default());
                msg.encode(&mut w);
                w.into_inner().len()
            }
            Protocol::Compact => {
                let mut w = CompactWriter::new(Counter::default());
                msg.encode(&mut w);
                w.into_inner().len()
            }
        }
    }

    /// Appends `msg` to `buf`: measures it, grows `buf` by exactly that much, and writes into
    /// the new bytes by index (cheaper than growing `buf` one write at a time).
    pub fn encode<M: ThriftEncode + ?Sized>(self, msg: &M, buf: &mut BytesMut) {
        let len = self.encoded_len(msg);
        let start = buf.len();
        buf.resize(start + len, 0);
        let written = self.encode_into(msg, &mut buf[start..]);
        debug_assert_eq!(written, len, "size and write disagree");
    }

    /// Appends `msg` to `buf` without measuring it first (the caller reserved already, or
    /// lets `buf` grow as it goes).
    pub fn encode_unsized<M: ThriftEncode + ?Sized>(self, msg: &M, buf: &mut BytesMut) {
        match self {
            Protocol::Binary => msg.encode(&mut BinaryWriter::new(buf)),
            Protocol::Compact => msg.encode(&mut CompactWriter::new(buf)),
        }
    }

    /// Writes `msg` at the start of `out`, which must hold at least
    /// [`encoded_len`](Self::encoded_len) bytes, and returns how many were written.
    ///
    /// # Panics
    ///
    /// If `out` is shorter than the encoding.
    pub fn encode_into<M: ThriftEncode + ?Sized>(self, msg: &M, out: &mut [u8]) -> usize {
        match self {
            Protocol::Binary => {
                let mut w = BinaryWriter::new(SliceSink::new(out));
                msg.encode(&mut w);
                w.into_inner().written()
            }
            Protocol::Compact => {
                let mut w = CompactWriter::new(SliceSink::new(out));
                msg.encode(&mut w);
                w.into_inner().written()
            }
        }
    }

    /// Encodes `msg` into a buffer of exactly its size.
    pub fn encode_to_bytes<M: ThriftEncode + ?Sized>(self, msg: &M) -> Bytes {
        let mut out = vec![0; self.encoded_len(msg)];
        let written = self.encode_into(msg, &mut out);
        debug_assert_eq!(written, out.len(), "size and write disagree");
        Bytes::from(out)
    }

    /// Decodes one `M` from `buf` with the default limits; strings and binaries in the result
    /// share `buf`'s memory.
    pub fn decode<M: ThriftDecode>(self, buf: Bytes) -> Result<M, DecodeError> {
        self.decode_with(buf, DecodeLimits::default())
    }

    /// Decodes one `M` from `buf` with `limits`.
    pub fn decode_with<M: ThriftDecode>(
        self,
        buf: Bytes,
        limits: DecodeLimits,
    ) -> Result<M, DecodeError> {
        match self {
            Protocol::Binary => M::decode(&mut BinaryReader::with_limits(buf, limits)),
            Protocol::Compact => M::decode(&mut CompactReader::with_limits(buf, limits)),
        }
    }

    /// The size of a message envelope in this protocol.
    pub fn message_header_len(self, name: &str, seq_id: i32) -> usize {
        match self {
            Protocol::Binary => 4 + 4 + name.len() + 4,
            Protocol::Compact => {
                2 + sink::varint_len(seq_id as u32 as u64)
                    + sink::varint_len(name.len() as u64)
                    + name.len()
            }
        }
    }

    /// Appends a message envelope to `buf`.
    pub fn write_message_header(
        self,
        buf: &mut BytesMut,
        name: &str,
        kind: MessageType,
        seq_id: i32,
    ) {
        match self {
            Protocol::Binary => BinaryWriter::new(buf).write_message_begin(name, kind, seq_id),
            Protocol::Compact => CompactWriter::new(buf).write_message_begin(name, kind, seq_id),
        }
    }

    /// Reads a message envelope from the front of `buf`, leaving the body in it. On error
    /// `buf` is left as it was (a truncated envelope can be read again once more bytes came).
    pub fn read_message_header(self, buf: &mut Bytes) -> Result<MessageHeader, DecodeError> {
        // Read from a clone (a reference count, not a copy) so that an error consumes nothing.
        let (header, rest) = match self {
            Protocol::Binary => {
                let mut r = BinaryReader::new(buf.clone());
                (r.read_message_begin()?, r.into_inner())
            }
            Protocol::Compact => {
                let mut r = CompactReader::new(buf.clone());
                (r.read_message_begin()?, r.into_inner())
            }
        };
        *buf = rest;
        Ok(header)
    }

    /// Guesses the protocol of a message from its first bytes: `0x80 0x01` is strict binary,
    /// `0x82` is compact. Non-strict binary cannot be told from noise and is not detected.
    pub fn detect(first: &[u8]) -> Option<Protocol> {
        match first {
            [0x80, 0x01, ..] => Some(Protocol::Binary),
            [0x82, ..] => Some(Protocol::Compact),
            _ => None,
        }
    }

    /// Measures the complete message (envelope and body) at the front of `buf` without
    /// decoding it: `Ok(Some(len))` when it is all there, `Ok(None)` when more bytes are needed,
    /// an error when the bytes cannot be a message. Used to cut messages out of an unframed
    /// ("buffered") stream.
    pub fn measure_message(
        self,
        buf: &[u8],
        limits: DecodeLimits,
    ) -> Result<Option<usize>, DecodeError> {
        fn run<R: ProtocolRead>(r: &mut R, total: usize) -> Result<Option<usize>, DecodeError> {
            let outcome = r.read_message_begin().and_then(|_| r.skip(TType::Struct));
            match outcome {
                Ok(()) => Ok(Some(total - r.remaining())),
                Err(e) if e.is_truncated() => Ok(None),
                Err(e) => Err(e),
            }
        }
        match self {
            Protocol::Binary => run(&mut BinaryReader::with_limits(buf, limits), buf.len()),
            Protocol::Compact => run(&mut CompactReader::with_limits(buf, limits), buf.len()),
        }
    }
}

impl<M: ThriftEncode + ThriftDecode> Codec<M> for Protocol {
    fn encode(&self, msg: &M, buf: &mut BytesMut) -> Result<(), EncodeError> {
        Protocol::encode(*self, msg, buf);
        Ok(())
    }

    fn decode(&self, buf: Bytes) -> Result<M, DecodeError> {
        Protocol::decode(*self, buf)
    }
}

/// Skips one value of type `ty` by reading it; protocols override [`ProtocolRead::skip`] for
/// what they can skip faster and call this for the rest.
pub(crate) fn skip_value<R: ProtocolRead + ?Sized>(
    r: &mut R,
    ty: TType,
) -> Result<(), DecodeError> {
    match ty {
        TType::Stop => return Err(DecodeError::invalid("cannot skip a value of type stop")),
        TType::Bool => {
            r.read_bool()?;
        }
        TType::I8 => {
            r.read_i8()?;
        }
        TType::I16 => {
            r.read_i16()?;
        }
        TType::I32 => {
            r.read_i32()?;
        }
        TType::I64 => {
            r.read_i64()?;
        }
        TType::Double => {
            r.read_double()?;
        }
        TType::Uuid => {
            r.read_uuid()?;
        }
        TType::Binary => {
            r.read_binary()?;
        }
        TType::Struct => {
            r.read_struct_begin()?;
            loop {
                let (field_ty, _) = r.read_field_begin()?;
                if field_ty == TType::Stop {
                    break;
                }
                r.skip(field_ty)?;
            }
            r.read_struct_end();
        }
        TType::List | TType::Set => {
            let (elem, len) = r.read_list_begin()?;
            for _ in 0..len {
                r.skip(elem)?;
            }
            r.read_list_end();
        }
        TType::Map => {
            let (key, value, len) = r.read_map_begin()?;
            for _ in 0..len {
                r.skip(key)?;
                r.skip(value)?;
            }
            r.read_map_end();
        }
    }
    Ok(())
}

/// Checks a length or count read from the wire against the bytes left, where each element
/// takes at least `min_elem` bytes: a lie about the size is an error before anything is
/// allocated. A size larger than what is left is reported as truncation, because on a stream
/// more bytes may still come; in a complete frame that is an error all the same.
pub(crate) fn checked_len(
    raw: i64,
    min_elem: usize,
    remaining: usize,
    what: &'static str,
) -> Result<usize, DecodeError> {
    if raw < 0 {
        return Err(DecodeError::new(
            DecodeErrorKind::NegativeSize,
            format!("{what} size {raw}"),
        ));
    }
    let len = usize::try_from(raw)
        .map_err(|_| DecodeError::new(DecodeErrorKind::SizeLimit, format!("{what} size {raw}")))?;
    match len.checked_mul(min_elem) {
        Some(need) if need <= remaining => Ok(len),
        Some(_) => Err(DecodeError::truncated(what)),
        None => Err(DecodeError::new(
            DecodeErrorKind::SizeLimit,
            format!("{what} size {len} overflows"),
        )),
    }
}

/// Reads from a [`Buf`] with a bounds check, as every reader does.
pub(crate) trait BufExt: Buf {
    fn need(&self, n: usize, what: &'static str) -> Result<(), DecodeError> {
        if self.remaining() < n {
            Err(DecodeError::truncated(what))
        } else {
            Ok(())
        }
    }
}

impl<B: Buf> BufExt for B {}

#[cfg(test)]
mod tests;
