//! The raw ceiling's wire format: `u32 length | u32 request id | payload`.
//!
//! Both integers are big-endian; `length` counts the payload only. There is no codec and
//! no header beyond the request id, which is what lets many requests share a connection.
//! A reply is the request's frame sent back unchanged.

use std::io;

use bytes::{Buf, BufMut, BytesMut};

/// Bytes before the payload: the length and the request id.
pub const HEADER_LEN: usize = 8;

/// The largest payload either side accepts; a bigger length closes the connection.
pub const MAX_PAYLOAD: usize = 16 * 1024 * 1024;

/// How much free space a reader asks for before each read.
pub const READ_CHUNK: usize = 64 * 1024;

/// Appends one frame to `out`.
pub fn put_frame(out: &mut BytesMut, id: u32, payload: &[u8]) {
    out.reserve(HEADER_LEN + payload.len());
    out.put_u32(payload.len() as u32);
    out.put_u32(id);
    out.put_slice(payload);
}

/// Reads the header at the front of `buf`: `Ok(Some((id, payload_len)))` when a whole
/// frame is buffered, `Ok(None)` when more bytes are needed, an error when the length
/// is over [`MAX_PAYLOAD`].
pub fn peek_frame(buf: &[u8]) -> io::Result<Option<(u32, usize)>> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len > MAX_PAYLOAD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes is over the {MAX_PAYLOAD}-byte limit"),
        ));
    }
    if buf.len() < HEADER_LEN + len {
        return Ok(None);
    }
    let id = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
    Ok(Some((id, len)))
}

/// Splits the next whole frame off the front of `buf` as `(id, payload)` without copying.
pub fn take_frame(buf: &mut BytesMut) -> io::Result<Option<(u32, bytes::Bytes)>> {
    let Some((id, len)) = peek_frame(buf)? else {
        return Ok(None);
    };
    buf.advance(HEADER_LEN);
    Ok(Some((id, buf.split_to(len).freeze())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_wait_for_whole_frames() {
        let mut buf = BytesMut::new();
        put_frame(&mut buf, 7, b"hello");
        put_frame(&mut buf, 8, b"");
        let whole = buf.len();
        let mut partial = BytesMut::from(&buf[..whole - 1]);
        assert_eq!(
            take_frame(&mut partial).unwrap().unwrap(),
            (7, "hello".into())
        );
        assert_eq!(take_frame(&mut partial).unwrap(), None);

        assert_eq!(take_frame(&mut buf).unwrap().unwrap(), (7, "hello".into()));
        assert_eq!(take_frame(&mut buf).unwrap().unwrap(), (8, "".into()));
        assert!(buf.is_empty());
    }

    #[test]
    fn oversized_length_is_refused_before_buffering() {
        let mut buf = BytesMut::new();
        buf.put_u32(MAX_PAYLOAD as u32 + 1);
        buf.put_u32(1);
        assert!(take_frame(&mut buf).is_err());
    }
}
