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

/// A connected stream, TCP or Unix.
#[derive(Debug)]
pub enum Stream {
    /// A TCP stream.
    Tcp(TcpStream),
    /// A Unix socket stream.
    Unix(UnixStream),
}

impl Stream {
    /// Reads what is already available without waiting: `Ok(0)` at end of stream, an error of
    /// kind `WouldBlock` when nothing is there.
    pub fn try_read_buf(&self, buf: &mut bytes::BytesMut) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.try_read_buf(buf),
            Stream::Unix(s) => s.try_read_buf(buf),
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
        }
    }
}

/// The reading half of a [`Stream`].
#[derive(Debug)]
pub enum ReadHalf {
    /// Of a TCP stream.
    Tcp(tcp::OwnedReadHalf),
    /// Of a Unix stream.
    Unix(unix::OwnedReadHalf),
}

impl ReadHalf {
    /// Reads what is already available without waiting: `Ok(0)` at end of stream, an error of
    /// kind `WouldBlock` when nothing is there.
    pub fn try_read_buf(&self, buf: &mut bytes::BytesMut) -> io::Result<usize> {
        match self {
            ReadHalf::Tcp(r) => r.try_read_buf(buf),
            ReadHalf::Unix(r) => r.try_read_buf(buf),
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
}

impl WriteHalf {
    /// Writes what the socket takes now without waiting: an error of kind `WouldBlock` when
    /// it takes nothing.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            WriteHalf::Tcp(w) => w.try_write(buf),
            WriteHalf::Unix(w) => w.try_write(buf),
        }
    }

    /// Waits until the socket may take more bytes.
    pub async fn writable(&self) -> io::Result<()> {
        match self {
            WriteHalf::Tcp(w) => w.writable().await,
            WriteHalf::Unix(w) => w.writable().await,
        }
    }

    /// Shuts the writing side down (the peer reads end of stream), through a shared
    /// reference.
    pub fn shutdown_write(&self) -> io::Result<()> {
        let sock = match self {
            WriteHalf::Tcp(w) => socket2::SockRef::from(w.as_ref()),
            WriteHalf::Unix(w) => socket2::SockRef::from(w.as_ref()),
        };
        sock.shutdown(std::net::Shutdown::Write)
    }
}

macro_rules! delegate_read {
    ($ty:ident) => {
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $ty::Tcp(s) => Pin::new(s).poll_read(cx, buf),
                    $ty::Unix(s) => Pin::new(s).poll_read(cx, buf),
                }
            }
        }
    };
}

macro_rules! delegate_write {
    ($ty:ident) => {
        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                match self.get_mut() {
                    $ty::Tcp(s) => Pin::new(s).poll_write(cx, buf),
                    $ty::Unix(s) => Pin::new(s).poll_write(cx, buf),
                }
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $ty::Tcp(s) => Pin::new(s).poll_flush(cx),
                    $ty::Unix(s) => Pin::new(s).poll_flush(cx),
                }
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $ty::Tcp(s) => Pin::new(s).poll_shutdown(cx),
                    $ty::Unix(s) => Pin::new(s).poll_shutdown(cx),
                }
            }
        }
    };
}

delegate_read!(Stream);
delegate_write!(Stream);
delegate_read!(ReadHalf);
delegate_write!(WriteHalf);

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
