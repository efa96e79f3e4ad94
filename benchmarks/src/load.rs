//! Closed-loop load generation shared by every benchmark client.
//!
//! A client binary parses [`ClientOptions`], builds one [`Caller`] per concurrent caller
//! (each owns whatever it needs: a client handle, a reply channel, the payload) and
//! hands them to [`drive`]. `drive` runs every caller back to back on its own task:
//! first for the warm-up, then for the measured window, and prints the two window
//! markers and finally one JSON line ([`Report::to_json_line`]) on stdout.
//!
//! Counting is by completion: a call belongs to the window when it completes inside it,
//! and its latency is measured from its own start. The server's CPU time is sampled by
//! the runner when it reads the markers, so both figures cover the same window.
//!
//! This file is also compiled into the separate volo project (`benchmarks/volo/`) by a
//! `#[path]` module, so it depends only on `std`, `tokio`, `bytes`, `hdrhistogram`,
//! `serde_json` and its sibling [`crate::flags`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;

use crate::flags::Flags;

/// Printed on its own line on stdout when the warm-up ends and the measured window begins.
pub const WARMUP_DONE: &str = "# window start";
/// Printed on its own line on stdout when the measured window ends.
pub const WINDOW_DONE: &str = "# window end";

/// The flags every client binary accepts.
pub const CLIENT_FLAGS: &[&str] = &[
    "addr",
    "concurrency",
    "duration",
    "warmup",
    "payload",
    "connections",
    "mode",
    "stream-count",
];

/// The usage text shared by every client binary; `{name}` is the binary's name.
pub fn client_usage(name: &str) -> String {
    format!(
        "usage: {name} --addr HOST:PORT [--concurrency C] [--duration SECS] [--warmup SECS]\n\
         \x20                [--payload BYTES] [--connections N] [--mode unary|stream]\n\
         \x20                [--stream-count N]\n\n\
         Runs C callers in a closed loop against an Echo server, checks every reply and\n\
         prints the window markers and one JSON line with QPS and latency percentiles.\n\
         Defaults: --concurrency 1 --duration 10 --warmup 2 --payload 1024; --connections\n\
         is honoured by clients whose framework lets the caller choose it. --mode stream\n\
         (gRPC clients only) makes each call a server-streaming `Stream` of --stream-count\n\
         responses (default 100), all read and checked; a call counts once."
    )
}

/// What a benchmark client is asked to do.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The server's address, `HOST:PORT`.
    pub addr: String,
    /// The number of callers, each with one call in flight at a time.
    pub concurrency: usize,
    /// The length of the measured window.
    pub duration: Duration,
    /// The warm-up before the window, whose calls are not counted.
    pub warmup: Duration,
    /// The size of the echoed message in bytes.
    pub payload: usize,
    /// The number of connections, for clients that let the caller choose it.
    pub connections: Option<usize>,
    /// What one call is: a unary echo, or a server stream.
    pub mode: Mode,
    /// The responses one server-streaming call asks for ([`Mode::Stream`]).
    pub stream_count: u32,
}

/// What one call of the closed loop is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One request, one reply equal to it.
    Unary,
    /// One request, `stream_count` replies each equal to its payload (gRPC's `Stream`).
    Stream,
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(text: &str) -> Result<Mode, String> {
        match text {
            "unary" => Ok(Mode::Unary),
            "stream" => Ok(Mode::Stream),
            other => Err(format!("`{other}` is neither `unary` nor `stream`")),
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Unary => "unary",
            Mode::Stream => "stream",
        })
    }
}

impl ClientOptions {
    /// Reads the options from parsed flags, checking that they make sense.
    pub fn from_flags(flags: &Flags) -> Result<ClientOptions, String> {
        let options = ClientOptions {
            addr: flags.required("addr")?,
            concurrency: flags.get_or("concurrency", 1)?,
            duration: Duration::from_secs_f64(flags.get_or("duration", 10.0)?),
            warmup: Duration::from_secs_f64(flags.get_or("warmup", 2.0)?),
            payload: flags.get_or("payload", 1024)?,
            connections: flags.get("connections")?,
            mode: flags.get_or("mode", Mode::Unary)?,
            stream_count: flags.get_or("stream-count", 100)?,
        };
        if options.concurrency == 0 {
            return Err("--concurrency must be at least 1".into());
        }
        if options.duration.is_zero() {
            return Err("--duration must be positive".into());
        }
        if options.connections == Some(0) {
            return Err("--connections must be at least 1".into());
        }
        if options.stream_count == 0 {
            return Err("--stream-count must be at least 1".into());
        }
        Ok(options)
    }

