use std::time::Duration;

use faststr::FastStr;
use rookery_balance::Tried;
use rookery_core::{Code, Context, Layer, Metadata, Service, Status};
use rookery_transport::{ThriftRequest, ThriftResponse};
use tokio::time::Instant;

use super::{
    Backoff, Backup, Jitter, PUSHBACK_KEY, RetryBudget, RetryConfig, RetryLayer, RetryPolicy,
    hedge::MIN_SAMPLES,
};
use crate::{
    Request,
    testing::{Handle, mock, thrift_request as request, thrift_response as response},
    timeout::TimeoutLayer,
};

const MS: Duration = Duration::from_millis(1);

type Mock = crate::testing::Mock<ThriftRequest, ThriftResponse>;

fn unavailable() -> Status {
    Status::unavailable("scripted: the instance is overloaded")
}

fn refused() -> Status {
    Status::unavailable("scripted: connection refused").with_unsent()
}

/// Retries without waits and without a budget to run out of, unless a test says otherwise.
fn layer(policy: RetryPolicy) -> RetryLayer {
    RetryLayer::new()
        .policy(policy.backoff(Backoff::none()))
        .budget(RetryBudget::unlimited())
}

fn pushback(value: &str) -> Metadata {
    let mut metadata = Metadata::new();
    metadata.insert(PUSHBACK_KEY, value.to_string());
    metadata
}

/// A stand-in for a balanced client over two instances, `a:1` and `b:2`: each attempt goes to
/// the first instance the call's [`Tried`] list does not name, and is recorded there, as
/// `rookery_balance::BalancedClient` does.
#[derive(Clone)]
struct TwoInstances(Mock);

impl Service<ThriftRequest> for TwoInstances {
    type Response = ThriftResponse;

    async fn call(&self, cx: &mut Context, req: ThriftRequest) -> Result<ThriftResponse, Status> {
        let address = match Tried::of(cx) {
            Some(tried) if tried.contains("a:1") => "b:2",
            _ => "a:1",
        };
        if let Some(tried) = Tried::of(cx) {
            tried.insert(FastStr::from_static_str(address));
        }
        cx.callee_mut().address = Some(FastStr::from_static_str(address));
        self.0.call(cx, req).await
    }
}

#[tokio::test(start_paused = true)]
async fn under_an_always_failing_backend_attempts_stay_within_the_budget() {
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    let counted = handle_calls(handle);
    // 20% of calls plus one retry a second, over one second; three attempts allowed per call.
    let budget = RetryBudget::new(0.2, 1, Duration::from_secs(1));
    let service = RetryLayer::new()
        .policy(
            RetryPolicy::new()
                .idempotent()
                .max_attempts(3)
                .backoff(Backoff::none()),
        )
        .budget(budget.clone())
        .layer(inner);
    const CALLS: usize = 100;
    for _ in 0..CALLS {
        let status = service
            .call(&mut Context::new(), request("get"))
            .await
            .unwrap_err();
        assert_eq!(
            status.message(),
            unavailable().message(),
            "the last failure"
        );
    }
    // Without a budget it would be 300. With it: the 100 calls, the one retry of the
    // reserve (1 a second × 1 s), and 20% of 100.
    assert_eq!(counted.calls(), CALLS + 1 + CALLS / 5);
    assert_eq!(budget.available(), 0);

    // A window later, what the calls deposited and the retries withdrew has expired: the
    // reserve allows one retry again, and only one.
    tokio::time::advance(Duration::from_secs(1)).await;
    let before = counted.calls();
    service
        .call(&mut Context::new(), request("get"))
        .await
        .unwrap_err();
    service
        .call(&mut Context::new(), request("get"))
        .await
        .unwrap_err();
    assert_eq!(counted.calls() - before, 2 + 1);
}

/// Answers every call with UNAVAILABLE (sent) and counts them.
fn handle_calls(handle: Handle<ThriftRequest, ThriftResponse>) -> Counted {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = count.clone();
    handle.answer_with(move |_, _, _| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(unavailable())
    });
    Counted(count)
}

