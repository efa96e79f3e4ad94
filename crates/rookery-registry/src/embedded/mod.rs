//! `embedded`: the registry in this process, with TTL expiry, watches, and its state saved to
//! a file so that a restart keeps live instances until their TTL runs out.
//!
//! The same registry is served to other processes over rookery's own RPC (a standalone
//! registry, like Kite's Kontrol) by [`EmbeddedServer`], described by `idl/registry.thrift`,
//! and reached from them as `registry://HOST:PORT` through [`RemoteRegistry`].
//!
//! ```
//! use std::time::Duration;
//! use rookery_registry::{Discover, Instance, Query, Registry, embedded::Embedded, protocol};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), rookery_registry::RegistryError> {
//! let registry = Embedded::new();
//! let instance = Instance::new("greeter", "1.0.0".parse().unwrap())
//!     .with_address(protocol::THRIFT, "127.0.0.1:9090");
//! let lease = registry.register(&instance, Duration::from_secs(10)).await?;
//! assert_eq!(registry.resolve(&Query::service("greeter")).await?.len(), 1);
//! registry.deregister(&lease).await?;
//! # Ok(())
//! # }
//! ```

mod persist;
mod register;
mod remote;
mod server;
mod watch;
pub mod wire;

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard, OnceLock, Weak},
    time::Duration,
};

use tokio::{
    sync::{Notify, watch as tokio_watch},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

pub use remote::{RemoteRegistry, RemoteRegistryBuilder};
pub use server::EmbeddedServer;

use crate::{Instance, Query, RegistryError};

/// The longest TTL a registration may ask for. Longer ones are refused, so that no deadline
/// overflows and a forgotten instance does not linger for days.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// One registered instance and its lease.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) instance: Instance,
    pub(crate) token: i64,
    /// The TTL it registered with: each heartbeat extends it by this much.
    pub(crate) ttl: Duration,
    pub(crate) expires_at: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) entries: HashMap<String, Entry>,
}

/// The registry in this process. Clones share it; its background tasks (expiry, saving the
/// state) end when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Embedded {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Arc<Mutex<State>>,
    /// Bumped on every change of the registered set; watches follow it.
    revision: tokio_watch::Sender<u64>,
    /// Wakes the reaper when a registration may expire sooner than it planned.
    reaper_wake: Arc<Notify>,
    reaper_started: OnceLock<()>,
    /// Where the state is saved, if anywhere.
    store: Option<Arc<persist::Store>>,
    /// Cancelled when the last clone is dropped: background tasks end.
    closed: CancellationToken,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.closed.cancel();
    }
}

impl Default for Embedded {
    fn default() -> Self {
        Embedded::new()
    }
}

/// Builds an [`Embedded`] registry; see [`Embedded::builder`].
#[derive(Clone, Debug)]
pub struct EmbeddedBuilder {
    state_file: Option<PathBuf>,
    flush_interval: Duration,
}

impl EmbeddedBuilder {
    /// Saves the state to `path` and restores it from there when built (see
    /// [`Embedded::with_state_file`]).
    pub fn state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// How long renewed expiry times may wait before they are saved (1 s by default).
    /// Registrations, removals and expiries are saved at once; heartbeats only move expiry
    /// times forward, and are saved together at most this often. A crash loses at most this
    /// much of each instance's remaining TTL, so keep it well under a third of the shortest
    /// TTL in use.
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// Builds the registry. With a state file, the file is read now: entries whose expiry is
    /// still ahead come back with the TTL they have left; a file that cannot be read starts
    /// the registry empty, and malformed entries are skipped, each with a logged reason.
    pub fn build(self) -> Embedded {
        let state = Arc::new(Mutex::new(State::default()));
        let closed = CancellationToken::new();
        let store = self.state_file.map(|path| {
            let restored = persist::load(&path);
            state.lock().unwrap_or_else(|e| e.into_inner()).entries = restored;
            Arc::new(persist::Store::new(
                path,
                self.flush_interval,
                Arc::clone(&state),
                closed.clone(),
            ))
        });
        let registry = Embedded {
            inner: Arc::new(Inner {
                state,
                revision: tokio_watch::channel(0).0,
                reaper_wake: Arc::new(Notify::new()),
                reaper_started: OnceLock::new(),
                store,
                closed,
            }),
        };
        // Restored entries must expire on time even if nothing else happens.
        if tokio::runtime::Handle::try_current().is_ok() && !registry.lock().entries.is_empty() {
            registry.wake_reaper();
        }
        registry
    }
}

