//! Rust-first services: a plain trait marked [`#[rookery::service]`](crate::service) is the
//! whole contract, with no IDL; arguments and results travel in serde.
//!
//! ```no_run
//! use rookery::{Context, Status, rpc::MethodError};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Serialize, Deserialize)]
//! pub enum GreetError {
//!     Shy { retry_in_ms: u64 },
//! }
//!
//! /// Greets people.
//! #[rookery::service]
//! pub trait Greeter {
//!     /// Says hello to `name`.
//!     async fn hello(&self, cx: &mut Context, name: String) -> Result<String, Status>;
//!     /// Greets everyone in `names`, or declines with a typed error.
//!     async fn greet_all(&self, names: Vec<String>) -> Result<u32, MethodError<GreetError>>;
//!     /// Fire and forget: no reply travels back.
//!     #[oneway]
//!     async fn wave(&self, times: u8);
//! }
//!
//! struct Polite;
//!
//! impl Greeter for Polite {
//!     async fn hello(&self, _cx: &mut Context, name: String) -> Result<String, Status> {
//!         Ok(format!("hello, {name}"))
//!     }
//!     async fn greet_all(&self, names: Vec<String>) -> Result<u32, MethodError<GreetError>> {
//!         if names.len() > 100 {
//!             return Err(MethodError::Declared(GreetError::Shy { retry_in_ms: 500 }));
//!         }
//!         Ok(names.len() as u32)
//!     }
//!     async fn wave(&self, _times: u8) {}
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Serve it: `GreeterServer` is a `NamedService` like any generated from an IDL.
//! let running = rookery::Service::builder("greeter")
//!     .serve(GreeterServer::new(Polite))
//!     .build()?
//!     .start()
//!     .await?;
//!
//! // Call it by name, over any stack of layers.
//! let client = GreeterClient::with_service(rookery::connect("greeter").await?, rookery::Protocol::Binary);
//! let reply = client.hello(&mut Context::new(), "rook".into()).await?;
//! assert_eq!(reply, "hello, rook");
//! match client.greet_all(&mut Context::new(), vec!["a".into()]).await {
//!     Ok(n) => println!("greeted {n}"),
//!     Err(MethodError::Declared(GreetError::Shy { retry_in_ms })) => println!("later: {retry_in_ms} ms"),
//!     Err(MethodError::Status(status)) => println!("failed: {status}"),
//! }
//! client.wave(&mut Context::new(), 3).await?;
//! running.stop().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # What the macro generates
//!
//! For a trait `Greeter`:
//! - the trait itself, with `Send + Sync + 'static` added to its supertraits and every
//!   `async fn m(..) -> R` rewritten as `fn m(..) -> impl Future<Output = R> + Send`, so a
//!   handler's futures can run on a multi-threaded runtime. Implementations write
//!   `async fn` as usual.
//! - `GreeterServer<H>`: serves a handler `H: Greeter`. It is a
//!   `Service<ThriftRequest, Response = ThriftResponse>` and a [`NamedService`] named
//!   after the trait (or `#[rookery::service(name = "...")]`), so it goes wherever an
//!   IDL-generated server goes: [`Service::builder(..).serve(..)`](crate::ServiceBuilder::serve),
//!   a [`Router`](crate::Router) beside other services, under layers.
//! - `GreeterClient<S = Client>`: one `async fn` per method, taking a `&mut Context` first
//!   and then the method's arguments, over any service that carries Thrift calls: a
//!   [`Client`](crate::Client), a [`BalancedClient`](crate::BalancedClient), either wrapped
//!   in layers.
//!
//! # How methods are written
//!
//! - `async fn`, taking `&self`. A handler is shared by every concurrent call, as in every
//!   rookery service.
//! - The first argument after `&self` may be `cx: &mut Context`: the handler then gets the
//!   call's context (deadline, metadata, caller). Without it, it does not. Clients always
//!   take one.
//! - The other arguments are named, owned (no references) and implement serde's
//!   `Serialize` and `DeserializeOwned`. Their names are the field names on the wire.
//! - A method returns `Result<T, Status>`, or `Result<T, MethodError<E>>` to declare an
//!   error type `E` that travels to the caller as a value, distinct from the [`Status`] of a
//!   failure (see [`MethodError`]). `T` and `E` implement `Serialize` and
//!   `DeserializeOwned`.
//! - A `#[oneway]` method returns nothing: the caller does not wait for it, and nothing comes
//!   back.
//! - No generics, default bodies, associated types or constants: the wire carries values of
//!   one concrete type per method, and every handler implements every method.
//!
//! # On the wire
//!
//! A call is a Thrift message (so it travels over TTHeader, framed or buffered Thrift, with
//! rookery's multiplexing, deadlines and metadata) whose name is the method's and whose
//! body is:
//!
//! - request: the codec's tag byte (`P` for postcard, `J` for JSON; see [`Codec`]), then the
//!   arguments as one struct with a field per argument, in declaration order (in JSON an
//!   object: `J{"name":"rook"}`; in postcard the fields one after the other);
//! - reply: the same tag, then `Result<T, E>` in serde's form (`J{"Ok":"hello, rook"}`);
//!   `E` is the declared error type, or [`NoError`] for a method returning
//!   `Result<T, Status>`;
//! - a [`Status`] travels as every rookery failure does, as a Thrift application exception
//!   with the exact code in the TTHeader, never in the body.
//!
//! The server answers in the codec it was called in and accepts every codec unless told
//! otherwise (`GreeterServer::new(h).codecs(Codec::Json)`); a body in a codec it does not
//! accept, or not starting with a tag at all, fails with `INVALID_ARGUMENT` saying so. A
//! body that does not decode fails the same way, with serde's reason. Decoding never reads
//! past the body, and is bounded in nesting (128 levels by default, `.max_depth(n)`; every
//! sequence, struct, map, enum, `Some` and newtype is a level) and in element count (no more
//! elements than the body has bytes), so hostile input cannot exhaust the stack or loop.
//!
//! Clients name their service in TTHeader's `isn` key, so a server with several services that
//! share a method name routes each call to the right one; over framed or buffered Thrift,
//! which carry no header, the router goes by method name alone.
//!
//! [`NamedService`]: crate::NamedService

