//! Authentication: JSON Web Tokens checked by servers ([`JwtLayer`], feature `jwt`) and
//! attached by clients ([`AddAuthorizationLayer`]).
//!
//! A token travels in the call's metadata as `authorization: Bearer <token>`: the header
//! gRPC peers use, and the same string key in TTHeader, so one layer serves both transports.
//!
//! On a server, [`JwtLayer`] checks each call's token before the handler runs:
//!
//! - **the algorithm is pinned**: the server names the one algorithm it accepts with its key
//!   ([`JwtKey`]); a token whose header names any other — `none`, or `HS256` signed with the
//!   server's RSA or EC public key as the secret — is refused before its signature is checked;
//! - the signature must verify with the key (an HMAC secret, a public key, or the key of a
//!   JSON Web Key Set that the token's `kid` names);
//! - `exp` is required and must not have passed (with a small leeway for clock skew, 30 s by
//!   default), `nbf` if present must have; `aud` is required and must name one of the
//!   server's audiences; `iss`, when the server names issuers, must be one of them.
//!
//! A refused call is answered `UNAUTHENTICATED`, saying why (never echoing the token), and
//! never reaches the handler. A call that passes carries the caller's [`Identity`] (subject,
//! issuer, every claim) in its context's extensions, for the handler to read with
//! [`Identity::of`].
//!
//! On a client, [`AddAuthorizationLayer`] puts the token in each call's metadata: a fixed one,
//! or one from a [`TokenSource`] such as [`Refreshing`], which fetches a new token when the
//! last is about to expire or a server refused it. A caller that set an `authorization` of
//! its own (passing on its caller's token, say) keeps it unless the layer is told to
//! overwrite.
//!
//! Both read their keys and tokens from files or the environment when configured from a
//! file ([`SecretSource`]); nothing here prints a secret (`Debug` shows `<redacted>`).
//!
//! Mutual TLS, the other way to know a caller, lives in the transports (their `tls`
//! feature): the verified client certificate is in the context there.
//!
//! ```
//! # #[cfg(feature = "jwt")]
//! # async fn demo() {
//! use rookery_core::{service_fn, Context, Layer, Service, Status};
//! use rookery_middleware::auth::{AddAuthorizationLayer, Algorithm, Identity, JwtKey, JwtLayer};
//! use rookery_middleware::testing;
//! use rookery_transport::ThriftRequest;
//!
//! let key = JwtKey::hmac(Algorithm::HS256, b"a secret from a file, in real life").unwrap();
//! let handler = service_fn(|cx: &mut Context, _req: ThriftRequest| {
//!     let who = Identity::of(cx).and_then(|id| id.subject()).unwrap_or("").to_string();
//!     async move { Ok::<_, Status>(who) }
//! });
//! let server = JwtLayer::new(key, ["orders"]).layer(handler);
//!
//! // No token: refused before the handler runs.
//! let err = server.call(&mut Context::new(), testing::thrift_request("get")).await.unwrap_err();
//! assert_eq!(err.code(), rookery_core::Code::Unauthenticated);
//! # }
//! ```

mod layer;
mod secret;
mod service;
mod token;

#[cfg(feature = "jwt")]
mod jwt;

#[cfg(test)]
mod tests;

#[cfg(feature = "jwt")]
pub use jwt::{Algorithm, Claims, Identity, JwtKey};
pub use layer::{AddAuthorizationLayer, AuthorizationConfig};
#[cfg(feature = "jwt")]
pub use layer::{JwtConfig, JwtKeyConfig, JwtLayer};
pub use secret::{AuthError, Secret, SecretSource};
#[cfg(feature = "jwt")]
pub use service::Jwt;
pub use service::{AUTHORIZATION, AddAuthorization};
pub use token::{Refreshing, Token, TokenFuture, TokenSource};
