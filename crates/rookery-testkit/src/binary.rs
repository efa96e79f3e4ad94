use std::{
    env, fmt, io,
    path::{Path, PathBuf},
};

/// A program a test needs is not on this machine. Its message names the program, where it
/// was looked for, and how to get it.
#[derive(Clone, Debug)]
pub struct MissingBinary {
    name: String,
    env_var: Option<String>,
    searched: Vec<PathBuf>,
    hint: String,
}

impl MissingBinary {
    /// The program's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for MissingBinary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` not found", self.name)?;
        if let Some(var) = &self.env_var {
            write!(f, " (${var} is not set")?;
            if let Some(value) = env::var_os(var) {
                write!(f, " to a usable file: it is {value:?}")?;
            }
            write!(f, ")")?;
        }
        let dirs: Vec<String> = self
            .searched
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        write!(f, "; looked in {}", dirs.join(":"))?;
        if !self.hint.is_empty() {
            write!(f, ". {}", self.hint)?;
        }
        Ok(())
    }
}

impl std::error::Error for MissingBinary {}

impl From<MissingBinary> for io::Error {
    fn from(e: MissingBinary) -> io::Error {
        io::Error::new(io::ErrorKind::NotFound, e.to_string())
    }
}

/// Finds the program `name`: the file `$env_var` names if that variable is set, else the
/// first executable `name` on `PATH`, then in `/usr/local/bin`, `/usr/bin`, `/usr/sbin` and
/// `/sbin` (which a test's `PATH` may lack). `hint` is appended to the error, to say how to
/// install it (`"install Debian's etcd-server (.ci/install does)"`).
pub fn find_binary(
    name: &str,
    env_var: Option<&str>,
    hint: &str,
) -> Result<PathBuf, MissingBinary> {
    if let Some(var) = env_var
        && let Some(path) = env::var_os(var)
    {
        let path = PathBuf::from(path);
        if is_executable(&path) {
            return Ok(path);
        }
    }
    let path: Vec<PathBuf> = env::var_os("PATH")
        .map(|p| env::split_paths(&p).collect())
        .unwrap_or_default();
    let mut searched: Vec<PathBuf> = Vec::new();
    for dir in path
        .into_iter()
        .chain(["/usr/local/bin", "/usr/bin", "/usr/sbin", "/sbin"].map(PathBuf::from))
    {
        if !searched.contains(&dir) {
            searched.push(dir);
        }
    }
    if let Some(found) = searched
        .iter()
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
    {
        return Ok(found);
    }
    Err(MissingBinary {
        name: name.to_owned(),
        env_var: env_var.map(str::to_owned),
        searched,
        hint: hint.to_owned(),
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sh_and_names_what_is_missing() {
        assert!(find_binary("sh", None, "").is_ok());
        let err = find_binary(
            "no-such-program-rookery",
            Some("ROOKERY_NO_SUCH_BIN"),
            "install it",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`no-such-program-rookery` not found"),
            "{text}"
        );
        assert!(text.contains("$ROOKERY_NO_SUCH_BIN"), "{text}");
        assert!(text.contains("/usr/bin"), "{text}");
        assert!(text.ends_with("install it"), "{text}");
        assert_eq!(io::Error::from(err).kind(), io::ErrorKind::NotFound);
    }
}