struct Counted(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Counted {
    fn calls(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[tokio::test(start_paused = true)]
async fn the_budget_is_shared_by_every_service_the_layer_wrapped() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    // No share of calls, one retry in all.
    let layer = RetryLayer::new()
        .policy(RetryPolicy::new().backoff(Backoff::none()))
        .budget(RetryBudget::new(0.0, 1, Duration::from_secs(1)));
    let one = layer.layer(inner.clone());
    let two = layer.clone().layer(inner);
    let call = tokio::spawn(async move { one.call(&mut Context::new(), request("get")).await });
    handle.next().await.unwrap().respond(Err(refused()));
    handle.next().await.unwrap().respond(Ok(response()));
    call.await.unwrap().unwrap();
    let call = tokio::spawn(async move { two.call(&mut Context::new(), request("get")).await });
    handle.next().await.unwrap().respond(Err(refused()));
    let status = call.await.unwrap().unwrap_err();
    assert!(status.is_unsent(), "{status}");
    assert!(
        handle.try_next().is_none(),
        "the budget was spent by the other service"
    );
}

// The timeout layer's deadlines are std instants: real (short) time passes here.
#[tokio::test]
async fn a_timed_out_call_is_retried_only_if_its_method_is_idempotent_and_asks_for_it() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    // A timeout per attempt: the timeout layer inside the retry layer.
    let service = layer(RetryPolicy::new().max_attempts(3))
        .method(
            "get",
            RetryPolicy::new()
                .idempotent()
                .retry_on([Code::Unavailable, Code::DeadlineExceeded])
                .max_attempts(2)
                .backoff(Backoff::none()),
        )
        .layer(TimeoutLayer::new(50 * MS).layer(inner));
    let service = std::sync::Arc::new(service);

    // `put` is not idempotent: it timed out after it was sent, so it is not sent again.
    let put = {
        let service = service.clone();
        tokio::spawn(async move { service.call(&mut Context::new(), request("put")).await })
    };
    let mut pending = handle.next().await.unwrap();
    pending.cancelled().await;
    let status = put.await.unwrap().unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert!(handle.try_next().is_none(), "not retried");
    assert_eq!(handle.calls(), 1);

    // `get` is idempotent and retried on DEADLINE_EXCEEDED: each attempt gets its own 50 ms.
    let get = tokio::spawn(async move { service.call(&mut Context::new(), request("get")).await });
    let mut first = handle.next().await.unwrap();
    first.cancelled().await;
    let second = handle.next().await.unwrap();
    assert!(
        second.seen.deadline.unwrap() > first.seen.deadline.unwrap(),
        "a deadline of its own, not the first attempt's, which has passed"
    );
    assert!(second.seen.remaining.unwrap() <= 50 * MS);
    second.respond(Ok(response()));
    get.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_call_that_never_left_is_retried_whatever_the_method() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = layer(RetryPolicy::new()).layer(inner);
    let call = tokio::spawn(async move { service.call(&mut Context::new(), request("put")).await });
    handle.next().await.unwrap().respond(Err(refused()));
    let second = handle.next().await.unwrap();
    assert_eq!(second.request.method, "put");
    second.respond(Ok(response()));
    call.await.unwrap().unwrap();
    assert_eq!(handle.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_idempotent_method_is_retried_on_unavailable_and_another_is_not() {
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    let counted = handle_calls(handle);
    let service = layer(RetryPolicy::new().max_attempts(3))
        .method(
            "Bank.get",
            RetryPolicy::new()
                .idempotent()
                .max_attempts(4)
                .backoff(Backoff::none()),
        )
        .layer(inner);

    let mut cx = Context::new();
    cx.callee_mut().service = "Bank".into();
    let status = service.call(&mut cx, request("get")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(counted.calls(), 4, "Bank.get: every attempt of its policy");

    let mut cx = Context::new();
    cx.callee_mut().service = "Bank".into();
    service.call(&mut cx, request("put")).await.unwrap_err();
    assert_eq!(counted.calls(), 5, "Bank.put was sent: not retried");

    // Another service's `get` has the default policy.
    let mut cx = Context::new();
    cx.callee_mut().service = "Shop".into();
    service.call(&mut cx, request("get")).await.unwrap_err();
    assert_eq!(counted.calls(), 6);
}

#[tokio::test(start_paused = true)]
async fn an_idempotent_method_is_not_retried_on_codes_it_does_not_name() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = layer(RetryPolicy::new().idempotent()).layer(inner);
    let call = tokio::spawn(async move { service.call(&mut Context::new(), request("get")).await });
    handle
        .next()
        .await
        .unwrap()
        .respond(Err(Status::invalid_argument("no such account")));
    assert_eq!(
        call.await.unwrap().unwrap_err().code(),
        Code::InvalidArgument
    );
    assert!(handle.try_next().is_none());
}

#[tokio::test(start_paused = true)]
async fn a_retry_goes_to_another_instance() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = layer(RetryPolicy::new()).layer(TwoInstances(inner));
    let call = tokio::spawn(async move {
        let mut cx = Context::new();
        let result = service.call(&mut cx, request("get")).await;
        (result, cx)
    });
    let first = handle.next().await.unwrap();
    assert_eq!(first.seen.callee.address.as_deref(), Some("a:1"));
    first.respond(Err(refused()));
    let second = handle.next().await.unwrap();
    assert_eq!(second.seen.callee.address.as_deref(), Some("b:2"));
    second.respond(Ok(response()));
    let (result, cx) = call.await.unwrap();
    result.unwrap();
    assert_eq!(cx.callee().address.as_deref(), Some("b:2"));
    assert_eq!(Tried::of(&cx).unwrap().addresses(), ["a:1", "b:2"]);
}

#[tokio::test(start_paused = true)]
async fn a_pushback_delays_the_next_attempt_by_what_the_server_asked() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = layer(RetryPolicy::new().idempotent()).layer(inner);
    let call = tokio::spawn(async move { service.call(&mut Context::new(), request("get")).await });
    let first = handle.next().await.unwrap();
    let failed_at = Instant::now();
    first.respond_with_metadata(Err(unavailable()), pushback("300"));
    let second = handle.next().await.unwrap();
    // The paused clock moves only by the layer's sleep: no backoff, so it is the pushback.
    assert!(failed_at.elapsed() >= 300 * MS, "{:?}", failed_at.elapsed());
    assert!(
        second.seen.metadata.get(PUSHBACK_KEY).is_none(),
        "request metadata untouched"
    );
    second.respond(Ok(response()));
    call.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_negative_or_malformed_pushback_stops_retries() {
    for value in ["-1", "soon", ""] {
        let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
        let service = layer(RetryPolicy::new().idempotent()).layer(inner);
        let call = tokio::spawn(async move {
            let mut cx = Context::new();
            let result = service.call(&mut cx, request("get")).await;
            (result, cx)
        });
        handle
            .next()
            .await
            .unwrap()
            .respond_with_metadata(Err(unavailable()), pushback(value));
        let (result, cx) = call.await.unwrap();
        assert_eq!(result.unwrap_err().code(), Code::Unavailable);
        assert_eq!(
            cx.response_metadata().get(PUSHBACK_KEY),
            Some(value),
            "the caller sees what the server said"
        );
        assert!(handle.try_next().is_none(), "{value:?}: not retried");
    }
}

// Deadlines are std instants: these tests let real (short) time pass.
#[tokio::test]
async fn a_retry_whose_wait_would_reach_the_deadline_is_not_made() {
    // The backoff (200 ms, no jitter) is longer than what is left (100 ms).
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    let counted = handle_calls(handle);
    let service =
        RetryLayer::new()
            .policy(RetryPolicy::new().idempotent().backoff(
                Backoff::exponential(200 * MS, Duration::from_secs(1)).jitter(Jitter::None),
            ))
            .budget(RetryBudget::unlimited())
            .layer(inner);
    let mut cx = Context::new();
    cx.shorten_deadline(100 * MS);
    let status = service.call(&mut cx, request("get")).await.unwrap_err();
    assert_eq!(
        status.code(),
        Code::Unavailable,
        "the last failure, not a timeout"
    );
    assert_eq!(counted.calls(), 1);

    // A pushback longer than what is left: no retry either.
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = layer(RetryPolicy::new().idempotent()).layer(inner);
    let call = tokio::spawn(async move {
        let mut cx = Context::new();
        cx.shorten_deadline(Duration::from_secs(1));
        service.call(&mut cx, request("get")).await
    });
    handle
        .next()
        .await
        .unwrap()
        .respond_with_metadata(Err(unavailable()), pushback("5000"));
    assert_eq!(call.await.unwrap().unwrap_err().code(), Code::Unavailable);
    assert!(handle.try_next().is_none());

    // A wait that fits is made, and the retry keeps the call's deadline.
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = RetryLayer::new()
        .policy(
            RetryPolicy::new()
                .idempotent()
                .backoff(Backoff::exponential(5 * MS, 5 * MS).jitter(Jitter::None)),
        )
        .budget(RetryBudget::unlimited())
        .layer(inner);
    let mut cx = Context::new();
    cx.shorten_deadline(Duration::from_secs(5));
    let deadline = cx.deadline();
    let call = tokio::spawn(async move { service.call(&mut cx, request("get")).await });
    let first = handle.next().await.unwrap();
    assert_eq!(first.seen.deadline, deadline);
    first.respond(Err(unavailable()));
    let second = handle.next().await.unwrap();
    assert_eq!(second.seen.deadline, deadline);
    second.respond(Ok(response()));
    call.await.unwrap().unwrap();
}

/// A request that cannot be sent twice, as a stream being written.
#[derive(Debug)]
struct Stream;

impl Request for Stream {
    fn method(&self) -> &str {
        "chat"
    }

    fn method_name(&self) -> FastStr {
        FastStr::from_static_str("chat")
    }

    fn try_clone(&self) -> Option<Self> {
        None
    }
}

#[tokio::test(start_paused = true)]
async fn a_streaming_call_is_never_retried() {
    let (inner, mut handle) = mock::<Stream, ()>();
    let service = layer(RetryPolicy::new().idempotent()).layer(inner);
    let call = tokio::spawn(async move { service.call(&mut Context::new(), Stream).await });
    handle.next().await.unwrap().respond(Err(refused()));
    assert!(call.await.unwrap().unwrap_err().is_unsent());
    assert!(handle.try_next().is_none());
}

#[tokio::test(start_paused = true)]
async fn a_backup_request_wins_when_the_first_attempt_is_slow_and_the_slow_one_is_cancelled() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let budget = RetryBudget::new(0.0, 1, Duration::from_secs(1));
    let service = RetryLayer::new()
        .policy(
            RetryPolicy::new()
                .idempotent()
                .backup(Backup::after(50 * MS)),
        )
        .budget(budget.clone())
        .layer(TwoInstances(inner));
    let call = tokio::spawn(async move {
        let mut cx = Context::new();
        cx.metadata_mut().insert("trace", "t-1");
        let result = service.call(&mut cx, request("get")).await;
        (result, cx)
    });
    let mut slow = handle.next().await.unwrap();
    let sent_at = Instant::now();
    assert_eq!(slow.seen.callee.address.as_deref(), Some("a:1"));
    let backup = handle.next().await.unwrap();
    assert!(sent_at.elapsed() >= 50 * MS);
    // To the other instance, with the caller's metadata.
    assert_eq!(backup.seen.callee.address.as_deref(), Some("b:2"));
    assert_eq!(backup.seen.metadata.get("trace"), Some("t-1"));
    backup.respond_with_metadata(Ok(response()), [("served-by", "b")].into_iter().collect());
    slow.cancelled().await;
    let (result, cx) = call.await.unwrap();
    result.unwrap();
    // The caller's context is the winner's.
    assert_eq!(cx.callee().address.as_deref(), Some("b:2"));
    assert_eq!(cx.response_metadata().get("served-by"), Some("b"));
    assert_eq!(budget.available(), 0, "the backup drew on the budget");
    assert!(handle.try_next().is_none());
}

#[tokio::test(start_paused = true)]
async fn the_first_attempt_wins_if_it_answers_before_the_backup() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = layer(
        RetryPolicy::new()
            .idempotent()
            .backup(Backup::after(50 * MS)),
    )
    .layer(TwoInstances(inner));
    let call = tokio::spawn(async move {
        let mut cx = Context::new();
        let result = service.call(&mut cx, request("get")).await;
        (result, cx)
    });
    let first = handle.next().await.unwrap();
    let mut backup = handle.next().await.unwrap();
    first.respond_with_metadata(Ok(response()), [("served-by", "a")].into_iter().collect());
    backup.cancelled().await;
    let (result, cx) = call.await.unwrap();
    result.unwrap();
    assert_eq!(cx.callee().address.as_deref(), Some("a:1"));
    assert_eq!(cx.response_metadata().get("served-by"), Some("a"));

    // A call answered within the delay gets no backup.
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = layer(
        RetryPolicy::new()
            .idempotent()
            .backup(Backup::after(50 * MS)),
    )
    .layer(inner);
    let call = tokio::spawn(async move { service.call(&mut Context::new(), request("get")).await });
    let first = handle.next().await.unwrap();
    tokio::time::sleep(40 * MS).await;
    first.respond(Ok(response()));
    call.await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(handle.try_next().is_none());
}

