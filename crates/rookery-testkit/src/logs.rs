//! What the code under test logged through `tracing`, kept in memory so a test can wait
//! for a logged reason ("registry entry skipped: ...").
//!
//! [`capture`] installs a global subscriber once per test binary (the first call's filter
//! wins); every test of the binary shares the log, so look for lines that name what your
//! test made (a key, an id) and only since a [`mark`](Logs::mark) taken before.
//!
//! ```
//! let logs = rookery_testkit::logs::capture("info");
//! let mark = logs.mark();
//! tracing::info!(key = "/a/b", "entry skipped");
//! let line = logs
//!     .wait_for(mark, |l| l.contains("/a/b"), std::time::Duration::from_secs(5))
//!     .unwrap();
//! assert!(line.contains("entry skipped"));
//! ```

use std::{
    io,
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

/// The captured log of this test binary.
#[derive(Debug, Default)]
pub struct Logs {
    text: Mutex<Vec<u8>>,
}

impl Logs {
    /// Where the log ends now: pass it to [`lines_since`](Logs::lines_since) or
    /// [`wait_for`](Logs::wait_for) to look only at what is logged after.
    pub fn mark(&self) -> usize {
        self.text.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The whole lines logged since `mark`.
    pub fn lines_since(&self, mark: usize) -> Vec<String> {
        let text = self.text.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&text[mark.min(text.len())..])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Waits until a line logged since `mark` satisfies `pick`, and returns it; polls, so
    /// lines logged from any thread count.
    pub fn wait_for(
        &self,
        mark: usize,
        pick: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.lines_since(mark).into_iter().find(|l| pick(l)) {
                return Ok(line);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no such line logged in {timeout:?}; logged since the mark:\n{}",
                    self.lines_since(mark).join("\n")
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[derive(Clone)]
struct Writer(Arc<Logs>);

impl io::Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .text
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        // Shown with the test's output when it fails (`cargo test` captures stderr of the
        // test thread only, so this is printed as it comes with `--nocapture`).
        if crate::env_flag("ROOKERY_TESTKIT_ECHO") {
            eprint!("{}", String::from_utf8_lossy(buf));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Starts capturing what is logged (once per process; later calls return the same log and
/// ignore their filter). `filter` is an `EnvFilter` directive such as
/// `"rookery_registry=debug"`; `RUST_LOG`, when set, is used instead.
pub fn capture(filter: &str) -> &'static Logs {
    static LOGS: OnceLock<Arc<Logs>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Logs::default());
        let writer = Writer(Arc::clone(&logs));
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
        let installed = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_env_filter(filter)
            .try_init();
        if installed.is_err() {
            eprintln!(
                "rookery_testkit::logs: another subscriber is installed; nothing is captured"
            );
        }
        logs
    })
}
