//! Prometheus metrics of calls: how many ended, by status; how long they took; how many are
//! in flight.
//!
//! One [`Metrics`] value holds them for a process. Its layers count calls on either side
//! ([`Metrics::server_layer`], [`Metrics::client_layer`]), so one registry shows what a
//! service answers and what it calls; [`Metrics::encode`] writes them in the OpenMetrics
//! text format that Prometheus scrapes, which a service serves on its own port at
//! `/metrics` (the facade's `ServiceBuilder::metrics`).
//!
//! A call is counted when it ends: a unary call when its response or error comes back, a
//! streamed response when its last message has been read (or it failed, or was dropped
//! unfinished: `CANCELLED`). Names, types and labels are listed on [`Metrics`].

mod layer;
mod registry;
mod service;
#[cfg(test)]
mod tests;

pub use layer::{MetricsConfig, MetricsLayer};
pub use registry::{CONTENT_TYPE, DEFAULT_BUCKETS, MAX_PEERS, Metrics};
pub use service::Metered;
