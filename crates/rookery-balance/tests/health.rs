//! Endpoints whose connections fail are skipped until their backoff passes, unless every
//! endpoint is down; a call that reaches one brings it back. Endpoints already tried for a
//! call are never picked again for it.

mod common;

use std::time::Duration;

use common::{counts, instance};
use rookery_balance::{Balance, EndpointSet};
use rookery_transport::client::Backoff;

const IDS: [&str; 3] = ["a", "b", "c"];

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

const LONG: Backoff = Backoff {
    base: Duration::from_secs(600),
    max: Duration::from_secs(600),
};

#[test]
fn down_endpoints_are_skipped_by_every_balancer() {
    for balance in balancers() {
        let set = EndpointSet::new(IDS.map(instance));
        set[0].connection_failed(&LONG);
        assert!(set[0].is_down());
        let picker = balance.picker(&set);
        let picks: Vec<&str> = (0..2000)
            .map(|k| set[picker.choose(Some(k), &[]).unwrap()].id())
            .collect();
        let counts = counts(&IDS, picks);
        assert_eq!(counts[0], 0, "{}: {counts:?}", balance.name());
        assert!(
            counts[1] > 0 && counts[2] > 0,
            "{}: {counts:?}",
            balance.name()
        );
    }
}

#[test]
fn when_all_are_down_they_are_picked_anyway() {
    for balance in balancers() {
        let set = EndpointSet::new(IDS.map(instance));
        for e in set.endpoints() {
            e.connection_failed(&LONG);
        }
        let picker = balance.picker(&set);
        assert!(picker.choose(Some(1), &[]).is_some(), "{}", balance.name());
        // Down and untried comes before tried.
        let tried = &set.endpoints()[..2];
        assert_eq!(picker.choose(Some(1), tried), Some(2), "{}", balance.name());
    }
}

#[test]
fn tried_endpoints_are_never_picked_again() {
    for balance in balancers() {
        let set = EndpointSet::new(IDS.map(instance));
        let picker = balance.picker(&set);
        for k in 0..500 {
            let tried = &set.endpoints()[..1];
            let i = picker.choose(Some(k), tried).unwrap();
            assert_ne!(i, 0, "{}", balance.name());
            let tried = [set[0].clone(), set[i].clone()];
            let j = picker.choose(Some(k), &tried).unwrap();
            assert!(j != 0 && j != i, "{}", balance.name());
            let all = set.endpoints();
            assert_eq!(picker.choose(Some(k), all), None, "{}", balance.name());
        }
    }
}

#[tokio::test]
async fn a_down_endpoint_recovers_after_its_backoff_and_on_success() {
    let short = Backoff {
        base: Duration::from_millis(20),
        max: Duration::from_millis(20),
    };
    let set = EndpointSet::new(IDS.map(instance));
    let picker = Balance::round_robin().picker(&set);
    // Failures in a row grow the backoff; `a` is skipped meanwhile.
    set[0].connection_failed(&short);
    set[0].connection_failed(&short);
    assert_eq!(set[0].health().failures(), 2);
    assert!((0..30).all(|_| picker.choose(None, &[]) != Some(0)));
    // Once its backoff has passed it is picked again (to be probed)...
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(!set[0].is_down());
    assert!((0..30).any(|_| picker.choose(None, &[]) == Some(0)));
    // ...and a call that reaches it clears its failures, so the next failure starts over.
    set[0].record_latency(Duration::from_millis(1));
    assert_eq!(set[0].health().failures(), 0);
    let growing = Backoff {
        base: Duration::from_secs(1),
        max: Duration::from_secs(600),
    };
    let first = set[0].connection_failed(&growing);
    assert!(first <= Duration::from_secs(1), "{first:?}");
    let second = set[0].connection_failed(&growing);
    assert!(second >= Duration::from_secs(1), "{second:?}");
}

#[test]
fn statistics_survive_set_updates() {
    let set = EndpointSet::new(IDS.map(instance));
    set[1].record_latency(Duration::from_millis(7));
    set[2].connection_failed(&LONG);
    let _flight = set[1].start();
    // `a` leaves, `d` joins, `c` changes its weight.
    let mut c = instance("c");
    c.weight = 50;
    let next = set.update([instance("b"), c, instance("d")]);
    assert!(
        std::sync::Arc::ptr_eq(&set[1], &next[0]),
        "unchanged: the same endpoint"
    );
    assert_eq!(next[0].in_flight(), 1);
    assert!(next[0].latency_estimate().is_some());
    assert_eq!(next[1].weight(), 50);
    assert!(next[1].is_down(), "changed: its health is kept");
    assert!(next[2].latency_estimate().is_none());
    assert_eq!(
        next[2].group_in_flight(),
        1,
        "one count of calls in flight per client"
    );
}
