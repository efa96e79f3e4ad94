//! Helpers the integration tests of `rookery-examples` share.
#![allow(dead_code)] // each test file uses its own subset

use std::{future::Future, time::Duration};

use rookery::{Address, RunningService};

/// Awaits `f`, failing the test with `what` if it has no outcome within `secs` seconds. This is
/// a guard against hangs, not a speed check: the limits are far above any expected duration.
pub(crate) async fn within<F: Future>(secs: u64, what: &str, f: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(secs), f).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: nothing happened within {secs} s"),
    }
}

/// The TCP port a running service listens on.
pub(crate) fn port_of(running: &RunningService) -> u16 {
    match running.local_addr() {
        Address::Tcp(addr) => addr.port(),
        other => panic!("expected a TCP address, got {other}"),
    }
}
