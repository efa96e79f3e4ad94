//! The client's HTTP/2 connection preface, read before the connection is handed to hyper, so
//! that a client which connects and never speaks is dropped after a set time instead of
//! holding a connection (and its task) for ever.

use std::{
    io,
    pin::Pin,
    task::{Context as TaskContext, Poll},
};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// What every HTTP/2 client sends first (RFC 9113, section 3.4).
pub(crate) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads the preface from `io`: the stream with the preface put back in front of whatever
/// follows, or an error if the peer sent something else or closed first. Time-limited by the
/// caller.
pub(crate) async fn read<I: AsyncRead + Unpin>(mut io: I) -> io::Result<Prefaced<I>> {
    let mut preface = [0u8; PREFACE.len()];
    let mut got = 0;
    while got < preface.len() {
        let n = io.read(&mut preface[got..]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        got += n;
        // Refused at the first wrong byte, not after 24 of them.
        if preface[..got] != PREFACE[..got] {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not an HTTP/2 connection preface",
            ));
        }
    }
    Ok(Prefaced { io, replayed: 0 })
}

/// A stream whose first bytes, the preface, were read already and are read again.
pub(crate) struct Prefaced<I> {
    io: I,
    replayed: usize,
}

impl<I: AsyncRead + Unpin> AsyncRead for Prefaced<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.replayed < PREFACE.len() {
            let rest = &PREFACE[this.replayed..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.replayed += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Prefaced<I> {
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

    #[tokio::test]
    async fn the_preface_is_read_and_replayed() {
        let (mut client, server) = tokio::io::duplex(1024);
        // In pieces, as a slow client may send it, and with the next frame behind it.
        client.write_all(&PREFACE[..5]).await.unwrap();
        let reading = tokio::spawn(read(server));
        client.write_all(&PREFACE[5..]).await.unwrap();
        client.write_all(b"next").await.unwrap();
        drop(client);
        let mut prefaced = reading.await.unwrap().unwrap();
        let mut all = Vec::new();
        prefaced.read_to_end(&mut all).await.unwrap();
        assert_eq!(&all[..24], PREFACE);
        assert_eq!(&all[24..], b"next");
    }

    #[tokio::test]
    async fn anything_else_is_refused() {
        for input in [&b"GET / HTTP/1.1\r\n\r\n"[..], b"PRI * HTTP/1.1", b"PRI"] {
            let (mut client, server) = tokio::io::duplex(1024);
            client.write_all(input).await.unwrap();
            drop(client);
            assert!(read(server).await.is_err(), "{input:?}");
        }
    }
}
