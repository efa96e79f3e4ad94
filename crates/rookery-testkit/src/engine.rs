//! What the engine harnesses ([`EtcdServer`](crate::EtcdServer),
//! [`NatsServer`](crate::NatsServer), [`RedisServer`](crate::RedisServer)) share: an engine's
//! process, started on ports picked free, waited for until it answers, stopped, killed,
//! paused and started again on the same ports and data.

use std::{
    io,
    process::Command,
    thread,
    time::{Duration, Instant},
};

use crate::{ChildProcess, env_flag};

/// An engine's process while it runs.
#[derive(Debug)]
pub(crate) struct Supervised {
    /// The engine's name, for errors (`etcd`, `nats-server`).
    what: &'static str,
    process: Option<ChildProcess>,
}

impl Supervised {
    pub(crate) fn new(what: &'static str) -> Supervised {
        Supervised {
            what,
            process: None,
        }
    }

    /// Spawns `command` and polls `ready` until it says yes. The process is dropped (and
    /// so killed) if it exits first or `timeout` passes; the error shows its last lines.
    pub(crate) fn launch(
        &mut self,
        name: &str,
        command: Command,
        timeout: Duration,
        readiness: &str,
        mut ready: impl FnMut(&mut ChildProcess) -> io::Result<bool>,
    ) -> io::Result<()> {
        self.process = Some(ChildProcess::spawn(name, command)?);
        let started = Instant::now();
        loop {
            let process = self.running_mut()?;
            if let Some(status) = process.try_wait()? {
                let err = process.error(&format!("exited while starting ({status})"));
                self.process = None;
                return Err(err);
            }
            match ready(process) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => {
                    self.process = None;
                    return Err(e);
                }
            }
            if started.elapsed() > timeout {
                let err = self
                    .running()?
                    .error(&format!("did not {readiness} in {timeout:?}"));
                self.process = None;
                return Err(err);
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(ChildProcess::pid)
    }

    pub(crate) fn is_running(&mut self) -> bool {
        match &mut self.process {
            Some(p) => matches!(p.try_wait(), Ok(None)),
            None => false,
        }
    }

    pub(crate) fn log(&self) -> Vec<String> {
        self.process
            .as_ref()
            .map(ChildProcess::output)
            .unwrap_or_default()
    }

    /// `SIGTERM`, then `SIGKILL` after 10 s.
    pub(crate) fn stop(&mut self) -> io::Result<()> {
        if let Some(mut p) = self.process.take() {
            p.terminate(Duration::from_secs(10))?;
        }
        Ok(())
    }

    /// `SIGKILL` at once.
    pub(crate) fn kill(&mut self) -> io::Result<()> {
        if let Some(mut p) = self.process.take() {
            p.kill()?;
        }
        Ok(())
    }

    pub(crate) fn pause(&self) -> io::Result<()> {
        self.running()?.pause()
    }

    pub(crate) fn resume(&self) -> io::Result<()> {
        self.running()?.resume()
    }

    fn running(&self) -> io::Result<&ChildProcess> {
        let what = self.what;
        self.process
            .as_ref()
            .ok_or_else(|| io::Error::other(format!("{what} is not running")))
    }

    fn running_mut(&mut self) -> io::Result<&mut ChildProcess> {
        let what = self.what;
        self.process
            .as_mut()
            .ok_or_else(|| io::Error::other(format!("{what} is not running")))
    }
}

/// `attempt()`, tried up to three times: a port picked as free may be taken before the
/// engine binds it, and each attempt picks others.
pub(crate) fn on_free_ports<T>(
    what: &str,
    mut attempt: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    let mut last_error = None;
    for _ in 0..3 {
        match attempt() {
            Ok(server) => return Ok(server),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other(format!("{what} did not start"))))
}

/// `start()`, unless the variable `skip` is set: then it says why and returns `None`.
/// Panics with the reason when the engine cannot start, so a machine without it fails the
/// test rather than passing it silently.
pub(crate) fn start_or_skip<T>(
    skip: &str,
    what: &str,
    start: impl FnOnce() -> io::Result<T>,
) -> Option<T> {
    if env_flag(skip) {
        eprintln!("skipped: {skip} is set, and this test needs {what}");
        return None;
    }
    match start() {
        Ok(server) => Some(server),
        Err(e) => panic!("this test needs {what}: {e}"),
    }
}
