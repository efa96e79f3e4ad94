use rookery_core::BoxFuture;

use super::StaticList;
use crate::{Discover, Instance, Query, RegistryError, Watch};

impl Discover for StaticList {
    fn resolve<'a>(
        &'a self,
        query: &'a Query,
    ) -> BoxFuture<'a, Result<Vec<Instance>, RegistryError>> {
        Box::pin(async move { Ok(self.instances(query.name.as_deref().unwrap_or("static"))) })
    }

    fn watch<'a>(&'a self, query: &'a Query) -> BoxFuture<'a, Result<Watch, RegistryError>> {
        Box::pin(async move {
            // Only the name applies: the list says nothing of versions, regions or tags.
            let name = query.name.clone().unwrap_or_else(|| "static".into());
            let (tx, mut view, _stop) = Watch::channel(Query::service(name.clone()));
            tx.publish(self.instances(&name));
            view.mark_seen();
            // The set never changes; the sender can go (the view keeps its last value).
            drop(tx);
            Ok(view)
        })
    }
}
