//! The standard health service, `grpc.health.v1.Health` (feature `health`): `Check`, `List`
//! and `Watch`, answered from a [`HealthReporter`] that the server's lifecycle and the
//! application set.
//!
//! Every service name has a status: `""` stands for the whole server. The server's lifecycle
//! moves the statuses of the names it manages (`""` and those added by
//! [`HealthReporter::add_service`]): `NOT_SERVING` until the server starts, `SERVING` once it
//! serves, and `NOT_SERVING` for every name, for good, when graceful shutdown begins, before
//! the connections are sent their GOAWAY, so that a `Watch` stream sees the change and then
//! ends. Anything else (a dependency that went away) is set by the application with
//! [`set_status`](HealthReporter::set_status).
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use rookery_grpc::{Server, health::HealthReporter};
//!
//! let health = HealthReporter::new();
//! health.add_service("helloworld.Greeter"); // as its generated server's SERVICE.name
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! Server::builder()
//!     .add_health(&health)
//!     // .add_service(GreeterServer::<H>::SERVICE, GreeterServer::new(handler))
//!     .build()
//!     .serve_with_health(listener, &health, async {
//!         tokio::signal::ctrl_c().await.ok();
//!     })
//!     .await
//! # }
//! ```
//!
//! As the health-checking protocol says: `Check` of a name the reporter does not know fails
//! with `NOT_FOUND`; `Watch` of one answers `SERVICE_UNKNOWN` and stays open, and sends the
//! status once the name is known; `List` answers every name, or `RESOURCE_EXHAUSTED` beyond
//! 100 of them.

use std::{
    collections::HashMap,
    future::Future,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use rookery_codec::protobuf::rpc::BoxStream;
use rookery_core::{Context, FastStr, Status};
use tokio::{net::TcpListener, sync::Notify, sync::watch};

use crate::{Server, ServerBuilder};

/// The code `rookery-build` generates for `grpc/health/v1/health.proto` (`grpc::health::v1`),
/// and its descriptors (`FILE_DESCRIPTOR_SET`).
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/health/rookery_protobuf.rs"));
}

pub use proto::grpc::health::v1::{
    HealthCheckRequest, HealthCheckResponse, HealthClient, HealthListRequest, HealthListResponse,
    HealthServer, health_check_response::ServingStatus,
};

/// The encoded `FileDescriptorSet` of `grpc/health/v1/health.proto`, to give to server
/// reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = proto::FILE_DESCRIPTOR_SET;

/// The full name of the health service: `grpc.health.v1.Health`.
pub const SERVICE_NAME: &str = "grpc.health.v1.Health";

/// The most names `List` answers with, as the protocol sets it.
const LIST_LIMIT: usize = 100;

/// How long the start of a graceful shutdown waits for `Watch` streams to take their last
/// status before the connections are sent their GOAWAY.
const WATCH_NOTICE: Duration = Duration::from_secs(1);

/// The statuses of a server's services, shared by the health service that answers them, the
/// server's lifecycle, and the application. Clones share the state.
#[derive(Clone, Debug)]
pub struct HealthReporter {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// `Watch` streams open now, and a wake-up whenever one ends.
    watching: AtomicUsize,
    watch_ended: Notify,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    services: HashMap<String, Entry>,
    /// The watched value of each name that has a status or a `Watch` stream.
    channels: HashMap<String, watch::Sender<Watched>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Starting,
    Serving,
    ShuttingDown,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    status: ServingStatus,
    /// Whether the lifecycle moves it (`""` and names added by `add_service`).
    managed: bool,
}

/// What a `Watch` stream follows: the status (`None` when the name is unknown), and whether it
/// is the last one (the server is shutting down).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Watched {
    status: Option<ServingStatus>,
    last: bool,
}

impl Default for HealthReporter {
    fn default() -> HealthReporter {
        HealthReporter::new()
    }
}

