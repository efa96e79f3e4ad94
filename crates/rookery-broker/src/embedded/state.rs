//! The broker's state: topics, their groups, and the timers that redeliver. All of it sits
//! behind one mutex in [`Shared`](super::broker::Shared); nothing here awaits.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::Weak,
    time::Duration,
};

use faststr::FastStr;
use tokio::{sync::mpsc::UnboundedSender, time::Instant};

use super::{broker::Shared, subscription::EmbeddedAcker};
use crate::{BrokerError, Delivery, Message};

/// Which group of a topic a subscription belongs to. Each plain subscriber is a group of its
/// own, so "every subscriber gets every message" and "one member of the group gets it" are the
/// same machinery.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum GroupKey {
    /// A plain subscriber, by its member id.
    Single(u64),
    /// A queue group, by name; removed with its last member.
    Queue(FastStr),
    /// A durable group, by durable name; kept (with the messages published while nobody
    /// listens) for the life of the broker.
    Durable(FastStr),
}

/// When a timer fires, and the token it fires for (tokens are unique, so keys are too).
pub(super) type TimerKey = (Instant, u64);

/// What a timer refers to: a delivery in flight (its ack wait) or a nacked message waiting out
/// its delay. Which one is found by looking the token up.
#[derive(Debug)]
pub(super) struct TimerRef {
    topic: FastStr,
    group: GroupKey,
}

/// A message waiting for a member, with how many deliveries it has had.
#[derive(Debug)]
struct Queued {
    message: Message,
    deliveries: u32,
}

/// A subscription in a group.
#[derive(Debug)]
pub(super) struct Member {
    pub(super) id: u64,
    pub(super) tx: UnboundedSender<Delivery>,
    pub(super) max_in_flight: usize,
    pub(super) ack_wait: Duration,
    in_flight: usize,
}

impl Member {
    pub(super) fn new(
        id: u64,
        tx: UnboundedSender<Delivery>,
        max_in_flight: usize,
        ack_wait: Duration,
    ) -> Member {
        Member {
            id,
            tx,
            max_in_flight: max_in_flight.max(1),
            ack_wait,
            in_flight: 0,
        }
    }
}

#[derive(Debug)]
struct InFlight {
    queued: Queued,
    member: u64,
    timer: TimerKey,
}

#[derive(Debug, Default)]
struct Group {
    /// Ready messages, oldest first; redeliveries go to the front.
    queue: VecDeque<Queued>,
    /// Nacked messages waiting out their delay, by token.
    delayed: HashMap<u64, (Queued, TimerKey)>,
    /// Deliveries handed out and not settled, by token.
    in_flight: HashMap<u64, InFlight>,
    members: Vec<Member>,
    /// Where round robin starts next.
    cursor: usize,
}

impl Group {
    fn pending(&self) -> usize {
        self.queue.len() + self.delayed.len()
    }
}

/// How a delivery was settled.
#[derive(Clone, Copy, Debug)]
pub(super) enum Settle {
    Ack,
    Nack(Duration),
}

/// Everything the embedded broker knows.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) closed: bool,
    topics: HashMap<FastStr, HashMap<GroupKey, Group>>,
    timers: BTreeMap<TimerKey, TimerRef>,
    next_token: u64,
}

/// What dispatching needs besides the group: where tokens and timers come from, and the
/// handle ackers settle through.
struct Cx<'a> {
    timers: &'a mut BTreeMap<TimerKey, TimerRef>,
    next_token: &'a mut u64,
    shared: &'a Weak<Shared>,
    topic: &'a FastStr,
    key: &'a GroupKey,
    now: Instant,
}

impl Cx<'_> {
    fn token(&mut self) -> u64 {
        *self.next_token += 1;
        *self.next_token
    }

    fn timer(&mut self, at: Instant, token: u64) -> TimerKey {
        let key = (at, token);
        self.timers.insert(
            key,
            TimerRef {
                topic: self.topic.clone(),
                group: self.key.clone(),
            },
        );
        key
    }
}

impl State {
    /// The earliest timer, for the timer task to sleep until.
    pub(super) fn next_timer(&self) -> Option<Instant> {
        self.timers.keys().next().map(|(at, _)| *at)
    }

