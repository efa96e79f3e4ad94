//! Wire encodings for rookery.
//!
//! - [`thrift`]: the binary and compact protocols for every Thrift type, through the
//!   [`ThriftEncode`](thrift::ThriftEncode) and [`ThriftDecode`](thrift::ThriftDecode) traits
//!   that generated code implements. Sizes are computed before encoding, so a message is written
//!   into one allocation of the right size; strings and binaries are decoded as slices of the
//!   received [`Bytes`](bytes::Bytes), without copying.
//! - `protobuf` (feature `protobuf`): Protobuf through prost.
//! - `json` (feature `json`): JSON through serde.
//!
//! Every decoder bounds what it allocates by the bytes actually present: a length read from
//! the wire that is larger than what is left is an error, not an allocation, and nesting is
//! limited so that hostile input cannot exhaust the stack.
//!
//! ```
//! use bytes::Bytes;
//! use rookery_codec::thrift::{Protocol, ProtocolRead, ProtocolWrite, ThriftDecode, ThriftEncode, TType, DecodeError};
//!
//! #[derive(Debug, PartialEq)]
//! struct Point { x: i32, y: i32 }
//!
//! impl ThriftEncode for Point {
//!     fn encode<W: ProtocolWrite>(&self, w: &mut W) {
//!         w.write_struct_begin();
//!         w.write_field_begin(TType::I32, 1);
//!         w.write_i32(self.x);
//!         w.write_field_begin(TType::I32, 2);
//!         w.write_i32(self.y);
//!         w.write_field_stop();
//!         w.write_struct_end();
//!     }
//! }
//!
//! impl ThriftDecode for Point {
//!     fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
//!         let (mut x, mut y) = (0, 0);
//!         r.read_struct_begin()?;
//!         loop {
//!             match r.read_field_begin()? {
//!                 (TType::Stop, _) => break,
//!                 (TType::I32, 1) => x = r.read_i32()?,
//!                 (TType::I32, 2) => y = r.read_i32()?,
//!                 (ty, _) => r.skip(ty)?,
//!             }
//!         }
//!         r.read_struct_end();
//!         Ok(Point { x, y })
//!     }
//! }
//!
//! for protocol in [Protocol::Binary, Protocol::Compact] {
//!     let bytes: Bytes = protocol.encode_to_bytes(&Point { x: 3, y: -4 });
//!     assert_eq!(bytes.len(), protocol.encoded_len(&Point { x: 3, y: -4 }));
//!     assert_eq!(protocol.decode::<Point>(bytes).unwrap(), Point { x: 3, y: -4 });
//! }
//! ```

mod codec;
mod error;
#[cfg(feature = "json")]
pub mod json;
#[cfg(feature = "protobuf")]
pub mod protobuf;
pub mod thrift;

pub use codec::Codec;
pub use error::{DecodeError, DecodeErrorKind, EncodeError};
