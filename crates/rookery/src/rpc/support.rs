//! The runtime half of `#[rookery::service]`: what its generated servers and clients call,
//! generic over the argument and reply types so the generated code stays small.

use bytes::Bytes;
use faststr::FastStr;
use rookery_codec::thrift::DecodeLimits;
use rookery_transport::ttheader::str_key;
use serde::{Serialize, de::DeserializeOwned};

use super::{Codec, CodecSet, Reply, body};

pub use core::future::Future;
pub use faststr::FastStr as Name;
pub use rookery_codec::thrift::Protocol;
pub use rookery_core::{Context, Service, Status};
pub use rookery_transport::{Client, NamedService, ThriftRequest, ThriftResponse};
pub use serde;
pub use std::sync::Arc;

/// How deeply a value may nest unless a server or client says otherwise; serde_json's own
/// figure.
pub const DEFAULT_MAX_DEPTH: u16 = 128;

/// What a generated server was configured with.
#[derive(Clone, Copy, Debug)]
pub struct ServerConfig {
    /// The codecs requests may come in.
    pub accept: CodecSet,
    /// How deeply arguments may nest.
    pub max_depth: u16,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            accept: CodecSet::ALL,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// What a generated client was configured with.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The service's name, for messages.
    pub name: &'static str,
    /// The codec requests are sent in.
    pub codec: Codec,
    /// How deeply replies may nest.
    pub max_depth: u16,
    /// The service name sent in TTHeader's `isn` key, for routers serving several services.
    pub service: Option<FastStr>,
}

impl ClientConfig {
    /// The defaults for a client of `service`.
    pub fn new(service: &'static str) -> Self {
        ClientConfig {
            name: service,
            codec: Codec::default(),
            max_depth: DEFAULT_MAX_DEPTH,
            service: Some(FastStr::from_static_str(service)),
        }
    }
}

/// Where a failure happened, for messages: `Greeter.hello`.
struct At<'a>(&'a str, &'a str);

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

fn tags() -> &'static str {
    "'P' (postcard) or 'J' (json)"
}

/// Decodes the arguments of a call: the codec its tag names, which the server must accept,
/// then the arguments struct. Every failure is `INVALID_ARGUMENT`, saying what was wrong.
pub fn decode_args<M: Method>(
    service: &str,
    config: &ServerConfig,
    req: &ThriftRequest,
) -> Result<(Codec, M::Args), Status> {
    let at = At(service, &req.method);
    let value = body::decode(req.protocol, req.body.clone(), req.limits).map_err(|e| {
        Status::invalid_argument(format!(
            "{at}: the request {e}; a #[rookery::service] body is a Thrift struct whose field 1 \
             holds a codec tag and a serde value"
        ))
    })?;
    let Some((&tag, payload)) = value.split_first() else {
        return Err(Status::invalid_argument(format!(
            "{at}: the request's value is empty; it starts with a codec tag, {}",
            tags()
        )));
    };
    let Some(codec) = Codec::from_tag(tag) else {
        return Err(Status::invalid_argument(format!(
            "{at}: the request's value starts with byte {tag:#04x}, not a codec tag ({}): the \
             caller does not speak #[rookery::service] (Thrift IDL code, or another framework?)",
            tags()
        )));
    };
    if !config.accept.contains(codec) {
        return Err(Status::invalid_argument(format!(
            "{at}: the request is in {codec}, and this server accepts {} only",
            config.accept
        )));
    }
    let args = codec.decode(payload, config.max_depth).map_err(|e| {
        Status::invalid_argument(format!(
            "{at}: the arguments do not decode from {codec}: {e}"
        ))
    })?;
    Ok((codec, args))
}

/// Encodes a handler's result as the reply, in the codec of the call; a status stays a
/// status (the transport sends it as an exception).
pub fn encode_reply<M: Method>(
    service: &str,
    method: &str,
    codec: Codec,
    protocol: Protocol,
    reply: M::Reply,
) -> Result<ThriftResponse, Status> {
    let result = reply.into_parts()?;
    let body = body::encode(protocol, codec, &result).map_err(|e| {
        Status::internal(format!(
            "{}: the reply does not encode in {codec}: {e}",
            At(service, method)
        ))
    })?;
    Ok(response(protocol, body))
}

fn response(protocol: Protocol, body: Bytes) -> ThriftResponse {
    ThriftResponse {
        protocol,
        body,
        limits: DecodeLimits::default(),
    }
}

/// The reply to a oneway method, which no one reads.
pub fn oneway_done(protocol: Protocol) -> ThriftResponse {
    ThriftResponse::empty(protocol)
}

/// The status of a call of a method the service does not have.
pub fn unknown_method(service: &str, method: &str) -> Status {
    Status::unimplemented(format!("{service} has no method {method}"))
}

