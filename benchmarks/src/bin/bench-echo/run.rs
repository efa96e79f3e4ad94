//! One measurement: a fresh server process, its client at one concurrency, and what the
//! server spent on it.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rookery_benchmarks::load::{Mode, WARMUP_DONE, WINDOW_DONE};
use rookery_benchmarks::serve::LISTENING;

use crate::procfs;

/// How long a server gets to print that it is listening.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a client may run beyond its warm-up and window before it is killed.
const CLIENT_SLACK: Duration = Duration::from_secs(60);
/// How long a server gets to exit after SIGTERM before it is killed.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// A program and the arguments it always takes.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    pub(crate) path: PathBuf,
    pub(crate) args: Vec<String>,
}

impl Program {
    /// `path` with no fixed arguments.
    pub(crate) fn bare(path: PathBuf) -> Program {
        Program {
            path,
            args: Vec::new(),
        }
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.path);
        command.args(&self.args);
        command
    }
}

/// Which flags a client takes for the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientFlags {
    /// The benchmark client contract (`benchmarks/README.md`): `--addr`, `--concurrency`,
    /// `--duration SECS`, `--warmup SECS`, `--payload`, and `--connections` if it takes it.
    Contract {
        /// Whether it lets the caller choose the number of connections.
        takes_connections: bool,
    },
    /// The Kitex peer's `bench` (`interop/kitex`): `--addr`, `--concurrency`, `--size`, and
    /// Go durations for `--duration` and `--warmup`; same markers, same JSON keys.
    KitexBench,
}

/// A framework's server and client, and how to call them. The server is given
/// `--addr ADDR` after its fixed arguments; its stdin stays open until it is stopped (the
/// Kitex peer's server stops when its stdin closes, the others on SIGTERM).
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub(crate) name: String,
    pub(crate) server: Program,
    pub(crate) client: Program,
    pub(crate) client_flags: ClientFlags,
    /// Whether its client can make server-streaming calls (`--mode stream`).
    pub(crate) streams: bool,
}

/// The load one measurement applies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Load {
    pub(crate) concurrency: usize,
    pub(crate) duration: Duration,
    pub(crate) warmup: Duration,
    pub(crate) payload: usize,
    pub(crate) connections: usize,
    pub(crate) mode: Mode,
    /// The responses per call in [`Mode::Stream`].
    pub(crate) stream_count: u32,
}

impl Load {
    /// What one call is, for the tables: `unary 1024 B`, `stream×100 1024 B`.
    pub(crate) fn workload(&self) -> String {
        match self.mode {
            Mode::Unary => format!("unary {} B", self.payload),
            Mode::Stream => format!("stream×{} {} B", self.stream_count, self.payload),
        }
    }
}

/// What one measurement found.
#[derive(Debug, Clone)]
pub(crate) struct Measurement {
    pub(crate) framework: String,
    /// What one call was ([`Load::workload`]).
    pub(crate) workload: String,
    pub(crate) concurrency: usize,
    pub(crate) calls: u64,
    pub(crate) errors: u64,
    pub(crate) qps: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) p999_us: f64,
    /// Server CPU time (user + system) in the window, per successful call.
    pub(crate) server_cpu_us_per_call: f64,
    /// Client CPU time in the window, per successful call (the load generator's cost).
    pub(crate) client_cpu_us_per_call: f64,
    pub(crate) server_peak_rss_mib: f64,
}

/// A child process whose stdout lines arrive on a channel; killed if dropped unfinished.
struct Spawned {
    child: Child,
    /// The child's stdin when it is kept open (servers): closed by [`Spawned::terminate`].
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    what: String,
}

