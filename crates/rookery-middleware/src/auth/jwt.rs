//! JSON Web Tokens: the algorithm a server accepts, its keys, the check of one token, and the
//! identity a valid token gives the call.

use std::{
    collections::HashMap,
    fmt,
    sync::Arc,
    time::{Duration, SystemTime},
};

use base64::Engine;
use jsonwebtoken::{
    DecodingKey, Validation,
    errors::ErrorKind,
    jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm, PublicKeyUse},
};
use rookery_core::Context;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use super::AuthError;

/// The one signature algorithm a server accepts ("pinned"): a token whose header names any
/// other (`none` included) is refused before its signature is looked at, so a token signed
/// with HMAC using a public key as the secret never passes for an RSA or EC one.
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// HMAC with SHA-256 (a shared secret).
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (an RSA public key).
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256 (an EC public key).
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

/// The kinds of key the algorithms take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Hmac,
    Rsa,
    Ec,
    Ed,
}

impl Algorithm {
    /// The name tokens carry in their header's `alg`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    fn family(self) -> Family {
        match self {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Family::Hmac,
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => Family::Rsa,
            Algorithm::ES256 | Algorithm::ES384 => Family::Ec,
            Algorithm::EdDSA => Family::Ed,
        }
    }

    fn to_jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        use jsonwebtoken::Algorithm as A;
        match self {
            Algorithm::HS256 => A::HS256,
            Algorithm::HS384 => A::HS384,
            Algorithm::HS512 => A::HS512,
            Algorithm::RS256 => A::RS256,
            Algorithm::RS384 => A::RS384,
            Algorithm::RS512 => A::RS512,
            Algorithm::PS256 => A::PS256,
            Algorithm::PS384 => A::PS384,
            Algorithm::PS512 => A::PS512,
            Algorithm::ES256 => A::ES256,
            Algorithm::ES384 => A::ES384,
            Algorithm::EdDSA => A::EdDSA,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The key (or keys) that verify tokens, with the algorithm they are for: an HMAC secret, a
/// public key in PEM, or a JSON Web Key Set whose keys tokens pick by their `kid`. Its `Debug`
/// shows the algorithm and key ids, never key material.
#[derive(Clone)]
pub struct JwtKey {
    algorithm: Algorithm,
    keys: Arc<Keys>,
}

enum Keys {
    /// One key, whatever `kid` a token names.
    Single(DecodingKey),
    /// Keys by `kid`.
    Set(HashMap<String, DecodingKey>),
}

impl JwtKey {
    /// An HMAC secret, for `HS256`, `HS384` or `HS512`.
    pub fn hmac(algorithm: Algorithm, secret: impl AsRef<[u8]>) -> Result<JwtKey, AuthError> {
        if algorithm.family() != Family::Hmac {
            return Err(AuthError::new(format!(
                "{algorithm} verifies with a public key, not an HMAC secret"
            )));
        }
        let secret = secret.as_ref();
        if secret.is_empty() {
            return Err(AuthError::new("the HMAC secret is empty"));
        }
        Ok(JwtKey::single(algorithm, DecodingKey::from_secret(secret)))
    }

    /// A public key in PEM (`BEGIN PUBLIC KEY`, or `BEGIN RSA PUBLIC KEY`), or a certificate
    /// holding one, for the RSA, EC or Ed25519 algorithm given.
    pub fn public_pem(algorithm: Algorithm, pem: impl AsRef<[u8]>) -> Result<JwtKey, AuthError> {
        let pem = pem.as_ref();
        let key = match algorithm.family() {
            Family::Hmac => {
                return Err(AuthError::new(format!(
                    "{algorithm} verifies with an HMAC secret, not a public key"
                )));
            }
            Family::Rsa => DecodingKey::from_rsa_pem(pem),
            Family::Ec => DecodingKey::from_ec_pem(pem),
            Family::Ed => DecodingKey::from_ed_pem(pem),
        }
        .map_err(|e| AuthError::new(format!("the {algorithm} public key PEM: {e}")))?;
        Ok(JwtKey::single(algorithm, key))
    }

    /// The keys of a JSON Web Key Set (`{"keys": [...]}`) that fit `algorithm`: keys for
    /// signatures (not `"use": "enc"`), of its kind, whose `alg`, if given, is `algorithm`,
    /// with a `kid` unless the set holds just one. Other keys are left out; an error if none
    /// is left.
    pub fn jwks(algorithm: Algorithm, json: impl AsRef<[u8]>) -> Result<JwtKey, AuthError> {
        let set: JwkSet = serde_json::from_slice(json.as_ref())
            .map_err(|e| AuthError::new(format!("the JSON Web Key Set: {e}")))?;
        let fits = |jwk: &&jsonwebtoken::jwk::Jwk| {
            let family = match &jwk.algorithm {
                AlgorithmParameters::OctetKey(_) => Family::Hmac,
                AlgorithmParameters::RSA(_) => Family::Rsa,
                AlgorithmParameters::EllipticCurve(_) => Family::Ec,
                AlgorithmParameters::OctetKeyPair(_) => Family::Ed,
            };
            let alg_fits = match jwk.common.key_algorithm {
                None => true,
                Some(alg) => key_algorithm_name(alg) == Some(algorithm.as_str()),
            };
            family == algorithm.family()
                && alg_fits
                && jwk.common.public_key_use != Some(PublicKeyUse::Encryption)
        };
        let fitting: Vec<_> = set.keys.iter().filter(fits).collect();
        let decode = |jwk: &jsonwebtoken::jwk::Jwk| {
            DecodingKey::from_jwk(jwk).map_err(|e| {
                let kid = jwk.common.key_id.as_deref().unwrap_or("without kid");
                AuthError::new(format!("the JSON Web Key {kid}: {e}"))
            })
        };
        match fitting.as_slice() {
            [] => Err(AuthError::new(format!(
                "the JSON Web Key Set has no key for {algorithm} ({} keys in all)",
                set.keys.len()
            ))),
            [only] if only.common.key_id.is_none() => Ok(JwtKey::single(algorithm, decode(only)?)),
            many => {
                let mut keys = HashMap::new();
                for jwk in many {
                    let Some(kid) = &jwk.common.key_id else {
                        // A key no token can name: tokens must say which key signed them.
                        continue;
                    };
                    keys.insert(kid.clone(), decode(jwk)?);
                }
                Ok(JwtKey {
                    algorithm,
                    keys: Arc::new(Keys::Set(keys)),
                })
            }
        }
    }

    /// The algorithm tokens must be signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    fn single(algorithm: Algorithm, key: DecodingKey) -> JwtKey {
        JwtKey {
            algorithm,
            keys: Arc::new(Keys::Single(key)),
        }
    }

    /// The key for a token whose header names `kid`.
    fn find(&self, kid: Option<&str>) -> Result<&DecodingKey, Refusal> {
        match (&*self.keys, kid) {
            (Keys::Single(key), _) => Ok(key),
            (Keys::Set(keys), Some(kid)) => keys
                .get(kid)
                .ok_or_else(|| Refusal::new(format!("the token's key id {kid:?} is not known"))),
            (Keys::Set(_), None) => Err(Refusal::new(
                "the token names no key id (kid), and the server has several keys",
            )),
        }
    }
}

