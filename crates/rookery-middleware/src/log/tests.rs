use bytes::Bytes;
use rookery_codec::thrift::Protocol;
use rookery_core::{Context, Layer, Service, Status, service_fn};
use rookery_transport::{ThriftRequest, ThriftResponse};
use tracing::Level;

use super::{AccessLogConfig, AccessLogLayer};
use crate::{
    Side,
    capture::capture,
    testing::{mock, thrift_request as request},
    trace::{TRACEPARENT, TraceLayer},
};

const TARGET: &str = "rookery::access";

fn response(bytes: &'static [u8]) -> ThriftResponse {
    ThriftResponse {
        protocol: Protocol::Binary,
        body: Bytes::from_static(bytes),
        limits: Default::default(),
    }
}

/// A server's context, as its transport fills it.
fn incoming() -> Context {
    let mut cx = Context::new();
    cx.callee_mut().service = "bank".into();
    cx.caller_mut().service = "shop".into();
    cx.caller_mut().address = Some("127.0.0.1:50001".into());
    cx
}

#[tokio::test]
async fn a_call_logs_one_event_when_it_ends_with_what_is_known_of_it() {
    let (events, _guard) = capture();
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = AccessLogLayer::server().layer(inner);

    let call = tokio::spawn(async move { service.call(&mut incoming(), request("get")).await });
    let pending = handle.next().await.unwrap();
    assert!(
        events.of(TARGET).is_empty(),
        "nothing is logged before the end"
    );
    pending.respond(Ok(response(b"result")));
    call.await.unwrap().unwrap();

    let logged = events.of(TARGET);
    assert_eq!(logged.len(), 1, "{logged:?}");
    let event = &logged[0];
    assert_eq!(event.level, Level::INFO);
    let f = &event.fields;
    assert_eq!(f["message"], "call ended");
    assert_eq!(f["side"], "server");
    assert_eq!(f["service"], "bank");
    assert_eq!(f["method"], "get");
    assert_eq!(f["peer"], "127.0.0.1:50001");
    assert_eq!(f["caller"], "shop");
    assert_eq!(f["code"], "OK");
    assert_eq!(
        f["request_size"], "4",
        "the body of thrift_request is `args`"
    );
    assert_eq!(f["response_size"], "6");
    assert!(f["duration_ms"].parse::<f64>().unwrap() >= 0.0);
    assert!(
        !f.contains_key("error") && !f.contains_key("trace_id"),
        "{f:?}"
    );
}

#[tokio::test]
async fn failures_log_at_warn_with_their_status_and_successes_at_the_level_chosen() {
    let (events, _guard) = capture();
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    handle.answer_with(|n, _, _| {
        if n == 1 {
            Err(Status::unavailable("no instance"))
        } else {
            Ok(response(b""))
        }
    });
    let client = AccessLogLayer::client()
        .ok_level(Level::DEBUG)
        .service("bank")
        .layer(inner);
    let mut cx = Context::new();
    cx.callee_mut().address = Some("10.0.0.7:9090".into());
    client
        .call(&mut cx.clone(), request("get"))
        .await
        .unwrap_err();
    client.call(&mut cx, request("get")).await.unwrap();

    let logged = events.of(TARGET);
    assert_eq!(logged.len(), 2);
    let (failed, ok) = (&logged[0], &logged[1]);
    assert_eq!(failed.level, Level::WARN);
    assert_eq!(failed.fields["code"], "UNAVAILABLE");
    assert_eq!(failed.fields["error"], "no instance");
    assert_eq!(failed.fields["side"], "client");
    assert_eq!(failed.fields["service"], "bank");
    assert_eq!(failed.fields["peer"], "10.0.0.7:9090");
    assert!(!failed.fields.contains_key("caller"));
    assert!(!failed.fields.contains_key("response_size"));
    assert_eq!(ok.level, Level::DEBUG);
    assert_eq!(ok.fields["code"], "OK");
}

#[tokio::test]
async fn an_abandoned_call_logs_as_cancelled() {
    let (events, _guard) = capture();
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = AccessLogLayer::server().layer(inner);
    let mut cx = incoming();
    let mut call = Box::pin(service.call(&mut cx, request("slow")));
    // Polled once: the call reaches the handler; then the caller gives up.
    assert!(futures_poll_once(call.as_mut()).await.is_none());
    let pending = handle.next().await.unwrap();
    drop(call);
    assert!(pending.is_cancelled());
    let logged = events.of(TARGET);
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].level, Level::WARN);
    assert_eq!(logged[0].fields["code"], "CANCELLED");
}

