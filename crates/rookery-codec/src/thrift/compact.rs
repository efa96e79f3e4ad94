//! The compact protocol: zigzag varints, field ids as deltas, booleans folded into field
//! headers, little-endian doubles.

use bytes::{Buf, Bytes};

use super::{
    BufExt, DecodeLimits, Depth, MessageHeader, MessageType, ProtocolRead, ProtocolWrite, Sink,
    TType, checked_len, skip_value,
};
use crate::{DecodeError, DecodeErrorKind};

const PROTOCOL_ID: u8 = 0x82;
const VERSION: u8 = 1;
const VERSION_MASK: u8 = 0x1f;
const TYPE_SHIFT: u8 = 5;

const CT_BOOL_TRUE: u8 = 1;
const CT_BOOL_FALSE: u8 = 2;
const CT_I8: u8 = 3;
const CT_I16: u8 = 4;
const CT_I32: u8 = 5;
const CT_I64: u8 = 6;
const CT_DOUBLE: u8 = 7;
const CT_BINARY: u8 = 8;
const CT_LIST: u8 = 9;
const CT_SET: u8 = 10;
const CT_MAP: u8 = 11;
const CT_STRUCT: u8 = 12;
const CT_UUID: u8 = 13;

fn compact_type(ty: TType) -> u8 {
    match ty {
        TType::Stop => 0,
        TType::Bool => CT_BOOL_TRUE,
        TType::I8 => CT_I8,
        TType::I16 => CT_I16,
        TType::I32 => CT_I32,
        TType::I64 => CT_I64,
        TType::Double => CT_DOUBLE,
        TType::Binary => CT_BINARY,
        TType::List => CT_LIST,
        TType::Set => CT_SET,
        TType::Map => CT_MAP,
        TType::Struct => CT_STRUCT,
        TType::Uuid => CT_UUID,
    }
}

fn ttype(ct: u8) -> Result<TType, DecodeError> {
    Ok(match ct {
        CT_BOOL_TRUE | CT_BOOL_FALSE => TType::Bool,
        CT_I8 => TType::I8,
        CT_I16 => TType::I16,
        CT_I32 => TType::I32,
        CT_I64 => TType::I64,
        CT_DOUBLE => TType::Double,
        CT_BINARY => TType::Binary,
        CT_LIST => TType::List,
        CT_SET => TType::Set,
        CT_MAP => TType::Map,
        CT_STRUCT => TType::Struct,
        CT_UUID => TType::Uuid,
        other => {
            return Err(DecodeError::invalid(format!(
                "unknown compact type {other}"
            )));
        }
    })
}

#[inline]
fn zigzag32(n: i32) -> u64 {
    ((n << 1) ^ (n >> 31)) as u32 as u64
}