/// Encodes a call of `method` with `args`.
fn request<A: Serialize>(
    service: &str,
    method: &'static str,
    protocol: Protocol,
    codec: Codec,
    args: &A,
) -> Result<ThriftRequest, Status> {
    let body = body::encode(protocol, codec, args).map_err(|e| {
        Status::invalid_argument(format!(
            "{}: the arguments do not encode in {codec}: {e}",
            At(service, method)
        ))
        .with_unsent()
    })?;
    Ok(ThriftRequest {
        method: FastStr::from_static_str(method),
        oneway: false,
        protocol,
        body,
        limits: DecodeLimits::default(),
    })
}

/// Sends `req` through `inner`, naming the service in the context's metadata for the call
/// only.
async fn send<S>(
    inner: &S,
    cx: &mut Context,
    config: &ClientConfig,
    req: ThriftRequest,
) -> Result<ThriftResponse, Status>
where
    S: Service<ThriftRequest, Response = ThriftResponse>,
{
    let Some(service) = &config.service else {
        return inner.call(cx, req).await;
    };
    let key = str_key::IDL_SERVICE_NAME;
    let before = cx.metadata_mut().insert(key, service.clone());
    let result = inner.call(cx, req).await;
    match before {
        Some(value) => cx.metadata_mut().insert(key, value),
        None => cx.metadata_mut().remove(key),
    };
    result
}

/// Calls `method` with `args` and decodes the reply into what the method returns.
pub async fn call<S, M>(
    inner: &S,
    cx: &mut Context,
    config: &ClientConfig,
    method: &'static str,
    protocol: Protocol,
    args: M::Args,
) -> M::Reply
where
    S: Service<ThriftRequest, Response = ThriftResponse>,
    M: Method,
{
    let service = config.name;
    let req = match request(service, method, protocol, config.codec, &args) {
        Ok(req) => req,
        Err(status) => return M::Reply::from_parts(Err(status)),
    };
    drop(args);
    let parts = match send(inner, cx, config, req).await {
        Ok(reply) => decode_reply(service, method, config, reply),
        Err(status) => Err(status),
    };
    M::Reply::from_parts(parts)
}

/// Sends a oneway call of `method` with `args`.
pub async fn call_oneway<S, M>(
    inner: &S,
    cx: &mut Context,
    config: &ClientConfig,
    method: &'static str,
    protocol: Protocol,
    args: M::Args,
) -> Result<(), Status>
where
    S: Service<ThriftRequest, Response = ThriftResponse>,
    M: Method,
{
    let req = request(config.name, method, protocol, config.codec, &args)?.oneway();
    drop(args);
    send(inner, cx, config, req).await.map(|_| ())
}

/// Decodes a reply. A reply that does not decode is the server's fault: `INTERNAL`.
fn decode_reply<V: DeserializeOwned, E: DeserializeOwned>(
    service: &str,
    method: &str,
    config: &ClientConfig,
    reply: ThriftResponse,
) -> Result<Result<V, E>, Status> {
    let at = At(service, method);
    if reply.body.is_empty() {
        return Err(Status::internal(format!(
            "{at}: the reply is empty, as if the server took the method for a oneway one"
        )));
    }
    let value = body::decode(reply.protocol, reply.body, reply.limits).map_err(|e| {
        Status::internal(format!(
            "{at}: the reply {e}: the server does not serve {service} from #[rookery::service]"
        ))
    })?;
    match value
        .first()
        .copied()
        .map(|tag| (tag, Codec::from_tag(tag)))
    {
        Some((_, Some(codec))) if codec == config.codec => {}
        Some((_, Some(other))) => {
            return Err(Status::internal(format!(
                "{at}: the reply is in {other}, the call was in {}",
                config.codec
            )));
        }
        Some((tag, None)) => {
            return Err(Status::internal(format!(
                "{at}: the reply's value starts with byte {tag:#04x}, not a codec tag ({}): the \
                 server does not serve {service} from #[rookery::service]",
                tags()
            )));
        }
        None => {
            return Err(Status::internal(format!(
                "{at}: the reply's value is empty"
            )));
        }
    }
    config
        .codec
        .decode(&value[1..], config.max_depth)
        .map_err(|e| {
            Status::internal(format!(
                "{at}: the reply does not decode from {}: {e}",
                config.codec
            ))
        })
}

/// What a method's arguments and reply are. The macro implements it once per method, with
/// the argument and return types as the user wrote them: the bounds on the associated types
/// are checked there, once, pointing at those types, and the generic code above takes them
/// for granted.
pub trait Method: 'static {
    /// The arguments struct.
    type Args: Serialize + DeserializeOwned + Send + 'static;
    /// What the method returns (`Result<(), Status>` for a oneway method, whose reply no one
    /// reads).
    type Reply: Reply;
}

/// The type of one argument. The macro implements it once per argument, with the type as the
/// user wrote it: a type that cannot travel fails there, pointing at it, and nowhere else.
pub trait Travels: 'static {
    /// The argument's type.
    type T: Serialize + DeserializeOwned + Send + 'static;
}

/// One field of an arguments struct: the value of argument `A`, (de)serialized as the value
/// itself.
pub struct Field<A: Travels>(pub A::T);

impl<A: Travels> Serialize for Field<A> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, A: Travels> serde::Deserialize<'de> for Field<A> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        A::T::deserialize(deserializer).map(Field)
    }
}
