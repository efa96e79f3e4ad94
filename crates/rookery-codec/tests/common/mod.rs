//! What the integration tests share: hand-written message types ([`types`]), a dynamic value
//! ([`value`]), proptest strategies, and helpers to encode and decode in both protocols.

// Each test crate uses a different part of this module.
#![allow(dead_code, unreachable_pub)]

pub mod types;
pub mod value;

use std::collections::BTreeMap;

use bytes::Bytes;
use faststr::FastStr;
use proptest::prelude::*;
use rookery_codec::thrift::{
    BinaryReader, CompactReader, DecodeError, Protocol, ProtocolRead, TType, ThriftDecode,
    ThriftEncode,
};

pub use types::*;
pub use value::Val;

/// Both protocols, for loops.
pub const PROTOCOLS: [Protocol; 2] = [Protocol::Binary, Protocol::Compact];

/// Encodes `msg`, checking that `encoded_len` agrees with what was written.
pub fn encode<M: ThriftEncode>(protocol: Protocol, msg: &M) -> Bytes {
    let bytes = protocol.encode_to_bytes(msg);
    assert_eq!(
        bytes.len(),
        protocol.encoded_len(msg),
        "{protocol:?}: encoded_len disagrees with the encoding"
    );
    bytes
}

/// Decodes an `M` from a borrowed slice (the reader that copies) rather than from `Bytes`.
pub fn decode_slice<M: ThriftDecode>(protocol: Protocol, buf: &[u8]) -> Result<M, DecodeError> {
    match protocol {
        Protocol::Binary => M::decode(&mut BinaryReader::new(buf)),
        Protocol::Compact => M::decode(&mut CompactReader::new(buf)),
    }
}

/// Skips one struct from the front of `buf` and returns how many bytes that took.
pub fn skip_struct(protocol: Protocol, buf: &[u8]) -> Result<usize, DecodeError> {
    fn run<R: ProtocolRead>(mut r: R, total: usize) -> Result<usize, DecodeError> {
        r.skip(TType::Struct)?;
        Ok(total - r.remaining())
    }
    match protocol {
        Protocol::Binary => run(BinaryReader::new(buf), buf.len()),
        Protocol::Compact => run(CompactReader::new(buf), buf.len()),
    }
}

/// Parses hex with optional whitespace: `"08 00 01"`.
pub fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len() % 2 == 0, "odd number of hex digits in {s:?}");
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// Formats bytes as spaced hex, for failure messages.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

// ---- strategies ----

/// Short strings, including multi-byte characters.
pub fn string() -> BoxedStrategy<FastStr> {
    prop_oneof![
        3 => "[a-z]{0,6}",
        1 => ".{0,12}",
    ]
    .prop_map(FastStr::from)
    .boxed()
}

/// Short byte strings, any bytes.
pub fn binary() -> BoxedStrategy<Bytes> {
    prop::collection::vec(any::<u8>(), 0..24)
        .prop_map(Bytes::from)
        .boxed()
}

/// Any `f64` but NaN (NaN is not equal to itself; its bits are checked separately).
pub fn double() -> BoxedStrategy<f64> {
    (prop::num::f64::POSITIVE
        | prop::num::f64::NEGATIVE
        | prop::num::f64::NORMAL
        | prop::num::f64::SUBNORMAL
        | prop::num::f64::ZERO
        | prop::num::f64::INFINITE)
        .boxed()
}

/// Integers biased towards the edges of their range and the varint boundaries.
pub fn i64_edgy() -> BoxedStrategy<i64> {
    prop_oneof![
        any::<i64>(),
        -70i64..70,
        Just(i64::MIN),
        Just(i64::MAX),
        (0u32..63).prop_map(|s| 1i64 << s),
        (0u32..63).prop_map(|s| -(1i64 << s)),
    ]
    .boxed()
}

/// `i32`s biased like [`i64_edgy`].
pub fn i32_edgy() -> BoxedStrategy<i32> {
    prop_oneof![
        any::<i32>(),
        -70i32..70,
        Just(i32::MIN),
        Just(i32::MAX),
        (0u32..31).prop_map(|s| 1i32 << s),
    ]
    .boxed()
}

/// Any `Inner`.
pub fn inner() -> BoxedStrategy<Inner> {
    (i32_edgy(), string(), any::<Option<bool>>())
        .prop_map(|(id, name, flag)| Inner { id, name, flag })
        .boxed()
}

/// Any `Choice`.
pub fn choice() -> BoxedStrategy<Choice> {
    prop_oneof![
        i64_edgy().prop_map(Choice::Num),
        string().prop_map(Choice::Text),
        inner().prop_map(Choice::Inner),
        any::<bool>().prop_map(Choice::Flag),
    ]
    .boxed()
}

