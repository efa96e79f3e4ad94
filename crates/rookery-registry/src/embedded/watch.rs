use rookery_core::BoxFuture;

use super::Embedded;
use crate::{Discover, Instance, Query, RegistryError, Watch};

impl Discover for Embedded {
    fn resolve<'a>(
        &'a self,
        query: &'a Query,
    ) -> BoxFuture<'a, Result<Vec<Instance>, RegistryError>> {
        Box::pin(async move { Ok(self.snapshot(query)) })
    }

    fn watch<'a>(&'a self, query: &'a Query) -> BoxFuture<'a, Result<Watch, RegistryError>> {
        Box::pin(async move {
            let (tx, mut view, stop) = Watch::channel(query.clone());
            let mut revisions = self.subscribe();
            tx.publish(self.snapshot(query));
            view.mark_seen();
            let registry = self.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        changed = revisions.changed() => {
                            if changed.is_err() {
                                return;
                            }
                        }
                    }
                    let query = tx.query().clone();
                    tx.publish(registry.snapshot(&query));
                }
            });
            Ok(view)
        })
    }
}