#[inline]
fn zigzag64(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

#[inline]
fn unzigzag32(n: u32) -> i32 {
    ((n >> 1) as i32) ^ -((n & 1) as i32)
}

#[inline]
fn unzigzag64(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

/// The last field id of each struct being written or read: the compact protocol encodes field
/// ids as deltas from it. Shallow nesting lives inline; only deep nesting allocates.
#[derive(Debug, Default)]
struct FieldIds {
    last: i16,
    inline: [i16; 8],
    depth: usize,
    deeper: Vec<i16>,
}

impl FieldIds {
    #[inline]
    fn push(&mut self) {
        if self.depth < self.inline.len() {
            self.inline[self.depth] = self.last;
        } else {
            self.deeper.push(self.last);
        }
        self.depth += 1;
        self.last = 0;
    }

    #[inline]
    fn pop(&mut self) {
        if self.depth == 0 {
            return;
        }
        self.depth -= 1;
        self.last = if self.depth < self.inline.len() {
            self.inline[self.depth]
        } else {
            self.deeper.pop().unwrap_or(0)
        };
    }
}

/// Writes the compact protocol into a [`Sink`].
#[derive(Debug)]
pub struct CompactWriter<S> {
    sink: S,
    ids: FieldIds,
    pending_bool: Option<i16>,
}

impl<S: Sink> CompactWriter<S> {
    /// A writer appending to `sink`.
    pub fn new(sink: S) -> Self {
        CompactWriter {
            sink,
            ids: FieldIds::default(),
            pending_bool: None,
        }
    }

    /// The sink back.
    pub fn into_inner(self) -> S {
        self.sink
    }

    #[inline]
    fn field_header(&mut self, ct: u8, id: i16) {
        let delta = i32::from(id) - i32::from(self.ids.last);
        if (1..=15).contains(&delta) {
            self.sink.put_u8(((delta as u8) << 4) | ct);
        } else {
            self.sink.put_u8(ct);
            self.sink.put_varint(zigzag32(id.into()));
        }
        self.ids.last = id;
    }

    #[inline]
    fn collection_begin(&mut self, elem: TType, len: usize) {
        debug_assert!(
            i32::try_from(len).is_ok(),
            "thrift length {len} overflows i32"
        );
        let ct = compact_type(elem);
        if len <= 14 {
            self.sink.put_u8(((len as u8) << 4) | ct);
        } else {
            self.sink.put_u8(0xf0 | ct);
            self.sink.put_varint(len as u64);
        }
    }
}

impl<S: Sink> ProtocolWrite for CompactWriter<S> {
    #[inline]
    fn write_message_begin(&mut self, name: &str, kind: MessageType, seq_id: i32) {
        self.sink.put_u8(PROTOCOL_ID);
        self.sink.put_u8(VERSION | ((kind as u8) << TYPE_SHIFT));
        self.sink.put_varint(u64::from(seq_id as u32));
        self.write_string(name);
    }
    #[inline]
    fn write_struct_begin(&mut self) {
        self.ids.push();
    }
    #[inline]
    fn write_struct_end(&mut self) {
        self.ids.pop();
    }
    #[inline]
    fn write_field_begin(&mut self, ty: TType, id: i16) {
        if ty == TType::Bool {
            // The value goes into the field header; see write_bool.
            self.pending_bool = Some(id);
        } else {
            self.field_header(compact_type(ty), id);
        }
    }
    #[inline]
    fn write_field_stop(&mut self) {
        self.sink.put_u8(0);
    }
    #[inline]
    fn write_bool(&mut self, v: bool) {
        let ct = if v { CT_BOOL_TRUE } else { CT_BOOL_FALSE };
        match self.pending_bool.take() {
            Some(id) => self.field_header(ct, id),
            None => self.sink.put_u8(ct),
        }
    }
    #[inline]
    fn write_i8(&mut self, v: i8) {
        self.sink.put_u8(v as u8);
    }
    #[inline]
    fn write_i16(&mut self, v: i16) {
        self.sink.put_varint(zigzag32(v.into()));
    }
    #[inline]
    fn write_i32(&mut self, v: i32) {
        self.sink.put_varint(zigzag32(v));
    }
    #[inline]
    fn write_i64(&mut self, v: i64) {
        self.sink.put_varint(zigzag64(v));
    }
    #[inline]
    fn write_double(&mut self, v: f64) {
        self.sink.put_f64_le(v);
    }
    #[inline]
    fn write_binary(&mut self, v: &[u8]) {
        debug_assert!(
            i32::try_from(v.len()).is_ok(),
            "thrift length overflows i32"
        );
        self.sink.put_varint(v.len() as u64);
        self.sink.put_slice(v);
    }
    #[inline]
    fn write_uuid(&mut self, v: &[u8; 16]) {
        self.sink.put_slice(v);
    }
    #[inline]
    fn write_list_begin(&mut self, elem: TType, len: usize) {
        self.collection_begin(elem, len);
    }
    #[inline]
    fn write_set_begin(&mut self, elem: TType, len: usize) {
        self.collection_begin(elem, len);
    }
    #[inline]
    fn write_map_begin(&mut self, key: TType, value: TType, len: usize) {
        if len == 0 {
            self.sink.put_u8(0);
        } else {
            self.sink.put_varint(len as u64);
            self.sink
                .put_u8((compact_type(key) << 4) | compact_type(value));
        }
    }
}

/// Reads the compact protocol from a [`Buf`].
#[derive(Debug)]
pub struct CompactReader<B> {
    buf: B,
    ids: FieldIds,
    pending_bool: Option<bool>,
    depth: Depth,
}

impl<B: Buf> CompactReader<B> {
    /// A reader over `buf` with the default limits.
    pub fn new(buf: B) -> Self {
        Self::with_limits(buf, DecodeLimits::default())
    }

    /// A reader over `buf` with `limits`.
    pub fn with_limits(buf: B, limits: DecodeLimits) -> Self {
        CompactReader {
            buf,
            ids: FieldIds::default(),
            pending_bool: None,
            depth: Depth::new(limits),
        }
    }

    /// What is left of the input.
    pub fn into_inner(self) -> B {
        self.buf
    }

    #[inline]
    fn byte(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        self.buf.need(1, what)?;
        Ok(self.buf.get_u8())
    }

    #[inline]
    fn varint(&mut self, max_bytes: u32, what: &'static str) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for i in 0..max_bytes {
            let b = self.byte(what)?;
            let bits = u64::from(b & 0x7f);
            // The tenth byte has room for the 64th bit only; more would be shifted out.
            if i == 9 && bits > 1 {
                return Err(DecodeError::invalid(format!(
                    "{what}: varint overflows 64 bits"
                )));
            }
            value |= bits << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::invalid(format!(
            "{what}: varint longer than {max_bytes} bytes"
        )))
    }

    #[inline]
    fn varint32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let v = self.varint(5, what)?;
        u32::try_from(v)
            .map_err(|_| DecodeError::invalid(format!("{what}: varint overflows 32 bits")))
    }

    #[inline]
    fn size(&mut self, min_elem: usize, what: &'static str) -> Result<usize, DecodeError> {
        // Sizes are varints of an i32: one over i32::MAX is a negative size, as other
        // implementations read it, and is reported with the value they would see.
        let raw = self.varint32(what)? as i32;
        checked_len(raw.into(), min_elem, self.buf.remaining(), what)
    }
}

