//! Every Thrift type through both protocols: round trips, sizes, golden bytes from the spec,
//! zero-copy decoding, schema evolution (unknown fields skipped), unions and enums.

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use common::*;
use faststr::FastStr;
use rookery_codec::thrift::{
    ApplicationException, ApplicationExceptionKind, DecodeErrorKind, MessageHeader, MessageType,
    Protocol, TType,
};

// ---- round trips ----

#[test]
fn all_types_round_trip_in_both_protocols() {
    let values = [sample_all_types(), AllTypes::default()];
    for protocol in PROTOCOLS {
        for value in &values {
            let bytes = encode(protocol, value);
            let back: AllTypes = protocol.decode(bytes.clone()).unwrap();
            assert_eq!(&back, value, "{protocol:?}");
            // The copying reader over a slice agrees with the zero-copy one.
            let back: AllTypes = decode_slice(protocol, &bytes).unwrap();
            assert_eq!(&back, value, "{protocol:?} from a slice");
            // Skipping the struct consumes exactly its bytes.
            assert_eq!(skip_struct(protocol, &bytes).unwrap(), bytes.len());
        }
    }
}

#[test]
fn every_choice_round_trips() {
    let choices = [
        Choice::Num(i64::MIN),
        Choice::Text(FastStr::from("text")),
        Choice::Inner(Inner::default()),
        Choice::Flag(true),
        Choice::Flag(false),
    ];
    for protocol in PROTOCOLS {
        for choice in &choices {
            let value = AllTypes {
                choice: choice.clone(),
                ..sample_all_types()
            };
            let back: AllTypes = protocol.decode(encode(protocol, &value)).unwrap();
            assert_eq!(back, value, "{protocol:?}");
        }
    }
}

#[test]
fn doubles_keep_their_bits_including_nan_and_negative_zero() {
    for protocol in PROTOCOLS {
        for bits in [
            f64::NAN.to_bits(),
            0x7ff0_0000_0000_0001, // a signalling NaN
            0xfff8_0000_0000_1234, // a negative NaN with a payload
            (-0.0f64).to_bits(),
            f64::MIN_POSITIVE.to_bits(),
            1, // the smallest subnormal
            f64::INFINITY.to_bits(),
            f64::NEG_INFINITY.to_bits(),
        ] {
            let value = AllTypes {
                a_double: f64::from_bits(bits),
                ..AllTypes::default()
            };
            let back: AllTypes = protocol.decode(encode(protocol, &value)).unwrap();
            assert_eq!(back.a_double.to_bits(), bits, "{protocol:?} {bits:#x}");
        }
    }
}

#[test]
fn messages_round_trip_with_their_envelope() {
    for protocol in PROTOCOLS {
        for (name, kind, seq_id) in [
            ("ping", MessageType::Call, 0),
            ("Service:method", MessageType::Reply, i32::MAX),
            ("", MessageType::Exception, -1),
            ("名前", MessageType::Oneway, i32::MIN),
        ] {
            let body = sample_all_types();
            let mut buf = bytes::BytesMut::new();
            protocol.write_message_header(&mut buf, name, kind, seq_id);
            assert_eq!(buf.len(), protocol.message_header_len(name, seq_id));
            protocol.encode(&body, &mut buf);
            let mut bytes = buf.freeze();
            let total = bytes.len();
            assert_eq!(
                protocol
                    .measure_message(&bytes, Default::default())
                    .unwrap(),
                Some(total)
            );
            let header = protocol.read_message_header(&mut bytes).unwrap();
            assert_eq!(
                header,
                MessageHeader {
                    name: FastStr::from(name),
                    kind,
                    seq_id
                }
            );
            assert_eq!(protocol.decode::<AllTypes>(bytes).unwrap(), body);
        }
    }
}

#[test]
fn application_exception_round_trips() {
    for protocol in PROTOCOLS {
        for kind in [
            ApplicationExceptionKind::UnknownMethod,
            ApplicationExceptionKind::Other(99),
            ApplicationExceptionKind::Other(-3),
        ] {
            let exc = ApplicationException::new(kind, "no such method");
            let back: ApplicationException = protocol.decode(encode(protocol, &exc)).unwrap();
            assert_eq!(back, exc);
        }
    }
}