    /// Parses the process arguments; prints the usage and exits on a mistake.
    pub fn from_env_or_exit(binary: &str) -> ClientOptions {
        let usage = client_usage(binary);
        let flags = Flags::from_env_or_exit(CLIENT_FLAGS, &usage);
        match ClientOptions::from_flags(&flags) {
            Ok(options) => options,
            Err(message) => {
                eprintln!("error: {message}\n\n{usage}");
                std::process::exit(2);
            }
        }
    }

    /// Exits with a message unless the mode is unary: for clients without streaming.
    pub fn require_unary(&self, binary: &str) {
        if self.mode != Mode::Unary {
            eprintln!(
                "{binary}: --mode {} is not supported; only unary",
                self.mode
            );
            std::process::exit(2);
        }
    }
}

/// The message every client sends: `len` bytes of printable ASCII (valid UTF-8, so it
/// can travel as a Thrift `string`), the same bytes for every framework.
pub fn payload(len: usize) -> Bytes {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    (0..len)
        .map(|i| ALPHABET[(i * 7 + i / 61) % ALPHABET.len()])
        .collect()
}

/// One caller of the closed loop: makes one echo call and checks the reply.
pub trait Caller: Send + 'static {
    /// Sends the payload once, waits for the reply and checks that it equals the request.
    /// Any failure, a mismatched reply included, is an `Err` with a readable reason.
    fn call(&mut self) -> impl Future<Output = Result<(), String>> + Send;
}

/// What one client run measured.
#[derive(Debug)]
pub struct Report {
    /// The framework under test, as the runner names it.
    pub framework: String,
    /// The number of concurrent callers.
    pub concurrency: usize,
    /// Calls that completed successfully inside the window.
    pub calls: u64,
    /// Calls that failed (or returned a wrong reply) inside the window.
    pub errors: u64,
    /// The measured length of the window.
    pub window: Duration,
    /// Latencies of the successful calls, in nanoseconds.
    pub latency_ns: Histogram<u64>,
}

impl Report {
    /// Successful calls per second over the window.
    pub fn qps(&self) -> f64 {
        self.calls as f64 / self.window.as_secs_f64()
    }

    /// A latency percentile (`0.0..=100.0`) in microseconds.
    pub fn percentile_us(&self, percentile: f64) -> f64 {
        if self.latency_ns.is_empty() {
            return 0.0;
        }
        self.latency_ns.value_at_percentile(percentile) as f64 / 1000.0
    }

    /// The one-line JSON summary every client prints last, keys in a fixed order:
    /// `framework, concurrency, calls, errors, qps, p50_us, p99_us, p999_us, window_s`.
    pub fn to_json_line(&self) -> String {
        format!(
            "{{\"framework\":{},\"concurrency\":{},\"calls\":{},\"errors\":{},\"qps\":{:.1},\
             \"p50_us\":{:.1},\"p99_us\":{:.1},\"p999_us\":{:.1},\"window_s\":{:.3}}}",
            serde_json::Value::from(self.framework.as_str()),
            self.concurrency,
            self.calls,
            self.errors,
            self.qps(),
            self.percentile_us(50.0),
            self.percentile_us(99.0),
            self.percentile_us(99.9),
            self.window.as_secs_f64(),
        )
    }
}

const WARMING: u8 = 0;
const MEASURING: u8 = 1;
const STOPPED: u8 = 2;

/// How long callers still in a call get after the window before they are abandoned.
const DRAIN_GRACE: Duration = Duration::from_secs(5);
/// Failures printed to stderr per run; the rest are only counted.
const ERRORS_SHOWN: u64 = 5;

struct CallerTally {
    calls: u64,
    errors: u64,
    latency_ns: Histogram<u64>,
}

