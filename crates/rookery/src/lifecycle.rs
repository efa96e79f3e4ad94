//! The service lifecycle: hooks, listen, serve, wait for a signal, drain, stop.

use std::{error::Error as StdError, future::Future, pin::Pin, time::Duration};

use rookery_transport::{Address, NamedService, Router, Server, ServerHandle};

use crate::Error;

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
#[derive(Debug)]
pub struct ServiceBuilder {
    name: String,
    version: String,
    addr: String,
    router: Router,
    server: rookery_transport::ServerBuilder,
    hooks: Hooks,
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

    /// Serves a service (as generated from an IDL) beside the others.
    pub fn serve<S: NamedService>(mut self, service: S) -> Self {
        self.router = self.router.add_service(service);
        self
    }

    /// Serves what `router` routes to, replacing services added before.
    pub fn router(mut self, router: Router) -> Self {
        self.router = router;
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
        if self.router.is_empty() {
            return Err(Error::new(format!("service {} serves nothing", self.name)));
        }
        let address: Address = self
            .addr
            .parse()
            .map_err(|e| Error::with_source(format!("bad address {:?}", self.addr), e))?;
        Ok(Service {
            info: ServiceInfo {
                name: self.name.clone(),
                version: self.version,
                address,
            },
            server: self.server.service_name(self.name).build(self.router),
            hooks: self.hooks,
        })
    }
}

/// A service and its lifecycle: [`run`](Service::run) runs the `before_start` hooks, listens,
/// serves, runs the `after_start` hooks, waits for `SIGTERM` or `SIGINT`, runs the
/// `before_stop` hooks, drains in-flight calls, stops, and runs the `after_stop` hooks.
#[derive(Debug)]
pub struct Service {
    info: ServiceInfo,
    server: Server<Router>,
    hooks: Hooks,
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
    pub async fn start(self) -> Result<RunningService, Error> {
        let Service {
            mut info,
            server,
            mut hooks,
        } = self;
        run_hooks(
            "before start",
            std::mem::take(&mut hooks.before_start),
            &info,
        )
        .await?;
        let handle = server
            .bind(&info.address)
            .await
            .map_err(|e| Error::with_source(format!("listening on {}", info.address), e))?;
        info.address = handle.local_addr().clone();
        tracing::info!(service = %info.name, version = %info.version, address = %info.address, "serving");
        let running = RunningService {
            info,
            handle,
            before_stop: std::mem::take(&mut hooks.before_stop),
            after_stop: std::mem::take(&mut hooks.after_stop),
        };
        if let Err(e) = run_hooks("after start", hooks.after_start, &running.info).await {
            tracing::error!(error = %e, "stopping: a start hook failed");
            let _ = running.stop().await;
            return Err(e);
        }
        Ok(running)
    }
}

/// A service that is serving; [`stop`](RunningService::stop) ends it gracefully.
#[derive(Debug)]
pub struct RunningService {
    info: ServiceInfo,
    handle: ServerHandle,
    before_stop: Vec<Hook>,
    after_stop: Vec<Hook>,
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

    /// Runs the `before_stop` hooks, stops accepting, lets in-flight calls finish within the
    /// drain timeout, closes, and runs the `after_stop` hooks.
    pub async fn stop(self) -> Result<(), Error> {
        if let Err(e) = run_hooks("before stop", self.before_stop, &self.info).await {
            tracing::error!(error = %e, "stopping anyway");
        }
        self.handle.stop().await;
        tracing::info!(service = %self.info.name, "stopped");
        run_hooks("after stop", self.after_stop, &self.info).await
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
