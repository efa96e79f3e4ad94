use std::{borrow::Cow, fmt};

use rookery_core::Status;

/// What kind of malformation a decoder found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended before the value did. On a stream this means "read more"; in a complete
    /// frame it means the frame is truncated.
    Truncated,
    /// A length or count is negative.
    NegativeSize,
    /// A length, count or size is larger than the bytes present or than a configured limit.
    SizeLimit,
    /// Structs and containers are nested deeper than the configured limit.
    DepthLimit,
    /// A string is not UTF-8.
    InvalidUtf8,
    /// A protocol or message version is not one this decoder speaks.
    BadVersion,
    /// Anything else that breaks the encoding's rules (an unknown type id, a varint that
    /// overflows, a required field that is missing).
    InvalidData,
}

/// Input that could not be decoded. Decoders return it and never panic on what came off the
/// wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    message: Cow<'static, str>,
}

impl DecodeError {
    /// An error of `kind` with a message that says what was wrong.
    pub fn new(kind: DecodeErrorKind, message: impl Into<Cow<'static, str>>) -> DecodeError {
        DecodeError {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn truncated(what: &'static str) -> DecodeError {
        DecodeError::new(DecodeErrorKind::Truncated, what)
    }

    pub(crate) fn invalid(message: impl Into<Cow<'static, str>>) -> DecodeError {
        DecodeError::new(DecodeErrorKind::InvalidData, message)
    }

    /// What kind of malformation this is.
    pub fn kind(&self) -> DecodeErrorKind {
        self.kind
    }

    /// Whether the input simply ended too early (more bytes could make it valid).
    pub fn is_truncated(&self) -> bool {
        self.kind == DecodeErrorKind::Truncated
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            DecodeErrorKind::Truncated => "truncated input",
            DecodeErrorKind::NegativeSize => "negative size",
            DecodeErrorKind::SizeLimit => "size over limit",
            DecodeErrorKind::DepthLimit => "nesting too deep",
            DecodeErrorKind::InvalidUtf8 => "invalid UTF-8",
            DecodeErrorKind::BadVersion => "bad version",
            DecodeErrorKind::InvalidData => "invalid data",
        };
        write!(f, "{kind}: {}", self.message)
    }
}

impl std::error::Error for DecodeError {}

impl From<DecodeError> for Status {
    /// A request that does not decode is the caller's fault: `INVALID_ARGUMENT`.
    fn from(err: DecodeError) -> Status {
        Status::invalid_argument(err.to_string()).with_source(err)
    }
}

/// A value that could not be encoded (JSON of a map with non-string keys, a message over the
/// size limit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodeError {
    message: Cow<'static, str>,
}

impl EncodeError {
    /// An error with a message.
    pub fn new(message: impl Into<Cow<'static, str>>) -> EncodeError {
        EncodeError {
            message: message.into(),
        }
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot encode: {}", self.message)
    }
}

impl std::error::Error for EncodeError {}

impl From<EncodeError> for Status {
    /// A response that cannot be encoded is the server's fault: `INTERNAL`.
    fn from(err: EncodeError) -> Status {
        Status::internal(err.to_string()).with_source(err)
    }
}
