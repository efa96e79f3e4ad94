//! Property tests: arbitrary values round-trip with exact sizes; arbitrary or mangled bytes
//! never make a decoder panic; every strict prefix of a valid encoding is refused.

mod common;

use bytes::{Bytes, BytesMut};
use common::*;
use proptest::prelude::*;
use rookery_codec::thrift::{
    ApplicationException, BinaryReader, CompactReader, DecodeLimits, MessageType, Protocol,
    ProtocolRead, TType, ThriftDecode, ThriftEncode,
};

/// Compact cannot say what types an empty map had; binary can.
fn normalize(protocol: Protocol, v: Val) -> Val {
    let n = |v| normalize(protocol, v);
    match v {
        Val::Struct(f) => Val::Struct(f.into_iter().map(|(id, v)| (id, n(v))).collect()),
        Val::List(t, items) => Val::List(t, items.into_iter().map(n).collect()),
        Val::Set(t, items) => Val::Set(t, items.into_iter().map(n).collect()),
        Val::Map(_, _, e) if e.is_empty() && protocol == Protocol::Compact => {
            Val::Map(TType::Stop, TType::Stop, e)
        }
        Val::Map(k, v, e) => Val::Map(k, v, e.into_iter().map(|(a, b)| (n(a), n(b))).collect()),
        other => other,
    }
}

/// A message: envelope and body.
fn message<M: ThriftEncode>(protocol: Protocol, body: &M, name: &str, seq_id: i32) -> Bytes {
    let mut buf = BytesMut::new();
    protocol.write_message_header(&mut buf, name, MessageType::Reply, seq_id);
    protocol.encode(body, &mut buf);
    buf.freeze()
}

/// The bytes of an envelope, as this crate writes it.
fn header_bytes(protocol: Protocol, h: &rookery_codec::thrift::MessageHeader) -> Vec<u8> {
    let mut buf = BytesMut::new();
    protocol.write_message_header(&mut buf, &h.name, h.kind, h.seq_id);
    buf.to_vec()
}

/// Feeds `input` to everything that reads untrusted bytes. Nothing may panic; the results are
/// checked for consistency where they must agree.
fn read_everything(input: &[u8]) {
    let bytes = Bytes::copy_from_slice(input);
    for protocol in PROTOCOLS {
        let all = protocol.decode::<AllTypes>(bytes.clone());
        let all_slice = decode_slice::<AllTypes>(protocol, input);
        // The zero-copy and the copying reader see the same thing.
        assert_eq!(all.is_ok(), all_slice.is_ok());
        if let (Err(a), Err(b)) = (&all, &all_slice) {
            assert_eq!(a, b);
        }
        let _ = protocol.decode::<Inner>(bytes.clone());
        let _ = protocol.decode::<Choice>(bytes.clone());
        let _ = protocol.decode::<Nest>(bytes.clone());
        let _ = protocol.decode::<Lists>(bytes.clone());
        let _ = protocol.decode::<ApplicationException>(bytes.clone());
        let val = protocol.decode::<Val>(bytes.clone());
        let skipped = skip_struct(protocol, input);
        // A struct that decodes can be skipped, and vice versa: both walk the same bytes.
        assert_eq!(val.is_ok(), skipped.is_ok(), "{:?} {:?}", val, skipped);

        let measured = protocol.measure_message(input, DecodeLimits::default());
        let mut buf = bytes.clone();
        let header = protocol.read_message_header(&mut buf);
        match &measured {
            Ok(Some(len)) => {
                assert!(*len <= input.len());
                let header = header.expect("a measured message has a header");
                // The body is what follows the header, and it skips as a struct.
                let header_len = input.len() - buf.len();
                assert!(header_len < *len);
                assert_eq!(skip_struct(protocol, &buf).unwrap(), len - header_len);
                assert!(input.starts_with(&header_bytes(protocol, &header)));
            }
            Ok(None) => {}
            Err(_) => {}
        }
        // The readers' entry points directly, from a slice.
        let _ = BinaryReader::new(input).read_message_begin();
        let _ = CompactReader::new(input).read_message_begin();
    }
}

