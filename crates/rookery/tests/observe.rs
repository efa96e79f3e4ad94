//! Observability with real services: a service's metrics read over HTTP from its own port,
//! and one trace id across two hops, over Thrift (TTHeader) and over gRPC.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use rookery::{
    Client, Context, Layer, Protocol, Service, Status,
    middleware::{
        metrics::Metrics,
        trace::{TRACEPARENT, Trace, TraceContext, TraceLayer, TraceParent},
    },
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One hop of a chain of services.
#[rookery::service(name = "hop")]
pub trait Hop {
    /// Passes the call on to the next hop, if any, and answers with the path it took.
    async fn relay(&self, cx: &mut Context, note: String) -> Result<String, Status>;
}

/// What a hop's handler saw of its trace: its span, the `traceparent` that came in, and the
/// span of the call it made downstream.
#[derive(Clone, Debug)]
struct Seen {
    hop: &'static str,
    span: TraceContext,
    traceparent: Option<String>,
    downstream: Option<TraceContext>,
}

impl Seen {
    fn of(hop: &'static str, cx: &Context) -> Seen {
        Seen {
            hop,
            span: TraceContext::current(cx)
                .expect("the server layer started a span")
                .clone(),
            traceparent: cx.metadata().get(TRACEPARENT).map(str::to_string),
            downstream: None,
        }
    }
}

type Log = Arc<Mutex<Vec<Seen>>>;

struct Node {
    name: &'static str,
    next: Option<HopClient<Trace<Client>>>,
    log: Log,
}

impl Hop for Node {
    async fn relay(&self, cx: &mut Context, note: String) -> Result<String, Status> {
        let mut seen = Seen::of(self.name, cx);
        let note = format!("{note} > {}", self.name);
        let result = match &self.next {
            // A downstream call continues the trace from the handler's context.
            Some(next) => {
                let mut downstream = cx.child();
                let result = next.relay(&mut downstream, note).await;
                seen.downstream = downstream.extensions().get::<TraceContext>().cloned();
                result
            }
            None => Ok(note),
        };
        self.log.lock().unwrap().push(seen);
        result
    }
}

fn traced_client(addr: &rookery::Address) -> HopClient<Trace<Client>> {
    HopClient::with_service(
        TraceLayer::client().layer(Client::builder(addr.clone()).caller("test").build()),
        Protocol::Binary,
    )
}

async fn start_hop(
    name: &'static str,
    next: Option<&rookery::RunningService>,
    log: &Log,
    metrics: &Metrics,
) -> rookery::RunningService {
    let node = Node {
        name,
        next: next.map(|n| traced_client(n.local_addr())),
        log: Arc::clone(log),
    };
    Service::builder("hop")
        .no_registry()
        .layer(TraceLayer::server())
        .metrics(metrics)
        .serve(HopServer::new(node))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn one_trace_id_spans_two_hops_over_thrift() {
    let log = Log::default();
    let metrics = Metrics::new();
    let b = start_hop("B", None, &log, &metrics).await;
    let a = start_hop("A", Some(&b), &log, &metrics).await;

    let client = traced_client(a.local_addr());
    let mut cx = Context::new();
    let path = client.relay(&mut cx, "start".into()).await.unwrap();
    assert_eq!(path, "start > A > B");
    let root = cx.extensions().get::<TraceContext>().unwrap().clone();

    let log = log.lock().unwrap().clone();
    // B's handler ended first.
    let [seen_b, seen_a] = &log[..] else {
        panic!("two hops: {log:?}")
    };
    assert_eq!((seen_a.hop, seen_b.hop), ("A", "B"));
    // One trace, started by the client, across both hops.
    assert_eq!(seen_a.span.trace_id(), root.trace_id());
    assert_eq!(seen_b.span.trace_id(), root.trace_id());
    // A's span is a child of the client's; what reached A over TTHeader names the client.
    assert_eq!(seen_a.span.parent_id(), Some(root.span_id()));
    assert_eq!(
        seen_a.traceparent.as_deref().and_then(TraceParent::parse),
        Some(root.traceparent())
    );
    // A's handler called B from a client span, a child of A's span; B's span is a child of
    // that client span, whose traceparent went over the wire.
    let a_client = seen_a.downstream.as_ref().unwrap();
    assert_eq!(a_client.trace_id(), root.trace_id());
    assert_eq!(a_client.parent_id(), Some(seen_a.span.span_id()));
    let sent_by_a = TraceParent::parse(seen_b.traceparent.as_deref().unwrap()).unwrap();
    assert_eq!(sent_by_a, a_client.traceparent());
    assert_eq!(seen_b.span.parent_id(), Some(a_client.span_id()));

    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

/// `GET path` over a new connection: status and body.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut out))
        .await
        .expect("an answer")
        .unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_string())
}

