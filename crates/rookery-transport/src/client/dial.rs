//! Connecting, with a connect timeout and exponential backoff with jitter between failures.

use std::time::{Duration, Instant};

use rookery_core::Status;

use super::Config;
use crate::Stream;

/// Backoff between failed connection attempts: exponential from `base` up to `max`, each delay
/// drawn at random from its upper half so that clients that failed together do not retry
/// together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The delay after the first failure.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// The delay after `failures` consecutive failures (at least 1).
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        let full = self.base.saturating_mul(1u32 << exp).min(self.max);
        let half = full / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// The dialling state of one address: consecutive failures and when the next attempt may be
/// made.
#[derive(Debug, Default)]
pub(crate) struct DialState {
    failures: u32,
    retry_at: Option<Instant>,
}

impl DialState {
    /// Connects to the client's address (and shakes hands over TLS when the client has it)
    /// within `timeout`, unless a backoff is in force; failures start or extend the backoff.
    /// Every error is marked unsent: no call was written.
    pub(crate) async fn connect(
        &mut self,
        config: &Config,
        timeout: Duration,
    ) -> Result<Stream, Status> {
        let addr = &config.addr;
        if let Some(at) = self.retry_at {
            let now = Instant::now();
            if now < at {
                return Err(Status::unavailable(format!(
                    "{addr} unreachable after {} attempts; next attempt in {:?}",
                    self.failures,
                    at - now
                ))
                .with_unsent());
            }
        }
        let open = async {
            let stream = addr.connect().await.map_err(|e| {
                Status::unavailable(format!("connecting to {addr}: {e}")).with_source(e)
            })?;
            #[cfg(feature = "tls")]
            if let Some(tls) = &config.tls {
                return tls.connect(stream, addr).await;
            }
            Ok(stream)
        };
        let outcome = match tokio::time::timeout(timeout, open).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Status::unavailable(format!(
                "connecting to {addr}: no answer within {timeout:?}"
            ))),
        };
        match outcome {
            Ok(stream) => {
                self.failures = 0;
                self.retry_at = None;
                Ok(stream)
            }
            Err(status) => {
                self.failures = self.failures.saturating_add(1);
                let delay = config.backoff.delay(self.failures);
                self.retry_at = Some(Instant::now() + delay);
                tracing::debug!(%addr, failures = self.failures, ?delay, %status, "connect failed");
                Err(status.with_unsent())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Address;

    #[test]
    fn backoff_grows_to_its_cap_with_jitter_in_the_upper_half() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        for (failures, full) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (5, 1600),
            (6, 2000),
            (40, 2000),
        ] {
            for _ in 0..50 {
                let d = b.delay(failures);
                let full = Duration::from_millis(full);
                assert!(d >= full / 2 && d <= full, "{failures}: {d:?}");
            }
        }
    }

    #[tokio::test]
    async fn failures_back_off_and_fail_fast_meanwhile() {
        // A port nobody listens on: bind, learn the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: Address = format!("127.0.0.1:{port}").parse().unwrap();
        let mut state = DialState::default();
        let backoff = Backoff {
            base: Duration::from_secs(60),
            max: Duration::from_secs(60),
        };
        let config = crate::Client::builder(addr).backoff(backoff).config;
        let first = state
            .connect(&config, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(first.is_unsent());
        assert!(first.message().contains("connecting to"), "{first}");
        let second = state
            .connect(&config, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(second.message().contains("next attempt in"), "{second}");
        assert!(second.is_unsent());
    }
}
