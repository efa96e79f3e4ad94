use faststr::FastStr;
use rookery_core::{Code, Context, Metadata, Service, Status};

#[cfg(feature = "jwt")]
use super::jwt::Verifier;
use super::token::Tokens;
#[cfg(feature = "jwt")]
use crate::MethodMap;
use crate::Request;
#[cfg(feature = "jwt")]
use std::sync::Arc;

/// The metadata key of credentials: gRPC's `authorization` header, and the same string key
/// in TTHeader.
pub const AUTHORIZATION: &str = "authorization";

/// The value of the call's `authorization`, under that key or (sent by an HTTP/1 client or
/// another framework) any other case of it.
fn authorization(metadata: &Metadata) -> Option<&str> {
    metadata.get(AUTHORIZATION).or_else(|| {
        metadata
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(AUTHORIZATION))
            .map(|(_, v)| &**v)
    })
}

/// A server's service whose calls must carry a valid JWT: a call without one, or with one
/// that is expired, meant for another audience, signed with another algorithm or key, or not
/// a JWT at all, is answered `UNAUTHENTICATED` and never reaches the inner service. A call
/// that passes finds the caller's [`Identity`](super::Identity) in its context. See
/// [the module](super).
#[cfg(feature = "jwt")]
#[derive(Clone, Debug)]
pub struct Jwt<S> {
    inner: S,
    verifier: Arc<Verifier>,
    anonymous: Arc<MethodMap<bool>>,
}

#[cfg(feature = "jwt")]
impl<S> Jwt<S> {
    pub(super) fn new(inner: S, verifier: Arc<Verifier>, anonymous: Arc<MethodMap<bool>>) -> Self {
        Jwt {
            inner,
            verifier,
            anonymous,
        }
    }

    /// The wrapped service.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Checks the call's token and puts the identity it proves into `cx`.
    fn authenticate<R: Request>(&self, cx: &mut Context, req: &R) -> Result<(), Status> {
        let refuse = |cx: &Context, reason: &dyn std::fmt::Display| {
            tracing::debug!(
                method = req.method(),
                caller = cx.caller().address.as_deref().unwrap_or(""),
                %reason,
                "call refused: no valid token"
            );
            Err(Status::unauthenticated(format!("{reason}")))
        };
        let Some(value) = authorization(cx.metadata()) else {
            if *self.anonymous.for_call(cx, req) {
                return Ok(());
            }
            return refuse(
                cx,
                &"no bearer token: the call must carry `authorization: Bearer <JWT>`",
            );
        };
        let Some(token) = bearer_token(value) else {
            return refuse(cx, &"the authorization is not `Bearer <JWT>`");
        };
        match self.verifier.verify(token) {
            Ok(identity) => {
                cx.extensions_mut().insert(identity);
                Ok(())
            }
            Err(refusal) => refuse(cx, &refusal),
        }
    }
}

/// The token of a `Bearer` authorization (the scheme in any case, RFC 7235).
#[cfg(feature = "jwt")]
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(feature = "jwt")]
impl<S, Req> Service<Req> for Jwt<S>
where
    S: Service<Req>,
    Req: Request,
{
    type Response = S::Response;

    async fn call(&self, cx: &mut Context, req: Req) -> Result<S::Response, Status> {
        self.authenticate(cx, &req)?;
        self.inner.call(cx, req).await
    }
}

/// A client whose calls carry a bearer token in their metadata (`authorization: Bearer
/// <token>`). A call whose caller set an `authorization` keeps it, unless the layer was told
/// to overwrite. When a server answers `UNAUTHENTICATED` to a token from a source, the source
/// is told ([`TokenSource::invalidate`](super::TokenSource::invalidate)) so that the next
/// call fetches a new one. See [the module](super).
#[derive(Clone, Debug)]
pub struct AddAuthorization<S> {
    inner: S,
    tokens: Tokens,
    overwrite: bool,
}

/// Marks a context whose `authorization` this layer set, so that a retry of the same call
/// through it gets the current token rather than keeping the one it attached before.
#[derive(Clone, Copy, Debug)]
struct Attached;

impl<S> AddAuthorization<S> {
    pub(super) fn new(inner: S, tokens: Tokens, overwrite: bool) -> Self {
        AddAuthorization {
            inner,
            tokens,
            overwrite,
        }
    }

    /// The wrapped service.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S, Req> Service<Req> for AddAuthorization<S>
where
    S: Service<Req>,
    Req: Request,
{
    type Response = S::Response;

    async fn call(&self, cx: &mut Context, req: Req) -> Result<S::Response, Status> {
        let ours = cx.extensions().get::<Attached>().is_some();
        if !self.overwrite && !ours && authorization(cx.metadata()).is_some() {
            return self.inner.call(cx, req).await;
        }
        let header = match &self.tokens {
            Tokens::Static(header) => header.clone(),
            Tokens::Source(source) => {
                let token = source.token().await.map_err(|status| {
                    Status::new(
                        status.code(),
                        format!(
                            "{}: no token for the call: {}",
                            req.method(),
                            status.message()
                        ),
                    )
                    .with_unsent()
                })?;
                FastStr::from_string(format!("Bearer {token}"))
            }
        };
        // One key, whatever case the caller used.
        let other_case = cx
            .metadata()
            .iter()
            .find(|(k, _)| *k != AUTHORIZATION && k.eq_ignore_ascii_case(AUTHORIZATION))
            .map(|(k, _)| k.clone());
        if let Some(key) = other_case {
            cx.metadata_mut().remove(&key);
        }
        cx.metadata_mut().insert(AUTHORIZATION, header);
        cx.extensions_mut().insert(Attached);
        let result = self.inner.call(cx, req).await;
        if let (Err(status), Tokens::Source(source)) = (&result, &self.tokens) {
            if status.code() == Code::Unauthenticated {
                source.invalidate();
            }
        }
        result
    }
}