/// Bytes drawn mostly from values that mean something in a Thrift encoding, so that random
/// input gets past the first byte more often.
fn thrift_ish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => prop::sample::select(vec![
            0x00u8, 0x01, 0x02, 0x03, 0x04, 0x06, 0x08, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
            0x10, 0x11, 0x15, 0x19, 0x1b, 0x1c, 0x21, 0x7f, 0x80, 0x82, 0xf5, 0xff,
        ]),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..200)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn all_types_round_trip_with_exact_sizes(value in all_types()) {
        for protocol in PROTOCOLS {
            let bytes = encode(protocol, &value);
            let back: AllTypes = protocol.decode(bytes.clone()).unwrap();
            prop_assert_eq!(&back, &value);
            let back: AllTypes = decode_slice(protocol, &bytes).unwrap();
            prop_assert_eq!(&back, &value);
            prop_assert_eq!(skip_struct(protocol, &bytes).unwrap(), bytes.len());
            // Encoding what was decoded gives the same bytes.
            prop_assert_eq!(protocol.encode_to_bytes(&back), bytes);
        }
    }

    #[test]
    fn v1_decoders_skip_v2_fields(v2 in inner_v2()) {
        for protocol in PROTOCOLS {
            let bytes = encode(protocol, &v2);
            let v1: Inner = protocol.decode(bytes.clone()).unwrap();
            prop_assert_eq!(v1, v2.to_v1());
            prop_assert_eq!(skip_struct(protocol, &bytes).unwrap(), bytes.len());
        }
    }

    #[test]
    fn any_struct_round_trips_and_skips_exactly(value in val_struct()) {
        for protocol in PROTOCOLS {
            let bytes = encode(protocol, &value);
            prop_assert_eq!(skip_struct(protocol, &bytes).unwrap(), bytes.len());
            let back: Val = protocol.decode(bytes.clone()).unwrap();
            prop_assert_eq!(back, normalize(protocol, value.clone()));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..300)) {
        read_everything(&input);
    }

    #[test]
    fn thrift_like_bytes_never_panic(input in thrift_ish_bytes()) {
        read_everything(&input);
    }

    #[test]
    fn arbitrary_bodies_after_a_valid_header_never_panic(
        input in thrift_ish_bytes(),
        compact in any::<bool>(),
    ) {
        let protocol = if compact { Protocol::Compact } else { Protocol::Binary };
        let mut buf = BytesMut::new();
        protocol.write_message_header(&mut buf, "m", MessageType::Call, 9);
        buf.extend_from_slice(&input);
        read_everything(&buf);
    }

    #[test]
    fn mangled_encodings_never_panic_and_what_decodes_re_encodes_stably(
        value in all_types(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..4),
    ) {
        for protocol in PROTOCOLS {
            let mut bytes = encode(protocol, &value).to_vec();
            for (at, byte, how) in &edits {
                if bytes.is_empty() {
                    break;
                }
                let i = at.index(bytes.len());
                match how {
                    0 => bytes[i] = *byte,
                    1 => bytes[i] ^= 1 << (byte % 8),
                    2 => { bytes.remove(i); }
                    _ => bytes.insert(i, *byte),
                }
            }
            read_everything(&bytes);
            if let Ok(decoded) = protocol.decode::<AllTypes>(Bytes::from(bytes)) {
                // Compare encodings, not values: a mangled double may be NaN.
                let again = encode(protocol, &decoded);
                let twice: AllTypes = protocol.decode(again.clone()).unwrap();
                prop_assert_eq!(encode(protocol, &twice), again);
            }
        }
    }
}

proptest! {
    // Each case decodes every prefix of an encoding: fewer cases.
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_strict_prefix_of_a_value_fails_to_decode(value in all_types()) {
        for protocol in PROTOCOLS {
            let bytes = encode(protocol, &value);
            for len in 0..bytes.len() {
                let prefix = bytes.slice(..len);
                let err = protocol.decode::<AllTypes>(prefix.clone()).unwrap_err();
                prop_assert!(err.is_truncated(), "{:?} prefix {}: {}", protocol, len, err);
                prop_assert!(skip_struct(protocol, &prefix).unwrap_err().is_truncated());
                prop_assert!(protocol.decode::<Val>(prefix).unwrap_err().is_truncated());
            }
        }
    }

    #[test]
    fn every_strict_prefix_of_a_message_measures_as_incomplete(
        value in all_types(),
        name in "[a-zA-Z:]{0,20}",
        seq_id in any::<i32>(),
    ) {
        for protocol in PROTOCOLS {
            let bytes = message(protocol, &value, &name, seq_id);
            let limits = DecodeLimits::default();
            prop_assert_eq!(protocol.measure_message(&bytes, limits), Ok(Some(bytes.len())));
            // With more bytes after it, the message is still measured alone.
            let mut longer = bytes.to_vec();
            longer.extend_from_slice(&bytes);
            prop_assert_eq!(protocol.measure_message(&longer, limits), Ok(Some(bytes.len())));
            for len in 0..bytes.len() {
                prop_assert_eq!(
                    protocol.measure_message(&bytes[..len], limits),
                    Ok(None),
                    "{:?} prefix {}", protocol, len
                );
                let mut prefix = bytes.slice(..len);
                let decoded = protocol
                    .read_message_header(&mut prefix)
                    .and_then(|_| protocol.decode::<AllTypes>(prefix));
                prop_assert!(decoded.unwrap_err().is_truncated());
            }
        }
    }

    #[test]
    fn every_strict_prefix_of_any_struct_fails(value in val_struct()) {
        for protocol in PROTOCOLS {
            let bytes = encode(protocol, &value);
            for len in 0..bytes.len() {
                let err = protocol.decode::<Val>(bytes.slice(..len)).unwrap_err();
                prop_assert!(err.is_truncated(), "{:?} prefix {}: {}", protocol, len, err);
            }
        }
    }
}

/// The readers are generic over `ProtocolRead`; a decode through a `&mut` reader works the
/// same as through `Protocol::decode`.
#[test]
fn decoding_through_the_reader_types_matches_protocol_decode() {
    let value = sample_all_types();
    let bytes = encode(Protocol::Compact, &value);
    let mut r = CompactReader::new(bytes.clone());
    assert_eq!(AllTypes::decode(&mut r).unwrap(), value);
    assert_eq!(r.remaining(), 0);
    let bytes = encode(Protocol::Binary, &value);
    let mut r = BinaryReader::new(bytes);
    assert_eq!(AllTypes::decode(&mut r).unwrap(), value);
    assert_eq!(r.remaining(), 0);
}
