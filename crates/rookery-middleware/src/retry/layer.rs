use std::{collections::HashMap, fmt, sync::Arc, time::Duration};

use rookery_core::Layer;
use serde::{Deserialize, Serialize};

use super::{
    Backoff, Backup, Retry, RetryBudget, RetryPolicy, hedge::Latencies, policy::parse_code,
};
use crate::MethodMap;

/// Wraps services in [`Retry`]. Every service it wraps, and every clone of it, shares one
/// [`RetryBudget`] and one record of latencies: one layer is one client.
///
/// ```
/// use std::time::Duration;
/// use rookery_middleware::retry::{Backup, RetryBudget, RetryLayer, RetryPolicy};
///
/// let retries = RetryLayer::new()
///     .budget(RetryBudget::new(0.2, 10, Duration::from_secs(10)))
///     .method("get", RetryPolicy::new().idempotent().backup(Backup::percentile(99.0)))
///     .method("Bank.transfer", RetryPolicy::never());
/// ```
#[derive(Clone, Debug)]
pub struct RetryLayer {
    shared: Arc<Shared>,
}

/// What the layer and the services it wrapped share.
#[derive(Clone, Debug)]
pub(super) struct Shared {
    pub(super) policies: MethodMap<RetryPolicy>,
    pub(super) budget: RetryBudget,
    pub(super) latencies: Arc<Latencies>,
}

impl Default for RetryLayer {
    fn default() -> Self {
        RetryLayer::new()
    }
}

impl RetryLayer {
    /// The default policy for every method (3 attempts, only for calls that never left) and
    /// the default budget (20% of calls plus 10 a second, over 10 seconds).
    pub fn new() -> Self {
        RetryLayer::with(
            MethodMap::new(RetryPolicy::default()),
            RetryBudget::default(),
        )
    }

    /// Methods not given their own policy get `policy`.
    pub fn policy(self, policy: RetryPolicy) -> Self {
        self.change(|shared| shared.policies.default = policy)
    }

    /// `method` (or `Service.method`) gets `policy`.
    pub fn method(self, method: impl Into<String>, policy: RetryPolicy) -> Self {
        self.change(|shared| {
            let policies = std::mem::take(&mut shared.policies);
            shared.policies = policies.method(method, policy);
        })
    }

    /// Retries draw on `budget` (which other layers may share).
    pub fn budget(self, budget: RetryBudget) -> Self {
        self.change(|shared| shared.budget = budget)
    }

    /// The policies and budget `config` sets; an error names what is wrong in it.
    pub fn from_config(config: &RetryConfig) -> Result<Self, RetryConfigError> {
        let budget = config.budget.build()?;
        let default = config.default.apply("default", RetryPolicy::default())?;
        let mut policies = MethodMap::new(default.clone());
        for (method, policy) in &config.methods {
            let policy = policy.apply(method, default.clone())?;
            policies = policies.method(method.clone(), policy);
        }
        Ok(RetryLayer::with(policies, budget))
    }

    fn with(policies: MethodMap<RetryPolicy>, budget: RetryBudget) -> Self {
        RetryLayer {
            shared: Arc::new(Shared {
                policies,
                budget,
                latencies: Arc::default(),
            }),
        }
    }

    fn change(self, f: impl FnOnce(&mut Shared)) -> Self {
        let mut shared = Arc::unwrap_or_clone(self.shared);
        f(&mut shared);
        RetryLayer {
            shared: Arc::new(shared),
        }
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;

    fn layer(&self, inner: S) -> Retry<S> {
        Retry::new(inner, Arc::clone(&self.shared))
    }
}

/// Retries as a configuration file says them.
///
/// ```toml
/// [retry]
/// budget = { ratio = 0.2, min_per_second = 10, window = "10s" }
/// default = { max_attempts = 3, backoff = { base = "25ms", cap = "250ms", jitter = "full" } }
/// methods.get = { idempotent = true, retry_on = ["UNAVAILABLE", "DEADLINE_EXCEEDED"] }
/// methods."Search.query" = { idempotent = true, backup = { percentile = 99, min = "5ms" } }
/// methods."Bank.transfer" = { max_attempts = 1 }
/// ```
///
/// A method's entry changes only what it names: the rest comes from `default`, and what
/// `default` leaves out from [`RetryPolicy::default`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// The budget every retry and backup request of the client draws on.
    #[serde(default)]
    pub budget: BudgetConfig,
    /// The policy of methods not listed.
    #[serde(default)]
    pub default: RetryPolicyConfig,
    /// What single methods change, by `method` or `Service.method`.
    #[serde(default)]
    pub methods: HashMap<String, RetryPolicyConfig>,
}

