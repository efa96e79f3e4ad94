//! Helpers the `embedded*` integration tests share.
#![allow(dead_code, unreachable_pub)] // each test file uses its own subset

use std::{
    io,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use rookery_registry::{
    Instance,
    embedded::{Embedded, EmbeddedServer},
    protocol,
};
pub use rookery_testkit::within;
use rookery_transport::{Router, Server, ServerHandle};

/// Waits until `cond` holds, checking every 20 ms; fails the test with `what` after 30 s.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    within(30, what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// An instance of `name` at `1.0.0` on `127.0.0.1:port`, with `id`.
pub fn inst(name: &str, id: &str, port: u16) -> Instance {
    let mut i = Instance::new(name, "1.0.0".parse().unwrap())
        .with_address(protocol::THRIFT, format!("127.0.0.1:{port}"));
    i.id = id.into();
    i
}

/// The ids of a list of instances, in order.
pub fn ids(instances: &[Instance]) -> Vec<&str> {
    instances.iter().map(|i| i.id.as_str()).collect()
}

/// The ids of a list of instances, sorted (`resolve` promises no order).
pub fn sorted_ids(instances: &[Instance]) -> Vec<&str> {
    let mut ids = ids(instances);
    ids.sort_unstable();
    ids
}

/// A fresh directory under the system's temporary directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "rookery-{tag}-{}-{}-{:x}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            clock_nanos()
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn clock_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The state file, parsed; `None` while it does not exist or is being replaced.
pub fn read_state(path: &Path) -> Option<serde_json::Value> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The saved entry of instance `id`: `(token, expires_at_ms)`.
pub fn saved_entry(path: &Path, id: &str) -> Option<(i64, u64)> {
    let state = read_state(path)?;
    state["entries"].as_array()?.iter().find_map(|e| {
        (e["instance"]["id"] == id)
            .then(|| Some((e["token"].as_i64()?, e["expires_at_ms"].as_u64()?)))
            .flatten()
    })
}

/// Serves `registry` on `addr` (`127.0.0.1:0` for a port the system picks).
pub async fn serve(registry: Embedded, addr: &str) -> (EmbeddedServer, ServerHandle) {
    let server = EmbeddedServer::new(registry);
    let handle = Server::builder()
        .drain_timeout(Duration::from_secs(5))
        .build(Router::new().add_service(server.clone()))
        .bind(&addr.parse().unwrap())
        .await
        .unwrap();
    (server, handle)
}

/// Stops a registry server the way a service does: release the long polls, drain, save.
pub async fn stop(server: EmbeddedServer, handle: ServerHandle) {
    server.stop_watches();
    within(30, "server stop", handle.stop()).await;
    server.registry().flush().await.unwrap();
}

/// Logs to the test's output (shown for failing tests).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_test_writer()
        .try_init();
}

/// Captures what is logged while `f` runs on this thread.
pub fn logged<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8_lossy(&buf.0.lock().unwrap()).into_owned();
    (out, text)
}
