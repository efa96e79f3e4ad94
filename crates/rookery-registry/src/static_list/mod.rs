//! `static`: a fixed list of addresses, for when instances are known in advance (and for
//! tests). Every service name resolves to the whole list; registration is accepted and
//! changes nothing.

mod register;
mod watch;

use rookery_transport::Address;

use crate::{Instance, RegistryError, protocol};

/// A fixed list of native (`thrift`) addresses.
#[derive(Clone, Debug)]
pub struct StaticList {
    addresses: Vec<String>,
}

impl StaticList {
    /// A list of `HOST:PORT` addresses.
    pub fn new<I, S>(addresses: I) -> Result<StaticList, RegistryError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let addresses: Vec<String> = addresses.into_iter().map(Into::into).collect();
        if addresses.is_empty() {
            return Err(RegistryError::invalid(
                "a static registry needs at least one address",
            ));
        }
        for a in &addresses {
            a.parse::<Address>()
                .map_err(|e| RegistryError::invalid(format!("static address {a:?}: {e}")))?;
        }
        Ok(StaticList { addresses })
    }

    /// A comma-separated list, as after `static://`.
    pub fn parse(list: &str) -> Result<StaticList, RegistryError> {
        StaticList::new(list.split(',').map(str::trim).filter(|s| !s.is_empty()))
    }

    /// The instances of `name`: one per address, its id the address.
    pub(crate) fn instances(&self, name: &str) -> Vec<Instance> {
        self.addresses
            .iter()
            .map(|a| {
                let mut i = Instance::new(name, semver::Version::new(0, 0, 0))
                    .with_address(protocol::THRIFT, a);
                i.id = a.clone();
                i
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Discover, Query, Registry};

    #[tokio::test]
    async fn every_name_resolves_to_the_list() {
        let list = StaticList::parse("127.0.0.1:1, 127.0.0.1:2").unwrap();
        let found = list.resolve(&Query::service("greeter")).await.unwrap();
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|i| i.name == "greeter"));
        let watch = list.watch(&Query::service("other")).await.unwrap();
        assert_eq!(watch.current().len(), 2);
        // Registering is accepted and changes nothing.
        let lease = list
            .register(&found[0], std::time::Duration::from_secs(1))
            .await
            .unwrap();
        list.heartbeat(&lease).await.unwrap();
        list.deregister(&lease).await.unwrap();
        assert_eq!(list.resolve(&Query::service("x")).await.unwrap().len(), 2);
        assert!(StaticList::parse("").is_err());
        assert!(StaticList::parse("nowhere").is_err());
    }
}
