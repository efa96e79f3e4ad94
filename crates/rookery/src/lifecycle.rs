//! The service lifecycle: hooks, listen, serve, wait for a signal, drain, stop.

use std::{
    collections::{BTreeMap, BTreeSet},
    error::Error as StdError,
    future::Future,
    pin::Pin,
    sync::Arc,
    time::Duration,
};

use faststr::FastStr;
use rookery_broker::{Broker, BrokerError, Serving, SubscribeOptions, Subscriber};
use rookery_codec::Codec;
use rookery_core::BoxFuture;
use rookery_registry::{Instance, Registration, Registry, protocol};
use rookery_transport::{Address, Health, HealthState, NamedService, Router, Server, ServerHandle};

use crate::Error;

/// The streaming side of a service reached only by unary calls (Kitex Protobuf): never
/// called, since those calls are unary.
#[cfg(feature = "grpc")]
fn unary_only() -> impl rookery_core::Service<
    rookery_codec::protobuf::rpc::ProtoStreamRequest,
    Response = rookery_codec::protobuf::rpc::Streaming<bytes::Bytes>,
> {
    rookery_core::service_fn(
        |_: &mut rookery_core::Context, _: rookery_codec::protobuf::rpc::ProtoStreamRequest| async {
            Err(rookery_core::Status::unimplemented(
                "Kitex Protobuf carries unary calls only",
            ))
        },
    )
}

/// Who a running service is: what hooks (registration, for one) are told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceInfo {
    /// The service name clients find it by.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Where it listens: the configured address before start, the bound one after.
    pub address: Address,
}

type HookFuture = Pin<Box<dyn Future<Output = Result<(), Box<dyn StdError + Send + Sync>>> + Send>>;

/// A step run at one point of the lifecycle; see [`ServiceBuilder::before_start`] and the
/// others.
pub struct Hook(Box<dyn FnOnce(ServiceInfo) -> HookFuture + Send>);

impl Hook {
    fn new<F, Fut, E>(f: F) -> Hook
    where
        F: FnOnce(ServiceInfo) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        Hook(Box::new(move |info| {
            Box::pin(async move { f(info).await.map_err(Into::into) })
        }))
    }
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hook")
    }
}

#[derive(Debug, Default)]
struct Hooks {
    before_start: Vec<Hook>,
    after_start: Vec<Hook>,
    before_stop: Vec<Hook>,
    after_stop: Vec<Hook>,
}

async fn run_hooks(stage: &str, hooks: Vec<Hook>, info: &ServiceInfo) -> Result<(), Error> {
    for hook in hooks {
        (hook.0)(info.clone())
            .await
            .map_err(|e| Error::with_source(format!("{stage} hook failed"), e))?;
    }
    Ok(())
}

/// Builds a [`Service`].
pub struct ServiceBuilder {
    name: String,
    version: String,
    addr: String,
    router: Router,
    server: rookery_transport::ServerBuilder,
    hooks: Hooks,
    registry: RegistryChoice,
    identity: Identity,
    layers: crate::layers::ServerLayers,
    broker: Option<Arc<dyn Broker>>,
    subscriptions: Vec<PendingSubscription>,
    #[cfg(feature = "grpc")]
    grpc: Option<rookery_grpc::Router>,
    #[cfg(feature = "grpc")]
    protobuf: crate::kitex_protobuf::ProtobufRoutes,
    #[cfg(feature = "grpc")]
    grpc_options: crate::grpc_server::GrpcOptions,
}

impl std::fmt::Debug for ServiceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceBuilder")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// A subscription as the builder holds it, waiting for the layers it will run in.
struct PendingSubscription {
    topic: String,
    make: MakeSubscription,
}

/// Puts a subscription's handler inside the builder's layers, for the service named.
type MakeSubscription =
    Box<dyn FnOnce(&crate::layers::ServerLayers, FastStr) -> StartSubscription + Send>;

/// A subscription ready to start on the service's broker.
type StartSubscription =
    Box<dyn FnOnce(Arc<dyn Broker>) -> BoxFuture<'static, Result<Serving, BrokerError>> + Send>;

