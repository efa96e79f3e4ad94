use std::{
    io::{self, BufRead, BufReader, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    path::PathBuf,
    process::Command,
    time::Duration,
};

use crate::{
    TempDir,
    engine::{self, Supervised},
    find_binary, free_port,
};

/// The variable that names the `redis-server` binary to use (else `redis-server` on `PATH`
/// or in `/usr/bin`, where Debian puts it).
pub const REDIS_BIN_ENV: &str = "ROOKERY_REDIS_SERVER";

/// Set to `1` to skip the tests that need redis-server on a machine that has none (see
/// [`RedisServer::start_or_skip`]).
pub const SKIP_REDIS_ENV: &str = "ROOKERY_SKIP_REDIS";

/// How to get redis-server, for the error when it is missing.
const INSTALL_HINT: &str = "Install Debian's redis-server package (`apt-get install \
    redis-server`; .ci/install does it), or set ROOKERY_REDIS_SERVER to a redis-server binary, \
    or set ROOKERY_SKIP_REDIS=1 to skip the tests that need Redis";

/// How long redis-server may take to answer PING after it starts (it loads its append-only
/// file first on a restart).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// One reply in Redis's protocol (RESP2), as [`RedisServer::command`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A status reply (`+OK`).
    Status(String),
    /// An error reply (`-ERR ...`).
    Error(String),
    /// An integer reply.
    Integer(i64),
    /// A bulk string; `None` for the null bulk string.
    Bulk(Option<Vec<u8>>),
    /// An array; `None` for the null array.
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The integer, if it is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The text of a status or bulk reply.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Reply::Status(s) => Some(s.clone()),
            Reply::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    /// The items of an array reply (empty for a null array).
    pub fn items(&self) -> &[Reply] {
        match self {
            Reply::Array(Some(items)) => items,
            _ => &[],
        }
    }
}

/// A real `redis-server` run as a child process on an ephemeral `127.0.0.1` port, with its
/// data (an append-only file, synced on every write; no RDB snapshots) in a temporary
/// directory. Ready when it answers `PING`. Killed, and its data removed, on drop.
///
/// [`stop`](RedisServer::stop), [`kill`](RedisServer::kill) and
/// [`restart`](RedisServer::restart) take it down and bring it back on the same port with the
/// same data, as an operator's restart would: streams and consumer groups survive, even a
/// crash.
///
/// [`command`](RedisServer::command) sends one command over a connection of its own, so a
/// test can check what the code under test stored (`XLEN`, `XPENDING`) without trusting that
/// code.
#[derive(Debug)]
pub struct RedisServer {
    binary: PathBuf,
    port: u16,
    dir: TempDir,
    process: Supervised,
}

impl RedisServer {
    /// Starts redis-server and waits until it answers `PING`. Fails if the binary is missing
    /// (the error names it and says how to install it), or if the server does not come up
    /// (the error shows its last log lines).
    pub fn start() -> io::Result<RedisServer> {
        let binary = find_binary("redis-server", Some(REDIS_BIN_ENV), INSTALL_HINT)?;
        engine::on_free_ports("redis-server", || {
            let mut server = RedisServer {
                binary: binary.clone(),
                port: free_port()?,
                dir: TempDir::new("rookery-redis")?,
                process: Supervised::new("redis-server"),
            };
            server.launch()?;
            Ok(server)
        })
    }

    /// [`start`](RedisServer::start), unless `ROOKERY_SKIP_REDIS` is set: then it prints why
    /// and returns `None`, and the test should return. Panics with the reason when
    /// redis-server cannot be started, so a machine without it fails the test rather than
    /// passing it silently.
    pub fn start_or_skip() -> Option<RedisServer> {
        engine::start_or_skip(SKIP_REDIS_ENV, "redis-server", Self::start)
    }

    /// Where clients reach it: `127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Its URL: `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its data directory (kept across [`stop`](RedisServer::stop) and
    /// [`restart`](RedisServer::restart), removed on drop).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// Whether it runs (started and not stopped, and has not exited).
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// What it logged so far (since it was last started).
    pub fn log(&self) -> Vec<String> {
        self.process.log()
    }