// ---- golden bytes, from the Binary and Compact protocol specs ----

/// Checks that `value` encodes to exactly `expected` in `protocol`, and decodes back.
#[track_caller]
fn golden(protocol: Protocol, value: &Val, expected: &str) {
    let expected = hex(expected);
    let bytes = encode(protocol, value);
    assert_eq!(
        to_hex(&bytes),
        to_hex(&expected),
        "{protocol:?} encoding of {value:?}"
    );
    let back: Val = protocol.decode(bytes).unwrap();
    assert_eq!(&back, value, "{protocol:?} decoding");
}

fn one(id: i16, v: Val) -> Val {
    Val::fields([(id, v)])
}

#[test]
fn binary_golden_bytes() {
    use Protocol::Binary as B;
    // Field header: type byte, big-endian i16 id; then the value; then the stop byte.
    golden(B, &one(1, Val::I32(1)), "08 0001 00000001 00");
    golden(B, &one(-1, Val::I32(-2)), "08 ffff fffffffe 00");
    golden(B, &one(2, Val::Bool(true)), "02 0002 01 00");
    golden(B, &one(2, Val::Bool(false)), "02 0002 00 00");
    golden(B, &one(3, Val::I8(-1)), "03 0003 ff 00");
    golden(B, &one(4, Val::I16(0x1234)), "06 0004 1234 00");
    golden(
        B,
        &one(5, Val::I64(0x0102_0304_0506_0708)),
        "0a 0005 0102030405060708 00",
    );
    // Doubles are big-endian IEEE 754.
    golden(B, &one(1, Val::Double(1.0)), "04 0001 3ff0000000000000 00");
    golden(B, &one(1, Val::Double(-2.5)), "04 0001 c004000000000000 00");
    // Binary and string: i32 length, then the bytes.
    golden(B, &one(1, Val::str("hi")), "0b 0001 00000002 6869 00");
    golden(B, &one(1, Val::str("")), "0b 0001 00000000 00");
    golden(
        B,
        &one(1, Val::Uuid(*b"0123456789abcdef")),
        "10 0001 30313233343536373839616263646566 00",
    );
    // Nested struct: its own fields and stop, then the outer stop.
    golden(
        B,
        &one(1, one(1, Val::I32(1))),
        "0c 0001 08 0001 00000001 00 00",
    );
    // List and set: element type, i32 size, elements.
    golden(
        B,
        &one(1, Val::List(TType::I32, vec![Val::I32(1), Val::I32(2)])),
        "0f 0001 08 00000002 00000001 00000002 00",
    );
    golden(
        B,
        &one(1, Val::Set(TType::Bool, vec![Val::Bool(true)])),
        "0e 0001 02 00000001 01 00",
    );
    // Map: key type, value type, i32 size, entries.
    golden(
        B,
        &one(
            1,
            Val::Map(
                TType::Binary,
                TType::I64,
                vec![(Val::str("a"), Val::I64(1))],
            ),
        ),
        "0d 0001 0b 0a 00000001 00000001 61 0000000000000001 00",
    );
    golden(
        B,
        &one(1, Val::Map(TType::I32, TType::Struct, vec![])),
        "0d 0001 08 0c 00000000 00",
    );
}

