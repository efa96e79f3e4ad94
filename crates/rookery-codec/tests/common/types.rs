//! Message types written by hand exactly as generated code will write them, against
//! `ThriftEncode` and `ThriftDecode`.
//!
//! This file is shared by the integration tests (through `tests/common/mod.rs`) and by the fuzz
//! targets (through `#[path]`), so it depends on nothing but the codec, `bytes` and
//! `faststr`. Its IDL twin is `tests/idl/alltypes.thrift` (without the `uuid` field, which
//! Debian's thrift compiler 0.17 does not know).
//!
//! Conventions the generated code will follow, and these types follow:
//!
//! - Fields are written in declaration order, which is not sorted by id (see `AllTypes`, whose
//!   last fields have large, descending and negative ids to exercise the compact protocol's
//!   field id deltas).
//! - A field whose id is known but whose type is not the declared one is skipped, as unknown
//!   fields are (that is what Apache Thrift's generated code does).
//! - Plain (default-requiredness) fields that are missing keep their default value; `Option`
//!   fields that are missing are `None`; a `required` field that is missing is an error.
//! - Containers whose element types do not match the declared ones are an error (the bytes
//!   cannot be read as the declared type). An empty compact map carries no types at all, so
//!   types are only checked when a map has entries.
//! - Enums keep values they do not know (see [`Color`]).
//! - Unions are Rust enums: decoding one with no known field set, or with more than one field
//!   set, is an error.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use faststr::FastStr;
use rookery_codec::thrift::{
    DecodeError, DecodeErrorKind, ProtocolRead, ProtocolWrite, TType, ThriftDecode, ThriftEncode,
};

/// An error for bytes that cannot be the declared type.
pub fn invalid(message: impl Into<String>) -> DecodeError {
    DecodeError::new(DecodeErrorKind::InvalidData, message.into())
}

/// Starts a list (or set) whose elements must be `elem`.
pub fn read_list_of<R: ProtocolRead>(r: &mut R, elem: TType) -> Result<usize, DecodeError> {
    let (ty, len) = r.read_list_begin()?;
    if ty != elem {
        return Err(invalid(format!("list of {ty:?}, expected {elem:?}")));
    }
    Ok(len)
}

/// Starts a set whose elements must be `elem`.
pub fn read_set_of<R: ProtocolRead>(r: &mut R, elem: TType) -> Result<usize, DecodeError> {
    let (ty, len) = r.read_set_begin()?;
    if ty != elem {
        return Err(invalid(format!("set of {ty:?}, expected {elem:?}")));
    }
    Ok(len)
}

/// Starts a map whose keys and values must be `key` and `value` (an empty map may carry no
/// types).
pub fn read_map_of<R: ProtocolRead>(
    r: &mut R,
    key: TType,
    value: TType,
) -> Result<usize, DecodeError> {
    let (k, v, len) = r.read_map_begin()?;
    if len > 0 && (k != key || v != value) {
        return Err(invalid(format!(
            "map<{k:?}, {v:?}>, expected map<{key:?}, {value:?}>"
        )));
    }
    Ok(len)
}

/// An enum as generated code represents it: the `i32` on the wire, with a constant per named
/// value.
///
/// Values this side does not know are kept, not rejected: a relay or an older service then
/// passes on what a newer peer sent, unchanged, and code that matches on the value handles the
/// unknown case where it can say what to do. [`Color::is_known`] tells the two apart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Color(pub i32);

impl Color {
    /// `RED = 1`.
    pub const RED: Color = Color(1);
    /// `GREEN = 2`.
    pub const GREEN: Color = Color(2);
    /// `BLUE = 3`.
    pub const BLUE: Color = Color(3);
    /// `ULTRAVIOLET = -7` (enum values may be negative).
    pub const ULTRAVIOLET: Color = Color(-7);

