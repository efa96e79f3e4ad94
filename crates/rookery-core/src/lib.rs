//! The core of rookery: the [`Service`] trait that every handler, client and middleware
//! implements, the [`Layer`] that wraps one, the per-call [`Context`], and the [`Status`] that
//! every failure becomes.
//!
//! This crate does no I/O and stays small, so that middleware authors can depend on it alone.
//!
//! ```
//! use rookery_core::{service_fn, Context, Service, Status};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Status> {
//! let greet = service_fn(|cx: &mut Context, name: String| {
//!     cx.metadata_mut().insert("greeted", "yes");
//!     async move { Ok::<_, Status>(format!("hello, {name}")) }
//! });
//! let mut cx = Context::new();
//! assert_eq!(greet.call(&mut cx, "rook".to_string()).await?, "hello, rook");
//! assert_eq!(cx.metadata().get("greeted"), Some("yes"));
//! # Ok(())
//! # }
//! ```

mod context;
mod layer;
mod metadata;
mod service;
mod status;
pub mod tower;

pub use context::{Context, Endpoint};
pub use faststr::FastStr;
pub use layer::{Identity, Layer, LayerFn, Stack, layer_fn};
pub use metadata::Metadata;
pub use service::{BoxFuture, BoxService, Service, ServiceFn, service_fn};
pub use status::{Code, Status};
