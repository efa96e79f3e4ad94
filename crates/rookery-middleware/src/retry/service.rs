use std::{sync::Arc, time::Duration};

use rookery_balance::Tried;
use rookery_core::{Context, Service, Status};
use tokio::time::Instant;

use super::{RetryBudget, RetryPolicy, hedge::LatencyWindow, layer::Shared, policy::Pushback};
use crate::Request;

/// A service whose failed calls are sent again when that is safe, within a budget, after a
/// backoff, to another instance; and whose slow calls get a backup request. See
/// [the module](super).
#[derive(Clone, Debug)]
pub struct Retry<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Retry<S> {
    pub(super) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Retry { inner, shared }
    }

    /// The wrapped service.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The budget retries draw on, shared with the layer and every service it wrapped.
    pub fn budget(&self) -> &RetryBudget {
        &self.shared.budget
    }
}

/// How one round of a call ended: one attempt, or one attempt and its backup request.
enum Round<R> {
    /// With what the caller gets: a response, or a failure that is not retried.
    Done(Result<R, Status>),
    /// With a failure that may be retried, and what the server said about retrying.
    Failed(Status, Pushback),
}

/// Which attempt of a hedged round the caller gets the result of.
enum Winner<R> {
    First(Result<R, Status>),
    Backup(Result<R, Status>),
}

/// Now on Tokio's clock, as a deadline is written: the same instant in production, and the
/// paused time in tests whose clock is paused (where timers fire by that time too).
fn now() -> std::time::Instant {
    Instant::now().into_std()
}

/// The request for the next attempt: a copy while more attempts may follow, the request
/// itself for the last.
fn next_request<Req: Request>(spare: &mut Option<Req>, last: bool) -> Option<Req> {
    if last {
        spare.take()
    } else {
        spare.as_ref()?.try_clone()
    }
}

/// Adds the instance the attempt just made went to (the callee's address, which a balanced
/// client sets) to the call's [`Tried`], so the next attempt goes elsewhere.
fn remember_callee(cx: &mut Context) {
    let Some(address) = cx.callee().address.clone() else {
        return;
    };
    match cx.extensions().get::<Tried>() {
        Some(tried) => tried.insert(address),
        None => {
            let tried = Tried::new();
            tried.insert(address);
            cx.extensions_mut().insert(tried);
        }
    }
}

impl<S, Req> Service<Req> for Retry<S>
where
    S: Service<Req>,
    S::Response: Send,
    Req: Request,
{
    type Response = S::Response;

    async fn call(&self, cx: &mut Context, req: Req) -> Result<S::Response, Status> {
        let shared = &*self.shared;
        shared.budget.deposit();
        let policy = shared.policies.for_call(cx, &req);
        // Each call starts with no instance tried, even in a context used before.
        cx.extensions_mut().remove::<Tried>();
        if policy.max_attempts <= 1 {
            return self.inner.call(cx, req).await;
        }
        // A request that cannot be copied (a stream the caller is still writing) goes once.
        let Some(mut next) = req.try_clone() else {
            return self.inner.call(cx, req).await;
        };
        let method = req.method_name();
        let mut spare = Some(req);
        let deadline = cx.deadline();
        let hedging = policy.hedging();
        let latencies = hedging
            .filter(|backup| backup.observes())
            .map(|_| shared.latencies.of(&cx.callee().service, method.clone()));
        let latencies = latencies.as_deref();
        let mut delays = policy.backoff.delays();
        let mut made = 0u32;
        loop {
            made += 1;
            // A backup request only if another attempt is allowed and it could start before
            // the deadline.
            let backup_delay = hedging
                .filter(|_| made < policy.max_attempts)
                .and_then(|backup| backup.delay(latencies))
                .filter(|delay| deadline.is_none_or(|d| now() + *delay < d));
            let round = match backup_delay {
                Some(delay) => {
                    let hedge = Hedge {
                        policy,
                        delay,
                        deadline,
                        latencies,
                    };
                    self.hedged(cx, next, &mut spare, &mut made, hedge).await
                }
                None => self.attempt(cx, next, policy, latencies).await,
            };
            let (status, pushback) = match round {
                Round::Done(result) => return result,
                Round::Failed(status, pushback) => (status, pushback),
            };
            remember_callee(cx);
            if made >= policy.max_attempts {
                return Err(status);
            }
            let wait = match pushback {
                Pushback::Stop => {
                    tracing::debug!(%method, %status, "not retried: the server said not to");
                    return Err(status);
                }
                Pushback::Wait(wait) => wait,
                Pushback::None => delays.next_delay(),
            };
            if deadline.is_some_and(|d| now() + wait >= d) {
                tracing::debug!(%method, %status, ?wait, "not retried: the deadline comes first");
                return Err(status);
            }
            if spare.is_none() || !shared.budget.try_withdraw() {
                tracing::debug!(%method, %status, "not retried: the retry budget is spent");
                return Err(status);
            }
            let Some(copy) = next_request(&mut spare, made + 1 >= policy.max_attempts) else {
                return Err(status);
            };
            tracing::debug!(%method, %status, attempt = made + 1, ?wait, "retrying");
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            // The next attempt starts as the first did: with the call's own deadline (a
            // timeout layer inside this one shortened it for the attempt that failed), and
            // with no response metadata (that was the failed attempt's).
            cx.set_deadline(deadline);
            cx.response_metadata_mut().clear();
            next = copy;
        }
    }
}

