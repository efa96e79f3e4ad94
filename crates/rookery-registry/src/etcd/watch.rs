use std::{collections::BTreeMap, time::Duration};

use rookery_core::BoxFuture;
use tokio_util::sync::CancellationToken;

use super::{Etcd, prefix_end, rpc, status_error};
use crate::{Discover, Instance, Query, RegistryError, Watch, WatchSender};

/// The first wait before listing again after etcd failed; it doubles up to
/// [`MAX_BACKOFF`], with jitter so that many clients do not come back at once.
const MIN_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl Discover for Etcd {
    fn resolve<'a>(
        &'a self,
        query: &'a Query,
    ) -> BoxFuture<'a, Result<Vec<Instance>, RegistryError>> {
        Box::pin(async move {
            let (kvs, _) = self.list(&self.query_prefix(query)).await?;
            // Through a view of its own, so that resolving skips exactly what watching does.
            let (tx, view, _stop) = Watch::channel(query.clone());
            tx.publish(self.decode_all(&kvs, &tx).into_values());
            Ok(view.current().instances().to_vec())
        })
    }

    fn watch<'a>(&'a self, query: &'a Query) -> BoxFuture<'a, Result<Watch, RegistryError>> {
        Box::pin(async move {
            let (tx, mut view, stop) = Watch::channel(query.clone());
            let mut follower = Follower {
                etcd: self.clone(),
                prefix: self.query_prefix(query),
                tx,
                entries: BTreeMap::new(),
                revision: 0,
                failures: 0,
            };
            follower.list().await?;
            view.mark_seen();
            tokio::spawn(follower.run(stop));
            Ok(view)
        })
    }
}

/// The task behind a [`Watch`]: what etcd holds under the prefix, kept up to date.
struct Follower {
    etcd: Etcd,
    prefix: Vec<u8>,
    tx: WatchSender,
    /// The entries that read as instances, by key.
    entries: BTreeMap<Vec<u8>, Instance>,
    /// The revision `entries` was listed at: the watch starts after it. (After a failure
    /// the entries are listed again, so the revisions of later changes are not needed.)
    revision: i64,
    /// Failures since the watch last worked.
    failures: u32,
}

impl Follower {
    /// Follows etcd until `stop`: watch; on failure keep the set, wait, list again, watch
    /// again.
    async fn run(mut self, stop: CancellationToken) {
        loop {
            let error = tokio::select! {
                _ = stop.cancelled() => return,
                error = self.follow() => error,
            };
            self.tx.failed(&error);
            loop {
                self.failures = self.failures.saturating_add(1);
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(backoff(self.failures)) => {}
                }
                let listed = tokio::select! {
                    _ = stop.cancelled() => return,
                    listed = self.list() => listed,
                };
                match listed {
                    Ok(()) => break,
                    Err(e) => self.tx.failed(&e),
                }
            }
        }
    }

    /// Reads every entry under the prefix and publishes them.
    async fn list(&mut self) -> Result<(), RegistryError> {
        let (kvs, revision) = self.etcd.list(&self.prefix).await?;
        self.entries = self.etcd.decode_all(&kvs, &self.tx);
        self.revision = revision;
        self.publish();
        Ok(())
    }

    fn publish(&self) {
        self.tx.publish(self.entries.values().cloned());
    }

    /// Watches from the revision after the one listed, applying each batch of changes;
    /// returns why it ended.
    async fn follow(&mut self) -> RegistryError {
        let create = rpc::WatchCreateRequest {
            key: self.prefix.clone(),
            range_end: prefix_end(&self.prefix),
            start_revision: self.revision + 1,
        };
        let opened = self
            .etcd
            .call(|c| async move { c.watch(create).await })
            .await;
        let (mut stream, first) = match opened {
            Ok(opened) => opened,
            Err(status) => return status_error("etcd watch", &status),
        };
        let mut reply = first;
        loop {
            if reply.canceled {
                return if reply.compact_revision > 0 {
                    RegistryError::unavailable(format!(
                        "etcd cancelled the watch: revision {} was compacted (now from {})",
                        self.revision + 1,
                        reply.compact_revision
                    ))
                } else {
                    RegistryError::unavailable(format!(
                        "etcd cancelled the watch: {}",
                        reply.cancel_reason
                    ))
                };
            }
            if reply.created {
                self.failures = 0;
                tracing::debug!(
                    prefix = %String::from_utf8_lossy(&self.prefix),
                    from = self.revision + 1,
                    "etcd watch open"
                );
            }
            if !reply.events.is_empty() {
                for event in reply.events {
                    self.apply(event);
                }
                self.publish();
            }
            reply = match stream.next().await {
                Ok(Some(next)) => next,
                Ok(None) => return RegistryError::unavailable("etcd closed the watch"),
                Err(status) => return status_error("etcd watch", &status),
            };
        }
    }

    fn apply(&mut self, event: rpc::Event) {
        let Some(kv) = event.kv else { return };
        match event.kind {
            rpc::Event::PUT => match self.etcd.decode(&kv) {
                Ok(instance) => {
                    self.entries.insert(kv.key, instance);
                }
                Err(reason) => {
                    // What the key held before is no longer there either.
                    self.entries.remove(&kv.key);
                    self.tx.skip(&reason);
                }
            },
            rpc::Event::DELETE => {
                self.entries.remove(&kv.key);
            }
            other => tracing::debug!(kind = other, "etcd watch event of an unknown kind ignored"),
        }
    }
}

/// How long to wait after `failures` failures in a row: doubling from [`MIN_BACKOFF`] up
/// to [`MAX_BACKOFF`], then a random half to all of that.
fn backoff(failures: u32) -> Duration {
    let exp = MIN_BACKOFF.saturating_mul(1 << failures.saturating_sub(1).min(16));
    exp.min(MAX_BACKOFF).mul_f64(0.5 + fastrand::f64() / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_cap_with_jitter() {
        for failures in 1..40 {
            let wait = backoff(failures);
            assert!(wait <= MAX_BACKOFF, "{failures}: {wait:?}");
            assert!(wait >= MIN_BACKOFF / 2, "{failures}: {wait:?}");
        }
        assert!(backoff(1) <= MIN_BACKOFF);
        assert!(backoff(30) >= MAX_BACKOFF / 2);
    }
}