impl<B: Buf> ProtocolRead for CompactReader<B> {
    fn read_message_begin(&mut self) -> Result<MessageHeader, DecodeError> {
        let id = self.byte("protocol id")?;
        if id != PROTOCOL_ID {
            return Err(DecodeError::new(
                DecodeErrorKind::BadVersion,
                format!("compact protocol id {id:#04x}"),
            ));
        }
        let vt = self.byte("version")?;
        if vt & VERSION_MASK != VERSION {
            return Err(DecodeError::new(
                DecodeErrorKind::BadVersion,
                format!("compact protocol version {}", vt & VERSION_MASK),
            ));
        }
        let kind = MessageType::from_u8((vt >> TYPE_SHIFT) & 0x07)?;
        let seq_id = self.varint32("sequence id")? as i32;
        let name = self.read_string()?;
        Ok(MessageHeader { name, kind, seq_id })
    }

    #[inline]
    fn read_struct_begin(&mut self) -> Result<(), DecodeError> {
        self.depth.enter()?;
        self.ids.push();
        Ok(())
    }

    #[inline]
    fn read_struct_end(&mut self) {
        self.ids.pop();
        self.depth.leave();
    }

    #[inline]
    fn read_field_begin(&mut self) -> Result<(TType, i16), DecodeError> {
        let b = self.byte("field header")?;
        if b == 0 {
            return Ok((TType::Stop, 0));
        }
        let ct = b & 0x0f;
        let delta = b >> 4;
        let id = if delta != 0 {
            self.ids
                .last
                .checked_add(i16::from(delta))
                .ok_or_else(|| DecodeError::invalid("field id overflows i16"))?
        } else {
            self.read_i16()?
        };
        let ty = ttype(ct)?;
        if ty == TType::Bool {
            self.pending_bool = Some(ct == CT_BOOL_TRUE);
        }
        self.ids.last = id;
        Ok((ty, id))
    }

    #[inline]
    fn read_bool(&mut self) -> Result<bool, DecodeError> {
        match self.pending_bool.take() {
            Some(v) => Ok(v),
            None => Ok(self.byte("bool")? == CT_BOOL_TRUE),
        }
    }

    #[inline]
    fn read_i8(&mut self) -> Result<i8, DecodeError> {
        Ok(self.byte("i8")? as i8)
    }

    #[inline]
    fn read_i16(&mut self) -> Result<i16, DecodeError> {
        let v = unzigzag32(self.varint32("i16")?);
        i16::try_from(v).map_err(|_| DecodeError::invalid(format!("i16 out of range: {v}")))
    }

    #[inline]
    fn read_i32(&mut self) -> Result<i32, DecodeError> {
        Ok(unzigzag32(self.varint32("i32")?))
    }

    #[inline]
    fn read_i64(&mut self) -> Result<i64, DecodeError> {
        Ok(unzigzag64(self.varint(10, "i64")?))
    }

    #[inline]
    fn read_double(&mut self) -> Result<f64, DecodeError> {
        self.buf.need(8, "double")?;
        Ok(self.buf.get_f64_le())
    }

    #[inline]
    fn read_binary(&mut self) -> Result<Bytes, DecodeError> {
        let len = self.size(1, "binary")?;
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
        let b = self.byte("list header")?;
        let elem = ttype(b & 0x0f)?;
        let len = match b >> 4 {
            15 => self.size(1, "list")?,
            short => checked_len(short.into(), 1, self.buf.remaining(), "list")?,
        };
        self.depth.enter()?;
        Ok((elem, len))
    }

    #[inline]
    fn read_list_end(&mut self) {
        self.depth.leave();
    }

    fn read_map_begin(&mut self) -> Result<(TType, TType, usize), DecodeError> {
        let len = self.size(2, "map")?;
        let (key, value) = if len == 0 {
            // An empty map carries no types; Stop says "none".
            (TType::Stop, TType::Stop)
        } else {
            let kv = self.byte("map types")?;
            (ttype(kv >> 4)?, ttype(kv & 0x0f)?)
        };
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
        match ty {
            TType::Binary => {
                let len = self.size(1, "binary")?;
                self.skip_bytes(len)
            }
            TType::Double => self.skip_bytes(8),
            TType::Uuid => self.skip_bytes(16),
            _ => skip_value(self, ty),
        }
    }
}