/// Any `Color`, named or not.
pub fn color() -> BoxedStrategy<Color> {
    prop_oneof![
        Just(Color::RED),
        Just(Color::GREEN),
        Just(Color::BLUE),
        Just(Color::ULTRAVIOLET),
        any::<i32>().prop_map(Color),
    ]
    .boxed()
}

/// Any `AllTypes`. Collections are sometimes longer than 14 elements, so that the compact
/// protocol's long list header is exercised.
pub fn all_types() -> BoxedStrategy<AllTypes> {
    use prop::collection::{btree_map, btree_set, vec};
    let scalars = (
        any::<bool>(),
        any::<i8>(),
        any::<i16>(),
        i32_edgy(),
        i64_edgy(),
        double(),
        string(),
        binary(),
        any::<Option<[u8; 16]>>(),
    );
    let structs = (inner(), choice(), color());
    let containers = (
        btree_map(string(), i64_edgy(), 0..4),
        prop_oneof![btree_set(i32_edgy(), 0..4), btree_set(any::<i32>(), 15..20)],
        vec(vec(string(), 0..3), 0..3),
        prop_oneof![vec(any::<bool>(), 0..5), vec(any::<bool>(), 14..40)],
        btree_map(any::<i32>(), inner(), 0..3),
    );
    let optionals = (
        any::<Option<i32>>(),
        prop::option::of(string()),
        prop::option::of(vec(i64_edgy(), 0..17)),
        any::<Option<bool>>(),
    );
    let far = (
        i64_edgy(),
        string(),
        i32_edgy(),
        any::<i16>(),
        any::<bool>(),
        any::<i8>(),
    );
    (scalars, structs, containers, optionals, far)
        .prop_map(
            |(
                (a_bool, a_byte, an_i16, an_i32, an_i64, a_double, a_string, a_binary, a_uuid),
                (inner, choice, color),
                (string_to_i64, i32_set, string_lists, bools, inners),
                (opt_i32, opt_string, opt_list, opt_bool),
                (far_i64, far_string, back_i32, neg_i16, neg_bool, max_id),
            )| AllTypes {
                a_bool,
                a_byte,
                an_i16,
                an_i32,
                an_i64,
                a_double,
                a_string,
                a_binary,
                a_uuid,
                inner,
                choice,
                string_to_i64,
                i32_set,
                string_lists,
                bools,
                inners,
                color,
                opt_i32,
                opt_string,
                opt_list,
                opt_bool,
                far_i64,
                far_string,
                back_i32,
                neg_i16,
                neg_bool,
                max_id,
            },
        )
        .boxed()
}

/// Any `InnerV2`, sometimes holding a whole `AllTypes` as an unknown field.
pub fn inner_v2() -> BoxedStrategy<InnerV2> {
    use prop::collection::{btree_map, btree_set, vec};
    (
        (
            vec(btree_map(string(), vec(inner(), 0..3), 0..3), 0..3),
            inner(),
            (
                any::<bool>(),
                any::<i8>(),
                any::<i16>(),
                i32_edgy(),
                i64_edgy(),
            ),
            (double(), string(), binary(), any::<[u8; 16]>()),
        ),
        (
            inner(),
            choice(),
            btree_map(any::<i32>(), string(), 0..3),
            btree_set(string(), 0..3),
            vec(any::<bool>(), 0..17),
        ),
        (
            btree_map(string(), btree_map(any::<i64>(), any::<u64>(), 0..3), 0..3),
            any::<bool>(),
            prop::option::of(all_types().prop_map(Box::new)),
            vec(btree_set(any::<i16>(), 0..3), 0..3),
        ),
    )
        .prop_map(
            |(
                (
                    x_nested,
                    v1,
                    (x_bool, x_byte, x_i16, x_i32, x_i64),
                    (x_double, x_string, x_binary, x_uuid),
                ),
                (x_struct, x_union, x_map, x_set, x_bools),
                (x_maps, x_false, x_all, x_sets),
            )| InnerV2 {
                x_nested,
                id: v1.id,
                x_bool,
                x_byte,
                name: v1.name.clone(),
                x_i16,
                x_i32,
                x_i64,
                x_double,
                x_string,
                x_binary,
                x_uuid,
                x_struct,
                x_union,
                flag: v1.flag,
                x_map,
                x_set,
                x_bools,
                x_maps,
                x_false,
                x_all,
                x_sets,
            },
        )
        .boxed()
}

