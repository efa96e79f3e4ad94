//! Encoding: sizes first, computed once, then one pass that writes into a buffer of exactly
//! the right length.
//!
//! prost's `encoded_len` walks a nested message again at every level that needs its length
//! prefix, so a message `d` levels deep is measured `d + 1` times. Here
//! [`ProtoMessage::size`](super::ProtoMessage::size) measures each nested message once and
//! records its length in a [`SizeCache`], in the order that
//! [`ProtoMessage::write`](super::ProtoMessage::write) will need it; the write pass reads the
//! lengths back from the cache instead of recomputing them.

use super::{ProtoMessage, wire::varint_len};

/// Lengths of nested messages, packed fields and map entries, in the order the write pass
/// needs them (each recorded before the lengths inside it).
#[derive(Debug, Default)]
pub struct SizeCache {
    sizes: Vec<u32>,
}

impl SizeCache {
    /// An empty cache.
    pub fn new() -> SizeCache {
        SizeCache::default()
    }

    pub(crate) fn from_vec(mut sizes: Vec<u32>) -> SizeCache {
        sizes.clear();
        SizeCache { sizes }
    }

    pub(crate) fn into_vec(self) -> Vec<u32> {
        self.sizes
    }

    pub(crate) fn as_slice(&self) -> &[u32] {
        &self.sizes
    }

    /// Measures a nested message, records its length, and returns the bytes it takes after
    /// its key: the length prefix and the message.
    #[inline]
    pub fn message<M: ProtoMessage>(&mut self, msg: &M) -> usize {
        let slot = self.reserve();
        let len = msg.size(self);
        self.set(slot, len)
    }

    /// The bytes of a map entry's message value, field 2 with its key, or nothing when the
    /// message is empty: prost leaves every default value out of a map entry, and a message
    /// encodes to nothing exactly when all its fields are defaults.
    #[inline]
    pub fn map_value<M: ProtoMessage>(&mut self, msg: &M) -> usize {
        let slot = self.reserve();
        let len = msg.size(self);
        if len == 0 {
            // An empty message recorded nothing inside it.
            self.sizes.truncate(slot);
            0
        } else {
            1 + self.set(slot, len)
        }
    }

    /// Reserves the slot for a length that is known only after what comes inside it has
    /// been measured (a packed field, a map entry).
    #[inline]
    pub fn reserve(&mut self) -> usize {
        self.sizes.push(0);
        self.sizes.len() - 1
    }

    /// Records the length for `slot` and returns the bytes it takes with its length prefix.
    #[inline]
    pub fn set(&mut self, slot: usize, len: usize) -> usize {
        // A message over 4 GiB is refused before it is written (see `encode`); a length that
        // does not fit only ever comes with a total that does not either.
        self.sizes[slot] = len as u32;
        varint_len(len as u64) + len
    }
}

/// Writes one message into a buffer of exactly its size, taking the lengths of what is nested
/// inside it from the [`SizeCache`] filled by the measuring pass.
#[derive(Debug)]
pub struct Encoder<'a> {
    out: &'a mut [u8],
    pos: usize,
    sizes: &'a [u32],
    next: usize,
}