#[tokio::test(start_paused = true)]
async fn a_failing_first_attempt_waits_for_its_backup_and_a_non_retryable_one_ends_the_call() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = std::sync::Arc::new(
        layer(
            RetryPolicy::new()
                .idempotent()
                .max_attempts(2)
                .backup(Backup::after(50 * MS)),
        )
        .layer(inner),
    );
    // UNAVAILABLE from the first: the backup's answer is taken.
    let call = {
        let service = service.clone();
        tokio::spawn(async move { service.call(&mut Context::new(), request("get")).await })
    };
    let first = handle.next().await.unwrap();
    let backup = handle.next().await.unwrap();
    first.respond(Err(unavailable()));
    tokio::task::yield_now().await;
    backup.respond(Ok(response()));
    call.await.unwrap().unwrap();

    // NOT_FOUND from the first is the answer: the backup is cancelled.
    let call = tokio::spawn(async move { service.call(&mut Context::new(), request("get")).await });
    let first = handle.next().await.unwrap();
    let mut backup = handle.next().await.unwrap();
    first.respond(Err(Status::not_found("no such key")));
    backup.cancelled().await;
    assert_eq!(call.await.unwrap().unwrap_err().code(), Code::NotFound);
    assert!(handle.try_next().is_none(), "two attempts were all it had");
}