#[test]
fn compact_golden_bytes() {
    use Protocol::Compact as C;
    // Short field header: delta << 4 | type; i32 is a zigzag varint (1 -> 2, -1 -> 1).
    golden(C, &one(1, Val::I32(1)), "15 02 00");
    golden(C, &one(1, Val::I32(-1)), "15 01 00");
    golden(C, &one(1, Val::I32(-64)), "15 7f 00");
    golden(C, &one(1, Val::I32(64)), "15 8001 00");
    golden(C, &one(1, Val::I32(i32::MIN)), "15 ffffffff0f 00");
    golden(C, &one(1, Val::I16(-2)), "14 03 00");
    // 150 -> zigzag 300 -> varint ac 02.
    golden(C, &one(1, Val::I64(150)), "16 ac02 00");
    golden(C, &one(1, Val::I64(i64::MIN)), "16 ffffffffffffffffff01 00");
    golden(C, &one(1, Val::I64(i64::MAX)), "16 feffffffffffffffff01 00");
    // Bytes are not zigzagged.
    golden(C, &one(1, Val::I8(-1)), "13 ff 00");
    // Booleans fold into the field header: type 1 is true, 2 is false.
    golden(C, &one(1, Val::Bool(true)), "11 00");
    golden(C, &one(1, Val::Bool(false)), "12 00");
    // Doubles are little-endian.
    golden(C, &one(1, Val::Double(1.0)), "17 000000000000f03f 00");
    golden(C, &one(1, Val::Double(-2.5)), "17 00000000000004c0 00");
    // Binary: varint length, then the bytes.
    golden(C, &one(1, Val::str("hi")), "18 02 6869 00");
    golden(
        C,
        &one(1, Val::Uuid(*b"0123456789abcdef")),
        "1d 30313233343536373839616263646566 00",
    );

    // Field ids: deltas 1..=15 in the header; otherwise type alone, then the zigzag id.
    golden(
        C,
        &Val::fields([(1, Val::I32(1)), (16, Val::I32(2)), (17, Val::I32(3))]),
        "15 02 f5 04 15 06 00",
    );
    golden(
        C,
        &Val::fields([(1, Val::I32(1)), (20, Val::I32(2))]),
        "15 02 05 28 04 00",
    );
    // Descending ids take the long form; ascending again after that is a delta again.
    golden(
        C,
        &Val::fields([(5, Val::I32(0)), (3, Val::I32(0)), (4, Val::I32(0))]),
        "55 00 05 06 00 15 00 00",
    );
    // Negative ids: long form from 0; a positive delta between negative ids is short.
    golden(
        C,
        &Val::fields([(-1, Val::I32(0)), (-5, Val::I8(0)), (-1, Val::I8(0))]),
        "05 01 00 03 09 00 43 00 00",
    );
    // A folded bool in the long form, with a two-byte id (1000 -> zigzag 2000 = d0 0f).
    golden(
        C,
        &Val::fields([(1000, Val::Bool(true)), (-1, Val::Bool(false))]),
        "01 d00f 02 01 00",
    );
    golden(C, &one(i16::MAX, Val::I8(7)), "03 feff03 07 00");
    golden(C, &one(i16::MIN, Val::I8(7)), "03 ffff03 07 00");

    // A nested struct starts its deltas from 0 again, and the outer deltas resume after it.
    golden(
        C,
        &Val::fields([(1, one(1, Val::I32(1))), (2, Val::I32(2))]),
        "1c 15 02 00 15 04 00",
    );

    // Lists: size << 4 | element type for 0..=14 elements, else 0xf_, then a varint size.
    golden(
        C,
        &one(1, Val::List(TType::I32, vec![Val::I32(1), Val::I32(2)])),
        "19 25 02 04 00",
    );
    golden(C, &one(1, Val::List(TType::I32, vec![])), "19 05 00");
    golden(
        C,
        &one(1, Val::List(TType::I8, vec![Val::I8(0); 14])),
        &format!("19 e3 {} 00", "00 ".repeat(14)),
    );
    golden(
        C,
        &one(1, Val::List(TType::I8, vec![Val::I8(0); 15])),
        &format!("19 f3 0f {} 00", "00 ".repeat(15)),
    );
    golden(
        C,
        &one(1, Val::List(TType::I8, vec![Val::I8(1); 200])),
        &format!("19 f3 c801 {} 00", "01 ".repeat(200)),
    );
    // Bools in containers are one byte each: 1 true, 2 false (as Apache's Java and Python
    // libraries write them); the element type is 1.
    golden(
        C,
        &one(
            1,
            Val::List(TType::Bool, vec![Val::Bool(true), Val::Bool(false)]),
        ),
        "19 21 01 02 00",
    );
    golden(
        C,
        &one(1, Val::Set(TType::I16, vec![Val::I16(1)])),
        "1a 14 02 00",
    );
    // Maps: varint size, then key type << 4 | value type, then entries.
    golden(
        C,
        &one(
            1,
            Val::Map(
                TType::Binary,
                TType::I64,
                vec![(Val::str("a"), Val::I64(1))],
            ),
        ),
        "1b 01 86 01 61 02 00",
    );
    // An empty map is a single 0 byte, without types.
    let empty = one(1, Val::Map(TType::Binary, TType::I64, vec![]));
    let bytes = encode(C, &empty);
    assert_eq!(to_hex(&bytes), to_hex(&hex("1b 00 00")));
    assert_eq!(
        C.decode::<Val>(bytes).unwrap(),
        one(1, Val::Map(TType::Stop, TType::Stop, vec![]))
    );
}

