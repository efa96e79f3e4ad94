use std::{borrow::Cow, fmt};

use rookery_core::Status;

/// What kind of failure a broker operation met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BrokerErrorKind {
    /// The engine could not be reached, or did not answer in time: try again later.
    Unavailable,
    /// The broker or the subscription was closed.
    Closed,
    /// The message is larger than the broker's `max_message_size`; it was not published.
    TooLarge,
    /// A topic, queue group or option is malformed.
    Invalid,
    /// The backend cannot do this (a durable subscription on an engine without storage).
    Unsupported,
}

/// A broker operation that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerError {
    kind: BrokerErrorKind,
    message: Cow<'static, str>,
}

impl BrokerError {
    /// An error of `kind`.
    pub fn new(kind: BrokerErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        BrokerError {
            kind,
            message: message.into(),
        }
    }

    /// The engine cannot be reached.
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(BrokerErrorKind::Unavailable, message)
    }

    /// The broker or subscription is closed.
    pub fn closed(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(BrokerErrorKind::Closed, message)
    }

    /// A message of `size` bytes was refused because the limit is `limit`.
    pub fn too_large(topic: &str, size: usize, limit: usize) -> Self {
        Self::new(
            BrokerErrorKind::TooLarge,
            format!(
                "message to {topic:?} is {size} bytes (payload and headers), over the broker's \
                 max_message_size of {limit} bytes"
            ),
        )
    }

    /// Something is malformed.
    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(BrokerErrorKind::Invalid, message)
    }

    /// The backend cannot do this.
    pub fn unsupported(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(BrokerErrorKind::Unsupported, message)
    }

    /// What kind of failure it is.
    pub fn kind(&self) -> BrokerErrorKind {
        self.kind
    }

    /// What went wrong, for people.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the message was refused for its size.
    pub fn is_too_large(&self) -> bool {
        self.kind == BrokerErrorKind::TooLarge
    }

    /// Whether the broker or subscription is closed.
    pub fn is_closed(&self) -> bool {
        self.kind == BrokerErrorKind::Closed
    }

    /// Whether trying again later may succeed.
    pub fn is_unavailable(&self) -> bool {
        self.kind == BrokerErrorKind::Unavailable
    }
}

impl fmt::Display for BrokerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            BrokerErrorKind::Unavailable => "broker unavailable",
            BrokerErrorKind::Closed => "broker closed",
            BrokerErrorKind::TooLarge => "message too large",
            BrokerErrorKind::Invalid => "invalid",
            BrokerErrorKind::Unsupported => "unsupported",
        };
        write!(f, "{kind}: {}", self.message)
    }
}

impl std::error::Error for BrokerError {}

impl From<BrokerError> for Status {
    fn from(e: BrokerError) -> Status {
        let message = e.to_string();
        match e.kind {
            BrokerErrorKind::Unavailable => Status::unavailable(message),
            BrokerErrorKind::Closed => Status::cancelled(message),
            BrokerErrorKind::TooLarge => Status::resource_exhausted(message),
            BrokerErrorKind::Invalid => Status::invalid_argument(message),
            BrokerErrorKind::Unsupported => Status::unimplemented(message),
        }
    }
}
