//! The standalone registry: the embedded registry served to other processes over rookery's
//! own RPC (`idl/registry.thrift` of `rookery-registry`), like Kite's Kontrol; and beside it
//! the embedded broker of this process (`rookery::pubsub::BrokerServer`), so that processes
//! on one machine publish and subscribe through it with nothing installed.
//!
//! ```text
//! cargo run --example registry -- [--addr 127.0.0.1:4000] [--state FILE]
//! ROOKERY_REGISTRY=registry://127.0.0.1:4000 cargo run --example ...   # services and clients
//! ROOKERY_BROKER=rookery://127.0.0.1:4000 cargo run --example ...       # publishers, subscribers
//! ```
//!
//! It prints `listening on ADDR` once it serves, and serves until SIGTERM or SIGINT: then it
//! ends the watches' long polls (clients keep their last instances and come back when a
//! registry does), drains in-flight calls, saves its state and stops. With `--state FILE` the
//! registry is saved to FILE on every change (the broker keeps nothing across a restart) and restored from it on start, so a restart keeps
//! the instances that were live, under the same leases, until their TTL runs out.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use rookery::{Router, Service};
use rookery_registry::embedded::{Embedded, EmbeddedServer};

struct Args {
    addr: String,
    state: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        addr: "127.0.0.1:4000".into(),
        state: None,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => parsed.addr = value()?,
            "--state" => parsed.state = Some(value()?.into()),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(parsed)
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let registry = match &args.state {
        Some(path) => Embedded::with_state_file(path),
        None => Embedded::new(),
    };
    let server = EmbeddedServer::new(registry.clone());
    let releasing = server.clone();
    let broker = rookery::pubsub::BrokerServer::new(rookery::broker::embedded::Embedded::global());
    let releasing_broker = broker.clone();
    Service::builder("registry")
        .addr(&args.addr)
        // The registry does not register itself anywhere.
        .no_registry()
        .router(
            Router::new()
                .add_service(server)
                .add_service(broker.service()),
        )
        .drain_timeout(Duration::from_secs(10))
        .after_start(|info| async move {
            // Scripts wait for this line before they connect.
            println!("listening on {}", info.address);
            Ok::<_, std::io::Error>(())
        })
        .before_stop(move |_| async move {
            // Long polls would otherwise hold the drain up for as long as they wait.
            releasing.stop_watches();
            releasing_broker.stop_fetches();
            Ok::<_, std::io::Error>(())
        })
        .build()?
        .run()
        .await?;
    registry.flush().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\nusage: registry [--addr HOST:PORT] [--state FILE]");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
