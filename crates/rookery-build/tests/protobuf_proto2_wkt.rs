//! proto2 (required, optional with defaults, unpacked by default) and the well-known types,
//! against prost for the same descriptors.

use bytes::Bytes;
use proptest::{collection::vec, option, prelude::*};
use prost::Message as _;
use rookery::codec::protobuf::{ProtoMessage, wkt};
use rookery_build_proto_fixtures::{prost_gen, rookery_gen};

use prost_gen::fixtures::{legacy as pl, wkt as pw};
use rookery_gen::fixtures::{legacy as rl, wkt as rw};

fn check<P, R>(msg: &P, ordered: bool) -> R
where
    P: prost::Message + Default + PartialEq + std::fmt::Debug,
    R: ProtoMessage + std::fmt::Debug,
{
    let theirs = msg.encode_to_vec();
    let ours = R::decode(Bytes::from(theirs.clone())).expect("rookery decodes prost's bytes");
    let again = ours.encode_to_vec();
    assert_eq!(ours.encoded_len(), theirs.len(), "encoded_len of {ours:?}");
    if ordered {
        assert_eq!(again, theirs, "bytes of {ours:?}");
    }
    assert_eq!(
        &P::decode(&again[..]).expect("prost decodes rookery's bytes"),
        msg
    );
    ours
}

fn level() -> impl Strategy<Value = i32> {
    prop_oneof![Just(1), Just(5), Just(10), any::<i32>()]
}

fn legacy() -> BoxedStrategy<pl::Legacy> {
    let leaf = (
        (
            any::<i32>(),
            "\\PC{0,12}",
            option::of(any::<i32>()),
            option::of("[a-z]{0,5}"),
        ),
        (
            option::of(vec(any::<u8>(), 0..6).prop_map(Bytes::from)),
            option::of(level()),
            option::of(any::<f64>().prop_filter("NaN", |f| !f.is_nan())),
            option::of(any::<f32>().prop_filter("NaN", |f| !f.is_nan())),
            option::of(any::<bool>()),
        ),
        (
            vec(any::<i32>(), 0..4),
            vec(any::<i32>(), 0..4),
            level(),
            option::of(any::<i64>()),
            any::<u32>(),
            vec(level(), 0..4),
            option::of(any::<u64>()),
            option::of("[a-z]{0,5}"),
        ),
    )
        .prop_map(|(a, b, c)| pl::Legacy {
            id: a.0,
            name: a.1,
            count: a.2,
            label: a.3,
            blob: b.0,
            level: b.1,
            ratio: b.2,
            limit: b.3,
            flag: b.4,
            unpacked: c.0,
            packed: c.1,
            child: None,
            required_level: c.2,
            neg: c.3,
            with_default: c.4,
            levels: c.5,
            big: c.6,
            plain: c.7,
        });
    leaf.prop_recursive(3, 4, 1, |inner| {
        (inner.clone(), inner).prop_map(|(mut a, b)| {
            a.child = Some(Box::new(b));
            a
        })
    })
    .boxed()
}

fn timestamp() -> impl Strategy<Value = prost_types::Timestamp> {
    (any::<i64>(), any::<i32>())
        .prop_map(|(seconds, nanos)| prost_types::Timestamp { seconds, nanos })
}

fn value() -> BoxedStrategy<prost_types::Value> {
    use prost_types::value::Kind;
    let leaf = option::of(prop_oneof![
        any::<i32>().prop_map(Kind::NullValue),
        any::<f64>()
            .prop_filter("NaN", |f| !f.is_nan())
            .prop_map(Kind::NumberValue),
        "\\PC{0,8}".prop_map(Kind::StringValue),
        any::<bool>().prop_map(Kind::BoolValue),
    ])
    .prop_map(|kind| prost_types::Value { kind });
    leaf.prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            proptest::collection::btree_map("[a-z]{0,4}", inner.clone(), 0..=1).prop_map(
                |fields| {
                    prost_types::Value {
                        kind: Some(Kind::StructValue(prost_types::Struct { fields })),
                    }
                }
            ),
            vec(inner, 0..3).prop_map(|values| prost_types::Value {
                kind: Some(Kind::ListValue(prost_types::ListValue { values })),
            }),
        ]
    })
    .boxed()
}