    /// Whether the IDL names this value.
    pub fn is_known(self) -> bool {
        matches!(
            self,
            Color::RED | Color::GREEN | Color::BLUE | Color::ULTRAVIOLET
        )
    }
}

/// A small struct, nested in `AllTypes`.
///
/// ```thrift
/// struct Inner { 1: i32 id, 2: string name, 3: optional bool flag }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Inner {
    pub id: i32,
    pub name: FastStr,
    pub flag: Option<bool>,
}

impl ThriftEncode for Inner {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        w.write_field_begin(TType::I32, 1);
        w.write_i32(self.id);
        w.write_field_begin(TType::Binary, 2);
        w.write_string(&self.name);
        if let Some(flag) = self.flag {
            w.write_field_begin(TType::Bool, 3);
            w.write_bool(flag);
        }
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for Inner {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = Inner::default();
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::I32, 1) => out.id = r.read_i32()?,
                (TType::Binary, 2) => out.name = r.read_string()?,
                (TType::Bool, 3) => out.flag = Some(r.read_bool()?),
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        Ok(out)
    }
}

/// A union: exactly one field is set.
///
/// ```thrift
/// union Choice { 1: i64 num, 2: string text, 3: Inner inner, 4: bool flag }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice {
    Num(i64),
    Text(FastStr),
    Inner(Inner),
    Flag(bool),
}

impl Default for Choice {
    fn default() -> Self {
        Choice::Num(0)
    }
}

impl ThriftEncode for Choice {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        match self {
            Choice::Num(v) => {
                w.write_field_begin(TType::I64, 1);
                w.write_i64(*v);
            }
            Choice::Text(v) => {
                w.write_field_begin(TType::Binary, 2);
                w.write_string(v);
            }
            Choice::Inner(v) => {
                w.write_field_begin(TType::Struct, 3);
                v.encode(w);
            }
            Choice::Flag(v) => {
                w.write_field_begin(TType::Bool, 4);
                w.write_bool(*v);
            }
        }
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for Choice {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = None;
        r.read_struct_begin()?;
        loop {
            let value = match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::I64, 1) => Choice::Num(r.read_i64()?),
                (TType::Binary, 2) => Choice::Text(r.read_string()?),
                (TType::Struct, 3) => Choice::Inner(Inner::decode(r)?),
                (TType::Bool, 4) => Choice::Flag(r.read_bool()?),
                (ty, _) => {
                    r.skip(ty)?;
                    continue;
                }
            };
            if out.replace(value).is_some() {
                return Err(invalid("union Choice has more than one field set"));
            }
        }
        r.read_struct_end();
        out.ok_or_else(|| invalid("union Choice has no field set"))
    }
}

/// A struct with a field of every Thrift type.
///
/// ```thrift
/// struct AllTypes {
///   1: bool a_bool, 2: byte a_byte, 3: i16 an_i16, 4: i32 an_i32, 5: i64 an_i64,
///   6: double a_double, 7: string a_string, 8: binary a_binary, 9: optional uuid a_uuid,
///   10: Inner inner, 11: required Choice choice, 12: map<string, i64> string_to_i64,
///   13: set<i32> i32_set, 14: list<list<string>> string_lists, 15: list<bool> bools,
///   16: map<i32, Inner> inners, 17: Color color,
///   18: optional i32 opt_i32, 19: optional string opt_string, 20: optional list<i64> opt_list,
///   21: optional bool opt_bool,
///   40: i64 far_i64, 1000: string far_string, 500: i32 back_i32, -5: i16 neg_i16,
///   -1: bool neg_bool, 32767: byte max_id,
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AllTypes {
    pub a_bool: bool,
    pub a_byte: i8,
    pub an_i16: i16,
    pub an_i32: i32,
    pub an_i64: i64,
    pub a_double: f64,
    pub a_string: FastStr,
    pub a_binary: Bytes,
    pub a_uuid: Option<[u8; 16]>,
    pub inner: Inner,
    pub choice: Choice,
    pub string_to_i64: BTreeMap<FastStr, i64>,
    pub i32_set: BTreeSet<i32>,
    pub string_lists: Vec<Vec<FastStr>>,
    pub bools: Vec<bool>,
    pub inners: BTreeMap<i32, Inner>,
    pub color: Color,
    pub opt_i32: Option<i32>,
    pub opt_string: Option<FastStr>,
    pub opt_list: Option<Vec<i64>>,
    pub opt_bool: Option<bool>,
    pub far_i64: i64,
    pub far_string: FastStr,
    pub back_i32: i32,
    pub neg_i16: i16,
    pub neg_bool: bool,
    pub max_id: i8,
}

