//! The generated types: round trips of every one in both protocols, required fields, unions,
//! defaults, open enums, constants, unknown and mistyped fields.

use rookery::codec::thrift::{BinaryWriter, CompactWriter};
use rookery::codegen::{
    Bytes, DecodeErrorKind, FastStr, HashMap, HashSet, Protocol, ProtocolWrite, TType,
    ThriftDecode, ThriftEncode,
};
use rookery_build_fixtures::{
    all_types::{self as t, Color},
    fixtures::shared::{self, Level, Point},
};

const PROTOCOLS: [Protocol; 2] = [Protocol::Binary, Protocol::Compact];

fn round_trip<M: ThriftEncode + ThriftDecode + PartialEq + std::fmt::Debug>(msg: &M) {
    for protocol in PROTOCOLS {
        let bytes = protocol.encode_to_bytes(msg);
        assert_eq!(bytes.len(), protocol.encoded_len(msg), "{protocol:?} size");
        let back: M = protocol
            .decode(bytes)
            .unwrap_or_else(|e| panic!("{protocol:?}: {e}"));
        assert_eq!(&back, msg, "{protocol:?}");
    }
}

/// Encodes whatever `write` writes as a struct body, in `protocol`.
fn raw(protocol: Protocol, write: impl Fn(&mut dyn FnMut(Field))) -> Bytes {
    let mut fields = Vec::new();
    write(&mut |f| fields.push(f));
    let msg = RawStruct(fields);
    protocol.encode_to_bytes(&msg)
}

#[derive(Clone)]
enum Field {
    I32(i16, i32),
    I64(i16, i64),
    Str(i16, &'static str),
}

struct RawStruct(Vec<Field>);

impl ThriftEncode for RawStruct {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        for f in &self.0 {
            match f {
                Field::I32(id, v) => {
                    w.write_field_begin(TType::I32, *id);
                    w.write_i32(*v);
                }
                Field::I64(id, v) => {
                    w.write_field_begin(TType::I64, *id);
                    w.write_i64(*v);
                }
                Field::Str(id, v) => {
                    w.write_field_begin(TType::Binary, *id);
                    w.write_string(v);
                }
            }
        }
        w.write_field_stop();
        w.write_struct_end();
    }
}

fn point(x: i32, y: i32) -> Point {
    Point { x, y }
}

fn tree(label: &str, depth: u32) -> t::Tree {
    t::Tree {
        label: FastStr::new(label),
        left: (depth > 0).then(|| Box::new(tree("left", depth - 1))),
        right: (depth > 1).then(|| Box::new(tree("right", depth - 2))),
        children: (0..depth).map(|i| tree(&format!("child{i}"), 0)).collect(),
    }
}

fn everything() -> t::Everything {
    let mut counts = HashMap::default();
    counts.insert(FastStr::from("a"), 1i64);
    counts.insert(FastStr::from("b"), -2);
    let mut groups = HashMap::default();
    groups.insert(
        7,
        HashSet::from_iter([FastStr::from("x"), FastStr::from("y")]),
    );
    let mut by_color = HashMap::default();
    by_color.insert(Color::RED, vec![point(1, 2)]);
    by_color.insert(Color(77), vec![]);
    let mut index = HashMap::default();
    index.insert(FastStr::from("k"), vec![1, 2, 3]);
    t::Everything {
        primitives: t::Primitives {
            flag: true,
            tiny: -8,
            small: 1600,
            medium: -320_000,
            large: i64::MIN,
            real: 2.5,
            text: FastStr::from("text ✓"),
            blob: Bytes::from_static(b"\x00\x01\xff"),
            id: *b"0123456789abcdef",
        },
        containers: t::Containers {
            numbers: vec![1, -1, i32::MAX],
            names: HashSet::from_iter([FastStr::from("rook"), FastStr::from("pawn")]),
            counts,
            matrix: vec![vec![], vec![FastStr::from("m")]],
            groups,
            reals: vec![0.5, -0.25],
            by_real: vec![(1.5, FastStr::from("one and a half"))],
            points: vec![point(0, 0), point(-1, 5)],
            by_color,
            maps: vec![HashMap::from_iter([(FastStr::from("in"), 1)])],
            blobs: Some(HashMap::from_iter([(
                FastStr::from("b"),
                Bytes::from_static(b"\x07"),
            )])),
            chunks: vec![Bytes::new(), Bytes::from_static(b"chunk")],
            users: HashSet::from_iter([1, 2, 3]),
            index,
        },
        tree: Some(tree("root", 3)),
        color: Color::BLUE_SKY,
        owner: 99,
        origin: point(3, 4),
        level: Level::HIGH,
        value: Some(t::Value::List(vec![
            t::Value::Integer(1),
            t::Value::Real(0.5),
            t::Value::Text(FastStr::from("t")),
            t::Value::Point(point(9, 9)),
        ])),
        far_away: FastStr::from("two hundred"),
    }
}

