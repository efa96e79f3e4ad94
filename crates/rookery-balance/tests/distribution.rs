//! Balancers over simulated endpoints: distributions within statistical bounds (seeded, so
//! every run draws the same numbers), and load- and latency-aware balancers preferring the
//! less loaded and the faster endpoints, from statistics set directly.

mod common;

use std::time::Duration;

use common::{counts, instance, weighted, within_5_sigma};
use rookery_balance::{Balance, EndpointSet, Picker};

const IDS: [&str; 4] = ["a", "b", "c", "d"];

fn set_of(ids: &[&str]) -> EndpointSet {
    EndpointSet::new(ids.iter().map(|id| instance(id)))
}

fn draw(picker: &dyn Picker, set: &EndpointSet, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| set[picker.choose(None, &[]).unwrap()].id().to_string())
        .collect()
}

#[test]
fn random_is_uniform() {
    let set = set_of(&IDS);
    let picker = Balance::random().seeded(7).picker(&set);
    let n = 40_000;
    let picks = draw(&*picker, &set, n);
    let counts = counts(&IDS, picks.iter().map(String::as_str));
    for (id, &c) in IDS.iter().zip(&counts) {
        assert!(within_5_sigma(c, n, 0.25), "{id}: {c} of {n}: {counts:?}");
    }
    // Seeded: the same picks again.
    let again = Balance::random().seeded(7).picker(&set);
    assert_eq!(draw(&*again, &set, 100), picks[..100]);
}

#[test]
fn round_robin_is_exact() {
    let set = set_of(&IDS);
    let picker = Balance::round_robin().picker(&set);
    let picks = draw(&*picker, &set, 4 * 250);
    assert_eq!(
        counts(&IDS, picks.iter().map(String::as_str)),
        [250, 250, 250, 250]
    );
    // In turn: every window of four holds each endpoint once.
    for window in picks.chunks(4) {
        let mut w = window.to_vec();
        w.sort();
        assert_eq!(w, IDS);
    }
}

#[test]
fn weighted_follows_weights() {
    let set = EndpointSet::new([
        weighted("a", 100),
        weighted("b", 200),
        weighted("c", 300),
        weighted("d", 400),
    ]);
    let picker = Balance::weighted().seeded(11).picker(&set);
    let n = 100_000;
    let picks = draw(&*picker, &set, n);
    let counts = counts(&IDS, picks.iter().map(String::as_str));
    for (i, &c) in counts.iter().enumerate() {
        let p = (i + 1) as f64 / 10.0;
        assert!(
            within_5_sigma(c, n, p),
            "{}: {c} of {n}: {counts:?}",
            IDS[i]
        );
    }
}

#[test]
fn least_request_avoids_the_loaded_endpoint() {
    let set = set_of(&IDS[..3]);
    let picker = Balance::least_request().seeded(3).picker(&set);
    // `a` has five calls in flight, the others none.
    let held: Vec<_> = (0..5).map(|_| set[0].start()).collect();
    let picks = draw(&*picker, &set, 3000);
    let loaded = counts(&IDS[..3], picks.iter().map(String::as_str));
    assert_eq!(loaded[0], 0, "{loaded:?}");
    assert!(within_5_sigma(loaded[1], 3000, 0.5), "{loaded:?}");
    drop(held);
    // Unloaded, it spreads again.
    let picks = draw(&*picker, &set, 3000);
    let idle = counts(&IDS[..3], picks.iter().map(String::as_str));
    assert!(idle.iter().all(|&c| c > 500), "{idle:?}");
}

#[test]
fn least_request_weighs_in_flight_against_weight() {
    // `a` may carry twice `b`'s load: with 3 in flight against `b`'s 1, (3+1)/200 = (1+1)/100,
    // a tie; with 4, `b` is lighter.
    let set = EndpointSet::new([weighted("a", 200), weighted("b", 100)]);
    let picker = Balance::least_request().picker(&set);
    let _b = set[1].start();
    let mut a: Vec<_> = (0..2).map(|_| set[0].start()).collect();
    assert_eq!(set[picker.choose(None, &[]).unwrap()].id(), "a");
    a.push(set[0].start());
    a.push(set[0].start());
    assert_eq!(set[picker.choose(None, &[]).unwrap()].id(), "b");
}

