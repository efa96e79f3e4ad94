//! Decoding from one [`Bytes`]: strings and bytes are slices of the input (short strings are
//! copied inline into the [`FastStr`], which is cheaper than sharing), lengths are checked
//! against the bytes present before anything is taken, and nesting is limited.

use bytes::Bytes;
use faststr::FastStr;

use super::{ProtoMessage, wire::WireType};
use crate::{DecodeError, DecodeErrorKind};

/// Limits a decoder enforces beyond the bytes present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// How deeply messages (and skipped groups) may nest below the top one: 100 by default,
    /// as prost and the C++ implementation allow.
    pub max_depth: u32,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits { max_depth: 100 }
    }
}

/// Strings up to this length are copied into the [`FastStr`] itself: cheaper than a shared
/// slice of the input, whose reference count is touched on every clone and drop.
const INLINE_STRING: usize = 30;

/// Reads one message's fields from a [`Bytes`].
#[derive(Debug)]
pub struct Decoder {
    buf: Bytes,
    pos: usize,
    /// Where the message (or packed field, or map entry) being read ends.
    end: usize,
    depth: u32,
    max_depth: u32,
}

impl Decoder {
    /// A decoder of the whole of `buf`.
    pub fn new(buf: Bytes, limits: DecodeLimits) -> Decoder {
        let end = buf.len();
        Decoder {
            buf,
            pos: 0,
            end,
            depth: 0,
            max_depth: limits.max_depth,
        }
    }

    /// Whether the current message has no more fields.
    #[inline]
    pub fn is_done(&self) -> bool {
        self.pos >= self.end
    }

    /// Merges fields into `msg` until the current message ends.
    #[inline]
    pub fn merge_fields<M: ProtoMessage>(&mut self, msg: &mut M) -> Result<(), DecodeError> {
        while self.pos < self.end {
            let key = self.read_key()?;
            msg.merge_field(key, self)?;
        }
        Ok(())
    }

    /// Reads a field's key and checks that its field number is not 0.
    #[inline]
    pub fn read_key(&mut self) -> Result<u32, DecodeError> {
        let key = self.read_varint()?;
        if key > u64::from(u32::MAX) {
            return Err(DecodeError::invalid(format!("invalid key {key:#x}")));
        }
        if key < 8 {
            return Err(DecodeError::invalid("field number 0"));
        }
        Ok(key as u32)
    }

    /// Checks that `key` carries `expected` wire type: prost and the other implementations
    /// refuse a known field sent with another.
    #[inline]
    pub fn expect(&self, key: u32, expected: WireType) -> Result<(), DecodeError> {
        if key & 7 == expected as u32 {
            Ok(())
        } else {
            Err(DecodeError::invalid(format!(
                "field {}: wire type {}, expected {:?}",
                key >> 3,
                key & 7,
                expected
            )))
        }
    }

    /// Reads a varint.
    #[inline]
    pub fn read_varint(&mut self) -> Result<u64, DecodeError> {
        let rest = &self.buf[self.pos..self.end];
        match rest.first() {
            Some(&b) if b < 0x80 => {
                self.pos += 1;
                Ok(u64::from(b))
            }
            _ => self.read_varint_slow(),
        }
    }

    #[cold]
    fn read_varint_slow(&mut self) -> Result<u64, DecodeError> {
        let rest = &self.buf[self.pos..self.end];
        let mut value = 0u64;
        for (i, &b) in rest.iter().enumerate().take(10) {
            if i == 9 && b > 1 {
                return Err(DecodeError::invalid("varint overflows 64 bits"));
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                self.pos += i + 1;
                return Ok(value);
            }
        }
        if rest.len() >= 10 {
            Err(DecodeError::invalid("varint longer than 10 bytes"))
        } else {
            Err(DecodeError::truncated("varint"))
        }
    }

    /// Reads four bytes, little-endian.
    #[inline]
    pub fn read_fixed32(&mut self) -> Result<u32, DecodeError> {
        let end = self.pos + 4;
        if end > self.end {
            return Err(DecodeError::truncated("fixed32"));
        }
        let mut b = [0; 4];
        b.copy_from_slice(&self.buf[self.pos..end]);
        self.pos = end;
        Ok(u32::from_le_bytes(b))
    }