#[test]
fn every_type_round_trips_in_both_protocols() {
    round_trip(&everything());
    round_trip(&t::Everything::default());
    round_trip(&t::Requiredness::default());
    round_trip(&t::Requiredness {
        name: "n".into(),
        age: Some(-3),
        nickname: None,
        ..Default::default()
    });
    round_trip(&tree("root", 6));
    round_trip(&t::Ping {
        pong: Some(Box::new(t::Pong {
            ping: Some(Box::new(t::Ping { pong: None })),
        })),
    });
    round_trip(&t::Holder {
        required_value: t::Value::Text("r".into()),
        value: None,
        maybe: Some(t::Value::Real(1.0)),
    });
    round_trip(&t::NotFound {
        message: "gone".into(),
        code: 404,
    });
    round_trip(&t::Keywords {
        r#type: "type".into(),
        r#match: 1,
        self_: true,
        r#gen: "gen".into(),
    });
    round_trip(&t::Option {
        result: t::Result { ok: 1 },
    });
    round_trip(&t::Empty {});
    for v in [
        t::Value::Integer(-1),
        t::Value::Real(1e300),
        t::Value::Text(FastStr::empty()),
        t::Value::List(vec![]),
        t::Value::Point(Point::default()),
    ] {
        round_trip(&v);
    }
}

#[test]
fn bytes_match_a_hand_written_encoding() {
    // Point { x: 1, y: -1 } in compact: field 1 i32 (delta 1, type 5), zigzag 1 = 2; field 2
    // (delta 1), zigzag -1 = 1; stop.
    let bytes = Protocol::Compact.encode_to_bytes(&point(1, -1));
    assert_eq!(&bytes[..], &[0x15, 0x02, 0x15, 0x01, 0x00]);
    // In binary: type 8, id 1, value; type 8, id 2, value; stop.
    let bytes = Protocol::Binary.encode_to_bytes(&point(1, -1));
    assert_eq!(
        &bytes[..],
        &[8, 0, 1, 0, 0, 0, 1, 8, 0, 2, 0xff, 0xff, 0xff, 0xff, 0]
    );
}

#[test]
fn fields_are_written_in_id_order() {
    // Requiredness declares 1, 2, 3, 4, 5, 6, 7, 8, 10: compact writes every header as a
    // one-byte delta.
    let mut w = CompactWriter::new(bytes::BytesMut::new());
    t::Requiredness::default().encode(&mut w);
    let bytes = w.into_inner();
    assert_eq!(bytes[0] >> 4, 1, "first field id delta");
}

