use proptest::prelude::*;
use rookery_core::{Context, Layer, Service, Status, service_fn};
use rookery_transport::{ThriftRequest, ThriftResponse};
use tracing::Level;

use super::{
    SpanId, TRACEPARENT, TRACESTATE, TraceConfig, TraceContext, TraceId, TraceLayer, TraceParent,
};
use crate::{
    Side,
    capture::capture,
    testing::{mock, thrift_request as request, thrift_response as response},
};

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn a_valid_traceparent_parses_and_formats_back() {
    let parent = TraceParent::parse(VALID).unwrap();
    assert_eq!(
        parent.trace_id,
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
    );
    assert_eq!(
        parent.parent_id,
        SpanId::from_hex("00f067aa0ba902b7").unwrap()
    );
    assert_eq!(parent.flags, 1);
    assert!(parent.sampled());
    assert_eq!(parent.to_string(), VALID);

    let unsampled = TraceParent::parse(&VALID.replace("-01", "-00")).unwrap();
    assert!(!unsampled.sampled());
    // Flags other than sampled are kept (and sent on).
    let other = TraceParent::parse(&VALID.replace("-01", "-09")).unwrap();
    assert_eq!((other.flags, other.to_string().ends_with("-09")), (9, true));
    // Spaces and tabs around a value, as HTTP allows around headers.
    assert_eq!(TraceParent::parse(&format!(" \t{VALID} ")), Some(parent));
}

#[test]
fn a_later_version_is_read_as_far_as_version_00_goes() {
    let later = VALID.replacen("00", "cc", 1);
    assert!(TraceParent::parse(&later).is_some());
    assert!(TraceParent::parse(&format!("{later}-what-comes-next")).is_some());
    // ...but what follows must be separated by a dash.
    assert!(TraceParent::parse(&format!("{later}x")).is_none());
}

