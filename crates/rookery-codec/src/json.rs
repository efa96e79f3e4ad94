//! JSON through serde: for HTTP and WebSocket peers and for Rust-first services.

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Serialize, de::DeserializeOwned};

use crate::{Codec, DecodeError, DecodeErrorKind, EncodeError};

/// The JSON codec. Input is bounded by the bytes present; serde_json limits nesting to 128
/// levels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Json;

impl<M: Serialize + DeserializeOwned> Codec<M> for Json {
    fn encode(&self, msg: &M, buf: &mut BytesMut) -> Result<(), EncodeError> {
        serde_json::to_writer(buf.writer(), msg).map_err(|e| EncodeError::new(e.to_string()))
    }

    fn decode(&self, buf: Bytes) -> Result<M, DecodeError> {
        serde_json::from_slice(&buf).map_err(|e| {
            let kind = if e.is_eof() {
                DecodeErrorKind::Truncated
            } else if e.to_string().contains("recursion limit") {
                DecodeErrorKind::DepthLimit
            } else {
                DecodeErrorKind::InvalidData
            };
            DecodeError::new(kind, e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Hello {
        name: String,
        times: u32,
    }

    #[test]
    fn round_trip_and_errors() {
        let mut buf = BytesMut::new();
        let msg = Hello {
            name: "rook".into(),
            times: 3,
        };
        Json.encode(&msg, &mut buf).unwrap();
        assert_eq!(&buf[..], br#"{"name":"rook","times":3}"#);
        let back: Hello = Json.decode(buf.freeze()).unwrap();
        assert_eq!(back, msg);

        let err =
            <Json as Codec<Hello>>::decode(&Json, Bytes::from_static(br#"{"name":"#)).unwrap_err();
        assert!(err.is_truncated());
        let deep = "[".repeat(10_000);
        let err = <Json as Codec<serde_json::Value>>::decode(&Json, Bytes::from(deep)).unwrap_err();
        assert_eq!(err.kind(), DecodeErrorKind::DepthLimit, "{err}");
    }
}
