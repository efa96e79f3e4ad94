//! The gRPC health service following the service's own health (feature `grpc`): one
//! lifecycle, reported over Thrift, HTTP and gRPC alike.

use rookery_grpc::health::HealthReporter;
use rookery_transport::{Health, HealthState};
use tokio::task::JoinHandle;

/// Follows `health` into `reporter`, in a task: `SERVING` while it serves; `NOT_SERVING`
/// if it goes back to starting; and when it starts draining, the reporter's shutdown (every
/// name `NOT_SERVING` for good, each `Watch` stream told so and ended), after which the task
/// ends. Await the task after setting the health to draining to know the `Watch` streams
/// have their last status (the reporter bounds that wait).
pub(crate) fn follow(
    health: &Health,
    reporter: HealthReporter,
    names: Vec<&'static str>,
) -> JoinHandle<()> {
    let mut states = health.subscribe();
    tokio::spawn(async move {
        let mut served = false;
        loop {
            let state = *states.borrow_and_update();
            match state {
                HealthState::Serving if !served => {
                    served = true;
                    reporter.serving_started();
                }
                HealthState::Serving => {
                    // Back from a return to starting: what that set by hand is undone.
                    reporter.set_serving("");
                    for name in &names {
                        reporter.set_serving(*name);
                    }
                }
                // Before it first serves, the reporter says NOT_SERVING on its own.
                HealthState::Starting if !served => {}
                HealthState::Starting => {
                    reporter.set_not_serving("");
                    for name in &names {
                        reporter.set_not_serving(*name);
                    }
                }
                HealthState::Draining => {
                    reporter.shutdown().await;
                    return;
                }
            }
            if states.changed().await.is_err() {
                // Every handle of the health is gone: the service is gone.
                reporter.shutdown().await;
                return;
            }
        }
    })
}
