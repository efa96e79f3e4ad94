//! The body of a `#[rookery::service]` call or reply: a Thrift struct with one binary field,
//! `struct Body { 1: binary value }`, whose bytes are the codec's tag and the serde value.
//!
//! Wrapping the serde bytes in a real Thrift struct costs 2 to 8 bytes and no copy, and makes
//! every body a valid Thrift message: buffered Thrift, which has no frame length and finds
//! where a message ends by walking its struct, carries it like any other, and so does any
//! Thrift proxy or tool.

use bytes::Bytes;
use rookery_codec::{
    DecodeError,
    thrift::{DecodeLimits, Protocol, ProtocolRead, TType, ThriftDecode},
};
use serde::Serialize;

use super::Codec;

/// Room kept before the value for the field header and the length: 7 bytes in binary
/// (type, id, i32 length), at most 6 in compact (one byte, a varint of up to 5).
const PREFIX: usize = 7;

/// Encodes `value` in `codec` as a body in `protocol`, writing the serde bytes in place (the
/// Thrift header goes into room kept in front of them).
pub(crate) fn encode<T: Serialize + ?Sized>(
    protocol: Protocol,
    codec: Codec,
    value: &T,
) -> Result<Bytes, String> {
    let mut buf = Vec::with_capacity(128);
    buf.resize(PREFIX, 0);
    let mut buf = codec.encode_into(value, buf)?;
    let len = buf.len() - PREFIX;
    let Ok(len32) = u32::try_from(len) else {
        return Err(format!(
            "the value takes {len} bytes, more than Thrift can carry"
        ));
    };
    buf.push(0); // the struct's stop field
    let start = match protocol {
        Protocol::Binary => {
            buf[0] = TType::Binary as u8;
            buf[1..3].copy_from_slice(&1i16.to_be_bytes());
            buf[3..7].copy_from_slice(&len32.to_be_bytes());
            0
        }
        Protocol::Compact => {
            let mut varint = [0u8; 5];
            let mut n = len32;
            let mut used = 0;
            loop {
                if n < 0x80 {
                    varint[used] = n as u8;
                    used += 1;
                    break;
                }
                varint[used] = (n as u8 & 0x7f) | 0x80;
                n >>= 7;
                used += 1;
            }
            let start = PREFIX - used - 1;
            // Field 1 (delta 1) of compact type 8, binary.
            buf[start] = 0x18;
            buf[start + 1..PREFIX].copy_from_slice(&varint[..used]);
            start
        }
    };
    Ok(Bytes::from(buf).slice(start..))
}

/// The bytes of field 1 of a body: the codec's tag and the value. They share `body`'s memory.
pub(crate) fn decode(
    protocol: Protocol,
    body: Bytes,
    limits: DecodeLimits,
) -> Result<Bytes, String> {
    if body.is_empty() {
        return Err("body is empty".into());
    }
    match protocol.decode_with::<Body>(body, limits) {
        Ok(Body(Some(value))) => Ok(value),
        Ok(Body(None)) => Err("body has no field 1 of type binary".into()),
        Err(e) => Err(format!("body is not a Thrift struct: {e}")),
    }
}

/// `struct Body { 1: binary value }`, decoded.
struct Body(Option<Bytes>);

impl ThriftDecode for Body {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut value = None;
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::Binary, 1) => value = Some(r.read_binary()?),
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        Ok(Body(value))
    }
}

#[cfg(test)]
mod tests {
    use rookery_codec::thrift::{ProtocolWrite, ThriftEncode};

    use super::*;

    /// The same struct, written by rookery's Thrift writers.
    struct Reference<'a>(&'a [u8]);

    impl ThriftEncode for Reference<'_> {
        fn encode<W: ProtocolWrite>(&self, w: &mut W) {
            w.write_struct_begin();
            w.write_field_begin(TType::Binary, 1);
            w.write_binary(self.0);
            w.write_field_stop();
            w.write_struct_end();
        }
    }

    #[test]
    fn bodies_are_the_bytes_thrift_writes_for_the_struct() {
        for protocol in [Protocol::Binary, Protocol::Compact] {
            for len in [0usize, 1, 126, 127, 128, 300, 20_000, 3_000_000] {
                let value = "x".repeat(len);
                let body = encode(protocol, Codec::Json, &value).unwrap();
                let mut inner = vec![b'J', b'"'];
                inner.extend(value.as_bytes());
                inner.push(b'"');
                let expected = protocol.encode_to_bytes(&Reference(&inner));
                assert_eq!(body, expected, "{protocol:?} {len}");
                let back = decode(protocol, body, DecodeLimits::default()).unwrap();
                assert_eq!(back, inner);
            }
        }
    }

    #[test]
    fn what_is_not_a_body_says_so() {
        let limits = DecodeLimits::default();
        assert_eq!(
            decode(Protocol::Binary, Bytes::new(), limits).unwrap_err(),
            "body is empty"
        );
        let no_field = Bytes::from_static(&[0]);
        assert!(
            decode(Protocol::Binary, no_field, limits)
                .unwrap_err()
                .contains("no field 1")
        );
        let garbage = Bytes::from_static(b"\x0b\x00\x01\xff\xff\xff\xff");
        assert!(
            decode(Protocol::Binary, garbage, limits)
                .unwrap_err()
                .starts_with("body is not a Thrift struct")
        );
    }
}
