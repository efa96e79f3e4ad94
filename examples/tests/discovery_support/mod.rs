//! What the `discovery_*` tests share: an Echo instance and a standalone registry, each run as
//! a real separate process (this test binary run again as a child, see
//! [`rookery_testkit::rerun_test`]), callers that call a service by name in a loop and count
//! every call, and waiting on what can be observed.
//!
//! The children are `#[test]`s of this module, so every test binary that includes it can
//! start them; they do nothing in a normal run (they are `#[ignore]`d, and check
//! [`is_rerun`]).
#![allow(dead_code, unreachable_pub)] // each test file uses its own subset

use std::{
    collections::BTreeMap,
    future::Future,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use rookery::{
    BalancedClient, Context, Protocol, Router, Service, Status,
    codegen::FastStr,
    registry::{
        InstanceSet, Query, Watch,
        embedded::{Embedded, EmbeddedServer},
    },
};
use rookery_examples::echo::{Echo, EchoClient, EchoError, EchoServer, FailError};
use rookery_testkit::{
    ChildProcess, TempDir, is_rerun,
    logs::{self, Logs},
    rerun_test,
};
use tokio::task::JoinHandle;

/// How long to wait for anything that should happen: far above what it takes on a loaded
/// machine. Tests wait on events, never on time; this only turns a hang into a failure.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The version every instance registers.
pub const VERSION: &str = "1.0.0";

/// The log of this test binary: what the registry and the balancer say about entries they
/// skip and instances they cannot reach.
pub fn logs() -> &'static Logs {
    logs::capture("info,rookery_registry=debug,rookery_balance=debug")
}

/// Runs blocking work (waiting for a child's line, stopping it) without stalling the runtime:
/// the tests run on a multi-thread runtime, so the callers go on meanwhile.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// Waits until `check` holds, checking every 20 ms; fails the test with `what` after
/// [`PATIENCE`].
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    within(what, async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// Awaits `f`, failing the test with `what` if it takes more than [`PATIENCE`].
pub async fn within<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(PATIENCE, f).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: not done within {PATIENCE:?}"),
    }
}

/// The ids of the instances a client may call now, sorted.
pub fn endpoint_ids(client: &BalancedClient) -> Vec<String> {
    let mut ids: Vec<String> = client
        .endpoints()
        .endpoints()
        .iter()
        .map(|e| e.id().to_owned())
        .collect();
    ids.sort();
    ids
}

/// Waits until the client's set of callable instances is exactly `ids` (any order).
pub async fn until_endpoints(client: &BalancedClient, ids: &[&str]) {
    let mut want: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    want.sort();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let now = endpoint_ids(client);
        if now == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the client's instances did not become {want:?} within {PATIENCE:?}: they are {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The ids of a set, in order.
pub fn set_ids(set: &InstanceSet) -> Vec<String> {
    set.instances().iter().map(|i| i.id.clone()).collect()
}

/// Records every set a watch publishes from now on (to check that none was empty).
pub struct SetRecorder {
    seen: Arc<Mutex<Vec<Vec<String>>>>,
    task: JoinHandle<()>,
}

impl SetRecorder {
    pub fn start(watch: &Watch) -> SetRecorder {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut watch = watch.clone();
        let task = {
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                while let Ok(set) = watch.changed().await {
                    seen.lock().unwrap().push(set_ids(&set));
                }
            })
        };
        SetRecorder { seen, task }
    }

    /// Every set seen, in order.
    pub fn finish(self) -> Vec<Vec<String>> {
        self.task.abort();
        self.seen.lock().unwrap().clone()
    }
}

// ---------------------------------------------------------------------------------------
// The Echo instance, as a separate process.

