use std::{
    fmt, io,
    net::{SocketAddr, ToSocketAddrs},
    path::PathBuf,
    pin::Pin,
    str::FromStr,
    task::{Context, Poll},
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream, UnixListener, UnixStream, tcp, unix},
};

/// Where a server listens or a client connects: a TCP socket address or a Unix socket path.
///
/// Parsed from `HOST:PORT` or `tcp://HOST:PORT` (host names are resolved when parsed) and
/// from `unix:PATH` or `unix://PATH`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix domain socket path.
    Unix(PathBuf),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(addr) => write!(f, "{addr}"),
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(addr: SocketAddr) -> Self {
        Address::Tcp(addr)
    }
}

impl FromStr for Address {
    type Err = io::Error;

    fn from_str(s: &str) -> Result<Self, io::Error> {
        if let Some(path) = s
            .strip_prefix("unix://")
            .or_else(|| s.strip_prefix("unix:"))
        {
            if path.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "empty unix socket path",
                ));
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        let hostport = s.strip_prefix("tcp://").unwrap_or(s);
        if let Ok(addr) = hostport.parse::<SocketAddr>() {
            return Ok(Address::Tcp(addr));
        }
        hostport
            .to_socket_addrs()?
            .next()
            .map(Address::Tcp)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{s} resolves to no address"),
                )
            })
    }
}

impl Address {
    /// Opens a connection to this address, with `TCP_NODELAY` set on TCP.
    pub async fn connect(&self) -> io::Result<Stream> {
        match self {
            Address::Tcp(addr) => {
                let stream = TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                Ok(Stream::Tcp(stream))
            }
            Address::Unix(path) => Ok(Stream::Unix(UnixStream::connect(path).await?)),
        }
    }

    /// Binds a listener on this address. A Unix socket file left by an earlier run is removed
    /// first.
    pub async fn bind(&self) -> io::Result<Listener> {
        match self {
            Address::Tcp(addr) => {
                let socket = match addr {
                    SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
                    SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
                };
                socket.set_reuseaddr(true)?;
                socket.bind(*addr)?;
                Ok(Listener::Tcp(socket.listen(4096)?))
            }
            Address::Unix(path) => {
                match std::fs::remove_file(path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
                Ok(Listener::Unix(UnixListener::bind(path)?))
            }
        }
    }
}

/// A bound listener, TCP or Unix.
#[derive(Debug)]
pub enum Listener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A Unix socket listener.
    Unix(UnixListener),
}

impl Listener {
    /// The address it is bound to (with the port the system chose, if it was 0).
    pub fn local_addr(&self) -> io::Result<Address> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(Address::Tcp),
            Listener::Unix(l) => {
                let addr = l.local_addr()?;
                let path = addr.as_pathname().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "unnamed unix socket")
                })?;
                Ok(Address::Unix(path.to_path_buf()))
            }
        }
    }

    /// Accepts a connection the kernel has completed already, without waiting (and without
    /// relying on the reactor having seen it): `Ok(None)` when there is none.
    pub fn try_accept(&self) -> io::Result<Option<(Stream, Option<std::net::SocketAddr>)>> {
        let sock = match self {
            Listener::Tcp(l) => socket2::SockRef::from(l),
            Listener::Unix(l) => socket2::SockRef::from(l),
        };
        let (accepted, peer) = match sock.accept() {
            Ok(pair) => pair,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        };
        accepted.set_nonblocking(true)?;
        match self {
            Listener::Tcp(_) => {
                let stream = TcpStream::from_std(std::net::TcpStream::from(accepted))?;
                stream.set_nodelay(true)?;
                Ok(Some((Stream::Tcp(stream), peer.as_socket())))
            }
            Listener::Unix(_) => {
                let stream = UnixStream::from_std(std::os::unix::net::UnixStream::from(accepted))?;
                Ok(Some((Stream::Unix(stream), None)))
            }
        }
    }

    /// Accepts one connection, with `TCP_NODELAY` set on TCP.
    pub async fn accept(&self) -> io::Result<(Stream, Option<SocketAddr>)> {
        match self {
            Listener::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                s.set_nodelay(true)?;
                Ok((Stream::Tcp(s), Some(peer)))
            }
            Listener::Unix(l) => {
                let (s, _) = l.accept().await?;
                Ok((Stream::Unix(s), None))
            }
        }
    }
}

