use std::{borrow::Cow, fmt};

/// What kind of failure a registry operation met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RegistryErrorKind {
    /// The registry could not be reached, or did not answer in time: try again later.
    Unavailable,
    /// The registry does not know the lease any more (it expired): register again.
    LeaseLost,
    /// The request or an entry is malformed.
    Invalid,
    /// The backend cannot do this (registering into a static list).
    Unsupported,
}

/// A registry operation that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryError {
    kind: RegistryErrorKind,
    message: Cow<'static, str>,
}

impl RegistryError {
    /// An error of `kind`.
    pub fn new(kind: RegistryErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        RegistryError {
            kind,
            message: message.into(),
        }
    }

    /// The registry cannot be reached.
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(RegistryErrorKind::Unavailable, message)
    }

    /// The lease is gone.
    pub fn lease_lost(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(RegistryErrorKind::LeaseLost, message)
    }

    /// Something is malformed.
    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(RegistryErrorKind::Invalid, message)
    }

    /// The backend cannot do this.
    pub fn unsupported(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(RegistryErrorKind::Unsupported, message)
    }

    /// What kind of failure it is.
    pub fn kind(&self) -> RegistryErrorKind {
        self.kind
    }

    /// Whether the lease must be registered again.
    pub fn is_lease_lost(&self) -> bool {
        self.kind == RegistryErrorKind::LeaseLost
    }

    /// Whether trying again later may work.
    pub fn is_unavailable(&self) -> bool {
        self.kind == RegistryErrorKind::Unavailable
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            RegistryErrorKind::Unavailable => "registry unavailable",
            RegistryErrorKind::LeaseLost => "lease lost",
            RegistryErrorKind::Invalid => "invalid",
            RegistryErrorKind::Unsupported => "unsupported",
        };
        write!(f, "{kind}: {}", self.message)
    }
}

impl std::error::Error for RegistryError {}
