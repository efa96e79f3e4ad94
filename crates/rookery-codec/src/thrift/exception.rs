use faststr::FastStr;
use rookery_core::{Code, Status};

use super::{ProtocolRead, ProtocolWrite, TType, ThriftDecode, ThriftEncode};
use crate::DecodeError;

/// The kinds of [`ApplicationException`] that Apache Thrift defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApplicationExceptionKind {
    /// Anything else (0).
    Unknown,
    /// The method is not known (1).
    UnknownMethod,
    /// The message type is wrong (2).
    InvalidMessageType,
    /// The reply names another method (3).
    WrongMethodName,
    /// The reply's sequence id matches no call (4).
    BadSequenceId,
    /// The reply has no result (5).
    MissingResult,
    /// The server failed (6).
    InternalError,
    /// The request could not be decoded (7).
    ProtocolError,
    /// A transform is not supported (8).
    InvalidTransform,
    /// The protocol is not supported (9).
    InvalidProtocol,
    /// The client type is not supported (10).
    UnsupportedClientType,
    /// A number outside the ones above.
    Other(i32),
}

impl ApplicationExceptionKind {
    /// The kind for a number on the wire.
    pub fn from_i32(n: i32) -> Self {
        use ApplicationExceptionKind::*;
        match n {
            0 => Unknown,
            1 => UnknownMethod,
            2 => InvalidMessageType,
            3 => WrongMethodName,
            4 => BadSequenceId,
            5 => MissingResult,
            6 => InternalError,
            7 => ProtocolError,
            8 => InvalidTransform,
            9 => InvalidProtocol,
            10 => UnsupportedClientType,
            other => Other(other),
        }
    }

    /// The number on the wire.
    pub fn as_i32(self) -> i32 {
        use ApplicationExceptionKind::*;
        match self {
            Unknown => 0,
            UnknownMethod => 1,
            InvalidMessageType => 2,
            WrongMethodName => 3,
            BadSequenceId => 4,
            MissingResult => 5,
            InternalError => 6,
            ProtocolError => 7,
            InvalidTransform => 8,
            InvalidProtocol => 9,
            UnsupportedClientType => 10,
            Other(n) => n,
        }
    }

    /// The status code a caller sees for this kind.
    pub fn code(self) -> Code {
        use ApplicationExceptionKind::*;
        match self {
            UnknownMethod => Code::Unimplemented,
            InvalidMessageType
            | ProtocolError
            | InvalidTransform
            | InvalidProtocol
            | UnsupportedClientType => Code::InvalidArgument,
            WrongMethodName | BadSequenceId | MissingResult | InternalError => Code::Internal,
            Unknown | Other(_) => Code::Unknown,
        }
    }

    /// The kind that best carries `code` to a peer that knows only Thrift's kinds.
    pub fn for_code(code: Code) -> Self {
        match code {
            Code::Unimplemented => ApplicationExceptionKind::UnknownMethod,
            Code::InvalidArgument => ApplicationExceptionKind::ProtocolError,
            Code::Internal => ApplicationExceptionKind::InternalError,
            _ => ApplicationExceptionKind::Unknown,
        }
    }
}

/// The struct Thrift sends in an `EXCEPTION` message: a message and a kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationException {
    /// What went wrong, for people.
    pub message: FastStr,
    /// What went wrong, for programs.
    pub kind: ApplicationExceptionKind,
}

impl ApplicationException {
    /// An exception of `kind` with `message`.
    pub fn new(kind: ApplicationExceptionKind, message: impl Into<FastStr>) -> Self {
        ApplicationException {
            message: message.into(),
            kind,
        }
    }

    /// The exception a server sends for `status`.
    pub fn from_status(status: &Status) -> Self {
        ApplicationException::new(
            ApplicationExceptionKind::for_code(status.code()),
            FastStr::new(status.message()),
        )
    }

    /// The status a client reports for this exception; `code` overrides the one derived from
    /// the kind when the peer sent the exact code alongside.
    pub fn into_status(self, code: Option<Code>) -> Status {
        let code = code.unwrap_or_else(|| self.kind.code());
        Status::new(code, String::from(&*self.message))
    }
}

impl ThriftEncode for ApplicationException {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        w.write_field_begin(TType::Binary, 1);
        w.write_string(&self.message);
        w.write_field_begin(TType::I32, 2);
        w.write_i32(self.kind.as_i32());
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for ApplicationException {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut message = FastStr::empty();
        let mut kind = ApplicationExceptionKind::Unknown;
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::Binary, 1) => message = r.read_string()?,
                (TType::I32, 2) => kind = ApplicationExceptionKind::from_i32(r.read_i32()?),
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        Ok(ApplicationException { message, kind })
    }
}
