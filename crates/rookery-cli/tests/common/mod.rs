//! What the scaffolding tests share: running the `rookery` tool, building and running the
//! projects it makes.
#![allow(dead_code)] // each test file uses its own subset

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use rookery::Address;
use tokio::io::{AsyncBufReadExt, BufReader};

pub(crate) fn rookery() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rookery"))
}

pub(crate) fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh directory for this test under `CARGO_TARGET_TMPDIR`.
pub(crate) fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test's directory");
    dir
}

/// Runs `cmd`, failing the test with its output unless it succeeds; returns its stdout.
pub(crate) fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not run: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs `cmd`, expecting it to fail; returns its stderr.
pub(crate) fn run_err(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not run: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "{what} succeeded where it should fail:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// Builds the project with the cargo running this test, offline, against the workspace's
/// lock file; returns the path of its program.
pub(crate) fn cargo_build(project: &Path, bin: &str) -> PathBuf {
    std::fs::copy(
        manifest_dir().join("../../Cargo.lock"),
        project.join("Cargo.lock"),
    )
    .expect("copy the workspace's Cargo.lock");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffold-target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    run_ok(
        Command::new(cargo)
            .args(["build", "--offline", "--quiet"])
            .current_dir(project)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS"),
        "cargo build of the scaffolded project",
    );
    target.join("debug").join(bin)
}

/// Checks that the project's Rust is as `cargo fmt` would leave it.
pub(crate) fn assert_formatted(project: &Path, when: &str) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    run_ok(
        Command::new(cargo)
            .args(["fmt", "--check"])
            .current_dir(project),
        &format!("cargo fmt --check {when}"),
    );
}

/// The scaffolded program, running.
pub(crate) struct Running {
    child: tokio::process::Child,
    pub(crate) addr: Address,
}

impl Running {
    pub(crate) async fn start(program: &Path, name: &str) -> Running {
        let mut child = tokio::process::Command::new(program)
            .env("ADDR", "127.0.0.1:0")
            .env_remove("ROOKERY_REGISTRY")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the program says where it listens within 60 s")
            .expect("read its stdout")
            .expect("a line before its stdout closes");
        let addr = line
            .strip_prefix(&format!("{name} listening on "))
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Running {
            child,
            addr: addr.parse().expect("an address"),
        }
    }

    /// Stops it with SIGTERM and checks that it stops gracefully, with success.
    pub(crate) async fn stop(mut self) {
        let pid = self.child.id().expect("running");
        run_ok(
            Command::new("kill").args(["-TERM", &pid.to_string()]),
            "kill -TERM",
        );
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("it stops within 30 s of SIGTERM")
            .expect("wait for it");
        assert!(status.success(), "it exited with {status} after SIGTERM");
    }
}

/// Whether the lines of `old` appear in `new` in the same order, each unchanged.
pub(crate) fn lines_kept_in_order(old: &str, new: &str) -> bool {
    let mut new_lines = new.lines();
    old.lines().all(|line| new_lines.any(|l| l == line))
}