    /// Stops it (`SIGTERM`, then `SIGKILL` after 10 s); its port and data are kept for
    /// [`restart`](RedisServer::restart).
    pub fn stop(&mut self) -> io::Result<()> {
        self.process.stop()
    }

    /// Kills it at once (`SIGKILL`), as a crash would; port and data are kept.
    pub fn kill(&mut self) -> io::Result<()> {
        self.process.kill()
    }

    /// Freezes it (`SIGSTOP`): connections stay open and nothing answers.
    pub fn pause(&self) -> io::Result<()> {
        self.process.pause()
    }

    /// Lets a paused server go on (`SIGCONT`).
    pub fn resume(&self) -> io::Result<()> {
        self.process.resume()
    }

    /// Starts it again on the same port with the same data (stopping it first if it runs),
    /// and waits until it answers `PING`.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop()?;
        self.launch()
    }

    /// Sends one command (`["XLEN", "orders"]`) over a fresh connection and returns the
    /// reply. A Redis error reply is returned as [`Reply::Error`], not as an `Err`.
    pub fn command(&self, args: &[&str]) -> io::Result<Reply> {
        Self::command_to(self.port, args)
    }

    /// The same command to `port`, without borrowing the server (as it starts).
    fn command_to(port: u16, args: &[&str]) -> io::Result<Reply> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_write_timeout(Some(Duration::from_secs(30)))?;
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        (&stream).write_all(&request)?;
        read_reply(&mut BufReader::new(stream))
    }

    /// How many entries the stream `key` holds (0 when there is no such key).
    pub fn xlen(&self, key: &str) -> io::Result<i64> {
        self.command(&["XLEN", key])?
            .as_int()
            .ok_or_else(|| io::Error::other(format!("XLEN {key}: not an integer")))
    }

    /// Starts the process on this server's port and data, and waits for it to answer PING.
    fn launch(&mut self) -> io::Result<()> {
        let mut command = Command::new(&self.binary);
        command
            .args(["--bind", "127.0.0.1"])
            .args(["--port", &self.port.to_string()])
            .args(["--dir", &self.dir.path().display().to_string()])
            // No snapshots; an append-only file synced on every write, so a restart (even
            // after SIGKILL) finds what was acknowledged.
            .args(["--save", ""])
            .args(["--appendonly", "yes"])
            .args(["--appendfsync", "always"])
            .args(["--daemonize", "no"])
            .args(["--logfile", ""]);
        let name = format!("redis-server:{}", self.port);
        let port = self.port;
        // Ready when it answers `PING` with `PONG` (it answers `-LOADING` while it reads
        // its data back).
        self.process
            .launch(&name, command, READY_TIMEOUT, "answer PING", |_| {
                Ok(matches!(
                    Self::command_to(port, &["PING"]),
                    Ok(Reply::Status(pong)) if pong == "PONG"
                ))
            })
    }
}

/// Reads one RESP2 reply.
fn read_reply(reader: &mut impl BufRead) -> io::Result<Reply> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "redis-server closed the connection",
        ));
    }
    let line = line.trim_end_matches(['\r', '\n']);
    let (kind, rest) = line.split_at(line.len().min(1));
    let number = || {
        rest.parse::<i64>()
            .map_err(|_| io::Error::other(format!("malformed reply line {line:?}")))
    };
    Ok(match kind {
        "+" => Reply::Status(rest.to_owned()),
        "-" => Reply::Error(rest.to_owned()),
        ":" => Reply::Integer(number()?),
        "$" => match usize::try_from(number()?) {
            Err(_) => Reply::Bulk(None),
            Ok(len) => {
                let mut data = vec![0; len + 2];
                reader.read_exact(&mut data)?;
                data.truncate(len);
                Reply::Bulk(Some(data))
            }
        },
        "*" => match usize::try_from(number()?) {
            Err(_) => Reply::Array(None),
            Ok(len) => Reply::Array(Some(
                (0..len)
                    .map(|_| read_reply(reader))
                    .collect::<io::Result<_>>()?,
            )),
        },
        _ => return Err(io::Error::other(format!("malformed reply line {line:?}"))),
    })
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // Kill before the data goes (fields drop after this).
        let _ = self.kill();
    }
}
