use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use rookery_core::{Code, Context, Layer, Service, Status};
use rookery_transport::{ThriftRequest, ThriftResponse};

use super::{BreakerPolicy, BreakerState, CircuitBreakerConfig, CircuitBreakerLayer};
use crate::testing::{mock, thrift_request as request, thrift_response};

fn policy() -> BreakerPolicy {
    BreakerPolicy::default()
        .min_calls(4)
        .failure_rate(0.5)
        .open_for(Duration::from_secs(1), Duration::from_secs(8))
        .probes(2)
}

async fn call<S: Service<ThriftRequest, Response = ThriftResponse>>(
    service: &S,
    method: &'static str,
) -> Result<ThriftResponse, Status> {
    service.call(&mut Context::new(), request(method)).await
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_sends_nothing_and_recovers_through_half_open_probes() {
    let healthy = Arc::new(AtomicBool::new(false));
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    // Fails with UNAVAILABLE while `healthy` is false.
    let calls = {
        let healthy = Arc::clone(&healthy);
        let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = Arc::clone(&counter);
        handle.answer_with(move |_, _, _| {
            seen.fetch_add(1, Ordering::SeqCst);
            if healthy.load(Ordering::SeqCst) {
                Ok(thrift_response())
            } else {
                Err(Status::unavailable("backend down"))
            }
        });
        counter
    };
    let service = CircuitBreakerLayer::new(policy()).layer(inner);

    for _ in 0..4 {
        assert_eq!(
            call(&service, "get").await.unwrap_err().code(),
            Code::Unavailable
        );
    }
    assert_eq!(service.state("", "get", None), Some(BreakerState::Open));
    // Open: refused at once, marked unsent, and the backend sees nothing.
    for _ in 0..10 {
        let refused = call(&service, "get").await.unwrap_err();
        assert_eq!(refused.code(), Code::Unavailable);
        assert!(refused.is_unsent(), "{refused}");
        assert!(
            refused.message().contains("circuit breaker open"),
            "{refused}"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 4);

    // After the open time, probes go through; two successes close the breaker.
    tokio::time::advance(Duration::from_secs(1)).await;
    healthy.store(true, Ordering::SeqCst);
    call(&service, "get").await.unwrap();
    assert_eq!(service.state("", "get", None), Some(BreakerState::HalfOpen));
    call(&service, "get").await.unwrap();
    assert_eq!(service.state("", "get", None), Some(BreakerState::Closed));
    for _ in 0..10 {
        call(&service, "get").await.unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 16);
}

#[tokio::test(start_paused = true)]
async fn half_open_lets_only_its_probes_through_and_a_failed_probe_reopens_for_longer() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = Arc::new(CircuitBreakerLayer::new(policy()).layer(inner));
    for _ in 0..4 {
        let s = Arc::clone(&service);
        let call = tokio::spawn(async move { call(&*s, "get").await });
        handle
            .next()
            .await
            .unwrap()
            .respond(Err(Status::internal("boom")));
        call.await.unwrap().unwrap_err();
    }
    assert_eq!(service.state("", "get", None), Some(BreakerState::Open));
    tokio::time::advance(Duration::from_secs(1)).await;

    // Two probes out, unanswered: a third call is refused without being sent.
    let probes: Vec<_> = (0..2)
        .map(|_| {
            let s = Arc::clone(&service);
            tokio::spawn(async move { call(&*s, "get").await })
        })
        .collect();
    let first = handle.next().await.unwrap();
    let second = handle.next().await.unwrap();
    let refused = call(&*service, "get").await.unwrap_err();
    assert!(
        refused.is_unsent() && refused.message().contains("half-open"),
        "{refused}"
    );
    assert_eq!(handle.calls(), 6);

    // One probe fails: open again, now for 2 s (twice the first time).
    first.respond(Err(Status::deadline_exceeded("slow")));
    second.respond(Ok(thrift_response()));
    for probe in probes {
        let _ = probe.await.unwrap();
    }
    assert_eq!(service.state("", "get", None), Some(BreakerState::Open));
    tokio::time::advance(Duration::from_millis(1500)).await;
    assert!(call(&*service, "get").await.unwrap_err().is_unsent());
    assert_eq!(handle.calls(), 6);
    tokio::time::advance(Duration::from_millis(500)).await;
    let s = Arc::clone(&service);
    let probe = tokio::spawn(async move { call(&*s, "get").await });
    handle.next().await.unwrap().respond(Ok(thrift_response()));
    probe.await.unwrap().unwrap();
    assert_eq!(service.state("", "get", None), Some(BreakerState::HalfOpen));
}

#[tokio::test(start_paused = true)]
async fn a_probe_abandoned_by_its_caller_frees_its_place() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = Arc::new(CircuitBreakerLayer::new(policy().probes(1).min_calls(1)).layer(inner));
    let s = Arc::clone(&service);
    let first = tokio::spawn(async move { call(&*s, "get").await });
    handle
        .next()
        .await
        .unwrap()
        .respond(Err(Status::unavailable("down")));
    first.await.unwrap().unwrap_err();
    tokio::time::advance(Duration::from_secs(1)).await;

    let s = Arc::clone(&service);
    let probe = tokio::spawn(async move { call(&*s, "get").await });
    let mut pending = handle.next().await.unwrap();
    probe.abort();
    pending.cancelled().await;
    // The probe's place is free again: the next call is let through.
    let s = Arc::clone(&service);
    let next = tokio::spawn(async move { call(&*s, "get").await });
    handle.next().await.unwrap().respond(Ok(thrift_response()));
    next.await.unwrap().unwrap();
    assert_eq!(service.state("", "get", None), Some(BreakerState::Closed));
}