#[test]
fn malformed_traceparents_are_refused() {
    let bad = [
        "",
        "00",
        // Version 00 is exactly 55 characters.
        &format!("{VALID}-"),
        &VALID[..54],
        // Version ff is invalid.
        &VALID.replacen("00", "ff", 1),
        // Upper-case hex anywhere.
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
        "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
        // All-zero ids.
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        // Wrong separators, non-hex digits.
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
        "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        // Two values joined, as a transport joins a key sent twice.
        &format!("{VALID},{VALID}"),
        // Not ASCII: a multi-byte character where a slice would cut it.
        "00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01",
        "é0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ];
    for value in bad {
        assert_eq!(TraceParent::parse(value), None, "{value:?}");
    }
}

proptest! {
    #[test]
    fn parsing_any_text_never_panics(value in any::<String>()) {
        let _ = TraceParent::parse(&value);
    }

    #[test]
    fn parsing_near_valid_text_never_panics(
        mut bytes in proptest::collection::vec(any::<u8>(), 55..60),
        keep in any::<[bool; 60]>(),
    ) {
        // Mostly a valid value, with some bytes (maybe non-ASCII) in its place.
        for (i, b) in bytes.iter_mut().enumerate() {
            if keep[i] && i < VALID.len() {
                *b = VALID.as_bytes()[i];
            }
        }
        let _ = TraceParent::parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn every_valid_value_round_trips(trace in 1u128.., span in 1u64.., flags in any::<u8>()) {
        let parent = TraceParent {
            trace_id: TraceId::from_bytes(trace.to_be_bytes()).unwrap(),
            parent_id: SpanId::from_bytes(span.to_be_bytes()).unwrap(),
            flags,
        };
        prop_assert_eq!(TraceParent::parse(&parent.to_string()), Some(parent));
    }
}

#[tokio::test]
async fn a_server_continues_the_callers_trace_and_hands_it_to_downstream_calls() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let handler = {
        let seen = seen.clone();
        service_fn(move |cx: &mut Context, req: ThriftRequest| {
            // What a handler's downstream call starts from.
            *seen.lock().unwrap() = Some(cx.child());
            let inner = inner.clone();
            let mut cx = cx.clone();
            async move { inner.call(&mut cx, req).await }
        })
    };
    let server = TraceLayer::server().layer(handler);
    let mut cx = Context::new();
    cx.metadata_mut().insert(TRACEPARENT, VALID);
    cx.metadata_mut()
        .insert(TRACESTATE, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    let call = tokio::spawn(async move {
        let result = server.call(&mut cx, request("get")).await;
        (result, cx)
    });
    handle.next().await.unwrap().respond(Ok(response()));
    let (result, cx) = call.await.unwrap();
    result.unwrap();

    let child = seen.lock().unwrap().take().unwrap();
    let span = TraceContext::current(&child).expect("the child inherits the span");
    assert_eq!(
        span.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(span.parent_id().unwrap().to_string(), "00f067aa0ba902b7");
    assert_ne!(span.span_id().to_string(), "00f067aa0ba902b7");
    assert!(span.sampled());
    assert_eq!(
        span.trace_state().map(|s| &**s),
        Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
    );
    assert_eq!(
        cx.extensions().get::<TraceContext>(),
        Some(span),
        "the call's own span"
    );
}

#[tokio::test]
async fn a_server_starts_a_new_trace_when_the_traceparent_is_missing_or_malformed() {
    let server =
        TraceLayer::server().layer(service_fn(|_cx: &mut Context, _req: ThriftRequest| async {
            Ok::<_, Status>(response())
        }));
    let mut traces = Vec::new();
    let upper = VALID.to_uppercase();
    for traceparent in [None, Some("00-zz"), Some(&*upper)] {
        let mut cx = Context::new();
        if let Some(value) = traceparent {
            cx.metadata_mut().insert(TRACEPARENT, value.to_string());
            cx.metadata_mut()
                .insert(TRACESTATE, "dropped=with-its-traceparent");
        }
        server.call(&mut cx, request("get")).await.unwrap();
        let span = TraceContext::current(&cx).unwrap();
        assert_eq!(span.parent_id(), None, "{traceparent:?}: a root span");
        assert_eq!(span.trace_state(), None);
        assert!(span.sampled());
        traces.push(span.trace_id());
    }
    assert!(traces[0] != traces[1] && traces[1] != traces[2]);
}

#[tokio::test]
async fn a_client_sends_a_child_of_the_call_being_handled() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let client = TraceLayer::client().layer(inner);
    let mut handling = Context::new();
    let parent = TraceContext::from_remote(&TraceParent::parse(VALID).unwrap(), Some("k=v".into()));
    handling.inherited_mut().insert(parent.clone());
    let mut cx = handling.child();
    let call = tokio::spawn(async move {
        let result = client.call(&mut cx, request("get")).await;
        (result, cx)
    });
    let pending = handle.next().await.unwrap();
    let sent = TraceParent::parse(pending.seen.metadata.get(TRACEPARENT).unwrap()).unwrap();
    assert_eq!(pending.seen.metadata.get(TRACESTATE), Some("k=v"));
    pending.respond(Ok(response()));
    let (result, cx) = call.await.unwrap();
    result.unwrap();

    let span = cx.extensions().get::<TraceContext>().unwrap();
    assert_eq!(span.trace_id(), parent.trace_id());
    assert_eq!(span.parent_id(), Some(parent.span_id()));
    assert_eq!(
        sent,
        span.traceparent(),
        "the callee's parent is the client span"
    );
}

#[tokio::test]
async fn a_client_without_a_trace_starts_one() {
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    handle.answer_with(|_, _, seen| {
        let sent = TraceParent::parse(seen.metadata.get(TRACEPARENT).unwrap()).unwrap();
        assert!(sent.sampled());
        Ok(response())
    });
    let client = TraceLayer::client().layer(inner);
    let mut cx = Context::new();
    cx.metadata_mut().insert(TRACESTATE, "stale=1");
    client.call(&mut cx, request("get")).await.unwrap();
    let span = cx.extensions().get::<TraceContext>().unwrap();
    assert_eq!(span.parent_id(), None);
    assert_eq!(
        cx.metadata().get(TRACESTATE),
        None,
        "no trace state for a new trace"
    );
}

#[tokio::test]
async fn the_call_runs_in_a_tracing_span_with_its_ids() {
    let (events, _guard) = capture();
    let handler = service_fn(|_cx: &mut Context, _req: ThriftRequest| async {
        tracing::info!(target: "handler", "handling");
        Ok::<_, Status>(response())
    });
    let server = TraceLayer::server().layer(handler);
    let mut cx = Context::new();
    cx.metadata_mut().insert(TRACEPARENT, VALID);
    cx.callee_mut().service = "bank".into();
    server.call(&mut cx, request("get")).await.unwrap();
    let span = cx.extensions().get::<TraceContext>().unwrap();
    let logged = events.of("handler");
    assert_eq!(logged.len(), 1);
    let fields = &logged[0].span;
    assert_eq!(fields["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(fields["span_id"], span.span_id().to_string());
    assert_eq!(fields["parent_id"], "00f067aa0ba902b7");
    assert_eq!(fields["side"], "server");
    assert_eq!(fields["service"], "bank");
    assert_eq!(fields["method"], "get");
}

#[test]
fn the_configuration_sets_the_span_level() {
    let config: TraceConfig = serde_json::from_str(r#"{"level": "debug"}"#).unwrap();
    assert_eq!(
        TraceLayer::from_config(Side::Server, &config).level,
        Level::DEBUG
    );
    let typo = serde_json::from_str::<TraceConfig>(r#"{"levels": "debug"}"#).unwrap_err();
    assert!(typo.to_string().contains("unknown field"), "{typo}");
}

#[cfg(feature = "otlp")]
mod opentelemetry_spans {
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use opentelemetry::trace::{SpanKind, Status as OtelStatus, TracerProvider as _};
    use opentelemetry_sdk::{
        error::OTelSdkResult,
        trace::{SdkTracerProvider, SpanData, SpanExporter},
    };

    use super::*;
    use crate::trace::otlp::Otlp;

    /// Keeps the spans it is given.
    #[derive(Clone, Debug, Default)]
    struct Keep(Arc<Mutex<Vec<SpanData>>>);

    impl SpanExporter for Keep {
        fn export(
            &self,
            batch: Vec<SpanData>,
        ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
            self.0.lock().unwrap().extend(batch);
            std::future::ready(Ok(()))
        }
    }

    /// What a transport does between a client and a server: the metadata travels, nothing
    /// else.
    fn wire<S>(server: S) -> impl Service<ThriftRequest, Response = ThriftResponse> + Clone
    where
        S: Service<ThriftRequest, Response = ThriftResponse> + Clone + Send + Sync + 'static,
    {
        service_fn(move |cx: &mut Context, req: ThriftRequest| {
            let mut incoming = Context::new();
            *incoming.metadata_mut() = cx.metadata().clone();
            incoming.callee_mut().service = "bank".into();
            let server = server.clone();
            async move { server.call(&mut incoming, req).await }
        })
    }

    #[tokio::test]
    async fn every_hop_is_an_opentelemetry_span_with_the_ids_that_travel() {
        let kept = Keep::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(kept.clone())
            .build();
        let tracer = || provider.tracer("test");
        // Bank's handler calls the ledger, which fails.
        let ledger = TraceLayer::server().tracer(tracer()).layer(service_fn(
            |_cx: &mut Context, _req: ThriftRequest| async {
                Err::<ThriftResponse, _>(Status::not_found("no account"))
            },
        ));
        let to_ledger = TraceLayer::client()
            .tracer(tracer())
            .service("ledger")
            .layer(wire(ledger));
        let bank = TraceLayer::server().tracer(tracer()).layer(service_fn(
            move |cx: &mut Context, _req: ThriftRequest| {
                let to_ledger = to_ledger.clone();
                let mut down = cx.child();
                async move {
                    let _ = to_ledger.call(&mut down, request("find")).await;
                    Ok::<_, Status>(response())
                }
            },
        ));
        // The first client learns the service's name from the call (as a balanced client
        // names it): its span is named after it at the end.
        let named = service_fn(move |cx: &mut Context, req: ThriftRequest| {
            cx.callee_mut().service = "bank".into();
            let bank = wire(bank.clone());
            let mut cx = cx.clone();
            async move { bank.call(&mut cx, req).await }
        });
        let client = TraceLayer::client().tracer(tracer()).layer(named);
        let mut cx = Context::new();
        client.call(&mut cx, request("get")).await.unwrap();
        let root = cx.extensions().get::<TraceContext>().unwrap().clone();

        let spans = kept.0.lock().unwrap().clone();
        assert_eq!(spans.len(), 4, "{spans:#?}");
        let by_name = |name: &str, kind: SpanKind| {
            spans
                .iter()
                .find(|s| s.name == name && s.span_kind == kind)
                .unwrap_or_else(|| panic!("no {kind:?} span {name}: {spans:#?}"))
        };
        let client_span = by_name("bank/get", SpanKind::Client);
        let bank_span = by_name("bank/get", SpanKind::Server);
        let to_ledger_span = by_name("ledger/find", SpanKind::Client);
        let ledger_span = by_name("bank/find", SpanKind::Server);
        // One trace, the one the first client started, with the ids rookery carried.
        let trace = root.trace_id().to_bytes();
        for span in &spans {
            assert_eq!(span.span_context.trace_id().to_bytes(), trace);
        }
        assert_eq!(
            client_span.span_context.span_id().to_bytes(),
            root.span_id().to_bytes()
        );
        assert_eq!(
            client_span.parent_span_id,
            opentelemetry::trace::SpanId::INVALID
        );
        // Each span's parent is the one before it; a server's parent is remote.
        assert_eq!(bank_span.parent_span_id, client_span.span_context.span_id());
        assert!(bank_span.parent_span_is_remote);
        assert_eq!(
            to_ledger_span.parent_span_id,
            bank_span.span_context.span_id()
        );
        assert!(!to_ledger_span.parent_span_is_remote);
        assert_eq!(
            ledger_span.parent_span_id,
            to_ledger_span.span_context.span_id()
        );
        // Failures are errors, with their codes.
        assert_eq!(ledger_span.status, OtelStatus::error("no account"));
        assert!(
            ledger_span
                .attributes
                .iter()
                .any(|kv| kv.key.as_str() == "rpc.response.status_code"
                    && kv.value.as_str() == "NOT_FOUND"),
            "{:?}",
            ledger_span.attributes
        );
        assert_eq!(bank_span.status, OtelStatus::Unset);
    }

    /// A collector: keeps the path, content type and body of each request.
    async fn collector() -> (
        std::net::SocketAddr,
        Arc<Mutex<Vec<(String, String, Bytes)>>>,
    ) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<(String, String, Bytes)>>> = Arc::default();
        let keep = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let keep = keep.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: http::Request<hyper::body::Incoming>| {
                            let keep = keep.clone();
                            async move {
                                let path = req.uri().path().to_string();
                                let kind = req
                                    .headers()
                                    .get(http::header::CONTENT_TYPE)
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or_default()
                                    .to_string();
                                let body = req.into_body().collect().await?.to_bytes();
                                keep.lock().unwrap().push((path, kind, body));
                                Ok::<_, hyper::Error>(http::Response::new(Full::new(Bytes::new())))
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (addr, seen)
    }

    #[tokio::test]
    async fn spans_reach_a_collector_over_otlp_http() {
        let (addr, seen) = collector().await;
        let otlp = Otlp::builder("bank-service")
            .endpoint(format!("http://{addr}/v1/traces"))
            .build()
            .unwrap();
        let server = TraceLayer::server().tracer(otlp.tracer()).layer(service_fn(
            |_cx: &mut Context, _req: ThriftRequest| async { Ok::<_, Status>(response()) },
        ));
        let mut cx = Context::new();
        cx.callee_mut().service = "bank".into();
        cx.metadata_mut().insert(TRACEPARENT, VALID);
        server.call(&mut cx, request("get")).await.unwrap();
        otlp.shutdown().await.unwrap();

        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "one batch");
        let (path, kind, body) = &seen[0];
        assert_eq!(path, "/v1/traces");
        assert_eq!(kind, "application/x-protobuf");
        let contains = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
        let trace = TraceParent::parse(VALID).unwrap().trace_id.to_bytes();
        assert!(contains(&trace), "the trace id is in the export");
        assert!(contains(b"bank/get"), "the span name is in the export");
        assert!(
            contains(b"bank-service"),
            "the service name is in the export"
        );
    }

    #[tokio::test]
    async fn an_unreachable_collector_is_an_error_not_a_panic() {
        // A port nothing listens on: bind one, note it, close it.
        let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let otlp = Otlp::builder("bank-service")
            .endpoint(format!("http://{addr}/v1/traces"))
            .timeout(std::time::Duration::from_secs(2))
            .build()
            .unwrap();
        let server = TraceLayer::server().tracer(otlp.tracer()).layer(service_fn(
            |_cx: &mut Context, _req: ThriftRequest| async { Ok::<_, Status>(response()) },
        ));
        server
            .call(&mut Context::new(), request("get"))
            .await
            .unwrap();
        let flushed = otlp.flush().await;
        assert!(flushed.is_err(), "{flushed:?}");
        assert!(Otlp::builder("x").endpoint("not a url").build().is_err());
    }
}
