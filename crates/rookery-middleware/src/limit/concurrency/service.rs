use std::sync::Arc;

use faststr::FastStr;
use rookery_core::{Context, Service, Status};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{WhenFull, layer::Limits};
use crate::{
    Request, Response,
    keyed::{Keyed, Target},
    limit::push_back,
};

/// The slots of one target.
#[derive(Debug)]
pub(super) struct Slots {
    semaphore: Arc<Semaphore>,
    limit: u32,
}

impl Slots {
    fn new(limit: u32) -> Slots {
        Slots {
            semaphore: Arc::new(Semaphore::new(limit as usize)),
            limit,
        }
    }

    fn is_free(&self) -> bool {
        self.semaphore.available_permits() == self.limit as usize
    }
}

/// A service that runs at most so many calls at once: per service and per method. A call
/// holds its slot until it has ended, a streamed response until its stream has. See
/// [the module](super).
///
/// Clones share the slots, as do all the services one
/// [`ConcurrencyLimitLayer`](super::ConcurrencyLimitLayer) wraps.
#[derive(Clone, Debug)]
pub struct ConcurrencyLimit<S> {
    inner: S,
    limits: Arc<Limits>,
    slots: Arc<Keyed<Target, Slots>>,
}

impl<S> ConcurrencyLimit<S> {
    pub(super) fn new(inner: S, limits: Arc<Limits>, slots: Arc<Keyed<Target, Slots>>) -> Self {
        ConcurrencyLimit {
            inner,
            limits,
            slots,
        }
    }

    /// The wrapped service.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// A slot of `target`, whose limit is `limit`, as the layer's [`WhenFull`] says.
    async fn acquire(
        &self,
        cx: &mut Context,
        target: &Target,
        limit: u32,
    ) -> Result<OwnedSemaphorePermit, Status> {
        let slots = self
            .slots
            .get_or_make(target, || Slots::new(limit), Slots::is_free);
        let semaphore = Arc::clone(&slots.semaphore);
        if let Ok(permit) = Arc::clone(&semaphore).try_acquire_owned() {
            return Ok(permit);
        }
        let what = || match (&*target.service, &*target.method) {
            ("", "") => "the service".to_string(),
            (service, "") => format!("service {service}"),
            _ => target.to_string(),
        };
        match self.limits.when_full {
            WhenFull::Shed => {
                push_back(cx, self.limits.pushback);
                Err(Status::unavailable(format!(
                    "{}: overloaded, {limit} calls already running",
                    what()
                ))
                .with_unsent())
            }
            WhenFull::FailFast => Err(Status::resource_exhausted(format!(
                "{}: {limit} calls already running, the client's limit; not sent",
                what()
            ))
            .with_unsent()),
            WhenFull::Wait => {
                let acquire = semaphore.acquire_owned();
                let acquired = match cx.deadline() {
                    None => acquire.await,
                    Some(deadline) => tokio::time::timeout_at(deadline.into(), acquire)
                        .await
                        .map_err(|_| {
                            Status::deadline_exceeded(format!(
                                "{}: the deadline passed waiting for one of {limit} slots; not sent",
                                what()
                            ))
                            .with_unsent()
                        })?,
                };
                // The semaphore is never closed.
                acquired.map_err(|_| Status::internal("concurrency limit closed").with_unsent())
            }
        }
    }
}

impl<S, Req> Service<Req> for ConcurrencyLimit<S>
where
    S: Service<Req>,
    S::Response: Response,
    Req: Request,
{
    type Response = S::Response;

    async fn call(&self, cx: &mut Context, req: Req) -> Result<S::Response, Status> {
        let service = cx.callee().service.clone();
        // The method's slot first, then the service's, in every call: no two calls wait for
        // each other's slots in opposite orders.
        let mut held: [Option<OwnedSemaphorePermit>; 2] = [None, None];
        if let Some(limit) = *self.limits.methods.get(&service, req.method()) {
            let target = Target {
                service: service.clone(),
                method: req.method_name(),
                address: None,
            };
            held[0] = Some(self.acquire(cx, &target, limit).await?);
        }
        if let Some(limit) = self.limits.service {
            let target = Target {
                service,
                method: FastStr::empty(),
                address: None,
            };
            held[1] = Some(self.acquire(cx, &target, limit).await?);
        }
        if held.iter().all(Option::is_none) {
            return self.inner.call(cx, req).await;
        }
        let response = self.inner.call(cx, req).await?;
        Ok(response.on_end(Box::new(move |_| drop(held))))
    }
}