fn new_histogram() -> Histogram<u64> {
    // 1 ns to 100 s at three significant digits.
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

/// Runs every caller in a closed loop for `options.warmup` then `options.duration`,
/// printing [`WARMUP_DONE`] and [`WINDOW_DONE`] on stdout at the window's edges.
pub async fn drive<C: Caller>(framework: &str, options: &ClientOptions, callers: Vec<C>) -> Report {
    let concurrency = callers.len();
    let phase = Arc::new(AtomicU8::new(if options.warmup.is_zero() {
        MEASURING
    } else {
        WARMING
    }));
    let shown = Arc::new(std::sync::atomic::AtomicU64::new(0));

    let started = Instant::now();
    let tasks: Vec<_> = callers
        .into_iter()
        .map(|mut caller| {
            let phase = phase.clone();
            let shown = shown.clone();
            tokio::spawn(async move {
                let mut tally = CallerTally {
                    calls: 0,
                    errors: 0,
                    latency_ns: new_histogram(),
                };
                loop {
                    if phase.load(Ordering::Relaxed) == STOPPED {
                        break;
                    }
                    let begun = Instant::now();
                    let outcome = caller.call().await;
                    let elapsed = begun.elapsed();
                    let counted = phase.load(Ordering::Relaxed) == MEASURING;
                    match outcome {
                        Ok(()) if counted => {
                            tally.calls += 1;
                            let ns = (elapsed.as_nanos() as u64).max(1);
                            tally.latency_ns.saturating_record(ns);
                        }
                        Ok(()) => {}
                        Err(reason) => {
                            if counted {
                                tally.errors += 1;
                            }
                            if shown.fetch_add(1, Ordering::Relaxed) < ERRORS_SHOWN {
                                eprintln!("call failed: {reason}");
                            }
                            // Do not spin when the server is gone.
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                    }
                }
                tally
            })
        })
        .collect();

    if !options.warmup.is_zero() {
        tokio::time::sleep_until((started + options.warmup).into()).await;
        phase.store(MEASURING, Ordering::Relaxed);
    }
    let window_start = Instant::now();
    println!("{WARMUP_DONE}");
    tokio::time::sleep_until((window_start + options.duration).into()).await;
    phase.store(STOPPED, Ordering::Relaxed);
    let window = window_start.elapsed();
    println!("{WINDOW_DONE}");

    let mut report = Report {
        framework: framework.to_owned(),
        concurrency,
        calls: 0,
        errors: 0,
        window,
        latency_ns: new_histogram(),
    };
    let give_up = tokio::time::Instant::now() + DRAIN_GRACE;
    for task in tasks {
        let abort = task.abort_handle();
        match tokio::time::timeout_at(give_up, task).await {
            Ok(Ok(tally)) => {
                report.calls += tally.calls;
                report.errors += tally.errors;
                report
                    .latency_ns
                    .add(&tally.latency_ns)
                    .expect("histograms share bounds");
            }
            Ok(Err(join_error)) => {
                eprintln!("caller task failed: {join_error}");
                report.errors += 1;
            }
            Err(_) => {
                eprintln!(
                    "a caller was still waiting for a reply {DRAIN_GRACE:?} after the window"
                );
                abort.abort();
                report.errors += 1;
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    struct SleepyCaller;

    impl Caller for SleepyCaller {
        async fn call(&mut self) -> Result<(), String> {
            tokio::time::sleep(Duration::from_millis(1)).await;
            Ok(())
        }
    }

    #[test]
    fn payload_is_ascii_and_deterministic() {
        let a = payload(1024);
        assert_eq!(a.len(), 1024);
        assert!(a.is_ascii());
        assert_eq!(a, payload(1024));
    }

    #[tokio::test]
    async fn drive_counts_only_the_window() {
        let options = ClientOptions {
            addr: "unused".into(),
            concurrency: 2,
            duration: Duration::from_millis(200),
            warmup: Duration::from_millis(100),
            payload: 0,
            connections: None,
            mode: Mode::Unary,
            stream_count: 1,
        };
        let report = drive("test", &options, vec![SleepyCaller, SleepyCaller]).await;
        assert_eq!(report.errors, 0);
        assert!(report.calls > 0);
        assert_eq!(report.latency_ns.len(), report.calls);
        let json: serde_json::Value = serde_json::from_str(&report.to_json_line()).unwrap();
        assert_eq!(json["framework"], "test");
        assert_eq!(json["concurrency"], 2);
        assert_eq!(json["calls"], report.calls);
    }
}
