//! One trace across three services: a client calls `A`, whose handler calls `B`, whose
//! handler calls `C`. Each hop continues the trace it was called in (W3C `traceparent`,
//! carried in TTHeader metadata) and prints its trace id, its own span and its parent.
//!
//! ```text
//! cargo run --example trace
//! RUST_LOG=rookery::access=info cargo run --example trace   # with the access logs
//! ```
//!
//! Every hop shows the same trace id; each span's parent is the client span the hop before
//! called it from. With the feature `otlp` of `rookery-middleware`, the same spans go to an
//! OpenTelemetry collector (`rookery::middleware::trace::otlp`).

use std::{
    process::ExitCode,
    sync::{Arc, Mutex},
};

use rookery::{
    Client, Context, Layer, Protocol, RunningService, Service, Status,
    middleware::{
        log::AccessLogLayer,
        trace::{Trace, TraceContext, TraceLayer},
    },
};

/// One hop of the chain.
#[rookery::service(name = "hop")]
pub trait Hop {
    /// Passes the call on to the next hop, if any, and answers with the path it took.
    async fn relay(&self, cx: &mut Context, path: String) -> Result<String, Status>;
}

/// What a hop saw: its span, and the span it called the next hop from.
struct HopSeen {
    name: &'static str,
    span: TraceContext,
    called_from: Option<TraceContext>,
}

type Seen = Arc<Mutex<Vec<HopSeen>>>;

struct Node {
    name: &'static str,
    next: Option<HopClient<Trace<Client>>>,
    seen: Seen,
}

impl Hop for Node {
    async fn relay(&self, cx: &mut Context, path: String) -> Result<String, Status> {
        // The span the server's trace layer started for this call.
        let span = TraceContext::current(cx).cloned().ok_or_else(|| {
            Status::internal("no trace: the service is built without TraceLayer::server()")
        })?;
        let path = format!("{path} > {}", self.name);
        let (result, called_from) = match &self.next {
            Some(next) => {
                // `cx.child()`: the downstream call's context, which carries the trace on.
                let mut downstream = cx.child();
                let result = next.relay(&mut downstream, path).await;
                // The client span the client's trace layer made for that call.
                (
                    result,
                    downstream.extensions().get::<TraceContext>().cloned(),
                )
            }
            None => (Ok(path), None),
        };
        self.seen.lock().unwrap().push(HopSeen {
            name: self.name,
            span,
            called_from,
        });
        result
    }
}

fn print_span(who: &str, span: &TraceContext) {
    println!(
        "  {who:<7} trace {}  span {}  parent {}",
        span.trace_id(),
        span.span_id(),
        span.parent_id()
            .map_or_else(|| "-".to_string(), |p| p.to_string()),
    );
}

/// A client of the service at `addr` whose calls join the trace they are made in.
fn client(running: &RunningService) -> HopClient<Trace<Client>> {
    let transport = Client::builder(running.local_addr().clone()).build();
    HopClient::with_service(TraceLayer::client().layer(transport), Protocol::Binary)
}

async fn start(
    name: &'static str,
    next: Option<&RunningService>,
    seen: &Seen,
) -> Result<RunningService, rookery::Error> {
    let node = Node {
        name,
        next: next.map(client),
        seen: Arc::clone(seen),
    };
    Service::builder(name)
        .no_registry()
        .layer(AccessLogLayer::server())
        .layer(TraceLayer::server())
        .serve(HopServer::new(node))
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
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let seen = Seen::default();
    let c = start("C", None, &seen).await?;
    let b = start("B", Some(&c), &seen).await?;
    let a = start("A", Some(&b), &seen).await?;
    println!("services A -> B -> C, each calling the next one from its handler\n");

    let mut cx = Context::new();
    let path = client(&a).relay(&mut cx, "client".into()).await?;
    let root = cx
        .extensions()
        .get::<TraceContext>()
        .cloned()
        .ok_or("the client's trace layer made no span")?;
    println!("the call went {path}; its spans, each the child of the one above:\n");
    print_span("client", &root);

    let mut seen = std::mem::take(&mut *seen.lock().unwrap());
    seen.sort_by_key(|hop| hop.name);
    for (i, hop) in seen.iter().enumerate() {
        print_span(hop.name, &hop.span);
        if let Some(client_span) = &hop.called_from {
            let next = seen.get(i + 1).map_or("?", |h| h.name);
            print_span(&format!("{} -> {next}", hop.name), client_span);
        }
    }
    let one_trace = seen.len() == 3
        && seen.iter().all(|hop| {
            hop.span.trace_id() == root.trace_id()
                && hop
                    .called_from
                    .as_ref()
                    .is_none_or(|c| c.trace_id() == root.trace_id())
        });
    println!(
        "\n{} hops, {}",
        seen.len(),
        if one_trace {
            "one trace id"
        } else {
            "MORE THAN ONE TRACE ID"
        }
    );
    for running in [a, b, c] {
        running.stop().await?;
    }
    Ok(one_trace)
}
