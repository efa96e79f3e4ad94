//! rookery's generated Protobuf code against prost's, for the same `.proto` files and the same
//! descriptors: random messages of every field kind are encoded by prost, decoded by rookery,
//! encoded again by rookery, and the bytes compared; prost decodes what rookery writes.

use std::collections::HashMap;

use bytes::Bytes;
use proptest::{collection::vec, option, prelude::*};
use prost::Message as _;
use rookery::codec::protobuf::ProtoMessage;
use rookery_build_proto_fixtures::{prost_gen, rookery_gen};

mod pk {
    pub(crate) use super::prost_gen::fixtures::kinds::*;
}
mod rk {
    pub(crate) use super::rookery_gen::fixtures::kinds::*;
}

/// Checks one message both ways: rookery reads prost's bytes, writes them back identically
/// (byte for byte when no map has two entries, whose order a hash map does not keep; with the
/// same length and content otherwise), and prost reads rookery's bytes back to the original.
fn check<P, R>(msg: &P, ordered: bool) -> R
where
    P: prost::Message + Default + PartialEq + std::fmt::Debug,
    R: ProtoMessage + std::fmt::Debug,
{
    let theirs = msg.encode_to_vec();
    let ours = R::decode(Bytes::from(theirs.clone())).expect("rookery decodes prost's bytes");
    let again = ours.encode_to_vec();
    assert_eq!(ours.encoded_len(), theirs.len(), "encoded_len of {ours:?}");
    assert_eq!(again.len(), theirs.len(), "length of {ours:?}");
    if ordered {
        assert_eq!(again, theirs, "bytes of {ours:?}");
    }
    let back = P::decode(&again[..]).expect("prost decodes rookery's bytes");
    assert_eq!(&back, msg, "prost's reading of rookery's bytes");
    ours
}

fn float() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(0.0f32),
        Just(-0.0f32),
        Just(f32::INFINITY),
        any::<f32>().prop_filter("NaN is never equal", |f| !f.is_nan()),
    ]
}

fn double() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0f64),
        Just(-0.0f64),
        Just(f64::NEG_INFINITY),
        any::<f64>().prop_filter("NaN is never equal", |f| !f.is_nan()),
    ]
}

/// Enum numbers: mostly known, sometimes ones the schema does not name (they pass through).
fn color() -> impl Strategy<Value = i32> {
    prop_oneof![4 => prop_oneof![Just(0), Just(1), Just(2), Just(-3)], 1 => any::<i32>()]
}

fn int32() -> impl Strategy<Value = i32> {
    prop_oneof![
        Just(0),
        Just(-1),
        Just(i32::MIN),
        Just(i32::MAX),
        any::<i32>(),
        -200..200i32
    ]
}

fn int64() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0),
        Just(-1),
        Just(i64::MIN),
        Just(i64::MAX),
        any::<i64>(),
        -200..200i64
    ]
}

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z]{1,8}",
        "\\PC{0,40}",
        "[a-z]{31,80}"
    ]
}

fn blob() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..48).prop_map(Bytes::from)
}

fn scalars() -> BoxedStrategy<pk::Scalars> {
    (
        (
            double(),
            float(),
            int32(),
            int64(),
            any::<u32>(),
            any::<u64>(),
        ),
        (
            int32(),
            int64(),
            any::<u32>(),
            any::<u64>(),
            int32(),
            int64(),
        ),
        (any::<bool>(), string(), blob(), color(), int32(), string()),
    )
        .prop_map(|(a, b, c)| pk::Scalars {
            f_double: a.0,
            f_float: a.1,
            f_int32: a.2,
            f_int64: a.3,
            f_uint32: a.4,
            f_uint64: a.5,
            f_sint32: b.0,
            f_sint64: b.1,
            f_fixed32: b.2,
            f_fixed64: b.3,
            f_sfixed32: b.4,
            f_sfixed64: b.5,
            f_bool: c.0,
            f_string: c.1,
            f_bytes: c.2,
            f_color: c.3,
            f_far: c.4,
            f_farthest: c.5,
        })
        .boxed()
}