/// The name of the child test that runs one Echo instance.
pub const ECHO_CHILD: &str = "discovery_support::echo_instance_child";
const SERVICE_ENV: &str = "ROOKERY_DISCOVERY_TEST_SERVICE";
const LABEL_ENV: &str = "ROOKERY_DISCOVERY_TEST_LABEL";
const TTL_ENV: &str = "ROOKERY_DISCOVERY_TEST_TTL_MS";
const DELAY_ENV: &str = "ROOKERY_DISCOVERY_TEST_DELAY_MS";

/// Answers `echo(msg)` with `LABEL|msg` after `delay`, so the caller knows which instance
/// answered; counts the calls it answered.
struct Labelled {
    label: String,
    delay: Duration,
    answered: Arc<AtomicU64>,
}

impl Echo for Labelled {
    async fn echo(&self, _cx: &mut Context, msg: FastStr) -> Result<FastStr, Status> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.answered.fetch_add(1, Ordering::Relaxed);
        Ok(format!("{}|{msg}", self.label).into())
    }

    async fn fail(
        &self,
        _cx: &mut Context,
        code: i32,
        message: FastStr,
    ) -> Result<FastStr, FailError> {
        Err(FailError::Err(EchoError { code, message }))
    }

    async fn notify(&self, _cx: &mut Context, _msg: FastStr) -> Result<(), Status> {
        Ok(())
    }
}

/// One Echo instance, as a service runs in production: `rookery::Service::run` with the
/// registry `ROOKERY_REGISTRY` names, its label as instance id, the TTL it is given. Prints
/// `SERVING LABEL ADDRESS` once it listens and is registered, and `STOPPED LABEL answered=N`
/// after a graceful stop (SIGTERM: deregister, drain, close), N being how many `echo` calls
/// its handler answered.
#[test]
#[ignore = "run as a child process by the discovery tests"]
fn echo_instance_child() {
    if !is_rerun(ECHO_CHILD) {
        return;
    }
    child_tracing();
    let service = std::env::var(SERVICE_ENV).expect("the service name");
    let label = std::env::var(LABEL_ENV).expect("the instance label");
    let ttl: u64 = std::env::var(TTL_ENV)
        .expect("the TTL")
        .parse()
        .expect("a TTL in ms");
    let delay: u64 = std::env::var(DELAY_ENV)
        .expect("the delay")
        .parse()
        .expect("a delay in ms");
    let answered = Arc::new(AtomicU64::new(0));
    let handler = Labelled {
        label: label.clone(),
        delay: Duration::from_millis(delay),
        answered: Arc::clone(&answered),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let printed = label.clone();
    let outcome = runtime.block_on(
        Service::builder(service)
            .version(VERSION)
            .instance_id(&label)
            .metadata("label", &label)
            .ttl(Duration::from_millis(ttl))
            .drain_timeout(Duration::from_secs(20))
            .serve(EchoServer::new(handler))
            .after_start(move |info| async move {
                println!("SERVING {printed} {}", info.address);
                Ok::<_, std::io::Error>(())
            })
            .build()
            .expect("the service builds")
            .run(),
    );
    match outcome {
        Ok(()) => println!(
            "STOPPED {label} answered={}",
            answered.load(Ordering::Relaxed)
        ),
        Err(e) => panic!("{label} failed: {e}"),
    }
}

fn child_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
}

/// An Echo instance running as a separate process.
#[derive(Debug)]
pub struct EchoProcess {
    /// Its label, which is also its instance id.
    pub label: String,
    /// Where it listens (`127.0.0.1:PORT`).
    pub addr: String,
    child: ChildProcess,
}

impl EchoProcess {
    /// Starts an instance of `service` registered in the registry at `registry_url` (as
    /// `ROOKERY_REGISTRY` takes it) with `ttl`, and waits until it serves (it has registered
    /// by then). Blocks: call it through [`blocking`] inside a runtime.
    pub fn start(registry_url: &str, service: &str, label: &str, ttl: Duration) -> EchoProcess {
        EchoProcess::start_slow(registry_url, service, label, ttl, Duration::ZERO)
    }

