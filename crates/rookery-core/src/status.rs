use std::{borrow::Cow, error::Error, fmt, sync::Arc};

use bytes::Bytes;

/// The outcome class of a failed call, with the numbers and meanings of gRPC's status codes so
/// that every protocol rookery speaks maps onto one set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum Code {
    /// Not an error.
    Ok = 0,
    /// The caller gave up.
    Cancelled = 1,
    /// An error with no better code, for instance one from a peer that sent no code.
    Unknown = 2,
    /// The request is malformed, whatever the state of the system.
    InvalidArgument = 3,
    /// The deadline passed before the call completed.
    DeadlineExceeded = 4,
    /// A requested entity was not found.
    NotFound = 5,
    /// An entity the caller tried to create already exists.
    AlreadyExists = 6,
    /// The caller is known but not allowed.
    PermissionDenied = 7,
    /// A limit was reached: a quota, a rate, a message size, a connection count.
    ResourceExhausted = 8,
    /// The system is not in the state the call needs.
    FailedPrecondition = 9,
    /// The call was aborted, typically by a concurrency conflict.
    Aborted = 10,
    /// A value was past the valid range.
    OutOfRange = 11,
    /// The method is not implemented or not known by the server.
    Unimplemented = 12,
    /// An invariant was broken inside the server or the framework.
    Internal = 13,
    /// The service cannot be reached now; trying again may work.
    Unavailable = 14,
    /// Data was lost or corrupted.
    DataLoss = 15,
    /// The caller did not prove who it is.
    Unauthenticated = 16,
}

impl Code {
    /// The code for a number received from a peer; numbers outside gRPC's set become
    /// [`Code::Unknown`].
    pub fn from_i32(n: i32) -> Code {
        match n {
            0 => Code::Ok,
            1 => Code::Cancelled,
            2 => Code::Unknown,
            3 => Code::InvalidArgument,
            4 => Code::DeadlineExceeded,
            5 => Code::NotFound,
            6 => Code::AlreadyExists,
            7 => Code::PermissionDenied,
            8 => Code::ResourceExhausted,
            9 => Code::FailedPrecondition,
            10 => Code::Aborted,
            11 => Code::OutOfRange,
            12 => Code::Unimplemented,
            13 => Code::Internal,
            14 => Code::Unavailable,
            15 => Code::DataLoss,
            16 => Code::Unauthenticated,
            _ => Code::Unknown,
        }
    }

    /// The number of this code on the wire.
    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// The upper-case name gRPC gives this code, as in `UNAVAILABLE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a call failed: a [`Code`] that programs match on, a message that people read, and
/// optional binary details, as one value on every protocol.
///
/// A status made inside the process may also carry the typed error that caused it
/// ([`Error::source`]); that part never travels.
#[derive(Clone)]
pub struct Status {
    code: Code,
    message: Cow<'static, str>,
    details: Bytes,
    unsent: bool,
    source: Option<Arc<dyn Error + Send + Sync>>,
}

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $code:ident,)*) => {
        $(
            $(#[$doc])*
            pub fn $name(message: impl Into<Cow<'static, str>>) -> Status {
                Status::new(Code::$code, message)
            }
        )*
    };
}

impl Status {
    /// A status with `code` and `message`.
    pub fn new(code: Code, message: impl Into<Cow<'static, str>>) -> Status {
        Status {
            code,
            message: message.into(),
            details: Bytes::new(),
            unsent: false,
            source: None,
        }
    }

    constructors! {
        /// A [`Code::Cancelled`] status.
        cancelled => Cancelled,
        /// A [`Code::Unknown`] status.
        unknown => Unknown,
        /// A [`Code::InvalidArgument`] status.
        invalid_argument => InvalidArgument,
        /// A [`Code::DeadlineExceeded`] status.
        deadline_exceeded => DeadlineExceeded,
        /// A [`Code::NotFound`] status.
        not_found => NotFound,
        /// A [`Code::AlreadyExists`] status.
        already_exists => AlreadyExists,
        /// A [`Code::PermissionDenied`] status.
        permission_denied => PermissionDenied,
        /// A [`Code::ResourceExhausted`] status.
        resource_exhausted => ResourceExhausted,
        /// A [`Code::FailedPrecondition`] status.
        failed_precondition => FailedPrecondition,
        /// A [`Code::Aborted`] status.
        aborted => Aborted,
        /// A [`Code::OutOfRange`] status.
        out_of_range => OutOfRange,
        /// A [`Code::Unimplemented`] status.
        unimplemented => Unimplemented,
        /// A [`Code::Internal`] status.
        internal => Internal,
        /// A [`Code::Unavailable`] status.
        unavailable => Unavailable,
        /// A [`Code::DataLoss`] status.
        data_loss => DataLoss,
        /// A [`Code::Unauthenticated`] status.
        unauthenticated => Unauthenticated,
    }

    /// The code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The message, for people.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The binary details (empty unless a peer or handler set them).
    pub fn details(&self) -> &Bytes {
        &self.details
    }

    /// Sets the binary details.
    pub fn with_details(mut self, details: Bytes) -> Status {
        self.details = details;
        self
    }

    /// Records the typed error behind this status; it is kept in the process and never sent.
    pub fn with_source(mut self, source: impl Error + Send + Sync + 'static) -> Status {
        self.source = Some(Arc::new(source));
        self
    }

    /// Marks that the request never left this process (the connection was refused, or the
    /// call failed before its first byte was written), so the peer cannot have acted on it and
    /// trying again is always safe.
    pub fn with_unsent(mut self) -> Status {
        self.unsent = true;
        self
    }

    /// Whether the request is known never to have reached the peer; see
    /// [`with_unsent`](Status::with_unsent).
    pub fn is_unsent(&self) -> bool {
        self.unsent
    }

    /// Whether the call failed because its deadline passed.
    pub fn is_timeout(&self) -> bool {
        self.code == Code::DeadlineExceeded
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Status");
        d.field("code", &self.code).field("message", &self.message);
        if !self.details.is_empty() {
            d.field("details", &self.details);
        }
        if self.unsent {
            d.field("unsent", &true);
        }
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

impl Error for Status {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}

impl From<std::io::Error> for Status {
    /// I/O errors become [`Code::Unavailable`], except time-outs, which become
    /// [`Code::DeadlineExceeded`].
    fn from(err: std::io::Error) -> Status {
        let code = match err.kind() {
            std::io::ErrorKind::TimedOut => Code::DeadlineExceeded,
            _ => Code::Unavailable,
        };
        Status::new(code, err.to_string()).with_source(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_numbers() {
        for n in 0..=16 {
            assert_eq!(Code::from_i32(n).as_i32(), n);
        }
        assert_eq!(Code::from_i32(17), Code::Unknown);
        assert_eq!(Code::from_i32(-1), Code::Unknown);
    }

    #[test]
    fn display_names_the_code_and_message() {
        let s = Status::unavailable("connection refused");
        assert_eq!(s.to_string(), "UNAVAILABLE: connection refused");
        assert_eq!(Status::new(Code::Internal, "").to_string(), "INTERNAL");
    }

    #[test]
    fn io_errors_keep_their_source() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let s = Status::from(io);
        assert_eq!(s.code(), Code::Unavailable);
        assert!(s.source().is_some());
        let t = Status::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert!(t.is_timeout());
    }
}