#[test]
fn p2c_ewma_prefers_the_faster_endpoint_until_it_is_loaded() {
    let set = set_of(&IDS[..2]);
    set[0].record_latency(Duration::from_millis(1));
    set[1].record_latency(Duration::from_millis(10));
    let picker = Balance::p2c_ewma().seeded(5).picker(&set);
    let picks = draw(&*picker, &set, 1000);
    assert!(
        picks.iter().all(|p| p == "a"),
        "two endpoints: always the cheaper"
    );
    // 1 ms × (20 + 1) in flight costs more than 10 ms × 1: the slow one is now the cheaper.
    let held: Vec<_> = (0..20).map(|_| set[0].start()).collect();
    assert_eq!(set[picker.choose(None, &[]).unwrap()].id(), "b");
    drop(held);
    assert_eq!(set[picker.choose(None, &[]).unwrap()].id(), "a");
}

#[test]
fn p2c_ewma_starves_a_slow_endpoint_among_many() {
    let set = set_of(&IDS);
    for e in &set.endpoints()[..3] {
        e.record_latency(Duration::from_millis(2));
    }
    // One slow reply is enough: the estimate jumps to it.
    set[3].record_latency(Duration::from_millis(2));
    set[3].record_latency(Duration::from_millis(80));
    let picker = Balance::p2c_ewma().seeded(9).picker(&set);
    let picks = draw(&*picker, &set, 6000);
    let counts = counts(&IDS, picks.iter().map(String::as_str));
    assert_eq!(counts[3], 0, "{counts:?}");
    // The others share the calls; an endpoint wins every pair it is the cheaper of, so
    // estimates a hair apart (sampled microseconds apart, decayed differently) split them
    // as 1/2, 1/3, 1/6 at most unevenly.
    for &c in &counts[..3] {
        assert!(c > 6000 / 6 - 5 * 29, "{counts:?}");
    }
}

#[test]
fn p2c_ewma_tries_a_new_endpoint_once_until_it_answers() {
    let set = set_of(&IDS[..2]);
    set[0].record_latency(Duration::from_millis(1));
    let picker = Balance::p2c_ewma().picker(&set);
    // `b` has no sample: free while idle, so it is tried...
    assert_eq!(set[picker.choose(None, &[]).unwrap()].id(), "b");
    let probe = set[1].start();
    // ...but not flooded before it answers, even against a loaded `a`.
    let _load: Vec<_> = (0..50).map(|_| set[0].start()).collect();
    assert_eq!(set[picker.choose(None, &[]).unwrap()].id(), "a");
    probe.answered();
    assert!(set[1].latency_estimate().is_some());
    assert_eq!(set[picker.choose(None, &[]).unwrap()].id(), "b");
}

#[test]
fn every_balancer_handles_empty_and_single_sets() {
    for balance in [
        Balance::random(),
        Balance::round_robin(),
        Balance::weighted(),
        Balance::least_request(),
        Balance::p2c_ewma(),
        Balance::consistent_hash(),
    ] {
        let empty = EndpointSet::default();
        assert_eq!(
            balance.picker(&empty).choose(Some(1), &[]),
            None,
            "{}",
            balance.name()
        );
        let one = set_of(&["a"]);
        let picker = balance.picker(&one);
        for key in [None, Some(42)] {
            assert_eq!(picker.choose(key, &[]), Some(0), "{}", balance.name());
            // Tried already: nothing else to offer.
            assert_eq!(
                picker.choose(key, &one.endpoints()[..1]),
                None,
                "{}",
                balance.name()
            );
        }
    }
}