#[test]
fn compact_reads_the_spec_forms_it_does_not_write() {
    let c = Protocol::Compact;
    // Bool elements as the spec describes them: element type 2, false as 0.
    assert_eq!(
        c.decode::<Val>(Bytes::from(hex("19 22 01 00 00"))).unwrap(),
        one(
            1,
            Val::List(TType::Bool, vec![Val::Bool(true), Val::Bool(false)])
        )
    );
    // A long-form header for a small id (writers may always use the long form).
    assert_eq!(
        c.decode::<Val>(Bytes::from(hex("05 02 02 00"))).unwrap(),
        one(1, Val::I32(1))
    );
    // A long list header for a short list.
    assert_eq!(
        c.decode::<Val>(Bytes::from(hex("19 f5 01 02 00"))).unwrap(),
        one(1, Val::List(TType::I32, vec![Val::I32(1)]))
    );
}

#[test]
fn golden_message_headers() {
    let header = MessageHeader {
        name: FastStr::from("ping"),
        kind: MessageType::Call,
        seq_id: 7,
    };
    // Strict binary: 0x8001 version, 0x00, type; the name; the sequence id.
    let binary = hex("80 01 00 01 00000004 70696e67 00000007");
    // Compact: protocol id 0x82, type << 5 | version 1, varint seq id, varint name length.
    let compact = hex("82 21 07 04 70696e67");
    for (protocol, expected) in [(Protocol::Binary, binary), (Protocol::Compact, compact)] {
        let mut buf = bytes::BytesMut::new();
        protocol.write_message_header(&mut buf, "ping", MessageType::Call, 7);
        assert_eq!(to_hex(&buf), to_hex(&expected), "{protocol:?}");
        let mut bytes = Bytes::from(expected);
        assert_eq!(protocol.read_message_header(&mut bytes).unwrap(), header);
        assert!(bytes.is_empty());
        assert_eq!(Protocol::detect(&buf), Some(protocol));
    }
    // The old, non-strict binary envelope: name length, name, type byte, sequence id.
    let mut old = Bytes::from(hex("00000004 70696e67 01 00000007 00"));
    assert_eq!(
        Protocol::Binary.read_message_header(&mut old).unwrap(),
        header
    );
    assert_eq!(&old[..], &[0]);
    // The compact sequence id is a plain (not zigzag) varint of the i32's bits.
    let mut neg = Bytes::from(hex("82 41 ffffffff0f 00"));
    let header = Protocol::Compact.read_message_header(&mut neg).unwrap();
    assert_eq!((header.kind, header.seq_id), (MessageType::Reply, -1));
}

// ---- zero copy ----

fn points_into(slice: &[u8], buf: &Bytes) -> bool {
    let range = buf.as_ptr_range();
    slice.is_empty() || (range.contains(&slice.as_ptr()) && slice.len() <= buf.len())
}

