//! Outlier ejection: endpoints whose answers keep failing are ejected, a bounded share of
//! the set at most and never all; after their time they get one probe at a time and come
//! back when it succeeds. And the balanced client, against real servers, stops calling the
//! one that fails.

mod common;

use std::{sync::Arc, time::Duration};

use common::{instance, who};
use rookery_balance::{Balance, BalancedClient, EndpointSet, OutlierEjection};
use rookery_core::{Context, Status, service_fn};
use rookery_registry::{Instance, Registration, embedded::Embedded, protocol};
use rookery_transport::{Router, Server, ServerHandle, ThriftRequest, ThriftResponse};

const IDS: [&str; 10] = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];

fn balancers() -> [Balance; 6] {
    [
        Balance::random(),
        Balance::round_robin(),
        Balance::weighted(),
        Balance::least_request(),
        Balance::p2c_ewma(),
        Balance::consistent_hash(),
    ]
}

fn internal() -> Status {
    Status::internal("boom")
}

/// One call to `set[i]` that ended with `status`, recorded: the ejection it caused.
fn call(
    ejection: &OutlierEjection,
    set: &EndpointSet,
    i: usize,
    status: Option<Status>,
) -> Option<Duration> {
    let flight = set[i].start();
    ejection.record(&flight, set, status.as_ref())
}

#[test]
fn ejection_is_bounded_by_the_maximum_percentage_and_never_takes_all() {
    let ejection = OutlierEjection::new()
        .consecutive_failures(2)
        .ejection_time(Duration::from_secs(600), Duration::from_secs(600))
        .max_ejected_percent(30);
    let set = EndpointSet::new(IDS.map(instance));
    // Every endpoint fails twice in a row: only three of ten go.
    for i in 0..IDS.len() {
        assert_eq!(call(&ejection, &set, i, Some(internal())), None);
        call(&ejection, &set, i, Some(internal()));
    }
    let ejected: Vec<usize> = (0..IDS.len()).filter(|&i| set[i].is_ejected()).collect();
    assert_eq!(ejected, [0, 1, 2]);
    // Failing on, the others stay in.
    for i in 3..IDS.len() {
        assert_eq!(call(&ejection, &set, i, Some(internal())), None);
    }
    for balance in balancers() {
        let picker = balance.picker(&set);
        for k in 0..1000 {
            let i = picker.choose(Some(k), &[]).unwrap();
            assert!(i >= 3, "{} picked ejected {}", balance.name(), IDS[i]);
        }
    }

    // At 100 %, still never every endpoint.
    let all = OutlierEjection::new()
        .consecutive_failures(1)
        .max_ejected_percent(100);
    let set = EndpointSet::new(IDS[..3].iter().map(|id| instance(id)));
    for i in 0..3 {
        call(&all, &set, i, Some(internal()));
    }
    assert_eq!(set.endpoints().iter().filter(|e| e.is_ejected()).count(), 2);
    assert_eq!(all.max_ejected(1), 0, "a lone endpoint is never ejected");
}

#[test]
fn only_failures_in_a_row_of_the_endpoints_own_eject() {
    let ejection = OutlierEjection::new().consecutive_failures(3);
    let set = EndpointSet::new(IDS[..4].iter().map(|id| instance(id)));
    // The caller's errors are answers.
    for _ in 0..10 {
        call(
            &ejection,
            &set,
            0,
            Some(Status::not_found("no such account")),
        );
        call(&ejection, &set, 0, Some(Status::invalid_argument("bad")));
    }
    // Calls that never reached it say nothing.
    for _ in 0..10 {
        call(
            &ejection,
            &set,
            0,
            Some(Status::deadline_exceeded("too late").with_unsent()),
        );
    }
    // Two failures, an answer, two failures: never three in a row.
    for _ in 0..3 {
        call(&ejection, &set, 0, Some(internal()));
        call(
            &ejection,
            &set,
            0,
            Some(Status::unavailable("connection reset")),
        );
        call(&ejection, &set, 0, None);
    }
    assert!(!set[0].is_ejected());
    assert_eq!(set[0].health().consecutive_errors(), 0);
    for _ in 0..2 {
        call(&ejection, &set, 0, Some(internal()));
    }
    let time = call(&ejection, &set, 0, Some(internal())).expect("the third ejects");
    assert_eq!(time, Duration::from_secs(30));
    assert!(set[0].is_ejected() && set[0].is_down());
}