/// Polls `fut` once: its output if it was ready.
async fn futures_poll_once<F: std::future::Future>(
    fut: std::pin::Pin<&mut F>,
) -> Option<F::Output> {
    let mut fut = Some(fut);
    std::future::poll_fn(|cx| {
        let fut = fut.take().unwrap();
        std::task::Poll::Ready(match fut.poll(cx) {
            std::task::Poll::Ready(out) => Some(out),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

#[tokio::test]
async fn a_traced_call_logs_its_trace_id_whichever_layer_is_outside() {
    let (events, _guard) = capture();
    let handler = service_fn(|_cx: &mut Context, _req: ThriftRequest| async {
        Ok::<_, Status>(response(b""))
    });
    let log_outside = AccessLogLayer::server().layer(TraceLayer::server().layer(handler));
    let trace_outside = TraceLayer::server().layer(AccessLogLayer::server().layer(handler));
    for service in [&log_outside as &dyn DynCall, &trace_outside as &dyn DynCall] {
        let mut cx = incoming();
        cx.metadata_mut().insert(
            TRACEPARENT,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
        service.call_get(&mut cx).await;
    }
    let logged = events.of(TARGET);
    assert_eq!(logged.len(), 2);
    for event in logged {
        assert_eq!(event.fields["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    }
}

/// Two differently layered services, called alike.
trait DynCall {
    fn call_get<'a>(
        &'a self,
        cx: &'a mut Context,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>;
}

impl<S: Service<ThriftRequest>> DynCall for S {
    fn call_get<'a>(
        &'a self,
        cx: &'a mut Context,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>> {
        Box::pin(async move {
            assert!(self.call(cx, request("get")).await.is_ok());
        })
    }
}

#[test]
fn the_configuration_names_levels() {
    let config: AccessLogConfig =
        serde_json::from_str(r#"{"ok_level": "debug", "error_level": "error"}"#).unwrap();
    let layer = AccessLogLayer::from_config(Side::Server, &config);
    assert_eq!(layer.ok_level, Level::DEBUG);
    assert_eq!(layer.error_level, Level::ERROR);
    let default = AccessLogLayer::from_config(Side::Client, &AccessLogConfig::default());
    assert_eq!(
        (default.ok_level, default.error_level),
        (Level::INFO, Level::WARN)
    );
    let bad = serde_json::from_str::<AccessLogConfig>(r#"{"ok_level": "loud"}"#).unwrap_err();
    assert!(bad.to_string().contains("unknown level"), "{bad}");
    let typo = serde_json::from_str::<AccessLogConfig>(r#"{"level": "info"}"#).unwrap_err();
    assert!(typo.to_string().contains("unknown field"), "{typo}");
}

#[cfg(feature = "protobuf")]
#[tokio::test]
async fn a_stream_logs_when_its_last_message_has_been_read() {
    use rookery_codec::protobuf::rpc::{
        MethodDescriptor, MethodKind, ProtoStreamRequest, Streaming,
    };
    static WATCH: MethodDescriptor = MethodDescriptor {
        service: "bank.Bank",
        name: "Watch",
        path: "/bank.Bank/Watch",
        kind: MethodKind::ServerStreaming,
        request: "bank.WatchRequest",
        response: "bank.Event",
    };
    let (events, _guard) = capture();
    let handler = service_fn(|_cx: &mut Context, _req: ProtoStreamRequest| async {
        Ok::<_, Status>(Streaming::iter([Ok(Bytes::from_static(b"1"))]))
    });
    let server = AccessLogLayer::server().layer(handler);
    let req = ProtoStreamRequest {
        method: &WATCH,
        messages: Streaming::once(Bytes::from_static(b"req")),
    };
    let mut stream = server.call(&mut incoming(), req).await.unwrap();
    stream.message().await.unwrap();
    assert!(events.of(TARGET).is_empty(), "the stream has not ended");
    assert_eq!(stream.message().await.unwrap(), None);
    let logged = events.of(TARGET);
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].fields["method"], "Watch");
    assert!(
        !logged[0].fields.contains_key("request_size"),
        "a stream's size is unknown"
    );
}
