//! How long after an instance registers a watching client sees it, for each registry backend:
//! the embedded registry in this process, the standalone registry over rookery's RPC
//! (`registry://`, server in this process, on loopback), and a real etcd (started on ephemeral
//! loopback ports; skipped with a message if the `etcd` binary is missing).
//!
//! ```text
//! cargo run --release -p rookery-benchmarks --bin bench-discovery -- [--rounds 200]
//! ```
//!
//! Each round registers a fresh instance and times from just before `register` until the
//! client's watch holds it, then deregisters it and waits for the watch to drop it (not timed).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use rookery::transport::{Router, Server};
use rookery_registry::{
    Instance, Query, Registry, Watch,
    embedded::{Embedded, EmbeddedServer, RemoteRegistry},
    etcd::Etcd,
    protocol,
};

async fn measure(
    name: &str,
    registry: &dyn Registry,
    rounds: usize,
) -> Result<Vec<Duration>, Box<dyn std::error::Error>> {
    let query = Query::service(format!("bench-{name}"));
    let mut watch: Watch = registry.watch(&query).await?;
    let mut samples = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let instance = Instance::new(format!("bench-{name}"), "1.0.0".parse()?).with_address(
            protocol::THRIFT,
            format!("127.0.0.1:{}", 20000 + round % 1000),
        );
        let start = Instant::now();
        let lease = registry
            .register(&instance, Duration::from_secs(30))
            .await?;
        loop {
            let set = tokio::time::timeout(Duration::from_secs(10), watch.changed()).await??;
            if set.instances().iter().any(|i| i.id == instance.id) {
                break;
            }
        }
        samples.push(start.elapsed());
        registry.deregister(&lease).await?;
        loop {
            let set = tokio::time::timeout(Duration::from_secs(10), watch.changed()).await??;
            if set.instances().iter().all(|i| i.id != instance.id) {
                break;
            }
        }
    }
    samples.sort();
    Ok(samples)
}

fn row(backend: &str, samples: &[Duration]) -> String {
    let q =
        |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e6;
    format!(
        "| {backend} | {} | {:.0} | {:.0} | {:.0} |",
        samples.len(),
        q(0.5),
        q(0.99),
        q(1.0)
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rounds = 200;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rounds" => rounds = args.next().ok_or("--rounds needs a value")?.parse()?,
            other => {
                return Err(
                    format!("unknown flag {other}; usage: bench-discovery [--rounds N]").into(),
                );
            }
        }
    }
    let mut rows = Vec::new();

    let embedded = Embedded::new();
    rows.push(row(
        "embedded, in process",
        &measure("embedded", &embedded, rounds).await?,
    ));

    let served = Embedded::new();
    let server = Server::builder()
        .build(Router::new().add_service(EmbeddedServer::new(served)))
        .bind(&"127.0.0.1:0".parse()?)
        .await?;
    let remote = RemoteRegistry::connect(&server.local_addr().to_string())?;
    rows.push(row(
        "standalone, registry:// on loopback",
        &measure("remote", &remote, rounds).await?,
    ));
    server.shutdown();

    match rookery_testkit::EtcdServer::start() {
        Ok(etcd_server) => {
            let etcd: Arc<Etcd> = Arc::new(Etcd::connect(&etcd_server.endpoint()).await?);
            rows.push(row(
                "etcd 3.4, on loopback",
                &measure("etcd", &*etcd, rounds).await?,
            ));
        }
        Err(e) => eprintln!("etcd skipped: {e}"),
    }

    println!("| backend | rounds | p50 µs | p99 µs | max µs |");
    println!("|---|---:|---:|---:|---:|");
    for r in rows {
        println!("{r}");
    }
    Ok(())
}