/// The value of the sample `series` (a name and its labels) in an exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

#[tokio::test]
async fn the_metrics_of_n_calls_are_exact_on_the_services_own_port() {
    let log = Log::default();
    let metrics = Metrics::new();
    let running = start_hop("A", None, &log, &metrics).await;
    let client = traced_client(running.local_addr());
    let n = 25;
    for i in 0..n {
        client
            .relay(&mut Context::new(), format!("call {i}"))
            .await
            .unwrap();
    }

    let addr = running.local_addr().to_string().parse().unwrap();
    let (status, text) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    // The client sends its name ("test"): it is the server's peer label.
    let series = r#"{side="server",service="hop",method="relay",code="OK",peer="test"}"#;
    assert_eq!(
        sample(&text, &format!("rookery_calls_total{series}")),
        Some(n as f64),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("rookery_call_duration_seconds_count{series}")
        ),
        Some(n as f64),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"rookery_calls_in_flight{side="server",service="hop"}"#
        ),
        Some(0.0),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    // The health checks are still there.
    assert_eq!(http_get(addr, "/health").await.0, 200);
    running.stop().await.unwrap();
}

/// The recommended server stack counts the calls; `metrics_endpoint` only serves them: each
/// call is counted once.
#[tokio::test]
async fn the_recommended_stack_and_the_endpoint_count_each_call_once() {
    let metrics = Metrics::new();
    let node = Node {
        name: "A",
        next: None,
        log: Log::default(),
    };
    let running = Service::builder("hop")
        .no_registry()
        .metrics_endpoint(&metrics)
        .layer(rookery::middleware::stack::ServerStack::recommended(
            &metrics,
        ))
        .serve(HopServer::new(node))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let client = traced_client(running.local_addr());
    for i in 0..7 {
        client
            .relay(&mut Context::new(), format!("{i}"))
            .await
            .unwrap();
    }
    let addr = running.local_addr().to_string().parse().unwrap();
    let (_, text) = http_get(addr, "/metrics").await;
    let series = r#"{side="server",service="hop",method="relay",code="OK",peer="test"}"#;
    assert_eq!(
        sample(&text, &format!("rookery_calls_total{series}")),
        Some(7.0),
        "{text}"
    );
    running.stop().await.unwrap();
}

#[cfg(feature = "grpc")]
mod grpc {
    use std::net::SocketAddr;

    use rookery::{
        codec::protobuf::codegen::{BoxStream, Streaming},
        grpc::{
            GrpcClient,
            interop::proto::grpc::testing::{
                Empty, SimpleRequest, SimpleResponse, StreamingInputCallRequest,
                StreamingInputCallResponse, StreamingOutputCallRequest,
                StreamingOutputCallResponse, TestService, TestServiceClient, TestServiceServer,
            },
        },
    };

    use super::*;

    /// A gRPC hop: `UnaryCall` is passed on to the next hop, if any.
    struct GrpcNode {
        name: &'static str,
        next: Option<TestServiceClient<Trace<GrpcClient>>>,
        log: Log,
    }

    impl TestService for GrpcNode {
        async fn empty_call(&self, _: &mut Context, _: Empty) -> Result<Empty, Status> {
            Err(Status::unimplemented("not here"))
        }

