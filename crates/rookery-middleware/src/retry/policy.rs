//! What a method's calls may be retried on, how often, and when it is safe.

use std::time::Duration;

use rookery_core::{Code, Metadata, Status};

use super::{Backoff, Backup};

/// The response metadata key by which a server asks its clients to wait before retrying
/// (gRPC's, from its retry design A6): a number of milliseconds; a negative or malformed
/// value means "do not retry".
pub const PUSHBACK_KEY: &str = "grpc-retry-pushback-ms";

/// How the calls of one method are retried.
///
/// A retry is made only when it is safe:
/// - the call never left this process ([`Status::is_unsent`]: the connection was refused, the
///   instance was draining, the stream was refused) and failed `UNAVAILABLE` or with a code
///   of `retry_on`: whatever the method, the server never saw it;
/// - or the method is marked [`idempotent`](RetryPolicy::idempotent) and the call failed with
///   a code of [`retry_on`](RetryPolicy::retry_on) (`UNAVAILABLE` by default; add
///   `DEADLINE_EXCEEDED` to retry calls that timed out).
///
/// A call that was sent and failed (timed out, or any error) on a method not marked
/// idempotent is never retried: the server may have acted on it. Streaming calls (whose
/// request cannot be copied) are never retried.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// How many attempts a call may take in all, counting the first and backup requests (3
    /// by default; 1 turns retries off).
    pub max_attempts: u32,
    /// The wait before each retry (25 ms doubling to 250 ms, full jitter, by default).
    pub backoff: Backoff,
    /// Whether calling the method twice does no more than calling it once, so a call that
    /// reached the server may be sent again (`false` by default).
    pub idempotent: bool,
    /// The codes an idempotent method is retried on, and an unsent call besides
    /// `UNAVAILABLE` (`[UNAVAILABLE]` by default).
    pub retry_on: Vec<Code>,
    /// When to send a backup request, for idempotent methods (none by default).
    pub backup: Option<Backup>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            backoff: Backoff::default(),
            idempotent: false,
            retry_on: vec![Code::Unavailable],
            backup: None,
        }
    }
}

impl RetryPolicy {
    /// The default policy: 3 attempts, retrying only calls that never left.
    pub fn new() -> RetryPolicy {
        RetryPolicy::default()
    }

    /// No retries and no backup requests.
    pub fn never() -> RetryPolicy {
        RetryPolicy::default().max_attempts(1)
    }

    /// At most `attempts` attempts per call (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> RetryPolicy {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Waits `backoff` before each retry.
    pub fn backoff(mut self, backoff: Backoff) -> RetryPolicy {
        self.backoff = backoff;
        self
    }

    /// Marks the method idempotent: calls that reached the server are retried too, on the
    /// codes of `retry_on`.
    pub fn idempotent(mut self) -> RetryPolicy {
        self.idempotent = true;
        self
    }

    /// Retries (idempotent methods, or unsent calls) on `codes`.
    pub fn retry_on(mut self, codes: impl IntoIterator<Item = Code>) -> RetryPolicy {
        self.retry_on = codes.into_iter().collect();
        self
    }

    /// Sends a backup request by `backup`; only methods marked idempotent send them.
    pub fn backup(mut self, backup: Backup) -> RetryPolicy {
        self.backup = Some(backup);
        self
    }

    /// Whether a call that failed with `status` may be sent again.
    pub(crate) fn may_retry(&self, status: &Status) -> bool {
        let code = status.code();
        if status.is_unsent() {
            return code == Code::Unavailable || self.retry_on.contains(&code);
        }
        self.idempotent && self.retry_on.contains(&code)
    }

    /// The backup to send, if this method sends one.
    pub(crate) fn hedging(&self) -> Option<&Backup> {
        self.backup.as_ref().filter(|_| self.idempotent)
    }
}

/// What a server said about retrying, in its response metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pushback {
    /// Nothing.
    None,
    /// Wait this long before the next attempt (instead of the backoff).
    Wait(Duration),
    /// Do not retry.
    Stop,
}