/// The `alg` of a JSON Web Key, as tokens name algorithms.
fn key_algorithm_name(alg: KeyAlgorithm) -> Option<&'static str> {
    Some(match alg {
        KeyAlgorithm::HS256 => "HS256",
        KeyAlgorithm::HS384 => "HS384",
        KeyAlgorithm::HS512 => "HS512",
        KeyAlgorithm::ES256 => "ES256",
        KeyAlgorithm::ES384 => "ES384",
        KeyAlgorithm::RS256 => "RS256",
        KeyAlgorithm::RS384 => "RS384",
        KeyAlgorithm::RS512 => "RS512",
        KeyAlgorithm::PS256 => "PS256",
        KeyAlgorithm::PS384 => "PS384",
        KeyAlgorithm::PS512 => "PS512",
        KeyAlgorithm::EdDSA => "EdDSA",
        _ => return None,
    })
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("JwtKey");
        s.field("algorithm", &self.algorithm);
        match &*self.keys {
            Keys::Single(_) => s.field("key", &"<redacted>"),
            Keys::Set(keys) => {
                let mut ids: Vec<&str> = keys.keys().map(String::as_str).collect();
                ids.sort_unstable();
                s.field("key_ids", &ids)
            }
        };
        s.finish()
    }
}

/// Why a token was refused: said to the caller in an `UNAUTHENTICATED` status.
#[derive(Debug)]
pub(super) struct Refusal(String);

