use std::{
    io::{self, Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    path::PathBuf,
    process::Command,
    time::Duration,
};

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use serde_json::{Value, json};

use crate::{
    TempDir,
    engine::{self, Supervised},
    find_binary, free_ports,
};

/// The variable that names the `etcd` binary to use (else `etcd` on `PATH`).
pub const ETCD_BIN_ENV: &str = "ROOKERY_ETCD";

/// Set to `1` to skip the tests that need etcd on a machine that has none (see
/// [`EtcdServer::start_or_skip`]).
pub const SKIP_ETCD_ENV: &str = "ROOKERY_SKIP_ETCD";

/// How to get etcd, for the error when it is missing.
const INSTALL_HINT: &str = "Install Debian's etcd-server package (`apt-get install etcd-server`; \
    .ci/install does it), or set ROOKERY_ETCD to an etcd binary, \
    or set ROOKERY_SKIP_ETCD=1 to skip the tests that need etcd";

/// How long etcd may take to answer after it starts.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A real single-member etcd, run as a child process on ephemeral `127.0.0.1` ports (one
/// for clients, one for peers) with its data in a temporary directory. Killed, and its data
/// removed, on drop.
///
/// [`stop`](EtcdServer::stop) and [`restart`](EtcdServer::restart) take it down and bring
/// it back on the same ports with the same data, as an operator's restart would.
///
/// It can also read and write keys itself, over etcd's JSON gateway (plain HTTP on the
/// client port), so a test can seed entries and check what the code under test wrote
/// without trusting that code.
#[derive(Debug)]
pub struct EtcdServer {
    binary: PathBuf,
    client_port: u16,
    peer_port: u16,
    dir: TempDir,
    process: Supervised,
}

/// One key as [`EtcdServer::get_prefix`] reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The key (lossy UTF-8).
    pub key: String,
    /// The value (lossy UTF-8).
    pub value: String,
    /// The lease the key is attached to; 0 for none.
    pub lease: i64,
}

impl EtcdServer {
    /// Starts etcd and waits until it answers. Fails if the binary is missing (the error
    /// names it and says how to install it), or if etcd does not come up (the error shows
    /// its last log lines).
    pub fn start() -> io::Result<EtcdServer> {
        let binary = find_binary("etcd", Some(ETCD_BIN_ENV), INSTALL_HINT)?;
        engine::on_free_ports("etcd", || {
            let ports = free_ports(2)?;
            let mut server = EtcdServer {
                binary: binary.clone(),
                client_port: ports[0],
                peer_port: ports[1],
                dir: TempDir::new("rookery-etcd")?,
                process: Supervised::new("etcd"),
            };
            server.launch()?;
            Ok(server)
        })
    }

    /// [`start`](EtcdServer::start), unless `ROOKERY_SKIP_ETCD` is set: then it prints why
    /// and returns `None`, and the test should return. Panics with the reason when etcd
    /// cannot be started, so a machine without etcd fails the test rather than passing it
    /// silently.
    pub fn start_or_skip() -> Option<EtcdServer> {
        engine::start_or_skip(SKIP_ETCD_ENV, "etcd", Self::start)
    }

    /// Where clients reach it: `127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// Its client URL: `http://127.0.0.1:PORT`.
    pub fn client_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// Its client port.
    pub fn client_port(&self) -> u16 {
        self.client_port
    }

    /// Its peer port.
    pub fn peer_port(&self) -> u16 {
        self.peer_port
    }

    /// Its data directory (kept across [`stop`](EtcdServer::stop) and
    /// [`restart`](EtcdServer::restart), removed on drop).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
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

    /// Stops it (`SIGTERM`, then `SIGKILL` after 10 s); its ports and data are kept for
    /// [`restart`](EtcdServer::restart).
    pub fn stop(&mut self) -> io::Result<()> {
        self.process.stop()
    }

    /// Kills it at once (`SIGKILL`), as a crash would; ports and data are kept.
    pub fn kill(&mut self) -> io::Result<()> {
        self.process.kill()
    }

    /// Freezes it (`SIGSTOP`): connections stay open and nothing answers.
    pub fn pause(&self) -> io::Result<()> {
        self.process.pause()
    }

    /// Lets a paused etcd go on (`SIGCONT`).
    pub fn resume(&self) -> io::Result<()> {
        self.process.resume()
    }