impl HealthReporter {
    /// A reporter that knows `""` (the whole server), `NOT_SERVING` until the server starts.
    pub fn new() -> HealthReporter {
        let reporter = HealthReporter {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    phase: Phase::Starting,
                    services: HashMap::new(),
                    channels: HashMap::new(),
                }),
                watching: AtomicUsize::new(0),
                watch_ended: Notify::new(),
            }),
        };
        reporter.add_service("");
        reporter
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while the lock was held leaves a map that is still consistent.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds `name` (a service's full name, `package.Service`) to the names the lifecycle
    /// moves: its status is the server's (`NOT_SERVING` before it starts, `SERVING` while it
    /// serves, `NOT_SERVING` once it shuts down). A name already known is left as it is.
    pub fn add_service(&self, name: impl Into<String>) {
        let name = name.into();
        let mut state = self.state();
        if state.services.contains_key(&name) {
            return;
        }
        let status = match state.phase {
            Phase::Serving => ServingStatus::SERVING,
            Phase::Starting | Phase::ShuttingDown => ServingStatus::NOT_SERVING,
        };
        state.set(
            name,
            Entry {
                status,
                managed: true,
            },
        );
    }

    /// Sets the status of `name` (adding it if it is new). A name set here is the
    /// application's: starting the server leaves it as it is. Once graceful shutdown has
    /// begun every name is `NOT_SERVING` for good, and this does nothing.
    pub fn set_status(&self, name: impl Into<String>, status: ServingStatus) {
        let mut state = self.state();
        if state.phase == Phase::ShuttingDown {
            return;
        }
        state.set(
            name.into(),
            Entry {
                status,
                managed: false,
            },
        );
    }

    /// [`set_status`](HealthReporter::set_status) to `SERVING`.
    pub fn set_serving(&self, name: impl Into<String>) {
        self.set_status(name, ServingStatus::SERVING);
    }

    /// [`set_status`](HealthReporter::set_status) to `NOT_SERVING`.
    pub fn set_not_serving(&self, name: impl Into<String>) {
        self.set_status(name, ServingStatus::NOT_SERVING);
    }

    /// Forgets `name`: `Check` answers `NOT_FOUND` for it, and `Watch` streams on it are sent
    /// `SERVICE_UNKNOWN`.
    pub fn clear(&self, name: &str) {
        let mut state = self.state();
        if state.services.remove(name).is_some() {
            state.publish(name, None, false);
        }
    }

    /// The status of `name`, or `None` when it is not known.
    pub fn status(&self, name: &str) -> Option<ServingStatus> {
        self.state().services.get(name).map(|e| e.status)
    }

    /// The server has started serving: every name the lifecycle moves becomes `SERVING`.
    /// [`Server::serve_with_health`] calls it; call it yourself when you serve otherwise.
    pub fn serving_started(&self) {
        let mut state = self.state();
        if state.phase != Phase::Starting {
            return;
        }
        state.phase = Phase::Serving;
        state.move_managed(ServingStatus::SERVING, false);
    }

    /// Graceful shutdown has begun: every name becomes `NOT_SERVING` for good, and each
    /// `Watch` stream is sent that status and then ends. Resolves once the streams open have
    /// taken it (or after a second, for a client that does not read), so that they see it
    /// before the GOAWAY. [`Server::serve_with_health`] calls it when its signal completes.
    pub async fn shutdown(&self) {
        {
            let mut state = self.state();
            if state.phase == Phase::ShuttingDown {
                return;
            }
            state.phase = Phase::ShuttingDown;
            for entry in state.services.values_mut() {
                entry.status = ServingStatus::NOT_SERVING;
            }
            // Every stream ends, also those on names not known.
            let names: Vec<String> = state.channels.keys().cloned().collect();
            for name in names {
                let status = state.services.get(&name).map(|e| e.status);
                state.publish(&name, status, true);
            }
        }
        let drained = async {
            loop {
                let ended = self.shared.watch_ended.notified();
                if self.shared.watching.load(Ordering::Acquire) == 0 {
                    return;
                }
                ended.await;
            }
        };
        let _ = tokio::time::timeout(WATCH_NOTICE, drained).await;
    }

    /// The statuses of every known name, sorted by name.
    pub fn statuses(&self) -> Vec<(String, ServingStatus)> {
        let state = self.state();
        let mut all: Vec<(String, ServingStatus)> = state
            .services
            .iter()
            .map(|(name, e)| (name.clone(), e.status))
            .collect();
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        all
    }

    fn subscribe(&self, name: &str) -> watch::Receiver<Watched> {
        let mut state = self.state();
        let current = state.watched(name);
        let sender = state
            .channels
            .entry(name.to_string())
            .or_insert_with(|| watch::Sender::new(current));
        let receiver = sender.subscribe();
        self.shared.watching.fetch_add(1, Ordering::AcqRel);
        receiver
    }

    /// A `Watch` stream on `name` ended: its channel goes when nothing else needs it.
    fn unsubscribe(&self, name: &str) {
        {
            let mut state = self.state();
            let unused = state
                .channels
                .get(name)
                .is_some_and(|s| s.receiver_count() == 0);
            if unused && !state.services.contains_key(name) {
                state.channels.remove(name);
            }
        }
        self.shared.watching.fetch_sub(1, Ordering::AcqRel);
        self.shared.watch_ended.notify_waiters();
    }
}

