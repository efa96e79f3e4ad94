use std::collections::BTreeSet;

use semver::VersionReq;
use serde::{Deserialize, Serialize};

use crate::{Instance, RegistryError};

/// Which instances a client wants: any subset of an [`Instance`]'s identity, each field that
/// is set must match; the version may be a constraint (`>=1.2, <2`), and every tag listed must
/// be present.
///
/// ```
/// use rookery_registry::{Instance, Query};
///
/// let q = Query::service("greeter").version(">=1.2, <2").unwrap().environment("production");
/// let mut i = Instance::new("greeter", "1.4.0".parse().unwrap());
/// i.environment = "production".into();
/// assert!(q.matches(&i));
/// i.version = "2.0.0".parse().unwrap();
/// assert!(!q.matches(&i));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// The service name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A version constraint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<VersionReq>,
    /// The environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The instance id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Tags the instance must all have.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub tags: BTreeSet<String>,
}

impl Query {
    /// A query that matches every instance.
    pub fn all() -> Query {
        Query::default()
    }

    /// A query for the instances of `name`.
    pub fn service(name: impl Into<String>) -> Query {
        Query {
            name: Some(name.into()),
            ..Query::default()
        }
    }

    /// Requires a version matching `constraint` (semver syntax: `1.2`, `>=1.2, <2`, `~1.4`).
    pub fn version(mut self, constraint: &str) -> Result<Query, RegistryError> {
        let req = VersionReq::parse(constraint).map_err(|e| {
            RegistryError::invalid(format!("version constraint {constraint:?}: {e}"))
        })?;
        self.version = Some(req);
        Ok(self)
    }

    /// Requires an environment.
    pub fn environment(mut self, environment: impl Into<String>) -> Query {
        self.environment = Some(environment.into());
        self
    }

    /// Requires a region.
    pub fn region(mut self, region: impl Into<String>) -> Query {
        self.region = Some(region.into());
        self
    }

    /// Requires a hostname.
    pub fn hostname(mut self, hostname: impl Into<String>) -> Query {
        self.hostname = Some(hostname.into());
        self
    }

    /// Requires an instance id.
    pub fn id(mut self, id: impl Into<String>) -> Query {
        self.id = Some(id.into());
        self
    }

    /// Requires a tag (all tags added must be present).
    pub fn tag(mut self, tag: impl Into<String>) -> Query {
        self.tags.insert(tag.into());
        self
    }

    /// Whether `instance` matches every field that is set.
    pub fn matches(&self, instance: &Instance) -> bool {
        fn eq(want: &Option<String>, have: &str) -> bool {
            want.as_deref().is_none_or(|w| w == have)
        }
        eq(&self.name, &instance.name)
            && self
                .version
                .as_ref()
                .is_none_or(|req| req.matches(&instance.version))
            && eq(&self.environment, &instance.environment)
            && eq(&self.region, &instance.region)
            && eq(&self.hostname, &instance.hostname)
            && eq(&self.id, &instance.id)
            && self.tags.is_subset(&instance.tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::protocol;

    fn inst(name: &str, version: &str) -> Instance {
        Instance::new(name, version.parse().unwrap()).with_address(protocol::THRIFT, "127.0.0.1:1")
    }

    #[test]
    fn every_set_field_must_match() {
        let mut i = inst("greeter", "1.4.2");
        i.environment = "production".into();
        i.region = "eu".into();
        i.hostname = "h1".into();
        i.tags.insert("canary".into());
        assert!(Query::all().matches(&i));
        assert!(Query::service("greeter").matches(&i));
        assert!(!Query::service("other").matches(&i));
        assert!(
            Query::service("greeter")
                .region("eu")
                .hostname("h1")
                .matches(&i)
        );
        assert!(!Query::service("greeter").region("us").matches(&i));
        assert!(Query::all().tag("canary").matches(&i));
        assert!(!Query::all().tag("canary").tag("blue").matches(&i));
        assert!(Query::all().id(i.id.clone()).matches(&i));
        assert!(!Query::all().environment("staging").matches(&i));
    }

    #[test]
    fn versions_match_constraints() {
        let q = Query::service("g").version(">=1.2, <2").unwrap();
        assert!(q.matches(&inst("g", "1.2.0")));
        assert!(q.matches(&inst("g", "1.9.9")));
        assert!(!q.matches(&inst("g", "1.1.9")));
        assert!(!q.matches(&inst("g", "2.0.0")));
        assert!(
            Query::all()
                .version("~1.4")
                .unwrap()
                .matches(&inst("g", "1.4.7"))
        );
        let err = Query::all().version("not a version").unwrap_err();
        assert!(err.to_string().contains("version constraint"), "{err}");
    }
}