impl Pushback {
    /// The pushback in `metadata`.
    pub(crate) fn of(metadata: &Metadata) -> Pushback {
        let Some(value) = metadata.get(PUSHBACK_KEY) else {
            return Pushback::None;
        };
        match value.trim().parse::<i64>() {
            Ok(ms) if ms >= 0 => Pushback::Wait(Duration::from_millis(ms as u64)),
            _ => Pushback::Stop,
        }
    }

    /// What two attempts' pushbacks say together: stop if either says so, else the longer
    /// wait.
    pub(crate) fn and(self, other: Pushback) -> Pushback {
        match (self, other) {
            (Pushback::Stop, _) | (_, Pushback::Stop) => Pushback::Stop,
            (Pushback::Wait(a), Pushback::Wait(b)) => Pushback::Wait(a.max(b)),
            (Pushback::Wait(a), Pushback::None) | (Pushback::None, Pushback::Wait(a)) => {
                Pushback::Wait(a)
            }
            (Pushback::None, Pushback::None) => Pushback::None,
        }
    }
}

/// The code named `name` (`UNAVAILABLE`, `unavailable`, or its number).
pub(crate) fn parse_code(name: &str) -> Option<Code> {
    let name = name.trim();
    if let Ok(n) = name.parse::<i32>() {
        return (0..=16).contains(&n).then(|| Code::from_i32(n));
    }
    (0..=16)
        .map(Code::from_i32)
        .find(|c| c.as_str().eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_failures_may_be_retried() {
        let default = RetryPolicy::default();
        let idempotent = RetryPolicy::default().idempotent();
        let unsent = Status::unavailable("connection refused").with_unsent();
        let sent = Status::unavailable("the instance is overloaded");
        let timed_out = Status::deadline_exceeded("late");
        let bad = Status::invalid_argument("no").with_unsent();
        assert!(default.may_retry(&unsent) && idempotent.may_retry(&unsent));
        assert!(!default.may_retry(&sent) && idempotent.may_retry(&sent));
        assert!(!default.may_retry(&timed_out) && !idempotent.may_retry(&timed_out));
        // Unsent, but it would fail the same anywhere.
        assert!(!default.may_retry(&bad));
        let with_timeouts = idempotent.retry_on([Code::Unavailable, Code::DeadlineExceeded]);
        assert!(with_timeouts.may_retry(&timed_out));
        assert!(
            !RetryPolicy::default()
                .retry_on([Code::DeadlineExceeded])
                .may_retry(&timed_out),
            "not idempotent"
        );
        // Backups only for idempotent methods.
        let backup = Backup::after(Duration::from_millis(5));
        assert_eq!(RetryPolicy::new().backup(backup.clone()).hedging(), None);
        assert_eq!(
            RetryPolicy::new()
                .idempotent()
                .backup(backup.clone())
                .hedging(),
            Some(&backup)
        );
    }

    #[test]
    fn pushback_reads_milliseconds_and_refuses_the_rest() {
        let of = |v: &'static str| Pushback::of(&[(PUSHBACK_KEY, v)].into_iter().collect());
        assert_eq!(Pushback::of(&Metadata::new()), Pushback::None);
        assert_eq!(of("250"), Pushback::Wait(Duration::from_millis(250)));
        assert_eq!(of("0"), Pushback::Wait(Duration::ZERO));
        assert_eq!(of("-1"), Pushback::Stop);
        assert_eq!(of("soon"), Pushback::Stop);
        assert_eq!(of(""), Pushback::Stop);
        let wait = |ms| Pushback::Wait(Duration::from_millis(ms));
        assert_eq!(wait(5).and(wait(7)), wait(7));
        assert_eq!(wait(5).and(Pushback::Stop), Pushback::Stop);
        assert_eq!(Pushback::None.and(wait(5)), wait(5));
    }

    #[test]
    fn codes_are_read_by_name_or_number() {
        assert_eq!(parse_code("UNAVAILABLE"), Some(Code::Unavailable));
        assert_eq!(
            parse_code("deadline_exceeded"),
            Some(Code::DeadlineExceeded)
        );
        assert_eq!(parse_code("14"), Some(Code::Unavailable));
        assert_eq!(parse_code("UNAVAILBLE"), None);
        assert_eq!(parse_code("17"), None);
    }
}
