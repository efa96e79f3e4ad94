use std::sync::Arc;

use faststr::FastStr;
use rookery_core::{Context, Service, Status};
use tokio::time::Instant;

use super::{Rate, bucket::Bucket, layer::Limits};
use crate::{
    Request,
    keyed::{Keyed, Target},
    limit::push_back,
};

/// A service whose calls are held to rates: per service and per method, each a token
/// bucket. See [the module](super).
///
/// Clones share the buckets, as do all the services one [`RateLimitLayer`](super::RateLimitLayer)
/// wraps.
#[derive(Clone, Debug)]
pub struct RateLimit<S> {
    inner: S,
    limits: Arc<Limits>,
    buckets: Arc<Keyed<Target, Bucket>>,
}

impl<S> RateLimit<S> {
    pub(super) fn new(inner: S, limits: Arc<Limits>, buckets: Arc<Keyed<Target, Bucket>>) -> Self {
        RateLimit {
            inner,
            limits,
            buckets,
        }
    }

    /// The wrapped service.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn bucket(&self, target: &Target, rate: Rate, now: Instant) -> Arc<Bucket> {
        self.buckets
            .get_or_make(target, || Bucket::new(rate, now), Bucket::is_full)
    }
}

impl<S, Req> Service<Req> for RateLimit<S>
where
    S: Service<Req>,
    Req: Request,
{
    type Response = S::Response;

    async fn call(&self, cx: &mut Context, req: Req) -> Result<S::Response, Status> {
        let now = Instant::now();
        let service = cx.callee().service.clone();
        // The method's bucket first: a call it refuses takes nothing from the service's.
        let mut taken = None;
        if let Some(rate) = *self.limits.methods.get(&service, req.method()) {
            let target = Target {
                service: service.clone(),
                method: req.method_name(),
                address: None,
            };
            let bucket = self.bucket(&target, rate, now);
            if let Err(wait) = bucket.take(now) {
                push_back(cx, wait);
                return Err(refused(&target.to_string(), rate));
            }
            taken = Some(bucket);
        }
        if let Some(rate) = self.limits.service {
            let target = Target {
                service,
                method: FastStr::empty(),
                address: None,
            };
            if let Err(wait) = self.bucket(&target, rate, now).take(now) {
                if let Some(bucket) = taken {
                    bucket.refund();
                }
                push_back(cx, wait);
                let what = match &*target.service {
                    "" => "the service".to_string(),
                    name => format!("service {name}"),
                };
                return Err(refused(&what, rate));
            }
        }
        self.inner.call(cx, req).await
    }
}

fn refused(what: &str, rate: Rate) -> Status {
    Status::resource_exhausted(format!(
        "{what}: over its rate limit of {} calls a second",
        rate.per_second
    ))
    .with_unsent()
}