        async fn unary_call(
            &self,
            cx: &mut Context,
            request: SimpleRequest,
        ) -> Result<SimpleResponse, Status> {
            let mut seen = Seen::of(self.name, cx);
            let result = match &self.next {
                Some(next) => {
                    let mut downstream = cx.child();
                    let result = next.unary_call(&mut downstream, request).await;
                    seen.downstream = downstream.extensions().get::<TraceContext>().cloned();
                    result
                }
                None => Ok(SimpleResponse::default()),
            };
            self.log.lock().unwrap().push(seen);
            result
        }

        async fn cacheable_unary_call(
            &self,
            _: &mut Context,
            _: SimpleRequest,
        ) -> Result<SimpleResponse, Status> {
            Err(Status::unimplemented("not here"))
        }

        async fn streaming_output_call(
            &self,
            _: &mut Context,
            _: StreamingOutputCallRequest,
        ) -> Result<BoxStream<StreamingOutputCallResponse>, Status> {
            Err(Status::unimplemented("not here"))
        }

        async fn streaming_input_call(
            &self,
            _: &mut Context,
            _: Streaming<StreamingInputCallRequest>,
        ) -> Result<StreamingInputCallResponse, Status> {
            Err(Status::unimplemented("not here"))
        }

        async fn full_duplex_call(
            &self,
            _: &mut Context,
            _: Streaming<StreamingOutputCallRequest>,
        ) -> Result<BoxStream<StreamingOutputCallResponse>, Status> {
            Err(Status::unimplemented("not here"))
        }

        async fn half_duplex_call(
            &self,
            _: &mut Context,
            _: Streaming<StreamingOutputCallRequest>,
        ) -> Result<BoxStream<StreamingOutputCallResponse>, Status> {
            Err(Status::unimplemented("not here"))
        }

        async fn unimplemented_call(&self, _: &mut Context, _: Empty) -> Result<Empty, Status> {
            Err(Status::unimplemented("not here"))
        }
    }

    async fn client(addr: &rookery::Address) -> TestServiceClient<Trace<GrpcClient>> {
        let addr: SocketAddr = addr.to_string().parse().unwrap();
        let channel = GrpcClient::connect(addr).await.unwrap();
        TestServiceClient::new(TraceLayer::client().layer(channel))
    }

    async fn start(
        name: &'static str,
        next: Option<&rookery::RunningService>,
        log: &Log,
    ) -> rookery::RunningService {
        let next = match next {
            Some(n) => Some(client(n.local_addr()).await),
            None => None,
        };
        let node = GrpcNode {
            name,
            next,
            log: Arc::clone(log),
        };
        Service::builder("grpc-hop")
            .no_registry()
            .layer(TraceLayer::server())
            .serve_grpc(
                TestServiceServer::<GrpcNode>::SERVICE,
                TestServiceServer::new(node),
            )
            .build()
            .unwrap()
            .start()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn one_trace_id_spans_two_hops_over_grpc() {
        let log = Log::default();
        let b = start("B", None, &log).await;
        let a = start("A", Some(&b), &log).await;
        let mut cx = Context::new();
        client(a.local_addr())
            .await
            .unary_call(&mut cx, SimpleRequest::default())
            .await
            .unwrap();
        let root = cx.extensions().get::<TraceContext>().unwrap().clone();

        let log = log.lock().unwrap().clone();
        let [seen_b, seen_a] = &log[..] else {
            panic!("two hops: {log:?}")
        };
        assert_eq!((seen_a.hop, seen_b.hop), ("A", "B"));
        assert_eq!(seen_a.span.trace_id(), root.trace_id());
        assert_eq!(seen_b.span.trace_id(), root.trace_id());
        assert_eq!(seen_a.span.parent_id(), Some(root.span_id()));
        // The traceparent header carried A's client span, a child of A's span, to B.
        let a_client = seen_a.downstream.as_ref().unwrap();
        assert_eq!(a_client.parent_id(), Some(seen_a.span.span_id()));
        let sent_by_a = TraceParent::parse(seen_b.traceparent.as_deref().unwrap()).unwrap();
        assert_eq!(sent_by_a, a_client.traceparent());
        assert_eq!(seen_b.span.parent_id(), Some(a_client.span_id()));

        a.stop().await.unwrap();
        b.stop().await.unwrap();
    }
}