/// What a hedged round needs to know besides the call.
#[derive(Clone, Copy)]
struct Hedge<'a> {
    policy: &'a RetryPolicy,
    delay: Duration,
    deadline: Option<std::time::Instant>,
    latencies: Option<&'a LatencyWindow>,
}

impl<S> Retry<S> {
    /// One attempt.
    async fn attempt<Req>(
        &self,
        cx: &mut Context,
        req: Req,
        policy: &RetryPolicy,
        latencies: Option<&LatencyWindow>,
    ) -> Round<S::Response>
    where
        S: Service<Req>,
        Req: Request,
    {
        let started = Instant::now();
        match self.inner.call(cx, req).await {
            Ok(response) => {
                if let Some(latencies) = latencies {
                    latencies.record(started.elapsed());
                }
                Round::Done(Ok(response))
            }
            Err(status) if policy.may_retry(&status) => {
                Round::Failed(status, Pushback::of(cx.response_metadata()))
            }
            Err(status) => Round::Done(Err(status)),
        }
    }

    /// One attempt and, if it has not ended after the delay, a backup request beside it, with
    /// a copy of the context: the first success wins and the other attempt is dropped
    /// (cancelled). A failure that is not retried ends the round at once; a retryable one
    /// waits for the other attempt.
    async fn hedged<Req>(
        &self,
        cx: &mut Context,
        first: Req,
        spare: &mut Option<Req>,
        made: &mut u32,
        hedge: Hedge<'_>,
    ) -> Round<S::Response>
    where
        S: Service<Req>,
        S::Response: Send,
        Req: Request,
    {
        let Hedge {
            policy,
            delay,
            deadline,
            latencies,
        } = hedge;
        // Shared by both attempts: the backup avoids the instance the first one went to.
        if cx.extensions().get::<Tried>().is_none() {
            cx.extensions_mut().insert(Tried::new());
        }
        let mut backup_cx = cx.clone();
        let started = Instant::now();
        let mut backup_started = None;
        let winner = {
            let first_call = self.inner.call(cx, first);
            tokio::pin!(first_call);
            let early = tokio::select! {
                biased;
                result = &mut first_call => Some(result),
                () = tokio::time::sleep(delay) => None,
            };
            match early {
                Some(result) => Winner::First(result),
                None => match self.backup_request(spare, policy, *made, deadline) {
                    None => Winner::First(first_call.await),
                    Some(copy) => {
                        *made += 1;
                        backup_started = Some(Instant::now());
                        let backup_call = self.inner.call(&mut backup_cx, copy);
                        tokio::pin!(backup_call);
                        tokio::select! {
                            result = &mut first_call => match result {
                                Err(status) if policy.may_retry(&status) => {
                                    Winner::Backup(backup_call.await)
                                }
                                done => Winner::First(done),
                            },
                            result = &mut backup_call => match result {
                                Err(status) if policy.may_retry(&status) => {
                                    Winner::First(first_call.await)
                                }
                                done => Winner::Backup(done),
                            },
                        }
                    }
                },
            }
        };
        // The loser's future is gone: its call was cancelled.
        let backup_sent = backup_started.is_some();
        match winner {
            Winner::First(Ok(response)) => {
                if let Some(latencies) = latencies {
                    latencies.record(started.elapsed());
                }
                Round::Done(Ok(response))
            }
            Winner::First(Err(status)) if policy.may_retry(&status) => {
                // Both attempts failed, if the backup was sent: both servers' words count.
                let mut pushback = Pushback::of(cx.response_metadata());
                if backup_sent {
                    pushback = pushback.and(Pushback::of(backup_cx.response_metadata()));
                }
                Round::Failed(status, pushback)
            }
            Winner::First(Err(status)) => Round::Done(Err(status)),
            Winner::Backup(result) => {
                // The caller's context becomes the backup's: its callee, its response
                // metadata, what the layers inside it recorded.
                let first_pushback = Pushback::of(cx.response_metadata());
                *cx = backup_cx;
                match result {
                    Ok(response) => {
                        if let (Some(latencies), Some(backup_started)) = (latencies, backup_started)
                        {
                            latencies.record(backup_started.elapsed());
                        }
                        Round::Done(Ok(response))
                    }
                    // The first attempt failed too (a backup's retryable failure waits
                    // for the first attempt).
                    Err(status) if policy.may_retry(&status) => Round::Failed(
                        status,
                        first_pushback.and(Pushback::of(cx.response_metadata())),
                    ),
                    Err(status) => Round::Done(Err(status)),
                }
            }
        }
    }

    /// The request of a backup, if one may be sent now: an attempt is left, the deadline has
    /// not passed, and the budget allows.
    fn backup_request<Req: Request>(
        &self,
        spare: &mut Option<Req>,
        policy: &RetryPolicy,
        made: u32,
        deadline: Option<std::time::Instant>,
    ) -> Option<Req> {
        if made >= policy.max_attempts || spare.is_none() || deadline.is_some_and(|d| now() >= d) {
            return None;
        }
        if !self.shared.budget.try_withdraw() {
            tracing::debug!("no backup request: the retry budget is spent");
            return None;
        }
        next_request(spare, made + 1 >= policy.max_attempts)
    }
}
