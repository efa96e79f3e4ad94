use std::sync::{
    Arc, Mutex, MutexGuard, OnceLock, Weak,
    atomic::{AtomicU64, Ordering},
};

use faststr::FastStr;
use rookery_core::BoxFuture;
use tokio::{
    sync::{Notify, mpsc},
    task::JoinHandle,
    time::Instant,
};

use super::{
    state::{GroupKey, Member, State},
    subscription::EmbeddedSource,
};
use crate::{
    Broker, BrokerError, DEFAULT_MAX_MESSAGE_SIZE, Message, SubscribeOptions, Subscription,
    validate_topic,
};

/// The most undelivered messages one subscription (or group) may hold before publishing to
/// its topic fails, unless set with [`EmbeddedBuilder::max_pending`].
pub const DEFAULT_MAX_PENDING: usize = 100_000;

/// The in-process broker. Cheap to clone: clones share one broker.
///
/// See the [module docs](super) for what it guarantees, and what it does not (durability
/// across a restart of this process).
#[derive(Clone, Debug)]
pub struct Embedded {
    shared: Arc<Shared>,
}

/// How an [`Embedded`] broker is made: [`Embedded::builder`].
#[derive(Clone, Debug)]
pub struct EmbeddedBuilder {
    max_message_size: usize,
    max_pending: usize,
}

impl EmbeddedBuilder {
    /// Refuses messages over `bytes` (payload plus headers) at publish. Default 1 MiB.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Fails a publish when a subscription of its topic already holds `n` undelivered
    /// messages (a subscriber that does not keep up, or a durable group nobody listens to).
    /// Default [`DEFAULT_MAX_PENDING`].
    pub fn max_pending(mut self, n: usize) -> Self {
        self.max_pending = n.max(1);
        self
    }

    /// The broker.
    pub fn build(self) -> Embedded {
        Embedded {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                max_message_size: self.max_message_size,
                max_pending: self.max_pending,
                wake: Arc::new(Notify::new()),
                timer_task: Mutex::new(None),
                next_member: AtomicU64::new(0),
            }),
        }
    }
}

/// What every clone of a broker, its subscriptions and its ackers share.
#[derive(Debug)]
pub(super) struct Shared {
    state: Mutex<State>,
    max_message_size: usize,
    max_pending: usize,
    /// Wakes the timer task when a timer earlier than the ones it sleeps on is set (or the
    /// broker goes away).
    wake: Arc<Notify>,
    timer_task: Mutex<Option<JoinHandle<()>>>,
    next_member: AtomicU64,
}

impl Shared {
    /// The state, locked. Nothing panics while holding it, but a poisoned lock would still
    /// hold consistent state, so it is used as is.
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the state, then wakes the timer task if `f` set an earlier timer.
    pub(super) fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.lock();
        let before = state.next_timer();
        let r = f(&mut state);
        let after = state.next_timer();
        drop(state);
        if after.is_some() && (before.is_none() || after < before) {
            self.wake.notify_one();
        }
        r
    }

    /// Starts the task that fires ack-wait and nack-delay timers, unless it runs. Called from
    /// `subscribe`, so it runs on the caller's runtime; it is started again if that runtime
    /// went away (a broker shared by several tests, each with its runtime).
    fn ensure_timer_task(self: &Arc<Self>) {
        let mut task = self.timer_task.lock().unwrap_or_else(|e| e.into_inner());
        if task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let weak = Arc::downgrade(self);
        let wake = Arc::clone(&self.wake);
        *task = Some(tokio::spawn(run_timers(weak, wake)));
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Lets the timer task see that the broker is gone.
        self.wake.notify_one();
    }
}