/// Where a service registers.
#[derive(Clone)]
enum RegistryChoice {
    /// `ROOKERY_REGISTRY`, or the embedded registry when it is not set.
    FromEnv,
    /// A registry given in code.
    Given(Arc<dyn Registry>),
    /// Nowhere.
    None,
}

/// What a service says of itself when it registers, besides name, version and address.
#[derive(Clone, Debug)]
struct Identity {
    environment: String,
    region: String,
    hostname: String,
    id: Option<String>,
    weight: u32,
    tags: BTreeSet<String>,
    metadata: BTreeMap<String, String>,
    ttl: Duration,
    advertise: Option<String>,
}

impl Default for Identity {
    fn default() -> Self {
        let env = |name: &str| std::env::var(name).unwrap_or_default();
        Identity {
            environment: env("ROOKERY_ENVIRONMENT"),
            region: env("ROOKERY_REGION"),
            hostname: hostname(),
            id: None,
            weight: Instance::DEFAULT_WEIGHT,
            tags: BTreeSet::new(),
            metadata: BTreeMap::new(),
            ttl: Duration::from_secs(10),
            advertise: None,
        }
    }
}

/// This machine's name, as the kernel has it.
fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

impl ServiceBuilder {
    /// The version (`0.0.0` by default).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// The address to listen on: `HOST:PORT` or `unix:PATH` (`127.0.0.1:0`, a port the system
    /// picks, by default).
    pub fn addr(mut self, addr: impl Into<String>) -> Self {
        self.addr = addr.into();
        self
    }

    /// Registers in `registry` (by default the one `ROOKERY_REGISTRY` names, or the embedded
    /// registry of this process).
    pub fn registry(mut self, registry: Arc<dyn Registry>) -> Self {
        self.registry = RegistryChoice::Given(registry);
        self
    }

    /// Registers nowhere.
    pub fn no_registry(mut self) -> Self {
        self.registry = RegistryChoice::None;
        self
    }

