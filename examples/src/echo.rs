//! The `Echo` service of `idl/echo.thrift`: message types, the server trait and router
//! entry, and a typed client.

use std::{future::Future, sync::Arc};

use rookery::codegen::{
    Client, Context, DecodeError, DecodeErrorKind, FastStr, NamedService, Protocol, ProtocolRead,
    ProtocolWrite, Service, Status, TType, ThriftDecode, ThriftEncode, ThriftRequest,
    ThriftResponse,
};

/// `exception EchoError { 1: i32 code, 2: string message }`
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EchoError {
    /// Field 1.
    pub code: i32,
    /// Field 2.
    pub message: FastStr,
}

impl ThriftEncode for EchoError {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        w.write_field_begin(TType::I32, 1);
        w.write_i32(self.code);
        w.write_field_begin(TType::Binary, 2);
        w.write_string(&self.message);
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for EchoError {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = EchoError::default();
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::I32, 1) => out.code = r.read_i32()?,
                (TType::Binary, 2) => out.message = r.read_string()?,
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        Ok(out)
    }
}

impl std::fmt::Display for EchoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EchoError {}: {}", self.code, self.message)
    }
}

impl std::error::Error for EchoError {}

/// The arguments of `echo` and `notify`: `(1: string msg)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MsgArgs {
    /// Field 1.
    pub msg: FastStr,
}

impl ThriftEncode for MsgArgs {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        w.write_field_begin(TType::Binary, 1);
        w.write_string(&self.msg);
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for MsgArgs {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = MsgArgs::default();
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::Binary, 1) => out.msg = r.read_string()?,
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        Ok(out)
    }
}

/// The arguments of `fail`: `(1: i32 code, 2: string message)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailArgs {
    /// Field 1.
    pub code: i32,
    /// Field 2.
    pub message: FastStr,
}

impl ThriftEncode for FailArgs {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        w.write_field_begin(TType::I32, 1);
        w.write_i32(self.code);
        w.write_field_begin(TType::Binary, 2);
        w.write_string(&self.message);
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for FailArgs {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = FailArgs::default();
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::I32, 1) => out.code = r.read_i32()?,
                (TType::Binary, 2) => out.message = r.read_string()?,
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        Ok(out)
    }
}

/// The result struct of a method returning `string` and throwing `EchoError`: field 0 is the
/// return value, field 1 the declared exception.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StringResult {
    /// Field 0.
    Success(FastStr),
    /// Field 1.
    Err(EchoError),
}

impl ThriftEncode for StringResult {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        match self {
            StringResult::Success(v) => {
                w.write_field_begin(TType::Binary, 0);
                w.write_string(v);
            }
            StringResult::Err(e) => {
                w.write_field_begin(TType::Struct, 1);
                e.encode(w);
            }
        }
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for StringResult {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = None;
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::Binary, 0) => out = Some(StringResult::Success(r.read_string()?)),
                (TType::Struct, 1) => out = Some(StringResult::Err(EchoError::decode(r)?)),
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        out.ok_or_else(|| DecodeError::new(DecodeErrorKind::InvalidData, "result has no value"))
    }
}

/// The error of `fail`: its declared exception, or a status.
#[derive(Debug)]
pub enum FailError {
    /// The declared `EchoError`.
    Err(EchoError),
    /// Any other failure.
    Status(Status),
}

impl From<Status> for FailError {
    fn from(s: Status) -> Self {
        FailError::Status(s)
    }
}

/// The `Echo` service, implemented by a handler.
pub trait Echo: Send + Sync + 'static {
    /// `string echo(1: string msg)`
    fn echo(
        &self,
        cx: &mut Context,
        msg: FastStr,
    ) -> impl Future<Output = Result<FastStr, Status>> + Send;

    /// `string fail(1: i32 code, 2: string message) throws (1: EchoError err)`
    fn fail(
        &self,
        cx: &mut Context,
        code: i32,
        message: FastStr,
    ) -> impl Future<Output = Result<FastStr, FailError>> + Send;

    /// `oneway void notify(1: string msg)`
    fn notify(
        &self,
        cx: &mut Context,
        msg: FastStr,
    ) -> impl Future<Output = Result<(), Status>> + Send;
}