/// Any dynamic struct, up to a few levels deep, with fields of every type.
pub fn val_struct() -> BoxedStrategy<Val> {
    fn scalar_of(ty: TType) -> BoxedStrategy<Val> {
        match ty {
            TType::Bool => any::<bool>().prop_map(Val::Bool).boxed(),
            TType::I8 => any::<i8>().prop_map(Val::I8).boxed(),
            TType::I16 => any::<i16>().prop_map(Val::I16).boxed(),
            TType::I32 => i32_edgy().prop_map(Val::I32).boxed(),
            TType::I64 => i64_edgy().prop_map(Val::I64).boxed(),
            TType::Double => double().prop_map(Val::Double).boxed(),
            TType::Uuid => any::<[u8; 16]>().prop_map(Val::Uuid).boxed(),
            _ => binary().prop_map(Val::Binary).boxed(),
        }
    }
    let scalar_type = prop::sample::select(vec![
        TType::Bool,
        TType::I8,
        TType::I16,
        TType::I32,
        TType::I64,
        TType::Double,
        TType::Binary,
        TType::Uuid,
    ]);
    let leaf = scalar_type.clone().prop_flat_map(scalar_of);
    let field_id = prop_oneof![1i16..20, any::<i16>()];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        let field_id = field_id.clone();
        let scalar_type = scalar_type.clone();
        prop_oneof![
            prop::collection::vec((field_id, inner.clone()), 0..6).prop_map(Val::Struct),
            // Homogeneous containers: element values of one scalar type...
            (scalar_type.clone(), 0usize..18).prop_flat_map(|(ty, len)| {
                prop::collection::vec(scalar_of(ty), len).prop_map(move |v| Val::List(ty, v))
            }),
            (scalar_type.clone(), 0usize..4).prop_flat_map(|(ty, len)| {
                prop::collection::vec(scalar_of(ty), len).prop_map(move |v| Val::Set(ty, v))
            }),
            (scalar_type.clone(), scalar_type, 0usize..4).prop_flat_map(|(k, v, len)| {
                prop::collection::vec((scalar_of(k), scalar_of(v)), len)
                    .prop_map(move |e| Val::Map(k, v, e))
            }),
            // ...or of nested values that are all structs.
            prop::collection::vec(
                prop::collection::vec((1i16..5, inner.clone()), 0..3).prop_map(Val::Struct),
                0..3
            )
            .prop_map(|v| Val::List(TType::Struct, v)),
        ]
    })
    .prop_map(|v| match v {
        s @ Val::Struct(_) => s,
        other => Val::Struct(vec![(1, other)]),
    })
    .boxed()
}

/// An `AllTypes` with a value in every field, for tests that want one fixed example.
pub fn sample_all_types() -> AllTypes {
    AllTypes {
        a_bool: true,
        a_byte: -128,
        an_i16: -300,
        an_i32: 1 << 20,
        an_i64: -(1 << 40),
        a_double: -2.5,
        a_string: FastStr::from("héllo, 世界"),
        a_binary: Bytes::from_static(b"\x00\x01\xfe\xff"),
        a_uuid: Some(*b"\x12\x34\x56\x78\x9a\xbc\xde\xf0\x0f\xed\xcb\xa9\x87\x65\x43\x21"),
        inner: Inner {
            id: 7,
            name: FastStr::from("inner"),
            flag: Some(false),
        },
        choice: Choice::Inner(Inner {
            id: -1,
            name: FastStr::from("chosen"),
            flag: None,
        }),
        string_to_i64: BTreeMap::from([
            (FastStr::from("one"), 1),
            (FastStr::from("min"), i64::MIN),
        ]),
        i32_set: (0..20).map(|i| i * 1000 - 7000).collect(),
        string_lists: vec![
            vec![],
            vec![FastStr::from("a")],
            vec![FastStr::from("b"), FastStr::from("")],
        ],
        bools: (0..17).map(|i| i % 3 == 0).collect(),
        inners: BTreeMap::from([
            (-5, Inner::default()),
            (
                9,
                Inner {
                    id: 9,
                    name: FastStr::from("nine"),
                    flag: Some(true),
                },
            ),
        ]),
        color: Color::ULTRAVIOLET,
        opt_i32: Some(-1),
        opt_string: Some(FastStr::from("opt")),
        opt_list: Some(vec![i64::MAX, 0, -1]),
        opt_bool: Some(true),
        far_i64: 1 << 62,
        far_string: FastStr::from("far away"),
        back_i32: -123_456,
        neg_i16: i16::MIN,
        neg_bool: true,
        max_id: 127,
    }
}