impl Refusal {
    fn new(reason: impl Into<String>) -> Refusal {
        Refusal(reason.into())
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The largest token looked at: far above what identity providers issue, low enough that a
/// caller cannot make the server decode megabytes.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// What a server checks of each token: signature by the key with the pinned algorithm,
/// expiry, audience and, if set, issuer.
pub(super) struct Verifier {
    key: JwtKey,
    validation: Validation,
}

impl Verifier {
    pub(super) fn new(
        key: JwtKey,
        audience: &[String],
        issuer: &[String],
        leeway: Duration,
    ) -> Verifier {
        let mut validation = Validation::new(key.algorithm.to_jsonwebtoken());
        validation.leeway = leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_audience(audience);
        let mut required = vec!["exp", "aud"];
        if !issuer.is_empty() {
            validation.set_issuer(issuer);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        Verifier { key, validation }
    }

    pub(super) fn key(&self) -> &JwtKey {
        &self.key
    }

    /// Checks `token`, and gives the identity it proves.
    pub(super) fn verify(&self, token: &str) -> Result<Identity, Refusal> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(Refusal::new(format!(
                "the token is longer than {MAX_TOKEN_LEN} bytes"
            )));
        }
        let header = read_header(token)?;
        let pinned = self.key.algorithm;
        if header.alg != pinned.as_str() {
            return Err(Refusal::new(format!(
                "the token is signed with {:?}; this server accepts only {pinned}",
                header.alg
            )));
        }
        let key = self.key.find(header.kid.as_deref())?;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, key, &self.validation)
            .map_err(|e| Refusal::new(describe(e.kind())))?;
        Ok(Identity::from_claims(data.claims))
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("key", &self.key)
            .field("audience", &self.validation.aud)
            .field("issuer", &self.validation.iss)
            .field("leeway_secs", &self.validation.leeway)
            .finish()
    }
}

/// The part of a token's header looked at before anything else.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

fn read_header(token: &str) -> Result<Header, Refusal> {
    let malformed = |why: &str| Refusal::new(format!("the token is not a JWT: {why}"));
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("it does not have three dot-separated parts"));
    };
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .map_err(|_| malformed("its header is not base64url"))?;
    serde_json::from_slice(&json).map_err(|_| malformed("its header is not JSON with an alg"))
}

/// What a failed check says to the caller.
fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".into(),
        ErrorKind::InvalidAudience => "the token is not meant for this service (aud)".into(),
        ErrorKind::InvalidIssuer => "the token's issuer is not accepted (iss)".into(),
        ErrorKind::InvalidSignature => "the token's signature does not verify".into(),
        ErrorKind::InvalidAlgorithm => "the token's algorithm does not fit the key".into(),
        ErrorKind::MissingRequiredClaim(claim) => {
            format!("the token has no {claim:?} claim, which this service requires")
        }
        ErrorKind::InvalidClaimFormat(claim) => format!("the token's {claim:?} claim is malformed"),
        ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_)
        | ErrorKind::InvalidToken => "the token is not a well-formed JWT".into(),
        other => format!("the token does not verify ({other:?})"),
    }
}

/// Who is calling, as a verified token says: in the extensions of the call's
/// [`Context`] for the handler (see [`of`](Identity::of)).
///
/// ```
/// # use rookery_core::Context;
/// # use rookery_middleware::auth::Identity;
/// fn owner(cx: &Context) -> Option<&str> {
///     Identity::of(cx)?.subject()
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Identity {
    subject: Option<String>,
    issuer: Option<String>,
    audience: Vec<String>,
    expires_at: Option<SystemTime>,
    claims: Claims,
}

impl Identity {
    fn from_claims(claims: Map<String, Value>) -> Identity {
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(String::from);
        let audience = match claims.get("aud") {
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(many)) => many
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        };
        let expires_at = claims
            .get("exp")
            .and_then(Value::as_u64)
            .and_then(|secs| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs)));
        Identity {
            subject: text("sub"),
            issuer: text("iss"),
            audience,
            expires_at,
            claims: Claims(Arc::new(claims)),
        }
    }

    /// The identity of the caller of the call of `cx`, if a JWT layer verified one.
    pub fn of(cx: &Context) -> Option<&Identity> {
        cx.extensions().get::<Identity>()
    }

    /// Who the token was issued to (`sub`).
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// Who issued it (`iss`).
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// Whom it is meant for (`aud`).
    pub fn audience(&self) -> &[String] {
        &self.audience
    }

    /// When it expires (`exp`).
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// Every claim of the token.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }
}

/// The claims of a verified token, as JSON. Clones share them.
#[derive(Clone, Debug, PartialEq)]
pub struct Claims(Arc<Map<String, Value>>);

impl Claims {
    /// The claim `name`, if present.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// The claim `name`, if present and a string.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    /// Every claim.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The claims as a type of the application's (say, with its `roles` and `tenant`).
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&Value::Object(Map::clone(&self.0)))
    }
}