#[tokio::test(start_paused = true)]
async fn the_minimum_number_of_calls_is_respected() {
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    handle.answer_with(|_, _, _| Err(Status::unavailable("down")));
    let service = CircuitBreakerLayer::new(policy().min_calls(5)).layer(inner);
    // Four failures out of four: a rate of 1, but too few calls to judge.
    for _ in 0..4 {
        assert!(!call(&service, "get").await.unwrap_err().is_unsent());
    }
    assert_eq!(service.state("", "get", None), Some(BreakerState::Closed));
    // The fifth still reaches the backend, and its failure opens the breaker.
    assert!(!call(&service, "get").await.unwrap_err().is_unsent());
    assert_eq!(service.state("", "get", None), Some(BreakerState::Open));
    assert!(call(&service, "get").await.unwrap_err().is_unsent());
}

#[tokio::test(start_paused = true)]
async fn failures_leave_the_sliding_window() {
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    handle.answer_with(|_, _, _| Err(Status::unavailable("down")));
    let policy = policy().window(Duration::from_secs(4), 4);
    let service = CircuitBreakerLayer::new(policy).layer(inner);
    for _ in 0..3 {
        call(&service, "get").await.unwrap_err();
    }
    // The three failures are older than the window when the fourth comes: still closed.
    tokio::time::advance(Duration::from_secs(5)).await;
    call(&service, "get").await.unwrap_err();
    assert_eq!(service.state("", "get", None), Some(BreakerState::Closed));
}

#[tokio::test(start_paused = true)]
async fn only_the_callees_failures_count() {
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    handle.answer_with(|n, _, _| match n {
        1..=6 => Err(Status::invalid_argument("bad request")),
        7..=12 => Err(Status::not_found("no such account")),
        13..=18 => Err(Status::cancelled("the caller gave up")),
        // A business status is UNKNOWN, a failure code, but an answer of a working callee.
        19..=24 => Err(rookery_transport::metainfo::BizStatus::new(1001, "no such order").into()),
        _ => Err(Status::internal("boom")),
    });
    let service = CircuitBreakerLayer::new(policy()).layer(inner);
    for _ in 0..24 {
        call(&service, "get").await.unwrap_err();
    }
    assert_eq!(service.state("", "get", None), Some(BreakerState::Closed));
    // Unsent for a reason of the call's own: counts as nothing either (this one never
    // reaches the backend: its deadline is gone).
    let deadline = super::super::timeout::TimeoutLayer::inherited();
    let late = deadline.layer(&service);
    for _ in 0..6 {
        let mut cx = Context::new();
        cx.shorten_deadline(Duration::ZERO);
        let status = late.call(&mut cx, request("get")).await.unwrap_err();
        assert!(status.is_timeout() && status.is_unsent());
    }
    // 18 answers counted as successes: 17 INTERNALs are 17 of 35, under half.
    for _ in 0..17 {
        call(&service, "get").await.unwrap_err();
    }
    assert_eq!(service.state("", "get", None), Some(BreakerState::Closed));
    // One more makes 18 of 36: half. Open.
    for _ in 0..1 {
        call(&service, "get").await.unwrap_err();
    }
    assert_eq!(service.state("", "get", None), Some(BreakerState::Open));
}