/// Serves an [`Echo`] handler: add it to a router or a `rookery::Service`.
#[derive(Debug)]
pub struct EchoServer<H> {
    handler: Arc<H>,
}

impl<H> EchoServer<H> {
    /// Serves `handler`.
    pub fn new(handler: H) -> Self {
        EchoServer {
            handler: Arc::new(handler),
        }
    }
}

impl<H: Echo> Service<ThriftRequest> for EchoServer<H> {
    type Response = ThriftResponse;

    async fn call(&self, cx: &mut Context, req: ThriftRequest) -> Result<ThriftResponse, Status> {
        let protocol = req.protocol;
        match &*req.method {
            "echo" => {
                let args: MsgArgs = req.decode()?;
                let ret = self.handler.echo(cx, args.msg).await?;
                Ok(ThriftResponse::new(protocol, &StringResult::Success(ret)))
            }
            "fail" => {
                let args: FailArgs = req.decode()?;
                let result = match self.handler.fail(cx, args.code, args.message).await {
                    Ok(v) => StringResult::Success(v),
                    Err(FailError::Err(e)) => StringResult::Err(e),
                    Err(FailError::Status(s)) => return Err(s),
                };
                Ok(ThriftResponse::new(protocol, &result))
            }
            "notify" => {
                let args: MsgArgs = req.decode()?;
                self.handler.notify(cx, args.msg).await?;
                Ok(ThriftResponse::empty(protocol))
            }
            other => Err(Status::unimplemented(format!("Echo has no method {other}"))),
        }
    }
}

impl<H: Echo> NamedService for EchoServer<H> {
    const NAME: &'static str = "Echo";
    const METHODS: &'static [&'static str] = &["echo", "fail", "notify"];
}

/// A reply that does not decode is the server's fault, not the caller's.
fn reply_error(e: DecodeError) -> Status {
    Status::internal(format!("reply does not decode: {e}"))
}

/// A typed client of `Echo`, over any service that carries Thrift calls (a [`Client`], or one
/// wrapped in layers).
#[derive(Clone, Debug)]
pub struct EchoClient<S = Client> {
    inner: S,
    protocol: Protocol,
}

impl EchoClient<Client> {
    /// A typed client over `client`, in its protocol.
    pub fn new(client: Client) -> Self {
        let protocol = client.protocol();
        EchoClient {
            inner: client,
            protocol,
        }
    }
}

impl<S> EchoClient<S>
where
    S: Service<ThriftRequest, Response = ThriftResponse>,
{
    /// A typed client over any Thrift service stack speaking `protocol`.
    pub fn with_service(inner: S, protocol: Protocol) -> Self {
        EchoClient { inner, protocol }
    }

    /// Calls `echo`.
    pub async fn echo(&self, cx: &mut Context, msg: impl Into<FastStr>) -> Result<FastStr, Status> {
        let req = ThriftRequest::new(
            FastStr::from_static_str("echo"),
            self.protocol,
            &MsgArgs { msg: msg.into() },
        );
        match self.inner.call(cx, req).await?.decode::<StringResult>() {
            Ok(StringResult::Success(v)) => Ok(v),
            Ok(StringResult::Err(e)) => {
                Err(Status::internal(format!("echo cannot throw, got {e}")))
            }
            Err(e) => Err(reply_error(e)),
        }
    }

    /// Calls `fail`.
    pub async fn fail(
        &self,
        cx: &mut Context,
        code: i32,
        message: impl Into<FastStr>,
    ) -> Result<FastStr, FailError> {
        let args = FailArgs {
            code,
            message: message.into(),
        };
        let req = ThriftRequest::new(FastStr::from_static_str("fail"), self.protocol, &args);
        match self.inner.call(cx, req).await?.decode::<StringResult>() {
            Ok(StringResult::Success(v)) => Ok(v),
            Ok(StringResult::Err(e)) => Err(FailError::Err(e)),
            Err(e) => Err(FailError::Status(reply_error(e))),
        }
    }

    /// Sends `notify`, a oneway call.
    pub async fn notify(&self, cx: &mut Context, msg: impl Into<FastStr>) -> Result<(), Status> {
        let req = ThriftRequest::new(
            FastStr::from_static_str("notify"),
            self.protocol,
            &MsgArgs { msg: msg.into() },
        )
        .oneway();
        self.inner.call(cx, req).await.map(|_| ())
    }
}