    /// The environment registered (`ROOKERY_ENVIRONMENT` by default).
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.identity.environment = environment.into();
        self
    }

    /// The region registered (`ROOKERY_REGION` by default).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.identity.region = region.into();
        self
    }

    /// The hostname registered (this machine's by default).
    pub fn hostname(mut self, hostname: impl Into<String>) -> Self {
        self.identity.hostname = hostname.into();
        self
    }

    /// The instance id registered (a random one by default).
    pub fn instance_id(mut self, id: impl Into<String>) -> Self {
        self.identity.id = Some(id.into());
        self
    }

    /// The weight registered, relative to other instances (100 by default).
    pub fn weight(mut self, weight: u32) -> Self {
        self.identity.weight = weight;
        self
    }

    /// Adds a tag to what is registered.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.identity.tags.insert(tag.into());
        self
    }

    /// Adds a metadata entry to what is registered.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.identity.metadata.insert(key.into(), value.into());
        self
    }

    /// How long the registration lives without a heartbeat (10 s by default; heartbeats come
    /// every third of it).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.identity.ttl = ttl;
        self
    }

    /// The address registered, when it differs from the one listened on (a public address, or
    /// a listener on `0.0.0.0`).
    pub fn advertise(mut self, addr: impl Into<String>) -> Self {
        self.identity.advertise = Some(addr.into());
        self
    }

    /// Serves a service (as generated from an IDL) beside the others.
    pub fn serve<S: NamedService>(mut self, service: S) -> Self {
        self.router = self.router.add_service(service);
        self
    }

    /// Puts `layer` around every service this builder serves, on every protocol: Thrift,
    /// and the Protobuf services reached over gRPC and Kitex Protobuf (not the health and
    /// reflection services the builder adds itself). The first layer added is the outermost:
    /// it sees each call first. Any layer of [`rookery_middleware`](crate::middleware) works
    /// here.
    pub fn layer<L: crate::layers::ServerLayer>(mut self, layer: L) -> Self {
        self.layers.push(Arc::new(layer));
        self
    }

    /// Counts and times the calls this service answers into `metrics` (its
    /// [server layer](rookery_middleware::metrics::Metrics::server_layer), placed among the
    /// [`layer`](Self::layer)s where this is called), and serves every metric `metrics`
    /// holds, clients' included, at `GET /metrics` on the service's own port, in the
    /// OpenMetrics text format that Prometheus scrapes. With a stack that counts calls
    /// already (`ServerStack::recommended(&metrics)`), use
    /// [`metrics_endpoint`](Self::metrics_endpoint) instead, or every call counts twice.
    pub fn metrics(self, metrics: &rookery_middleware::metrics::Metrics) -> Self {
        self.metrics_endpoint(metrics).layer(metrics.server_layer())
    }

    /// Serves every metric `metrics` holds at `GET /metrics` on the service's own port,
    /// without counting this service's calls (a layer does that, as
    /// `ServerStack::recommended(&metrics)` has one).
    pub fn metrics_endpoint(mut self, metrics: &rookery_middleware::metrics::Metrics) -> Self {
        let exposed = metrics.clone();
        self.server = self.server.http_get(
            "/metrics",
            rookery_middleware::metrics::CONTENT_TYPE,
            move || exposed.encode().into(),
        );
        self
    }

    /// Publishes and subscribes through `broker` (by default the one `ROOKERY_BROKER` names,
    /// or the embedded broker of this process; see [`rookery_broker::from_env`]).
    pub fn broker(mut self, broker: Arc<dyn Broker>) -> Self {
        self.broker = Some(broker);
        self
    }

    /// Subscribes `handler` to `topic` with `options` (queue group, ack mode, attempts,
    /// backoff, dead-letter topic), each payload decoded by `codec` (JSON, Protobuf, Thrift:
    /// any [`Codec`]; [`RawBytes`](rookery_broker::RawBytes) for the bytes as they came).
    ///
    /// The subscription starts once the service listens and has registered, and is drained
    /// when it stops: no new message is taken, the handlers at work finish and settle theirs,
    /// then it unsubscribes — all before the service deregisters. Each delivery runs as a
    /// call inside the builder's [`layer`](Self::layer)s (see [`crate::pubsub`]); a handler's
    /// error is a failed attempt (delivered again with backoff, then dead-lettered), and a
    /// payload that does not decode is dead-lettered at once.
    pub fn subscribe<T, C, H>(
        mut self,
        topic: impl Into<String>,
        options: SubscribeOptions,
        codec: C,
        handler: H,
    ) -> Self
    where
        T: Send + 'static,
        C: Codec<T> + Send + Sync + 'static,
        H: crate::pubsub::MessageHandler<T>,
    {
        let topic = topic.into();
        let subscribed = FastStr::from(topic.clone());
        let make =
            move |layers: &crate::layers::ServerLayers, name: FastStr| -> StartSubscription {
                let service =
                    layers.message(rookery_core::BoxService::new(crate::pubsub::Innermost::<
                        T,
                        H,
                    >::new(
                        handler
                    )));
                let handler = crate::pubsub::Layered::<T>::new(service, name);
                Box::new(move |broker: Arc<dyn Broker>| -> BoxFuture<'static, _> {
                    Box::pin(Subscriber::new(broker, subscribed, options).start(codec, handler))
                })
            };
        self.subscriptions.push(PendingSubscription {
            topic,
            make: Box::new(make),
        });
        self
    }

    /// [`subscribe`](Self::subscribe) with JSON payloads (feature `json`).
    #[cfg(feature = "json")]
    pub fn subscribe_json<T, H>(
        self,
        topic: impl Into<String>,
        options: SubscribeOptions,
        handler: H,
    ) -> Self
    where
        T: Send + 'static,
        rookery_codec::json::Json: Codec<T>,
        H: crate::pubsub::MessageHandler<T>,
    {
        self.subscribe(topic, options, rookery_codec::json::Json, handler)
    }

    /// Serves what `router` routes to, replacing services added before.
    pub fn router(mut self, router: Router) -> Self {
        self.router = router;
        self
    }

    /// Serves gRPC on the service's port with `router`: HTTP/2 connections go to it, Thrift
    /// connections to the Thrift services, whichever a client opens. Replaces gRPC services
    /// added before. On shutdown gRPC clients get a GOAWAY and their calls in flight finish
    /// within the drain timeout.
    #[cfg(feature = "grpc")]
    pub fn grpc(mut self, router: rookery_grpc::Router) -> Self {
        self.grpc = Some(router);
        self
    }

    /// Serves a generated Protobuf service (`XServer::new(handler)`, registered under its
    /// `XServer::<H>::SERVICE` descriptor) on the service's port, beside the others, over
    /// both gRPC and TTHeader as Kitex frames Protobuf (unary methods; a
    /// [`ProtobufClient`](crate::ProtobufClient) calls them): one handler, two protocols.
    #[cfg(feature = "grpc")]
    pub fn serve_grpc<S>(
        mut self,
        descriptor: &'static rookery_codec::protobuf::rpc::ServiceDescriptor,
        service: S,
    ) -> Self
    where
        S: rookery_grpc::GrpcService + Send + Sync,
    {
        let service = Arc::new(service);
        let router = self.grpc.take().unwrap_or_default();
        self.grpc = Some(router.add_service(descriptor, Arc::clone(&service)));
        self.protobuf.add(descriptor, service);
        if !self.grpc_options.names.contains(&descriptor.name) {
            self.grpc_options.names.push(descriptor.name);
        }
        self
    }

    /// Gives server reflection the descriptors of served services: the
    /// `FILE_DESCRIPTOR_SET` of the module `rookery-build` generated them in (an encoded
    /// `google.protobuf.FileDescriptorSet`). Without it, reflection still lists the services
    /// served with [`serve_grpc`](Self::serve_grpc) but cannot describe them. A set that does
    /// not decode fails [`build`](Self::build).
    ///
    /// Every service that serves gRPC also serves the standard health service,
    /// `grpc.health.v1.Health`, answering for `""` (the whole service) and for each service
    /// served with `serve_grpc` by its full name, from the same lifecycle as the Thrift and
    /// HTTP health checks: `NOT_SERVING` until it has registered and listens, `SERVING` while
    /// it serves, and `NOT_SERVING` for good once it stops (`Watch` streams see it, before the
    /// connections are sent their GOAWAY). Server reflection (v1 and v1alpha) is served too,
    /// unless turned off with [`reflection`](Self::reflection).
    #[cfg(feature = "grpc")]
    pub fn reflect(mut self, file_descriptor_set: &'static [u8]) -> Self {
        self.grpc_options.descriptor_sets.push(file_descriptor_set);
        self
    }

    /// Serves gRPC-Web on the service's port too, for the pages `cors` allows: HTTP/1.1 (or
    /// HTTP/2) requests with a gRPC-Web content type (`application/grpc-web`,
    /// `application/grpc-web-text`, with `+proto` or not), and CORS preflights (`OPTIONS`),
    /// are answered as the gRPC calls they carry, by the same services (unary and server
    /// streaming; see [`rookery_grpc::web`]). The HTTP health checks stay the server's own.
    #[cfg(feature = "grpc")]
    pub fn grpc_web(mut self, cors: rookery_grpc::web::Cors) -> Self {
        self.grpc_options.web = Some(cors);
        self
    }

    /// Whether server reflection (`grpc.reflection.v1.ServerReflection` and `v1alpha`) is
    /// served beside gRPC services (on by default; see [`reflect`](Self::reflect)).
    #[cfg(feature = "grpc")]
    pub fn reflection(mut self, on: bool) -> Self {
        self.grpc_options.reflection = on;
        self
    }

    /// The largest frame a client may send (16 MiB by default).
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.server = self.server.max_frame_size(bytes);
        self
    }

    /// How many connections may be open at once (10 000 by default).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.server = self.server.max_connections(n);
        self
    }

    /// How long in-flight calls may run after shutdown starts (30 s by default).
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.server = self.server.drain_timeout(timeout);
        self
    }

    /// Serves over TLS only (feature `tls`): every connection to the port (Thrift, gRPC,
    /// health checks) starts with a TLS handshake, and with
    /// [client CAs](rookery_transport::tls::TlsConfig::client_ca) set, clients must present a
    /// certificate they issued (mutual TLS); handlers find it in their context
    /// ([`PeerCertificates::of`](rookery_transport::tls::PeerCertificates::of)). gRPC
    /// clients reach the service by ALPN `h2`.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: rookery_transport::tls::TlsConfig) -> Self {
        self.server = self.server.tls(config);
        self
    }

    /// How long a client has to finish its TLS handshake (10 s by default; feature `tls`).
    #[cfg(feature = "tls")]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.server = self.server.handshake_timeout(timeout);
        self
    }

    /// Runs `hook` before the listener is bound; an error aborts the start.
    pub fn before_start<F, Fut, E>(mut self, hook: F) -> Self
    where
        F: FnOnce(ServiceInfo) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        self.hooks.before_start.push(Hook::new(hook));
        self
    }

    /// Runs `hook` once the service listens and serves (this is where it registers); an error
    /// stops the service.
    pub fn after_start<F, Fut, E>(mut self, hook: F) -> Self
    where
        F: FnOnce(ServiceInfo) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        self.hooks.after_start.push(Hook::new(hook));
        self
    }

    /// Runs `hook` when stopping, before in-flight calls drain (this is where it deregisters);
    /// an error is logged and the stop goes on.
    pub fn before_stop<F, Fut, E>(mut self, hook: F) -> Self
    where
        F: FnOnce(ServiceInfo) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        self.hooks.before_stop.push(Hook::new(hook));
        self
    }

    /// Runs `hook` after the server has stopped; an error is logged.
    pub fn after_stop<F, Fut, E>(mut self, hook: F) -> Self
    where
        F: FnOnce(ServiceInfo) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        self.hooks.after_stop.push(Hook::new(hook));
        self
    }

    /// Checks the configuration and builds the service.
    pub fn build(self) -> Result<Service, Error> {
        if self.name.is_empty() {
            return Err(Error::new("a service needs a name"));
        }
        #[cfg(feature = "grpc")]
        let serves_grpc = self.grpc.is_some();
        #[cfg(not(feature = "grpc"))]
        let serves_grpc = false;
        if self.router.is_empty() && !serves_grpc && self.subscriptions.is_empty() {
            return Err(Error::new(format!("service {} serves nothing", self.name)));
        }
        let address: Address = self
            .addr
            .parse()
            .map_err(|e| Error::with_source(format!("bad address {:?}", self.addr), e))?;
        let version: semver::Version = self.version.parse().map_err(|e| {
            Error::with_source(format!("version {:?} is not semver", self.version), e)
        })?;
        if self.identity.ttl.is_zero() {
            return Err(Error::new("a registration TTL must be more than zero"));
        }
        let health = Health::new();
        let mut protocols = Vec::new();
        if !self.router.is_empty() {
            protocols.push(protocol::THRIFT);
        }
        if serves_grpc {
            protocols.push(protocol::GRPC);
        }
        #[allow(unused_mut)]
        let mut server = self.server;
        #[cfg(feature = "grpc")]
        let mut grpc_health = None;
        #[cfg(feature = "grpc")]
        if let Some(mut router) = self.grpc {
            if !self.layers.is_empty() {
                router = router.map_services(|_, unary, streaming| {
                    let boxed = crate::layers::GrpcServiceBox::from_parts(unary, streaming);
                    self.layers.grpc(boxed).into_parts()
                });
            }
            let names = self.grpc_options.names.clone();
            let prepared = self.grpc_options.prepare(router)?;
            server =
                server.http_handler(crate::grpc_server::handler(prepared.router, prepared.web));
            grpc_health = Some((prepared.health, names));
        }
        #[cfg(feature = "grpc")]
        if !self.protobuf.is_empty() {
            let mut routes = self.protobuf;
            if !self.layers.is_empty() {
                routes.map_services(|unary| {
                    let boxed = crate::layers::GrpcServiceBox::from_parts(
                        unary,
                        rookery_core::BoxService::new(unary_only()),
                    );
                    self.layers.grpc(boxed).into_parts().0
                });
            }
            server = server.kitex_protobuf(routes);
        }
        let name = FastStr::from(self.name.clone());
        let subscriptions = self
            .subscriptions
            .into_iter()
            .map(|pending| (pending.topic, (pending.make)(&self.layers, name.clone())))
            .collect();
        Ok(Service {
            broker: self.broker,
            subscriptions,
            info: ServiceInfo {
                name: self.name.clone(),
                version: self.version,
                address,
            },
            semver: version,
            server: server
                .service_name(self.name)
                .health(health.clone())
                .build(self.layers.thrift(self.router)),
            hooks: self.hooks,
            registry: self.registry,
            identity: self.identity,
            health,
            protocols,
            #[cfg(feature = "grpc")]
            grpc_health,
        })
    }
}

