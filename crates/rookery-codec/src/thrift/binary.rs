//! The binary protocol: big-endian fixed-width integers, `i32` lengths, strict message
//! envelopes (`0x8001` version) on write, strict and old-style envelopes on read.

use bytes::{Buf, Bytes};

use super::{
    BufExt, DecodeLimits, Depth, MessageHeader, MessageType, ProtocolRead, ProtocolWrite, Sink,
    TType, checked_len, skip_value,
};
use crate::{DecodeError, DecodeErrorKind};

const VERSION_1: u32 = 0x8001_0000;
const VERSION_MASK: u32 = 0xffff_0000;

/// Writes the binary protocol into a [`Sink`].
#[derive(Debug)]
pub struct BinaryWriter<S> {
    sink: S,
}

impl<S: Sink> BinaryWriter<S> {
    /// A writer appending to `sink`.
    pub fn new(sink: S) -> Self {
        BinaryWriter { sink }
    }

    /// The sink back.
    pub fn into_inner(self) -> S {
        self.sink
    }

    #[inline]
    fn put_len(&mut self, len: usize) {
        debug_assert!(
            i32::try_from(len).is_ok(),
            "thrift length {len} overflows i32"
        );
        self.sink.put_i32(len as i32);
    }
}

impl<S: Sink> ProtocolWrite for BinaryWriter<S> {
    #[inline]
    fn write_message_begin(&mut self, name: &str, kind: MessageType, seq_id: i32) {
        self.sink.put_i32((VERSION_1 | kind as u32) as i32);
        self.write_string(name);
        self.sink.put_i32(seq_id);
    }
    #[inline]
    fn write_struct_begin(&mut self) {}
    #[inline]
    fn write_struct_end(&mut self) {}
    #[inline]
    fn write_field_begin(&mut self, ty: TType, id: i16) {
        self.sink.put_u8(ty as u8);
        self.sink.put_i16(id);
    }
    #[inline]
    fn write_field_stop(&mut self) {
        self.sink.put_u8(TType::Stop as u8);
    }
    #[inline]
    fn write_bool(&mut self, v: bool) {
        self.sink.put_u8(v as u8);
    }
    #[inline]
    fn write_i8(&mut self, v: i8) {
        self.sink.put_u8(v as u8);
    }
    #[inline]
    fn write_i16(&mut self, v: i16) {
        self.sink.put_i16(v);
    }
    #[inline]
    fn write_i32(&mut self, v: i32) {
        self.sink.put_i32(v);
    }
    #[inline]
    fn write_i64(&mut self, v: i64) {
        self.sink.put_i64(v);
    }
    #[inline]
    fn write_double(&mut self, v: f64) {
        self.sink.put_i64(v.to_bits() as i64);
    }
    #[inline]
    fn write_binary(&mut self, v: &[u8]) {
        self.put_len(v.len());
        self.sink.put_slice(v);
    }
    #[inline]
    fn write_uuid(&mut self, v: &[u8; 16]) {
        self.sink.put_slice(v);
    }
    #[inline]
    fn write_list_begin(&mut self, elem: TType, len: usize) {
        self.sink.put_u8(elem as u8);
        self.put_len(len);
    }
    #[inline]
    fn write_set_begin(&mut self, elem: TType, len: usize) {
        self.write_list_begin(elem, len);
    }
    #[inline]
    fn write_map_begin(&mut self, key: TType, value: TType, len: usize) {
        self.sink.put_u8(key as u8);
        self.sink.put_u8(value as u8);
        self.put_len(len);
    }
}

/// Reads the binary protocol from a [`Buf`].
#[derive(Debug)]
pub struct BinaryReader<B> {
    buf: B,
    depth: Depth,
}

impl<B: Buf> BinaryReader<B> {
    /// A reader over `buf` with the default limits.
    pub fn new(buf: B) -> Self {
        Self::with_limits(buf, DecodeLimits::default())
    }

    /// A reader over `buf` with `limits`.
    pub fn with_limits(buf: B, limits: DecodeLimits) -> Self {
        BinaryReader {
            buf,
            depth: Depth::new(limits),
        }
    }

    /// What is left of the input.
    pub fn into_inner(self) -> B {
        self.buf
    }

    #[inline]
    fn len_prefix(&mut self, min_elem: usize, what: &'static str) -> Result<usize, DecodeError> {
        let raw = self.read_i32()?;
        checked_len(raw.into(), min_elem, self.buf.remaining(), what)
    }
}

