//! Message compression: the encodings named in `grpc-encoding` and `grpc-accept-encoding`,
//! and the per-message compress and decompress.
//!
//! Decompression is bounded: it reads the output incrementally and stops one byte past the
//! receive limit, so a small message that inflates without end (a decompression bomb) costs
//! at most the limit in memory before it is refused with `RESOURCE_EXHAUSTED`.

use std::fmt;

use bytes::Bytes;
use http::HeaderValue;
use rookery_core::Status;

/// A compression of messages that both rookery's client and server speak: which ones depends
/// on the crate's features (`gzip`, `zstd`; both on by default).
///
/// A client sends compressed with [`ClientBuilder::send_compressed`](crate::ClientBuilder::send_compressed),
/// a server answers compressed with
/// [`ServerBuilder::send_compressed`](crate::ServerBuilder::send_compressed) when the caller
/// accepts it; both receive every encoding here, whatever they send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// gzip (RFC 1952), in pure Rust (feature `gzip`).
    #[cfg(feature = "gzip")]
    Gzip,
    /// Zstandard (RFC 8878), by the reference C library (feature `zstd`).
    #[cfg(feature = "zstd")]
    Zstd,
}

/// Every encoding this build speaks, as `grpc-accept-encoding` lists them.
#[cfg(all(feature = "gzip", feature = "zstd"))]
const ACCEPTED: &str = "identity,gzip,zstd";
#[cfg(all(feature = "gzip", not(feature = "zstd")))]
const ACCEPTED: &str = "identity,gzip";
#[cfg(all(not(feature = "gzip"), feature = "zstd"))]
const ACCEPTED: &str = "identity,zstd";
#[cfg(not(any(feature = "gzip", feature = "zstd")))]
const ACCEPTED: &str = "identity";

impl Compression {
    /// Its name in `grpc-encoding`.
    pub fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "gzip")]
            Compression::Gzip => "gzip",
            #[cfg(feature = "zstd")]
            Compression::Zstd => "zstd",
        }
    }

    /// The encoding named `name` in a `grpc-encoding` header, if this build speaks it.
    pub fn from_name(name: &[u8]) -> Option<Compression> {
        match name.trim_ascii() {
            #[cfg(feature = "gzip")]
            b"gzip" => Some(Compression::Gzip),
            #[cfg(feature = "zstd")]
            b"zstd" => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// `message` compressed.
    #[cfg_attr(
        not(any(feature = "gzip", feature = "zstd")),
        allow(unreachable_code, unused)
    )]
    pub(crate) fn compress(self, message: &[u8]) -> Result<Bytes, Status> {
        let compressed: std::io::Result<Vec<u8>> = match self {
            #[cfg(feature = "gzip")]
            Compression::Gzip => {
                use std::io::Write;
                let out = Vec::with_capacity(message.len() / 2 + 32);
                let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
                encoder.write_all(message).and_then(|()| encoder.finish())
            }
            #[cfg(feature = "zstd")]
            Compression::Zstd => zstd::bulk::compress(message, ZSTD_LEVEL),
        };
        compressed
            .map(Bytes::from)
            .map_err(|e| Status::internal(format!("compressing a message with {self}: {e}")))
    }

    /// `message` decompressed, refused with `RESOURCE_EXHAUSTED` as soon as it grows past
    /// `limit` bytes, and with `INTERNAL` if it is not valid in this encoding.
    #[cfg_attr(not(any(feature = "gzip", feature = "zstd")), allow(unused))]
    pub(crate) fn decompress(self, message: &[u8], limit: usize) -> Result<Bytes, Status> {
        match self {
            #[cfg(feature = "gzip")]
            Compression::Gzip => read_bounded(self, flate2::read::GzDecoder::new(message), limit),
            #[cfg(feature = "zstd")]
            Compression::Zstd => {
                let mut decoder = zstd::stream::read::Decoder::with_buffer(message)
                    .map_err(|e| self.corrupt(&e))?;
                // The window the decoder allocates is the sender's choice up to this: no
                // message under the limit needs a window much larger than the limit.
                decoder
                    .window_log_max(zstd_window_log_max(limit))
                    .map_err(|e| self.corrupt(&e))?;
                read_bounded(self, decoder.single_frame(), limit)
            }
        }
    }

    #[allow(dead_code)] // unused when no encoding is built in
    fn corrupt(self, e: &dyn fmt::Display) -> Status {
        Status::internal(format!("a message compressed with {self} is corrupt: {e}"))
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The `grpc-accept-encoding` of this build: identity and every compression it speaks.
pub(crate) fn accept_encoding() -> HeaderValue {
    HeaderValue::from_static(ACCEPTED)
}

/// Whether a `grpc-accept-encoding` value lists `compression`.
pub(crate) fn accepts(value: Option<&HeaderValue>, compression: Compression) -> bool {
    value.is_some_and(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|name| name.trim_ascii() == compression.name().as_bytes())
    })
}

