//! Serves Apache Thrift's `ThriftTest` and `SecondService` with rookery, for Thrift's
//! cross-language test clients.
//!
//! ```text
//! thrift-test-server [--addr HOST:PORT]      (127.0.0.1:9090 by default; port 0 picks one)
//! ```
//!
//! One port serves binary and compact, framed, buffered and TTHeader, each detected per
//! connection; calls named `ThriftTest:method` or `SecondService:method` (Apache's
//! multiplexed protocol) go to that service. Prints `listening on ADDR` once it accepts
//! connections, and stops gracefully on Ctrl-C or SIGTERM.

use std::process::ExitCode;

use rookery::Service;
use rookery_interop::{TestHandler, router};

const USAGE: &str = "usage: thrift-test-server [--addr HOST:PORT]";

#[tokio::main]
async fn main() -> ExitCode {
    let mut addr = "127.0.0.1:9090".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(value)) => addr = value,
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }

    let handler = TestHandler::new();
    let running = match Service::builder("thrift-test")
        .addr(addr)
        .no_registry()
        .router(router(&handler))
        .build()
    {
        Ok(service) => service.start().await,
        Err(e) => Err(e),
    };
    let running = match running {
        Ok(running) => running,
        Err(e) => {
            eprintln!("thrift-test-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", running.local_addr());

    wait_for_signal().await;
    if let Err(e) = running.stop().await {
        eprintln!("thrift-test-server: stopping: {e}");
        return ExitCode::FAILURE;
    }
    println!("stopped after {} oneway calls", handler.oneways().len());
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
