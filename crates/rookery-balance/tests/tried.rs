//! A [`Tried`] list in the context steers a call away from the instances an earlier attempt
//! of it went to, and records the instance it picks: what a retry layer relies on to send a
//! retry or a backup request to another instance.

mod common;

use std::time::Duration;

use common::{server, who};
use rookery_balance::{Balance, BalancedClient, Tried};
use rookery_core::Context;
use rookery_registry::static_list::StaticList;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_avoids_the_instances_its_earlier_attempts_tried_while_others_exist() {
    let one = server("one", Duration::ZERO).await;
    let two = server("two", Duration::ZERO).await;
    let (one_address, two_address) = (one.local_addr().to_string(), two.local_addr().to_string());
    let registry = StaticList::new([one_address.clone(), two_address.clone()]).unwrap();
    for balance in [
        Balance::round_robin(),
        Balance::p2c_ewma(),
        Balance::random(),
    ] {
        let client = BalancedClient::builder("who")
            .balance(balance)
            .discover(&registry)
            .await
            .unwrap();
        for _ in 0..20 {
            let tried = Tried::new();
            tried.insert(one_address.clone().into());
            let mut cx = Context::new();
            cx.extensions_mut().insert(tried.clone());
            assert_eq!(who(&client, &mut cx).await.unwrap(), "two");
            assert_eq!(tried.addresses(), [&*one_address, &*two_address]);
        }
        // Every instance tried: a call still goes to one of them.
        let tried = Tried::new();
        tried.insert(one_address.clone().into());
        tried.insert(two_address.clone().into());
        let mut cx = Context::new();
        cx.extensions_mut().insert(tried.clone());
        who(&client, &mut cx).await.unwrap();
        assert_eq!(tried.len(), 2);
    }
    // Without a list, nothing is avoided: round robin alternates.
    let client = BalancedClient::builder("who")
        .balance(Balance::round_robin())
        .discover(&registry)
        .await
        .unwrap();
    let mut names = Vec::new();
    for _ in 0..4 {
        names.push(who(&client, &mut Context::new()).await.unwrap());
    }
    names.sort();
    assert_eq!(names, ["one", "one", "two", "two"]);
    one.stop().await;
    two.stop().await;
}
