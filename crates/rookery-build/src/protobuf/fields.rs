//! Field types and the snippets of generated code for each: Rust type, size, write, read.

use prost_types::field_descriptor_proto::Type;

use super::types::Types;

/// A scalar type: everything that is not an enum or a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scalar {
    Double,
    Float,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Bool,
    String,
    Bytes,
}

/// The type of a field's values.
#[derive(Clone, Debug)]
pub(crate) enum Ty {
    Scalar(Scalar),
    /// An enum, by full name.
    Enum(String),
    /// A message, by full name; boxed when it contains the message that holds the field.
    Message {
        name: String,
        boxed: bool,
    },
}

/// The wire types, as generated code names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wire {
    Varint = 0,
    SixtyFourBit = 1,
    LengthDelimited = 2,
    ThirtyTwoBit = 5,
}

impl Wire {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Wire::Varint => "Varint",
            Wire::SixtyFourBit => "SixtyFourBit",
            Wire::LengthDelimited => "LengthDelimited",
            Wire::ThirtyTwoBit => "ThirtyTwoBit",
        }
    }
}

impl Scalar {
    pub(crate) fn from_type(t: Type) -> Option<Scalar> {
        Some(match t {
            Type::Double => Scalar::Double,
            Type::Float => Scalar::Float,
            Type::Int32 => Scalar::Int32,
            Type::Int64 => Scalar::Int64,
            Type::Uint32 => Scalar::Uint32,
            Type::Uint64 => Scalar::Uint64,
            Type::Sint32 => Scalar::Sint32,
            Type::Sint64 => Scalar::Sint64,
            Type::Fixed32 => Scalar::Fixed32,
            Type::Fixed64 => Scalar::Fixed64,
            Type::Sfixed32 => Scalar::Sfixed32,
            Type::Sfixed64 => Scalar::Sfixed64,
            Type::Bool => Scalar::Bool,
            Type::String => Scalar::String,
            Type::Bytes => Scalar::Bytes,
            Type::Group | Type::Message | Type::Enum => return None,
        })
    }

    /// The suffix of the encoder's `put_*` and the decoder's `read_*` methods.
    fn method(self) -> &'static str {
        match self {
            Scalar::Double => "double",
            Scalar::Float => "float",
            Scalar::Int32 => "int32",
            Scalar::Int64 => "int64",
            Scalar::Uint32 => "uint32",
            Scalar::Uint64 => "uint64",
            Scalar::Sint32 => "sint32",
            Scalar::Sint64 => "sint64",
            Scalar::Fixed32 => "fixed32",
            Scalar::Fixed64 => "fixed64",
            Scalar::Sfixed32 => "sfixed32",
            Scalar::Sfixed64 => "sfixed64",
            Scalar::Bool => "bool",
            Scalar::String => "string",
            Scalar::Bytes => "bytes",
        }
    }

    fn rust(self, codegen: &str) -> String {
        match self {
            Scalar::Double => "f64".into(),
            Scalar::Float => "f32".into(),
            Scalar::Int32 | Scalar::Sint32 | Scalar::Sfixed32 => "i32".into(),
            Scalar::Int64 | Scalar::Sint64 | Scalar::Sfixed64 => "i64".into(),
            Scalar::Uint32 | Scalar::Fixed32 => "u32".into(),
            Scalar::Uint64 | Scalar::Fixed64 => "u64".into(),
            Scalar::Bool => "bool".into(),
            Scalar::String => format!("{codegen}::FastStr"),
            Scalar::Bytes => format!("{codegen}::Bytes"),
        }
    }

    fn wire(self) -> Wire {
        match self {
            Scalar::Double | Scalar::Fixed64 | Scalar::Sfixed64 => Wire::SixtyFourBit,
            Scalar::Float | Scalar::Fixed32 | Scalar::Sfixed32 => Wire::ThirtyTwoBit,
            Scalar::String | Scalar::Bytes => Wire::LengthDelimited,
            _ => Wire::Varint,
        }
    }

    /// The encoded size when it does not depend on the value.
    fn fixed_size(self) -> Option<usize> {
        match self.wire() {
            Wire::SixtyFourBit => Some(8),
            Wire::ThirtyTwoBit => Some(4),
            _ if self == Scalar::Bool => Some(1),
            _ => None,
        }
    }

    fn is_copy(self) -> bool {
        !matches!(self, Scalar::String | Scalar::Bytes)
    }
}

/// Generates the code snippets for values of one type, in one module.
pub(crate) struct Snippets<'a> {
    pub(crate) types: &'a Types,
    pub(crate) codegen: &'a str,
    /// The module the code is written in.
    pub(crate) from: &'a [String],
}