    /// [`start`](EchoProcess::start) an instance that takes `delay` to answer each call, so
    /// that calls are in flight whenever it is stopped.
    pub fn start_slow(
        registry_url: &str,
        service: &str,
        label: &str,
        ttl: Duration,
        delay: Duration,
    ) -> EchoProcess {
        let ttl_ms = ttl.as_millis().to_string();
        let delay_ms = delay.as_millis().to_string();
        let mut child = rerun_test(
            ECHO_CHILD,
            &[
                ("ROOKERY_REGISTRY", registry_url),
                (SERVICE_ENV, service),
                (LABEL_ENV, label),
                (TTL_ENV, &ttl_ms),
                (DELAY_ENV, &delay_ms),
                ("RUST_LOG", "info"),
            ],
        )
        .expect("the echo child starts");
        let marker = format!("SERVING {label} ");
        // libtest may print `test NAME ... ` before the child's first line, on the same line.
        let line = child
            .wait_for_line(|l| l.contains(&marker), PATIENCE)
            .unwrap_or_else(|e| panic!("{label} did not start: {e}"));
        let addr = line.rsplit(&marker).next().unwrap().trim().to_owned();
        EchoProcess {
            label: label.to_owned(),
            addr,
            child,
        }
    }

    /// Freezes it (SIGSTOP).
    pub fn pause(&self) {
        self.child.pause().unwrap();
    }

    /// Lets it go on (SIGCONT).
    pub fn resume(&self) {
        self.child.resume().unwrap();
    }

    /// Whether it still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for a line it prints (after those waited for before).
    pub fn wait_for_line(&mut self, pick: impl Fn(&str) -> bool) -> String {
        self.child
            .wait_for_line(pick, PATIENCE)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Stops it gracefully (SIGTERM), checks that it exited cleanly after its graceful stop,
    /// and returns its label and how many `echo` calls it answered. Blocks.
    pub fn terminate(mut self) -> (String, u64) {
        let status = self.child.terminate(PATIENCE).unwrap();
        assert!(
            status.success(),
            "{}",
            self.child
                .error(&format!("did not stop gracefully ({status})"))
        );
        // Its output is read by other threads: wait for the last line rather than look.
        let stopped = format!("STOPPED {} answered=", self.label);
        let line = self
            .child
            .wait_for_line(|l| l.contains(&stopped), PATIENCE)
            .unwrap_or_else(|e| panic!("{e}"));
        let answered = line
            .rsplit_once(&stopped)
            .unwrap()
            .1
            .trim()
            .parse()
            .unwrap();
        (self.label, answered)
    }

    /// Everything it printed so far.
    pub fn output(&self) -> Vec<String> {
        self.child.output()
    }
}

// ---------------------------------------------------------------------------------------
// The standalone embedded registry, as a separate process.

/// The name of the child test that runs the standalone registry.
pub const REGISTRY_CHILD: &str = "discovery_support::registry_server_child";
const REGISTRY_ADDR_ENV: &str = "ROOKERY_DISCOVERY_TEST_REGISTRY_ADDR";
const REGISTRY_STATE_ENV: &str = "ROOKERY_DISCOVERY_TEST_REGISTRY_STATE";

/// The standalone registry as `cargo run --example registry` serves it: the embedded registry
/// with a state file, served over rookery's RPC by a `rookery::Service` until SIGTERM, then
/// saved. Prints `listening on ADDR` once it serves.
#[test]
#[ignore = "run as a child process by the discovery tests"]
fn registry_server_child() {
    if !is_rerun(REGISTRY_CHILD) {
        return;
    }
    child_tracing();
    let addr = std::env::var(REGISTRY_ADDR_ENV).expect("the address");
    let state = std::env::var(REGISTRY_STATE_ENV).expect("the state file");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let registry = Embedded::builder()
            .state_file(state)
            .flush_interval(Duration::from_millis(200))
            .build();
        let server = EmbeddedServer::new(registry.clone());
        let releasing = server.clone();
        Service::builder("registry")
            .addr(addr)
            .no_registry()
            .router(Router::new().add_service(server))
            .drain_timeout(Duration::from_secs(10))
            .after_start(|info| async move {
                println!("listening on {}", info.address);
                Ok::<_, std::io::Error>(())
            })
            .before_stop(move |_| async move {
                releasing.stop_watches();
                Ok::<_, std::io::Error>(())
            })
            .build()
            .unwrap()
            .run()
            .await
            .unwrap();
        registry.flush().await.unwrap();
        println!("registry stopped");
    });
}

