use std::{sync::Arc, time::Duration};

use rookery_core::{Code, Context, Layer, Service, Status};
use rookery_transport::{ThriftRequest, ThriftResponse};
use tokio::task::JoinHandle;

use super::{ConcurrencyLimitConfig, ConcurrencyLimitLayer, WhenFull};
use crate::{
    limit::{Pushback, retry_pushback},
    testing::{mock, thrift_request as request, thrift_response},
};

fn bank() -> Context {
    let mut cx = Context::new();
    cx.callee_mut().service = "Bank".into();
    cx
}

/// Starts a call of `method` of `Bank` on its own task.
fn start<S>(service: &Arc<S>, method: &'static str) -> JoinHandle<Result<ThriftResponse, Status>>
where
    S: Service<ThriftRequest, Response = ThriftResponse> + 'static,
{
    let service = Arc::clone(service);
    tokio::spawn(async move { service.call(&mut bank(), request(method)).await })
}

/// Calls `method` of `Bank` here; on refusal, the status and its pushback.
async fn refused<S>(service: &S, method: &'static str) -> (Status, Option<Pushback>)
where
    S: Service<ThriftRequest, Response = ThriftResponse>,
{
    let mut cx = bank();
    let status = service
        .call(&mut cx, request(method))
        .await
        .expect_err("the call should be refused");
    (status, retry_pushback(&cx))
}

/// Lets spawned calls run until they block.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_server_sheds_calls_over_a_methods_limit_with_unavailable_and_a_pushback() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = Arc::new(
        ConcurrencyLimitLayer::shed()
            .each_method(2)
            .method("report", 1)
            .pushback(Duration::from_millis(250))
            .layer(inner),
    );
    let gets = [start(&service, "get"), start(&service, "get")];
    let report = start(&service, "report");
    let mut pending = Vec::new();
    for _ in 0..3 {
        pending.push(handle.next().await.unwrap());
    }

    let (status, pushback) = refused(&*service, "get").await;
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.is_unsent());
    assert!(
        status.message().contains("Bank.get: overloaded"),
        "{status}"
    );
    assert_eq!(pushback, Some(Pushback::After(Duration::from_millis(250))));
    let (status, pushback) = refused(&*service, "report").await;
    assert!(status.message().contains("Bank.report"), "{status}");
    assert!(pushback.is_some());
    // Another method has slots of its own.
    let put = start(&service, "put");
    handle.next().await.unwrap().respond(Ok(thrift_response()));
    put.await.unwrap().unwrap();
    assert_eq!(handle.calls(), 4, "refused calls never ran");

    // A call that ends frees its slot.
    for p in pending {
        p.respond(Ok(thrift_response()));
    }
    for call in gets.into_iter().chain([report]) {
        call.await.unwrap().unwrap();
    }
    let get = start(&service, "get");
    handle.next().await.unwrap().respond(Ok(thrift_response()));
    get.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_service_limit_holds_its_methods_together() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = Arc::new(ConcurrencyLimitLayer::shed().service(2).layer(inner));
    let _calls = [start(&service, "get"), start(&service, "put")];
    let _pending = [handle.next().await.unwrap(), handle.next().await.unwrap()];
    let (status, _) = refused(&*service, "report").await;
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.message().contains("service Bank"), "{status}");
}

#[tokio::test(start_paused = true)]
async fn a_client_limit_holds_n_calls_and_the_next_waits_for_a_slot() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = Arc::new(ConcurrencyLimitLayer::wait().service(2).layer(inner));
    let first = start(&service, "get");
    let _second = start(&service, "put");
    let held = handle.next().await.unwrap();
    let _other = handle.next().await.unwrap();
    let third = start(&service, "get");
    settle().await;
    assert!(handle.try_next().is_none(), "the third call waits");
    assert_eq!(handle.calls(), 2);
    // A slot frees: the third call goes.
    held.respond(Ok(thrift_response()));
    first.await.unwrap().unwrap();
    handle.next().await.unwrap().respond(Ok(thrift_response()));
    third.await.unwrap().unwrap();
    assert_eq!(handle.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_fail_fast_client_limit_refuses_the_next_call_unsent() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = Arc::new(
        ConcurrencyLimitLayer::fail_fast()
            .each_method(2)
            .layer(inner),
    );
    let _calls = [start(&service, "get"), start(&service, "get")];
    let _pending = [handle.next().await.unwrap(), handle.next().await.unwrap()];
    let (status, pushback) = refused(&*service, "get").await;
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(status.is_unsent());
    assert_eq!(pushback, None, "a local refusal tells no caller to wait");
    assert_eq!(handle.calls(), 2);
}

