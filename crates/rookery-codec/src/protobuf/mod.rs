//! Protobuf through prost.

use bytes::{Bytes, BytesMut};

use crate::{Codec, DecodeError, DecodeErrorKind, EncodeError};

/// The Protobuf codec: sizes come from prost's `encoded_len` before encoding, and prost's
/// decoder bounds lengths by the bytes present and recursion to 100 levels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Protobuf;

impl<M: prost::Message + Default> Codec<M> for Protobuf {
    fn encode(&self, msg: &M, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.reserve(msg.encoded_len());
        msg.encode(buf).map_err(|e| EncodeError::new(e.to_string()))
    }

    fn decode(&self, buf: Bytes) -> Result<M, DecodeError> {
        M::decode(buf).map_err(|e| {
            let text = e.to_string();
            let kind = if text.contains("recursion limit") {
                DecodeErrorKind::DepthLimit
            } else if text.contains("buffer underflow") {
                DecodeErrorKind::Truncated
            } else {
                DecodeErrorKind::InvalidData
            };
            DecodeError::new(kind, text)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, PartialEq, prost::Message)]
    struct Hello {
        #[prost(string, tag = "1")]
        name: String,
        #[prost(uint32, tag = "2")]
        times: u32,
        #[prost(bytes = "bytes", tag = "3")]
        blob: Bytes,
    }

    #[test]
    fn round_trip_matches_prost_and_rejects_truncation() {
        let msg = Hello {
            name: "rook".into(),
            times: 7,
            blob: Bytes::from_static(b"\x00\x01"),
        };
        let mut buf = BytesMut::new();
        Protobuf.encode(&msg, &mut buf).unwrap();
        assert_eq!(&buf[..], &prost::Message::encode_to_vec(&msg)[..]);
        let bytes = buf.freeze();
        let back: Hello = Protobuf.decode(bytes.clone()).unwrap();
        assert_eq!(back, msg);
        let err = <Protobuf as Codec<Hello>>::decode(&Protobuf, bytes.slice(..bytes.len() - 1))
            .unwrap_err();
        assert!(err.is_truncated(), "{err}");
    }
}