/// A service and its lifecycle: [`run`](Service::run) runs the `before_start` hooks, listens,
/// serves, runs the `after_start` hooks, waits for `SIGTERM` or `SIGINT`, runs the
/// `before_stop` hooks, drains in-flight calls, stops, and runs the `after_stop` hooks.
pub struct Service {
    info: ServiceInfo,
    /// The broker given in code; `ROOKERY_BROKER` chooses when none is and there are
    /// subscriptions.
    broker: Option<Arc<dyn Broker>>,
    /// Each subscription's topic, and how it starts.
    subscriptions: Vec<(String, StartSubscription)>,
    semver: semver::Version,
    server: Server<crate::layers::Routed>,
    hooks: Hooks,
    registry: RegistryChoice,
    identity: Identity,
    health: Health,
    /// The protocols registered, each at the listening address.
    protocols: Vec<&'static str>,
    /// The gRPC health service's reporter, and the names it answers for beside `""`.
    #[cfg(feature = "grpc")]
    grpc_health: Option<(rookery_grpc::health::HealthReporter, Vec<&'static str>)>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// A builder for a service named `name`.
    pub fn builder(name: impl Into<String>) -> ServiceBuilder {
        ServiceBuilder {
            name: name.into(),
            version: "0.0.0".into(),
            addr: "127.0.0.1:0".into(),
            router: Router::new(),
            server: Server::builder(),
            hooks: Hooks::default(),
            registry: RegistryChoice::FromEnv,
            identity: Identity::default(),
            layers: Default::default(),
            broker: None,
            subscriptions: Vec::new(),
            #[cfg(feature = "grpc")]
            grpc: None,
            #[cfg(feature = "grpc")]
            protobuf: Default::default(),
            #[cfg(feature = "grpc")]
            grpc_options: Default::default(),
        }
    }

    /// Who this service is.
    pub fn info(&self) -> &ServiceInfo {
        &self.info
    }

    /// Runs until `SIGTERM` or `SIGINT`, then stops gracefully.
    pub async fn run(self) -> Result<(), Error> {
        // Handle the signals before listening, so one that comes right after is not fatal.
        let signal =
            shutdown_signal().map_err(|e| Error::with_source("installing signal handlers", e))?;
        let running = self.start().await?;
        let which = signal.await;
        tracing::info!(signal = which, service = %running.info.name, "stopping");
        running.stop().await
    }

    /// Starts serving and returns a handle to stop it; for tests and for programs that decide
    /// themselves when to stop.
    ///
    /// In order: the `before_start` hooks; listen; register (a failed first registration stops
    /// the service); the `after_start` hooks.
    pub async fn start(self) -> Result<RunningService, Error> {
        let Service {
            broker,
            subscriptions,
            mut info,
            semver,
            server,
            mut hooks,
            registry,
            identity,
            health,
            protocols,
            #[cfg(feature = "grpc")]
            grpc_health,
        } = self;
        run_hooks(
            "before start",
            std::mem::take(&mut hooks.before_start),
            &info,
        )
        .await?;
        let registry: Option<Arc<dyn Registry>> = match registry {
            RegistryChoice::FromEnv => Some(
                rookery_registry::from_env()
                    .await
                    .map_err(|e| Error::with_source("choosing the registry", e))?,
            ),
            RegistryChoice::Given(r) => Some(r),
            RegistryChoice::None => None,
        };
        let broker = match broker {
            Some(broker) => Some(broker),
            None if !subscriptions.is_empty() => Some(
                crate::pubsub::from_env()
                    .await
                    .map_err(|e| Error::with_source("choosing the broker", e))?,
            ),
            None => None,
        };
        let handle = server
            .bind(&info.address)
            .await
            .map_err(|e| Error::with_source(format!("listening on {}", info.address), e))?;
        info.address = handle.local_addr().clone();
        tracing::info!(service = %info.name, version = %info.version, address = %info.address, "serving");
        let mut running = RunningService {
            info,
            handle,
            health,
            registration: None,
            instance: None,
            broker: broker.clone(),
            subscribers: Vec::new(),
            #[cfg(feature = "grpc")]
            grpc_health: None,
            before_stop: std::mem::take(&mut hooks.before_stop),
            after_stop: std::mem::take(&mut hooks.after_stop),
        };
        if let Some(registry) = registry {
            let instance = instance_of(&running.info, semver, &identity, &protocols);
            match Registration::start(registry, instance.clone(), identity.ttl).await {
                Ok(registration) => {
                    running.registration = Some(registration);
                    running.instance = Some(instance);
                }
                Err(e) => {
                    let e = Error::with_source("registering", e);
                    tracing::error!(error = %e, "stopping: registration failed");
                    let _ = running.stop().await;
                    return Err(e);
                }
            }
        }
        // Registered and listening: the gRPC health service follows the service's health
        // from here on (SERVING now, NOT_SERVING once it drains).
        #[cfg(feature = "grpc")]
        if let Some((reporter, names)) = grpc_health {
            running.grpc_health =
                Some(crate::grpc_health::follow(&running.health, reporter, names));
        }
        // Listening and registered: messages may come now, and their handlers may call out.
        if let Some(broker) = broker {
            for (topic, start) in subscriptions {
                match start(Arc::clone(&broker)).await {
                    Ok(serving) => running.subscribers.push(serving),
                    Err(e) => {
                        let e = Error::with_source(format!("subscribing to {topic}"), e);
                        tracing::error!(error = %e, "stopping: a subscription failed");
                        let _ = running.stop().await;
                        return Err(e);
                    }
                }
            }
        }
        if let Err(e) = run_hooks("after start", hooks.after_start, &running.info).await {
            tracing::error!(error = %e, "stopping: a start hook failed");
            let _ = running.stop().await;
            return Err(e);
        }
        Ok(running)
    }
}

/// The instance a service registers: its identity, and the address it serves on for each of
/// its protocols (all on one port: Thrift, which carries Kitex Protobuf too, and gRPC).
fn instance_of(
    info: &ServiceInfo,
    version: semver::Version,
    identity: &Identity,
    protocols: &[&str],
) -> Instance {
    let address = identity.advertise.clone().unwrap_or_else(|| {
        if let Address::Tcp(sock) = &info.address {
            if sock.ip().is_unspecified() {
                tracing::warn!(
                    address = %info.address,
                    "listening on every interface: registering 127.0.0.1; set advertise() for other hosts"
                );
                return std::net::SocketAddr::new([127, 0, 0, 1].into(), sock.port()).to_string();
            }
        }
        info.address.to_string()
    });
    let mut instance = Instance::new(info.name.clone(), version);
    for protocol in protocols {
        instance = instance.with_address(*protocol, address.clone());
    }
    instance.environment = identity.environment.clone();
    instance.region = identity.region.clone();
    instance.hostname = identity.hostname.clone();
    if let Some(id) = &identity.id {
        instance.id = id.clone();
    }
    instance.weight = identity.weight;
    instance.tags = identity.tags.clone();
    instance.metadata = identity.metadata.clone();
    instance
}

/// A service that is serving; [`stop`](RunningService::stop) ends it gracefully.
pub struct RunningService {
    info: ServiceInfo,
    handle: ServerHandle,
    health: Health,
    registration: Option<Registration>,
    instance: Option<Instance>,
    /// The broker the subscriptions use, when there are any or one was given.
    broker: Option<Arc<dyn Broker>>,
    /// The subscriptions at work.
    subscribers: Vec<Serving>,
    /// The task that reports the health over gRPC.
    #[cfg(feature = "grpc")]
    grpc_health: Option<tokio::task::JoinHandle<()>>,
    before_stop: Vec<Hook>,
    after_stop: Vec<Hook>,
}

impl std::fmt::Debug for RunningService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningService")
            .field("info", &self.info)
            .field("handle", &self.handle)
            .field("instance", &self.instance)
            .field("subscriptions", &self.subscribers.len())
            .finish_non_exhaustive()
    }
}

