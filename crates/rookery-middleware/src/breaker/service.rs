use std::sync::Arc;

use rookery_core::{Context, Service, Status};
use tokio::time::Instant;

use super::{BreakerPolicy, BreakerState, state::Breaker};
use crate::{
    MethodMap, Request, Response,
    keyed::{Keyed, Target},
};

/// A service whose calls pass through a circuit breaker per target: service and method, and
/// instance when the callee's address is known as the call enters. See [the module](super).
///
/// Clones share the breakers.
#[derive(Clone, Debug)]
pub struct CircuitBreaker<S> {
    inner: S,
    policies: Arc<MethodMap<Arc<BreakerPolicy>>>,
    breakers: Arc<Keyed<Target, Breaker>>,
}

impl<S> CircuitBreaker<S> {
    pub(super) fn new(inner: S, policies: Arc<MethodMap<Arc<BreakerPolicy>>>) -> Self {
        CircuitBreaker {
            inner,
            policies,
            breakers: Arc::default(),
        }
    }

    /// The wrapped service.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Where the breaker of `method` of `service` (at `address`, for a breaker per
    /// instance) stands, if a call has made it.
    pub fn state(
        &self,
        service: &str,
        method: &str,
        address: Option<&str>,
    ) -> Option<BreakerState> {
        let target = Target {
            service: service.to_owned().into(),
            method: method.to_owned().into(),
            address: address.map(|a| a.to_owned().into()),
        };
        self.breakers.get(&target).map(|b| b.state())
    }
}

impl<S, Req> Service<Req> for CircuitBreaker<S>
where
    S: Service<Req>,
    S::Response: Response,
    Req: Request,
{
    type Response = S::Response;

    async fn call(&self, cx: &mut Context, req: Req) -> Result<S::Response, Status> {
        let callee = cx.callee();
        let target = Target {
            service: callee.service.clone(),
            method: req.method_name(),
            address: callee.address.clone(),
        };
        let policy = self.policies.get(&target.service, &target.method);
        let breaker = self.breakers.get_or_make(
            &target,
            || Breaker::new(Arc::clone(policy), target.clone()),
            Breaker::is_idle,
        );
        let permit = match breaker.admit(Instant::now()) {
            Ok(permit) => permit,
            Err(open_for) => return Err(refused(breaker.target(), open_for)),
        };
        match self.inner.call(cx, req).await {
            // A stream counts when it ends, by how it ended.
            Ok(response) => Ok(response.on_end(Box::new(move |status| permit.end(status)))),
            Err(status) => {
                permit.end(Some(&status));
                Err(status)
            }
        }
    }
}

/// The answer of an open breaker: nothing was sent, so it is marked unsent.
fn refused(target: &Target, open_for: std::time::Duration) -> Status {
    let message = if open_for.is_zero() {
        format!("{target}: circuit breaker half-open and its probe calls are out; not sent")
    } else {
        format!(
            "{target}: circuit breaker open for {} ms more; not sent",
            open_for.as_millis().max(1)
        )
    };
    Status::unavailable(message).with_unsent()
}