impl ThriftEncode for AllTypes {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        w.write_field_begin(TType::Bool, 1);
        w.write_bool(self.a_bool);
        w.write_field_begin(TType::I8, 2);
        w.write_i8(self.a_byte);
        w.write_field_begin(TType::I16, 3);
        w.write_i16(self.an_i16);
        w.write_field_begin(TType::I32, 4);
        w.write_i32(self.an_i32);
        w.write_field_begin(TType::I64, 5);
        w.write_i64(self.an_i64);
        w.write_field_begin(TType::Double, 6);
        w.write_double(self.a_double);
        w.write_field_begin(TType::Binary, 7);
        w.write_string(&self.a_string);
        w.write_field_begin(TType::Binary, 8);
        w.write_binary(&self.a_binary);
        if let Some(uuid) = &self.a_uuid {
            w.write_field_begin(TType::Uuid, 9);
            w.write_uuid(uuid);
        }
        w.write_field_begin(TType::Struct, 10);
        self.inner.encode(w);
        w.write_field_begin(TType::Struct, 11);
        self.choice.encode(w);

        w.write_field_begin(TType::Map, 12);
        w.write_map_begin(TType::Binary, TType::I64, self.string_to_i64.len());
        for (k, v) in &self.string_to_i64 {
            w.write_string(k);
            w.write_i64(*v);
        }
        w.write_field_begin(TType::Set, 13);
        w.write_set_begin(TType::I32, self.i32_set.len());
        for v in &self.i32_set {
            w.write_i32(*v);
        }
        w.write_field_begin(TType::List, 14);
        w.write_list_begin(TType::List, self.string_lists.len());
        for list in &self.string_lists {
            w.write_list_begin(TType::Binary, list.len());
            for s in list {
                w.write_string(s);
            }
        }
        w.write_field_begin(TType::List, 15);
        w.write_list_begin(TType::Bool, self.bools.len());
        for b in &self.bools {
            w.write_bool(*b);
        }
        w.write_field_begin(TType::Map, 16);
        w.write_map_begin(TType::I32, TType::Struct, self.inners.len());
        for (k, v) in &self.inners {
            w.write_i32(*k);
            v.encode(w);
        }
        w.write_field_begin(TType::I32, 17);
        w.write_i32(self.color.0);

        if let Some(v) = self.opt_i32 {
            w.write_field_begin(TType::I32, 18);
            w.write_i32(v);
        }
        if let Some(v) = &self.opt_string {
            w.write_field_begin(TType::Binary, 19);
            w.write_string(v);
        }
        if let Some(list) = &self.opt_list {
            w.write_field_begin(TType::List, 20);
            w.write_list_begin(TType::I64, list.len());
            for v in list {
                w.write_i64(*v);
            }
        }
        if let Some(v) = self.opt_bool {
            w.write_field_begin(TType::Bool, 21);
            w.write_bool(v);
        }

