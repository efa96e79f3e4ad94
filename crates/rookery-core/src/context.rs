use std::time::{Duration, Instant};

use faststr::FastStr;
use http::Extensions;

use crate::Metadata;

/// One side of a call: which service and method, and where.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoint {
    /// The service name, as registered (`greeter`), or empty if unknown.
    pub service: FastStr,
    /// The method name (`say_hello`), or empty if unknown.
    pub method: FastStr,
    /// The address, as `host:port` or a Unix socket path, if known.
    pub address: Option<FastStr>,
}

/// What travels with one call besides its request: identity, deadline, sequence id, metadata.
///
/// A client fills it before a call and the transport carries what belongs on the wire (metadata,
/// the time left before the deadline, the caller's and callee's names); a server's transport
/// fills it from what arrived before the handler runs. Layers read and write it on the way.
///
/// A clone is the same call's context, for a layer that sends the call twice (a backup
/// request); a downstream call made while handling this one takes a [`child`](Context::child).
#[derive(Clone, Debug, Default)]
pub struct Context {
    seq_id: i32,
    deadline: Option<Instant>,
    caller: Endpoint,
    callee: Endpoint,
    metadata: Metadata,
    response_metadata: Metadata,
    extensions: Extensions,
    inherited: Extensions,
}

impl Context {
    /// An empty context: no deadline, no metadata, unknown endpoints.
    pub fn new() -> Context {
        Context::default()
    }

    /// The sequence id of the call on its connection.
    pub fn seq_id(&self) -> i32 {
        self.seq_id
    }

    /// Sets the sequence id (transports do this).
    pub fn set_seq_id(&mut self, seq_id: i32) {
        self.seq_id = seq_id;
    }

    /// The instant after which the call is abandoned, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Sets the deadline, replacing any other.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// Gives the call at most `timeout` from now: the deadline becomes the earlier of the one
    /// present and `now + timeout`, so a timeout never extends an inherited deadline.
    pub fn shorten_deadline(&mut self, timeout: Duration) {
        let candidate = Instant::now().checked_add(timeout);
        self.deadline = match (self.deadline, candidate) {
            (Some(d), Some(c)) => Some(d.min(c)),
            (d, c) => d.or(c),
        };
    }

    /// The time left before the deadline (zero once it has passed), or `None` without one.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Who is calling.
    pub fn caller(&self) -> &Endpoint {
        &self.caller
    }

    /// Who is calling, to change.
    pub fn caller_mut(&mut self) -> &mut Endpoint {
        &mut self.caller
    }

    /// Who is called: service, method and address.
    pub fn callee(&self) -> &Endpoint {
        &self.callee
    }

    /// Who is called, to change.
    pub fn callee_mut(&mut self) -> &mut Endpoint {
        &mut self.callee
    }

    /// The method being called (the callee's method).
    pub fn method(&self) -> &str {
        &self.callee.method
    }

    /// The metadata sent with the request.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The metadata sent with the request, to change.
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.metadata
    }

    /// The metadata sent back with the response.
    pub fn response_metadata(&self) -> &Metadata {
        &self.response_metadata
    }

    /// The metadata sent back with the response, to change.
    pub fn response_metadata_mut(&mut self) -> &mut Metadata {
        &mut self.response_metadata
    }

    /// Typed values that layers attach to the call and that never travel (an authenticated
    /// identity, a span, a picked instance).
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Typed values attached to the call, to change.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// Typed values that pass to every [`child`](Context::child) of this context: what a
    /// downstream call made while handling this one must carry on (the trace it belongs to,
    /// baggage). Layers put them here; they never travel on their own, a layer writes what
    /// should go on the wire into the child's metadata.
    pub fn inherited(&self) -> &Extensions {
        &self.inherited
    }

    /// Values passed to every child, to change.
    pub fn inherited_mut(&mut self) -> &mut Extensions {
        &mut self.inherited
    }

    /// The context of a downstream call made while handling this call: it keeps what is left
    /// of this call's deadline (a child can never outlive its parent) and the
    /// [`inherited`](Context::inherited) values, and names this call's callee as its caller.
    /// Everything else (metadata, callee, sequence id, extensions) starts empty: those belong
    /// to one hop.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rookery_core::Context;
    ///
    /// let mut incoming = Context::new();
    /// incoming.shorten_deadline(Duration::from_millis(300));
    /// incoming.callee_mut().service = "orders".into();
    /// let mut downstream = incoming.child();
    /// downstream.shorten_deadline(Duration::from_secs(5)); // cannot extend the parent's
    /// assert_eq!(downstream.deadline(), incoming.deadline());
    /// assert_eq!(downstream.caller().service, "orders");
    /// ```
    pub fn child(&self) -> Context {
        Context {
            deadline: self.deadline,
            caller: Endpoint {
                service: self.callee.service.clone(),
                method: self.callee.method.clone(),
                address: None,
            },
            inherited: self.inherited.clone(),
            ..Context::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_never_extends_an_inherited_deadline() {
        let mut cx = Context::new();
        assert_eq!(cx.remaining(), None);
        cx.shorten_deadline(Duration::from_millis(50));
        let first = cx.deadline().unwrap();
        cx.shorten_deadline(Duration::from_secs(60));
        assert_eq!(cx.deadline(), Some(first));
        cx.shorten_deadline(Duration::ZERO);
        assert!(cx.deadline().unwrap() <= first);
        assert_eq!(cx.remaining(), Some(Duration::ZERO));
    }

    #[derive(Clone, Debug, PartialEq)]
    struct Trace(u64);

    #[test]
    fn a_child_keeps_the_deadline_and_inherited_values_and_nothing_of_one_hop() {
        let mut parent = Context::new();
        parent.shorten_deadline(Duration::from_millis(100));
        parent.set_seq_id(7);
        parent.metadata_mut().insert("k", "v");
        parent.extensions_mut().insert(Trace(1));
        parent.inherited_mut().insert(Trace(2));
        parent.callee_mut().service = "b".into();
        let child = parent.child();
        assert_eq!(child.deadline(), parent.deadline());
        assert_eq!(child.inherited().get::<Trace>(), Some(&Trace(2)));
        assert_eq!(child.extensions().get::<Trace>(), None);
        assert_eq!(child.metadata().get("k"), None);
        assert_eq!(child.seq_id(), 0);
        assert_eq!(child.caller().service, "b");
        assert!(child.callee().service.is_empty());
    }
}
