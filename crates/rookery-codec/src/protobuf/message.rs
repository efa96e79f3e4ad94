//! The trait generated Protobuf messages implement, and the codec that carries them.

use std::cell::Cell;

use bytes::{Bytes, BytesMut};

use super::{DecodeLimits, Decoder, Encoder, SizeCache};
use crate::{Codec, DecodeError, EncodeError};

/// A Protobuf message with rookery's generated encoder and decoder.
///
/// The three required methods are written by `rookery-build`; the provided ones are what
/// callers use. The bytes are those every conforming implementation writes (and exactly those
/// prost writes for the same message: fields in number order, defaults of implicit fields
/// left out, packed repeated scalars where the schema packs them), and the decoder accepts
/// what they write: unknown fields are skipped, packed and unpacked repeated scalars are both
/// read, the last of a repeated singular field wins, and a nested message that appears twice
/// is merged.
pub trait ProtoMessage: Default {
    /// Measures the encoded fields (without a length prefix), recording the lengths of what is
    /// nested in `sizes` for [`write`](ProtoMessage::write). Generated; call
    /// [`encoded_len`](ProtoMessage::encoded_len) instead.
    #[doc(hidden)]
    fn size(&self, sizes: &mut SizeCache) -> usize;

    /// Writes the fields, in the same order as [`size`](ProtoMessage::size) measured them.
    /// Generated.
    #[doc(hidden)]
    fn write(&self, w: &mut Encoder<'_>);

    /// Merges one field whose key has just been read. Generated.
    #[doc(hidden)]
    fn merge_field(&mut self, key: u32, d: &mut Decoder) -> Result<(), DecodeError>;

    /// The length of the encoding.
    fn encoded_len(&self) -> usize {
        with_size_cache(|sizes| self.size(sizes))
    }

    /// Appends the encoding to `buf`, in one reservation of the right size. Fails only for a
    /// message of 4 GiB or more (Protobuf's limit is 2 GiB).
    fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        with_size_cache(|sizes| {
            let len = self.size(sizes);
            if len > u32::MAX as usize {
                return Err(EncodeError::new(format!("message of {len} bytes")));
            }
            let start = buf.len();
            buf.resize(start + len, 0);
            let mut w = Encoder::new(&mut buf[start..], sizes.as_slice());
            self.write(&mut w);
            debug_assert_eq!(w.written(), len, "size and write disagree");
            Ok(())
        })
    }

    /// The encoding as a `Vec`.
    ///
    /// # Panics
    ///
    /// For a message of 4 GiB or more.
    fn encode_to_vec(&self) -> Vec<u8> {
        with_size_cache(|sizes| {
            let len = self.size(sizes);
            assert!(len <= u32::MAX as usize, "message of {len} bytes");
            let mut out = vec![0; len];
            let mut w = Encoder::new(&mut out, sizes.as_slice());
            self.write(&mut w);
            debug_assert_eq!(w.written(), len, "size and write disagree");
            out
        })
    }

    /// The encoding as [`Bytes`].
    ///
    /// # Panics
    ///
    /// For a message of 4 GiB or more.
    fn encode_to_bytes(&self) -> Bytes {
        Bytes::from(self.encode_to_vec())
    }

    /// Decodes a message from `buf`, which holds exactly that message. Strings and bytes in
    /// the result share `buf`'s memory.
    fn decode(buf: Bytes) -> Result<Self, DecodeError> {
        Self::decode_with_limits(buf, DecodeLimits::default())
    }

    /// [`decode`](ProtoMessage::decode) with other limits.
    fn decode_with_limits(buf: Bytes, limits: DecodeLimits) -> Result<Self, DecodeError> {
        let mut msg = Self::default();
        Decoder::new(buf, limits).merge_fields(&mut msg)?;
        Ok(msg)
    }

    /// Merges the fields encoded in `buf` into this message.
    fn merge(&mut self, buf: Bytes) -> Result<(), DecodeError> {
        Decoder::new(buf, DecodeLimits::default()).merge_fields(self)
    }
}

impl<M: ProtoMessage> ProtoMessage for Box<M> {
    fn size(&self, sizes: &mut SizeCache) -> usize {
        (**self).size(sizes)
    }

    fn write(&self, w: &mut Encoder<'_>) {
        (**self).write(w)
    }

    fn merge_field(&mut self, key: u32, d: &mut Decoder) -> Result<(), DecodeError> {
        (**self).merge_field(key, d)
    }
}

thread_local! {
    /// The size cache of this thread, kept between messages so that encoding does not
    /// allocate once it has warmed up.
    static SIZES: Cell<Vec<u32>> = const { Cell::new(Vec::new()) };
}

/// Most size caches a thread keeps (in entries): a huge message's cache is not kept alive.
const KEPT_SIZES: usize = 1 << 16;

fn with_size_cache<R>(f: impl FnOnce(&mut SizeCache) -> R) -> R {
    // `take` leaves an empty Vec behind, so a nested use (none today) would simply allocate.
    let mut sizes = SizeCache::from_vec(SIZES.with(Cell::take));
    let result = f(&mut sizes);
    let sizes = sizes.into_vec();
    if sizes.capacity() <= KEPT_SIZES {
        SIZES.with(|cell| cell.set(sizes));
    }
    result
}

/// The codec of messages generated by `rookery-build` (any [`ProtoMessage`]). The bytes are
/// Protobuf's, the same as [`Protobuf`](super::Protobuf) writes for prost's types.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Generated;

impl<M: ProtoMessage> Codec<M> for Generated {
    fn encode(&self, msg: &M, buf: &mut BytesMut) -> Result<(), EncodeError> {
        msg.encode(buf)
    }

    fn decode(&self, buf: Bytes) -> Result<M, DecodeError> {
        M::decode(buf)
    }
}
