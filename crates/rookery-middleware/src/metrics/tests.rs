use faststr::FastStr;
use rookery_core::{Code, Context, Layer, Service, Status, service_fn};
use rookery_transport::{ThriftRequest, ThriftResponse};

use super::{
    MAX_PEERS, Metrics, MetricsConfig,
    registry::{CallLabels, Label},
};
use crate::{
    Side,
    testing::{mock, thrift_request as request, thrift_response as response},
};

fn labels(
    side: Side,
    service: &'static str,
    method: &'static str,
    code: Code,
    peer: &'static str,
) -> CallLabels {
    CallLabels {
        side,
        service: Label(FastStr::from_static_str(service)),
        method: Label(FastStr::from_static_str(method)),
        code: code.as_str(),
        peer: Label(FastStr::from_static_str(peer)),
    }
}

/// The value of the sample `line_start` (a name and its labels) in the exposition.
fn sample(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start)?.strip_prefix(' '))
        .map(|v| v.parse().expect("a number"))
}

/// A server's context, as its transport fills it.
fn incoming(caller: &'static str) -> Context {
    let mut cx = Context::new();
    cx.callee_mut().service = "bank".into();
    cx.caller_mut().service = caller.into();
    cx.caller_mut().address = Some("127.0.0.1:50001".into());
    cx
}

