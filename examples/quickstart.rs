//! rookery in one run: an embedded registry, three instances of a service, and a client that
//! calls it by name, spreads its calls over the instances, and loses none when one of them
//! stops gracefully in the middle. Each instance counts its calls and serves them to
//! Prometheus at `GET /metrics` on its own port, which the run reads at the end.
//!
//! ```text
//! cargo run --example quickstart
//! ```

use std::{
    collections::BTreeMap,
    process::ExitCode,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use rookery::{
    BalancedClient, Context, Protocol, RunningService, Service, Status,
    codegen::FastStr,
    middleware::metrics::Metrics,
    registry::{Discover, Query, embedded::Embedded},
};
use rookery_examples::echo::{Echo, EchoClient, EchoServer, FailError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A greeter: answers `echo` with a greeting.
struct Greeter;

impl Echo for Greeter {
    async fn echo(&self, _cx: &mut Context, msg: FastStr) -> Result<FastStr, Status> {
        Ok(format!("hello, {msg}").into())
    }

    async fn fail(
        &self,
        _cx: &mut Context,
        code: i32,
        message: FastStr,
    ) -> Result<FastStr, FailError> {
        Err(FailError::Err(rookery_examples::echo::EchoError {
            code,
            message,
        }))
    }

    async fn notify(&self, _cx: &mut Context, _msg: FastStr) -> Result<(), Status> {
        Ok(())
    }
}

async fn start_instance(
    registry: &Arc<Embedded>,
    label: &str,
) -> Result<RunningService, rookery::Error> {
    Service::builder("greeter")
        .version("1.0.0")
        .registry(registry.clone())
        .metadata("label", label)
        // Its calls, counted, at GET /metrics on its port.
        .metrics(&Metrics::new())
        .serve(EchoServer::new(Greeter))
        .build()?
        .start()
        .await
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<u64, Box<dyn std::error::Error>> {
    println!(
        "rookery quickstart: an embedded registry, three instances of `greeter`, a client calling it by name\n"
    );
    let registry = Embedded::global();

    // Three instances, each registered once it listens.
    let mut instances = Vec::new();
    let mut labels = BTreeMap::new();
    for label in ["greeter-1", "greeter-2", "greeter-3"] {
        let running = start_instance(&registry, label).await?;
        let address = running.local_addr().to_string();
        println!("started {label} on {address}");
        labels.insert(address, label.to_string());
        instances.push(Some(running));
    }
    let seen = registry.resolve(&Query::service("greeter")).await?;
    println!("the registry knows {} instances of greeter\n", seen.len());

    // One client, by name: it watches the registry and balances with P2C + peak EWMA.
    let balanced = BalancedClient::builder("greeter")
        .discover(&*registry)
        .await?;
    let client = EchoClient::with_service(balanced, Protocol::Binary);

    let callers = 8;
    let run_for = Duration::from_secs(3);
    let stop_at = Duration::from_secs(1);
    println!(
        "{callers} callers call `greeter` for {run_for:?}; after {stop_at:?}, greeter-2 stops gracefully"
    );
    let counts: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let failed = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for caller in 0..callers {
        let client = client.clone();
        let (counts, failed, done, labels) =
            (counts.clone(), failed.clone(), done.clone(), labels.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !done.load(Ordering::Relaxed) {
                let mut cx = Context::new();
                match client
                    .echo(&mut cx, format!("caller {caller}, call {n}"))
                    .await
                {
                    Ok(reply) if reply.starts_with("hello, ") => {
                        let address = cx.callee().address.as_deref().unwrap_or("?");
                        let label = labels
                            .get(address)
                            .cloned()
                            .unwrap_or_else(|| address.to_string());
                        *counts.lock().unwrap().entry(label).or_default() += 1;
                    }
                    Ok(reply) => {
                        eprintln!("unexpected reply {reply}");
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        eprintln!("call failed: {e}");
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                n += 1;
            }
        }));
    }

    tokio::time::sleep(stop_at).await;
    let stopping = instances[1].take().expect("greeter-2 is running");
    println!(
        "  {:>5.2}s  stopping greeter-2: deregister, drain in-flight calls, close",
        started.elapsed().as_secs_f64()
    );
    stopping.stop().await?;
    println!(
        "  {:>5.2}s  greeter-2 stopped",
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(run_for.saturating_sub(started.elapsed())).await;
    done.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await?;
    }

    let counts = counts.lock().unwrap().clone();
    let total: u64 = counts.values().sum();
    let failed = failed.load(Ordering::Relaxed);
    println!("\ncalls per instance:");
    for (label, n) in &counts {
        let bar = "#".repeat((n * 40 / total.max(1)) as usize);
        println!("  {label:<10} {n:>7}  {bar}");
    }
    println!("\n{total} calls answered, {failed} failed");

    // What Prometheus would scrape from greeter-1: its own port, path /metrics.
    if let Some(first) = &instances[0] {
        let address = first.local_addr().to_string();
        let text = http_get(&address, "/metrics").await?;
        println!("\nGET http://{address}/metrics (calls, latency, in flight; buckets left out):");
        let shown = [
            "rookery_calls_total",
            "rookery_call_duration_seconds_count",
            "rookery_call_duration_seconds_sum",
            "rookery_calls_in_flight",
        ];
        for line in text
            .lines()
            .filter(|l| shown.iter().any(|name| l.starts_with(name)))
        {
            println!("  {line}");
        }
    }
    for running in instances.into_iter().flatten() {
        running.stop().await?;
    }
    Ok(failed)
}

/// The body of `GET path` from `address`, over plain HTTP/1.1 (what a Prometheus scrape does).
async fn http_get(address: &str, path: &str) -> Result<String, Box<dyn std::error::Error>> {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut response)).await??;
    match response.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200") => Ok(body.to_string()),
        _ => Err(format!(
            "GET {path}: {}",
            response.lines().next().unwrap_or("no answer")
        )
        .into()),
    }
}