    /// Reads eight bytes, little-endian.
    #[inline]
    pub fn read_fixed64(&mut self) -> Result<u64, DecodeError> {
        let end = self.pos + 8;
        if end > self.end {
            return Err(DecodeError::truncated("fixed64"));
        }
        let mut b = [0; 8];
        b.copy_from_slice(&self.buf[self.pos..end]);
        self.pos = end;
        Ok(u64::from_le_bytes(b))
    }

    /// Reads an `int32` (a varint truncated to 32 bits, as every implementation does).
    #[inline]
    pub fn read_int32(&mut self) -> Result<i32, DecodeError> {
        Ok(self.read_varint()? as i32)
    }

    /// Reads an `int64`.
    #[inline]
    pub fn read_int64(&mut self) -> Result<i64, DecodeError> {
        Ok(self.read_varint()? as i64)
    }

    /// Reads a `uint32`.
    #[inline]
    pub fn read_uint32(&mut self) -> Result<u32, DecodeError> {
        Ok(self.read_varint()? as u32)
    }

    /// Reads a `uint64`.
    #[inline]
    pub fn read_uint64(&mut self) -> Result<u64, DecodeError> {
        self.read_varint()
    }

    /// Reads a `sint32`.
    #[inline]
    pub fn read_sint32(&mut self) -> Result<i32, DecodeError> {
        Ok(super::wire::unzigzag32(self.read_varint()? as u32))
    }

    /// Reads a `sint64`.
    #[inline]
    pub fn read_sint64(&mut self) -> Result<i64, DecodeError> {
        Ok(super::wire::unzigzag64(self.read_varint()?))
    }

