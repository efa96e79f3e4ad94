//! The echo service, server and client.
//!
//! ```text
//! cargo run --example echo                                        # both, in one run
//! cargo run --release --example echo -- server --addr 127.0.0.1:9090
//! cargo run --release --example echo -- client --addr 127.0.0.1:9090 [--count N]
//!     [--protocol binary|compact] [--framing ttheader|framed|buffered] [--pooled]
//!
//! # by name, through a registry (here the standalone one: cargo run --example registry)
//! ROOKERY_REGISTRY=registry://127.0.0.1:4000 cargo run --example echo -- server --name echo
//! ROOKERY_REGISTRY=registry://127.0.0.1:4000 cargo run --example echo -- client --name echo
//! ```
//!
//! The server serves until SIGTERM or SIGINT, then deregisters, drains in-flight calls and
//! stops. It answers TTHeader, framed and buffered Thrift, binary and compact, on the same
//! port. It registers as `--name` (`echo` by default) in the registry `ROOKERY_REGISTRY` names
//! (the embedded one of its own process when unset); a client given `--name` instead of
//! `--addr` finds it there and balances over every instance.

use std::{
    process::ExitCode,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use rookery::{
    Client, Context, Framing, Protocol, Service, Status,
    codegen::{FastStr, ThriftRequest, ThriftResponse},
    core::BoxService,
};
use rookery_examples::echo::{Echo, EchoClient, EchoError, EchoServer, FailError};

/// The handler: echoes, fails on request, counts notifications.
#[derive(Default)]
struct Handler {
    notified: AtomicU64,
}

impl Echo for Handler {
    async fn echo(&self, _cx: &mut Context, msg: FastStr) -> Result<FastStr, Status> {
        Ok(msg)
    }

    async fn fail(
        &self,
        _cx: &mut Context,
        code: i32,
        message: FastStr,
    ) -> Result<FastStr, FailError> {
        Err(FailError::Err(EchoError { code, message }))
    }

    async fn notify(&self, cx: &mut Context, msg: FastStr) -> Result<(), Status> {
        let n = self.notified.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::info!(caller = ?cx.caller().address, %msg, total = n, "notified");
        Ok(())
    }
}

struct Args {
    mode: String,
    addr: String,
    name: Option<String>,
    count: usize,
    protocol: Protocol,
    framing: Framing,
    pooled: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        mode: "demo".into(),
        addr: "127.0.0.1:0".into(),
        name: None,
        count: 3,
        protocol: Protocol::Binary,
        framing: Framing::TTHeader,
        pooled: false,
    };
    if let Some(mode) = args.next() {
        parsed.mode = mode;
    }
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => parsed.addr = value()?,
            "--name" => parsed.name = Some(value()?),
            "--count" => parsed.count = value()?.parse().map_err(|e| format!("--count: {e}"))?,
            "--protocol" => {
                parsed.protocol = match value()?.as_str() {
                    "binary" => Protocol::Binary,
                    "compact" => Protocol::Compact,
                    other => return Err(format!("unknown protocol {other}")),
                }
            }
            "--framing" => {
                parsed.framing = match value()?.as_str() {
                    "ttheader" => Framing::TTHeader,
                    "ttheader-framed" => Framing::TTHeaderFramed,
                    "framed" => Framing::Framed,
                    "buffered" => Framing::Buffered,
                    other => return Err(format!("unknown framing {other}")),
                }
            }
            "--pooled" => parsed.pooled = true,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(parsed)
}

fn service(name: &str, addr: &str) -> Result<Service, rookery::Error> {
    Service::builder(name)
        .version("1.0.0")
        .addr(addr)
        .serve(EchoServer::new(Handler::default()))
        .drain_timeout(Duration::from_secs(10))
        .after_start(|info| async move {
            // Scripts wait for this line before they call.
            println!("listening on {}", info.address);
            Ok::<_, std::io::Error>(())
        })
        .build()
}

async fn client_calls(args: &Args, addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut builder = Client::builder(addr.parse()?)
        .protocol(args.protocol)
        .framing(args.framing)
        .timeout(Duration::from_secs(5))
        .caller("echo-example");
    if args.pooled {
        builder = builder.pooled(4);
    }
    let client: BoxService<ThriftRequest, ThriftResponse> = match &args.name {
        // By name: every instance the registry knows, balanced.
        Some(name) => {
            let balanced = rookery::BalancedClient::builder(name.clone())
                .transport(builder)
                .discover(&*rookery::registry::from_env().await?)
                .await?;
            let found = balanced.endpoints().len();
            println!("found {found} instance(s) of {name}");
            BoxService::new(balanced)
        }
        None => BoxService::new(builder.build()),
    };
    let client = EchoClient::with_service(client, args.protocol);
    for i in 0..args.count {
        let mut cx = Context::new();
        cx.metadata_mut().insert("request-number", i.to_string());
        let reply = client.echo(&mut cx, format!("hello #{i}")).await?;
        println!("echo -> {reply}");
    }
    match client.fail(&mut Context::new(), 42, "as asked").await {
        Err(FailError::Err(e)) => println!("fail -> declared exception: {e}"),
        other => return Err(format!("fail should throw EchoError, got {other:?}").into()),
    }
    client
        .notify(&mut Context::new(), "fire and forget")
        .await?;
    println!("notify -> sent");
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
            eprintln!(
                "{e}\nusage: echo [server|client|demo] [--addr HOST:PORT] [--name SERVICE] [--count N] [--protocol binary|compact] [--framing ttheader|ttheader-framed|framed|buffered] [--pooled]"
            );
            return ExitCode::from(2);
        }
    };
    let outcome: Result<(), Box<dyn std::error::Error>> = match args.mode.as_str() {
        "server" => match service(args.name.as_deref().unwrap_or("echo"), &args.addr) {
            Ok(s) => s.run().await.map_err(Into::into),
            Err(e) => Err(e.into()),
        },
        "client" => client_calls(&args, &args.addr).await,
        "demo" => {
            async {
                let running = service(args.name.as_deref().unwrap_or("echo"), &args.addr)?
                    .start()
                    .await?;
                let addr = running.local_addr().to_string();
                client_calls(&args, &addr).await?;
                running.stop().await?;
                println!("server stopped gracefully");
                Ok(())
            }
            .await
        }
        other => Err(format!("unknown mode {other}; use server, client or demo").into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
