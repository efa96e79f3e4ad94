//! A dynamic Thrift value: any struct, of any shape, written and read without a schema. The
//! golden-byte tests spell small messages with it, and the property tests check that
//! `ProtocolRead::skip` steps over exactly what was written, whatever its shape.

use bytes::Bytes;
use rookery_codec::thrift::{
    DecodeError, ProtocolRead, ProtocolWrite, TType, ThriftDecode, ThriftEncode,
};

use super::types::invalid;

/// One Thrift value of any type.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Bool(bool),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    Double(f64),
    Binary(Bytes),
    Uuid([u8; 16]),
    /// Fields as `(id, value)`, written in this order.
    Struct(Vec<(i16, Val)>),
    /// Element type and elements (all of that type).
    List(TType, Vec<Val>),
    /// Element type and elements (all of that type).
    Set(TType, Vec<Val>),
    /// Key type, value type and entries.
    Map(TType, TType, Vec<(Val, Val)>),
}

impl Val {
    /// The type of this value on the wire.
    pub fn ttype(&self) -> TType {
        match self {
            Val::Bool(_) => TType::Bool,
            Val::I8(_) => TType::I8,
            Val::I16(_) => TType::I16,
            Val::I32(_) => TType::I32,
            Val::I64(_) => TType::I64,
            Val::Double(_) => TType::Double,
            Val::Binary(_) => TType::Binary,
            Val::Uuid(_) => TType::Uuid,
            Val::Struct(_) => TType::Struct,
            Val::List(..) => TType::List,
            Val::Set(..) => TType::Set,
            Val::Map(..) => TType::Map,
        }
    }

    /// A struct with the given fields.
    pub fn fields(fields: impl IntoIterator<Item = (i16, Val)>) -> Val {
        Val::Struct(fields.into_iter().collect())
    }

    /// A string value.
    pub fn str(s: &str) -> Val {
        Val::Binary(Bytes::copy_from_slice(s.as_bytes()))
    }

    /// Writes the value (without a field header).
    pub fn write<W: ProtocolWrite>(&self, w: &mut W) {
        match self {
            Val::Bool(v) => w.write_bool(*v),
            Val::I8(v) => w.write_i8(*v),
            Val::I16(v) => w.write_i16(*v),
            Val::I32(v) => w.write_i32(*v),
            Val::I64(v) => w.write_i64(*v),
            Val::Double(v) => w.write_double(*v),
            Val::Binary(v) => w.write_binary(v),
            Val::Uuid(v) => w.write_uuid(v),
            Val::Struct(fields) => {
                w.write_struct_begin();
                for (id, v) in fields {
                    w.write_field_begin(v.ttype(), *id);
                    v.write(w);
                }
                w.write_field_stop();
                w.write_struct_end();
            }
            Val::List(elem, items) => {
                w.write_list_begin(*elem, items.len());
                items.iter().for_each(|v| v.write(w));
            }
            Val::Set(elem, items) => {
                w.write_set_begin(*elem, items.len());
                items.iter().for_each(|v| v.write(w));
            }
            Val::Map(k, v, entries) => {
                w.write_map_begin(*k, *v, entries.len());
                for (key, value) in entries {
                    key.write(w);
                    value.write(w);
                }
            }
        }
    }

    /// Reads a value of type `ty`.
    pub fn read<R: ProtocolRead>(r: &mut R, ty: TType) -> Result<Val, DecodeError> {
        Ok(match ty {
            TType::Stop => return Err(invalid("a value of type stop")),
            TType::Bool => Val::Bool(r.read_bool()?),
            TType::I8 => Val::I8(r.read_i8()?),
            TType::I16 => Val::I16(r.read_i16()?),
            TType::I32 => Val::I32(r.read_i32()?),
            TType::I64 => Val::I64(r.read_i64()?),
            TType::Double => Val::Double(r.read_double()?),
            TType::Binary => Val::Binary(r.read_binary()?),
            TType::Uuid => Val::Uuid(r.read_uuid()?),
            TType::Struct => {
                let mut fields = Vec::new();
                r.read_struct_begin()?;
                loop {
                    let (ty, id) = r.read_field_begin()?;
                    if ty == TType::Stop {
                        break;
                    }
                    fields.push((id, Val::read(r, ty)?));
                }
                r.read_struct_end();
                Val::Struct(fields)
            }
            TType::List => {
                let (elem, len) = r.read_list_begin()?;
                let items = Val::read_items(r, elem, len)?;
                r.read_list_end();
                Val::List(elem, items)
            }
            TType::Set => {
                let (elem, len) = r.read_set_begin()?;
                let items = Val::read_items(r, elem, len)?;
                r.read_set_end();
                Val::Set(elem, items)
            }
            TType::Map => {
                let (k, v, len) = r.read_map_begin()?;
                let mut entries = Vec::with_capacity(len);
                for _ in 0..len {
                    let key = Val::read(r, k)?;
                    entries.push((key, Val::read(r, v)?));
                }
                r.read_map_end();
                Val::Map(k, v, entries)
            }
        })
    }
}

impl Val {
    // Plain loops rather than iterator adapters: each level of nesting then costs one or two
    // small frames, which the deep-nesting tests on a small stack rely on.
    fn read_items<R: ProtocolRead>(
        r: &mut R,
        elem: TType,
        len: usize,
    ) -> Result<Vec<Val>, DecodeError> {
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(Val::read(r, elem)?);
        }
        Ok(items)
    }
}

/// A `Val::Struct` is a message body.
impl ThriftEncode for Val {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        self.write(w);
    }
}

/// Reads a struct.
impl ThriftDecode for Val {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        Val::read(r, TType::Struct)
    }
}