#[test]
fn strings_and_binaries_decoded_from_bytes_point_into_the_input() {
    // Strings longer than FastStr's inline capacity share the input's memory; shorter ones are
    // copied into the string value itself (no allocation either way). Binaries always share.
    const INLINE_CAP: usize = 30;
    let mut value = sample_all_types();
    let long = "a string well past the inline capacity of a FastStr, shared with the input";
    value.a_string = FastStr::new(long);
    value.inner.name = FastStr::new(format!("{long} (inner)"));
    value.far_string = FastStr::new(format!("{long} (far)"));
    for protocol in PROTOCOLS {
        let bytes = encode(protocol, &value);
        let back: AllTypes = protocol.decode(bytes.clone()).unwrap();
        let mut slices: Vec<&[u8]> = vec![
            back.a_string.as_bytes(),
            back.a_binary.as_ref(),
            back.inner.name.as_bytes(),
            back.far_string.as_bytes(),
            back.opt_string.as_ref().unwrap().as_bytes(),
        ];
        slices.extend(back.string_lists.iter().flatten().map(|s| s.as_bytes()));
        slices.extend(back.string_to_i64.keys().map(|s| s.as_bytes()));
        let mut shared = 0;
        for slice in slices {
            if slice.len() > INLINE_CAP || slice.as_ptr() == back.a_binary.as_ptr() {
                assert!(
                    points_into(slice, &bytes),
                    "{protocol:?}: {slice:?} was copied"
                );
                shared += 1;
            }
        }
        assert!(
            shared >= 4,
            "{protocol:?}: only {shared} long values checked"
        );
    }
}

// ---- schema evolution ----

#[test]
fn a_v1_decoder_skips_every_kind_of_unknown_field() {
    let v2 = InnerV2 {
        x_nested: vec![
            BTreeMap::from([(FastStr::from("k"), vec![Inner::default(), Inner::default()])]),
            BTreeMap::new(),
        ],
        id: 42,
        x_bool: true,
        x_byte: -3,
        name: FastStr::from("v2"),
        x_i16: -32768,
        x_i32: 99,
        x_i64: -99,
        x_double: 0.5,
        x_string: FastStr::from("extra"),
        x_binary: Bytes::from_static(&[0, 0, 0, 0]),
        x_uuid: [0xab; 16],
        x_struct: Inner {
            id: 1,
            name: FastStr::from("nested"),
            flag: Some(true),
        },
        x_union: Choice::Flag(false),
        flag: Some(true),
        x_map: BTreeMap::from([(1, FastStr::from("one"))]),
        x_set: [FastStr::from("s")].into(),
        x_bools: vec![true; 20],
        x_maps: BTreeMap::from([(FastStr::from("m"), BTreeMap::from([(1, 2.0f64.to_bits())]))]),
        x_false: false,
        x_all: Some(Box::new(sample_all_types())),
        x_sets: vec![[1, -1].into(), [].into()],
    };
    for protocol in PROTOCOLS {
        let bytes = encode(protocol, &v2);
        let v1: Inner = protocol.decode(bytes.clone()).unwrap();
        assert_eq!(v1, v2.to_v1(), "{protocol:?}");
        assert_eq!(skip_struct(protocol, &bytes).unwrap(), bytes.len());

        // Nested: a v2 inner inside AllTypes' place for `inner` (field 10) is skipped inside
        // out, and the fields after it still decode.
        let outer = Val::fields([
            (10, Val::Binary(Bytes::new())), // wrong type for a known id: skipped
            (10, protocol.decode::<Val>(bytes.clone()).unwrap()),
            (11, Val::fields([(4, Val::Bool(true))])),
            (4, Val::I32(5)),
        ]);
        let all: AllTypes = protocol.decode(encode(protocol, &outer)).unwrap();
        assert_eq!(all.inner, v2.to_v1());
        assert_eq!(all.choice, Choice::Flag(true));
        assert_eq!(all.an_i32, 5);
    }
}

#[test]
fn a_v2_writer_without_optional_fields_leaves_them_none() {
    let v2 = InnerV2 {
        flag: None,
        ..InnerV2::default()
    };
    for protocol in PROTOCOLS {
        let v1: Inner = protocol.decode(encode(protocol, &v2)).unwrap();
        assert_eq!(v1.flag, None);
    }
}