mod body;
mod codec;
mod limit;
mod support;

use std::{error::Error as StdError, fmt};

use rookery_core::Status;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

pub use codec::{Codec, CodecSet};

/// What the code `#[rookery::service]` generates uses. Not a stable API: the macro and this
/// module change together.
#[doc(hidden)]
pub mod __private {
    pub use super::support::*;
}

/// The error of a method that declares one: the declared error `E`, which the handler sends
/// as a value in the reply, or a [`Status`], for every other failure (the handler's, a
/// layer's, the transport's).
///
/// Handlers return `Err(MethodError::Declared(e))` for the errors of the method's contract,
/// and `?` on anything that gives a `Status`; callers match on both.
#[derive(Clone, Debug)]
pub enum MethodError<E> {
    /// The error the method declares, as the handler returned it.
    Declared(E),
    /// Any other failure.
    Status(Status),
}

impl<E> MethodError<E> {
    /// The declared error, if it is one.
    pub fn declared(&self) -> Option<&E> {
        match self {
            MethodError::Declared(e) => Some(e),
            MethodError::Status(_) => None,
        }
    }

    /// The status, if it is one.
    pub fn status(&self) -> Option<&Status> {
        match self {
            MethodError::Declared(_) => None,
            MethodError::Status(s) => Some(s),
        }
    }

    /// The declared error, or the status as an error.
    pub fn into_declared(self) -> Result<E, Status> {
        match self {
            MethodError::Declared(e) => Ok(e),
            MethodError::Status(s) => Err(s),
        }
    }
}

impl<E> From<Status> for MethodError<E> {
    fn from(status: Status) -> Self {
        MethodError::Status(status)
    }
}

impl<E: fmt::Display> fmt::Display for MethodError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MethodError::Declared(e) => e.fmt(f),
            MethodError::Status(s) => s.fmt(f),
        }
    }
}

impl<E: StdError> StdError for MethodError<E> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            MethodError::Declared(e) => e.source(),
            MethodError::Status(s) => s.source(),
        }
    }
}

/// The declared error of a method that declares none: a type with no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoError {}

mod sealed {
    pub trait Sealed {}
}

/// What a `#[rookery::service]` method may return (and its client returns): `Result<T,
/// Status>` or `Result<T, MethodError<E>>`, taken apart into the value, the declared error
/// and the status for the wire, and put together again.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the return type of a `#[rookery::service]` method",
    label = "return `Result<T, Status>`, or `Result<T, rookery::rpc::MethodError<E>>` to declare an error type `E`",
    note = "`T` and `E` travel in serde: they implement `Serialize` and `DeserializeOwned`"
)]
pub trait Reply: Sized + Send + sealed::Sealed + 'static {
    /// What a successful call returns.
    type Value: Serialize + DeserializeOwned + Send + 'static;
    /// The declared error ([`NoError`] if none).
    type Declared: Serialize + DeserializeOwned + Send + 'static;

    /// Takes a handler's result apart.
    fn into_parts(self) -> Result<Result<Self::Value, Self::Declared>, Status>;

    /// Puts a caller's result together.
    fn from_parts(parts: Result<Result<Self::Value, Self::Declared>, Status>) -> Self;
}

impl<T> sealed::Sealed for Result<T, Status> {}

impl<T> Reply for Result<T, Status>
where
    T: Serialize + DeserializeOwned + Send + 'static,
{
    type Value = T;
    type Declared = NoError;

    fn into_parts(self) -> Result<Result<T, NoError>, Status> {
        self.map(Ok)
    }

    fn from_parts(parts: Result<Result<T, NoError>, Status>) -> Self {
        match parts {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(never)) => match never {},
            Err(s) => Err(s),
        }
    }
}

impl<T, E> sealed::Sealed for Result<T, MethodError<E>> {}

impl<T, E> Reply for Result<T, MethodError<E>>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    E: Serialize + DeserializeOwned + Send + 'static,
{
    type Value = T;
    type Declared = E;

    fn into_parts(self) -> Result<Result<T, E>, Status> {
        match self {
            Ok(v) => Ok(Ok(v)),
            Err(MethodError::Declared(e)) => Ok(Err(e)),
            Err(MethodError::Status(s)) => Err(s),
        }
    }

    fn from_parts(parts: Result<Result<T, E>, Status>) -> Self {
        match parts {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(MethodError::Declared(e)),
            Err(s) => Err(MethodError::Status(s)),
        }
    }
}
