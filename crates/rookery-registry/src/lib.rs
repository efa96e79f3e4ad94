//! Service registry and discovery for rookery.
//!
//! - [`Instance`]: who a running service is, as Kite names it (name, version, environment,
//!   region, hostname, id) and where to reach it, by protocol.
//! - [`Query`]: which instances a client wants; any subset of the identity, with semver
//!   constraints on the version.
//! - [`Registry`]: register with a TTL, heartbeat, deregister; [`Registration`] keeps an
//!   instance registered for the life of a service.
//! - [`Discover`]: resolve once, or [`Watch`] a live view that follows the registry and keeps
//!   the last-known instances when the registry cannot be reached.
//!
//! Backends, all behind the same traits and chosen in code or by `ROOKERY_REGISTRY`
//! ([`from_env`]):
//! - `embedded` (the default): in this process, or served to other processes as a standalone
//!   registry over rookery's own RPC (`registry://HOST:PORT`);
//! - `static://HOST:PORT,...`: a fixed list of addresses;
//! - `etcd://HOST:PORT` (feature `etcd`): etcd leases, keepalives and prefix watches.

mod discover;
pub mod embedded;
mod error;
#[cfg(feature = "etcd")]
pub mod etcd;
mod instance;
mod query;
mod registry;
pub mod static_list;

use std::sync::Arc;

pub use discover::{Discover, InstanceSet, Watch, WatchSender};
pub use error::{RegistryError, RegistryErrorKind};
pub use instance::{Instance, new_id, protocol};
pub use query::Query;
pub use registry::{Lease, Registration, Registry};

/// The environment variable that chooses the registry backend.
pub const ENV_VAR: &str = "ROOKERY_REGISTRY";

/// The registry `ROOKERY_REGISTRY` names (see [`from_url`]), or the embedded one when it is not
/// set.
pub async fn from_env() -> Result<Arc<dyn Registry>, RegistryError> {
    match std::env::var(ENV_VAR) {
        Ok(url) if !url.trim().is_empty() => from_url(url.trim()).await,
        _ => Ok(embedded::Embedded::global()),
    }
}

/// The registry a URL names:
/// - `embedded`: the registry in this process ([`embedded::Embedded::global`]);
/// - `registry://HOST:PORT`: a standalone embedded registry server;
/// - `etcd://HOST:PORT[,HOST:PORT...]` (feature `etcd`);
/// - `static://HOST:PORT[,HOST:PORT...]`: a fixed list.
pub async fn from_url(url: &str) -> Result<Arc<dyn Registry>, RegistryError> {
    if url == "embedded" || url == "embedded://" {
        return Ok(embedded::Embedded::global());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(RegistryError::invalid(format!(
            "registry {url:?}: expected embedded, registry://, etcd:// or static://"
        )));
    };
    match scheme {
        "registry" => Ok(Arc::new(embedded::RemoteRegistry::connect(rest)?)),
        "static" => Ok(Arc::new(static_list::StaticList::parse(rest)?)),
        #[cfg(feature = "etcd")]
        "etcd" => Ok(Arc::new(etcd::Etcd::connect(rest).await?)),
        #[cfg(not(feature = "etcd"))]
        "etcd" => Err(RegistryError::unsupported(format!(
            "etcd://{rest}: this build has no etcd backend; enable the `etcd` feature of rookery-registry"
        ))),
        other => Err(RegistryError::invalid(format!(
            "registry {url:?}: unknown scheme {other}"
        ))),
    }
}
