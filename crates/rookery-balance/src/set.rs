//! The endpoints a picker chooses from: one generation of the live set.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, atomic::AtomicUsize},
};

use rookery_registry::Instance;

use crate::Endpoint;

/// The endpoints of one version of the instance set. Cheap to clone.
///
/// [`update`](EndpointSet::update) makes the next version: endpoints of instances still
/// present are kept, with their statistics; the others are new. Every version shares one
/// count of the calls in flight, which consistent hashing bounds load against, and one lock
/// that decides outlier ejections one at a time.
#[derive(Clone, Debug)]
pub struct EndpointSet {
    endpoints: Arc<[Arc<Endpoint>]>,
    group: Arc<AtomicUsize>,
    ejecting: Arc<Mutex<()>>,
}

impl Default for EndpointSet {
    fn default() -> Self {
        EndpointSet::new(Vec::new())
    }
}

impl EndpointSet {
    /// A set of fresh endpoints for `instances`.
    pub fn new(instances: impl IntoIterator<Item = Instance>) -> EndpointSet {
        let group = Arc::new(AtomicUsize::new(0));
        let endpoints = instances
            .into_iter()
            .map(|i| Arc::new(Endpoint::new(i, Arc::clone(&group))))
            .collect();
        EndpointSet {
            endpoints,
            group,
            ejecting: Arc::default(),
        }
    }

    /// The next version of this set, holding `instances`: an instance already here keeps its
    /// endpoint (the same one if it did not change, a successor that keeps its statistics if
    /// it did).
    pub fn update(&self, instances: impl IntoIterator<Item = Instance>) -> EndpointSet {
        let old: HashMap<&str, &Arc<Endpoint>> =
            self.endpoints.iter().map(|e| (e.id(), e)).collect();
        let endpoints = instances
            .into_iter()
            .map(|instance| match old.get(instance.id.as_str()) {
                Some(e) if *e.instance() == instance => Arc::clone(e),
                Some(e) => Arc::new(e.succeed(instance)),
                None => Arc::new(Endpoint::new(instance, Arc::clone(&self.group))),
            })
            .collect();
        EndpointSet {
            endpoints,
            group: Arc::clone(&self.group),
            ejecting: Arc::clone(&self.ejecting),
        }
    }

    /// The endpoints for which `keep` holds, as a set sharing this one's endpoints and count.
    pub fn subset(&self, mut keep: impl FnMut(&Endpoint) -> bool) -> EndpointSet {
        EndpointSet {
            endpoints: self.endpoints.iter().filter(|e| keep(e)).cloned().collect(),
            group: Arc::clone(&self.group),
            ejecting: Arc::clone(&self.ejecting),
        }
    }

    /// The endpoints, in the order of the instances given.
    #[inline]
    pub fn endpoints(&self) -> &[Arc<Endpoint>] {
        &self.endpoints
    }

    /// The endpoint at `index`.
    #[inline]
    pub fn get(&self, index: usize) -> Option<&Arc<Endpoint>> {
        self.endpoints.get(index)
    }

    /// How many endpoints there are.
    #[inline]
    pub fn len(&self) -> usize {
        self.endpoints.len()
    }

    /// Whether there are none.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// Held while an ejection is decided, so two at once cannot both pass the bound.
    pub(crate) fn ejection_lock(&self) -> MutexGuard<'_, ()> {
        self.ejecting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The endpoint of the instance `id`.
    pub fn find(&self, id: &str) -> Option<&Arc<Endpoint>> {
        self.endpoints.iter().find(|e| e.id() == id)
    }
}

impl std::ops::Index<usize> for EndpointSet {
    type Output = Arc<Endpoint>;

    fn index(&self, index: usize) -> &Arc<Endpoint> {
        &self.endpoints[index]
    }
}
