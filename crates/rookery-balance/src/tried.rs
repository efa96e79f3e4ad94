//! The instances one call has already been sent to, shared by its attempts.

use std::sync::{Arc, Mutex, PoisonError};

use faststr::FastStr;

/// The addresses of the instances a call has already been sent to, so that its next attempt
/// (a retry, or a backup request) goes to another instance while there is one.
///
/// A retry layer puts one in the call's [`Context`](rookery_core::Context) extensions before
/// the first attempt; a balanced client that finds it there avoids the instances it lists and
/// adds the one it picks. Clones share one list: the attempts of one call made with clones of
/// its context (a backup request runs beside the first attempt) all see every pick. A list
/// that names every instance there is avoids none: a call is better sent again to an instance
/// already tried than not sent at all.
///
/// The addresses are those the balanced client calls (`HOST:PORT` of the protocol it
/// speaks), as it puts them in the context's callee.
///
/// ```
/// use rookery_balance::Tried;
/// use rookery_core::Context;
///
/// let mut cx = Context::new();
/// let tried = Tried::new();
/// cx.extensions_mut().insert(tried.clone());
/// // What a balanced client does when it sends an attempt to 10.0.0.1:9000:
/// if let Some(tried) = Tried::of(&cx) {
///     tried.insert("10.0.0.1:9000".into());
/// }
/// assert!(tried.contains("10.0.0.1:9000"));
/// assert_eq!(tried.len(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Tried {
    addresses: Arc<Mutex<Vec<FastStr>>>,
}

impl Tried {
    /// An empty list.
    pub fn new() -> Tried {
        Tried::default()
    }

    /// The list in `cx`'s extensions, if a layer put one there.
    pub fn of(cx: &rookery_core::Context) -> Option<&Tried> {
        cx.extensions().get::<Tried>()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<FastStr>> {
        // The list stays consistent whatever a panicking holder did: pushes are atomic.
        self.addresses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `address` (once: an address already there is not added again).
    pub fn insert(&self, address: FastStr) {
        let mut addresses = self.lock();
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }

    /// Whether `address` was tried.
    pub fn contains(&self, address: &str) -> bool {
        self.lock().iter().any(|a| a == address)
    }

    /// The addresses tried, in the order they were first tried.
    pub fn addresses(&self) -> Vec<FastStr> {
        self.lock().clone()
    }

    /// How many instances were tried.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Forgets every address (a layer reusing a context for a new call).
    pub fn clear(&self) {
        self.lock().clear()
    }
}