/// The standalone registry running as a separate process.
#[derive(Debug)]
pub struct RegistryProcess {
    /// Where it listens (`127.0.0.1:PORT`).
    pub addr: String,
    child: ChildProcess,
}

impl RegistryProcess {
    /// Starts it on `addr` (`127.0.0.1:0` for any port) with the state file `state`, and waits
    /// until it serves. Blocks.
    pub fn start(addr: &str, state: &Path) -> RegistryProcess {
        let mut child = rerun_test(
            REGISTRY_CHILD,
            &[
                (REGISTRY_ADDR_ENV, addr),
                (REGISTRY_STATE_ENV, state.to_str().unwrap()),
            ],
        )
        .expect("the registry child starts");
        let line = child
            .wait_for_line(|l| l.contains("listening on "), PATIENCE)
            .unwrap_or_else(|e| panic!("the registry did not start: {e}"));
        let addr = line
            .rsplit("listening on ")
            .next()
            .unwrap()
            .trim()
            .to_owned();
        RegistryProcess { addr, child }
    }

    /// Stops it gracefully (SIGTERM: release the long polls, drain, save) and checks that it
    /// did. Blocks.
    pub fn stop(mut self) {
        let status = self.child.terminate(PATIENCE).unwrap();
        assert!(
            status.success(),
            "{}",
            self.child
                .error(&format!("did not stop gracefully ({status})"))
        );
        self.wait_for_line(|l| l.contains("registry stopped"));
    }

    /// Waits for a line it prints (after those waited for before).
    pub fn wait_for_line(&mut self, pick: impl Fn(&str) -> bool) -> String {
        self.child
            .wait_for_line(pick, PATIENCE)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Everything it printed so far.
    pub fn output(&self) -> Vec<String> {
        self.child.output()
    }
}

// ---------------------------------------------------------------------------------------
// Callers.

/// What the callers saw: successful calls by the label of the instance that answered, and
/// every failure.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub by_label: BTreeMap<String, u64>,
    pub failures: Vec<String>,
}

impl Tally {
    /// How many calls succeeded.
    pub fn succeeded(&self) -> u64 {
        self.by_label.values().sum()
    }

    /// How many calls `label` answered.
    pub fn served_by(&self, label: &str) -> u64 {
        self.by_label.get(label).copied().unwrap_or(0)
    }

    /// Fails the test unless each instance of `answered` (label, how many calls its handler
    /// answered, as it said when it stopped) answered exactly the calls counted here: no reply
    /// was lost on the way, and no call was answered twice.
    pub fn assert_every_answer_arrived(&self, answered: &[(String, u64)]) {
        // Instances that share a label (and id) are counted together.
        let mut by_label = BTreeMap::<&str, u64>::new();
        for (label, n) in answered {
            *by_label.entry(label).or_default() += n;
        }
        for (label, n) in by_label {
            assert_eq!(
                self.served_by(label),
                n,
                "{label} answered {n} calls; the callers got {} of them",
                self.served_by(label)
            );
        }
    }

    /// Fails the test if any call failed, showing the first failures.
    pub fn assert_no_failure(&self) {
        assert!(
            self.failures.is_empty(),
            "{} of {} calls failed; the first: {:#?}; served: {:?}",
            self.failures.len(),
            self.failures.len() as u64 + self.succeeded(),
            &self.failures[..self.failures.len().min(5)],
            self.by_label
        );
    }
}

