//! `embedded`: the registry in this process, with TTL expiry and watches. The same registry
//! can be served to other processes over rookery's own RPC (a standalone registry, like Kite's
//! Kontrol) and reached from them as `registry://HOST:PORT`.

mod register;
mod watch;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, OnceLock},
};

use tokio::{
    sync::{Notify, watch as tokio_watch},
    time::Instant,
};

use crate::{Instance, Query};

/// One registered instance and its lease.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) instance: Instance,
    pub(crate) token: i64,
    pub(crate) expires_at: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) entries: HashMap<String, Entry>,
    pub(crate) next_token: i64,
}

/// The registry in this process. Clones share it.
#[derive(Clone, Debug)]
pub struct Embedded {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    /// Bumped on every change; watches follow it.
    revision: tokio_watch::Sender<u64>,
    /// Wakes the reaper when a registration may expire sooner than it planned.
    reaper_wake: Notify,
    reaper_started: OnceLock<()>,
}

impl Default for Embedded {
    fn default() -> Self {
        Embedded::new()
    }
}

impl Embedded {
    /// An empty registry.
    pub fn new() -> Embedded {
        Embedded {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    entries: HashMap::new(),
                    next_token: 1,
                }),
                revision: tokio_watch::channel(0).0,
                reaper_wake: Notify::new(),
                reaper_started: OnceLock::new(),
            }),
        }
    }

    /// The registry shared by everything in this process that uses the default
    /// (`ROOKERY_REGISTRY` unset or `embedded`).
    pub fn global() -> Arc<Embedded> {
        static GLOBAL: OnceLock<Arc<Embedded>> = OnceLock::new();
        Arc::clone(GLOBAL.get_or_init(|| Arc::new(Embedded::new())))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live instances matching `query`, in no particular order.
    pub fn snapshot(&self, query: &Query) -> Vec<Instance> {
        let now = Instant::now();
        self.lock()
            .entries
            .values()
            .filter(|e| e.expires_at > now && query.matches(&e.instance))
            .map(|e| e.instance.clone())
            .collect()
    }

    /// How many instances are registered and live.
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.lock()
            .entries
            .values()
            .filter(|e| e.expires_at > now)
            .count()
    }

    /// Whether no instance is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records a change: watches wake up.
    pub(crate) fn changed(&self) {
        self.inner.revision.send_modify(|r| *r += 1);
    }

    pub(crate) fn subscribe(&self) -> tokio_watch::Receiver<u64> {
        self.inner.revision.subscribe()
    }

    /// Starts the task that removes registrations whose TTL ran out (once, on first use,
    /// from inside a runtime), and wakes it to reconsider its next deadline.
    pub(crate) fn wake_reaper(&self) {
        if self.inner.reaper_started.set(()).is_ok() {
            let weak = Arc::downgrade(&self.inner);
            tokio::spawn(reap(weak));
        }
        self.inner.reaper_wake.notify_one();
    }
}

/// Removes expired registrations at their deadlines, until the registry is dropped.
async fn reap(weak: std::sync::Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let registry = Embedded { inner };
        let next = {
            let now = Instant::now();
            let mut state = registry.lock();
            let before = state.entries.len();
            state.entries.retain(|id, e| {
                let live = e.expires_at > now;
                if !live {
                    tracing::info!(%id, name = %e.instance.name, "registration expired");
                }
                live
            });
            let expired = before != state.entries.len();
            let next = state.entries.values().map(|e| e.expires_at).min();
            drop(state);
            if expired {
                registry.changed();
            }
            next
        };
        let wake = Arc::clone(&registry.inner);
        drop(registry);
        let notified = wake.reaper_wake.notified();
        match next {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = notified => {}
                }
            }
            None => notified.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{Discover, Registration, protocol};

    fn inst(name: &str, port: u16) -> Instance {
        Instance::new(name, "1.0.0".parse().unwrap())
            .with_address(protocol::THRIFT, format!("127.0.0.1:{port}"))
    }

    #[tokio::test(start_paused = true)]
    async fn registrations_expire_unless_renewed() {
        let reg = Embedded::new();
        let a = reg
            .register_now(&inst("s", 1), Duration::from_secs(3))
            .unwrap();
        let _b = reg
            .register_now(&inst("s", 2), Duration::from_secs(10))
            .unwrap();
        let mut watch = reg.watch(&Query::service("s")).await.unwrap();
        assert_eq!(watch.current().len(), 2);
        tokio::time::sleep(Duration::from_secs(2)).await;
        reg.heartbeat_now(&a).unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(reg.len(), 2, "renewed at 2 s, so alive at 4 s");
        // Without renewal, a expires at 5 s and b at 10 s; the watch sees both go.
        let set = watch.changed().await.unwrap();
        assert_eq!(set.len(), 1);
        assert!(reg.heartbeat_now(&a).unwrap_err().is_lease_lost());
        let set = watch.changed().await.unwrap();
        assert!(set.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_registration_heartbeats_and_deregisters() {
        let reg = Arc::new(Embedded::new());
        let registration = Registration::start(reg.clone(), inst("s", 1), Duration::from_secs(3))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(reg.len(), 1, "kept alive by its heartbeats");
        registration.deregister().await.unwrap();
        assert!(reg.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_lease_is_registered_again() {
        let reg = Arc::new(Embedded::new());
        let instance = inst("s", 1);
        let registration =
            Registration::start(reg.clone(), instance.clone(), Duration::from_secs(3))
                .await
                .unwrap();
        // The registry forgets it (as after a restart, or a pause past the TTL).
        reg.lock().entries.clear();
        reg.changed();
        assert!(reg.is_empty());
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(reg.snapshot(&Query::all())[0].id, instance.id);
        registration.deregister().await.unwrap();
        assert!(reg.is_empty());
    }
}