#[test]
fn missing_required_fields_are_errors_that_name_them() {
    for protocol in PROTOCOLS {
        let empty = protocol.encode_to_bytes(&t::Empty {});
        let err = protocol
            .decode::<t::Requiredness>(empty.clone())
            .unwrap_err();
        assert_eq!(err.kind(), DecodeErrorKind::InvalidData);
        assert!(
            err.message()
                .contains("Requiredness: required field name (id 1) is missing"),
            "{err}"
        );
        let err = protocol.decode::<t::Holder>(empty).unwrap_err();
        assert!(
            err.message()
                .contains("Holder: required field required_value"),
            "{err}"
        );

        // name present, color (required, with a default) missing.
        let only_name = raw(protocol, |f| f(Field::Str(1, "x")));
        let err = protocol.decode::<t::Requiredness>(only_name).unwrap_err();
        assert!(
            err.message().contains("required field color (id 5)"),
            "{err}"
        );
    }
}

#[test]
fn missing_fields_take_their_defaults() {
    for protocol in PROTOCOLS {
        let bytes = raw(protocol, |f| {
            f(Field::Str(1, "x"));
            f(Field::I32(5, 1));
        });
        let r: t::Requiredness = protocol.decode(bytes).unwrap();
        assert_eq!(r.name, "x");
        assert_eq!(r.color, Color::RED);
        assert_eq!(r.score, 10);
        assert_eq!(r.age, None);
        // An optional field missing on the wire is absent, whatever its default.
        assert_eq!(r.nickname, None);
        assert_eq!(r.tags, vec![FastStr::from("a"), FastStr::from("b")]);
        assert_eq!(r.ratio, 1.5);
        assert!(r.enabled);
        assert_eq!(r.limits.get("max"), Some(&3));
    }
    let d = t::Requiredness::default();
    assert_eq!(d.nickname.as_deref(), Some("rook"));
    assert_eq!(d.color, Color::GREEN);
    assert_eq!(d.score, 10);
}

#[test]
fn unions_need_exactly_one_field() {
    for protocol in PROTOCOLS {
        let err = protocol
            .decode::<t::Value>(protocol.encode_to_bytes(&t::Empty {}))
            .unwrap_err();
        assert!(
            err.message().contains("union Value has no field set"),
            "{err}"
        );
        let two = raw(protocol, |f| {
            f(Field::I64(1, 5));
            f(Field::Str(3, "five"));
        });
        let err = protocol.decode::<t::Value>(two).unwrap_err();
        assert!(
            err.message()
                .contains("union Value has more than one field set"),
            "{err}"
        );
        // A field the union does not know is skipped; a known one with it is enough.
        let with_unknown = raw(protocol, |f| {
            f(Field::Str(42, "new variant"));
            f(Field::I64(1, 5));
        });
        assert_eq!(
            protocol.decode::<t::Value>(with_unknown).unwrap(),
            t::Value::Integer(5)
        );
    }
}

#[test]
fn unknown_and_mistyped_fields_are_skipped() {
    for protocol in PROTOCOLS {
        // Everything decodes as a struct that knows none of its fields.
        let bytes = protocol.encode_to_bytes(&everything());
        protocol.decode::<t::Empty>(bytes).unwrap();
        // Point's field 1 sent as a string, field 2 as it should be: 1 is skipped.
        let bytes = raw(protocol, |f| {
            f(Field::Str(1, "not an i32"));
            f(Field::I32(2, 7));
            f(Field::I64(3, 1));
        });
        assert_eq!(protocol.decode::<Point>(bytes).unwrap(), point(0, 7));
    }
}

#[test]
fn enums_are_open() {
    let mut e = t::Everything {
        color: Color(99),
        ..Default::default()
    };
    e.containers.by_color.insert(Color(-5), vec![]);
    round_trip(&e);
    assert_eq!(Color(99).name(), None);
    assert!(!Color(99).is_known());
    assert_eq!(format!("{:?}", Color(99)), "Color(99)");
    assert_eq!(format!("{:?}", Color::BLUE_SKY), "Color::blueSky");
    assert_eq!(Color::BLUE_SKY.to_string(), "blueSky");
    assert_eq!(Color::from_name("GREEN"), Some(Color::GREEN));
    assert_eq!(Color::from_name("green"), None);
    assert_eq!(Color::VALUES, &[Color::RED, Color::GREEN, Color::BLUE_SKY]);
    assert_eq!(i32::from(Color::GREEN), 2);
    assert_eq!(Color::from(4), Color::BLUE_SKY);
    assert_eq!(Color::default(), Color(0));
}

