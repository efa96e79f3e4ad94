//! Go programs built from a module of this repository (`interop/*`), for tests that run a
//! real Go peer (Kitex, grpc-go).

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Command,
    sync::{Mutex, OnceLock},
};

use crate::{env_flag, find_binary};

/// Set to skip the tests that need Go (`ROOKERY_SKIP_GO=1`); unset, a machine without Go
/// fails them with a message that names it.
pub const SKIP_GO_ENV: &str = "ROOKERY_SKIP_GO";

/// Names the `go` binary to use, when it is not on `PATH`.
pub const GO_BIN_ENV: &str = "ROOKERY_GO";

/// Where Go's own installer puts `go`.
const GO_INSTALL_DIR_BIN: &str = "/usr/local/go/bin/go";

const INSTALL_HINT: &str = "Install Go (https://go.dev/dl, or Debian's golang-go), or set \
    ROOKERY_GO to a go binary, or set ROOKERY_SKIP_GO=1 to skip the tests that need Go";

/// The repository's root (this crate is `crates/rookery-testkit`).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("crates/rookery-testkit is two levels below the repository's root")
}

/// Builds the Go program `package` (`./server`, `google.golang.org/grpc/interop/client`)
/// of the module in `module` (relative to the repository's root: `interop/kitex`) into
/// `module/bin/NAME`, where `NAME` is `package`'s last element, and returns its path.
///
/// Built once per process and program; Go's own build cache makes a rebuild of an
/// unchanged program a matter of a link at most. The binary is written under a temporary
/// name and renamed, so test binaries building it at once never run a half-written file.
/// Modules come from the Go module proxy (`GOFLAGS=-mod=readonly`: the checked-in
/// `go.sum` must already list them), and `GOTOOLCHAIN=local` keeps Go from downloading a
/// toolchain.
pub fn go_build(module: &str, package: &str) -> Result<PathBuf, String> {
    /// Each (module, package) built so far in this process, and how its build went.
    type Built = HashMap<(String, String), Result<PathBuf, String>>;
    static BUILT: OnceLock<Mutex<Built>> = OnceLock::new();
    let key = (module.to_owned(), package.to_owned());
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    built
        .entry(key)
        .or_insert_with(|| build(module, package))
        .clone()
}

/// [`go_build`], unless `ROOKERY_SKIP_GO` is set: then it prints why and returns `None`,
/// and the test should return. Panics with the reason when the program cannot be built
/// (Go missing included), so a machine without Go fails the test rather than passing it.
pub fn go_build_or_skip(module: &str, package: &str) -> Option<PathBuf> {
    if env_flag(SKIP_GO_ENV) {
        eprintln!("skipped: {SKIP_GO_ENV} is set, and this test needs Go to build {package}");
        return None;
    }
    match go_build(module, package) {
        Ok(path) => Some(path),
        Err(e) => panic!("this test needs the Go program {package} of {module}: {e}"),
    }
}

fn build(module: &str, package: &str) -> Result<PathBuf, String> {
    // Go's own installer puts it in /usr/local/go/bin, which a test's PATH may lack.
    let go = match find_binary("go", Some(GO_BIN_ENV), INSTALL_HINT) {
        Ok(go) => go,
        Err(_) if Path::new(GO_INSTALL_DIR_BIN).is_file() => PathBuf::from(GO_INSTALL_DIR_BIN),
        Err(e) => return Err(e.to_string()),
    };
    let dir = repo_root().join(module);
    if !dir.join("go.mod").is_file() {
        return Err(format!("{} has no go.mod", dir.display()));
    }
    let name = package.rsplit('/').next().unwrap_or(package);
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("creating {}: {e}", bin.display()))?;
    let out = bin.join(name);
    let partial = bin.join(format!(".{name}.{}", std::process::id()));
    let result = Command::new(&go)
        .current_dir(&dir)
        .env("GOFLAGS", "-mod=readonly -buildvcs=false")
        .env("GOTOOLCHAIN", "local")
        .args(["build", "-o"])
        .arg(&partial)
        .arg(package)
        .output()
        .map_err(|e| format!("running {}: {e}", go.display()))?;
    if !result.status.success() {
        let _ = std::fs::remove_file(&partial);
        return Err(format!(
            "`go build {package}` in {} exited with {}:\n{}",
            dir.display(),
            result.status,
            String::from_utf8_lossy(&result.stderr).trim()
        ));
    }
    std::fs::rename(&partial, &out)
        .map_err(|e| format!("moving {} to {}: {e}", partial.display(), out.display()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_root_holds_the_workspace() {
        assert!(repo_root().join("Cargo.toml").is_file());
        assert!(repo_root().join("crates/rookery-testkit").is_dir());
    }

    #[test]
    fn a_module_that_is_not_there_is_named() {
        let err = build("interop/no-such-module", "./x").unwrap_err();
        assert!(
            err.contains("no-such-module") && err.contains("go.mod") || err.contains("`go`"),
            "{err}"
        );
    }
}