// ---- unions, required fields, enums ----

#[test]
fn a_union_with_no_field_or_two_fields_is_an_error() {
    for protocol in PROTOCOLS {
        let none = Val::fields([]);
        let err = protocol
            .decode::<Choice>(encode(protocol, &none))
            .unwrap_err();
        assert_eq!(err.kind(), DecodeErrorKind::InvalidData);
        assert!(err.message().contains("no field"), "{err}");

        // Only fields the union does not know: still none set.
        let unknown = Val::fields([(9, Val::I32(1))]);
        let err = protocol
            .decode::<Choice>(encode(protocol, &unknown))
            .unwrap_err();
        assert!(err.message().contains("no field"), "{err}");

        let two = Val::fields([(1, Val::I64(1)), (4, Val::Bool(true))]);
        let err = protocol
            .decode::<Choice>(encode(protocol, &two))
            .unwrap_err();
        assert!(err.message().contains("more than one"), "{err}");

        // The same field twice is also two fields.
        let twice = Val::fields([(2, Val::str("a")), (2, Val::str("b"))]);
        let err = protocol
            .decode::<Choice>(encode(protocol, &twice))
            .unwrap_err();
        assert!(err.message().contains("more than one"), "{err}");

        // One known field among unknown ones is fine.
        let one_known = Val::fields([(9, Val::I32(1)), (2, Val::str("a")), (10, Val::I8(0))]);
        assert_eq!(
            protocol
                .decode::<Choice>(encode(protocol, &one_known))
                .unwrap(),
            Choice::Text(FastStr::from("a"))
        );
    }
}

#[test]
fn a_missing_required_field_is_an_error_and_missing_plain_fields_take_defaults() {
    for protocol in PROTOCOLS {
        let err = protocol
            .decode::<AllTypes>(encode(protocol, &Val::fields([(4, Val::I32(3))])))
            .unwrap_err();
        assert!(err.message().contains("choice"), "{err}");

        let only_choice = Val::fields([(11, Val::fields([(1, Val::I64(0))]))]);
        let decoded: AllTypes = protocol.decode(encode(protocol, &only_choice)).unwrap();
        assert_eq!(decoded, AllTypes::default());
    }
}

#[test]
fn unknown_enum_values_are_kept() {
    for protocol in PROTOCOLS {
        for color in [Color::GREEN, Color::ULTRAVIOLET, Color(0), Color(12345)] {
            let value = AllTypes {
                color,
                ..AllTypes::default()
            };
            let back: AllTypes = protocol.decode(encode(protocol, &value)).unwrap();
            assert_eq!(back.color, color);
            assert_eq!(
                back.color.is_known(),
                [1, 2, 3, -7].contains(&color.0),
                "{color:?}"
            );
        }
    }
}

#[test]
fn container_element_types_are_checked() {
    for protocol in PROTOCOLS {
        // list<bool> declared, list<i32> sent.
        let wrong = Val::fields([(15, Val::List(TType::I32, vec![Val::I32(1)]))]);
        let err = protocol
            .decode::<AllTypes>(encode(protocol, &wrong))
            .unwrap_err();
        assert_eq!(err.kind(), DecodeErrorKind::InvalidData, "{err}");
        // An empty list of the wrong type is still the wrong type...
        let wrong = Val::fields([(15, Val::List(TType::I32, vec![]))]);
        assert!(
            protocol
                .decode::<AllTypes>(encode(protocol, &wrong))
                .is_err()
        );
        // ...but an empty map carries no types in compact, so none are checked.
        let empty = Val::fields([
            (12, Val::Map(TType::I8, TType::I8, vec![])),
            (11, Val::fields([(1, Val::I64(0))])),
        ]);
        let decoded: AllTypes = protocol.decode(encode(protocol, &empty)).unwrap();
        assert!(decoded.string_to_i64.is_empty());
    }
}