impl Snippets<'_> {
    pub(crate) fn rust_type(&self, ty: &Ty) -> String {
        match ty {
            Ty::Scalar(s) => s.rust(self.codegen),
            Ty::Enum(name) => self.types.path(self.from, name),
            Ty::Message { name, boxed: false } => self.types.path(self.from, name),
            Ty::Message { name, boxed: true } => {
                format!("::std::boxed::Box<{}>", self.types.path(self.from, name))
            }
        }
    }

    pub(crate) fn wire(&self, ty: &Ty) -> Wire {
        match ty {
            Ty::Scalar(s) => s.wire(),
            Ty::Enum(_) => Wire::Varint,
            Ty::Message { .. } => Wire::LengthDelimited,
        }
    }

    pub(crate) fn fixed_size(&self, ty: &Ty) -> Option<usize> {
        match ty {
            Ty::Scalar(s) => s.fixed_size(),
            _ => None,
        }
    }

    /// `binding` (a reference) as the expression the other snippets take: dereferenced for
    /// plain numbers, as it is for the rest (which the snippets reach through auto-deref).
    pub(crate) fn by_ref(&self, ty: &Ty, binding: &str) -> String {
        match ty {
            Ty::Scalar(s) if s.is_copy() => format!("*{binding}"),
            Ty::Enum(_) => format!("*{binding}"),
            _ => binding.to_string(),
        }
    }

    /// The size of a value after its key. `val` is a value for numbers and enums, anything
    /// that auto-derefs for strings and bytes, and a reference for messages.
    pub(crate) fn size(&self, ty: &Ty, val: &str) -> String {
        let c = self.codegen;
        match ty {
            Ty::Scalar(s) => match s {
                Scalar::String | Scalar::Bytes => format!("{c}::bytes_len({val}.len())"),
                s => match s.fixed_size() {
                    Some(n) => n.to_string(),
                    None => format!("{c}::{}_len({val})", s.method()),
                },
            },
            Ty::Enum(_) => format!("{c}::int32_len({})", number(val)),
            Ty::Message { .. } => format!("sizes.message({val})"),
        }
    }

    /// The statement that writes a value after its key (same `val` as for [`size`]).
    pub(crate) fn write(&self, ty: &Ty, val: &str) -> String {
        match ty {
            Ty::Scalar(Scalar::String) => format!("w.put_bytes({val}.as_bytes());"),
            Ty::Scalar(Scalar::Bytes) => format!("w.put_bytes(&{val});"),
            Ty::Scalar(s) => format!("w.put_{}({val});", s.method()),
            Ty::Enum(_) => format!("w.put_int32({});", number(val)),
            Ty::Message { .. } => format!("w.put_message({val});"),
        }
    }

    /// An expression that reads a value (not for messages, which are merged).
    pub(crate) fn read(&self, ty: &Ty) -> String {
        match ty {
            Ty::Scalar(s) => format!("d.read_{}()?", s.method()),
            Ty::Enum(name) => format!("{}(d.read_enum()?)", self.types.path(self.from, name)),
            Ty::Message { .. } => unreachable!("messages are merged, not read"),
        }
    }

    /// A closure that reads one element of a packed run, and the smallest element size.
    pub(crate) fn read_packed(&self, ty: &Ty) -> (String, usize) {
        match ty {
            Ty::Scalar(s) => (
                format!("|d| d.read_{}()", s.method()),
                s.fixed_size().unwrap_or(1),
            ),
            Ty::Enum(name) => (
                format!(
                    "|d| d.read_enum().map({})",
                    self.types.path(self.from, name)
                ),
                1,
            ),
            Ty::Message { .. } => unreachable!("messages are never packed"),
        }
    }

    /// A condition that holds when a value is not its type's default (implicit presence:
    /// only then is it written). `val` as for [`size`].
    pub(crate) fn not_default(&self, ty: &Ty, val: &str) -> String {
        match ty {
            Ty::Scalar(Scalar::String | Scalar::Bytes) => format!("!{val}.is_empty()"),
            Ty::Scalar(Scalar::Bool) => val.to_string(),
            Ty::Scalar(Scalar::Float | Scalar::Double) => format!("{val} != 0.0"),
            Ty::Scalar(_) => format!("{val} != 0"),
            Ty::Enum(name) => format!("{val} != {}::default()", self.types.path(self.from, name)),
            Ty::Message { .. } => unreachable!("messages have explicit presence"),
        }
    }

    /// Whether values of this type may be packed.
    pub(crate) fn packable(&self, ty: &Ty) -> bool {
        matches!(ty, Ty::Enum(_)) || matches!(ty, Ty::Scalar(s) if s.is_copy())
    }
}

/// The number of an enum value expression: `e.0`, or `(*e).0`.
fn number(val: &str) -> String {
    if val.starts_with('*') {
        format!("({val}).0")
    } else {
        format!("{val}.0")
    }
}

/// The bytes of field `number`'s key with `wire`.
pub(crate) fn key_bytes(number: i32, wire: Wire) -> Vec<u8> {
    let mut v = ((number as u64) << 3) | wire as u64;
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

/// The statement that writes field `number`'s key.
pub(crate) fn write_key(number: i32, wire: Wire) -> String {
    let bytes = key_bytes(number, wire);
    if let [b] = bytes[..] {
        format!("w.put_u8({b:#04x});")
    } else {
        let list: Vec<String> = bytes.iter().map(|b| format!("{b:#04x}")).collect();
        format!("w.put_slice(&[{}]);", list.join(", "))
    }
}