/// Callers that call `echo` by name in a loop, each call through the balanced client (the
/// default balancer unless the client was built with another), until [`finish`](Load::finish).
/// A call fails if it returns an error, if its reply is not its own message, or if it takes
/// longer than 10 s (a guard: no call should hang).
pub struct Load {
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Load {
    /// Starts `callers` callers over `client`. Each pauses 1 ms between calls, so that the
    /// machine's two cores are left some room for the registry and the instances.
    pub fn start(client: &BalancedClient, callers: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Mutex::new(Tally::default()));
        let client = EchoClient::with_service(client.clone(), Protocol::Binary);
        let tasks = (0..callers)
            .map(|caller| {
                let (client, stop, tally) = (client.clone(), stop.clone(), tally.clone());
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let msg = format!("caller {caller} call {n}");
                        let mut cx = Context::new();
                        cx.shorten_deadline(Duration::from_secs(10));
                        let outcome = client.echo(&mut cx, msg.clone()).await;
                        let failure = match outcome {
                            Ok(reply) => match reply.split_once('|') {
                                Some((label, back)) if back == msg => {
                                    let mut tally = tally.lock().unwrap();
                                    *tally.by_label.entry(label.to_owned()).or_default() += 1;
                                    None
                                }
                                _ => Some(format!("{msg}: wrong reply {reply:?}")),
                            },
                            Err(status) => {
                                Some(format!("{msg} to {:?}: {status}", cx.callee().address))
                            }
                        };
                        if let Some(failure) = failure {
                            tally.lock().unwrap().failures.push(failure);
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                })
            })
            .collect();
        Load { stop, tally, tasks }
    }

    /// What the callers saw so far.
    pub fn tally(&self) -> Tally {
        self.tally.lock().unwrap().clone()
    }

    /// Waits until `label` has answered at least `n` calls in all.
    pub async fn until_served_by(&self, label: &str, n: u64) {
        let what = format!("{label} answers {n} calls");
        eventually(&what, || self.tally().served_by(label) >= n).await;
    }

    /// Waits until `n` more calls have succeeded.
    pub async fn until_more_calls(&self, n: u64) {
        let target = self.tally().succeeded() + n;
        eventually(&format!("{n} more calls succeed"), || {
            self.tally().succeeded() >= target
        })
        .await;
    }

    /// Stops the callers, lets their last calls finish, and returns what they saw.
    pub async fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            within("the callers finish", task).await.unwrap();
        }
        self.tally.lock().unwrap().clone()
    }
}

/// A loopback address nothing listens on (bound, then closed).
pub fn dead_address() -> String {
    let port = rookery_testkit::free_port().unwrap();
    format!("127.0.0.1:{port}")
}

// ---------------------------------------------------------------------------------------
// Clients.

/// A client of `service` by name, through the registry at `url` (as `ROOKERY_REGISTRY`
/// names it, so the same code path as `rookery::connect`), with the default balancer; and the
/// watch it follows, to see what it knows of the registry.
pub async fn client_of(url: &str, service: &str) -> (BalancedClient, Watch) {
    let registry = rookery::registry::from_url(url)
        .await
        .unwrap_or_else(|e| panic!("the registry at {url}: {e}"));
    let watch = registry
        .watch(&Query::service(service))
        .await
        .unwrap_or_else(|e| panic!("watching {service} at {url}: {e}"));
    let client = BalancedClient::builder(service.to_string()).watch(watch.clone());
    (client, watch)
}

