//! Which discovered instances a client may call at all.

use std::fmt;

use rookery_registry::{Instance, Query};

/// Decides which discovered instances a client may call; applied each time the set changes,
/// never per call.
///
/// A [`Query`] is a filter (version constraint, environment, region, hostname, tags: every
/// field it sets must match), and so is any `Fn(&Instance) -> bool` wrapped in [`filter_fn`].
pub trait Filter: Send + Sync + fmt::Debug + 'static {
    /// Whether `instance` may be called.
    fn keep(&self, instance: &Instance) -> bool;
}

impl Filter for Query {
    fn keep(&self, instance: &Instance) -> bool {
        self.matches(instance)
    }
}

/// A filter made from a closure; see [`filter_fn`].
#[derive(Clone, Copy)]
pub struct FilterFn<F>(F);

impl<F> fmt::Debug for FilterFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FilterFn")
    }
}

/// A [`Filter`] from a closure.
///
/// ```
/// use rookery_balance::{filter_fn, Filter};
/// use rookery_registry::Instance;
///
/// let canaries_out = filter_fn(|i: &Instance| !i.tags.contains("canary"));
/// let mut i = Instance::new("greeter", "1.0.0".parse().unwrap());
/// assert!(canaries_out.keep(&i));
/// i.tags.insert("canary".into());
/// assert!(!canaries_out.keep(&i));
/// ```
pub fn filter_fn<F>(f: F) -> FilterFn<F>
where
    F: Fn(&Instance) -> bool + Send + Sync + 'static,
{
    FilterFn(f)
}

impl<F> Filter for FilterFn<F>
where
    F: Fn(&Instance) -> bool + Send + Sync + 'static,
{
    fn keep(&self, instance: &Instance) -> bool {
        (self.0)(instance)
    }
}
