//! Test harnesses for rookery's own tests (a `publish = false`, dev-only crate).
//!
//! Integration tests run real things: a real etcd, a real peer process. This crate holds
//! what those tests share, so each test says what it checks and not how to start a server:
//!
//! - [`EtcdServer`]: a real `etcd` as a child process on ephemeral `127.0.0.1` ports with a
//!   temporary data directory; started ready to serve, stopped and restarted on the same
//!   ports and data, killed on drop. It can also read and write raw keys (over etcd's JSON
//!   gateway), so tests can seed garbage and check layouts without the code under test.
//! - [`NatsServer`]: a real `nats-server` with JetStream on, the same way (ephemeral
//!   ports, a temporary store, stop/kill/restart on the same port and store); it reads the
//!   server's own JetStream report over the monitoring port, so tests can count what a
//!   stream holds without the code under test.
//! - [`RedisServer`]: a real `redis-server` the same way (an ephemeral port, its data in a
//!   temporary directory, ready when it answers `PING`, stop/kill/restart on the same port
//!   and data); [`RedisServer::command`] sends raw commands, so tests can check what a
//!   stream holds without the code under test.
//! - [`find_binary`]: a program on `PATH` (or named by an environment variable), with an
//!   error that says what is missing and how to install it.
//! - [`go_build`]: a Go program of one of the repository's Go modules (`interop/*`: the
//!   Kitex and grpc-go peers), built once per process with Go's build cache.
//! - [`free_port`] / [`free_ports`]: ports nobody listens on right now.
//! - [`ChildProcess`]: a child killed on drop, whose output lines can be waited for, and
//!   that can be paused and resumed ([`ChildProcess::pause`] sends `SIGSTOP`); with
//!   [`rerun_test`], a `#[test]` of the same test binary runs as that child.
//! - [`TempDir`]: a directory removed on drop.
//! - [`probe`]: runs a tool a test needs, or says what is missing and how to skip.
//! - [`logs`]: what the code under test logged through `tracing`, to wait for a reason.
//! - `within` (feature `tokio`): a future awaited with a limit, failing the test on a hang.
//!
//! Everything here blocks the calling thread (no async runtime is assumed). From inside an
//! async test, prefer a multi-thread runtime (`#[tokio::test(flavor = "multi_thread")]`)
//! so the code under test keeps running meanwhile.
//!
//! Skipping: a test that needs a missing engine fails and names it, unless the engine's skip
//! variable is set (`ROOKERY_SKIP_ETCD=1`, see [`EtcdServer::start_or_skip`];
//! `ROOKERY_SKIP_NATS=1`, see [`NatsServer::start_or_skip`]; `ROOKERY_SKIP_REDIS=1`, see
//! [`RedisServer::start_or_skip`]; `ROOKERY_SKIP_GO=1`, see [`go_build_or_skip`]).
//!
//! ```no_run
//! use rookery_testkit::EtcdServer;
//!
//! let Some(etcd) = EtcdServer::start_or_skip() else { return };
//! etcd.put("/greeting", "hello").unwrap();
//! assert_eq!(etcd.get_prefix("/greet").unwrap()[0].value, "hello");
//! println!("etcd serves on {}", etcd.endpoint());
//! // Dropping it kills etcd and removes its data.
//! ```

mod binary;
mod engine;
mod etcd;
mod go;
pub mod logs;
mod nats;
mod net;
mod process;
mod redis;
mod tempdir;
mod tool;

pub use binary::{MissingBinary, find_binary};
pub use etcd::{ETCD_BIN_ENV, EtcdServer, KeyValue, SKIP_ETCD_ENV};
pub use go::{GO_BIN_ENV, SKIP_GO_ENV, go_build, go_build_or_skip, repo_root};
pub use nats::{NATS_BIN_ENV, NatsServer, SKIP_NATS_ENV};
pub use net::{free_port, free_ports};
pub use process::{ChildProcess, is_rerun, rerun_test, signal};
pub use redis::{REDIS_BIN_ENV, RedisServer, Reply, SKIP_REDIS_ENV};
pub use tempdir::TempDir;
pub use tool::probe;

/// The cases a peer's test program did not report as passed: those without an `ok CASE`
/// line of their own in its `stdout` (the convention of every peer program the tests run:
/// `ok CASE` or `FAIL CASE: why`, one line per case).
///
/// ```
/// let out = "ok small\nFAIL large: cut short\n";
/// assert_eq!(rookery_testkit::cases_not_ok(out, &["small", "large", "oneway"]), ["large", "oneway"]);
/// ```
pub fn cases_not_ok<'a>(stdout: &str, cases: &[&'a str]) -> Vec<&'a str> {
    cases
        .iter()
        .copied()
        .filter(|case| !stdout.lines().any(|l| l.strip_prefix("ok ") == Some(*case)))
        .collect()
}

/// Awaits `f`, failing the test with `what` if it has no outcome within `secs` seconds: a
/// guard against hangs, not a speed check (the limits are far above any expected duration).
/// Feature `tokio`.
#[cfg(feature = "tokio")]
pub async fn within<F: std::future::Future>(secs: u64, what: &str, f: F) -> F::Output {
    match tokio::time::timeout(std::time::Duration::from_secs(secs), f).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: nothing happened within {secs} s"),
    }
}

/// Whether the environment variable `name` is set to something other than empty, `0` or
/// `false`: how tests are told to skip what needs an engine the machine lacks.
pub fn env_flag(name: &str) -> bool {
    std::env::var(name)
        .map(|v| {
            let v = v.trim();
            !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false"))
        })
        .unwrap_or(false)
}
