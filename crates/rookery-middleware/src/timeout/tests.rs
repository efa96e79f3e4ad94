use std::time::Duration;

use rookery_codec::thrift::Protocol;
use rookery_core::{Code, Context, Layer, Service};
use rookery_transport::{ThriftRequest, ThriftResponse};

use super::{TimeoutConfig, TimeoutLayer};
use crate::testing::{mock, thrift_request as request};

#[tokio::test(start_paused = true)]
async fn a_call_past_its_timeout_is_abandoned_and_the_inner_call_cancelled() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = TimeoutLayer::new(Duration::from_millis(100)).layer(inner);
    let call = tokio::spawn(async move { service.call(&mut Context::new(), request("get")).await });

    let mut pending = handle.next().await.unwrap();
    let remaining = pending
        .seen
        .remaining
        .expect("the inner call has a deadline");
    assert!(remaining <= Duration::from_millis(100) && remaining > Duration::from_millis(90));
    // Nobody answers: the deadline passes, the caller gets DEADLINE_EXCEEDED, and the
    // inner call's future is dropped (the handler is cancelled).
    pending.cancelled().await;
    let status = call.await.unwrap().unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert!(!status.is_unsent(), "the call was sent: {status}");
    assert!(status.message().contains("get"), "{status}");
}

#[tokio::test(start_paused = true)]
async fn a_timeout_never_extends_an_inherited_deadline_and_methods_have_their_own() {
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    handle.answer_with(|_, _, _| Ok(ThriftResponse::empty(Protocol::Binary)));
    let service = TimeoutLayer::new(Duration::from_secs(1))
        .method("report", Duration::from_secs(30))
        .layer(inner);

    let mut cx = Context::new();
    cx.shorten_deadline(Duration::from_millis(50));
    let inherited = cx.deadline();
    service.call(&mut cx, request("get")).await.unwrap();
    assert_eq!(cx.deadline(), inherited, "1s does not extend 50ms");

    let mut cx = Context::new();
    service.call(&mut cx, request("report")).await.unwrap();
    assert!(cx.remaining().unwrap() > Duration::from_secs(29));

    let mut cx = Context::new();
    service.call(&mut cx, request("get")).await.unwrap();
    assert!(cx.remaining().unwrap() <= Duration::from_secs(1));
}

// Deadlines are std instants: this test lets real time pass (tokio's paused clock would not
// move them).
#[tokio::test]
async fn a_call_whose_deadline_passed_is_not_started() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = TimeoutLayer::inherited().layer(inner);
    let mut cx = Context::new();
    cx.shorten_deadline(Duration::from_millis(10));
    std::thread::sleep(Duration::from_millis(20));
    let status = service.call(&mut cx, request("get")).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert!(status.is_unsent());
    assert_eq!(handle.calls(), 0);
    assert!(handle.try_next().is_none());
}

#[tokio::test(start_paused = true)]
async fn without_any_deadline_the_call_runs_as_long_as_it_takes() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = TimeoutLayer::inherited().layer(inner);
    let call = tokio::spawn(async move { service.call(&mut Context::new(), request("get")).await });
    let pending = handle.next().await.unwrap();
    assert_eq!(pending.seen.deadline, None);
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(!pending.is_cancelled());
    pending.respond(Ok(ThriftResponse::empty(Protocol::Binary)));
    assert!(call.await.unwrap().is_ok());
}

#[test]
fn the_configuration_reads_durations_as_written() {
    let config: TimeoutConfig =
        serde_json::from_str(r#"{"default": "250ms", "methods": {"Bank.report": "30s"}}"#).unwrap();
    assert_eq!(config.default, Some(Duration::from_millis(250)));
    assert_eq!(config.methods["Bank.report"], Duration::from_secs(30));
    let bad = serde_json::from_str::<TimeoutConfig>(r#"{"default": "250"}"#).unwrap_err();
    assert!(bad.to_string().contains("no unit"), "{bad}");
    let typo = serde_json::from_str::<TimeoutConfig>(r#"{"defualt": "1s"}"#).unwrap_err();
    assert!(typo.to_string().contains("unknown field"), "{typo}");
}