#[tokio::test(start_paused = true)]
async fn breakers_are_per_method_and_per_instance() {
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    handle.answer_with(|_, req, seen| {
        let broken = &*req.method == "get" || seen.callee.address.as_deref() == Some("10.0.0.1:1");
        if broken {
            Err(Status::unavailable("down"))
        } else {
            Ok(thrift_response())
        }
    });
    let service = CircuitBreakerLayer::new(policy()).layer(inner);
    for _ in 0..4 {
        call(&service, "get").await.unwrap_err();
    }
    assert!(call(&service, "get").await.unwrap_err().is_unsent());
    call(&service, "put").await.unwrap();

    let at = |address: &'static str| {
        let mut cx = Context::new();
        cx.callee_mut().service = "Bank".into();
        cx.callee_mut().address = Some(address.into());
        cx
    };
    for _ in 0..4 {
        service
            .call(&mut at("10.0.0.1:1"), request("put"))
            .await
            .unwrap_err();
    }
    let refused = service
        .call(&mut at("10.0.0.1:1"), request("put"))
        .await
        .unwrap_err();
    assert!(refused.is_unsent());
    assert!(
        refused.message().contains("Bank.put at 10.0.0.1:1"),
        "{refused}"
    );
    service
        .call(&mut at("10.0.0.2:1"), request("put"))
        .await
        .unwrap();
    assert_eq!(
        service.state("Bank", "put", Some("10.0.0.1:1")),
        Some(BreakerState::Open)
    );
    assert_eq!(
        service.state("Bank", "put", Some("10.0.0.2:1")),
        Some(BreakerState::Closed)
    );
}

#[tokio::test(start_paused = true)]
async fn methods_have_their_own_policies() {
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    handle.answer_with(|_, _, _| Err(Status::unavailable("down")));
    let service = CircuitBreakerLayer::new(policy())
        .method("Bank.report", policy().min_calls(100))
        .layer(inner);
    let mut bank = Context::new();
    bank.callee_mut().service = "Bank".into();
    for _ in 0..20 {
        let status = service
            .call(&mut bank, request("report"))
            .await
            .unwrap_err();
        assert!(!status.is_unsent());
    }
    for _ in 0..4 {
        call(&service, "report").await.unwrap_err();
    }
    assert!(call(&service, "report").await.unwrap_err().is_unsent());
}

#[cfg(feature = "protobuf")]
#[tokio::test(start_paused = true)]
async fn a_stream_counts_by_how_it_ended() {
    use bytes::Bytes;
    use rookery_codec::protobuf::rpc::Streaming;

    let (inner, handle) = mock::<ThriftRequest, Streaming<Bytes>>();
    handle.answer_with(|_, _, _| {
        Ok(Streaming::iter([
            Ok(Bytes::from_static(b"one")),
            Err(Status::unavailable("the stream broke")),
        ]))
    });
    let service = CircuitBreakerLayer::new(policy().min_calls(2)).layer(inner);
    let mut first = call_stream(&service).await;
    let mut second = call_stream(&service).await;
    // Both calls answered; their streams have not ended yet: nothing counted.
    assert_eq!(service.state("", "watch", None), Some(BreakerState::Closed));
    for stream in [&mut first, &mut second] {
        assert!(stream.message().await.unwrap().is_some());
        assert_eq!(
            stream.message().await.unwrap_err().code(),
            Code::Unavailable
        );
    }
    assert_eq!(service.state("", "watch", None), Some(BreakerState::Open));

    async fn call_stream<S: Service<ThriftRequest, Response = Streaming<Bytes>>>(
        s: &S,
    ) -> Streaming<Bytes> {
        s.call(&mut Context::new(), request("watch")).await.unwrap()
    }
}

#[test]
fn the_configuration_reads_policies_per_method() {
    let config: CircuitBreakerConfig = serde_json::from_str(
        r#"{
            "default": {"min_calls": 50, "open_for": "2s", "failure_codes": ["UNAVAILABLE", 4]},
            "methods": {"Bank.report": {"failure_rate": 0.8}}
        }"#,
    )
    .unwrap();
    assert_eq!(config.default.min_calls, 50);
    assert_eq!(config.default.open_for, Duration::from_secs(2));
    assert_eq!(
        config.default.failure_codes,
        [Code::Unavailable, Code::DeadlineExceeded]
    );
    assert_eq!(config.get("Bank", "report").failure_rate, 0.8);
    assert_eq!(
        config.get("Bank", "report").min_calls,
        20,
        "the defaults of a policy"
    );
    let _layer = CircuitBreakerLayer::from_config(&config);
    let typo = serde_json::from_str::<CircuitBreakerConfig>(r#"{"default": {"min_cals": 1}}"#)
        .unwrap_err();
    assert!(typo.to_string().contains("unknown field"), "{typo}");
    let code = serde_json::from_str::<CircuitBreakerConfig>(
        r#"{"default": {"failure_codes": ["BROKEN"]}}"#,
    )
    .unwrap_err();
    assert!(code.to_string().contains("unknown status code"), "{code}");
    assert_eq!(
        BreakerPolicy::default()
            .open_for(Duration::from_secs(1), Duration::from_secs(5))
            .open_time(4),
        Duration::from_secs(5),
        "the open time grows up to its cap"
    );
}
