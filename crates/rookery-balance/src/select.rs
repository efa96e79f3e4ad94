//! Choosing an endpoint for a call over the whole set, with the caller's region preferred and
//! endpoints that are down or already tried avoided.

use std::sync::Arc;

use crate::{Balance, Endpoint, EndpointSet, Now, Picker, Request};

/// One set of endpoints with its picker and, for each endpoint, what the caller needs to call
/// it (a client; nothing in tests).
#[derive(Debug)]
struct Tier<C> {
    set: EndpointSet,
    picker: Box<dyn Picker>,
    payload: Vec<C>,
}

impl<C> Tier<C> {
    fn new(set: EndpointSet, balance: &Balance, payload: &impl Fn(&Arc<Endpoint>) -> C) -> Self {
        let picker = balance.picker(&set);
        let payload = set.endpoints().iter().map(payload).collect();
        Tier {
            set,
            picker,
            payload,
        }
    }

    fn choose(
        &self,
        key: Option<u64>,
        tried: &[Arc<Endpoint>],
        healthy_only: bool,
        now: &Now,
    ) -> Option<usize> {
        if healthy_only {
            self.picker.pick(&Request::new(key, now).tried(tried))
        } else {
            self.picker.choose_at(key, tried, now)
        }
    }
}

/// Picks endpoints over one version of the set: the endpoints in the caller's region when it
/// is set and some are up there, otherwise all of them; endpoints that are down only when all
/// the others are down or tried; never one already tried for the call.
///
/// `C` is what the caller keeps beside each endpoint: the balanced client keeps a transport
/// client there.
#[derive(Debug)]
pub struct Selector<C = ()> {
    local: Option<Tier<C>>,
    all: Tier<C>,
}

impl Selector<()> {
    /// A selector over `set` with nothing kept beside the endpoints.
    pub fn new(set: &EndpointSet, balance: &Balance, region: Option<&str>) -> Selector<()> {
        Selector::with_payload(set, balance, region, |_| ())
    }
}

impl<C> Selector<C> {
    /// A selector over `set`, keeping `payload(endpoint)` beside each endpoint. With a
    /// non-empty `region`, the endpoints in that region are preferred.
    pub fn with_payload(
        set: &EndpointSet,
        balance: &Balance,
        region: Option<&str>,
        payload: impl Fn(&Arc<Endpoint>) -> C,
    ) -> Selector<C> {
        let local = region.filter(|r| !r.is_empty()).and_then(|region| {
            let local = set.subset(|e| e.instance().region == region);
            // All of them local, or none: one tier does.
            (!local.is_empty() && local.len() < set.len())
                .then(|| Tier::new(local, balance, &payload))
        });
        Selector {
            local,
            all: Tier::new(set.clone(), balance, &payload),
        }
    }

    /// Every endpoint.
    pub fn endpoints(&self) -> &EndpointSet {
        &self.all.set
    }

    /// Whether there is no endpoint at all.
    pub fn is_empty(&self) -> bool {
        self.all.set.is_empty()
    }

    /// An endpoint for a call with `key` that already tried `tried`, and what is kept beside
    /// it; `None` when every endpoint was tried.
    pub fn select(
        &self,
        key: Option<u64>,
        tried: &[Arc<Endpoint>],
    ) -> Option<(&Arc<Endpoint>, &C)> {
        self.select_at(key, tried, &Now::new())
    }

    /// [`select`](Self::select) at the time `now`.
    pub fn select_at(
        &self,
        key: Option<u64>,
        tried: &[Arc<Endpoint>],
        now: &Now,
    ) -> Option<(&Arc<Endpoint>, &C)> {
        if let Some(local) = &self.local {
            if let Some(i) = local.choose(key, tried, true, now) {
                return Some((&local.set[i], &local.payload[i]));
            }
        }
        let i = self.all.choose(key, tried, false, now)?;
        Some((&self.all.set[i], &self.all.payload[i]))
    }
}