/// A connected stream: TCP, Unix, or a TLS session over either.
#[derive(Debug)]
pub enum Stream {
    /// A TCP stream.
    Tcp(TcpStream),
    /// A Unix socket stream.
    Unix(UnixStream),
    /// A TLS session (feature `tls`), client's or server's, over a TCP or Unix stream.
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::TlsStream<Stream>>),
}

impl Stream {
    /// Reads what is already available without waiting: `Ok(0)` at end of stream, an error of
    /// kind `WouldBlock` when nothing is there.
    pub fn try_read_buf(&mut self, buf: &mut bytes::BytesMut) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.try_read_buf(buf),
            Stream::Unix(s) => s.try_read_buf(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => try_read(&mut **s, buf),
        }
    }

    /// Splits into halves that a reader task and a writer task own.
    pub fn into_split(self) -> (ReadHalf, WriteHalf) {
        match self {
            Stream::Tcp(s) => {
                let (r, w) = s.into_split();
                (ReadHalf::Tcp(r), WriteHalf::Tcp(w))
            }
            Stream::Unix(s) => {
                let (r, w) = s.into_split();
                (ReadHalf::Unix(r), WriteHalf::Unix(w))
            }
            #[cfg(feature = "tls")]
            Stream::Tls(s) => {
                let shared = TlsShared(std::sync::Arc::new(std::sync::Mutex::new(s)));
                (ReadHalf::Tls(shared.clone()), WriteHalf::Tls(shared))
            }
        }
    }
}

/// A TLS session shared by its halves: reading and writing both go through the one session,
/// each holding it only while polled.
#[cfg(feature = "tls")]
#[derive(Clone, Debug)]
pub struct TlsShared(std::sync::Arc<std::sync::Mutex<Box<tokio_rustls::TlsStream<Stream>>>>);

#[cfg(feature = "tls")]
impl TlsShared {
    fn poll<R>(
        &self,
        f: impl FnOnce(Pin<&mut tokio_rustls::TlsStream<Stream>>) -> Poll<R>,
    ) -> Poll<R> {
        // Nothing panics while holding the lock in a way that leaves the session unusable
        // for the other half: a poisoned lock is still used.
        let mut session = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(Pin::new(&mut **session))
    }

