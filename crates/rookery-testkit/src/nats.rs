use std::{
    io::{self, Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    path::PathBuf,
    process::Command,
    time::Duration,
};

use serde_json::Value;

use crate::{
    TempDir,
    engine::{self, Supervised},
    find_binary, free_ports,
};

/// The variable that names the `nats-server` binary to use (else `nats-server` on `PATH`
/// or in `/usr/sbin`, where Debian puts it).
pub const NATS_BIN_ENV: &str = "ROOKERY_NATS_SERVER";

/// Set to `1` to skip the tests that need nats-server on a machine that has none (see
/// [`NatsServer::start_or_skip`]).
pub const SKIP_NATS_ENV: &str = "ROOKERY_SKIP_NATS";

/// How to get nats-server, for the error when it is missing.
const INSTALL_HINT: &str = "Install Debian's nats-server package (`apt-get install nats-server`; \
    .ci/install does it), or set ROOKERY_NATS_SERVER to a nats-server binary, \
    or set ROOKERY_SKIP_NATS=1 to skip the tests that need NATS";

/// How long nats-server may take to be ready after it starts (JetStream recovers its
/// streams from disk first on a restart).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A real nats-server with JetStream on, run as a child process on ephemeral `127.0.0.1`
/// ports (one for clients, one for its HTTP monitoring endpoint) with its JetStream store
/// in a temporary directory. Killed, and its store removed, on drop.
///
/// [`stop`](NatsServer::stop), [`kill`](NatsServer::kill) and
/// [`restart`](NatsServer::restart) take it down and bring it back on the same ports with
/// the same store, as an operator's restart would (streams and durable consumers survive).
///
/// It can also read the server's own account of its state over the monitoring endpoint
/// ([`jsz`](NatsServer::jsz), [`stream_messages`](NatsServer::stream_messages)), so a test
/// can check what the code under test did without trusting that code.
#[derive(Debug)]
pub struct NatsServer {
    binary: PathBuf,
    client_port: u16,
    monitor_port: u16,
    dir: TempDir,
    process: Supervised,
}

impl NatsServer {
    /// Starts nats-server with JetStream and waits until it is ready. Fails if the binary
    /// is missing (the error names it and says how to install it), or if the server does
    /// not come up (the error shows its last log lines).
    pub fn start() -> io::Result<NatsServer> {
        let binary = find_binary("nats-server", Some(NATS_BIN_ENV), INSTALL_HINT)?;
        engine::on_free_ports("nats-server", || {
            let ports = free_ports(2)?;
            let mut server = NatsServer {
                binary: binary.clone(),
                client_port: ports[0],
                monitor_port: ports[1],
                dir: TempDir::new("rookery-nats")?,
                process: Supervised::new("nats-server"),
            };
            server.launch()?;
            Ok(server)
        })
    }

    /// [`start`](NatsServer::start), unless `ROOKERY_SKIP_NATS` is set: then it prints why
    /// and returns `None`, and the test should return. Panics with the reason when
    /// nats-server cannot be started, so a machine without it fails the test rather than
    /// passing it silently.
    pub fn start_or_skip() -> Option<NatsServer> {
        engine::start_or_skip(SKIP_NATS_ENV, "nats-server", Self::start)
    }

    /// Where clients reach it: `127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// Its client URL: `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.client_port)
    }

    /// Its client port.
    pub fn client_port(&self) -> u16 {
        self.client_port
    }

    /// Its HTTP monitoring port (`/varz`, `/jsz`, `/healthz`).
    pub fn monitor_port(&self) -> u16 {
        self.monitor_port
    }

    /// Its JetStream store directory (kept across [`stop`](NatsServer::stop) and
    /// [`restart`](NatsServer::restart), removed on drop).
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
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

    /// Stops it (`SIGTERM`, then `SIGKILL` after 10 s); its ports and store are kept for
    /// [`restart`](NatsServer::restart).
    pub fn stop(&mut self) -> io::Result<()> {
        self.process.stop()
    }

    /// Kills it at once (`SIGKILL`), as a crash would; ports and store are kept.
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

    /// Starts it again on the same ports with the same store (stopping it first if it
    /// runs), and waits until it is ready.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop()?;
        self.launch()
    }

    /// The server's JetStream report (`GET /jsz?streams=true&consumers=true`): every
    /// stream with its message count and every consumer, as nats-server tells it.
    pub fn jsz(&self) -> io::Result<Value> {
        self.get("/jsz?streams=true&consumers=true")
    }

    /// The names of the JetStream streams the server holds.
    pub fn stream_names(&self) -> io::Result<Vec<String>> {
        Ok(streams(&self.jsz()?)
            .filter_map(|s| s.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect())
    }

    /// How many messages the stream `name` holds now, or `None` if there is no such stream.
    pub fn stream_messages(&self, name: &str) -> io::Result<Option<u64>> {
        Ok(streams(&self.jsz()?)
            .find(|s| s.get("name").and_then(Value::as_str) == Some(name))
            .map(|s| {
                s.pointer("/state/messages")
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
            }))
    }

    /// Starts the process on this server's ports and store, and waits for it to be ready.
    fn launch(&mut self) -> io::Result<()> {
        let mut command = Command::new(&self.binary);
        command
            .arg("--name=rookery-test")
            .args(["-a", "127.0.0.1"])
            .args(["-p", &self.client_port.to_string()])
            .args(["-m", &self.monitor_port.to_string()])
            .arg("-js")
            .args(["-sd", &self.store_dir().display().to_string()]);
        let name = format!("nats-server:{}", self.client_port);
        let port = self.monitor_port;
        let mut logged_ready = false;
        // Ready when it logged "Server is ready" (after it bound the client port; it exits
        // if it cannot) and its health check, which covers JetStream, answers ok.
        self.process.launch(
            &name,
            command,
            READY_TIMEOUT,
            "answer /healthz",
            |process| {
                if !logged_ready {
                    process.wait_for_line(|l| l.contains("Server is ready"), READY_TIMEOUT)?;
                    logged_ready = true;
                }
                Ok(Self::get_from(port, "/healthz")
                    .is_ok_and(|body| body.get("status").and_then(Value::as_str) == Some("ok")))
            },
        )
    }

    /// One HTTP/1.0 GET to the monitoring port (the server closes the connection after the
    /// reply, so the body is everything after the headers).
    fn get(&self, path: &str) -> io::Result<Value> {
        Self::get_from(self.monitor_port, path)
    }

    /// The same GET to `port`, without borrowing the server (as it starts).
    fn get_from(port: u16, path: &str) -> io::Result<Value> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_write_timeout(Some(Duration::from_secs(30)))?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply)?;
        let text = String::from_utf8_lossy(&reply);
        let (head, payload) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| io::Error::other(format!("GET {path}: no HTTP reply: {text:?}")))?;
        let status = head.split_whitespace().nth(1).unwrap_or("");
        if status != "200" {
            return Err(io::Error::other(format!(
                "GET {path}: HTTP {status}: {payload}"
            )));
        }
        serde_json::from_str(payload)
            .map_err(|e| io::Error::other(format!("GET {path}: {e}: {payload:?}")))
    }
}

/// The streams of every account in a `/jsz?streams=true` report.
fn streams(jsz: &Value) -> impl Iterator<Item = &Value> {
    jsz.get("account_details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|account| {
            account
                .get("stream_detail")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        // Kill before the store goes (fields drop after this).
        let _ = self.kill();
    }
}
