//! Malformed input: every case returns the right error, without panicking, without allocating
//! what the wire claims, and without exhausting the stack.

mod common;

use bytes::Bytes;
use common::*;
use rookery_codec::thrift::{
    BinaryReader, CompactReader, DecodeError, DecodeErrorKind, DecodeLimits, Protocol,
    ProtocolRead, TType,
};

/// Every way the crate offers to read `input` as a struct body, so that each case is checked
/// against all of them: `AllTypes`, the dynamic `Val`, `skip`, from `Bytes` and from a slice.
/// All must fail with `kind`.
#[track_caller]
fn assert_body_error(protocol: Protocol, input: &[u8], kind: DecodeErrorKind) {
    let bytes = Bytes::copy_from_slice(input);
    type Run<'a> = Box<dyn Fn() -> Result<(), DecodeError> + 'a>;
    let runs: [(&str, Run<'_>); 5] = [
        (
            "AllTypes",
            Box::new(|| protocol.decode::<AllTypes>(bytes.clone()).map(drop)),
        ),
        ("skip", Box::new(|| skip_struct(protocol, input).map(drop))),
        (
            "skip from Bytes",
            Box::new(|| match protocol {
                Protocol::Binary => BinaryReader::new(bytes.clone()).skip(TType::Struct),
                Protocol::Compact => CompactReader::new(bytes.clone()).skip(TType::Struct),
            }),
        ),
        (
            "Val",
            Box::new(|| protocol.decode::<Val>(bytes.clone()).map(drop)),
        ),
        (
            "Val from slice",
            Box::new(|| decode_slice::<Val>(protocol, input).map(drop)),
        ),
    ];
    for (how, run) in runs {
        let result = run();
        match result {
            Err(e) => assert_eq!(
                e.kind(),
                kind,
                "{protocol:?} {how} of {}: {e}",
                to_hex(input)
            ),
            Ok(()) => panic!("{protocol:?} {how} accepted {}", to_hex(input)),
        }
    }
}

/// `input` as a message body after a valid envelope must make `measure_message` fail with
/// `kind` (or, for truncation, say that it needs more bytes).
#[track_caller]
fn assert_message_error(protocol: Protocol, body: &[u8], kind: DecodeErrorKind) {
    let mut message = bytes::BytesMut::new();
    protocol.write_message_header(
        &mut message,
        "m",
        rookery_codec::thrift::MessageType::Call,
        1,
    );
    message.extend_from_slice(body);
    let result = protocol.measure_message(&message, DecodeLimits::default());
    if kind == DecodeErrorKind::Truncated {
        assert_eq!(result, Ok(None), "{protocol:?} {}", to_hex(body));
    } else {
        match result {
            Err(e) => assert_eq!(e.kind(), kind, "{protocol:?} {}: {e}", to_hex(body)),
            Ok(r) => panic!("{protocol:?} measured {r:?} for {}", to_hex(body)),
        }
    }
}

#[track_caller]
fn assert_error(protocol: Protocol, input: &str, kind: DecodeErrorKind) {
    let input = hex(input);
    assert_body_error(protocol, &input, kind);
    assert_message_error(protocol, &input, kind);
}

use DecodeErrorKind::*;
use Protocol::{Binary as B, Compact as C};

#[test]
fn negative_sizes_in_binary() {
    // string / binary
    assert_error(B, "0b 0007 ffffffff", NegativeSize);
    assert_error(B, "0b 0007 80000000 00", NegativeSize);
    // list, set, map
    assert_error(B, "0f 000e 0f ffffffff 00", NegativeSize);
    assert_error(B, "0e 000d 08 fffffff0 00", NegativeSize);
    assert_error(B, "0d 000c 0b 0a ffffffff 00", NegativeSize);
    // inside a nested container
    assert_error(B, "0f 000e 0f 00000001 0b ffffffff", NegativeSize);
}

#[test]
fn sizes_over_i32_in_compact_are_negative_sizes() {
    // Compact sizes are varints of an i32; 0x80000000 does not fit.
    assert_error(C, "78 8080808008", NegativeSize);
    assert_error(C, "e9 f9 ffffffff0f 00", NegativeSize);
    assert_error(C, "cb ffffffff0f 86", NegativeSize);
}

#[test]
fn sizes_larger_than_the_input_fail_before_allocating() {
    // `AllTypes` decodes field 14 (`list<list<string>>`) with `Vec::with_capacity(len)`, as
    // generated code does. Had the reader passed on i32::MAX, that would ask for
    // 2^31 * 24 bytes = 48 GiB and abort the test; it errors on the size instead.
    assert_error(B, "0f 000e 0f 7fffffff 00", Truncated);
    assert_error(C, "e9 f9 ffffffff07 00", Truncated);
    // The same for strings, sets, maps and the inner list.
    assert_error(B, "0b 0007 7fffffff 6869", Truncated);
    assert_error(C, "78 ffffffff07 6869", Truncated);
    assert_error(B, "0e 000d 08 7fffffff 00", Truncated);
    assert_error(C, "da f5 ffffffff07 00", Truncated);
    assert_error(B, "0d 000c 0b 0a 7fffffff 00", Truncated);
    assert_error(C, "cb ffffffff07 86 00", Truncated);
    assert_error(B, "0f 000e 0f 00000001 0b 7fffffff 00", Truncated);
    assert_error(C, "e9 19 f8 ffffffff07 00", Truncated);
    // A size that fits the input but whose elements cannot: 5 i64 in 4 bytes.
    assert_error(B, "0f 0014 0a 00000005 00000000", Truncated);
    // A map claims at least 2 bytes per entry.
    assert_error(C, "cb 03 55 00 00 00", Truncated);
}

#[test]
fn a_huge_claimed_size_in_a_small_buffer_is_an_error_of_a_few_bytes() {
    // 10 bytes that claim i32::MAX elements, in each protocol.
    let input = hex("0f 0001 08 7fffffff 0000");
    assert_eq!(input.len(), 10);
    let mut r = BinaryReader::new(Bytes::from(input.clone()));
    r.read_struct_begin().unwrap();
    assert_eq!(r.read_field_begin().unwrap(), (TType::List, 1));
    let err = r.read_list_begin().unwrap_err();
    assert!(err.is_truncated(), "{err}");
    let mut r = BinaryReader::new(&input[..]);
    r.read_struct_begin().unwrap();
    r.read_field_begin().unwrap();
    assert!(r.read_list_begin().unwrap_err().is_truncated());

    let input = hex("19 f5 ffffffff07 00 00 00");
    assert_eq!(input.len(), 10);
    let mut r = CompactReader::new(Bytes::from(input));
    r.read_struct_begin().unwrap();
    assert_eq!(r.read_field_begin().unwrap(), (TType::List, 1));
    let err = r.read_list_begin().unwrap_err();
    assert!(err.is_truncated(), "{err}");
}

#[test]
fn wrong_message_versions_and_protocol_ids() {
    let bad = [
        // binary: version 2
        (B, "80 02 00 01 00000001 6d 00000001", BadVersion),
        // binary: no version, but the sign bit set
        (B, "ff ff 00 01 00000001 6d 00000001", BadVersion),
        // binary: a good version and an unknown message type
        (B, "80 01 00 05 00000001 6d 00000001", InvalidData),
        (B, "80 01 00 00 00000001 6d 00000001", InvalidData),
        // binary, old style: an unknown message type
        (B, "00000001 6d 09 00000001", InvalidData),
        // compact: another protocol id
        (C, "83 21 01 01 6d", BadVersion),
        (C, "80 01 00 01", BadVersion),
        // compact: version 2
        (C, "82 22 01 01 6d", BadVersion),
        // compact: message type 0, 5, 7
        (C, "82 01 01 01 6d", InvalidData),
        (C, "82 a1 01 01 6d", InvalidData),
        (C, "82 e1 01 01 6d", InvalidData),
    ];
    for (protocol, input, kind) in bad {
        let input = hex(input);
        let err = protocol
            .read_message_header(&mut Bytes::from(input.clone()))
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{protocol:?} {}: {err}", to_hex(&input));
        let err = protocol
            .measure_message(&input, DecodeLimits::default())
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{protocol:?} {}: {err}", to_hex(&input));
    }
}

#[test]
fn a_failed_header_read_leaves_the_buffer_as_it_was() {
    for (protocol, input) in [
        (B, hex("80 02 00 01 00000001 6d 00000001")),
        (B, hex("80 01 00 01 00000004 6d")),
        (C, hex("82 21 01 05 6d")),
    ] {
        let mut buf = Bytes::from(input.clone());
        assert!(protocol.read_message_header(&mut buf).is_err());
        assert_eq!(&buf[..], &input[..], "{protocol:?}");
    }
}

#[test]
fn unknown_type_ids() {
    for ty in [1u8, 5, 7, 9, 17, 0x7f, 0x80, 0xff] {
        // as a field type
        assert_error(B, &format!("{ty:02x} 0001 00"), InvalidData);
        // as a list element, a map key and a map value
        assert_error(B, &format!("0f 0001 {ty:02x} 00000001 00"), InvalidData);
        assert_error(B, &format!("0d 0001 {ty:02x} 08 00000001 00"), InvalidData);
        assert_error(B, &format!("0d 0001 08 {ty:02x} 00000001 00"), InvalidData);
    }
    // Stop cannot be an element type.
    assert_error(B, "0f 0001 00 00000001 00", InvalidData);
    assert_error(B, "0f 0001 00 00000000 00", InvalidData);
    assert_error(B, "0d 0001 00 08 00000001 00 00 00 00 00 00", InvalidData);
    for ct in [0u8, 14, 15] {
        if ct != 0 {
            // as a field type (a 0 here would be the stop field)
            assert_error(C, &format!("{:02x} 00", 0x10 | ct), InvalidData);
            assert_error(C, &format!("{ct:02x} 02 00"), InvalidData);
        }
        // as a list element, a map key and a map value
        assert_error(C, &format!("19 {:02x} 00 00", 0x10 | ct), InvalidData);
        assert_error(
            C,
            &format!("1b 01 {:02x} 00 00 00", (ct << 4) | 5),
            InvalidData,
        );
        assert_error(C, &format!("1b 01 {:02x} 00 00 00", 0x50 | ct), InvalidData);
    }
}

#[test]
fn varints_longer_than_allowed() {
    // i64: at most 10 bytes.
    assert_error(C, "56 ffffffffffffffffffff01 00", InvalidData);
    assert_error(C, &format!("56 {} 00", "80 ".repeat(50)), InvalidData);
    // A 10th byte that carries more than the 64th bit overflows.
    assert_error(C, "56 ffffffffffffffffff7f 00", InvalidData);
    assert_error(C, "56 80808080808080808002 00", InvalidData);
    // i32, i16, sizes and field ids: at most 5 bytes, and at most 32 bits.
    assert_error(C, "45 ffffffffff01 00", InvalidData);
    assert_error(C, "45 ffffffff1f 00", InvalidData);
    assert_error(C, "34 ffffffffff01 00", InvalidData);
    assert_error(C, "78 ffffffffff01 00", InvalidData);
    assert_error(C, "05 ffffffffff01 00 00", InvalidData);
    // A 10-byte i64 that fits is fine.
    let ok = hex("16 ffffffffffffffffff01 00");
    assert_eq!(
        C.decode::<Val>(Bytes::from(ok)).unwrap(),
        Val::fields([(1, Val::I64(i64::MIN))])
    );
    // Message sequence ids too.
    let err = C
        .read_message_header(&mut Bytes::from(hex("82 21 ffffffffff01 01 6d")))
        .unwrap_err();
    assert_eq!(err.kind(), InvalidData, "{err}");
}

#[test]
fn i16_overflow_in_compact() {
    // An i16 value of 40000 (zigzag 80000).
    assert_error(C, "34 80f104 00", InvalidData);
    // A long-form field id of 40000.
    assert_error(C, "03 80f104 00 00", InvalidData);
    // A short-form delta past i16::MAX.
    assert_error(C, "03 feff03 00 13 00 00", InvalidData);
    // The extremes themselves are fine.
    for (input, value) in [("34 feff03", i16::MAX), ("34 ffff03", i16::MIN)] {
        let decoded: AllTypes = C
            .decode(Bytes::from(hex(&format!("{input} 8c 16 00 00 00"))))
            .unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(decoded.an_i16, value);
    }
}

#[test]
fn invalid_utf8_in_strings() {
    let bad = ["ff", "c3", "c328", "eda080", "f8a1a1a1a1", "6869ff"];
    for s in bad {
        let len = s.len() / 2;
        // AllTypes.a_string (field 7)
        let b = hex(&format!("0b 0007 {len:08x} {s} 00"));
        let err = B.decode::<AllTypes>(Bytes::from(b)).unwrap_err();
        assert_eq!(err.kind(), InvalidUtf8, "{s}: {err}");
        let c = hex(&format!("78 {len:02x} {s} 00"));
        let err = C.decode::<AllTypes>(Bytes::from(c)).unwrap_err();
        assert_eq!(err.kind(), InvalidUtf8, "{s}: {err}");
        // ... and in a string nested in a list of lists.
        let c = hex(&format!("e9 19 18 {len:02x} {s} 00"));
        let err = C.decode::<AllTypes>(Bytes::from(c)).unwrap_err();
        assert_eq!(err.kind(), InvalidUtf8, "{s}: {err}");
        // A binary field takes any bytes.
        let b = hex(&format!(
            "0b 0008 {len:08x} {s} 0c 000b 0a 0001 0000000000000000 00 00"
        ));
        assert!(B.decode::<AllTypes>(Bytes::from(b)).is_ok());

        // Method names: strict binary, old binary, compact.
        for (protocol, header) in [
            (B, format!("80010001 {len:08x} {s} 00000001")),
            (B, format!("{len:08x} {s} 01 00000001")),
            (C, format!("82 21 01 {len:02x} {s}")),
        ] {
            let err = protocol
                .read_message_header(&mut Bytes::from(hex(&header)))
                .unwrap_err();
            assert_eq!(err.kind(), InvalidUtf8, "{header}: {err}");
        }
    }
}

#[test]
fn truncated_input_says_so() {
    for (protocol, input) in [
        (B, ""),
        (B, "08"),
        (B, "08 00"),
        (B, "08 0001 0000"),
        (B, "08 0001 00000001"),
        (B, "04 0001 3ff00000"),
        (B, "10 0001 3031"),
        (C, ""),
        (C, "15"),
        (C, "15 80"),
        (C, "15 02"),
        (C, "17 0000"),
        (C, "1d 3031"),
        (C, "1b 01"),
        (C, "1c 15 02 00"),
    ] {
        assert_error(protocol, input, Truncated);
    }
}

// ---- nesting ----

const DEEP: usize = 100_000;

/// `levels` nested structs (field 1 of each holds the next), binary or compact.
fn deep_structs(protocol: Protocol, levels: usize) -> Vec<u8> {
    let (open, close): (&[u8], &[u8]) = match protocol {
        Protocol::Binary => (&[0x0c, 0x00, 0x01], &[0x00]),
        Protocol::Compact => (&[0x1c], &[0x00]),
    };
    let mut out = Vec::new();
    for _ in 1..levels {
        out.extend_from_slice(open);
    }
    for _ in 0..levels {
        out.extend_from_slice(close);
    }
    out
}

/// A struct whose field 1 is `levels` nested lists, each holding the next.
fn deep_lists(protocol: Protocol, levels: usize) -> Vec<u8> {
    let mut out = Vec::new();
    match protocol {
        Protocol::Binary => {
            out.extend_from_slice(&[0x0f, 0x00, 0x01]);
            for _ in 1..levels {
                out.extend_from_slice(&[0x0f, 0, 0, 0, 1]);
            }
            out.extend_from_slice(&[0x0f, 0, 0, 0, 0]);
        }
        Protocol::Compact => {
            // The field header, then a list of one list for every level but the last.
            out.extend(std::iter::repeat_n(0x19, levels));
            out.push(0x09);
        }
    }
    out.push(0);
    out
}

/// A struct whose field 1 is `levels` nested maps (`map<i8, map<i8, ...>>`).
fn deep_maps(protocol: Protocol, levels: usize) -> Vec<u8> {
    let mut out = Vec::new();
    match protocol {
        Protocol::Binary => {
            out.extend_from_slice(&[0x0d, 0x00, 0x01]);
            for _ in 1..levels {
                out.extend_from_slice(&[0x03, 0x0d, 0, 0, 0, 1, 0x00]);
            }
            out.extend_from_slice(&[0x03, 0x03, 0, 0, 0, 0]);
        }
        Protocol::Compact => {
            out.push(0x1b);
            for _ in 1..levels {
                out.extend_from_slice(&[0x01, 0x3b, 0x00]);
            }
            out.push(0x00);
        }
    }
    out.push(0);
    out
}

/// Runs `f` on a thread with a small stack, so that unbounded recursion would crash the test.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .name("small-stack".into())
        .stack_size(256 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .expect("the decoder panicked or overflowed on the small stack");
}

#[test]
fn nesting_100_000_levels_deep_hits_the_depth_limit_on_a_small_stack() {
    on_small_stack(|| {
        for protocol in PROTOCOLS {
            let structs = deep_structs(protocol, DEEP);
            let lists = deep_lists(protocol, DEEP);
            let maps = deep_maps(protocol, DEEP);
            for input in [&structs, &lists, &maps] {
                assert_body_error(protocol, input, DepthLimit);
                assert_message_error(protocol, input, DepthLimit);
            }
            let err = protocol
                .decode::<Nest>(Bytes::from(structs.clone()))
                .unwrap_err();
            assert_eq!(err.kind(), DepthLimit, "{protocol:?}: {err}");
            let err = protocol
                .decode::<Lists>(Bytes::from(lists.clone()))
                .unwrap_err();
            assert_eq!(err.kind(), DepthLimit, "{protocol:?}: {err}");
        }
    });
}

#[test]
fn the_depth_limit_is_exact() {
    for protocol in PROTOCOLS {
        for max_depth in [1u16, 2, 10, 64] {
            let limits = DecodeLimits { max_depth };
            let depth = usize::from(max_depth);

            let ok = Bytes::from(deep_structs(protocol, depth));
            let nest: Nest = protocol.decode_with(ok, limits).unwrap();
            assert_eq!(nest.depth(), depth);
            let too_deep = Bytes::from(deep_structs(protocol, depth + 1));
            let err = protocol.decode_with::<Nest>(too_deep, limits).unwrap_err();
            assert_eq!(err.kind(), DepthLimit);

            // The struct holding the lists is one level; the lists are the rest.
            let ok = Bytes::from(deep_lists(protocol, depth - 1));
            if depth > 1 {
                protocol.decode_with::<Lists>(ok, limits).unwrap();
            }
            let too_deep = Bytes::from(deep_lists(protocol, depth));
            let err = protocol.decode_with::<Lists>(too_deep, limits).unwrap_err();
            assert_eq!(err.kind(), DepthLimit);
        }
    }
}

#[test]
fn depth_is_released_after_each_value() {
    // Many siblings, each 60 levels deep, in one struct: depth counts nesting, not totals.
    for protocol in PROTOCOLS {
        let one = deep_structs(protocol, 60);
        let mut input = Vec::new();
        for _ in 0..50 {
            match protocol {
                Protocol::Binary => input.extend_from_slice(&[0x0c, 0x00, 0x02]),
                Protocol::Compact => input.extend_from_slice(&[0x0c, 0x04]),
            }
            input.extend_from_slice(&one);
        }
        input.push(0);
        assert_eq!(skip_struct(protocol, &input).unwrap(), input.len());
        protocol.decode::<Val>(Bytes::from(input)).unwrap();
    }
}
