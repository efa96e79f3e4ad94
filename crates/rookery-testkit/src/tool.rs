//! Asking the machine whether a tool a test needs is there.

use std::process::Command;

/// Runs `cmd` and returns its stdout; if it cannot run or fails, an error that starts with
/// `missing` (what to install, and how to skip) and ends with what happened.
///
/// ```no_run
/// let version = rookery_testkit::probe(
///     std::process::Command::new("python3").arg("--version"),
///     "python3 is missing: apt-get install python3, or set ROOKERY_SKIP_PYTHON=1",
/// )?;
/// # Ok::<(), String>(())
/// ```
pub fn probe(cmd: &mut Command, missing: &str) -> Result<String, String> {
    match cmd.output() {
        Ok(out) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        Ok(out) => Err(format!(
            "{missing}\n(`{cmd:?}` exited with {}: {})",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("{missing}\n(`{cmd:?}` could not run: {e})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_is_named_with_the_hint() {
        let err = probe(
            &mut Command::new("rookery-no-such-program"),
            "the program is missing",
        )
        .expect_err("no such program");
        assert!(err.starts_with("the program is missing\n"), "{err}");
        assert!(err.contains("could not run"), "{err}");
    }

    #[test]
    fn a_failing_program_says_how_it_exited() {
        let err = probe(
            Command::new("sh").args(["-c", "echo oops >&2; exit 3"]),
            "hint",
        )
        .expect_err("it fails");
        assert!(err.contains("exited with") && err.contains("oops"), "{err}");
        let out = probe(Command::new("sh").args(["-c", "echo fine"]), "hint").expect("it runs");
        assert_eq!(out, "fine\n");
    }
}