/// A [`RetryBudget`] in a configuration file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// Retries as a share of calls (0.2: 20%).
    pub ratio: f64,
    /// Retries allowed each second whatever the calls.
    pub min_per_second: u32,
    /// The window over which calls and retries count (at least one second).
    #[serde(with = "crate::duration")]
    pub window: Duration,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            ratio: 0.2,
            min_per_second: 10,
            window: Duration::from_secs(10),
        }
    }
}

impl BudgetConfig {
    fn build(&self) -> Result<RetryBudget, RetryConfigError> {
        if !(self.ratio.is_finite() && (0.0..=1000.0).contains(&self.ratio)) {
            return Err(RetryConfigError::new(format!(
                "budget: ratio {} is not between 0 and 1000 (0.2 is 20% of calls)",
                self.ratio
            )));
        }
        if self.window < Duration::from_secs(1) {
            return Err(RetryConfigError::new(format!(
                "budget: window {} is shorter than 1s",
                crate::duration::format(self.window)
            )));
        }
        Ok(RetryBudget::new(
            self.ratio,
            self.min_per_second,
            self.window,
        ))
    }
}

/// A [`RetryPolicy`] in a configuration file, each field optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicyConfig {
    /// Attempts in all, counting the first (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// The wait before each retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    /// Whether the method may be called twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent: Option<bool>,
    /// Status codes to retry on, by name (`UNAVAILABLE`) or number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_on: Option<Vec<String>>,
    /// Backup requests; an empty table turns them off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupConfig>,
}

impl RetryPolicyConfig {
    /// `base` with what this entry sets.
    fn apply(&self, name: &str, base: RetryPolicy) -> Result<RetryPolicy, RetryConfigError> {
        let mut policy = base;
        if let Some(attempts) = self.max_attempts {
            if attempts == 0 {
                return Err(RetryConfigError::new(format!(
                    "{name}: max_attempts is 0; 1 is a call without retries"
                )));
            }
            policy.max_attempts = attempts;
        }
        if let Some(backoff) = self.backoff {
            policy.backoff = backoff;
        }
        if let Some(idempotent) = self.idempotent {
            policy.idempotent = idempotent;
        }
        if let Some(codes) = &self.retry_on {
            policy.retry_on = codes
                .iter()
                .map(|code| {
                    parse_code(code).ok_or_else(|| {
                        RetryConfigError::new(format!(
                            "{name}: retry_on: {code:?} is not a status code (UNAVAILABLE, \
                             DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED...)"
                        ))
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(backup) = &self.backup {
            policy.backup = backup.build(name)?;
        }
        if policy.backup.is_some() && !policy.idempotent {
            return Err(RetryConfigError::new(format!(
                "{name}: a backup request sends the call twice; mark the method idempotent"
            )));
        }
        Ok(policy)
    }
}

/// A [`Backup`] in a configuration file: `{ after = "50ms" }`, or
/// `{ percentile = 99, min = "5ms" }`; `{}` for none.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// A fixed delay.
    #[serde(
        default,
        with = "crate::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub after: Option<Duration>,
    /// The observed latency percentile to wait (`99` for p99).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentile: Option<f64>,
    /// The shortest delay of a percentile backup (1 ms by default).
    #[serde(
        default,
        with = "crate::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub min: Option<Duration>,
}

impl BackupConfig {
    fn build(&self, name: &str) -> Result<Option<Backup>, RetryConfigError> {
        match (self.after, self.percentile) {
            (None, None) if self.min.is_none() => Ok(None),
            (Some(after), None) if self.min.is_none() => Ok(Some(Backup::after(after))),
            (None, Some(p)) if p > 0.0 && p <= 100.0 => {
                let backup = Backup::percentile(p);
                Ok(Some(match self.min {
                    Some(min) => backup.min_delay(min),
                    None => backup,
                }))
            }
            (None, Some(p)) => Err(RetryConfigError::new(format!(
                "{name}: backup percentile {p} is not above 0 and at most 100"
            ))),
            _ => Err(RetryConfigError::new(format!(
                "{name}: a backup is sent either `after` a delay or at a `percentile` \
                 (with its `min`), not both"
            ))),
        }
    }
}

/// What is wrong in a [`RetryConfig`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryConfigError {
    message: String,
}

impl RetryConfigError {
    fn new(message: String) -> Self {
        RetryConfigError { message }
    }
}

impl fmt::Display for RetryConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "retry configuration: {}", self.message)
    }
}

impl std::error::Error for RetryConfigError {}
