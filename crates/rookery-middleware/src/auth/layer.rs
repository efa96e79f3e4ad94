use std::{sync::Arc, time::Duration};

use faststr::FastStr;
use rookery_core::{Layer, Status};
use serde::{Deserialize, Serialize};

use super::{
    AddAuthorization, AuthError, Refreshing, SecretSource, Token, TokenSource, token::Tokens,
};
#[cfg(feature = "jwt")]
use super::{Algorithm, Jwt, JwtKey, jwt::Verifier};
#[cfg(feature = "jwt")]
use crate::MethodMap;

/// How a server checks JWTs, as a configuration file says it.
///
/// ```toml
/// [auth.jwt]
/// algorithm = "RS256"                                 # the only one accepted
/// key = { public_key_file = "/etc/rookery/jwt.pem" }  # or secret, jwks_file, ...
/// audience = ["orders"]                               # required
/// issuer = ["https://id.example.com"]                 # optional
/// leeway = "30s"                                      # clock skew allowed on exp and nbf
/// anonymous = ["grpc.health.v1.Health.Check"]         # methods callable without a token
/// ```
#[cfg(feature = "jwt")]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// The one algorithm tokens may be signed with.
    pub algorithm: Algorithm,
    /// The key that verifies them.
    pub key: JwtKeyConfig,
    /// The audiences accepted: a token's `aud` must name one of them.
    pub audience: Vec<String>,
    /// The issuers accepted (`iss`); any issuer if empty.
    #[serde(default)]
    pub issuer: Vec<String>,
    /// The clock skew allowed when checking `exp` and `nbf` (30 s by default).
    #[serde(default = "default_leeway", with = "crate::duration")]
    pub leeway: Duration,
    /// Methods (`method` or `Service.method`) that may be called without a token; a token
    /// sent to them is still checked.
    #[serde(default)]
    pub anonymous: Vec<String>,
}

#[cfg(feature = "jwt")]
fn default_leeway() -> Duration {
    Duration::from_secs(30)
}

/// Where a [`JwtConfig`]'s key comes from. Secrets come from files or the environment, never
/// from the configuration itself; public keys may be written in it.
#[cfg(feature = "jwt")]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum JwtKeyConfig {
    /// An HMAC secret (`HS256`, `HS384`, `HS512`): `{ secret = { env = "JWT_SECRET" } }`.
    Secret(SecretSource),
    /// A public key PEM (RSA, EC, Ed25519) in a file.
    PublicKeyFile(std::path::PathBuf),
    /// A public key PEM, written out.
    PublicKeyPem(String),
    /// A JSON Web Key Set in a file.
    JwksFile(std::path::PathBuf),
    /// A JSON Web Key Set, written out as JSON text.
    Jwks(String),
}

#[cfg(feature = "jwt")]
impl JwtKeyConfig {
    /// Reads the key for `algorithm`.
    pub fn load(&self, algorithm: Algorithm) -> Result<JwtKey, AuthError> {
        let read = |path: &std::path::Path| {
            std::fs::read(path)
                .map_err(|e| AuthError::new(format!("reading {}: {e}", path.display())))
        };
        match self {
            JwtKeyConfig::Secret(source) => JwtKey::hmac(algorithm, source.read()?.expose()),
            JwtKeyConfig::PublicKeyFile(path) => JwtKey::public_pem(algorithm, read(path)?),
            JwtKeyConfig::PublicKeyPem(pem) => JwtKey::public_pem(algorithm, pem),
            JwtKeyConfig::JwksFile(path) => JwtKey::jwks(algorithm, read(path)?),
            JwtKeyConfig::Jwks(json) => JwtKey::jwks(algorithm, json),
        }
    }
}

/// Wraps a server's service in [`Jwt`]: every call must carry a valid token.
#[cfg(feature = "jwt")]
#[derive(Clone, Debug)]
pub struct JwtLayer {
    verifier: Arc<Verifier>,
    anonymous: Arc<MethodMap<bool>>,
    audience: Vec<String>,
    issuer: Vec<String>,
    leeway: Duration,
}

#[cfg(feature = "jwt")]
impl JwtLayer {
    /// Calls must carry a token verified by `key`, with its algorithm, meant for one of
    /// `audience` (its `aud`), and not expired (its `exp`, required, with 30 s of leeway).
    ///
    /// ```
    /// use rookery_middleware::auth::{Algorithm, JwtKey, JwtLayer};
    ///
    /// # fn build(public_pem: &[u8]) -> Result<JwtLayer, rookery_middleware::auth::AuthError> {
    /// let key = JwtKey::public_pem(Algorithm::ES256, public_pem)?;
    /// let layer = JwtLayer::new(key, ["orders"]).issuer("https://id.example.com");
    /// # Ok(layer)
    /// # }
    /// ```
    pub fn new<A>(key: JwtKey, audience: impl IntoIterator<Item = A>) -> JwtLayer
    where
        A: Into<String>,
    {
        let audience: Vec<String> = audience.into_iter().map(Into::into).collect();
        let leeway = default_leeway();
        JwtLayer {
            verifier: Arc::new(Verifier::new(key, &audience, &[], leeway)),
            anonymous: Arc::new(MethodMap::new(false)),
            audience,
            issuer: Vec::new(),
            leeway,
        }
    }

    /// Tokens must also come from `issuer` (their `iss`); called again, issuers add up.
    pub fn issuer(mut self, issuer: impl Into<String>) -> JwtLayer {
        self.issuer.push(issuer.into());
        self.rebuild()
    }