#[test]
fn constants() {
    assert_eq!(t::ANSWER, 42);
    assert_eq!(t::GREETING, "hello");
    assert_eq!(&t::MAGIC[..], b"rook\n");
    assert_eq!(t::PI.to_string(), "3.14159");
    const { assert!(t::YES) };
    assert_eq!(t::FAVOURITE, Color::BLUE_SKY);
    assert_eq!(t::ROOT, 0);
    assert_eq!(
        *t::WORDS,
        vec![FastStr::from("rook"), FastStr::from("bishop")]
    );
    assert!(t::PRIMES.contains(&5) && t::PRIMES.len() == 4);
    assert_eq!(t::COLORS.get("red"), Some(&Color::RED));
    assert_eq!(*t::ORIGIN, point(0, 0));
    assert_eq!(t::DEFAULTS.name, "const");
    assert_eq!(t::DEFAULTS.score, 10);
    assert_eq!(t::DEFAULTS.nickname.as_deref(), Some("rook"));
    assert_eq!(*t::TEXT_VALUE, t::Value::Text("hi".into()));
    assert_eq!(t::ALIAS, 42);
    assert_eq!(t::FOREIGN, shared::MAX_POINTS);
    assert_eq!(t::TOP, Level::HIGH);
    assert_eq!(t::NIL[15], 1);
    assert!(t::NIL[..15].iter().all(|b| *b == 0));
}

#[test]
fn derived_traits_follow_the_fields() {
    fn hash_eq<T: std::hash::Hash + Eq>() {}
    fn eq<T: Eq>() {}
    hash_eq::<Point>();
    hash_eq::<t::Tree>();
    hash_eq::<t::Keywords>();
    hash_eq::<Color>();
    eq::<t::Empty>();
    fn not_eq<T: PartialEq>() {}
    not_eq::<t::Requiredness>(); // a double: PartialEq only
    // Types that cannot be hashed fall back to vectors.
    let c = t::Containers::default();
    let _: &Vec<f64> = &c.reals;
    let _: &Vec<(f64, FastStr)> = &c.by_real;
    let _: &Vec<HashMap<FastStr, i32>> = &c.maps;
    let _: &HashSet<t::UserId> = &c.users;
    // Recursion is boxed.
    let tr = t::Tree::default();
    let _: &Option<Box<t::Tree>> = &tr.left;
    let _: &Option<Box<t::Tree>> = &tr.right;
}

#[test]
fn exceptions_are_errors() {
    let e = t::NotFound {
        message: "no such key".into(),
        code: 1,
    };
    assert_eq!(e.to_string(), "NotFound: no such key");
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(e);
    assert!(boxed.to_string().contains("no such key"));
}

#[test]
fn hostile_lengths_are_errors_not_allocations() {
    // A list of Tree claiming 2^31-1 elements with a few bytes behind it.
    for protocol in PROTOCOLS {
        let mut buf = bytes::BytesMut::new();
        match protocol {
            Protocol::Binary => {
                let mut w = BinaryWriter::new(&mut buf);
                w.write_field_begin(TType::List, 4);
                w.write_list_begin(TType::Struct, i32::MAX as usize);
            }
            Protocol::Compact => {
                let mut w = CompactWriter::new(&mut buf);
                w.write_struct_begin();
                w.write_field_begin(TType::List, 4);
                w.write_list_begin(TType::Struct, i32::MAX as usize);
            }
        }
        buf.extend_from_slice(&[0, 0, 0]);
        assert!(protocol.decode::<t::Tree>(buf.freeze()).is_err());
    }
}