/// The compression named by a `grpc-encoding` value: `Ok(None)` for none or identity,
/// `Err` with the name for one this build does not speak.
pub(crate) fn of_header(value: Option<&HeaderValue>) -> Result<Option<Compression>, String> {
    match value {
        None => Ok(None),
        Some(v) if v.as_bytes().trim_ascii() == b"identity" => Ok(None),
        Some(v) => Compression::from_name(v.as_bytes())
            .map(Some)
            .ok_or_else(|| String::from_utf8_lossy(v.as_bytes()).into_owned()),
    }
}

#[cfg(feature = "zstd")]
const ZSTD_LEVEL: i32 = 1;

/// The largest zstd window accepted for messages of at most `limit` bytes: twice the limit
/// rounded up to a power of two, between 8 MiB (what zstd's own levels use up to level 19)
/// and 128 MiB (zstd's default cap).
#[cfg(feature = "zstd")]
fn zstd_window_log_max(limit: usize) -> u32 {
    let log = usize::BITS - limit.saturating_mul(2).leading_zeros();
    log.clamp(23, 27)
}

/// Reads `decoder` to its end, or fails once more than `limit` bytes came out of it.
#[allow(dead_code)] // unused when no encoding is built in
fn read_bounded(
    compression: Compression,
    decoder: impl std::io::Read,
    limit: usize,
) -> Result<Bytes, Status> {
    use std::io::Read;
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    decoder
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| compression.corrupt(&e))?;
    if out.len() > limit {
        return Err(Status::resource_exhausted(format!(
            "a message compressed with {compression} decompresses to more than the limit of \
             {limit} bytes"
        )));
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use rookery_core::Code;

    use super::*;

    fn all() -> Vec<Compression> {
        vec![
            #[cfg(feature = "gzip")]
            Compression::Gzip,
            #[cfg(feature = "zstd")]
            Compression::Zstd,
        ]
    }

    #[test]
    fn messages_come_back_as_they_went() {
        let text: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for c in all() {
            for message in [&b""[..], b"x", &text] {
                let packed = c.compress(message).unwrap();
                let unpacked = c.decompress(&packed, message.len()).unwrap();
                assert_eq!(&unpacked[..], message, "{c}");
            }
            assert_eq!(Compression::from_name(c.name().as_bytes()), Some(c));
            assert!(ACCEPTED.contains(c.name()));
        }
    }

    #[test]
    fn a_bomb_is_refused_at_the_limit() {
        let zeros = vec![0u8; 10 << 20];
        for c in all() {
            let bomb = c.compress(&zeros).unwrap();
            assert!(bomb.len() < 64 * 1024, "{c}: {} bytes", bomb.len());
            let err = c.decompress(&bomb, 4 << 20).unwrap_err();
            assert_eq!(err.code(), Code::ResourceExhausted, "{c}: {err}");
            // Exactly at the limit is fine.
            assert_eq!(c.decompress(&bomb, 10 << 20).unwrap().len(), 10 << 20);
        }
    }

    #[test]
    fn garbage_is_an_error() {
        for c in all() {
            for input in [
                &b""[..],
                b"\x1f\x8b",
                b"\x28\xb5\x2f\xfd",
                b"not compressed",
            ] {
                let err = c.decompress(input, 1 << 20).unwrap_err();
                assert_eq!(err.code(), Code::Internal, "{c} {input:?}: {err}");
            }
            let mut packed = c.compress(b"hello hello hello").unwrap().to_vec();
            packed.truncate(packed.len() - 3);
            assert!(c.decompress(&packed, 1 << 20).is_err(), "{c}: truncated");
        }
    }

    #[test]
    fn headers_are_read() {
        assert_eq!(of_header(None), Ok(None));
        assert_eq!(
            of_header(Some(&HeaderValue::from_static("identity"))),
            Ok(None)
        );
        assert_eq!(
            of_header(Some(&HeaderValue::from_static("snappy"))),
            Err("snappy".to_string())
        );
        for c in all() {
            let list = HeaderValue::from_static("identity, deflate ,gzip,zstd");
            assert!(accepts(Some(&list), c));
            assert!(!accepts(Some(&HeaderValue::from_static("identity")), c));
            assert!(!accepts(None, c));
        }
    }
}