#[tokio::test(start_paused = true)]
async fn no_backup_without_budget_or_for_a_method_not_idempotent() {
    for (policy, budget) in [
        (
            RetryPolicy::new()
                .idempotent()
                .backup(Backup::after(10 * MS)),
            RetryBudget::new(0.0, 0, Duration::from_secs(1)),
        ),
        (
            RetryPolicy::new().backup(Backup::after(10 * MS)),
            RetryBudget::unlimited(),
        ),
    ] {
        let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
        let service = RetryLayer::new().policy(policy).budget(budget).layer(inner);
        let call =
            tokio::spawn(async move { service.call(&mut Context::new(), request("get")).await });
        let first = handle.next().await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(handle.try_next().is_none(), "no backup");
        first.respond(Ok(response()));
        call.await.unwrap().unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn the_backup_delay_follows_the_observed_latency_percentile() {
    let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = std::sync::Arc::new(
        layer(
            RetryPolicy::new()
                .idempotent()
                .backup(Backup::percentile(99.0)),
        )
        .layer(inner),
    );
    // Answers after 20 ms: until the layer has seen enough of them, no backup.
    for _ in 0..MIN_SAMPLES {
        let service = service.clone();
        let call =
            tokio::spawn(async move { service.call(&mut Context::new(), request("get")).await });
        let first = handle.next().await.unwrap();
        tokio::time::sleep(20 * MS).await;
        assert!(
            handle.try_next().is_none(),
            "no backup before the latency is known"
        );
        first.respond(Ok(response()));
        call.await.unwrap().unwrap();
    }
    // Now a call slower than every one before gets a backup after about 20 ms (the p99,
    // within its bucket's 25%), not sooner.
    let call = tokio::spawn(async move { service.call(&mut Context::new(), request("get")).await });
    let mut slow = handle.next().await.unwrap();
    let sent_at = Instant::now();
    let backup = handle.next().await.unwrap();
    let delay = sent_at.elapsed();
    assert!(delay >= 20 * MS && delay <= 26 * MS, "{delay:?}");
    backup.respond(Ok(response()));
    slow.cancelled().await;
    call.await.unwrap().unwrap();
}

#[test]
fn the_configuration_reads_policies_and_refuses_mistakes() {
    let config: RetryConfig = serde_json::from_str(
        r#"{
            "budget": {"ratio": 0.1, "min_per_second": 5, "window": "30s"},
            "default": {"max_attempts": 2, "backoff": {"base": "10ms", "cap": "1s", "jitter": "decorrelated"}},
            "methods": {
                "get": {"idempotent": true, "retry_on": ["UNAVAILABLE", "deadline_exceeded"]},
                "Search.query": {"idempotent": true, "backup": {"percentile": 95, "min": "5ms"}},
                "Bank.transfer": {"max_attempts": 1}
            }
        }"#,
    )
    .unwrap();
    assert_eq!(config.budget.window, Duration::from_secs(30));
    RetryLayer::from_config(&config).unwrap();
    // The defaults of a layer with no configuration at all.
    RetryLayer::from_config(&RetryConfig::default()).unwrap();

    let error = |json: &str| {
        let config: RetryConfig = serde_json::from_str(json).unwrap();
        RetryLayer::from_config(&config).unwrap_err().to_string()
    };
    let e = error(r#"{"methods": {"get": {"retry_on": ["UNAVAILBLE"]}}}"#);
    assert!(e.contains("get") && e.contains("UNAVAILBLE"), "{e}");
    let e = error(r#"{"methods": {"put": {"backup": {"after": "10ms"}}}}"#);
    assert!(e.contains("put") && e.contains("idempotent"), "{e}");
    let e = error(r#"{"default": {"max_attempts": 0}}"#);
    assert!(e.contains("max_attempts"), "{e}");
    let e = error(r#"{"budget": {"ratio": -1}}"#);
    assert!(e.contains("ratio"), "{e}");
    let e = error(
        r#"{"methods": {"get": {"idempotent": true, "backup": {"after": "1ms", "percentile": 99}}}}"#,
    );
    assert!(e.contains("not both"), "{e}");
    let typo = serde_json::from_str::<RetryConfig>(r#"{"default": {"max_attempt": 2}}"#)
        .unwrap_err()
        .to_string();
    assert!(typo.contains("unknown field"), "{typo}");
}

#[tokio::test(start_paused = true)]
async fn a_method_entry_changes_only_what_it_names() {
    let config: RetryConfig = serde_json::from_str(
        r#"{
            "budget": {"ratio": 1000, "min_per_second": 1000},
            "default": {"max_attempts": 4, "backoff": {"base": "0", "cap": "0"}},
            "methods": {"get": {"idempotent": true}, "put": {"max_attempts": 1}}
        }"#,
    )
    .unwrap();
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    let counted = handle_calls(handle);
    let service = RetryLayer::from_config(&config).unwrap().layer(inner);
    service
        .call(&mut Context::new(), request("get"))
        .await
        .unwrap_err();
    assert_eq!(
        counted.calls(),
        4,
        "get: idempotent, and the default's 4 attempts"
    );
    service
        .call(&mut Context::new(), request("put"))
        .await
        .unwrap_err();
    service
        .call(&mut Context::new(), request("list"))
        .await
        .unwrap_err();
    assert_eq!(counted.calls(), 6, "put and list: one attempt each");
}

#[allow(dead_code)]
fn calls_are_send(
    service: &super::Retry<rookery_balance::BalancedClient>,
    cx: &mut Context,
    req: ThriftRequest,
) {
    fn send<T: Send>(_: &T) {}
    send(&service.call(cx, req));
}
