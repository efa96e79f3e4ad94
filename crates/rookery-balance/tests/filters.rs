//! Filters decide which discovered instances a client calls; the caller's region is preferred
//! while some of its instances are up. Driven through a balanced client over a hand-fed watch
//! (no server needed: nothing is called) and through a selector directly.

mod common;

use std::{sync::Arc, time::Duration};

use common::{in_region, instance};
use rookery_balance::{Balance, BalancedClient, EndpointSet, Selector, filter_fn};
use rookery_core::{Code, Context};
use rookery_registry::{Instance, Query, Watch, protocol};
use rookery_transport::client::Backoff;

fn ids(client: &BalancedClient) -> Vec<String> {
    client
        .endpoints()
        .endpoints()
        .iter()
        .map(|e| e.id().to_string())
        .collect()
}

/// Waits until the client's set is `want`.
async fn until_ids(client: &BalancedClient, want: &[&str]) {
    for _ in 0..500 {
        if ids(client) == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("set is {:?}, want {want:?}", ids(client));
}

fn versioned(id: &str, version: &str, environment: &str) -> Instance {
    let mut i = instance(id);
    i.version = version.parse().unwrap();
    i.environment = environment.into();
    i
}

#[tokio::test]
async fn queries_and_closures_filter_the_set() {
    let (tx, watch, _stop) = Watch::channel(Query::service("svc"));
    let mut canary = versioned("canary", "1.6.0", "prod");
    canary.tags.insert("canary".into());
    let mut grpc_only = versioned("grpc-only", "1.5.0", "prod");
    grpc_only.addresses.clear();
    grpc_only
        .addresses
        .insert(protocol::GRPC.into(), "127.0.0.1:2".into());
    tx.publish([
        versioned("old", "1.1.0", "prod"),
        versioned("ok-1", "1.2.0", "prod"),
        versioned("ok-2", "1.9.3", "prod"),
        versioned("next", "2.0.0", "prod"),
        versioned("staging", "1.5.0", "staging"),
        canary,
        grpc_only,
    ]);
    let client = BalancedClient::builder("svc")
        .filter(
            Query::all()
                .version(">=1.2, <2")
                .unwrap()
                .environment("prod"),
        )
        .filter(filter_fn(|i: &Instance| !i.tags.contains("canary")))
        .watch(watch);
    // Version in range, production, not a canary, with a native address.
    assert_eq!(ids(&client), ["ok-1", "ok-2"]);
    // A later set goes through the same filters.
    tx.publish([
        versioned("ok-1", "1.2.0", "prod"),
        versioned("ok-3", "1.4.0", "prod"),
        versioned("staging-2", "1.4.0", "staging"),
    ]);
    until_ids(&client, &["ok-1", "ok-3"]).await;
}

#[tokio::test]
async fn endpoints_and_statistics_survive_set_changes() {
    let (tx, watch, _stop) = Watch::channel(Query::service("svc"));
    tx.publish([instance("a"), instance("b")]);
    let client = BalancedClient::builder("svc").watch(watch);
    let a = Arc::clone(client.endpoints().find("a").unwrap());
    a.record_latency(Duration::from_millis(3));
    tx.publish([instance("a"), instance("b"), instance("c")]);
    until_ids(&client, &["a", "b", "c"]).await;
    let same = Arc::clone(client.endpoints().find("a").unwrap());
    assert!(Arc::ptr_eq(&a, &same));
    assert!(same.latency_estimate().is_some());
}

#[tokio::test]
async fn an_empty_set_fails_at_once_naming_the_service() {
    let (tx, watch, _stop) = Watch::channel(Query::service("greeter"));
    tx.publish(Vec::new());
    let client = BalancedClient::builder("greeter").watch(watch);
    let err = common::who(&client, &mut Context::new()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(err.is_unsent());
    assert!(err.message().contains("greeter"), "{err}");
    assert!(client.pick(None).is_none());
}

fn regions() -> EndpointSet {
    EndpointSet::new([
        in_region("eu-1", "eu"),
        in_region("eu-2", "eu"),
        in_region("us-1", "us"),
        in_region("us-2", "us"),
        in_region("us-3", "us"),
    ])
}

fn picked(selector: &Selector, n: usize) -> Vec<String> {
    let mut seen: Vec<String> = (0..n)
        .map(|_| selector.select(None, &[]).unwrap().0.id().to_string())
        .collect();
    seen.sort();
    seen.dedup();
    seen
}

#[test]
fn the_callers_region_is_preferred_while_it_has_endpoints_up() {
    let set = regions();
    let balance = Balance::round_robin();
    let eu = Selector::new(&set, &balance, Some("eu"));
    assert_eq!(picked(&eu, 100), ["eu-1", "eu-2"]);
    // A region with no endpoint, or none given: all of them.
    for region in [Some("ap"), Some(""), None] {
        let selector = Selector::new(&set, &balance, region);
        assert_eq!(picked(&selector, 100).len(), 5, "{region:?}");
    }
    // One endpoint of the region down: the other takes everything.
    let long = Backoff {
        base: Duration::from_secs(600),
        max: Duration::from_secs(600),
    };
    set[0].connection_failed(&long);
    assert_eq!(picked(&eu, 100), ["eu-2"]);
    // Both down: the other regions, rather than a failed call.
    set[1].connection_failed(&long);
    assert_eq!(picked(&eu, 100), ["us-1", "us-2", "us-3"]);
    // Tried already in the region: elsewhere too.
    set[0].record_latency(Duration::from_millis(1));
    set[1].record_latency(Duration::from_millis(1));
    let tried = &set.endpoints()[..2];
    assert!(eu.select(None, tried).unwrap().0.id().starts_with("us"));
}

#[tokio::test]
async fn the_client_prefers_its_region() {
    let (tx, watch, _stop) = Watch::channel(Query::service("svc"));
    tx.publish(regions().endpoints().iter().map(|e| e.instance().clone()));
    let client = BalancedClient::builder("svc")
        .prefer_region("us")
        .balance(Balance::random())
        .watch(watch);
    for _ in 0..200 {
        assert!(client.pick(None).unwrap().id().starts_with("us"));
    }
}