    /// Reads a `bool`: any non-zero varint is true.
    #[inline]
    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.read_varint()? != 0)
    }

    /// Reads an enum's number; numbers the enum does not name are kept as they are.
    #[inline]
    pub fn read_enum(&mut self) -> Result<i32, DecodeError> {
        self.read_int32()
    }

    /// Reads an `sfixed32`.
    #[inline]
    pub fn read_sfixed32(&mut self) -> Result<i32, DecodeError> {
        Ok(self.read_fixed32()? as i32)
    }

    /// Reads an `sfixed64`.
    #[inline]
    pub fn read_sfixed64(&mut self) -> Result<i64, DecodeError> {
        Ok(self.read_fixed64()? as i64)
    }

    /// Reads a `float`.
    #[inline]
    pub fn read_float(&mut self) -> Result<f32, DecodeError> {
        Ok(f32::from_bits(self.read_fixed32()?))
    }

    /// Reads a `double`.
    #[inline]
    pub fn read_double(&mut self) -> Result<f64, DecodeError> {
        Ok(f64::from_bits(self.read_fixed64()?))
    }

    /// Reads a length prefix and checks it against the bytes left in the current message.
    #[inline]
    pub fn read_len(&mut self) -> Result<usize, DecodeError> {
        let len = self.read_varint()?;
        if len > (self.end - self.pos) as u64 {
            return Err(DecodeError::truncated("length-delimited field"));
        }
        Ok(len as usize)
    }

    /// Reads a `bytes` value: a slice of the input, not a copy.
    #[inline]
    pub fn read_bytes(&mut self) -> Result<Bytes, DecodeError> {
        let len = self.read_len()?;
        let start = self.pos;
        self.pos += len;
        Ok(self.buf.slice(start..self.pos))
    }

    /// Reads a `string` and checks that it is UTF-8: a slice of the input, or for a short
    /// string, a copy inline.
    #[inline]
    pub fn read_string(&mut self) -> Result<FastStr, DecodeError> {
        let len = self.read_len()?;
        let start = self.pos;
        self.pos += len;
        let result = if len <= INLINE_STRING {
            FastStr::new_u8_slice(&self.buf[start..self.pos])
        } else {
            FastStr::from_bytes(self.buf.slice(start..self.pos))
        };
        result.map_err(|e| DecodeError::new(DecodeErrorKind::InvalidUtf8, e.to_string()))
    }

    /// Runs `f` over a length-delimited region (a nested message, a map entry, a packed
    /// field) as if it were the whole input, one level deeper.
    #[inline]
    pub fn nested<R>(
        &mut self,
        f: impl FnOnce(&mut Decoder) -> Result<R, DecodeError>,
    ) -> Result<R, DecodeError> {
        let len = self.read_len()?;
        if self.depth >= self.max_depth {
            return Err(self.depth_error());
        }
        let outer_end = self.end;
        self.end = self.pos + len;
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        // Every read is bounded by `end`, so the region was consumed exactly when `f` stopped
        // at its end; otherwise `f` returned an error.
        self.end = outer_end;
        result
    }

    /// Merges a nested message into `msg` (fields of a message that appears twice are merged,
    /// as the format requires).
    #[inline]
    pub fn merge_message<M: ProtoMessage>(&mut self, msg: &mut M) -> Result<(), DecodeError> {
        self.nested(|d| d.merge_fields(msg))
    }

    /// Reads a nested message into a fresh value.
    #[inline]
    pub fn read_message<M: ProtoMessage>(&mut self) -> Result<M, DecodeError> {
        let mut msg = M::default();
        self.merge_message(&mut msg)?;
        Ok(msg)
    }

    /// Reads one map entry: `field` is called with each key inside it.
    #[inline]
    pub fn read_entry(
        &mut self,
        mut field: impl FnMut(&mut Decoder, u32) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        self.nested(|d| {
            while !d.is_done() {
                let key = d.read_key()?;
                field(d, key)?;
            }
            Ok(())
        })
    }

    /// Reads a packed run of scalars onto `values`. `min_size` is the smallest encoding of one
    /// value, used to reserve room no larger than what the bytes present can hold.
    #[inline]
    pub fn read_packed<T>(
        &mut self,
        values: &mut Vec<T>,
        min_size: usize,
        mut read: impl FnMut(&mut Decoder) -> Result<T, DecodeError>,
    ) -> Result<(), DecodeError> {
        let len = self.read_len()?;
        let outer_end = self.end;
        self.end = self.pos + len;
        values.reserve(len / min_size);
        let mut result = Ok(());
        while self.pos < self.end {
            match read(self) {
                Ok(v) => values.push(v),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.end = outer_end;
        result
    }

    /// Skips a field this message does not know (or whose number it does not use).
    pub fn skip(&mut self, key: u32) -> Result<(), DecodeError> {
        match WireType::from_key(key)? {
            WireType::Varint => {
                self.read_varint()?;
            }
            WireType::SixtyFourBit => {
                self.read_fixed64()?;
            }
            WireType::ThirtyTwoBit => {
                self.read_fixed32()?;
            }
            WireType::LengthDelimited => {
                let len = self.read_len()?;
                self.pos += len;
            }
            WireType::StartGroup => {
                if self.depth >= self.max_depth {
                    return Err(self.depth_error());
                }
                self.depth += 1;
                loop {
                    if self.is_done() {
                        self.depth -= 1;
                        return Err(DecodeError::truncated("group"));
                    }
                    let inner = self.read_key()?;
                    if inner & 7 == WireType::EndGroup as u32 {
                        if inner >> 3 != key >> 3 {
                            self.depth -= 1;
                            return Err(DecodeError::invalid("end group tag does not match"));
                        }
                        break;
                    }
                    if let Err(e) = self.skip(inner) {
                        self.depth -= 1;
                        return Err(e);
                    }
                }
                self.depth -= 1;
            }
            WireType::EndGroup => {
                return Err(DecodeError::invalid("unexpected end group tag"));
            }
        }
        Ok(())
    }

    #[cold]
    fn depth_error(&self) -> DecodeError {
        DecodeError::new(
            DecodeErrorKind::DepthLimit,
            format!("messages nested more than {} levels", self.max_depth),
        )
    }
}
