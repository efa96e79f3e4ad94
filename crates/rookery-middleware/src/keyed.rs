//! State kept per call target (service, method, and instance when known), made on first use
//! and bounded, for the layers that count calls: breakers and limits.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Arc, OnceLock, RwLock},
};

use faststr::FastStr;

/// Which calls share one state: a method of a service, at one instance when the address is
/// known.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) service: FastStr,
    pub(crate) method: FastStr,
    pub(crate) address: Option<FastStr>,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.service.is_empty() {
            write!(f, "{}.", self.service)?;
        }
        f.write_str(&self.method)?;
        if let Some(address) = &self.address {
            write!(f, " at {address}")?;
        }
        Ok(())
    }
}

/// How many states a [`Keyed`] holds at most: far more than the methods of real services.
/// Keys can come from the wire (a method name a client made up) or from churning instances,
/// so the table must not grow without end.
const CAP: usize = 4096;

/// A table of states by key, each made on first use. Past [`CAP`] keys, the states that
/// `idle` says hold nothing worth keeping are dropped; if that is not enough, new keys share
/// one overflow state (and a warning says so once).
pub(crate) struct Keyed<K, V> {
    map: RwLock<HashMap<K, Arc<V>>>,
    overflow: OnceLock<Arc<V>>,
}

impl<K, V> std::fmt::Debug for Keyed<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.map.read().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("Keyed").field("len", &len).finish()
    }
}

impl<K, V> Default for Keyed<K, V> {
    fn default() -> Self {
        Keyed {
            map: RwLock::new(HashMap::new()),
            overflow: OnceLock::new(),
        }
    }
}

impl<K: Hash + Eq + Clone, V> Keyed<K, V> {
    /// The state of `key`, made by `make` if there is none yet.
    pub(crate) fn get_or_make(
        &self,
        key: &K,
        make: impl FnOnce() -> V,
        idle: impl Fn(&V) -> bool,
    ) -> Arc<V> {
        // A poisoned lock only means a panic elsewhere while it was held; the map is still
        // a valid map.
        if let Some(v) = self.map.read().unwrap_or_else(|e| e.into_inner()).get(key) {
            return Arc::clone(v);
        }
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = map.get(key) {
            return Arc::clone(v);
        }
        if map.len() >= CAP {
            // Only states nobody holds and that remember nothing may go.
            map.retain(|_, v| Arc::strong_count(v) > 1 || !idle(v));
            if map.len() >= CAP {
                drop(map);
                return Arc::clone(self.overflow.get_or_init(|| {
                    tracing::warn!(
                        limit = CAP,
                        "too many distinct call targets; the others share one state"
                    );
                    Arc::new(make())
                }));
            }
        }
        let v = Arc::new(make());
        map.insert(key.clone(), Arc::clone(&v));
        v
    }

    /// The state of `key`, if it has one.
    pub(crate) fn get(&self, key: &K) -> Option<Arc<V>> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_stays_bounded_and_keeps_what_is_busy() {
        let table: Keyed<usize, bool> = Keyed::default();
        // Every state "busy" (not idle): past the cap, new keys share the overflow state.
        let held: Vec<_> = (0..CAP)
            .map(|k| table.get_or_make(&k, || true, |_| false))
            .collect();
        let a = table.get_or_make(&(CAP + 1), || true, |_| false);
        let b = table.get_or_make(&(CAP + 2), || true, |_| false);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(Arc::ptr_eq(
            &table.get_or_make(&0, || true, |_| false),
            &held[0]
        ));
        // Once idle and unheld, old states make room.
        drop(held);
        let c = table.get_or_make(&(CAP + 3), || true, |_| true);
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(table.get(&(CAP + 3)).is_some());
        assert!(table.get(&0).is_none());
    }
}