impl<'a> Encoder<'a> {
    pub(crate) fn new(out: &'a mut [u8], sizes: &'a [u32]) -> Encoder<'a> {
        Encoder {
            out,
            pos: 0,
            sizes,
            next: 0,
        }
    }

    /// How many bytes have been written.
    pub fn written(&self) -> usize {
        self.pos
    }

    /// Writes one byte (a one-byte key).
    #[inline]
    pub fn put_u8(&mut self, b: u8) {
        self.out[self.pos] = b;
        self.pos += 1;
    }

    /// Writes raw bytes (a key of several bytes).
    #[inline]
    pub fn put_slice(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        self.out[self.pos..end].copy_from_slice(bytes);
        self.pos = end;
    }

    /// Writes a varint.
    #[inline]
    pub fn put_varint(&mut self, mut v: u64) {
        if v < 0x80 {
            return self.put_u8(v as u8);
        }
        let out = &mut self.out[self.pos..];
        let mut i = 0;
        while v >= 0x80 {
            out[i] = (v as u8) | 0x80;
            v >>= 7;
            i += 1;
        }
        out[i] = v as u8;
        self.pos += i + 1;
    }

    /// Writes four bytes, little-endian.
    #[inline]
    pub fn put_fixed32(&mut self, v: u32) {
        self.put_slice(&v.to_le_bytes());
    }

    /// Writes eight bytes, little-endian.
    #[inline]
    pub fn put_fixed64(&mut self, v: u64) {
        self.put_slice(&v.to_le_bytes());
    }

    /// Writes an `int32`: negative values sign-extended to ten bytes, as every implementation
    /// does.
    #[inline]
    pub fn put_int32(&mut self, v: i32) {
        self.put_varint(v as i64 as u64);
    }

    /// Writes an `int64`.
    #[inline]
    pub fn put_int64(&mut self, v: i64) {
        self.put_varint(v as u64);
    }

    /// Writes a `uint32`.
    #[inline]
    pub fn put_uint32(&mut self, v: u32) {
        self.put_varint(u64::from(v));
    }

    /// Writes a `uint64`.
    #[inline]
    pub fn put_uint64(&mut self, v: u64) {
        self.put_varint(v);
    }

    /// Writes a `sint32` (zigzag).
    #[inline]
    pub fn put_sint32(&mut self, v: i32) {
        self.put_varint(u64::from(super::wire::zigzag32(v)));
    }

    /// Writes a `sint64` (zigzag).
    #[inline]
    pub fn put_sint64(&mut self, v: i64) {
        self.put_varint(super::wire::zigzag64(v));
    }

    /// Writes a `bool`.
    #[inline]
    pub fn put_bool(&mut self, v: bool) {
        self.put_u8(v as u8);
    }

    /// Writes an `sfixed32`.
    #[inline]
    pub fn put_sfixed32(&mut self, v: i32) {
        self.put_fixed32(v as u32);
    }

    /// Writes an `sfixed64`.
    #[inline]
    pub fn put_sfixed64(&mut self, v: i64) {
        self.put_fixed64(v as u64);
    }

    /// Writes a `float`.
    #[inline]
    pub fn put_float(&mut self, v: f32) {
        self.put_fixed32(v.to_bits());
    }

    /// Writes a `double`.
    #[inline]
    pub fn put_double(&mut self, v: f64) {
        self.put_fixed64(v.to_bits());
    }

    /// Writes a length-prefixed run of bytes (a `string` or `bytes` value).
    #[inline]
    pub fn put_bytes(&mut self, bytes: &[u8]) {
        self.put_varint(bytes.len() as u64);
        self.put_slice(bytes);
    }

    /// Writes the length the measuring pass recorded for what comes next (a packed field, a
    /// map entry), and returns it.
    #[inline]
    pub fn put_cached_len(&mut self) -> usize {
        let len = self.sizes[self.next];
        self.next += 1;
        self.put_varint(u64::from(len));
        len as usize
    }

    /// Writes a nested message: its recorded length, then its fields.
    #[inline]
    pub fn put_message<M: ProtoMessage>(&mut self, msg: &M) {
        self.put_cached_len();
        msg.write(self);
    }
}

/// The bytes of an `int32` varint.
#[inline]
pub fn int32_len(v: i32) -> usize {
    varint_len(v as i64 as u64)
}

/// The bytes of an `int64` varint.
#[inline]
pub fn int64_len(v: i64) -> usize {
    varint_len(v as u64)
}

/// The bytes of a `uint32` varint.
#[inline]
pub fn uint32_len(v: u32) -> usize {
    varint_len(u64::from(v))
}

/// The bytes of a `uint64` varint.
#[inline]
pub fn uint64_len(v: u64) -> usize {
    varint_len(v)
}

/// The bytes of a `sint32` varint.
#[inline]
pub fn sint32_len(v: i32) -> usize {
    varint_len(u64::from(super::wire::zigzag32(v)))
}

/// The bytes of a `sint64` varint.
#[inline]
pub fn sint64_len(v: i64) -> usize {
    varint_len(super::wire::zigzag64(v))
}

/// The bytes of a length-prefixed run of `len` bytes.
#[inline]
pub fn bytes_len(len: usize) -> usize {
    varint_len(len as u64) + len
}