        w.write_field_begin(TType::I64, 40);
        w.write_i64(self.far_i64);
        w.write_field_begin(TType::Binary, 1000);
        w.write_string(&self.far_string);
        w.write_field_begin(TType::I32, 500);
        w.write_i32(self.back_i32);
        w.write_field_begin(TType::I16, -5);
        w.write_i16(self.neg_i16);
        w.write_field_begin(TType::Bool, -1);
        w.write_bool(self.neg_bool);
        w.write_field_begin(TType::I8, 32767);
        w.write_i8(self.max_id);
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for AllTypes {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = AllTypes::default();
        let mut choice = None;
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::Bool, 1) => out.a_bool = r.read_bool()?,
                (TType::I8, 2) => out.a_byte = r.read_i8()?,
                (TType::I16, 3) => out.an_i16 = r.read_i16()?,
                (TType::I32, 4) => out.an_i32 = r.read_i32()?,
                (TType::I64, 5) => out.an_i64 = r.read_i64()?,
                (TType::Double, 6) => out.a_double = r.read_double()?,
                (TType::Binary, 7) => out.a_string = r.read_string()?,
                (TType::Binary, 8) => out.a_binary = r.read_binary()?,
                (TType::Uuid, 9) => out.a_uuid = Some(r.read_uuid()?),
                (TType::Struct, 10) => out.inner = Inner::decode(r)?,
                (TType::Struct, 11) => choice = Some(Choice::decode(r)?),
                (TType::Map, 12) => {
                    let len = read_map_of(r, TType::Binary, TType::I64)?;
                    let mut map = BTreeMap::new();
                    for _ in 0..len {
                        let k = r.read_string()?;
                        let v = r.read_i64()?;
                        map.insert(k, v);
                    }
                    r.read_map_end();
                    out.string_to_i64 = map;
                }
                (TType::Set, 13) => {
                    let len = read_set_of(r, TType::I32)?;
                    let mut set = BTreeSet::new();
                    for _ in 0..len {
                        set.insert(r.read_i32()?);
                    }
                    r.read_set_end();
                    out.i32_set = set;
                }
                (TType::List, 14) => {
                    let len = read_list_of(r, TType::List)?;
                    let mut lists = Vec::with_capacity(len);
                    for _ in 0..len {
                        let inner_len = read_list_of(r, TType::Binary)?;
                        let mut list = Vec::with_capacity(inner_len);
                        for _ in 0..inner_len {
                            list.push(r.read_string()?);
                        }
                        r.read_list_end();
                        lists.push(list);
                    }
                    r.read_list_end();
                    out.string_lists = lists;
                }
                (TType::List, 15) => {
                    let len = read_list_of(r, TType::Bool)?;
                    let mut bools = Vec::with_capacity(len);
                    for _ in 0..len {
                        bools.push(r.read_bool()?);
                    }
                    r.read_list_end();
                    out.bools = bools;
                }
                (TType::Map, 16) => {
                    let len = read_map_of(r, TType::I32, TType::Struct)?;
                    let mut map = BTreeMap::new();
                    for _ in 0..len {
                        let k = r.read_i32()?;
                        let v = Inner::decode(r)?;
                        map.insert(k, v);
                    }
                    r.read_map_end();
                    out.inners = map;
                }
                (TType::I32, 17) => out.color = Color(r.read_i32()?),
                (TType::I32, 18) => out.opt_i32 = Some(r.read_i32()?),
                (TType::Binary, 19) => out.opt_string = Some(r.read_string()?),
                (TType::List, 20) => {
                    let len = read_list_of(r, TType::I64)?;
                    let mut list = Vec::with_capacity(len);
                    for _ in 0..len {
                        list.push(r.read_i64()?);
                    }
                    r.read_list_end();
                    out.opt_list = Some(list);
                }
                (TType::Bool, 21) => out.opt_bool = Some(r.read_bool()?),
                (TType::I64, 40) => out.far_i64 = r.read_i64()?,
                (TType::Binary, 1000) => out.far_string = r.read_string()?,
                (TType::I32, 500) => out.back_i32 = r.read_i32()?,
                (TType::I16, -5) => out.neg_i16 = r.read_i16()?,
                (TType::Bool, -1) => out.neg_bool = r.read_bool()?,
                (TType::I8, 32767) => out.max_id = r.read_i8()?,
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        out.choice = choice.ok_or_else(|| invalid("required field AllTypes.choice is missing"))?;
        Ok(out)
    }
}