impl Embedded {
    /// An empty registry that lives in memory only.
    pub fn new() -> Embedded {
        Embedded::builder().build()
    }

    /// A builder, for a registry saved to a file.
    pub fn builder() -> EmbeddedBuilder {
        EmbeddedBuilder {
            state_file: None,
            flush_interval: Duration::from_secs(1),
        }
    }

    /// A registry whose state is saved to `path` (JSON, replaced atomically on every change)
    /// and restored from it now, so that a restarted registry keeps the instances that were
    /// live until their TTL runs out, under the same leases: their heartbeats go on working.
    /// See [`EmbeddedBuilder`] for what is saved when.
    pub fn with_state_file(path: impl Into<PathBuf>) -> Embedded {
        Embedded::builder().state_file(path).build()
    }

    /// The registry shared by everything in this process that uses the default
    /// (`ROOKERY_REGISTRY` unset or `embedded`).
    pub fn global() -> Arc<Embedded> {
        static GLOBAL: OnceLock<Arc<Embedded>> = OnceLock::new();
        Arc::clone(GLOBAL.get_or_init(|| Arc::new(Embedded::new())))
    }

    /// The file the state is saved to, if any.
    pub fn state_file(&self) -> Option<&std::path::Path> {
        self.inner.store.as_deref().map(persist::Store::path)
    }

    /// Waits until every change made so far is saved to the state file (at once, without
    /// waiting for the flush interval). Returns the error of the last attempt if saving
    /// failed; succeeds at once without a state file.
    pub async fn flush(&self) -> Result<(), RegistryError> {
        match &self.inner.store {
            Some(store) => store.flush().await,
            None => Ok(()),
        }
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

    /// Records a change of the registered set: watches wake up, and the state is saved at once.
    pub(crate) fn changed(&self) {
        self.inner.revision.send_modify(|r| *r += 1);
        if let Some(store) = &self.inner.store {
            store.note(true);
        }
    }

    /// Records a renewal (a later expiry, same set): saved within the flush interval.
    pub(crate) fn renewed(&self) {
        if let Some(store) = &self.inner.store {
            store.note(false);
        }
    }

    /// Follows changes of the registered set (and makes sure expiry runs, so that watchers
    /// see registrations expire).
    pub(crate) fn subscribe(&self) -> tokio_watch::Receiver<u64> {
        self.wake_reaper();
        self.inner.revision.subscribe()
    }

    /// Starts the task that removes registrations whose TTL ran out (once, on first use,
    /// from inside a runtime), and wakes it to reconsider its next deadline.
    pub(crate) fn wake_reaper(&self) {
        if self.inner.reaper_started.set(()).is_ok() {
            tokio::spawn(reap(
                Arc::downgrade(&self.inner),
                Arc::clone(&self.inner.reaper_wake),
                self.inner.closed.clone(),
            ));
        }
        self.inner.reaper_wake.notify_one();
    }

    /// Removes the registrations whose TTL ran out; returns the next deadline.
    fn expire(&self) -> Option<Instant> {
        let now = Instant::now();
        let mut state = self.lock();
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
            self.changed();
        }
        next
    }
}

/// Removes expired registrations at their deadlines, until the registry is dropped. It holds
/// the registry only while it works, so that dropping the last clone ends it.
async fn reap(weak: Weak<Inner>, wake: Arc<Notify>, closed: CancellationToken) {
    loop {
        let next = match weak.upgrade() {
            Some(inner) => Embedded { inner }.expire(),
            None => return,
        };
        let notified = wake.notified();
        match next {
            Some(at) => tokio::select! {
                _ = closed.cancelled() => return,
                _ = tokio::time::sleep_until(at) => {}
                _ = notified => {}
            },
            None => tokio::select! {
                _ = closed.cancelled() => return,
                _ = notified => {}
            },
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

    #[tokio::test]
    async fn dropping_the_last_clone_ends_the_reaper() {
        let reg = Embedded::new();
        reg.register_now(&inst("s", 1), Duration::from_secs(60))
            .unwrap();
        // Let the reaper run and go to sleep until the deadline.
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        let weak = Arc::downgrade(&reg.inner);
        drop(reg);
        // The reaper held the registry only while it worked.
        assert!(weak.upgrade().is_none());
    }
}