/// Calls `echo` once; returns the label of the instance that answered.
pub async fn call(client: &BalancedClient) -> Result<String, Status> {
    let client = EchoClient::with_service(client.clone(), Protocol::Binary);
    let mut cx = Context::new();
    cx.shorten_deadline(Duration::from_secs(10));
    let reply = client.echo(&mut cx, "one call").await?;
    match reply.split_once('|') {
        Some((label, "one call")) => Ok(label.to_owned()),
        _ => panic!("wrong reply {reply:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// The scenarios, the same for every backend.

/// A registry the scenarios run against, which they can take down and bring back.
pub trait Backend {
    /// What `ROOKERY_REGISTRY` is set to for it.
    fn url(&self) -> String;
    /// Takes it down. Blocks.
    fn stop(&mut self);
    /// Brings it back where it was (same address), with its data. Blocks.
    fn restart(&mut self);
    /// The ids registered for `service`, as the registry itself holds them (read without the
    /// code under test), if the backend can tell.
    fn registered_ids(&self, _service: &str) -> Option<Vec<String>> {
        None
    }
}

/// The standalone embedded registry, as a separate process with a state file.
pub struct Standalone {
    state: PathBuf,
    addr: String,
    process: Option<RegistryProcess>,
    _dir: TempDir,
}

impl Standalone {
    /// Starts it on a port the system picks, with a fresh state file. Blocks.
    pub fn start() -> Standalone {
        Standalone::start_with_state(None)
    }

    /// Starts it with `state` written to its state file first. Blocks.
    pub fn start_with_state(state: Option<&str>) -> Standalone {
        let dir = TempDir::new("rookery-discovery").unwrap();
        let path = dir.path().join("registry.json");
        if let Some(state) = state {
            std::fs::write(&path, state).unwrap();
        }
        let process = RegistryProcess::start("127.0.0.1:0", &path);
        Standalone {
            state: path,
            addr: process.addr.clone(),
            process: Some(process),
            _dir: dir,
        }
    }

    /// The registry process (while it runs).
    pub fn process(&self) -> &RegistryProcess {
        self.process.as_ref().expect("the registry runs")
    }
}

impl Backend for Standalone {
    fn url(&self) -> String {
        format!("registry://{}", self.addr)
    }

    fn stop(&mut self) {
        self.process.take().expect("the registry runs").stop();
    }

    fn restart(&mut self) {
        assert!(self.process.is_none(), "stop it first");
        let process = RegistryProcess::start(&self.addr, &self.state);
        assert_eq!(process.addr, self.addr, "back on the same port");
        self.process = Some(process);
    }
}

/// Expiry of a paused server: an instance registered with a 2 s TTL, found by a watching
/// client, is frozen with SIGSTOP; its registration expires and it leaves the client's set
/// (an expiry, not an outage: the view is not stale). With SIGCONT its next heartbeat finds
/// the lease lost and it registers again; the client sees it again and calls it.
pub async fn a_paused_instance_expires_and_comes_back(backend: &impl Backend, service: &str) {
    let url = backend.url();
    let (client, watch) = client_of(&url, service).await;
    let mut paused = blocking(|| EchoProcess::start(&url, service, "paused", TTL_SHORT));
    until_endpoints(&client, &["paused"]).await;
    assert_eq!(call(&client).await.unwrap(), "paused");

    paused.pause();
    until_endpoints(&client, &[]).await;
    if let Some(ids) = blocking(|| backend.registered_ids(service)) {
        assert!(ids.is_empty(), "expired in the registry itself: {ids:?}");
    }
    assert!(!watch.is_stale(), "an expiry is a change, not an outage");
    assert_eq!(watch.errors(), 0);
    let err = call(&client).await.unwrap_err();
    assert!(
        err.is_unsent() && err.message().contains("no instances"),
        "{err}"
    );

    paused.resume();
    let line = blocking(|| {
        paused.wait_for_line(|l| l.contains("registered again after the lease was lost"))
    });
    assert!(line.contains("[paused]"), "{line}");
    until_endpoints(&client, &["paused"]).await;
    if let Some(ids) = blocking(|| backend.registered_ids(service)) {
        assert_eq!(ids, ["paused"], "registered again in the registry itself");
    }
    assert_eq!(call(&client).await.unwrap(), "paused");

    // A graceful stop (SIGTERM) deregisters it.
    blocking(|| paused.terminate());
    until_endpoints(&client, &[]).await;
}

/// A TTL short enough that a paused instance expires quickly (etcd's own minimum is 2 s).
pub const TTL_SHORT: Duration = Duration::from_secs(2);
/// The TTL of instances that are not meant to expire.
pub const TTL_LONG: Duration = Duration::from_secs(10);

/// Registry outage: two instances serve callers that call by name in a loop; the registry
/// goes down: the client keeps the last-known set and every call succeeds, while the watch
/// reports stale and counts its errors; the registry comes back (same address, same data):
/// the watch is fresh again, with the two instances still there, and an instance registered
/// after the restart is found and called. No call failed, and the set was never empty.
pub async fn the_last_known_set_serves_through_a_registry_outage(
    backend: &mut impl Backend,
    service: &str,
) {
    let logs = logs();
    let url = backend.url();
    let mut instances: Vec<EchoProcess> = blocking(|| {
        ["steady-a", "steady-b"]
            .iter()
            .map(|label| EchoProcess::start(&url, service, label, TTL_LONG))
            .collect()
    });
    let (client, watch) = client_of(&url, service).await;
    until_endpoints(&client, &["steady-a", "steady-b"]).await;
    let before = watch.current();
    let recorder = SetRecorder::start(&watch);
    let load = Load::start(&client, 4);
    load.until_more_calls(100).await;

    let mark = logs.mark();
    blocking(|| backend.stop());
    eventually("the watch reports the registry unreachable", || {
        watch.is_stale() && watch.errors() >= 2
    })
    .await;
    blocking(|| {
        logs.wait_for(
            mark,
            |l| l.contains("keeping the last known instances") && l.contains("kept=2"),
            PATIENCE,
        )
    })
    .unwrap();
    // The registry is down and calls go on, to the instances last known.
    load.until_more_calls(500).await;
    assert!(watch.is_stale());
    assert_eq!(watch.current(), before, "the last-known set is kept");
    assert_eq!(endpoint_ids(&client), ["steady-a", "steady-b"]);
    let errors = watch.errors();
    eventually("the watch keeps trying", || watch.errors() > errors).await;

    blocking(|| backend.restart());
    eventually("the watch is fresh again", || !watch.is_stale()).await;
    assert_eq!(
        set_ids(&watch.current()),
        ["steady-a", "steady-b"],
        "the instances registered before the outage are still there"
    );
    instances.push(blocking(|| {
        EchoProcess::start(&url, service, "after-restart", TTL_LONG)
    }));
    until_endpoints(&client, &["after-restart", "steady-a", "steady-b"]).await;
    load.until_served_by("after-restart", 1).await;
    load.until_more_calls(100).await;

    let tally = load.finish().await;
    tally.assert_no_failure();
    for label in ["steady-a", "steady-b", "after-restart"] {
        assert!(tally.served_by(label) > 0, "{label}: {:?}", tally.by_label);
    }
    let seen = recorder.finish();
    assert!(
        seen.iter().all(|set| !set.is_empty()),
        "the client's set was never emptied: {seen:?}"
    );
    eprintln!(
        "{} calls, none failed: {:?}; the watch counted {} errors",
        tally.succeeded(),
        tally.by_label,
        watch.errors()
    );
    let answered: Vec<_> = blocking(|| instances.into_iter().map(EchoProcess::terminate).collect());
    tally.assert_every_answer_arrived(&answered);
}

/// Rolling restart under load: three instances (separate processes, each taking 5 ms to
/// answer, so calls are in flight whenever one stops) serve four callers that call by name
/// with the default balancer (P2C, peak EWMA); each instance in turn is stopped gracefully
/// with SIGTERM (it deregisters, drains its calls, exits), then a replacement starts on a new
/// port and the next restart waits until the client sees it and has called it. Every call
/// succeeded; every instance, old and new, served calls; and each instance answered exactly
/// the calls its callers got back.
pub async fn a_rolling_restart_under_load_fails_no_call(backend: &impl Backend, service: &str) {
    const DELAY: Duration = Duration::from_millis(5);
    let url = backend.url();
    let mut instances: Vec<EchoProcess> = blocking(|| {
        ["one", "two", "three"]
            .iter()
            .map(|label| EchoProcess::start_slow(&url, service, label, TTL_LONG, DELAY))
            .collect()
    });
    let (client, _watch) = client_of(&url, service).await;
    until_endpoints(&client, &["one", "three", "two"]).await;
    let load = Load::start(&client, 4);
    for label in ["one", "two", "three"] {
        load.until_served_by(label, 1).await;
    }

    let mut answered = Vec::new();
    for replacement in ["one-b", "two-b", "three-b"] {
        load.until_more_calls(200).await;
        let old = instances.remove(0);
        answered.push(blocking(|| old.terminate()));
        instances.push(blocking(|| {
            EchoProcess::start_slow(&url, service, replacement, TTL_LONG, DELAY)
        }));
        let labels: Vec<&str> = instances.iter().map(|i| i.label.as_str()).collect();
        until_endpoints(&client, &labels).await;
        load.until_served_by(replacement, 1).await;
    }
    load.until_more_calls(100).await;

    let tally = load.finish().await;
    tally.assert_no_failure();
    for label in ["one", "two", "three", "one-b", "two-b", "three-b"] {
        assert!(tally.served_by(label) > 0, "{label}: {:?}", tally.by_label);
    }
    eprintln!(
        "{} calls, none failed: {:?}",
        tally.succeeded(),
        tally.by_label
    );
    answered.extend(blocking(|| {
        instances
            .into_iter()
            .map(EchoProcess::terminate)
            .collect::<Vec<_>>()
    }));
    tally.assert_every_answer_arrived(&answered);
}

/// A duplicate id from a second process: `twin` serves beside `steady`; a second process
/// registers with the same id (a misconfiguration) at another address, and is then stopped
/// gracefully. Calls keep succeeding throughout, and once the second process has left, the
/// first `twin`, which never stopped and kept heartbeating, is found and called again.
pub async fn the_original_is_found_again_after_a_duplicate_id_leaves(
    backend: &impl Backend,
    service: &str,
) {
    let url = backend.url();
    let (steady, first) = blocking(|| {
        (
            EchoProcess::start(&url, service, "steady", TTL_SHORT),
            EchoProcess::start(&url, service, "twin", TTL_SHORT),
        )
    });
    let (client, _watch) = client_of(&url, service).await;
    until_endpoints(&client, &["steady", "twin"]).await;
    let twin_address = || {
        client
            .endpoints()
            .find("twin")
            .map(|e| e.address().to_string())
    };
    let load = Load::start(&client, 4);
    load.until_served_by("twin", 1).await;

    let second = blocking(|| EchoProcess::start(&url, service, "twin", TTL_SHORT));
    eventually("the client sees the second twin", || {
        twin_address().as_deref() == Some(second.addr.as_str())
    })
    .await;
    load.until_more_calls(200).await;
    let answered_by_second = blocking(|| second.terminate());

    let what = format!(
        "the first twin ({}), alive and heartbeating, is in the client's set again",
        first.addr
    );
    eventually(&what, || {
        twin_address().as_deref() == Some(first.addr.as_str())
    })
    .await;
    let before = load.tally().served_by("twin");
    load.until_served_by("twin", before + 1).await;

    let tally = load.finish().await;
    tally.assert_no_failure();
    let mut answered = vec![answered_by_second];
    answered.extend(blocking(|| [steady.terminate(), first.terminate()]));
    tally.assert_every_answer_arrived(&answered);
}
