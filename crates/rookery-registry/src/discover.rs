use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use rookery_core::BoxFuture;
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::{Instance, Query, RegistryError};

/// The instances that matched a query at one moment, in id order. Cheap to clone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstanceSet {
    instances: Arc<[Instance]>,
    revision: u64,
}

impl InstanceSet {
    /// The instances.
    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// A number that grows each time the set changes.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.instances.len()
    }
}

/// Finds instances: once ([`resolve`](Discover::resolve)) or as a live view that follows the
/// registry ([`watch`](Discover::watch)).
pub trait Discover: Send + Sync {
    /// The instances matching `query` now.
    fn resolve<'a>(
        &'a self,
        query: &'a Query,
    ) -> BoxFuture<'a, Result<Vec<Instance>, RegistryError>>;

    /// A live view of the instances matching `query`. It starts with what the registry holds
    /// (so the first call fails if the registry cannot be reached) and then follows it; when
    /// the registry becomes unreachable the view keeps the last instances it saw, logs and
    /// counts the failures, and catches up when the registry is back.
    fn watch<'a>(&'a self, query: &'a Query) -> BoxFuture<'a, Result<Watch, RegistryError>>;
}

#[derive(Debug, Default)]
struct WatchStats {
    errors: AtomicU64,
    stale: AtomicBool,
    skipped: AtomicU64,
}

/// A live view of the instances matching a query; see [`Discover::watch`]. Clones share the
/// view; the work behind it stops when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Watch {
    rx: watch::Receiver<InstanceSet>,
    stats: Arc<WatchStats>,
    _stop: Arc<DropGuard>,
}

impl Watch {
    /// A view and the handle its backend updates it through. `stop` is cancelled when the
    /// last clone of the view is dropped: the backend's task ends then.
    pub fn channel(query: Query) -> (WatchSender, Watch, CancellationToken) {
        let (tx, rx) = watch::channel(InstanceSet::default());
        let stats = Arc::new(WatchStats::default());
        let stop = CancellationToken::new();
        let sender = WatchSender {
            tx,
            stats: Arc::clone(&stats),
            query,
        };
        let view = Watch {
            rx,
            stats,
            _stop: Arc::new(stop.clone().drop_guard()),
        };
        (sender, view, stop)
    }

    /// Marks the set now held as seen, so [`changed`](Watch::changed) waits for the next
    /// one. Backends call it after publishing the first set, before handing the view out.
    pub fn mark_seen(&mut self) {
        self.rx.borrow_and_update();
    }

    /// The instances now.
    pub fn current(&self) -> InstanceSet {
        self.rx.borrow().clone()
    }

    /// Waits until the set changes; fails once the backend has stopped for good.
    pub async fn changed(&mut self) -> Result<InstanceSet, RegistryError> {
        self.rx
            .changed()
            .await
            .map_err(|_| RegistryError::unavailable("the watch stopped"))?;
        Ok(self.rx.borrow_and_update().clone())
    }

    /// How many times the backend failed to reach the registry since the view was made.
    pub fn errors(&self) -> u64 {
        self.stats.errors.load(Ordering::Relaxed)
    }

    /// Whether the last attempt to reach the registry failed, so the view shows the last
    /// instances known rather than the registry's.
    pub fn is_stale(&self) -> bool {
        self.stats.stale.load(Ordering::Relaxed)
    }

    /// How many entries were skipped because they were malformed or duplicated.
    pub fn skipped(&self) -> u64 {
        self.stats.skipped.load(Ordering::Relaxed)
    }
}

/// What a backend updates a [`Watch`] through.
#[derive(Debug)]
pub struct WatchSender {
    tx: watch::Sender<InstanceSet>,
    stats: Arc<WatchStats>,
    query: Query,
}

impl WatchSender {
    /// The query the view is for.
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// Publishes what the registry holds now. Entries that do not match the query are left
    /// out; malformed entries and second entries with an id already seen are skipped with a
    /// logged reason. Readers are woken only if the set changed.
    pub fn publish(&self, entries: impl IntoIterator<Item = Instance>) {
        let mut seen = HashSet::new();
        let mut instances: Vec<Instance> = Vec::new();
        for instance in entries {
            if !self.query.matches(&instance) {
                continue;
            }
            if let Err(e) = instance.validate() {
                self.stats.skipped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(reason = %e, "registry entry skipped");
                continue;
            }
            if !seen.insert(instance.id.clone()) {
                self.stats.skipped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(id = %instance.id, "registry entry skipped: duplicate id");
                continue;
            }
            instances.push(instance);
        }
        instances.sort_by(|a, b| a.id.cmp(&b.id));
        self.stats.stale.store(false, Ordering::Relaxed);
        self.tx.send_if_modified(|set| {
            if *set.instances == instances[..] {
                return false;
            }
            set.instances = instances.into();
            set.revision += 1;
            true
        });
    }

    /// Records that the registry could not be reached: the view keeps its instances.
    pub fn failed(&self, error: &RegistryError) {
        let n = self.stats.errors.fetch_add(1, Ordering::Relaxed) + 1;
        self.stats.stale.store(true, Ordering::Relaxed);
        let kept = self.tx.borrow().len();
        tracing::warn!(%error, failures = n, kept, "registry unreachable; keeping the last known instances");
    }

    /// Records a malformed entry that could not even be read as an instance.
    pub fn skip(&self, reason: &str) {
        self.stats.skipped.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(reason, "registry entry skipped");
    }

    /// Whether every view has been dropped (the backend may stop).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::protocol;

    fn inst(id: &str, name: &str) -> Instance {
        let mut i = Instance::new(name, "1.0.0".parse().unwrap())
            .with_address(protocol::THRIFT, "127.0.0.1:1");
        i.id = id.into();
        i
    }

    #[tokio::test]
    async fn publishes_changes_only_and_never_empties_on_failure() {
        let (tx, mut view, stop) = Watch::channel(Query::service("s"));
        tx.publish([inst("b", "s"), inst("a", "s"), inst("c", "other")]);
        let set = view.changed().await.unwrap();
        view.mark_seen();
        assert_eq!(
            set.instances()
                .iter()
                .map(|i| i.id.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        let rev = set.revision();
        // The same set again: no wake-up, no new revision.
        tx.publish([inst("a", "s"), inst("b", "s")]);
        assert_eq!(view.current().revision(), rev);
        // An outage keeps the set.
        tx.failed(&RegistryError::unavailable("down"));
        assert!(view.is_stale());
        assert_eq!(view.errors(), 1);
        assert_eq!(view.current().len(), 2);
        tx.publish([inst("a", "s")]);
        assert!(!view.is_stale());
        assert_eq!(view.changed().await.unwrap().len(), 1);
        // Dropping the last view cancels the backend's token.
        let clone = view.clone();
        drop(view);
        assert!(!stop.is_cancelled());
        drop(clone);
        assert!(stop.is_cancelled());
    }

    #[tokio::test]
    async fn garbage_and_duplicates_are_skipped() {
        let (tx, view, _stop) = Watch::channel(Query::all());
        let mut no_addr = inst("x", "s");
        no_addr.addresses.clear();
        let mut bad_addr = inst("y", "s");
        bad_addr.addresses.insert("thrift".into(), "nowhere".into());
        tx.publish([inst("a", "s"), no_addr, bad_addr, inst("a", "s")]);
        assert_eq!(view.current().len(), 1);
        assert_eq!(view.skipped(), 3);
    }
}