#[tokio::test]
async fn after_n_calls_the_counter_and_histogram_say_n_and_nothing_is_in_flight() {
    let metrics = Metrics::new();
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = metrics.server_layer().layer(inner);

    // One call, step by step: in flight while the handler runs, counted when it answers.
    let call = {
        let service = service.clone();
        tokio::spawn(async move { service.call(&mut incoming("shop"), request("get")).await })
    };
    let pending = handle.next().await.unwrap();
    assert_eq!(metrics.in_flight(Side::Server, "bank"), 1);
    let ok = labels(Side::Server, "bank", "get", Code::Ok, "shop");
    assert_eq!(metrics.calls(&ok), 0, "not counted before it ends");
    pending.respond(Ok(response()));
    call.await.unwrap().unwrap();
    assert_eq!(metrics.in_flight(Side::Server, "bank"), 0);
    assert_eq!(metrics.calls(&ok), 1);

    // N more, answered by a script: four succeed, every fifth fails.
    handle.answer_with(|n, _, _| {
        if n % 5 == 0 {
            Err(Status::unavailable("scripted"))
        } else {
            Ok(response())
        }
    });
    let n = 20;
    for _ in 0..n {
        let _ = service.call(&mut incoming("shop"), request("get")).await;
    }
    let failed = labels(Side::Server, "bank", "get", Code::Unavailable, "shop");
    assert_eq!(metrics.calls(&ok), 1 + 16);
    assert_eq!(metrics.calls(&failed), 4);
    assert_eq!(metrics.in_flight(Side::Server, "bank"), 0);

    let text = metrics.encode();
    let ok_series = r#"{side="server",service="bank",method="get",code="OK",peer="shop"}"#;
    let failed_series =
        r#"{side="server",service="bank",method="get",code="UNAVAILABLE",peer="shop"}"#;
    assert_eq!(
        sample(&text, &format!("rookery_calls_total{ok_series}")),
        Some(17.0)
    );
    assert_eq!(
        sample(&text, &format!("rookery_calls_total{failed_series}")),
        Some(4.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("rookery_call_duration_seconds_count{ok_series}")
        ),
        Some(17.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("rookery_call_duration_seconds_count{failed_series}")
        ),
        Some(4.0)
    );
    // Every call fits under the last bucket bound but +Inf.
    let inf = r#"rookery_call_duration_seconds_bucket{le="+Inf",side="server",service="bank",method="get",code="OK",peer="shop"}"#;
    assert_eq!(sample(&text, inf), Some(17.0), "{text}");
    assert_eq!(
        sample(
            &text,
            r#"rookery_calls_in_flight{side="server",service="bank"}"#
        ),
        Some(0.0)
    );
    assert!(text.contains("# TYPE rookery_calls counter"), "{text}");
    assert!(
        text.contains("# TYPE rookery_call_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        text.contains("# UNIT rookery_call_duration_seconds seconds"),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
}

#[tokio::test]
async fn a_client_labels_its_calls_with_the_instance_the_balancer_picked() {
    let metrics = Metrics::new();
    // As a balanced client does: it names the service and the instance when it picks one.
    let balanced = service_fn(|cx: &mut Context, _req: ThriftRequest| {
        cx.callee_mut().service = "bank".into();
        cx.callee_mut().address = Some("10.0.0.7:9090".into());
        async { Ok::<_, Status>(response()) }
    });
    let client = metrics.client_layer().layer(balanced);
    for _ in 0..3 {
        client
            .call(&mut Context::new(), request("get"))
            .await
            .unwrap();
    }
    let ok = labels(Side::Client, "bank", "get", Code::Ok, "10.0.0.7:9090");
    assert_eq!(metrics.calls(&ok), 3);
    // It started before the service was named: the gauge it entered is the unnamed one.
    assert_eq!(metrics.in_flight(Side::Client, ""), 0);

    // A client layer may name the service itself.
    let named = metrics.client_layer().service("ledger").layer(service_fn(
        |_cx: &mut Context, _req: ThriftRequest| async { Ok::<_, Status>(response()) },
    ));
    named
        .call(&mut Context::new(), request("put"))
        .await
        .unwrap();
    assert_eq!(
        metrics.calls(&labels(Side::Client, "ledger", "put", Code::Ok, "")),
        1
    );
}

#[tokio::test]
async fn an_abandoned_call_counts_as_cancelled_and_leaves_the_gauge() {
    let metrics = Metrics::new();
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = metrics.server_layer().layer(inner);
    let call = tokio::spawn(async move { service.call(&mut incoming(""), request("slow")).await });
    let mut pending = handle.next().await.unwrap();
    assert_eq!(metrics.in_flight(Side::Server, "bank"), 1);
    call.abort();
    pending.cancelled().await;
    assert_eq!(metrics.in_flight(Side::Server, "bank"), 0);
    assert_eq!(
        metrics.calls(&labels(Side::Server, "bank", "slow", Code::Cancelled, "")),
        1
    );
}

#[tokio::test]
async fn what_callers_name_cannot_make_series_without_end() {
    let metrics = Metrics::new();
    let service =
        metrics
            .server_layer()
            .layer(service_fn(|_cx: &mut Context, req: ThriftRequest| {
                let known = req.method == "get";
                async move {
                    if known {
                        Ok(response())
                    } else {
                        Err(Status::unimplemented("no such method"))
                    }
                }
            }));
    for i in 0..(MAX_PEERS + 10) {
        let caller: &'static str = Box::leak(format!("caller-{i}").into_boxed_str());
        let method: &'static str = Box::leak(format!("m{i}").into_boxed_str());
        let _ = service.call(&mut incoming(caller), request(method)).await;
        service
            .call(&mut incoming(caller), request("get"))
            .await
            .unwrap();
    }
    let text = metrics.encode();
    let series = text
        .lines()
        .filter(|l| l.starts_with("rookery_calls_total{"))
        .count();
    assert_eq!(
        series,
        2 * MAX_PEERS + 2,
        "one per peer and code, then _other"
    );
    assert_eq!(
        metrics.calls(&labels(Side::Server, "bank", "get", Code::Ok, "_other")),
        10
    );
    assert_eq!(
        metrics.calls(&labels(
            Side::Server,
            "bank",
            "_unknown",
            Code::Unimplemented,
            "_other"
        )),
        10
    );
    assert_eq!(
        metrics.calls(&labels(
            Side::Server,
            "bank",
            "_unknown",
            Code::Unimplemented,
            "caller-0"
        )),
        1
    );
}

#[tokio::test]
async fn buckets_come_from_the_configuration() {
    let config: MetricsConfig = serde_json::from_str(r#"{"buckets": [0.5, 0.1, 0.1]}"#).unwrap();
    let metrics = Metrics::from_config(&config);
    let service =
        metrics
            .server_layer()
            .layer(service_fn(|_cx: &mut Context, _req: ThriftRequest| async {
                Ok::<_, Status>(response())
            }));
    service
        .call(&mut Context::new(), request("get"))
        .await
        .unwrap();
    let text = metrics.encode();
    assert!(
        text.contains(r#"le="0.1""#) && text.contains(r#"le="0.5""#),
        "{text}"
    );
    assert!(!text.contains(r#"le="0.25""#), "{text}");
    let typo = serde_json::from_str::<MetricsConfig>(r#"{"bucket": [1.0]}"#).unwrap_err();
    assert!(typo.to_string().contains("unknown field"), "{typo}");
}

#[test]
fn the_applications_own_metrics_are_exposed_beside() {
    let metrics = Metrics::new();
    let jobs = prometheus_client::metrics::counter::Counter::<u64>::default();
    metrics.register("jobs_done", "Jobs done.", jobs.clone());
    jobs.inc_by(3);
    assert_eq!(sample(&metrics.encode(), "jobs_done_total"), Some(3.0));
}

#[cfg(feature = "protobuf")]
mod streams {
    use bytes::Bytes;
    use rookery_codec::protobuf::rpc::{
        MethodDescriptor, MethodKind, ProtoStreamRequest, Streaming,
    };

    use super::*;

    static WATCH: MethodDescriptor = MethodDescriptor {
        service: "bank.Bank",
        name: "Watch",
        path: "/bank.Bank/Watch",
        kind: MethodKind::ServerStreaming,
        request: "bank.WatchRequest",
        response: "bank.Event",
    };

    fn watch() -> ProtoStreamRequest {
        ProtoStreamRequest {
            method: &WATCH,
            messages: Streaming::once(Bytes::from_static(b"req")),
        }
    }

    #[tokio::test]
    async fn a_stream_is_counted_when_it_ends_and_a_dropped_one_as_cancelled() {
        let metrics = Metrics::new();
        let handler = service_fn(|_cx: &mut Context, _req: ProtoStreamRequest| async {
            Ok::<_, Status>(Streaming::iter([
                Ok(Bytes::from_static(b"1")),
                Ok(Bytes::from_static(b"2")),
            ]))
        });
        let server = metrics.server_layer().layer(handler);
        let mut cx = Context::new();
        cx.callee_mut().service = "bank.Bank".into();

        let mut stream = server.call(&mut cx.clone(), watch()).await.unwrap();
        let ok = labels(Side::Server, "bank.Bank", "Watch", Code::Ok, "");
        assert_eq!(stream.message().await.unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(stream.message().await.unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(metrics.calls(&ok), 0, "the stream has not ended");
        assert_eq!(metrics.in_flight(Side::Server, "bank.Bank"), 1);
        assert_eq!(stream.message().await.unwrap(), None);
        assert_eq!(metrics.calls(&ok), 1);
        assert_eq!(metrics.in_flight(Side::Server, "bank.Bank"), 0);

        let mut stream = server.call(&mut cx.clone(), watch()).await.unwrap();
        stream.message().await.unwrap();
        drop(stream);
        let cancelled = labels(Side::Server, "bank.Bank", "Watch", Code::Cancelled, "");
        assert_eq!(metrics.calls(&cancelled), 1);
        assert_eq!(metrics.in_flight(Side::Server, "bank.Bank"), 0);
    }

    #[tokio::test]
    async fn a_stream_that_fails_counts_with_its_status() {
        let metrics = Metrics::new();
        let handler = service_fn(|_cx: &mut Context, _req: ProtoStreamRequest| async {
            Ok::<_, Status>(Streaming::iter([
                Ok(Bytes::from_static(b"1")),
                Err(Status::data_loss("broken")),
            ]))
        });
        let client = metrics.client_layer().service("bank.Bank").layer(handler);
        let mut stream = client.call(&mut Context::new(), watch()).await.unwrap();
        stream.message().await.unwrap();
        assert!(stream.message().await.is_err());
        let lost = labels(Side::Client, "bank.Bank", "Watch", Code::DataLoss, "");
        assert_eq!(metrics.calls(&lost), 1);
    }
}