#[tokio::test]
async fn an_ejected_endpoint_gets_one_probe_after_its_time_and_comes_back_when_it_succeeds() {
    let base = Duration::from_millis(30);
    let ejection = OutlierEjection::new()
        .consecutive_failures(1)
        .ejection_time(base, Duration::from_secs(600));
    let set = EndpointSet::new(IDS[..3].iter().map(|id| instance(id)));
    let picker = Balance::round_robin().picker(&set);
    assert_eq!(call(&ejection, &set, 0, Some(internal())), Some(base));
    assert!((0..30).all(|_| picker.choose(None, &[]) != Some(0)));

    // Its time passes: it is picked again, and the call that starts on it is its probe.
    tokio::time::sleep(base * 2).await;
    assert!(!set[0].is_down());
    assert!((0..30).any(|_| picker.choose(None, &[]) == Some(0)));
    let probe = set[0].start();
    assert!(probe.is_probe());
    // While the probe is out nothing else goes there.
    assert!(set[0].is_down());
    assert!((0..30).all(|_| picker.choose(None, &[]) != Some(0)));
    let second = set[0].start();
    assert!(!second.is_probe());
    drop(second);

    // The probe fails: ejected again, for twice as long.
    assert_eq!(
        ejection.record(&probe, &set, Some(&internal())),
        Some(base * 2)
    );
    drop(probe);
    assert!(set[0].is_down());
    tokio::time::sleep(base * 3).await;

    // A probe abandoned without an outcome lets the next call probe.
    let abandoned = set[0].start();
    assert!(abandoned.is_probe());
    drop(abandoned);
    let probe = set[0].start();
    assert!(probe.is_probe());
    // This one succeeds: back in, and picked.
    assert_eq!(ejection.record(&probe, &set, None), None);
    drop(probe);
    assert!(!set[0].is_ejected() && !set[0].is_down());
    assert!((0..30).any(|_| picker.choose(None, &[]) == Some(0)));
    assert_eq!(
        set[0].health().ejections(),
        2,
        "remembered for the next ejection"
    );
}

#[test]
fn calls_on_an_endpoint_before_its_ejection_change_nothing_when_they_end() {
    let ejection = OutlierEjection::new()
        .consecutive_failures(1)
        .ejection_time(Duration::from_secs(600), Duration::from_secs(600));
    let set = EndpointSet::new(IDS[..3].iter().map(|id| instance(id)));
    let earlier = set[0].start();
    let later = set[0].start();
    call(&ejection, &set, 0, Some(internal()));
    assert_eq!(ejection.record(&earlier, &set, None), None);
    assert_eq!(ejection.record(&later, &set, Some(&internal())), None);
    assert!(set[0].is_ejected());
    assert_eq!(set[0].health().ejections(), 1);
}

/// A server whose `who` always fails with `INTERNAL`.
async fn failing_server() -> ServerHandle {
    let who = service_fn(|_cx: &mut Context, _req: ThriftRequest| async {
        Err::<ThriftResponse, _>(Status::internal("this instance is broken"))
    });
    Server::builder()
        .build(Router::new().add_service_named("Who", &["who"], who))
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_balanced_client_stops_calling_a_failing_instance() {
    let registry = Arc::new(Embedded::new());
    let mut handles = Vec::new();
    for name in ["one", "two"] {
        handles.push(common::server(name, Duration::ZERO).await);
    }
    handles.push(failing_server().await);
    let mut registrations: Vec<Registration> = Vec::new();
    for handle in &handles {
        let instance = Instance::new("who", "1.0.0".parse().unwrap())
            .with_address(protocol::THRIFT, handle.local_addr().to_string());
        registrations.push(
            Registration::start(registry.clone(), instance, Duration::from_secs(10))
                .await
                .unwrap(),
        );
    }
    let client = BalancedClient::builder("who")
        .balance(Balance::round_robin())
        .outlier_ejection(
            OutlierEjection::new()
                .consecutive_failures(2)
                .ejection_time(Duration::from_secs(600), Duration::from_secs(600)),
        )
        .discover(&*registry)
        .await
        .unwrap();
    for _ in 0..1000 {
        if client.endpoints().len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // One call at a time in turn: the broken instance fails twice, and is ejected.
    let mut failures = 0;
    for _ in 0..60 {
        if let Err(status) = who(&client, &mut Context::new()).await {
            assert_eq!(status.message(), "this instance is broken");
            failures += 1;
        }
    }
    assert_eq!(failures, 2);
    let broken = handles[2].local_addr().to_string();
    let ejected: Vec<String> = client
        .endpoints()
        .endpoints()
        .iter()
        .filter(|e| e.is_ejected())
        .map(|e| e.address().to_string())
        .collect();
    assert_eq!(ejected, [broken]);
    for registration in registrations {
        registration.deregister().await.unwrap();
    }
    for handle in handles {
        handle.stop().await;
    }
}

/// A business status (Kitex's application error) is UNKNOWN, a failure code, but the answer
/// of a working endpoint: it never counts toward ejection.
#[test]
fn a_business_status_is_not_an_endpoints_failure() {
    let ejection = OutlierEjection::default();
    assert!(ejection.is_failure(&Status::unknown("the handler failed")));
    let biz: Status = rookery_transport::metainfo::BizStatus::new(1001, "no such order").into();
    assert_eq!(biz.code(), rookery_core::Code::Unknown);
    assert!(!ejection.is_failure(&biz));
}
