//! The retry layer over a real balanced client: two native rookery servers on loopback,
//! behind a `BalancedClient` over a static registry. A backup request goes to the other
//! instance when the first is slow, and wins; a retry after an instance stopped goes to the
//! other instance.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use rookery_balance::{Balance, BalancedClient, Tried};
use rookery_codec::thrift::{ApplicationException, ApplicationExceptionKind, Protocol};
use rookery_core::{Context, Layer, Service, Status, service_fn};
use rookery_middleware::retry::{Backup, RetryLayer, RetryPolicy};
use rookery_registry::static_list::StaticList;
use rookery_transport::{Router, Server, ServerHandle, ThriftRequest, ThriftResponse};

/// A server whose one method `who` answers with `name` after `delay`, counting its calls.
async fn server(name: &'static str, delay: Duration) -> (ServerHandle, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let who = service_fn(move |_cx: &mut Context, req: ThriftRequest| {
        counted.fetch_add(1, Ordering::SeqCst);
        async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let reply = ApplicationException::new(ApplicationExceptionKind::Unknown, name);
            Ok::<_, Status>(ThriftResponse::new(req.protocol, &reply))
        }
    });
    let handle = Server::builder()
        .drain_timeout(Duration::from_millis(100))
        .build(Router::new().add_service_named("Who", &["who"], who))
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (handle, calls)
}

/// Calls `who` through `client`: the name of the server that answered.
async fn who<S>(client: &S, cx: &mut Context) -> Result<String, Status>
where
    S: Service<ThriftRequest, Response = ThriftResponse>,
{
    let args = ApplicationException::new(ApplicationExceptionKind::Unknown, "");
    let reply = client
        .call(cx, ThriftRequest::new("who", Protocol::Binary, &args))
        .await?;
    let reply: ApplicationException = reply
        .decode()
        .map_err(|e| Status::internal(e.to_string()))?;
    Ok(reply.message.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_request_goes_to_the_other_instance_and_wins_when_the_first_is_slow() {
    let (slow, slow_calls) = server("slow", Duration::from_secs(2)).await;
    let (fast, _) = server("fast", Duration::ZERO).await;
    let (slow_address, fast_address) =
        (slow.local_addr().to_string(), fast.local_addr().to_string());
    let registry = StaticList::new([slow_address.clone(), fast_address.clone()]).unwrap();
    let balanced = BalancedClient::builder("who")
        .balance(Balance::round_robin())
        .discover(&registry)
        .await
        .unwrap();
    let client = RetryLayer::new()
        .method(
            "who",
            RetryPolicy::new()
                .idempotent()
                .backup(Backup::after(Duration::from_millis(200))),
        )
        .layer(balanced);
    let mut hedged = 0;
    for _ in 0..6 {
        let mut cx = Context::new();
        assert_eq!(who(&client, &mut cx).await.unwrap(), "fast");
        // The caller's context names the instance that answered.
        assert_eq!(cx.callee().address.as_deref(), Some(&*fast_address));
        let tried = Tried::of(&cx).unwrap().addresses();
        if tried.len() == 2 {
            // Round robin sent the first attempt to the slow instance; the backup went to
            // the other one.
            assert_eq!(tried, [&*slow_address, &*fast_address]);
            hedged += 1;
        } else {
            assert_eq!(tried, [&*fast_address]);
        }
    }
    assert!(
        hedged >= 2,
        "round robin sent first attempts to the slow instance"
    );
    assert_eq!(slow_calls.load(Ordering::SeqCst), hedged);
    slow.stop().await;
    fast.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_an_instance_stopped_goes_to_the_other_instance() {
    let (one, _) = server("one", Duration::ZERO).await;
    let (two, _) = server("two", Duration::ZERO).await;
    let (one_address, two_address) = (one.local_addr().to_string(), two.local_addr().to_string());
    let registry = StaticList::new([one_address.clone(), two_address.clone()]).unwrap();
    // The balancer itself does not move a call on: what does is the retry layer.
    let balanced = BalancedClient::builder("who")
        .balance(Balance::round_robin())
        .max_attempts(1)
        .discover(&registry)
        .await
        .unwrap();
    let client = RetryLayer::new().layer(balanced);
    // Connections to both are open...
    let mut names = Vec::new();
    for _ in 0..4 {
        names.push(who(&client, &mut Context::new()).await.unwrap());
    }
    names.sort();
    assert_eq!(names, ["one", "one", "two", "two"]);
    // ...when `one` stops (its connections close; new ones are refused), still listed.
    one.stop().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut moved = 0;
    for _ in 0..10 {
        let mut cx = Context::new();
        // `who` is not idempotent: only calls that never left are retried, and these are.
        assert_eq!(who(&client, &mut cx).await.unwrap(), "two");
        if let Some(tried) = Tried::of(&cx) {
            assert_eq!(tried.addresses(), [&*one_address, &*two_address]);
            moved += 1;
        }
    }
    assert!(
        moved >= 1,
        "a call went to the stopped instance first, and was retried"
    );
    two.stop().await;
}
