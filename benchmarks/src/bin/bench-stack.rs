//! The cost of rookery's governance stacks per call, against no layer at all: one call
//! through the layers to an inner service that answers at once, in process, so the figure is
//! the layers' own cost (no network, no codec).
//!
//! Rows, each the median of `--runs` runs of `--iters` sequential calls on one thread:
//! - `none`: the inner service alone;
//! - `client stack`: every client layer on — tracing (a span and `traceparent` per call),
//!   metrics, access log, a timeout, retries with a budget, a circuit breaker, a concurrency
//!   limit, a bearer token;
//! - `server stack`: every server layer on — tracing (reading the caller's `traceparent`),
//!   metrics, access log, a rate limit, a concurrency limit, JWT verification (HS256), the
//!   timeout, panic recovery;
//! - `client + server`: the client stack over the server stack, the token and trace context
//!   going from one to the other through the metadata as they would on the wire.
//!
//! With `--log true`, access logs and spans go to a `tracing` subscriber that formats them at
//! INFO into a sink (the cost of writing them out, beside the layers'); without it no
//! subscriber is installed (what a process whose logging is off pays).

use std::{
    hint::black_box,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use rookery::{
    Context, Layer, Status,
    core::{BoxService, Service, service_fn},
    middleware::{
        auth::{AddAuthorizationLayer, Algorithm, JwtKey, JwtLayer},
        breaker::{BreakerPolicy, CircuitBreakerLayer},
        limit::{
            concurrency::ConcurrencyLimitLayer,
            rate::{Rate, RateLimitLayer},
        },
        log::AccessLogLayer,
        metrics::Metrics,
        recover::RecoverLayer,
        retry::RetryLayer,
        stack::{ClientStack, ServerStack},
        testing::{thrift_request, thrift_response},
        timeout::TimeoutLayer,
        trace::TraceLayer,
    },
    transport::{ThriftRequest, ThriftResponse},
};
use rookery_benchmarks::flags::Flags;

const USAGE: &str = "bench-stack [--iters N (200000)] [--runs N (5)] [--log true|false (false)]";
const SECRET: &[u8] = b"a benchmark secret, 32 bytes long";

fn exit(message: &str) -> ! {
    eprintln!("bench-stack: {message}\n{USAGE}");
    std::process::exit(2)
}

/// An HS256 token for audience `bench`, valid for an hour.
fn token() -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let claims = serde_json::json!({ "sub": "bench", "aud": "bench", "exp": exp });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

fn client_stack(metrics: &Metrics) -> ClientStack {
    ClientStack::new()
        .trace(TraceLayer::client())
        .metrics(metrics.client_layer())
        .access_log(AccessLogLayer::client())
        .timeout(TimeoutLayer::new(Duration::from_secs(10)))
        .retry(RetryLayer::new())
        .circuit_breaker(CircuitBreakerLayer::new(BreakerPolicy::default()))
        .concurrency_limit(ConcurrencyLimitLayer::wait().service(1_000_000))
        .authorization(AddAuthorizationLayer::bearer(token()))
}

fn server_stack(metrics: &Metrics) -> ServerStack {
    ServerStack::new()
        .trace(TraceLayer::server())
        .metrics(metrics.server_layer())
        .access_log(AccessLogLayer::server())
        .rate_limit(RateLimitLayer::new().service(Rate::per_second(1e12)))
        .concurrency_limit(ConcurrencyLimitLayer::shed().service(1_000_000))
        .jwt(JwtLayer::new(
            JwtKey::hmac(Algorithm::HS256, SECRET).unwrap(),
            ["bench"],
        ))
        .timeout(TimeoutLayer::inherited())
        .recover(RecoverLayer::new())
}

/// A server's side of the call: a fresh context with what travelled (metadata, deadline).
fn over_the_wire<S>(server: S) -> impl Service<ThriftRequest, Response = ThriftResponse>
where
    S: Service<ThriftRequest, Response = ThriftResponse>,
{
    struct Wire<S>(S);
    impl<S: Service<ThriftRequest, Response = ThriftResponse>> Service<ThriftRequest> for Wire<S> {
        type Response = ThriftResponse;
        async fn call(
            &self,
            cx: &mut Context,
            req: ThriftRequest,
        ) -> Result<ThriftResponse, Status> {
            let mut incoming = Context::new();
            *incoming.metadata_mut() = cx.metadata().clone();
            incoming.set_deadline(cx.deadline());
            incoming.callee_mut().service = cx.callee().service.clone();
            self.0.call(&mut incoming, req).await
        }
    }
    Wire(server)
}

fn answer() -> impl Service<ThriftRequest, Response = ThriftResponse> + Clone + 'static {
    service_fn(|_cx: &mut Context, _req: ThriftRequest| async {
        Ok::<_, Status>(thrift_response())
    })
}

/// ns per call of `service`, median of `runs` runs.
fn measure(
    runtime: &tokio::runtime::Runtime,
    service: &BoxService<ThriftRequest, ThriftResponse>,
    iters: usize,
    runs: usize,
    arrived: &rookery::Metadata,
) -> f64 {
    let mut figures: Vec<f64> = (0..runs)
        .map(|_| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let mut cx = Context::new();
                    cx.callee_mut().service = "bench".into();
                    *cx.metadata_mut() = arrived.clone();
                    let reply = service.call(&mut cx, thrift_request("echo")).await;
                    black_box(reply.expect("every call succeeds"));
                }
                start.elapsed().as_nanos() as f64 / iters as f64
            })
        })
        .collect();
    figures.sort_by(f64::total_cmp);
    figures[figures.len() / 2]
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} CPUs available")
}

fn main() {
    let flags = Flags::from_env_or_exit(&["iters", "runs", "log"], USAGE);
    let iters: usize = flags.get_or("iters", 200_000).unwrap_or_else(|e| exit(&e));
    let runs: usize = flags.get_or("runs", 5).unwrap_or_else(|e| exit(&e));
    let log: bool = flags.get_or("log", false).unwrap_or_else(|e| exit(&e));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let _subscriber = log.then(|| {
        tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::INFO)
                .with_writer(std::io::sink)
                .finish(),
        )
    });

    let metrics = Metrics::new();
    let rows: Vec<(&str, BoxService<ThriftRequest, ThriftResponse>)> = vec![
        ("none", BoxService::new(answer())),
        (
            "client stack",
            BoxService::new(client_stack(&metrics).layer(answer())),
        ),
        (
            "server stack",
            BoxService::new(server_stack(&metrics).layer(answer())),
        ),
        (
            "client + server",
            BoxService::new(
                client_stack(&metrics).layer(over_the_wire(server_stack(&metrics).layer(answer()))),
            ),
        ),
    ];
    println!(
        "machine: {}; {runs} runs of {iters} calls, median; logs {}\n",
        machine(),
        if log {
            "formatted into a sink at INFO"
        } else {
            "off (no subscriber)"
        }
    );
    println!("| stack | ns per call | over none |");
    println!("|---|---:|---:|");
    let mut none = 0.0;
    for (name, service) in &rows {
        // What reaches a server alone is what a client sent: its token and trace context.
        let mut arrived = rookery::Metadata::default();
        if *name == "server stack" {
            arrived.insert("authorization", format!("Bearer {}", token()));
            arrived.insert(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            );
        }
        let ns = measure(&runtime, service, iters, runs, &arrived);
        if *name == "none" {
            none = ns;
        }
        println!("| {name} | {ns:.0} | +{:.0} |", ns - none);
    }
}