fn well_known(max_map: usize) -> BoxedStrategy<pw::WellKnown> {
    (
        (
            option::of(timestamp()),
            option::of(
                (any::<i64>(), any::<i32>())
                    .prop_map(|(seconds, nanos)| prost_types::Duration { seconds, nanos }),
            ),
            option::of(
                ("[a-z./]{0,20}", vec(any::<u8>(), 0..8))
                    .prop_map(|(type_url, value)| prost_types::Any { type_url, value }),
            ),
            option::of(
                proptest::collection::btree_map("[a-z]{0,4}", value(), 0..=max_map)
                    .prop_map(|fields| prost_types::Struct { fields }),
            ),
            option::of(value()),
            option::of(vec(value(), 0..3).prop_map(|values| prost_types::ListValue { values })),
            option::of(Just(())),
        ),
        (
            option::of(any::<i32>()),
            option::of("\\PC{0,8}"),
            option::of(vec(any::<u8>(), 0..8)),
            option::of(any::<bool>()),
            option::of(any::<f64>().prop_filter("NaN", |f| !f.is_nan())),
            option::of(any::<u64>()),
            option::of(
                vec("[a-z_.]{1,8}", 0..3).prop_map(|paths| prost_types::FieldMask { paths }),
            ),
        ),
        (
            prop_oneof![Just(0), any::<i32>()],
            vec(timestamp(), 0..3),
            proptest::collection::hash_map("[a-z]{0,4}", value(), 0..=max_map),
            option::of(any::<f32>().prop_filter("NaN", |f| !f.is_nan())),
            option::of(any::<i64>()),
            option::of(any::<u32>()),
        ),
    )
        .prop_map(|(a, b, c)| pw::WellKnown {
            at: a.0,
            took: a.1,
            detail: a.2,
            meta: a.3,
            value: a.4,
            list: a.5,
            nothing: a.6,
            i32: b.0,
            s: b.1,
            b: b.2,
            flag: b.3,
            d: b.4,
            u64: b.5,
            mask: b.6,
            null: c.0,
            history: c.1,
            values: c.2,
            f: c.3,
            i64: c.4,
            u32: c.5,
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn proto2_is_byte_identical(msg in legacy()) {
        let ours: rl::Legacy = check(&msg, true);
        prop_assert_eq!(ours.count(), msg.count.unwrap_or(42));
    }

    #[test]
    fn well_known_types_are_byte_identical(msg in well_known(1)) {
        check::<_, rw::WellKnown>(&msg, true);
    }

    #[test]
    fn well_known_types_round_trip_with_big_maps(msg in well_known(4)) {
        check::<_, rw::WellKnown>(&msg, false);
    }
}

#[test]
fn proto2_defaults_and_required_fields() {
    let empty = rl::Legacy::default();
    assert_eq!(
        empty.with_default, 9,
        "a required field's default is the declared one"
    );
    assert_eq!(
        empty.required_level,
        rl::Level::LOW,
        "an enum's default is its first value"
    );
    assert_eq!(empty.count, None);
    assert_eq!(empty.count(), 42);
    assert_eq!(empty.label(), "hello \"world\"");
    assert_eq!(empty.blob(), b"\x00\x01abc");
    assert_eq!(empty.level(), rl::Level::MEDIUM);
    assert_eq!(empty.ratio(), 1.5);
    assert_eq!(empty.limit(), f32::INFINITY);
    assert!(empty.flag());
    assert_eq!(empty.neg(), -7);
    assert_eq!(empty.big(), u64::MAX);
    assert_eq!(empty.plain(), "");
    // Required fields are written even when they hold the default; optional ones that are
    // set are written even when they hold it.
    let msg = rl::Legacy {
        count: Some(0),
        ..Default::default()
    };
    let theirs = pl::Legacy {
        count: Some(0),
        with_default: 9,
        required_level: 1,
        ..Default::default()
    };
    assert_eq!(msg.encode_to_vec(), theirs.encode_to_vec());
    // proto2 repeated scalars are unpacked unless `[packed = true]`.
    let msg = rl::Legacy {
        unpacked: vec![1, 2],
        packed: vec![1, 2],
        ..Default::default()
    };
    let bytes = msg.encode_to_vec();
    assert!(
        bytes.windows(4).any(|w| w == [0x50, 1, 0x50, 2]),
        "{bytes:02x?}"
    );
    assert!(
        bytes.windows(4).any(|w| w == [0x5a, 2, 1, 2]),
        "{bytes:02x?}"
    );
}

#[test]
fn well_known_types_are_rookerys_own() {
    let msg = rw::WellKnown {
        at: Some(wkt::Timestamp {
            seconds: 1_700_000_000,
            nanos: 5,
        }),
        i32: Some(wkt::Int32Value { value: 0 }),
        nothing: Some(wkt::Empty {}),
        null: wkt::NullValue::NULL_VALUE,
        ..Default::default()
    };
    let theirs = pw::WellKnown {
        at: Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 5,
        }),
        i32: Some(0),
        nothing: Some(()),
        ..Default::default()
    };
    assert_eq!(msg.encode_to_vec(), theirs.encode_to_vec());
}