impl State {
    fn set(&mut self, name: String, entry: Entry) {
        let changed = self
            .services
            .get(&name)
            .is_none_or(|old| old.status != entry.status);
        if changed {
            self.publish(&name, Some(entry.status), false);
        }
        self.services.insert(name, entry);
    }

    fn move_managed(&mut self, status: ServingStatus, last: bool) {
        let names: Vec<String> = self
            .services
            .iter()
            .filter(|(_, e)| e.managed)
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            if let Some(entry) = self.services.get_mut(&name) {
                entry.status = status;
            }
            self.publish(&name, Some(status), last);
        }
    }

    fn watched(&self, name: &str) -> Watched {
        Watched {
            status: self.services.get(name).map(|e| e.status),
            last: self.phase == Phase::ShuttingDown,
        }
    }

    fn publish(&mut self, name: &str, status: Option<ServingStatus>, last: bool) {
        if let Some(sender) = self.channels.get(name) {
            sender.send_replace(Watched { status, last });
        }
    }
}

fn response(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse { status }
}

impl proto::grpc::health::v1::Health for HealthReporter {
    async fn check(
        &self,
        _cx: &mut Context,
        request: HealthCheckRequest,
    ) -> Result<HealthCheckResponse, Status> {
        match self.status(&request.service) {
            Some(status) => Ok(response(status)),
            None => Err(Status::not_found(format!(
                "no health status for the service {:?}",
                request.service.as_str()
            ))),
        }
    }

    async fn list(
        &self,
        _cx: &mut Context,
        _request: HealthListRequest,
    ) -> Result<HealthListResponse, Status> {
        let all = self.statuses();
        if all.len() > LIST_LIMIT {
            return Err(Status::resource_exhausted(format!(
                "{} services have a health status, more than the {LIST_LIMIT} List answers",
                all.len()
            )));
        }
        let mut out = HealthListResponse::default();
        for (name, status) in all {
            out.statuses
                .insert(FastStr::from_string(name), response(status));
        }
        Ok(out)
    }

    async fn watch(
        &self,
        _cx: &mut Context,
        request: HealthCheckRequest,
    ) -> Result<BoxStream<HealthCheckResponse>, Status> {
        let name = request.service.to_string();
        let receiver = self.subscribe(&name);
        let stream = WatchStream {
            receiver,
            sent: None,
            first: true,
            done: false,
            _guard: WatchGuard {
                reporter: self.clone(),
                name,
            },
        };
        Ok(Box::pin(futures_util::stream::unfold(
            stream,
            WatchStream::next,
        )))
    }
}

/// One `Watch` call: what it follows, and what it sent last.
struct WatchStream {
    receiver: watch::Receiver<Watched>,
    sent: Option<ServingStatus>,
    first: bool,
    done: bool,
    _guard: WatchGuard,
}

impl WatchStream {
    async fn next(mut self) -> Option<(Result<HealthCheckResponse, Status>, WatchStream)> {
        if self.done {
            return None;
        }
        loop {
            if !self.first && self.receiver.changed().await.is_err() {
                return None;
            }
            self.first = false;
            let watched = *self.receiver.borrow_and_update();
            let status = watched.status.unwrap_or(ServingStatus::SERVICE_UNKNOWN);
            if watched.last {
                self.done = true;
            } else if self.sent == Some(status) {
                continue;
            }
            self.sent = Some(status);
            return Some((Ok(response(status)), self));
        }
    }
}

/// Counts a `Watch` stream as open until it is dropped.
struct WatchGuard {
    reporter: HealthReporter,
    name: String,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        // The stream's receiver was dropped before this guard (fields drop in order), so it
        // is no longer counted among the channel's receivers.
        self.reporter.unsubscribe(&self.name);
    }
}

impl ServerBuilder {
    /// Serves `grpc.health.v1.Health` from `health` (feature `health`).
    pub fn add_health(self, health: &HealthReporter) -> ServerBuilder {
        self.add_service(
            HealthServer::<HealthReporter>::SERVICE,
            HealthServer::new(health.clone()),
        )
    }
}

impl Server {
    /// [`serve_with_shutdown`](Server::serve_with_shutdown) with `health` tied to the
    /// server's life (feature `health`): the names it manages become `SERVING` as the server
    /// starts accepting, and when `signal` completes every name becomes `NOT_SERVING` and the
    /// `Watch` streams are told so and end, before the connections are sent their GOAWAY.
    pub async fn serve_with_health(
        self,
        listener: TcpListener,
        health: &HealthReporter,
        signal: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        health.serving_started();
        let health = health.clone();
        self.serve_with_shutdown(listener, async move {
            signal.await;
            health.shutdown().await;
        })
        .await
    }
}