    /// Hands `message` to every group of its topic, or to none: when a group already holds
    /// `max_pending` undelivered messages the publish fails as a whole, so a slow subscriber
    /// is told to the publisher instead of growing memory without bound.
    pub(super) fn publish(
        &mut self,
        message: Message,
        max_pending: usize,
        shared: &Weak<Shared>,
    ) -> Result<(), BrokerError> {
        let State {
            topics,
            timers,
            next_token,
            ..
        } = self;
        let topic = message.topic.clone();
        let Some(groups) = topics.get_mut(&topic) else {
            // Nobody subscribes: like NATS, the message goes nowhere.
            return Ok(());
        };
        if let Some((key, group)) = groups.iter().find(|(_, g)| g.pending() >= max_pending) {
            return Err(BrokerError::unavailable(format!(
                "topic {topic:?}: subscription {} already holds {} undelivered messages \
                 (max_pending); it is not keeping up",
                describe(key),
                group.pending()
            )));
        }
        let now = Instant::now();
        let last = groups.len().saturating_sub(1);
        let mut message = Some(message);
        for (i, (key, group)) in groups.iter_mut().enumerate() {
            // The last group takes the message itself; the others a copy.
            let message = if i == last {
                message.take().expect("taken once, by the last group")
            } else {
                message.clone().expect("present until the last group")
            };
            group.queue.push_back(Queued {
                message,
                deliveries: 0,
            });
            let mut cx = Cx {
                timers,
                next_token,
                shared,
                topic: &topic,
                key,
                now,
            };
            dispatch(group, &mut cx);
        }
        Ok(())
    }

    /// Adds `member` to group `key` of `topic`, creating the group.
    pub(super) fn add_member(
        &mut self,
        topic: FastStr,
        key: GroupKey,
        member: Member,
        shared: &Weak<Shared>,
    ) {
        let State {
            topics,
            timers,
            next_token,
            ..
        } = self;
        let groups = topics.entry(topic.clone()).or_default();
        let group = groups.entry(key.clone()).or_default();
        group.members.push(member);
        let mut cx = Cx {
            timers,
            next_token,
            shared,
            topic: &topic,
            key: &key,
            now: Instant::now(),
        };
        // A durable group may hold messages published while nobody listened.
        dispatch(group, &mut cx);
    }

    /// Removes member `id`: its unsettled deliveries go back to the front of the queue, for
    /// the other members. A group without members is removed, unless it is durable.
    pub(super) fn remove_member(
        &mut self,
        topic: &FastStr,
        key: &GroupKey,
        id: u64,
        shared: &Weak<Shared>,
    ) {
        let State {
            topics,
            timers,
            next_token,
            ..
        } = self;
        let Some(groups) = topics.get_mut(topic) else {
            return;
        };
        let Some(group) = groups.get_mut(key) else {
            return;
        };
        if !evict(group, id, timers) {
            return;
        }
        if group.members.is_empty() && !matches!(key, GroupKey::Durable(_)) {
            if let Some(group) = groups.remove(key) {
                for (_, timer) in group.delayed.values() {
                    timers.remove(timer);
                }
                if group.pending() > 0 {
                    tracing::debug!(
                        topic = %topic,
                        group = %describe(key),
                        dropped = group.pending(),
                        "the last member left a non-durable group; its undelivered messages go with it"
                    );
                }
            }
            if groups.is_empty() {
                topics.remove(topic);
            }
            return;
        }
        let mut cx = Cx {
            timers,
            next_token,
            shared,
            topic,
            key,
            now: Instant::now(),
        };
        if let Some(group) = topics.get_mut(topic).and_then(|g| g.get_mut(key)) {
            dispatch(group, &mut cx);
        }
    }

    /// Settles the delivery `token`. A token no longer in flight (its member left, or its ack
    /// wait ran out and it went to someone else) is settled already: nothing happens.
    pub(super) fn settle(
        &mut self,
        topic: &FastStr,
        key: &GroupKey,
        token: u64,
        how: Settle,
        shared: &Weak<Shared>,
    ) {
        let State {
            topics,
            timers,
            next_token,
            ..
        } = self;
        let Some(group) = topics.get_mut(topic).and_then(|g| g.get_mut(key)) else {
            return;
        };
        let Some(f) = group.in_flight.remove(&token) else {
            return;
        };
        timers.remove(&f.timer);
        if let Some(m) = group.members.iter_mut().find(|m| m.id == f.member) {
            m.in_flight = m.in_flight.saturating_sub(1);
        }
        let mut cx = Cx {
            timers,
            next_token,
            shared,
            topic,
            key,
            now: Instant::now(),
        };
        match how {
            Settle::Ack => {}
            Settle::Nack(delay) if delay.is_zero() => group.queue.push_front(f.queued),
            Settle::Nack(delay) => {
                let token = cx.token();
                let timer = cx.timer(cx.now + delay, token);
                group.delayed.insert(token, (f.queued, timer));
            }
        }
        dispatch(group, &mut cx);
    }

