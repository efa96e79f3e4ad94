use bytes::Bytes;
use faststr::FastStr;
use rookery_codec::{
    DecodeError,
    thrift::{DecodeLimits, Protocol, ThriftDecode, ThriftEncode},
};

/// A Thrift call as transports carry it: the method, and its arguments struct still encoded.
///
/// Servers hand one to their router; clients send one. Layers see calls at this level, so a
/// retry can resend the same bytes and a router can pick a handler without decoding anything.
#[derive(Clone, Debug)]
pub struct ThriftRequest {
    /// The method name, without any `Service:` prefix.
    pub method: FastStr,
    /// Whether the caller expects no reply.
    pub oneway: bool,
    /// The protocol `body` is encoded in.
    pub protocol: Protocol,
    /// The encoded arguments struct.
    pub body: Bytes,
    /// The limits [`decode`](ThriftRequest::decode) enforces: a server sets its own.
    pub limits: DecodeLimits,
}

impl ThriftRequest {
    /// A call of `method` with `args` encoded in `protocol`.
    pub fn new<A: ThriftEncode + ?Sized>(
        method: impl Into<FastStr>,
        protocol: Protocol,
        args: &A,
    ) -> Self {
        ThriftRequest {
            method: method.into(),
            oneway: false,
            protocol,
            body: protocol.encode_to_bytes(args),
            limits: DecodeLimits::default(),
        }
    }

    /// Marks the call as oneway.
    pub fn oneway(mut self) -> Self {
        self.oneway = true;
        self
    }

    /// Decodes the arguments struct; strings in it share the request's memory.
    pub fn decode<A: ThriftDecode>(&self) -> Result<A, DecodeError> {
        self.protocol.decode_with(self.body.clone(), self.limits)
    }
}

/// The reply to a [`ThriftRequest`]: the result struct, encoded (empty for oneway calls).
///
/// A Thrift result struct holds either the return value (field 0) or one of the method's
/// declared exceptions; failures outside the IDL travel as a [`Status`](rookery_core::Status)
/// instead.
#[derive(Clone, Debug)]
pub struct ThriftResponse {
    /// The protocol `body` is encoded in.
    pub protocol: Protocol,
    /// The encoded result struct.
    pub body: Bytes,
    /// The limits [`decode`](ThriftResponse::decode) enforces: a client sets its own.
    pub limits: DecodeLimits,
}

impl ThriftResponse {
    /// A response with `result` encoded in `protocol`.
    pub fn new<R: ThriftEncode + ?Sized>(protocol: Protocol, result: &R) -> Self {
        ThriftResponse {
            protocol,
            body: protocol.encode_to_bytes(result),
            limits: DecodeLimits::default(),
        }
    }

    /// The empty response of a oneway call.
    pub fn empty(protocol: Protocol) -> Self {
        ThriftResponse {
            protocol,
            body: Bytes::new(),
            limits: DecodeLimits::default(),
        }
    }

    /// Decodes the result struct.
    pub fn decode<R: ThriftDecode>(&self) -> Result<R, DecodeError> {
        self.protocol.decode_with(self.body.clone(), self.limits)
    }
}