impl RunningService {
    /// Who the service is, with the address it is bound to.
    pub fn info(&self) -> &ServiceInfo {
        &self.info
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> &Address {
        &self.info.address
    }

    /// The instance registered, if the service registers.
    pub fn instance(&self) -> Option<&Instance> {
        self.instance.as_ref()
    }

    /// The health the service reports (built-in `rookery.Health` calls and HTTP `/health`).
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// The broker the service subscribes through, to publish on ([`crate::pubsub::publish`]):
    /// the one given to the builder, or chosen by `ROOKERY_BROKER` when the service
    /// subscribes; `None` otherwise.
    pub fn broker(&self) -> Option<&Arc<dyn Broker>> {
        self.broker.as_ref()
    }

    /// Stops gracefully: the `before_stop` hooks; drain the subscriptions (no new message
    /// taken, handlers at work finish and settle theirs, unsubscribe); deregister, so clients stop picking this
    /// instance; stop accepting and let in-flight calls finish within the drain timeout (clients
    /// on open connections are told to move away); close; the `after_stop` hooks.
    pub async fn stop(mut self) -> Result<(), Error> {
        if let Err(e) = run_hooks(
            "before stop",
            std::mem::take(&mut self.before_stop),
            &self.info,
        )
        .await
        {
            tracing::error!(error = %e, "stopping anyway");
        }
        // Drained one after the other: each waits only for its own handlers at work.
        for serving in std::mem::take(&mut self.subscribers) {
            if let Err(e) = serving.stop().await {
                tracing::warn!(error = %e, "a subscription did not stop cleanly");
            }
        }
        if let Some(registration) = self.registration.take() {
            if let Err(e) = registration.deregister().await {
                // The registration will expire with its TTL.
                tracing::warn!(error = %e, "deregistering failed; the entry expires with its TTL");
            }
        }
        // The drain begins: health checks say so first, and gRPC `Watch` streams are sent
        // their last status before the connections get their GOAWAY.
        self.health.set(HealthState::Draining);
        #[cfg(feature = "grpc")]
        if let Some(follower) = self.grpc_health.take() {
            // The reporter bounds its wait for slow watchers; this bounds the rest.
            let _ = tokio::time::timeout(Duration::from_secs(3), follower).await;
        }
        self.handle.stop().await;
        tracing::info!(service = %self.info.name, "stopped");
        run_hooks(
            "after stop",
            std::mem::take(&mut self.after_stop),
            &self.info,
        )
        .await
    }
}

/// Waits for `SIGTERM` or `SIGINT` (Ctrl-C) and says which came.
fn shutdown_signal() -> std::io::Result<impl Future<Output = &'static str>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async move {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        })
    }
}
