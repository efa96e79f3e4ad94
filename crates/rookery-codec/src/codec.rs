use bytes::{Bytes, BytesMut};

use crate::{DecodeError, EncodeError};

/// A way to turn messages of type `M` into bytes and back: one of the Thrift protocols,
/// Protobuf, or JSON.
///
/// Transports and protocol adapters are written against this trait, so one handler can be
/// reached through any encoding its messages support.
pub trait Codec<M> {
    /// Appends the encoding of `msg` to `buf`.
    fn encode(&self, msg: &M, buf: &mut BytesMut) -> Result<(), EncodeError>;

    /// Decodes one message from `buf`, which holds exactly that message.
    fn decode(&self, buf: Bytes) -> Result<M, DecodeError>;
}
