//! Where a client's bearer tokens come from: a fixed token, a function called for each call,
//! or one that fetches a token when the last is about to expire ([`Refreshing`]).

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime},
};

use base64::Engine;
use faststr::FastStr;
use rookery_core::Status;

/// What [`TokenSource::token`] returns.
pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<FastStr, Status>> + Send + 'a>>;

/// Gives a client the token to send with a call (as `authorization: Bearer <token>`).
///
/// Any `Fn() -> impl Future<Output = Result<FastStr, Status>>` is one, called for every call;
/// wrap it in [`Refreshing`] to call it only when the token it gave last is expiring.
pub trait TokenSource: Send + Sync + 'static {
    /// The token for the next call, without the `Bearer ` prefix. An error fails the call
    /// before it is sent.
    fn token(&self) -> TokenFuture<'_>;

    /// A server refused the last token given (`UNAUTHENTICATED`): a source that keeps tokens
    /// should fetch a new one next time.
    fn invalidate(&self) {}
}

impl<F, Fut> TokenSource for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<FastStr, Status>> + Send + 'static,
{
    fn token(&self) -> TokenFuture<'_> {
        Box::pin(self())
    }
}

/// A token fetched from somewhere, and how long it may be used.
#[derive(Clone)]
pub struct Token {
    value: FastStr,
    expires_at: Option<Instant>,
}

impl Token {
    /// A token; unless told ([`valid_for`](Token::valid_for)), it is used until the `exp` it
    /// carries if it is a JWT (read, not verified: the server verifies), or until a server
    /// refuses it.
    pub fn new(value: impl Into<FastStr>) -> Token {
        let value = value.into();
        let expires_at = jwt_expiry(&value);
        Token { value, expires_at }
    }

    /// The token may be used for `ttl` from now (an OAuth `expires_in`).
    pub fn valid_for(mut self, ttl: Duration) -> Token {
        self.expires_at = Instant::now().checked_add(ttl);
        self
    }

    /// The token itself.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether it is known when the token expires.
    pub(super) fn has_expiry(&self) -> bool {
        self.expires_at.is_some()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// When the JWT `token` expires, as its `exp` says, if it is a JWT with one.
fn jwt_expiry(token: &str) -> Option<Instant> {
    let payload = token.split('.').nth(1)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let exp = serde_json::from_slice::<serde_json::Value>(&json)
        .ok()?
        .get("exp")?
        .as_u64()?;
    let at = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(exp))?;
    let left = at
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    Instant::now().checked_add(left)
}

type Fetch = dyn Fn() -> Pin<Box<dyn Future<Output = Result<Token, Status>> + Send>> + Send + Sync;

/// A token source that keeps the token it fetched and fetches a new one only when that one
/// is about to expire (within [`margin`](Refreshing::margin), 30 s by default) or was refused
/// by a server. Concurrent calls that find it expiring wait for one fetch.
///
/// ```
/// use std::time::Duration;
/// use rookery_middleware::auth::{AddAuthorizationLayer, Refreshing, Token};
///
/// let source = Refreshing::new(|| async {
///     // Ask the identity provider here.
///     Ok(Token::new("eyJhbGciOi...").valid_for(Duration::from_secs(3600)))
/// });
/// let layer = AddAuthorizationLayer::source(source);
/// # let _ = layer;
/// ```
pub struct Refreshing {
    fetch: Box<Fetch>,
    margin: Duration,
    current: Mutex<Option<Token>>,
    /// Held while fetching, so one fetch serves every caller waiting.
    fetching: tokio::sync::Mutex<()>,
}

impl Refreshing {
    /// Fetches tokens with `fetch`.
    pub fn new<F, Fut>(fetch: F) -> Refreshing
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Token, Status>> + Send + 'static,
    {
        Refreshing {
            fetch: Box::new(move || Box::pin(fetch())),
            margin: Duration::from_secs(30),
            current: Mutex::new(None),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// Fetches a new token this long before the current one expires (30 s by default), so
    /// that no call carries a token that expires on its way.
    pub fn margin(mut self, margin: Duration) -> Refreshing {
        self.margin = margin;
        self
    }

    /// Starts with `token` instead of fetching one for the first call.
    pub(super) fn seeded(self, token: Token) -> Refreshing {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(token);
        self
    }

    fn fresh(&self) -> Option<FastStr> {
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let token = current.as_ref()?;
        match token.expires_at {
            Some(at)
                if at
                    .checked_sub(self.margin)
                    .is_none_or(|at| at <= Instant::now()) =>
            {
                None
            }
            _ => Some(token.value.clone()),
        }
    }

    async fn get(&self) -> Result<FastStr, Status> {
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let _fetching = self.fetching.lock().await;
        // Another caller may have fetched while this one waited.
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let token = (self.fetch)().await?;
        let value = token.value.clone();
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(token);
        Ok(value)
    }
}

impl TokenSource for Refreshing {
    fn token(&self) -> TokenFuture<'_> {
        Box::pin(self.get())
    }

    fn invalidate(&self) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

impl fmt::Debug for Refreshing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refreshing")
            .field("margin", &self.margin)
            .finish_non_exhaustive()
    }
}

/// The token a client layer attaches: a fixed one (no allocation per call), or a source's.
#[derive(Clone)]
pub(super) enum Tokens {
    Static(FastStr),
    Source(Arc<dyn TokenSource>),
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tokens::Static(_) => f.write_str("Static(<redacted>)"),
            Tokens::Source(_) => f.write_str("Source"),
        }
    }
}