impl<B: Buf> ProtocolRead for BinaryReader<B> {
    fn read_message_begin(&mut self) -> Result<MessageHeader, DecodeError> {
        let first = self.read_i32()?;
        if first < 0 {
            let version = first as u32 & VERSION_MASK;
            if version != VERSION_1 {
                return Err(DecodeError::new(
                    DecodeErrorKind::BadVersion,
                    format!("binary protocol version {version:#010x}"),
                ));
            }
            let kind = MessageType::from_u8(first as u8)?;
            let name = self.read_string()?;
            let seq_id = self.read_i32()?;
            Ok(MessageHeader { name, kind, seq_id })
        } else {
            // Old, non-strict form: the name's length comes first.
            let len = checked_len(first.into(), 1, self.buf.remaining(), "method name")?;
            let name = self.buf.copy_to_bytes(len);
            let name = faststr::FastStr::from_bytes(name)
                .map_err(|e| DecodeError::new(DecodeErrorKind::InvalidUtf8, e.to_string()))?;
            let kind = MessageType::from_u8(self.read_i8()? as u8)?;
            let seq_id = self.read_i32()?;
            Ok(MessageHeader { name, kind, seq_id })
        }
    }

    #[inline]
    fn read_struct_begin(&mut self) -> Result<(), DecodeError> {
        self.depth.enter()
    }

    #[inline]
    fn read_struct_end(&mut self) {
        self.depth.leave();
    }

    #[inline]
    fn read_field_begin(&mut self) -> Result<(TType, i16), DecodeError> {
        let ty = TType::from_u8(self.read_i8()? as u8)?;
        if ty == TType::Stop {
            return Ok((TType::Stop, 0));
        }
        Ok((ty, self.read_i16()?))
    }

    #[inline]
    fn read_bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.read_i8()? != 0)
    }

    #[inline]
    fn read_i8(&mut self) -> Result<i8, DecodeError> {
        self.buf.need(1, "i8")?;
        Ok(self.buf.get_i8())
    }

    #[inline]
    fn read_i16(&mut self) -> Result<i16, DecodeError> {
        self.buf.need(2, "i16")?;
        Ok(self.buf.get_i16())
    }

    #[inline]
    fn read_i32(&mut self) -> Result<i32, DecodeError> {
        self.buf.need(4, "i32")?;
        Ok(self.buf.get_i32())
    }

    #[inline]
    fn read_i64(&mut self) -> Result<i64, DecodeError> {
        self.buf.need(8, "i64")?;
        Ok(self.buf.get_i64())
    }

    #[inline]
    fn read_double(&mut self) -> Result<f64, DecodeError> {
        self.buf.need(8, "double")?;
        Ok(f64::from_bits(self.buf.get_u64()))
    }

    #[inline]
    fn read_binary(&mut self) -> Result<Bytes, DecodeError> {
        let len = self.len_prefix(1, "binary")?;
        Ok(self.buf.copy_to_bytes(len))
    }

    #[inline]
    fn read_uuid(&mut self) -> Result<[u8; 16], DecodeError> {
        self.buf.need(16, "uuid")?;
        let mut out = [0u8; 16];
        self.buf.copy_to_slice(&mut out);
        Ok(out)
    }

    fn read_list_begin(&mut self) -> Result<(TType, usize), DecodeError> {
        let elem = TType::from_u8(self.read_i8()? as u8)?;
        if elem == TType::Stop {
            return Err(DecodeError::invalid("list of stop"));
        }
        let len = self.len_prefix(1, "list")?;
        self.depth.enter()?;
        Ok((elem, len))
    }

    #[inline]
    fn read_list_end(&mut self) {
        self.depth.leave();
    }

    fn read_map_begin(&mut self) -> Result<(TType, TType, usize), DecodeError> {
        let key = TType::from_u8(self.read_i8()? as u8)?;
        let value = TType::from_u8(self.read_i8()? as u8)?;
        let len = self.len_prefix(2, "map")?;
        if len > 0 && (key == TType::Stop || value == TType::Stop) {
            return Err(DecodeError::invalid("map of stop"));
        }
        self.depth.enter()?;
        Ok((key, value, len))
    }

    #[inline]
    fn read_map_end(&mut self) {
        self.depth.leave();
    }

    fn skip_bytes(&mut self, len: usize) -> Result<(), DecodeError> {
        self.buf.need(len, "skipped bytes")?;
        self.buf.advance(len);
        Ok(())
    }

    #[inline]
    fn remaining(&self) -> usize {
        self.buf.remaining()
    }

    fn skip(&mut self, ty: TType) -> Result<(), DecodeError> {
        // Fixed-width values and binaries are skipped without being read.
        let width = match ty {
            TType::Bool | TType::I8 => 1,
            TType::I16 => 2,
            TType::I32 => 4,
            TType::I64 | TType::Double => 8,
            TType::Uuid => 16,
            TType::Binary => {
                let len = self.len_prefix(1, "binary")?;
                return self.skip_bytes(len);
            }
            _ => return skip_value(self, ty),
        };
        self.skip_bytes(width)
    }
}
