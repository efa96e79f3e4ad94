use std::time::Duration;

use rookery_core::{Code, Context, Layer, Service, Status};
use rookery_transport::{ThriftRequest, ThriftResponse};

use super::{Rate, RateLimitConfig, RateLimitLayer};
use crate::{
    limit::{Pushback, retry_pushback},
    testing::{mock, thrift_request as request, thrift_response},
};

fn bank() -> Context {
    let mut cx = Context::new();
    cx.callee_mut().service = "Bank".into();
    cx
}

/// Calls `method` of `Bank`; on refusal, the status and the pushback it carried.
async fn call<S: Service<ThriftRequest, Response = ThriftResponse>>(
    service: &S,
    method: &'static str,
) -> Result<(), (Status, Option<Pushback>)> {
    let mut cx = bank();
    match service.call(&mut cx, request(method)).await {
        Ok(_) => Ok(()),
        Err(status) => Err((status, retry_pushback(&cx))),
    }
}

fn after(ms: u64) -> Option<Pushback> {
    Some(Pushback::After(Duration::from_millis(ms)))
}

#[tokio::test(start_paused = true)]
async fn calls_over_the_rate_get_resource_exhausted_and_a_pushback_without_running() {
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    let answering = handle.answer_with(|_, _, _| Ok(thrift_response()));
    let service = RateLimitLayer::new()
        .each_method(Rate::per_second(2.0))
        .layer(inner);
    call(&service, "get").await.unwrap();
    call(&service, "get").await.unwrap();
    let (status, pushback) = call(&service, "get").await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(status.is_unsent());
    assert!(status.message().contains("Bank.get"), "{status}");
    assert_eq!(
        pushback,
        after(500),
        "the next token comes in half a second"
    );
    // When the pushback says, a token is there.
    tokio::time::advance(Duration::from_millis(500)).await;
    call(&service, "get").await.unwrap();
    drop(service);
    answering.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn each_method_has_its_own_bucket_and_methods_their_own_rates() {
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    handle.answer_with(|_, _, _| Ok(thrift_response()));
    let service = RateLimitLayer::new()
        .each_method(Rate::per_second(1.0))
        .method("Bank.report", Rate::per_second(0.5).burst(3))
        .layer(inner);
    call(&service, "get").await.unwrap();
    assert_eq!(call(&service, "get").await.unwrap_err().1, after(1000));
    // `put` has a bucket of its own, at the same rate.
    call(&service, "put").await.unwrap();
    assert_eq!(call(&service, "put").await.unwrap_err().1, after(1000));
    // `report` has its own rate: a burst of 3, then a token every 2 s.
    for _ in 0..3 {
        call(&service, "report").await.unwrap();
    }
    let (status, pushback) = call(&service, "report").await.unwrap_err();
    assert!(status.message().contains("Bank.report"), "{status}");
    assert_eq!(pushback, after(2000));
}

#[tokio::test(start_paused = true)]
async fn a_service_rate_holds_its_methods_together() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = RateLimitLayer::new()
        .service(Rate::per_second(1.0).burst(1))
        .method("get", Rate::per_second(0.001).burst(2))
        .layer(inner);
    let answer = tokio::spawn(async move {
        while let Some(p) = handle.next().await {
            p.respond(Ok(thrift_response()));
        }
        handle.calls()
    });
    call(&service, "put").await.unwrap();
    // The service's token is gone: `get` is refused, and the token it took from its own
    // bucket goes back.
    let (status, pushback) = call(&service, "get").await.unwrap_err();
    assert!(status.message().contains("service Bank"), "{status}");
    assert_eq!(pushback, after(1000));
    for _ in 0..2 {
        tokio::time::advance(Duration::from_secs(1)).await;
        call(&service, "get").await.unwrap();
    }
    tokio::time::advance(Duration::from_secs(1)).await;
    let (status, _) = call(&service, "get").await.unwrap_err();
    assert!(status.message().contains("Bank.get"), "{status}");
    drop(service);
    assert_eq!(answer.await.unwrap(), 3, "refused calls never ran");
}

#[tokio::test(start_paused = true)]
async fn without_a_rate_nothing_is_limited() {
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    handle.answer_with(|_, _, _| Ok(thrift_response()));
    let service = RateLimitLayer::new()
        .method("report", Rate::per_second(1.0))
        .layer(inner);
    for _ in 0..100 {
        call(&service, "get").await.unwrap();
    }
}

#[test]
fn the_configuration_reads_rates_per_service_and_method() {
    let config: RateLimitConfig = serde_json::from_str(
        r#"{"service": {"per_second": 1000}, "default": {"per_second": 200, "burst": 50},
            "methods": {"Bank.report": {"per_second": 0.5}}}"#,
    )
    .unwrap();
    assert_eq!(config.service, Some(Rate::per_second(1000.0)));
    assert_eq!(config.default, Some(Rate::per_second(200.0).burst(50)));
    assert_eq!(config.methods["Bank.report"].capacity(), 1);
    let _ = RateLimitLayer::from_config(&config);
    let typo =
        serde_json::from_str::<RateLimitConfig>(r#"{"default": {"per_sec": 1}}"#).unwrap_err();
    assert!(typo.to_string().contains("unknown field"), "{typo}");
}

#[tokio::test(start_paused = true)]
async fn the_services_one_layer_wraps_share_its_buckets() {
    // As a server's Thrift and gRPC sides do when one layer is put around both.
    let layer = RateLimitLayer::new().service(Rate::per_second(1.0).burst(1));
    let (thrift, handle) = mock::<ThriftRequest, ThriftResponse>();
    handle.answer_with(|_, _, _| Ok(thrift_response()));
    let (other, handle) = mock::<ThriftRequest, ThriftResponse>();
    handle.answer_with(|_, _, _| Ok(thrift_response()));
    let (thrift, other) = (layer.layer(thrift), layer.clone().layer(other));
    call(&thrift, "get").await.unwrap();
    let (status, _) = call(&other, "get").await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
}
