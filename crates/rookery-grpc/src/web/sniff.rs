//! Which HTTP a connection speaks, told by its first bytes: HTTP/2 opens with its connection
//! preface, anything else is taken for HTTP/1.1. The bytes read are given back in front of
//! the rest.

use std::{
    io,
    pin::Pin,
    task::{Context as TaskContext, Poll},
};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// What every HTTP/2 client sends first (RFC 9113, section 3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The HTTP versions a connection may speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Http {
    /// HTTP/1.0 or 1.1.
    One,
    /// HTTP/2 with prior knowledge.
    Two,
}

/// Reads from `io` until its first bytes are the HTTP/2 preface or differ from it: the version
/// they show, and the stream with those bytes put back. A peer that closes before saying
/// anything is an error. Time-limited by the caller.
pub(crate) async fn sniff<I: AsyncRead + Unpin>(mut io: I) -> io::Result<(Http, Rewind<I>)> {
    let mut read = [0u8; PREFACE.len()];
    let mut got = 0;
    let http = loop {
        let n = io.read(&mut read[got..]).await?;
        if n == 0 {
            if got == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            // Closed inside what may be a preface: HTTP/1.1 will say what is wrong with it.
            break Http::One;
        }
        got += n;
        if read[..got] != PREFACE[..got] {
            break Http::One;
        }
        if got == PREFACE.len() {
            break Http::Two;
        }
    };
    Ok((
        http,
        Rewind {
            io,
            read,
            len: got,
            replayed: 0,
        },
    ))
}

/// A stream whose first bytes were read already and are read again.
pub(crate) struct Rewind<I> {
    io: I,
    read: [u8; PREFACE.len()],
    len: usize,
    replayed: usize,
}

impl<I: AsyncRead + Unpin> AsyncRead for Rewind<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.replayed < this.len {
            let rest = &this.read[this.replayed..this.len];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.replayed += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Rewind<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    async fn sniffed(pieces: &[&[u8]]) -> io::Result<(Http, Vec<u8>)> {
        let (mut client, server) = tokio::io::duplex(1024);
        let sniffing = tokio::spawn(sniff(server));
        for piece in pieces {
            client.write_all(piece).await.unwrap();
            tokio::task::yield_now().await;
        }
        drop(client);
        let (http, mut rewound) = sniffing.await.unwrap()?;
        let mut all = Vec::new();
        rewound.read_to_end(&mut all).await.unwrap();
        Ok((http, all))
    }

    #[tokio::test]
    async fn the_preface_is_http2_and_anything_else_http1_with_every_byte_given_back() {
        let (http, all) = sniffed(&[&PREFACE[..5], &PREFACE[5..], b"next"])
            .await
            .unwrap();
        assert_eq!(http, Http::Two);
        assert_eq!(&all[..24], PREFACE);
        assert_eq!(&all[24..], b"next");

        let request = b"POST /a/b HTTP/1.1\r\nhost: x\r\n\r\n";
        for pieces in [&[&request[..]][..], &[b"P", &request[1..]], &[b"PRI"]] {
            let (http, all) = sniffed(pieces).await.unwrap();
            assert_eq!(http, Http::One, "{pieces:?}");
            assert_eq!(all, pieces.concat());
        }
        assert!(sniffed(&[]).await.is_err());
    }
}