// Deadlines are std instants: real (short) time passes here.
#[tokio::test]
async fn a_waiting_call_gives_up_at_its_deadline_unsent() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = Arc::new(ConcurrencyLimitLayer::wait().each_method(1).layer(inner));
    let _first = start(&service, "get");
    let _pending = handle.next().await.unwrap();
    let mut cx = bank();
    cx.shorten_deadline(Duration::from_millis(20));
    let status = service.call(&mut cx, request("get")).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert!(status.is_unsent(), "{status}");
    assert_eq!(handle.calls(), 1);
}

#[cfg(feature = "protobuf")]
#[tokio::test(start_paused = true)]
async fn a_streamed_response_holds_its_slot_until_its_stream_ends() {
    use bytes::Bytes;
    use rookery_codec::protobuf::rpc::Streaming;

    let (inner, handle) = mock::<ThriftRequest, Streaming<Bytes>>();
    handle.answer_with(|_, _, _| Ok(Streaming::iter([Ok(Bytes::from_static(b"one"))])));
    let service = ConcurrencyLimitLayer::shed().each_method(1).layer(inner);
    let mut stream = service.call(&mut bank(), request("watch")).await.unwrap();
    let refused = service
        .call(&mut bank(), request("watch"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable);
    assert!(stream.message().await.unwrap().is_some());
    assert!(stream.message().await.unwrap().is_none());
    service.call(&mut bank(), request("watch")).await.unwrap();
}

#[test]
fn the_configuration_reads_limits_and_what_to_do_when_full() {
    let config: ConcurrencyLimitConfig = serde_json::from_str(
        r#"{"service": 500, "default": 100, "methods": {"Bank.report": 4},
            "when_full": "fail_fast", "pushback": "50ms"}"#,
    )
    .unwrap();
    assert_eq!(config.service, Some(500));
    assert_eq!(config.methods["Bank.report"], 4);
    assert_eq!(config.when_full, Some(WhenFull::FailFast));
    assert_eq!(config.pushback, Duration::from_millis(50));
    let layer = ConcurrencyLimitLayer::client_from_config(&config);
    assert_eq!(layer.when_full(), WhenFull::FailFast);
    let default: ConcurrencyLimitConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(default, ConcurrencyLimitConfig::default());
    let server = ConcurrencyLimitLayer::from_config(&default);
    let client = ConcurrencyLimitLayer::client_from_config(&default);
    assert_eq!(
        (server.when_full(), client.when_full()),
        (WhenFull::Shed, WhenFull::Wait)
    );
    let bad =
        serde_json::from_str::<ConcurrencyLimitConfig>(r#"{"when_full": "queue"}"#).unwrap_err();
    assert!(bad.to_string().contains("unknown variant"), "{bad}");
}

#[tokio::test(start_paused = true)]
async fn the_services_one_layer_wraps_share_its_slots() {
    let layer = ConcurrencyLimitLayer::shed().service(1);
    let (first, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let (second, _other) = mock::<ThriftRequest, ThriftResponse>();
    let first = Arc::new(layer.layer(first));
    let second = layer.layer(second);
    let _call = start(&first, "get");
    let _pending = handle.next().await.unwrap();
    let (status, _) = refused(&second, "put").await;
    assert_eq!(status.code(), Code::Unavailable);
}