impl Spawned {
    /// Starts `command`; with `hold_stdin` its stdin is a pipe kept open until
    /// [`Spawned::terminate`], otherwise `/dev/null`.
    fn start(mut command: Command, what: String, hold_stdin: bool) -> Result<Spawned, String> {
        let mut child = command
            .stdin(if hold_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {what}: {e}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        // Keep draining stdout for the process's whole life so it never blocks on a full pipe.
        thread::spawn(move || forward_lines(stdout, tx));
        Ok(Spawned {
            child,
            stdin,
            lines,
            what,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next stdout line, `Err` on timeout or when the process closed stdout.
    fn next_line(&self, deadline: Instant) -> Result<String, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.lines.recv_timeout(left).map_err(|e| match e {
            mpsc::RecvTimeoutError::Timeout => format!("{} timed out", self.what),
            mpsc::RecvTimeoutError::Disconnected => format!("{} exited early", self.what),
        })
    }

    /// Closes its stdin, sends SIGTERM and waits for the exit; kills the process if it
    /// lingers.
    fn terminate(mut self) {
        drop(self.stdin.take());
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "{} ignored SIGTERM for {SHUTDOWN_TIMEOUT:?}; killing it",
            self.what
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn forward_lines(stdout: impl Read, tx: mpsc::Sender<String>) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { return };
        if tx.send(line).is_err() {
            // Nobody listens any more; keep reading so the child never blocks.
            continue;
        }
    }
}

/// A loopback port that was free a moment ago.
fn free_loopback_port() -> Result<SocketAddr, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map_err(|e| format!("no free port: {e}"))
}

/// Runs `peer`'s server and client once at `load` and measures them.
pub(crate) fn measure(peer: &Peer, load: &Load) -> Result<Measurement, String> {
    let addr = free_loopback_port()?.to_string();

    let mut server_cmd = peer.server.command();
    server_cmd.args(["--addr", &addr]);
    let server = Spawned::start(server_cmd, format!("{} server", peer.name), true)?;
    let ready_by = Instant::now() + STARTUP_TIMEOUT;
    loop {
        let line = server.next_line(ready_by)?;
        if line.starts_with(LISTENING) {
            break;
        }
    }

    let mut client = Spawned::start(
        client_command(peer, load, &addr)?,
        format!("{} client", peer.name),
        false,
    )?;
    let done_by = Instant::now() + load.warmup + load.duration + CLIENT_SLACK;

    // CPU times at the window's edges, as (server, client).
    let mut at_start = None;
    let mut at_end = None;
    let summary = loop {
        let line = client.next_line(done_by)?;
        let line = line.trim();
        if line == WARMUP_DONE {
            at_start = Some(cpu_pair(&server, &client)?);
        } else if line == WINDOW_DONE {
            at_end = Some(cpu_pair(&server, &client)?);
        } else if line.starts_with('{') {
            break serde_json::from_str::<serde_json::Value>(line)
                .map_err(|e| format!("{} client printed bad JSON ({e}): {line}", peer.name))?;
        }
    };
    let (Some(start), Some(end)) = (at_start, at_end) else {
        return Err(format!(
            "{} client did not print the window markers `{WARMUP_DONE}` and `{WINDOW_DONE}`",
            peer.name
        ));
    };
    let peak_rss =
        procfs::peak_rss_bytes(server.pid()).map_err(|e| format!("{} server: {e}", peer.name))?;
    let client_status = client.child.wait().map_err(|e| e.to_string())?;
    server.terminate();
    if !client_status.success() {
        return Err(format!("{} client exited with {client_status}", peer.name));
    }

    let number = |key: &str| summary[key].as_f64().unwrap_or(f64::NAN);
    let calls = summary["calls"].as_u64().unwrap_or(0);
    let per_call_us = |spent: Duration| {
        if calls == 0 {
            f64::NAN
        } else {
            spent.as_secs_f64() * 1e6 / calls as f64
        }
    };
    Ok(Measurement {
        framework: peer.name.clone(),
        workload: load.workload(),
        concurrency: load.concurrency,
        calls,
        errors: summary["errors"].as_u64().unwrap_or(0),
        qps: number("qps"),
        p50_us: number("p50_us"),
        p99_us: number("p99_us"),
        p999_us: number("p999_us"),
        server_cpu_us_per_call: per_call_us(end.0.saturating_sub(start.0)),
        client_cpu_us_per_call: per_call_us(end.1.saturating_sub(start.1)),
        server_peak_rss_mib: peak_rss as f64 / (1024.0 * 1024.0),
    })
}

/// The client's command line for `load` against `addr`.
fn client_command(peer: &Peer, load: &Load, addr: &str) -> Result<Command, String> {
    let mut command = peer.client.command();
    let concurrency = load.concurrency.to_string();
    let payload = load.payload.to_string();
    match peer.client_flags {
        ClientFlags::Contract { takes_connections } => {
            command.args([
                "--addr",
                addr,
                "--concurrency",
                &concurrency,
                "--duration",
                &load.duration.as_secs_f64().to_string(),
                "--warmup",
                &load.warmup.as_secs_f64().to_string(),
                "--payload",
                &payload,
            ]);
            if takes_connections {
                command.args(["--connections", &load.connections.to_string()]);
            }
            if load.mode == Mode::Stream {
                command.args([
                    "--mode",
                    "stream",
                    "--stream-count",
                    &load.stream_count.to_string(),
                ]);
            }
        }
        ClientFlags::KitexBench => {
            if load.mode == Mode::Stream {
                return Err(format!("{} has no streaming calls", peer.name));
            }
            // Go's durations: `10s`, `0.5s`.
            command.args([
                "--addr",
                addr,
                "--concurrency",
                &concurrency,
                "--size",
                &payload,
                "--duration",
                &format!("{}s", load.duration.as_secs_f64()),
                "--warmup",
                &format!("{}s", load.warmup.as_secs_f64()),
            ]);
        }
    }
    Ok(command)
}

fn cpu_pair(server: &Spawned, client: &Spawned) -> Result<(Duration, Duration), String> {
    let server_cpu = procfs::cpu_time(server.pid()).map_err(|e| format!("server: {e}"))?;
    let client_cpu = procfs::cpu_time(client.pid()).map_err(|e| format!("client: {e}"))?;
    Ok((server_cpu, client_cpu))
}
