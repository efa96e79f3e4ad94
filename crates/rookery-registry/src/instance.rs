use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
};

use semver::Version;
use serde::{Deserialize, Serialize};

use crate::RegistryError;

/// The names of the protocols an instance can serve, as keys of [`Instance::addresses`].
pub mod protocol {
    /// rookery's native port: TTHeader, Thrift framed and buffered, and HTTP `/health`.
    pub const THRIFT: &str = "thrift";
    /// gRPC over HTTP/2.
    pub const GRPC: &str = "grpc";
    /// JSON over HTTP.
    pub const HTTP: &str = "http";
}

/// One running copy of a service, identified the way Kite identifies a kite: name, version,
/// environment, region, hostname and a unique id; with an address for each protocol it
/// serves, a weight for balancers, tags and free-form metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// The service name clients find it by (`greeter`).
    pub name: String,
    /// Its version.
    pub version: Version,
    /// Its environment (`production`, `staging`, ...); empty if none.
    #[serde(default)]
    pub environment: String,
    /// Its region (`eu-west`, ...); empty if none.
    #[serde(default)]
    pub region: String,
    /// The host it runs on.
    #[serde(default)]
    pub hostname: String,
    /// Unique among all instances of all services.
    pub id: String,
    /// Where to reach it, by protocol (see [`protocol`]): `thrift` → `127.0.0.1:9090`.
    pub addresses: BTreeMap<String, String>,
    /// Its share of the load relative to others (100 by default).
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Labels queries can require.
    #[serde(default)]
    pub tags: BTreeSet<String>,
    /// Anything else.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

fn default_weight() -> u32 {
    Instance::DEFAULT_WEIGHT
}

impl Instance {
    /// The weight of an instance that says nothing else.
    pub const DEFAULT_WEIGHT: u32 = 100;

    /// An instance of `name` at `version` with a fresh random id and no address yet.
    pub fn new(name: impl Into<String>, version: Version) -> Instance {
        Instance {
            name: name.into(),
            version,
            environment: String::new(),
            region: String::new(),
            hostname: String::new(),
            id: new_id(),
            addresses: BTreeMap::new(),
            weight: Instance::DEFAULT_WEIGHT,
            tags: BTreeSet::new(),
            metadata: BTreeMap::new(),
        }
    }

    /// Sets the address of `protocol`.
    pub fn with_address(mut self, protocol: impl Into<String>, address: impl Into<String>) -> Self {
        self.addresses.insert(protocol.into(), address.into());
        self
    }

    /// The address of `protocol`, if it serves it.
    pub fn address(&self, protocol: &str) -> Option<&str> {
        self.addresses.get(protocol).map(String::as_str)
    }

    /// Checks what a registry must not accept or a client must not use: an empty name or id,
    /// no address, an address that does not parse, a zero weight. Entries read from a registry
    /// that fail this are skipped with the returned reason logged.
    pub fn validate(&self) -> Result<(), RegistryError> {
        let bad = |why: String| {
            Err(RegistryError::invalid(format!(
                "instance {:?}: {why}",
                self.id
            )))
        };
        if self.name.is_empty() {
            return bad("no service name".into());
        }
        if self.id.is_empty() {
            return bad("no id".into());
        }
        if self.id.contains('/') {
            return bad("an id may not contain '/'".into());
        }
        if self.addresses.is_empty() {
            return bad("no address".into());
        }
        for (protocol, address) in &self.addresses {
            if let Err(e) = address.parse::<rookery_transport::Address>() {
                return bad(format!("{protocol} address {address:?}: {e}"));
            }
        }
        if self.weight == 0 {
            return bad("weight 0".into());
        }
        Ok(())
    }
}

impl fmt::Display for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{} [{}]", self.name, self.version, self.id)?;
        for (protocol, address) in &self.addresses {
            write!(f, " {protocol}={address}")?;
        }
        Ok(())
    }
}

/// A random 128-bit id in hex.
pub fn new_id() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Instance {
        Instance::new("greeter", Version::new(1, 2, 3))
            .with_address(protocol::THRIFT, "127.0.0.1:9090")
    }

    #[test]
    fn validates_what_clients_rely_on() {
        assert!(sample().validate().is_ok());
        let mut i = sample();
        i.name.clear();
        assert!(
            i.validate()
                .unwrap_err()
                .to_string()
                .contains("no service name")
        );
        let mut i = sample();
        i.addresses.clear();
        assert!(i.validate().unwrap_err().to_string().contains("no address"));
        let mut i = sample();
        i.addresses.insert("thrift".into(), "not an address".into());
        assert!(
            i.validate()
                .unwrap_err()
                .to_string()
                .contains("thrift address")
        );
        let mut i = sample();
        i.weight = 0;
        assert!(i.validate().is_err());
        let mut i = sample();
        i.id = "a/b".into();
        assert!(i.validate().is_err());
    }

    #[test]
    fn json_round_trip_with_defaults() {
        let i = sample();
        let json = serde_json::to_string(&i).unwrap();
        let back: Instance = serde_json::from_str(&json).unwrap();
        assert_eq!(back, i);
        let minimal: Instance = serde_json::from_str(
            r#"{"name":"x","version":"0.1.0","id":"i1","addresses":{"thrift":"127.0.0.1:1"}}"#,
        )
        .unwrap();
        assert_eq!(minimal.weight, Instance::DEFAULT_WEIGHT);
        assert!(minimal.tags.is_empty());
        assert!(new_id() != new_id());
    }
}