fn repeated() -> BoxedStrategy<pk::Repeated> {
    let n = 0..6;
    (
        (
            vec(double(), n.clone()),
            vec(float(), n.clone()),
            vec(int32(), n.clone()),
            vec(int64(), n.clone()),
            vec(any::<u32>(), n.clone()),
            vec(any::<u64>(), n.clone()),
            vec(int32(), n.clone()),
            vec(int64(), n.clone()),
        ),
        (
            vec(any::<u32>(), n.clone()),
            vec(any::<u64>(), n.clone()),
            vec(int32(), n.clone()),
            vec(int64(), n.clone()),
            vec(any::<bool>(), n.clone()),
            vec(string(), n.clone()),
            vec(blob(), n.clone()),
            vec(color(), n.clone()),
        ),
        (
            vec(int32(), n.clone()),
            vec(int64(), n.clone()),
            vec(any::<u32>(), n.clone()),
            vec(color(), n.clone()),
            vec(double(), n.clone()),
            vec(any::<bool>(), n.clone()),
            vec(scalars(), 0..3),
        ),
    )
        .prop_map(|(a, b, c)| pk::Repeated {
            r_double: a.0,
            r_float: a.1,
            r_int32: a.2,
            r_int64: a.3,
            r_uint32: a.4,
            r_uint64: a.5,
            r_sint32: a.6,
            r_sint64: a.7,
            r_fixed32: b.0,
            r_fixed64: b.1,
            r_sfixed32: b.2,
            r_sfixed64: b.3,
            r_bool: b.4,
            r_string: b.5,
            r_bytes: b.6,
            r_color: b.7,
            unpacked_int32: c.0,
            unpacked_sint64: c.1,
            unpacked_fixed32: c.2,
            unpacked_color: c.3,
            unpacked_double: c.4,
            unpacked_bool: c.5,
            messages: c.6,
        })
        .boxed()
}

fn map<K: std::hash::Hash + Eq + std::fmt::Debug, V: std::fmt::Debug>(
    k: impl Strategy<Value = K>,
    v: impl Strategy<Value = V>,
    max: usize,
) -> impl Strategy<Value = HashMap<K, V>> {
    proptest::collection::hash_map(k, v, 0..=max)
}

fn maps(max: usize) -> BoxedStrategy<pk::Maps> {
    (
        map(string(), string(), max),
        map(int32(), int64(), max),
        map(int32(), scalars(), max.min(2)),
        map(any::<bool>(), blob(), max),
        map(any::<u64>(), color(), max),
        map(any::<u32>(), double(), max),
        map(string(), scalars(), max.min(2)),
        map(int64(), float(), max),
    )
        .prop_map(|m| pk::Maps {
            string_string: m.0,
            int_int: m.1,
            sint_message: m.2,
            bool_bytes: m.3,
            uint_enum: m.4,
            fixed_double: m.5,
            string_message: m.6,
            sfixed_float: m.7,
        })
        .boxed()
}

fn oneofs() -> BoxedStrategy<pk::Oneofs> {
    use pk::oneofs::{Choice, Other};
    let choice = option::of(prop_oneof![
        int32().prop_map(Choice::CInt),
        string().prop_map(Choice::CString),
        scalars().prop_map(Choice::CMessage),
        color().prop_map(Choice::CEnum),
        blob().prop_map(Choice::CBytes),
        double().prop_map(Choice::CDouble),
    ]);
    let leaf = (
        choice.clone(),
        int32(),
        option::of(int64().prop_map(Other::OSint)),
    )
        .prop_map(|(choice, after, other)| pk::Oneofs {
            choice,
            after,
            other,
        });
    leaf.prop_recursive(3, 6, 1, move |inner| {
        (choice.clone(), int32(), inner).prop_map(|(choice, after, inner)| pk::Oneofs {
            choice,
            after,
            other: Some(Other::OSelf(Box::new(inner))),
        })
    })
    .boxed()
}

fn optionals() -> BoxedStrategy<pk::Optionals> {
    (
        option::of(int32()),
        option::of(string()),
        option::of(color()),
        option::of(blob()),
        option::of(double()),
        option::of(any::<bool>()),
        option::of(scalars()),
        option::of(int64()),
    )
        .prop_map(|o| pk::Optionals {
            o_int32: o.0,
            o_string: o.1,
            o_color: o.2,
            o_bytes: o.3,
            o_double: o.4,
            o_bool: o.5,
            o_msg: o.6,
            o_sint64: o.7,
        })
        .boxed()
}

fn deep() -> BoxedStrategy<pk::nested::inner::Deep> {
    (string(), vec(int32(), 0..4))
        .prop_map(|(name, values)| pk::nested::inner::Deep { name, values })
        .boxed()
}

fn inner() -> BoxedStrategy<pk::nested::Inner> {
    (
        option::of(deep()),
        int32(),
        prop_oneof![Just(0), Just(1), any::<i32>()],
    )
        .prop_map(|(deep, id, kind)| pk::nested::Inner { deep, id, kind })
        .boxed()
}