#[test]
fn nest_and_lists_round_trip_within_the_depth_limit() {
    for protocol in PROTOCOLS {
        let nest = Nest::with_depth(64);
        let back: Nest = protocol.decode(encode(protocol, &nest)).unwrap();
        assert_eq!(back.depth(), 64);

        let mut tree = Tree::default();
        for _ in 0..62 {
            tree = Tree(vec![tree, Tree::default()]);
        }
        let lists = Lists { tree };
        let back: Lists = protocol.decode(encode(protocol, &lists)).unwrap();
        assert_eq!(back, lists);
    }
}

// ---- bytes written by a real peer ----

/// The values `tests/python/alltypes_peer.py --seeds` builds with Apache Thrift's Python
/// library; the files it wrote are the fuzz corpus seeds in `fuzz/seeds/`.
fn python_seed_values() -> [(&'static str, AllTypes); 3] {
    let small = AllTypes {
        a_bool: true,
        a_byte: -1,
        an_i16: 300,
        an_i32: -70000,
        an_i64: 1 << 40,
        a_double: -0.5,
        a_string: FastStr::from("héllo"),
        a_binary: Bytes::from_static(b"\x00\xff"),
        a_uuid: None,
        inner: Inner {
            id: 1,
            name: FastStr::from("in"),
            flag: Some(false),
        },
        choice: Choice::Text(FastStr::from("chosen")),
        string_to_i64: BTreeMap::from([(FastStr::from("a"), 1), (FastStr::from("b"), -1)]),
        i32_set: [1, 2, 3].into(),
        string_lists: vec![
            vec![FastStr::from("x")],
            vec![],
            vec![FastStr::from("y"), FastStr::from("z")],
        ],
        bools: vec![true, false, true],
        inners: BTreeMap::from([(
            7,
            Inner {
                id: 7,
                name: FastStr::from("seven"),
                flag: None,
            },
        )]),
        color: Color::BLUE,
        opt_i32: Some(5),
        opt_string: None,
        opt_list: Some((0..20).collect()),
        opt_bool: Some(true),
        far_i64: -(1 << 62),
        far_string: FastStr::from("far"),
        back_i32: 500,
        neg_i16: -5,
        neg_bool: false,
        max_id: 127,
    };
    // Python leaves unset fields out; they decode to their defaults.
    let union_inner = AllTypes {
        choice: Choice::Inner(Inner {
            id: -1,
            name: FastStr::empty(),
            flag: Some(true),
        }),
        ..AllTypes::default()
    };
    [
        ("small", small),
        ("minimal", AllTypes::default()),
        ("union_inner", union_inner),
    ]
}

#[test]
fn bytes_written_by_python_thrift_decode_to_the_values_it_built() {
    let seeds = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/seeds");
    for (protocol, dir) in [
        (Protocol::Binary, "thrift_binary"),
        (Protocol::Compact, "thrift_compact"),
    ] {
        let read = |name: &str| -> Bytes {
            let path = format!("{seeds}/{dir}/python-{name}.bin");
            Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        };
        let values = python_seed_values();
        for (name, want) in &values {
            let got: AllTypes = protocol.decode(read(name)).unwrap();
            assert_eq!(&got, want, "{protocol:?} {name}");
        }

        let mut call = read("message-call");
        assert_eq!(
            protocol.measure_message(&call, Default::default()),
            Ok(Some(call.len()))
        );
        let header = protocol.read_message_header(&mut call).unwrap();
        assert_eq!(
            (&*header.name, header.kind, header.seq_id),
            ("ping", MessageType::Call, 42)
        );
        assert_eq!(protocol.decode::<AllTypes>(call).unwrap(), values[0].1);

        let mut exception = read("message-exception");
        let header = protocol.read_message_header(&mut exception).unwrap();
        assert_eq!((header.kind, header.seq_id), (MessageType::Exception, 43));
        assert_eq!(
            protocol.decode::<ApplicationException>(exception).unwrap(),
            ApplicationException::new(
                ApplicationExceptionKind::UnknownMethod,
                "unknown method ping"
            )
        );
    }
}