/// `Inner` as a newer peer defines it: the same three fields, and more of every type around
/// them, which an `Inner` decoder must skip.
///
/// ```thrift
/// struct InnerV2 {
///   -3: list<map<string, list<Inner>>> x_nested, 1: i32 id, 4: bool x_bool, 5: byte x_byte,
///   2: string name, 6: i16 x_i16, 7: i32 x_i32, 8: i64 x_i64, 9: double x_double,
///   10: string x_string, 11: binary x_binary, 12: uuid x_uuid, 13: Inner x_struct,
///   14: Choice x_union, 3: optional bool flag, 15: map<i32, string> x_map,
///   16: set<string> x_set, 17: list<bool> x_bools, 18: map<string, map<i64, double>> x_maps,
///   30: bool x_false, 100: optional AllTypes x_all, 200: list<set<i16>> x_sets,
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InnerV2 {
    pub x_nested: Vec<BTreeMap<FastStr, Vec<Inner>>>,
    pub id: i32,
    pub x_bool: bool,
    pub x_byte: i8,
    pub name: FastStr,
    pub x_i16: i16,
    pub x_i32: i32,
    pub x_i64: i64,
    pub x_double: f64,
    pub x_string: FastStr,
    pub x_binary: Bytes,
    pub x_uuid: [u8; 16],
    pub x_struct: Inner,
    pub x_union: Choice,
    pub flag: Option<bool>,
    pub x_map: BTreeMap<i32, FastStr>,
    pub x_set: BTreeSet<FastStr>,
    pub x_bools: Vec<bool>,
    pub x_maps: BTreeMap<FastStr, BTreeMap<i64, u64>>,
    pub x_false: bool,
    pub x_all: Option<Box<AllTypes>>,
    pub x_sets: Vec<BTreeSet<i16>>,
}

impl InnerV2 {
    /// What a v1 peer keeps of this value.
    pub fn to_v1(&self) -> Inner {
        Inner {
            id: self.id,
            name: self.name.clone(),
            flag: self.flag,
        }
    }
}

