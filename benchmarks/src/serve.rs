//! What every benchmark server binary shares: its flags, the readiness line the runner
//! waits for, and the signals that stop it.
//!
//! This file is also compiled into the separate volo project (`benchmarks/volo/`) by a
//! `#[path]` module, so it depends only on `std`, `tokio` and [`crate::flags`].

use std::net::SocketAddr;

use crate::flags::Flags;

/// The flags every server binary accepts.
pub const SERVER_FLAGS: &[&str] = &["addr"];

/// The prefix of the line a server prints on stdout once it accepts connections.
pub const LISTENING: &str = "listening on ";

/// Parses `--addr HOST:PORT` from the process arguments; prints usage and exits on a mistake.
pub fn addr_from_env_or_exit(binary: &str) -> SocketAddr {
    let usage = format!(
        "usage: {binary} --addr HOST:PORT\n\n\
         Serves Echo on HOST:PORT until SIGTERM or SIGINT and prints `{LISTENING}ADDR`\n\
         on stdout once it accepts connections."
    );
    let flags = Flags::from_env_or_exit(SERVER_FLAGS, &usage);
    match flags.required("addr") {
        Ok(addr) => addr,
        Err(message) => {
            eprintln!("error: {message}\n\n{usage}");
            std::process::exit(2);
        }
    }
}

/// Prints the line the runner waits for: `listening on ADDR`.
pub fn announce_listening(addr: SocketAddr) {
    println!("{LISTENING}{addr}");
}

/// Resolves when the process receives SIGTERM or SIGINT.
pub async fn shutdown_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
