use bytes::{BufMut, BytesMut};

/// Where a protocol writer puts bytes: a buffer, or a [`Counter`] that only adds up sizes.
///
/// Writing a message into a `Counter` with the same code that writes it into a buffer is how
/// sizes are computed before encoding; everything inlines, so counting costs a walk over the
/// message and nothing else.
pub trait Sink {
    /// Appends one byte.
    fn put_u8(&mut self, v: u8);
    /// Appends bytes.
    fn put_slice(&mut self, v: &[u8]);
    /// Appends a big-endian `i16`.
    fn put_i16(&mut self, v: i16);
    /// Appends a big-endian `i32`.
    fn put_i32(&mut self, v: i32);
    /// Appends a big-endian `i64`.
    fn put_i64(&mut self, v: i64);
    /// Appends a little-endian `f64` (the compact protocol's doubles).
    fn put_f64_le(&mut self, v: f64);
    /// Appends an unsigned LEB128 varint.
    fn put_varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.put_u8((v as u8) | 0x80);
            v >>= 7;
        }
        self.put_u8(v as u8);
    }
}

/// The number of bytes of `v` as a varint.
pub(crate) fn varint_len(v: u64) -> usize {
    // 1 byte per started group of 7 bits, and at least 1.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

impl Sink for BytesMut {
    #[inline]
    fn put_u8(&mut self, v: u8) {
        BufMut::put_u8(self, v);
    }
    #[inline]
    fn put_slice(&mut self, v: &[u8]) {
        self.extend_from_slice(v);
    }
    #[inline]
    fn put_i16(&mut self, v: i16) {
        BufMut::put_i16(self, v);
    }
    #[inline]
    fn put_i32(&mut self, v: i32) {
        BufMut::put_i32(self, v);
    }
    #[inline]
    fn put_i64(&mut self, v: i64) {
        BufMut::put_i64(self, v);
    }
    #[inline]
    fn put_f64_le(&mut self, v: f64) {
        BufMut::put_f64_le(self, v);
    }
    #[inline]
    fn put_varint(&mut self, mut v: u64) {
        // Assemble the varint on the stack and append it in one copy.
        let mut tmp = [0u8; 10];
        let mut n = 0;
        while v >= 0x80 {
            tmp[n] = (v as u8) | 0x80;
            v >>= 7;
            n += 1;
        }
        tmp[n] = v as u8;
        self.extend_from_slice(&tmp[..=n]);
    }
}

impl<S: Sink + ?Sized> Sink for &mut S {
    #[inline]
    fn put_u8(&mut self, v: u8) {
        (**self).put_u8(v);
    }
    #[inline]
    fn put_slice(&mut self, v: &[u8]) {
        (**self).put_slice(v);
    }
    #[inline]
    fn put_i16(&mut self, v: i16) {
        (**self).put_i16(v);
    }
    #[inline]
    fn put_i32(&mut self, v: i32) {
        (**self).put_i32(v);
    }
    #[inline]
    fn put_i64(&mut self, v: i64) {
        (**self).put_i64(v);
    }
    #[inline]
    fn put_f64_le(&mut self, v: f64) {
        (**self).put_f64_le(v);
    }
    #[inline]
    fn put_varint(&mut self, v: u64) {
        (**self).put_varint(v);
    }
}

/// A [`Sink`] over a buffer already sized for what will be written: each write is a copy
/// at an index, with none of `BufMut`'s capacity checks and length updates. Writing more than
/// the buffer holds panics (a size and a write that disagree are a bug in the encoder, never
/// something input can cause: both come from the same `encode` of the same message).
#[derive(Debug)]
pub struct SliceSink<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl<'a> SliceSink<'a> {
    /// A sink writing `out` from its start.
    pub fn new(out: &'a mut [u8]) -> SliceSink<'a> {
        SliceSink { out, pos: 0 }
    }

    /// How many bytes have been written.
    pub fn written(&self) -> usize {
        self.pos
    }

    #[inline(always)]
    fn put_array<const N: usize>(&mut self, v: [u8; N]) {
        let end = self.pos + N;
        self.out[self.pos..end].copy_from_slice(&v);
        self.pos = end;
    }
}

impl Sink for SliceSink<'_> {
    #[inline]
    fn put_u8(&mut self, v: u8) {
        self.out[self.pos] = v;
        self.pos += 1;
    }
    #[inline]
    fn put_slice(&mut self, v: &[u8]) {
        let end = self.pos + v.len();
        self.out[self.pos..end].copy_from_slice(v);
        self.pos = end;
    }
    #[inline]
    fn put_i16(&mut self, v: i16) {
        self.put_array(v.to_be_bytes());
    }
    #[inline]
    fn put_i32(&mut self, v: i32) {
        self.put_array(v.to_be_bytes());
    }
    #[inline]
    fn put_i64(&mut self, v: i64) {
        self.put_array(v.to_be_bytes());
    }
    #[inline]
    fn put_f64_le(&mut self, v: f64) {
        self.put_array(v.to_le_bytes());
    }
    #[inline]
    fn put_varint(&mut self, mut v: u64) {
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
}

/// A [`Sink`] that counts the bytes it is given and keeps none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counter {
    len: usize,
}

impl Counter {
    /// The number of bytes counted.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Sink for Counter {
    #[inline]
    fn put_u8(&mut self, _: u8) {
        self.len += 1;
    }
    #[inline]
    fn put_slice(&mut self, v: &[u8]) {
        self.len += v.len();
    }
    #[inline]
    fn put_i16(&mut self, _: i16) {
        self.len += 2;
    }
    #[inline]
    fn put_i32(&mut self, _: i32) {
        self.len += 4;
    }
    #[inline]
    fn put_i64(&mut self, _: i64) {
        self.len += 8;
    }
    #[inline]
    fn put_f64_le(&mut self, _: f64) {
        self.len += 8;
    }
    #[inline]
    fn put_varint(&mut self, v: u64) {
        self.len += varint_len(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_len_matches_what_is_written() {
        for v in [0u64, 1, 127, 128, 16383, 16384, u32::MAX as u64, u64::MAX] {
            let mut buf = BytesMut::new();
            Sink::put_varint(&mut buf, v);
            assert_eq!(buf.len(), varint_len(v), "{v}");
            let mut out = [0u8; 10];
            let mut slice = SliceSink::new(&mut out);
            Sink::put_varint(&mut slice, v);
            assert_eq!(&out[..varint_len(v)], &buf[..], "{v}");
        }
    }

    #[test]
    fn slice_sink_writes_what_bytes_mut_writes() {
        fn write(s: &mut impl Sink) {
            s.put_u8(0x81);
            s.put_i16(-2);
            s.put_i32(0x0102_0304);
            s.put_i64(-5);
            s.put_f64_le(1.5);
            s.put_varint(300);
            s.put_slice(b"tail");
        }
        let mut expected = BytesMut::new();
        write(&mut expected);
        let mut out = vec![0u8; expected.len()];
        let mut slice = SliceSink::new(&mut out);
        write(&mut slice);
        assert_eq!(slice.written(), expected.len());
        assert_eq!(out, &expected[..]);
    }
}