    /// Starts it again on the same ports with the same data (stopping it first if it
    /// runs), and waits until it answers.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop()?;
        self.launch()
    }

    /// Writes `key` = `value` (no lease).
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> io::Result<()> {
        self.post(
            "/v3/kv/put",
            &json!({ "key": BASE64.encode(key), "value": BASE64.encode(value) }),
        )?;
        Ok(())
    }

    /// Every key that starts with `prefix`, in key order.
    pub fn get_prefix(&self, prefix: impl AsRef<[u8]>) -> io::Result<Vec<KeyValue>> {
        let prefix = prefix.as_ref();
        let reply = self.post(
            "/v3/kv/range",
            &json!({ "key": BASE64.encode(prefix), "range_end": BASE64.encode(prefix_end(prefix)) }),
        )?;
        let Some(kvs) = reply.get("kvs").and_then(Value::as_array) else {
            return Ok(Vec::new());
        };
        kvs.iter()
            .map(|kv| {
                Ok(KeyValue {
                    key: lossy(&decode_bytes(kv.get("key"))?),
                    value: lossy(&decode_bytes(kv.get("value"))?),
                    lease: int(kv.get("lease")),
                })
            })
            .collect()
    }

    /// Deletes every key that starts with `prefix`; returns how many there were.
    pub fn delete_prefix(&self, prefix: impl AsRef<[u8]>) -> io::Result<u64> {
        let prefix = prefix.as_ref();
        let reply = self.post(
            "/v3/kv/deleterange",
            &json!({ "key": BASE64.encode(prefix), "range_end": BASE64.encode(prefix_end(prefix)) }),
        )?;
        Ok(int(reply.get("deleted")).max(0) as u64)
    }

    /// The TTL lease `id` was granted with, in seconds, or `None` if etcd does not know it
    /// (never granted, revoked or expired).
    pub fn lease_granted_ttl(&self, id: i64) -> io::Result<Option<i64>> {
        let reply = self.post("/v3/lease/timetolive", &json!({ "ID": id.to_string() }))?;
        if int(reply.get("TTL")) < 0 {
            return Ok(None);
        }
        Ok(Some(int(reply.get("grantedTTL"))))
    }

    /// Starts the process on this server's ports and data, and waits for it to answer.
    fn launch(&mut self) -> io::Result<()> {
        let client = self.client_url();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let mut command = Command::new(&self.binary);
        command
            .arg("--name=rookery-test")
            .arg(format!("--data-dir={}", self.data_dir().display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=rookery-test={peer}"))
            .arg("--initial-cluster-token=rookery-test")
            .arg("--initial-cluster-state=new")
            .arg("--logger=zap")
            .arg("--log-outputs=stderr");
        if cfg!(target_arch = "aarch64") {
            // etcd 3.4 refuses to run on arm64 unless told it may.
            command.env("ETCD_UNSUPPORTED_ARCH", "arm64");
        }
        let name = format!("etcd:{}", self.client_port);
        let port = self.client_port;
        self.process
            .launch(&name, command, READY_TIMEOUT, "answer /health", |_| {
                Ok(Self::request_to(port, "GET", "/health", None)
                    .is_ok_and(|body| body.get("health").and_then(Value::as_str) == Some("true")))
            })
    }

    fn post(&self, path: &str, body: &Value) -> io::Result<Value> {
        self.request("POST", path, Some(body))
    }

    /// One HTTP/1.0 request to the client port (the server closes the connection after the
    /// reply, so the body is everything after the headers).
    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> io::Result<Value> {
        Self::request_to(self.client_port, method, path, body)
    }

    /// The same request to `port`, without borrowing the server (as it starts).
    fn request_to(port: u16, method: &str, path: &str, body: Option<&Value>) -> io::Result<Value> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_write_timeout(Some(Duration::from_secs(30)))?;
        let body = body.map(Value::to_string).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply)?;
        let text = String::from_utf8_lossy(&reply);
        let (head, payload) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| io::Error::other(format!("{method} {path}: no HTTP reply: {text:?}")))?;
        let status = head.split_whitespace().nth(1).unwrap_or("");
        if status != "200" {
            return Err(io::Error::other(format!(
                "{method} {path}: HTTP {status}: {payload}"
            )));
        }
        serde_json::from_str(payload)
            .map_err(|e| io::Error::other(format!("{method} {path}: {e}: {payload:?}")))
    }
}

/// The end of the key range of every key that starts with `prefix` (etcd's `range_end`).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Every byte is 0xff (or the prefix is empty): to the end of the key space.
    vec![0]
}

fn decode_bytes(value: Option<&Value>) -> io::Result<Vec<u8>> {
    match value.and_then(Value::as_str) {
        None => Ok(Vec::new()),
        Some(s) => BASE64
            .decode(s)
            .map_err(|e| io::Error::other(format!("etcd sent bad base64 {s:?}: {e}"))),
    }
}

/// etcd's gateway writes 64-bit integers as strings, and leaves out zeros.
fn int(value: Option<&Value>) -> i64 {
    match value {
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        // Kill before the data directory goes (fields drop after this).
        let _ = self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"/a/"), b"/a0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b""), b"\0");
    }
}