fn nested(max_map: usize) -> BoxedStrategy<pk::Nested> {
    let leaf = (
        option::of(inner()),
        vec(inner(), 0..3),
        option::of(deep()),
        prop_oneof![Just(0), Just(1), Just(7)],
        map(string(), inner(), max_map),
    )
        .prop_map(|(inner, inners, deep, kind, by_name)| pk::Nested {
            inner,
            inners,
            deep,
            child: None,
            children: Vec::new(),
            kind,
            by_name,
        });
    leaf.prop_recursive(4, 12, 2, |node| {
        (node.clone(), option::of(node), vec(inner(), 0..2)).prop_map(|(mut n, child, inners)| {
            n.child = child.map(Box::new);
            n.children.push(n.clone());
            n.inners = inners;
            n
        })
    })
    .boxed()
}

fn everything(max_map: usize) -> BoxedStrategy<pk::Everything> {
    (
        option::of(scalars()),
        option::of(repeated()),
        option::of(maps(max_map)),
        option::of(oneofs()),
        option::of(optionals()),
        option::of(nested(max_map)),
    )
        .prop_map(|e| pk::Everything {
            scalars: e.0,
            repeated: e.1,
            maps: e.2,
            oneofs: e.3,
            optionals: e.4,
            nested: e.5,
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn scalars_are_byte_identical(msg in scalars()) {
        let ours: rk::Scalars = check(&msg, true);
        prop_assert_eq!(ours.f_color.0, msg.f_color);
        prop_assert_eq!(&ours.f_string[..], &msg.f_string[..]);
    }

    #[test]
    fn repeated_fields_are_byte_identical(msg in repeated()) {
        check::<_, rk::Repeated>(&msg, true);
    }

    #[test]
    fn maps_of_one_entry_are_byte_identical(msg in maps(1)) {
        check::<_, rk::Maps>(&msg, true);
    }

    #[test]
    fn maps_of_many_entries_round_trip(msg in maps(6)) {
        check::<_, rk::Maps>(&msg, false);
    }

    #[test]
    fn oneofs_are_byte_identical(msg in oneofs()) {
        check::<_, rk::Oneofs>(&msg, true);
    }

    #[test]
    fn optionals_are_byte_identical(msg in optionals()) {
        let ours: rk::Optionals = check(&msg, true);
        prop_assert_eq!(ours.o_int32, msg.o_int32);
    }

    #[test]
    fn nested_messages_are_byte_identical(msg in nested(1)) {
        check::<_, rk::Nested>(&msg, true);
    }

    #[test]
    fn everything_is_byte_identical(msg in everything(1)) {
        check::<_, rk::Everything>(&msg, true);
    }

    #[test]
    fn everything_round_trips_with_big_maps(msg in everything(5)) {
        check::<_, rk::Everything>(&msg, false);
    }

    /// What prost accepts (here from random bytes), rookery accepts, and means the same.
    #[test]
    fn rookery_decodes_whatever_prost_decodes(raw in vec(any::<u8>(), 0..64)) {
        fn agree<P: prost::Message + Default + PartialEq + std::fmt::Debug, R: ProtoMessage>(raw: &[u8]) {
            let ours = R::decode(Bytes::copy_from_slice(raw));
            if let Ok(theirs) = P::decode(raw) {
                let ours = ours.expect("prost decoded this; rookery must too");
                assert_eq!(P::decode(&ours.encode_to_vec()[..]).unwrap(), theirs);
            }
        }
        agree::<pk::Scalars, rk::Scalars>(&raw);
        agree::<pk::Repeated, rk::Repeated>(&raw);
        agree::<pk::Optionals, rk::Optionals>(&raw);
        agree::<pk::Oneofs, rk::Oneofs>(&raw);
        agree::<pk::Maps, rk::Maps>(&raw);
        agree::<pk::Nested, rk::Nested>(&raw);
    }

    /// Every prefix of a valid encoding and every single-byte corruption decodes or fails
    /// cleanly: never a panic.
    #[test]
    fn truncated_and_corrupted_input_fails_cleanly(msg in everything(2), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let bytes = msg.encode_to_vec();
        for end in 0..bytes.len() {
            let _ = rk::Everything::decode(Bytes::copy_from_slice(&bytes[..end]));
        }
        if !bytes.is_empty() {
            let mut bad = bytes.clone();
            let i = at.index(bad.len());
            bad[i] = byte;
            let _ = rk::Everything::decode(Bytes::from(bad));
        }
    }

    #[test]
    fn random_bytes_never_panic(raw in vec(any::<u8>(), 0..256)) {
        let _ = rk::Everything::decode(Bytes::from(raw.clone()));
        let _ = rookery_gen::fixtures::legacy::Legacy::decode(Bytes::from(raw.clone()));
        let _ = rookery_gen::fixtures::wkt::WellKnown::decode(Bytes::from(raw));
    }
}

#[test]
fn enums_keep_numbers_the_schema_does_not_name() {
    let msg = pk::Scalars {
        f_color: 77,
        ..Default::default()
    };
    let ours: rk::Scalars = check(&msg, true);
    assert_eq!(ours.f_color, rk::Color(77));
    assert!(!ours.f_color.is_known());
    assert_eq!(format!("{:?}", ours.f_color), "Color(77)");
    assert_eq!(format!("{:?}", rk::Color::BLUE), "COLOR_BLUE");
    assert_eq!(rk::Color::BLUE.0, -3);
    assert_eq!(rk::Color::from_str_name("COLOR_RED"), Some(rk::Color::RED));
}

#[test]
fn negative_int32_takes_ten_bytes_and_sint32_one() {
    let ours = rk::Scalars {
        f_int32: -1,
        f_sint32: -1,
        ..Default::default()
    };
    let bytes = ours.encode_to_vec();
    assert_eq!(
        bytes,
        [&[0x18][..], &[0xff; 9], &[0x01], &[0x38, 0x01]].concat()
    );
    let theirs = pk::Scalars {
        f_int32: -1,
        f_sint32: -1,
        ..Default::default()
    };
    assert_eq!(bytes, theirs.encode_to_vec());
}

#[test]
fn packed_and_unpacked_are_both_read() {
    // Field 3 is packed in the schema; here it comes unpacked. Field 20 is unpacked in the
    // schema; here it comes packed. Both readers accept both.
    let raw: &[u8] = &[
        0x18, 0x01, 0x18, 0x02, 0xa2, 0x01, 0x02, 0x03, 0x04, 0x1a, 0x01, 0x05,
    ];
    let ours = rk::Repeated::decode(Bytes::from_static(raw)).unwrap();
    assert_eq!(ours.r_int32, [1, 2, 5]);
    assert_eq!(ours.unpacked_int32, [3, 4]);
    let theirs = pk::Repeated::decode(raw).unwrap();
    assert_eq!(theirs.r_int32, [1, 2, 5]);
    assert_eq!(theirs.unpacked_int32, [3, 4]);
}

#[test]
fn last_value_wins_and_messages_merge() {
    let first = pk::Nested {
        inner: Some(pk::nested::Inner {
            id: 1,
            deep: Some(pk::nested::inner::Deep {
                name: "a".into(),
                values: vec![1],
            }),
            kind: 0,
        }),
        kind: 1,
        ..Default::default()
    };
    let second = pk::Nested {
        inner: Some(pk::nested::Inner {
            id: 2,
            deep: Some(pk::nested::inner::Deep {
                name: String::new(),
                values: vec![2],
            }),
            kind: 1,
        }),
        kind: 0,
        ..Default::default()
    };
    let mut raw = first.encode_to_vec();
    raw.extend(second.encode_to_vec());
    let ours = rk::Nested::decode(Bytes::from(raw.clone())).unwrap();
    let theirs = pk::Nested::decode(&raw[..]).unwrap();
    let inner = ours.inner.as_ref().unwrap();
    assert_eq!(inner.id, 2);
    assert_eq!(inner.kind, rk::nested::inner::Kind::B);
    let deep = inner.deep.as_ref().unwrap();
    assert_eq!(&deep.name[..], "a", "a field absent from the second stays");
    assert_eq!(deep.values, [1, 2], "repeated fields append");
    assert_eq!(
        ours.kind.0, 1,
        "a default value is not on the wire, so the first stays"
    );
    assert_eq!(
        pk::Nested::decode(&ours.encode_to_vec()[..]).unwrap(),
        theirs
    );
}

#[test]
fn unknown_fields_are_skipped() {
    // Everything's bytes read as a message that knows none of its fields, plus fields of
    // every wire type, including a group, with numbers nobody knows.
    let msg = pk::Everything {
        scalars: Some(pk::Scalars {
            f_string: "x".into(),
            f_fixed64: 9,
            f_float: 1.0,
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut raw = msg.encode_to_vec();
    raw.extend([
        0xf8, 0x07, 0x2a, // 127: varint
        0xf9, 0x07, 1, 2, 3, 4, 5, 6, 7, 8, // 127: fixed64
        0xfd, 0x07, 1, 2, 3, 4, // 127: fixed32
        0xfa, 0x07, 2, b'h', b'i', // 127: bytes
        0xfb, 0x07, 0x08, 0x01, 0xfc, 0x07, // 127: group holding a varint
    ]);
    let empty = rookery::codec::protobuf::wkt::Empty::decode(Bytes::from(raw.clone())).unwrap();
    assert_eq!(empty, Default::default());
    assert!(<() as prost::Message>::decode(&raw[..]).is_ok());
    // And the known fields around unknown ones still decode.
    let ours = rk::Everything::decode(Bytes::from(raw)).unwrap();
    assert_eq!(&ours.scalars.unwrap().f_string[..], "x");
}

#[test]
fn malformed_input_gets_errors_of_the_right_kind() {
    use rookery::codegen::DecodeErrorKind;
    let cases: &[(&[u8], DecodeErrorKind)] = &[
        (&[0x72, 0x05, b'a'], DecodeErrorKind::Truncated), // string longer than the input
        (&[0x18], DecodeErrorKind::Truncated),             // key without its value
        (&[0x18, 0x80], DecodeErrorKind::Truncated),       // varint cut short
        (&[0x4d, 1, 2], DecodeErrorKind::Truncated),       // fixed32 cut short
        (&[0x72, 0x02, 0xff, 0xfe], DecodeErrorKind::InvalidUtf8),
        (&[0x00], DecodeErrorKind::InvalidData), // field number 0
        (&[0x1a, 0x00], DecodeErrorKind::InvalidData), // int32 field with wire type 2
        (&[0x0f], DecodeErrorKind::InvalidData), // wire type 7
        (&[0x0c], DecodeErrorKind::InvalidData), // end group with no start
        (
            &[
                0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
            DecodeErrorKind::InvalidData,
        ),
        (&[0x0a, 0x01, 0x00], DecodeErrorKind::InvalidData), // double field as bytes
    ];
    for (raw, kind) in cases {
        let err = rk::Scalars::decode(Bytes::copy_from_slice(raw)).unwrap_err();
        assert_eq!(err.kind(), *kind, "{raw:02x?}: {err}");
        assert!(
            pk::Scalars::decode(*raw).is_err(),
            "prost accepts {raw:02x?}"
        );
    }
}

#[test]
fn nesting_is_limited_to_a_hundred_levels_as_prost_does() {
    fn nested_bytes(depth: usize) -> Vec<u8> {
        // Nested { child: Nested { child: … } } with `depth` levels below the top.
        let mut raw = Vec::new();
        for _ in 0..depth {
            let mut outer = vec![0x22];
            let mut len = raw.len();
            while len >= 0x80 {
                outer.push((len as u8) | 0x80);
                len >>= 7;
            }
            outer.push(len as u8);
            outer.extend(raw);
            raw = outer;
        }
        raw
    }
    let ok = nested_bytes(100);
    assert!(rk::Nested::decode(Bytes::from(ok.clone())).is_ok());
    assert!(pk::Nested::decode(&ok[..]).is_ok());
    let deep = nested_bytes(101);
    let err = rk::Nested::decode(Bytes::from(deep.clone())).unwrap_err();
    assert_eq!(
        err.kind(),
        rookery::codegen::DecodeErrorKind::DepthLimit,
        "{err}"
    );
    assert!(pk::Nested::decode(&deep[..]).is_err());
    // A thousand levels: an error, not a stack overflow.
    assert!(rk::Nested::decode(Bytes::from(nested_bytes(1000))).is_err());
    // The limit can be raised.
    let limits = rookery::codec::protobuf::DecodeLimits { max_depth: 200 };
    assert!(rk::Nested::decode_with_limits(Bytes::from(deep), limits).is_ok());
}

#[test]
fn strings_and_bytes_share_the_input() {
    let long = "a string long enough not to be inlined into the FastStr itself";
    let msg = pk::Scalars {
        f_string: long.into(),
        f_bytes: Bytes::from_static(b"some bytes"),
        ..Default::default()
    };
    let input = Bytes::from(msg.encode_to_vec());
    let range = input.as_ptr_range();
    let ours = rk::Scalars::decode(input.clone()).unwrap();
    assert!(
        range.contains(&ours.f_string.as_ptr()),
        "the string points into the input"
    );
    assert!(
        range.contains(&ours.f_bytes.as_ptr()),
        "the bytes point into the input"
    );
}