async fn run_timers(weak: Weak<Shared>, wake: Arc<Notify>) {
    loop {
        let next = {
            let Some(shared) = weak.upgrade() else {
                return;
            };
            let mut state = shared.lock();
            if state.closed {
                return;
            }
            state.fire_timers(Instant::now(), &weak);
            state.next_timer()
        };
        match next {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

impl Default for Embedded {
    fn default() -> Embedded {
        Embedded::builder().build()
    }
}

impl Embedded {
    /// A new, empty broker with the default limits.
    pub fn new() -> Embedded {
        Embedded::default()
    }

    /// A builder, to set limits.
    pub fn builder() -> EmbeddedBuilder {
        EmbeddedBuilder {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_pending: DEFAULT_MAX_PENDING,
        }
    }

    /// The broker of this process: every caller gets the same one, so services in one process
    /// reach each other with nothing configured.
    pub fn global() -> Arc<Embedded> {
        static GLOBAL: OnceLock<Arc<Embedded>> = OnceLock::new();
        Arc::clone(GLOBAL.get_or_init(|| Arc::new(Embedded::new())))
    }

    fn publish_now(&self, message: Message) -> Result<(), BrokerError> {
        message.check(self.shared.max_message_size)?;
        let weak = Arc::downgrade(&self.shared);
        let max_pending = self.shared.max_pending;
        self.shared.with_state(|state| {
            if state.closed {
                return Err(BrokerError::closed("the embedded broker is closed"));
            }
            state.publish(message, max_pending, &weak)
        })
    }

    fn subscribe_now(
        &self,
        topic: &str,
        options: SubscribeOptions,
    ) -> Result<Subscription, BrokerError> {
        validate_topic(topic)?;
        if topic.split('.').any(|part| part == "*" || part == ">") {
            return Err(BrokerError::unsupported(format!(
                "topic {topic:?}: the embedded broker matches topics exactly, without wildcards"
            )));
        }
        for (what, name) in [
            ("queue group", &options.queue_group),
            ("durable name", &options.durable),
        ] {
            if let Some(name) = name {
                if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(BrokerError::invalid(format!(
                        "{what} {name:?} is malformed"
                    )));
                }
            }
        }
        if options.ack_wait.is_zero() {
            // Every delivery would be due again at once, for ever.
            return Err(BrokerError::invalid("ack_wait must be longer than zero"));
        }
        let id = self.shared.next_member.fetch_add(1, Ordering::Relaxed) + 1;
        let key = match (&options.durable, &options.queue_group) {
            (Some(durable), _) => GroupKey::Durable(durable.clone()),
            (None, Some(group)) => GroupKey::Queue(group.clone()),
            (None, None) => GroupKey::Single(id),
        };
        let topic = FastStr::new(topic);
        let (tx, rx) = mpsc::unbounded_channel();
        let member = Member::new(id, tx, options.effective_max_in_flight(), options.ack_wait);
        let weak = Arc::downgrade(&self.shared);
        self.shared.with_state(|state| {
            if state.closed {
                return Err(BrokerError::closed("the embedded broker is closed"));
            }
            state.add_member(topic.clone(), key.clone(), member, &weak);
            Ok(())
        })?;
        self.shared.ensure_timer_task();
        let source = EmbeddedSource {
            rx,
            shared: weak,
            topic: topic.clone(),
            key,
            member: id,
        };
        Ok(Subscription::new(topic, options, source))
    }
}

impl Broker for Embedded {
    fn publish(&self, message: Message) -> BoxFuture<'_, Result<(), BrokerError>> {
        let result = self.publish_now(message);
        Box::pin(std::future::ready(result))
    }

    fn subscribe<'a>(
        &'a self,
        topic: &'a str,
        options: SubscribeOptions,
    ) -> BoxFuture<'a, Result<Subscription, BrokerError>> {
        // In the future, not before it: `subscribe_now` may start the timer task, which needs
        // the runtime the caller awaits on.
        Box::pin(async move { self.subscribe_now(topic, options) })
    }

    fn close(&self) -> BoxFuture<'_, Result<(), BrokerError>> {
        self.shared.with_state(State::close);
        self.shared.wake.notify_one();
        Box::pin(std::future::ready(Ok(())))
    }

    fn max_message_size(&self) -> usize {
        self.shared.max_message_size
    }
}
