use std::{
    io::{self, BufRead, BufReader, Read},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Condvar, Mutex},
    thread,
    time::{Duration, Instant},
};

/// The variable [`rerun_test`] sets, to the name of the test the child is to act as.
const RERUN_ENV: &str = "ROOKERY_TESTKIT_RERUN";

/// Set it to echo every child's output lines to stderr as they come, prefixed with the
/// child's name (otherwise they are only shown in errors).
const ECHO_ENV: &str = "ROOKERY_TESTKIT_ECHO";

/// Sends `signal` (`"STOP"`, `"CONT"`, `"TERM"`, `"KILL"`, ...) to process `pid`, with the
/// shell's `kill`.
pub fn signal(pid: u32, signal: &str) -> io::Result<()> {
    let out = Command::new("sh")
        .args(["-c", "kill -s \"$0\" \"$1\"", signal, &pid.to_string()])
        .stdin(Stdio::null())
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "kill -s {signal} {pid} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Runs the `#[test]` named `test_name` of this test binary again, as a child process
/// (`current_exe() TEST --exact --include-ignored --nocapture`), with `envs` set. The child
/// test tells it was started so with [`is_rerun`]; mark it
/// `#[ignore = "run as a child process by ..."]` so the normal run passes it over.
///
/// ```no_run
/// use std::time::Duration;
/// use rookery_testkit::{is_rerun, rerun_test};
///
/// #[test]
/// fn parent() {
///     let mut child = rerun_test("child", &[("PORT", "1234")]).unwrap();
///     child.wait_for_line(|l| l.starts_with("READY"), Duration::from_secs(30)).unwrap();
///     child.pause().unwrap();
///     // ... the child is frozen (SIGSTOP) ...
///     child.resume().unwrap();
/// }
///
/// #[test]
/// #[ignore = "run as a child process by parent"]
/// fn child() {
///     if !is_rerun("child") {
///         return;
///     }
///     println!("READY");
///     std::thread::sleep(Duration::from_secs(3600));
/// }
/// ```
pub fn rerun_test(test_name: &str, envs: &[(&str, &str)]) -> io::Result<ChildProcess> {
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command
        .args([
            test_name,
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(RERUN_ENV, test_name);
    for (k, v) in envs {
        command.env(k, v);
    }
    ChildProcess::spawn(test_name, command)
}

/// Whether this process is the child [`rerun_test`] started to run `test_name`.
pub fn is_rerun(test_name: &str) -> bool {
    std::env::var(RERUN_ENV).is_ok_and(|v| v == test_name)
}

#[derive(Debug, Default)]
struct Output {
    lines: Vec<String>,
    /// How many of stdout and stderr have ended.
    closed: u8,
}

type Shared = Arc<(Mutex<Output>, Condvar)>;

/// A child process that is killed (`SIGKILL`, even when paused) and reaped when dropped.
/// Its stdout and stderr are read as they come (so it never blocks on a full pipe) and kept
/// as lines, to wait for with [`wait_for_line`](ChildProcess::wait_for_line) and to show in
/// errors.
#[derive(Debug)]
pub struct ChildProcess {
    name: String,
    child: Child,
    output: Shared,
    /// Lines before this index have been consumed by `wait_for_line`.
    cursor: usize,
}

impl ChildProcess {
    /// Starts `command` (its stdin null, stdout and stderr read by this handle); `name` is
    /// how errors and echoed lines call it.
    pub fn spawn(name: &str, mut command: Command) -> io::Result<ChildProcess> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("starting {name}: {e}")))?;
        let output: Shared = Arc::default();
        let echo = crate::env_flag(ECHO_ENV);
        if let Some(out) = child.stdout.take() {
            read_lines(name, out, Arc::clone(&output), echo);
        }
        if let Some(err) = child.stderr.take() {
            read_lines(name, err, Arc::clone(&output), echo);
        }
        Ok(ChildProcess {
            name: name.to_owned(),
            child,
            output,
            cursor: 0,
        })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits for the next line (after those returned before) that satisfies `pick`, from
    /// stdout or stderr. Fails if the process's output ends first, or after `timeout`;
    /// the error shows the last lines it printed.
    pub fn wait_for_line(
        &mut self,
        pick: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> io::Result<String> {
        let deadline = Instant::now() + timeout;
        let (lock, cond) = &*self.output;
        let mut out = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            while self.cursor < out.lines.len() {
                let line = &out.lines[self.cursor];
                self.cursor += 1;
                if pick(line) {
                    return Ok(line.clone());
                }
            }
            if out.closed == 2 {
                drop(out);
                return Err(self.error("ended its output before printing the line waited for"));
            }
            let now = Instant::now();
            if now >= deadline {
                drop(out);
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    self.error(&format!("did not print the line waited for in {timeout:?}")),
                ));
            }
            out = cond
                .wait_timeout(out, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Every line it printed so far.
    pub fn output(&self) -> Vec<String> {
        let (lock, _) = &*self.output;
        lock.lock().unwrap_or_else(|e| e.into_inner()).lines.clone()
    }

    /// An error about this process, with the last lines it printed.
    pub fn error(&self, what: &str) -> io::Error {
        let lines = self.output();
        let tail = &lines[lines.len().saturating_sub(30)..];
        io::Error::other(format!(
            "{} (pid {}) {what}; its last output:\n{}",
            self.name,
            self.pid(),
            tail.join("\n")
        ))
    }

    /// Freezes it (`SIGSTOP`): it stays alive, holding its sockets, and does nothing.
    pub fn pause(&self) -> io::Result<()> {
        signal(self.pid(), "STOP")
    }

    /// Lets a paused process go on (`SIGCONT`).
    pub fn resume(&self) -> io::Result<()> {
        signal(self.pid(), "CONT")
    }

    /// Whether it has exited (and how), without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// Asks it to stop (`SIGTERM`, after `SIGCONT` in case it is paused) and waits up to
    /// `grace` for it to exit, then kills it.
    pub fn terminate(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        let _ = signal(self.pid(), "CONT");
        signal(self.pid(), "TERM")?;
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.kill()
    }

    /// Kills it now (`SIGKILL`) and reaps it.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        self.child.kill()?;
        self.child.wait()
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

fn read_lines(name: &str, stream: impl Read + Send + 'static, output: Shared, echo: bool) {
    let name = name.to_owned();
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf)
                        .trim_end_matches(['\r', '\n'])
                        .to_owned();
                    if echo {
                        eprintln!("[{name}] {line}");
                    }
                    let (lock, cond) = &*output;
                    lock.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .lines
                        .push(line);
                    cond.notify_all();
                }
            }
        }
        let (lock, cond) = &*output;
        lock.lock().unwrap_or_else(|e| e.into_inner()).closed += 1;
        cond.notify_all();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_waited_for_and_the_child_is_killed_on_drop() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo one; echo two >&2; echo three; exec sleep 600"]);
        let mut child = ChildProcess::spawn("sh", cmd).unwrap();
        let timeout = Duration::from_secs(30);
        assert_eq!(
            child.wait_for_line(|l| l == "three", timeout).unwrap(),
            "three"
        );
        child.pause().unwrap();
        child.resume().unwrap();
        assert!(child.try_wait().unwrap().is_none());
        let pid = child.pid();
        drop(child);
        // Reaped: the pid is gone (signal 0 checks existence).
        assert!(signal(pid, "0").is_err());
    }

    #[test]
    fn an_ended_child_is_an_error_with_its_output() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo bye"]);
        let mut child = ChildProcess::spawn("quitter", cmd).unwrap();
        let err = child
            .wait_for_line(|l| l == "never", Duration::from_secs(30))
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("quitter") && text.contains("bye"), "{text}");
    }
}