    /// Fires every timer due at `now`: deliveries whose ack wait ran out go back to the front
    /// of their queue, delayed messages become ready.
    pub(super) fn fire_timers(&mut self, now: Instant, shared: &Weak<Shared>) {
        let State {
            topics,
            timers,
            next_token,
            ..
        } = self;
        let mut touched: Vec<(FastStr, GroupKey)> = Vec::new();
        while let Some(entry) = timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((_, token), TimerRef { topic, group: key }) = entry.remove_entry();
            let Some(group) = topics.get_mut(&topic).and_then(|g| g.get_mut(&key)) else {
                continue;
            };
            if let Some(f) = group.in_flight.remove(&token) {
                if let Some(m) = group.members.iter_mut().find(|m| m.id == f.member) {
                    m.in_flight = m.in_flight.saturating_sub(1);
                }
                tracing::debug!(
                    topic = %topic,
                    id = %f.queued.message.id,
                    "unacknowledged past its ack wait; delivering it again"
                );
                group.queue.push_front(f.queued);
            } else if let Some((queued, _)) = group.delayed.remove(&token) {
                group.queue.push_front(queued);
            }
            if !touched.iter().any(|(t, k)| *t == topic && *k == key) {
                touched.push((topic, key));
            }
        }
        for (topic, key) in touched {
            if let Some(group) = topics.get_mut(&topic).and_then(|g| g.get_mut(&key)) {
                let mut cx = Cx {
                    timers,
                    next_token,
                    shared,
                    topic: &topic,
                    key: &key,
                    now,
                };
                dispatch(group, &mut cx);
            }
        }
    }

    /// Forgets everything: members' channels close (their subscriptions end), deliveries in
    /// flight can no longer be settled.
    pub(super) fn close(&mut self) {
        self.closed = true;
        self.topics.clear();
        self.timers.clear();
    }
}

/// Removes member `id` from `group` and puts its unsettled deliveries back at the front of the
/// queue, oldest first, so the queue keeps publication order as far as it can. False when
/// there is no such member.
fn evict(group: &mut Group, id: u64, timers: &mut BTreeMap<TimerKey, TimerRef>) -> bool {
    let Some(i) = group.members.iter().position(|m| m.id == id) else {
        return false;
    };
    group.members.remove(i);
    group.cursor = 0;
    let mut tokens: Vec<u64> = group
        .in_flight
        .iter()
        .filter(|(_, f)| f.member == id)
        .map(|(token, _)| *token)
        .collect();
    tokens.sort_unstable();
    for token in tokens.into_iter().rev() {
        if let Some(f) = group.in_flight.remove(&token) {
            timers.remove(&f.timer);
            group.queue.push_front(f.queued);
        }
    }
    true
}

/// Hands queued messages to members with room, round robin, until the queue is empty or every
/// member is full.
fn dispatch(group: &mut Group, cx: &mut Cx<'_>) {
    while !group.queue.is_empty() {
        let n = group.members.len();
        let Some(i) = (0..n)
            .map(|k| (group.cursor + k) % n)
            .find(|&i| group.members[i].in_flight < group.members[i].max_in_flight)
        else {
            return;
        };
        group.cursor = (i + 1) % n;
        let Some(mut queued) = group.queue.pop_front() else {
            return;
        };
        queued.deliveries = queued.deliveries.saturating_add(1);
        let token = cx.token();
        let member = &mut group.members[i];
        let timer = cx.timer(cx.now + member.ack_wait, token);
        let acker = EmbeddedAcker {
            shared: cx.shared.clone(),
            topic: cx.topic.clone(),
            key: cx.key.clone(),
            token,
        };
        let delivery = Delivery::new(queued.message.clone(), queued.deliveries, acker);
        if member.tx.send(delivery).is_err() {
            // The subscription is being dropped and will remove itself; give the message to
            // someone else (or keep it) meanwhile.
            cx.timers.remove(&timer);
            queued.deliveries -= 1;
            group.queue.push_front(queued);
            let id = member.id;
            evict(group, id, cx.timers);
            continue;
        }
        member.in_flight += 1;
        group.in_flight.insert(
            token,
            InFlight {
                queued,
                member: member.id,
                timer,
            },
        );
    }
}

fn describe(key: &GroupKey) -> String {
    match key {
        GroupKey::Single(id) => format!("subscriber #{id}"),
        GroupKey::Queue(name) => format!("queue group {name:?}"),
        GroupKey::Durable(name) => format!("durable {name:?}"),
    }
}