    /// Polls `f` once without waiting: `WouldBlock` if it would.
    fn now<R>(
        &self,
        f: impl FnOnce(
            Pin<&mut tokio_rustls::TlsStream<Stream>>,
            &mut Context<'_>,
        ) -> Poll<io::Result<R>>,
    ) -> io::Result<R> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match self.poll(|s| f(s, &mut cx)) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

/// A read of what is available now from a stream that has no `try_read` of its own.
#[cfg(feature = "tls")]
fn try_read<T: AsyncRead + Unpin>(io: &mut T, buf: &mut bytes::BytesMut) -> io::Result<usize> {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match tokio_util::io::poll_read_buf(Pin::new(io), &mut cx, buf) {
        Poll::Ready(result) => result,
        Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
    }
}

/// The reading half of a [`Stream`].
#[derive(Debug)]
pub enum ReadHalf {
    /// Of a TCP stream.
    Tcp(tcp::OwnedReadHalf),
    /// Of a Unix stream.
    Unix(unix::OwnedReadHalf),
    /// Of a TLS session.
    #[cfg(feature = "tls")]
    Tls(TlsShared),
}

impl ReadHalf {
    /// Reads what is already available without waiting: `Ok(0)` at end of stream, an error of
    /// kind `WouldBlock` when nothing is there.
    pub fn try_read_buf(&mut self, buf: &mut bytes::BytesMut) -> io::Result<usize> {
        match self {
            ReadHalf::Tcp(r) => r.try_read_buf(buf),
            ReadHalf::Unix(r) => r.try_read_buf(buf),
            #[cfg(feature = "tls")]
            ReadHalf::Tls(_) => try_read(self, buf),
        }
    }
}

/// The writing half of a [`Stream`].
#[derive(Debug)]
pub enum WriteHalf {
    /// Of a TCP stream.
    Tcp(tcp::OwnedWriteHalf),
    /// Of a Unix stream.
    Unix(unix::OwnedWriteHalf),
    /// Of a TLS session.
    #[cfg(feature = "tls")]
    Tls(TlsShared),
}

impl WriteHalf {
    /// Writes what the socket takes now without waiting: an error of kind `WouldBlock` when
    /// it takes nothing. Over TLS, bytes taken may wait in the session until
    /// [`try_flush`](WriteHalf::try_flush) or [`flushed`](WriteHalf::flushed) sends them.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            WriteHalf::Tcp(w) => w.try_write(buf),
            WriteHalf::Unix(w) => w.try_write(buf),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(s) => s.now(|s, cx| s.poll_write(cx, buf)),
        }
    }

    /// Waits until the socket may take more bytes.
    pub async fn writable(&self) -> io::Result<()> {
        match self {
            WriteHalf::Tcp(w) => w.writable().await,
            WriteHalf::Unix(w) => w.writable().await,
            #[cfg(feature = "tls")]
            WriteHalf::Tls(s) => std::future::poll_fn(|cx| s.poll(|s| s.poll_flush(cx))).await,
        }
    }

    /// Sends what the TLS session holds that the socket takes now, without waiting: whether
    /// nothing is left. Always true without TLS, where writes go straight to the socket.
    pub fn try_flush(&self) -> io::Result<bool> {
        match self {
            WriteHalf::Tcp(_) | WriteHalf::Unix(_) => Ok(true),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(s) => match s.now(|s, cx| s.poll_flush(cx)) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
                Err(e) => Err(e),
            },
        }
    }

    /// Waits until what the TLS session holds is sent (at once without TLS).
    pub async fn flushed(&self) -> io::Result<()> {
        match self {
            WriteHalf::Tcp(_) | WriteHalf::Unix(_) => Ok(()),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(s) => std::future::poll_fn(|cx| s.poll(|s| s.poll_flush(cx))).await,
        }
    }

    /// Shuts the writing side down (the peer reads end of stream), through a shared
    /// reference; over TLS, after telling the peer (`close_notify`).
    pub async fn close(&self) -> io::Result<()> {
        let sock = match self {
            WriteHalf::Tcp(w) => socket2::SockRef::from(w.as_ref()),
            WriteHalf::Unix(w) => socket2::SockRef::from(w.as_ref()),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(s) => {
                return std::future::poll_fn(|cx| s.poll(|s| s.poll_shutdown(cx))).await;
            }
        };
        sock.shutdown(std::net::Shutdown::Write)
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }
}

impl AsyncRead for ReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ReadHalf::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            ReadHalf::Unix(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            ReadHalf::Tls(s) => s.poll(|s| s.poll_read(cx, buf)),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
        }
    }
}

impl AsyncWrite for WriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            WriteHalf::Unix(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(s) => s.poll(|s| s.poll_write(cx, buf)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_flush(cx),
            WriteHalf::Unix(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(s) => s.poll(|s| s.poll_flush(cx)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            WriteHalf::Unix(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(s) => s.poll(|s| s.poll_shutdown(cx)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tcp_and_unix_forms() {
        let a: Address = "127.0.0.1:9090".parse().unwrap();
        assert_eq!(a, Address::Tcp("127.0.0.1:9090".parse().unwrap()));
        let b: Address = "tcp://127.0.0.1:1".parse().unwrap();
        assert_eq!(b.to_string(), "127.0.0.1:1");
        let u: Address = "unix:///tmp/r.sock".parse().unwrap();
        assert_eq!(u, Address::Unix("/tmp/r.sock".into()));
        assert_eq!(u.to_string(), "unix:/tmp/r.sock");
        assert!("unix:".parse::<Address>().is_err());
        assert!("no-port".parse::<Address>().is_err());
    }
}