    /// The clock skew allowed when checking `exp` and `nbf` (30 s by default; whole seconds).
    pub fn leeway(mut self, leeway: Duration) -> JwtLayer {
        self.leeway = leeway;
        self.rebuild()
    }

    /// `method` (or `Service.method`) may be called without a token, for health checks and
    /// the like; a token sent with it is still checked, and gives the call its identity.
    pub fn allow_anonymous(mut self, method: impl Into<String>) -> JwtLayer {
        self.anonymous = Arc::new(Arc::unwrap_or_clone(self.anonymous).method(method, true));
        self
    }

    /// The layer `config` describes; an error if its key cannot be read or does not fit its
    /// algorithm, or if it names no audience.
    pub fn from_config(config: &JwtConfig) -> Result<JwtLayer, AuthError> {
        if config.audience.is_empty() {
            return Err(AuthError::new(
                "the JWT configuration names no audience: tokens must be meant for this service",
            ));
        }
        let key = config.key.load(config.algorithm)?;
        let mut layer = JwtLayer::new(key, config.audience.iter().cloned());
        layer.issuer = config.issuer.clone();
        layer.leeway = config.leeway;
        for method in &config.anonymous {
            layer = layer.allow_anonymous(method.clone());
        }
        Ok(layer.rebuild())
    }

    fn rebuild(mut self) -> JwtLayer {
        let key = self.verifier.key().clone();
        self.verifier = Arc::new(Verifier::new(
            key,
            &self.audience,
            &self.issuer,
            self.leeway,
        ));
        self
    }
}

#[cfg(feature = "jwt")]
impl<S> Layer<S> for JwtLayer {
    type Service = Jwt<S>;

    fn layer(&self, inner: S) -> Jwt<S> {
        Jwt::new(
            inner,
            Arc::clone(&self.verifier),
            Arc::clone(&self.anonymous),
        )
    }
}

/// How a client attaches its token, as a configuration file says it.
///
/// ```toml
/// [auth.token]
/// token = { file = "/var/run/secrets/tokens/orders" }  # or { env = "ORDERS_TOKEN" }
/// reload = "60s"      # how often the file or variable is read again (unless the token is
///                     # a JWT whose exp says when)
/// overwrite = false   # keep an authorization the caller set
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationConfig {
    /// Where the token is read from.
    pub token: SecretSource,
    /// How long a token read is used before it is read again, unless it is a JWT whose `exp`
    /// says otherwise (60 s by default): a rotated token file is picked up.
    #[serde(default = "default_reload", with = "crate::duration")]
    pub reload: Duration,
    /// Whether the token replaces an `authorization` the caller set (no by default).
    #[serde(default)]
    pub overwrite: bool,
}

fn default_reload() -> Duration {
    Duration::from_secs(60)
}

/// Wraps a client in [`AddAuthorization`]: each call carries `authorization: Bearer
/// <token>` in its metadata (gRPC's header, TTHeader's string info), unless the caller set an
/// `authorization` of its own.
#[derive(Clone, Debug)]
pub struct AddAuthorizationLayer {
    tokens: Tokens,
    overwrite: bool,
}

impl AddAuthorizationLayer {
    /// Every call carries `token`.
    pub fn bearer(token: impl Into<FastStr>) -> AddAuthorizationLayer {
        let header = FastStr::from_string(format!("Bearer {}", token.into()));
        AddAuthorizationLayer {
            tokens: Tokens::Static(header),
            overwrite: false,
        }
    }

    /// Every call carries the token `source` gives it then: a [`Refreshing`] source, or any
    /// `Fn() -> impl Future<Output = Result<FastStr, Status>>`.
    pub fn source(source: impl TokenSource) -> AddAuthorizationLayer {
        AddAuthorizationLayer {
            tokens: Tokens::Source(Arc::new(source)),
            overwrite: false,
        }
    }

    /// Whether the token replaces an `authorization` the caller set in the call's metadata
    /// (no by default: the caller's wins, as when it passes on its own caller's token).
    pub fn overwrite(mut self, overwrite: bool) -> AddAuthorizationLayer {
        self.overwrite = overwrite;
        self
    }

    /// The layer `config` describes: its token read now (an error if it cannot be), and again
    /// when it expires or its reload interval passes.
    pub fn from_config(config: &AuthorizationConfig) -> Result<AddAuthorizationLayer, AuthError> {
        let read = {
            let source = config.token.clone();
            let reload = config.reload;
            move || -> Result<Token, AuthError> {
                let secret = source.read()?;
                let text = std::str::from_utf8(secret.expose())
                    .map_err(|_| AuthError::new(format!("the token from {source} is not text")))?;
                let token = Token::new(FastStr::new(text.trim()));
                Ok(if token.has_expiry() {
                    token
                } else {
                    token.valid_for(reload)
                })
            }
        };
        // Read now, so that a missing token fails at start, not on the first call.
        let first = read()?;
        let source = Refreshing::new(move || {
            let token = read().map_err(|e| Status::unauthenticated(e.to_string()));
            async move { token }
        })
        .seeded(first);
        Ok(AddAuthorizationLayer::source(source).overwrite(config.overwrite))
    }
}

impl<S> Layer<S> for AddAuthorizationLayer {
    type Service = AddAuthorization<S>;

    fn layer(&self, inner: S) -> AddAuthorization<S> {
        AddAuthorization::new(inner, self.tokens.clone(), self.overwrite)
    }
}
