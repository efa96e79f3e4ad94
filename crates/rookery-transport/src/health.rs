//! Whether a server is serving, as its built-in health checks report it: the Thrift
//! `rookery.Health` service (`ping`, `check`) and HTTP `GET /health`, `/health/live`,
//! `/health/ready`, all on the server's one port. Others follow its changes with
//! [`Health::subscribe`] (the facade's gRPC health service does).

use std::sync::Arc;

use rookery_codec::{
    DecodeError, DecodeErrorKind,
    thrift::{ProtocolRead, ProtocolWrite, TType, ThriftDecode, ThriftEncode},
};
use tokio::sync::watch;

/// The IDL name of the built-in health service. Calls name it (`rookery.Health:ping`, or the
/// `isn` header) to reach it whatever services the server has.
pub const SERVICE: &str = "rookery.Health";

/// Where a server is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HealthState {
    /// Not serving yet.
    Starting,
    /// Serving: ready for calls.
    Serving,
    /// Shutting down: finishing the calls in flight, taking no new ones.
    Draining,
}

impl HealthState {
    /// The name health checks answer with.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Starting => "STARTING",
            HealthState::Serving => "SERVING",
            HealthState::Draining => "DRAINING",
        }
    }
}

/// A server's health, shared by the server and whoever else decides it (a service that is not
/// ready until it has registered, say), and followed by whoever reports it elsewhere
/// ([`subscribe`](Health::subscribe)). Clones share the state.
#[derive(Clone, Debug)]
pub struct Health {
    state: Arc<watch::Sender<HealthState>>,
}

impl Default for Health {
    fn default() -> Self {
        Health::new()
    }
}

impl Health {
    /// A health that starts as [`HealthState::Starting`].
    pub fn new() -> Health {
        Health {
            state: Arc::new(watch::Sender::new(HealthState::Starting)),
        }
    }

    /// The state now.
    pub fn get(&self) -> HealthState {
        *self.state.borrow()
    }

    /// Sets the state; those subscribed are told when it changes.
    pub fn set(&self, state: HealthState) {
        self.state.send_if_modified(|now| {
            let changed = *now != state;
            *now = state;
            changed
        });
    }

    /// Whether the server takes calls.
    pub fn is_ready(&self) -> bool {
        self.get() == HealthState::Serving
    }

    /// A receiver of the state: it holds the state now, and
    /// [`changed`](watch::Receiver::changed) resolves at each change. It ends (with an error)
    /// once every clone of this health is gone.
    pub fn subscribe(&self) -> watch::Receiver<HealthState> {
        self.state.subscribe()
    }
}

/// The arguments of `ping` and `check`: none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoArgs;

impl ThriftEncode for NoArgs {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for NoArgs {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        Ok(NoArgs)
    }
}

/// The result of `ping` and `check`: a string in field 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StringResult(pub faststr::FastStr);

impl ThriftEncode for StringResult {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        w.write_field_begin(TType::Binary, 0);
        w.write_string(&self.0);
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for StringResult {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = None;
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::Binary, 0) => out = Some(r.read_string()?),
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        out.map(StringResult)
            .ok_or_else(|| DecodeError::new(DecodeErrorKind::InvalidData, "result has no value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_see_each_change_once() {
        let health = Health::new();
        let mut rx = health.subscribe();
        assert_eq!(*rx.borrow_and_update(), HealthState::Starting);
        health.set(HealthState::Serving);
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow_and_update(), HealthState::Serving);
        // Setting the same state again is no change.
        health.set(HealthState::Serving);
        assert!(!rx.has_changed().unwrap());
        let clone = health.clone();
        clone.set(HealthState::Draining);
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow(), HealthState::Draining);
        assert!(!health.is_ready());
        drop((health, clone));
        assert!(rx.changed().await.is_err());
    }
}