impl ThriftEncode for InnerV2 {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        w.write_field_begin(TType::List, -3);
        w.write_list_begin(TType::Map, self.x_nested.len());
        for map in &self.x_nested {
            w.write_map_begin(TType::Binary, TType::List, map.len());
            for (k, list) in map {
                w.write_string(k);
                w.write_list_begin(TType::Struct, list.len());
                for inner in list {
                    inner.encode(w);
                }
            }
        }
        w.write_field_begin(TType::I32, 1);
        w.write_i32(self.id);
        w.write_field_begin(TType::Bool, 4);
        w.write_bool(self.x_bool);
        w.write_field_begin(TType::I8, 5);
        w.write_i8(self.x_byte);
        w.write_field_begin(TType::Binary, 2);
        w.write_string(&self.name);
        w.write_field_begin(TType::I16, 6);
        w.write_i16(self.x_i16);
        w.write_field_begin(TType::I32, 7);
        w.write_i32(self.x_i32);
        w.write_field_begin(TType::I64, 8);
        w.write_i64(self.x_i64);
        w.write_field_begin(TType::Double, 9);
        w.write_double(self.x_double);
        w.write_field_begin(TType::Binary, 10);
        w.write_string(&self.x_string);
        w.write_field_begin(TType::Binary, 11);
        w.write_binary(&self.x_binary);
        w.write_field_begin(TType::Uuid, 12);
        w.write_uuid(&self.x_uuid);
        w.write_field_begin(TType::Struct, 13);
        self.x_struct.encode(w);
        w.write_field_begin(TType::Struct, 14);
        self.x_union.encode(w);
        if let Some(flag) = self.flag {
            w.write_field_begin(TType::Bool, 3);
            w.write_bool(flag);
        }
        w.write_field_begin(TType::Map, 15);
        w.write_map_begin(TType::I32, TType::Binary, self.x_map.len());
        for (k, v) in &self.x_map {
            w.write_i32(*k);
            w.write_string(v);
        }
        w.write_field_begin(TType::Set, 16);
        w.write_set_begin(TType::Binary, self.x_set.len());
        for v in &self.x_set {
            w.write_string(v);
        }
        w.write_field_begin(TType::List, 17);
        w.write_list_begin(TType::Bool, self.x_bools.len());
        for v in &self.x_bools {
            w.write_bool(*v);
        }
        w.write_field_begin(TType::Map, 18);
        w.write_map_begin(TType::Binary, TType::Map, self.x_maps.len());
        for (k, inner) in &self.x_maps {
            w.write_string(k);
            w.write_map_begin(TType::I64, TType::Double, inner.len());
            for (k, bits) in inner {
                w.write_i64(*k);
                w.write_double(f64::from_bits(*bits));
            }
        }
        w.write_field_begin(TType::Bool, 30);
        w.write_bool(self.x_false);
        if let Some(all) = &self.x_all {
            w.write_field_begin(TType::Struct, 100);
            all.encode(w);
        }
        w.write_field_begin(TType::List, 200);
        w.write_list_begin(TType::Set, self.x_sets.len());
        for set in &self.x_sets {
            w.write_set_begin(TType::I16, set.len());
            for v in set {
                w.write_i16(*v);
            }
        }
        w.write_field_stop();
        w.write_struct_end();
    }
}

/// A struct that holds itself: `struct Nest { 1: optional Nest child }`, to nest structs
/// arbitrarily deep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Nest {
    pub child: Option<Box<Nest>>,
}

impl Nest {
    /// How many structs deep this value is (1 for a leaf).
    pub fn depth(&self) -> usize {
        let mut depth = 1;
        let mut at = self;
        while let Some(child) = &at.child {
            depth += 1;
            at = child;
        }
        depth
    }

    /// A value `depth` structs deep (built without recursion).
    pub fn with_depth(depth: usize) -> Nest {
        let mut nest = Nest::default();
        for _ in 1..depth {
            nest = Nest {
                child: Some(Box::new(nest)),
            };
        }
        nest
    }
}

impl Drop for Nest {
    // Dropping a deep chain recursively would overflow the stack; unlink it iteratively.
    fn drop(&mut self) {
        let mut next = self.child.take();
        while let Some(mut node) = next {
            next = node.child.take();
        }
    }
}

impl ThriftEncode for Nest {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        if let Some(child) = &self.child {
            w.write_field_begin(TType::Struct, 1);
            child.encode(w);
        }
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for Nest {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = Nest::default();
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::Struct, 1) => out.child = Some(Box::new(Nest::decode(r)?)),
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        Ok(out)
    }
}

/// A list of lists of lists...: `struct Lists { 1: Tree tree }` where a `Tree` is a
/// `list<Tree>`, to nest containers arbitrarily deep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lists {
    pub tree: Tree,
}

/// A list whose elements are lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tree(pub Vec<Tree>);

impl Tree {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_list_begin(TType::List, self.0.len());
        for t in &self.0 {
            t.encode(w);
        }
    }

    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let len = read_list_of(r, TType::List)?;
        let mut out = Vec::with_capacity(len);
        for _ in 0..len {
            out.push(Tree::decode(r)?);
        }
        r.read_list_end();
        Ok(Tree(out))
    }
}

impl ThriftEncode for Lists {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        w.write_field_begin(TType::List, 1);
        self.tree.encode(w);
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for Lists {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = Lists::default();
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::List, 1) => out.tree = Tree::decode(r)?,
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        Ok(out)
    }
}
