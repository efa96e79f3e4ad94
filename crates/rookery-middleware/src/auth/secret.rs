//! Secrets in configuration: read from a file or an environment variable, never written in
//! the configuration itself, and never printed.

use std::{fmt, path::PathBuf, sync::Arc};

use serde::{Deserialize, Serialize};

/// Where a secret (an HMAC key, a bearer token) is read from. A configuration names the place,
/// not the secret, so the configuration can be shown, logged and committed:
///
/// ```toml
/// secret = { env = "JWT_SECRET" }
/// # or
/// secret = { file = "/run/secrets/jwt" }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SecretSource {
    /// The contents of a file, without a trailing line break (a mounted secret, a rotated
    /// service-account token).
    File(PathBuf),
    /// The value of an environment variable.
    Env(String),
}

impl SecretSource {
    /// Reads the secret now. An error names the file or variable, never its contents; an
    /// empty secret is an error.
    pub fn read(&self) -> Result<Secret, AuthError> {
        let mut bytes = match self {
            SecretSource::File(path) => std::fs::read(path).map_err(|e| {
                AuthError::new(format!("reading the secret file {}: {e}", path.display()))
            })?,
            SecretSource::Env(name) => std::env::var_os(name)
                .ok_or_else(|| {
                    AuthError::new(format!("the environment variable {name} is not set"))
                })?
                .into_encoded_bytes(),
        };
        // Files written by editors and `echo` end with a line break that is not part of the
        // secret.
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        if bytes.is_empty() {
            return Err(AuthError::new(format!("the secret from {self} is empty")));
        }
        Ok(Secret(bytes.into()))
    }
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::File(path) => write!(f, "file {}", path.display()),
            SecretSource::Env(name) => write!(f, "environment variable {name}"),
        }
    }
}

/// Secret bytes. Its `Debug` shows nothing of them, so a secret in a struct that is logged
/// stays secret. Clones share the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<[u8]>);

impl Secret {
    /// Wraps `bytes`.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Secret {
        Secret(bytes.into().into())
    }

    /// The bytes, for the code that uses them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// An authentication setting that cannot be used: a secret that cannot be read, a key that
/// does not parse or does not fit its algorithm. Its message never holds secret material.
#[derive(Clone, Debug)]
pub struct AuthError {
    message: String,
}

impl AuthError {
    pub(crate) fn new(message: impl Into<String>) -> AuthError {
        AuthError {
            message: message.into(),
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AuthError {}
