//! What the fuzz targets run: arbitrary bytes through every reader the codec offers, with the
//! invariants that must hold whatever the input.
//!
//! The message types are the integration tests' hand-written ones (`AllTypes` has a field of
//! every Thrift type), shared through `#[path]` so that the fuzzer decodes exactly what the
//! tests check.

use bytes::Bytes;
use rookery_codec::thrift::{
    ApplicationException, BinaryReader, CompactReader, DecodeError, DecodeLimits, Protocol,
    ProtocolRead, TType, ThriftDecode,
};

#[allow(dead_code)]
#[path = "../../crates/rookery-codec/tests/common/types.rs"]
mod types;

use types::{AllTypes, Choice, Inner, Lists, Nest};

/// Decodes `M` from a slice: the reader that copies, not the zero-copy one.
fn decode_slice<M: ThriftDecode>(protocol: Protocol, data: &[u8]) -> Result<M, DecodeError> {
    match protocol {
        Protocol::Binary => M::decode(&mut BinaryReader::new(data)),
        Protocol::Compact => M::decode(&mut CompactReader::new(data)),
    }
}

/// Skips one struct; how many bytes it took.
fn skip_struct(protocol: Protocol, data: &[u8]) -> Result<usize, DecodeError> {
    fn run<R: ProtocolRead>(mut r: R, total: usize) -> Result<usize, DecodeError> {
        r.skip(TType::Struct)?;
        Ok(total - r.remaining())
    }
    match protocol {
        Protocol::Binary => run(BinaryReader::new(data), data.len()),
        Protocol::Compact => run(CompactReader::new(data), data.len()),
    }
}

/// Runs `data` through every Thrift reader of `protocol`. Panics only if an invariant breaks
/// (or, which is the point, if the codec panics).
pub fn thrift(protocol: Protocol, data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);

    // A struct with every type: the zero-copy and the copying reader agree, and what decodes
    // encodes to bytes that decode to the same encoding again.
    let all = protocol.decode::<AllTypes>(bytes.clone());
    let all_slice = decode_slice::<AllTypes>(protocol, data);
    match (&all, &all_slice) {
        (Ok(a), Ok(b)) => assert_eq!(protocol.encode_to_bytes(a), protocol.encode_to_bytes(b)),
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("the Bytes and slice readers disagree: {all:?} / {all_slice:?}"),
    }
    if let Ok(value) = &all {
        let again = protocol.encode_to_bytes(value);
        assert_eq!(again.len(), protocol.encoded_len(value));
        let twice: AllTypes = protocol
            .decode(again.clone())
            .expect("a re-encoding decodes");
        assert_eq!(protocol.encode_to_bytes(&twice), again);
        assert_eq!(skip_struct(protocol, &again), Ok(again.len()));
    }

    // Other shapes: a union, deep recursion, the exception struct.
    let _ = protocol.decode::<Inner>(bytes.clone());
    let _ = protocol.decode::<Choice>(bytes.clone());
    let _ = protocol.decode::<Nest>(bytes.clone());
    let _ = protocol.decode::<Lists>(bytes.clone());
    let _ = protocol.decode::<ApplicationException>(bytes.clone());

    // Skipping an unknown struct, over a slice and over Bytes.
    let skipped = skip_struct(protocol, data);
    let skipped_bytes = match protocol {
        Protocol::Binary => {
            let mut r = BinaryReader::new(bytes.clone());
            r.skip(TType::Struct).map(|()| data.len() - r.remaining())
        }
        Protocol::Compact => {
            let mut r = CompactReader::new(bytes.clone());
            r.skip(TType::Struct).map(|()| data.len() - r.remaining())
        }
    };
    assert_eq!(skipped, skipped_bytes);
    if let Ok(len) = skipped {
        assert!(len <= data.len());
    }

    // Message envelopes: the readers directly, the header helper, and measuring.
    let _ = BinaryReader::new(data).read_message_begin();
    let _ = CompactReader::new(data).read_message_begin();
    let mut rest = bytes.clone();
    let header = protocol.read_message_header(&mut rest);
    if header.is_err() {
        assert_eq!(rest, bytes, "a failed header read leaves the buffer alone");
    }
    let measured = protocol.measure_message(data, DecodeLimits::default());
    if let Ok(Some(len)) = measured {
        assert!(len <= data.len());
        assert!(header.is_ok(), "a measured message has a header");
        let header_len = data.len() - rest.len();
        assert_eq!(skip_struct(protocol, &rest), Ok(len - header_len));
        let _ = protocol.decode::<AllTypes>(rest);
    }
}

/// Runs `data` through gRPC's message decoder: the first byte picks the compression and the
/// limit, the second where the rest splits into two DATA frames. Every message decoded is
/// within the limit (checked by the decoder's fuzzing entry point), and the same bytes in one
/// frame decode the same.
pub fn grpc_frames(data: &[u8]) {
    let [mode, split, rest @ ..] = data else {
        return;
    };
    let compression: &[u8] = match mode % 3 {
        0 => b"identity",
        1 => b"gzip",
        _ => b"zstd",
    };
    // Small limits too, so that the refusals are reached.
    let max = [0, 1, 16, 1024, 64 * 1024, 4 << 20][usize::from(mode / 3) % 6];
    let all = Bytes::copy_from_slice(rest);
    let at = usize::from(*split).min(all.len());
    let split = rookery_grpc::fuzzing::decode_frames(
        vec![all.slice(..at), all.slice(at..)],
        max,
        compression,
    );
    let whole = rookery_grpc::fuzzing::decode_frames(vec![all], max, compression);
    assert_eq!(split.len(), whole.len());
    for (a, b) in split.iter().zip(&whole) {
        match (a, b) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b)) => assert_eq!(a.code(), b.code()),
            _ => panic!("one split decodes, the other does not"),
        }
    }
}

/// Runs `data` through gRPC's header parsing: as a `grpc-timeout` value (which, when it
/// parses, formats back to one that parses), percent-decoded, and as header lines
/// `name:value` read as metadata and a status.
pub fn grpc_metadata(data: &[u8]) {
    if let Some(timeout) = rookery_grpc::parse_timeout(data) {
        let formatted = rookery_grpc::format_timeout(timeout);
        assert!(rookery_grpc::parse_timeout(formatted.as_bytes()).is_some());
    }
    let _ = rookery_grpc::percent_decode(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let encoded = rookery_grpc::percent_encode(text);
        assert_eq!(rookery_grpc::percent_decode(encoded.as_bytes()), text);
    }
    let pairs: Vec<(&[u8], &[u8])> = data
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let at = line.iter().position(|&b| b == b':')?;
            Some((&line[..at], &line[at + 1..]))
        })
        .collect();
    let _ = rookery_grpc::fuzzing::read_headers(&pairs);
}
