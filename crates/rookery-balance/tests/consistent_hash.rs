//! Consistent hashing with bounded load: a key stays on its endpoint, a hot key spills when
//! its endpoint is over the bound, and a joining endpoint takes about 1/(n+1) of the keys and
//! nothing else moves.

mod common;

use common::{instance, weighted};
use rookery_balance::{Balance, BalanceKey, ConsistentHash, EndpointSet, Picker};

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("instance-{i}")).collect()
}

fn set_of(ids: &[String]) -> EndpointSet {
    EndpointSet::new(ids.iter().map(|id| instance(id)))
}

fn owner(picker: &dyn Picker, set: &EndpointSet, key: u64) -> String {
    set[picker.choose(Some(key), &[]).unwrap()].id().to_string()
}

fn keys(n: u64) -> impl Iterator<Item = u64> {
    (0..n).map(|k| BalanceKey::of(format!("user-{k}")).0)
}

#[test]
fn a_key_goes_to_the_same_endpoint_in_every_client() {
    let ids = ids(5);
    let (one, other) = (set_of(&ids), set_of(&ids));
    let (p1, p2) = (
        Balance::consistent_hash().picker(&one),
        Balance::consistent_hash().picker(&other),
    );
    let mut seen = std::collections::HashSet::new();
    for key in keys(2000) {
        let first = owner(&*p1, &one, key);
        assert_eq!(owner(&*p1, &one, key), first);
        assert_eq!(
            owner(&*p2, &other, key),
            first,
            "rings are built the same everywhere"
        );
        seen.insert(first);
    }
    assert_eq!(seen.len(), 5, "keys spread over every endpoint");
}

#[test]
fn keys_spread_in_proportion_to_weight() {
    let set = EndpointSet::new([weighted("a", 100), weighted("b", 100), weighted("c", 200)]);
    let picker = Balance::consistent_hash().picker(&set);
    let n = 20_000;
    let mut counts = [0usize; 3];
    for key in keys(n) {
        counts[picker.choose(Some(key), &[]).unwrap()] += 1;
    }
    let shares = counts.map(|c| c as f64 / n as f64);
    // 100 points per default weight: each share within a fifth of its ideal.
    for (share, ideal) in shares.iter().zip([0.25, 0.25, 0.5]) {
        assert!((share / ideal - 1.0).abs() < 0.2, "{shares:?}");
    }
}

#[test]
fn a_hot_key_spills_when_its_endpoint_is_over_the_bound() {
    let ids = ids(3);
    let set = set_of(&ids);
    let picker = Balance::from(ConsistentHash::new().load_factor(1.25)).picker(&set);
    let key = BalanceKey::of("hot").0;
    let home = picker.choose(Some(key), &[]).unwrap();
    // Four calls in flight on every endpoint; then calls of the hot key pile up on its own.
    let mut held: Vec<_> = (0..3)
        .flat_map(|i| (0..4).map(move |_| i))
        .map(|i| set[i].start())
        .collect();
    let bound = || (1.25 * (set[0].group_in_flight() as f64 + 1.0) / 3.0).ceil() as u32;
    let mut spilled = None;
    for _ in 0..20 {
        let i = picker.choose(Some(key), &[]).unwrap();
        if i != home {
            spilled = Some(i);
            break;
        }
        assert!(set[home].in_flight() < bound());
        held.push(set[i].start());
    }
    let spilled = spilled.expect("the hot key spilled");
    // It left home exactly when home reached the bound: ceil(1.25 × (in flight + 1) / 3).
    assert!(set[home].in_flight() >= bound());
    assert!(set[home].in_flight() > 4);
    assert!(set[spilled].in_flight() < bound());
    // It spills to the next endpoint along its ring, the same for every call while loaded...
    assert_eq!(picker.choose(Some(key), &[]), Some(spilled));
    // ...and comes home once the load is gone.
    drop(held);
    assert_eq!(picker.choose(Some(key), &[]), Some(home));
    // Unbounded, it never leaves.
    let unbounded = Balance::from(ConsistentHash::new().unbounded()).picker(&set);
    let _held: Vec<_> = (0..100).map(|_| set[home].start()).collect();
    assert_eq!(unbounded.choose(Some(key), &[]), Some(home));
}

#[test]
fn a_joining_endpoint_takes_about_one_in_n_plus_one_keys() {
    for n in [3, 10] {
        let before_ids = ids(n);
        let after_ids = ids(n + 1);
        let (before, after) = (set_of(&before_ids), set_of(&after_ids));
        let (pb, pa) = (
            Balance::consistent_hash().picker(&before),
            Balance::consistent_hash().picker(&after),
        );
        let total = 20_000;
        let mut moved = 0;
        for key in keys(total) {
            let (was, is) = (owner(&*pb, &before, key), owner(&*pa, &after, key));
            if was != is {
                moved += 1;
                assert_eq!(is, after_ids[n], "a key moves only to the new endpoint");
            }
        }
        let fraction = moved as f64 / total as f64;
        let ideal = 1.0 / (n + 1) as f64;
        assert!(
            fraction > ideal * 0.6 && fraction < ideal * 1.4,
            "n = {n}: {fraction:.4} of keys moved, ideally {ideal:.4}"
        );
    }
}

#[test]
fn a_leaving_endpoint_moves_only_its_own_keys() {
    let all = ids(6);
    let (full, less) = (set_of(&all), set_of(&all[..5]));
    let (pf, pl) = (
        Balance::consistent_hash().picker(&full),
        Balance::consistent_hash().picker(&less),
    );
    for key in keys(10_000) {
        let was = owner(&*pf, &full, key);
        if was != all[5] {
            assert_eq!(owner(&*pl, &less, key), was);
        }
    }
}

#[test]
fn calls_without_a_key_still_spread() {
    let ids = ids(3);
    let set = set_of(&ids);
    let picker = Balance::consistent_hash().seeded(1).picker(&set);
    let mut counts = [0usize; 3];
    for _ in 0..3000 {
        counts[picker.choose(None, &[]).unwrap()] += 1;
    }
    assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
}
