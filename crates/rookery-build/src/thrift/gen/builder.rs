//! The `build.rs` API.

use std::{
    fmt, io,
    path::{Path, PathBuf},
};

use super::{GenError, GeneratedFile, Options, generate, mod_file};
use crate::{IdlError, thrift::resolve::Program};

/// Generates Rust code from Thrift IDL files, for a build script.
///
/// ```no_run
/// // build.rs
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     rookery_build::thrift::Builder::new()
///         .include_dir("idl")
///         .compile(&["idl/echo.thrift"])?;
///     Ok(())
/// }
/// ```
///
/// ```ignore
/// // lib.rs: the module of each IDL file (`echo`, or its `namespace rs`), side by side.
/// include!(concat!(env!("OUT_DIR"), "/rookery_thrift.rs"));
/// ```
///
/// One `.rs` file is written per IDL file (roots and everything they include), and a mod
/// file that declares the modules and includes them. Every file read is reported to Cargo
/// with `cargo:rerun-if-changed`, so the build script runs again when one changes.
#[derive(Clone, Debug)]
pub struct Builder {
    include_dirs: Vec<PathBuf>,
    out_dir: Option<PathBuf>,
    mod_file: String,
    options: Options,
    rerun_if_changed: Option<bool>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// A builder writing into `$OUT_DIR`, with no include directories.
    pub fn new() -> Self {
        Builder {
            include_dirs: Vec::new(),
            out_dir: None,
            mod_file: "rookery_thrift.rs".to_string(),
            options: Options::default(),
            rerun_if_changed: None,
        }
    }

    /// Adds a directory to search for included files (after the including file's own
    /// directory).
    pub fn include_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.include_dirs.push(dir.into());
        self
    }

    /// Where to write the generated files (`$OUT_DIR` by default).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// The name of the mod file (`rookery_thrift.rs` by default).
    pub fn mod_file_name(mut self, name: impl Into<String>) -> Self {
        self.mod_file = name.into();
        self
    }

    /// The path generated code reaches rookery by, for crates that rename the dependency
    /// (`::rookery::codegen` by default).
    pub fn runtime_path(mut self, path: impl Into<String>) -> Self {
        self.options.runtime = path.into();
        self
    }

    /// Whether to print `cargo:rerun-if-changed` for every file read (by default, when
    /// running in a build script: when `OUT_DIR` is set).
    pub fn emit_rerun_if_changed(mut self, yes: bool) -> Self {
        self.rerun_if_changed = Some(yes);
        self
    }

    /// Generates the code of `roots` and everything they include, in memory: one file per
    /// IDL file, roots first.
    ///
    /// # Errors
    ///
    /// A file that cannot be read or parsed, a name that does not resolve, a value of the
    /// wrong type.
    pub fn generate(&self, roots: &[impl AsRef<Path>]) -> Result<Vec<GeneratedFile>, BuildError> {
        self.generate_reporting(roots).map(|(files, _)| files)
    }

    fn generate_reporting(
        &self,
        roots: &[impl AsRef<Path>],
    ) -> Result<(Vec<GeneratedFile>, Vec<PathBuf>), BuildError> {
        if roots.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        // One program for every root: a file several roots include is loaded and generated
        // once. Roots first, in the order given, then what they include.
        let program = Program::load_all(roots, &self.include_dirs).map_err(BuildError::Idl)?;
        let order: Vec<usize> = program
            .roots()
            .iter()
            .copied()
            .chain(
                program
                    .files()
                    .iter()
                    .map(|f| f.id)
                    .filter(|id| !program.roots().contains(id)),
            )
            .collect();
        let files = generate(&program, &order, &self.options).map_err(BuildError::Gen)?;
        let read = program.files().iter().map(|f| f.path.clone()).collect();
        Ok((files, read))
    }

    /// Generates the code of `roots` and everything they include, and writes it with the mod
    /// file into the output directory. Files whose content did not change are not rewritten.
    ///
    /// # Errors
    ///
    /// As [`generate`](Builder::generate), and a file that cannot be written.
    pub fn compile(self, roots: &[impl AsRef<Path>]) -> Result<Vec<PathBuf>, BuildError> {
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| {
                    BuildError::Other(
                        "OUT_DIR is not set: call out_dir() outside a build script".into(),
                    )
                })?,
        };
        let rerun = self
            .rerun_if_changed
            .unwrap_or_else(|| std::env::var_os("OUT_DIR").is_some());
        if rerun {
            for root in roots {
                println!("cargo:rerun-if-changed={}", root.as_ref().display());
            }
        }
        let (files, read) = self.generate_reporting(roots)?;
        if rerun {
            for path in &read {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        std::fs::create_dir_all(&out_dir).map_err(|e| BuildError::io(&out_dir, e))?;
        let mut written = Vec::new();
        for file in &files {
            let path = out_dir.join(&file.file_name);
            write_if_changed(&path, &file.code)?;
            written.push(path);
        }
        let path = out_dir.join(&self.mod_file);
        write_if_changed(&path, &mod_file(&files))?;
        written.push(path);
        Ok(written)
    }
}

/// Writes `text` unless the file holds it already (so that Cargo sees nothing changed).
fn write_if_changed(path: &Path, text: &str) -> Result<(), BuildError> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text).map_err(|e| BuildError::io(path, e))
}

/// Why code could not be generated. Its `Debug` is its message, so that a build script's
/// `main` returning it prints something a person can act on.
#[non_exhaustive]
pub enum BuildError {
    /// An IDL file is malformed or does not resolve.
    Idl(IdlError),
    /// A program that resolves but cannot be generated.
    Gen(GenError),
    /// A file could not be read or written.
    Io(PathBuf, io::Error),
    /// Anything else (a missing include, no `OUT_DIR`).
    Other(String),
}

impl BuildError {
    pub(crate) fn io(path: &Path, e: io::Error) -> Self {
        BuildError::Io(path.to_path_buf(), e)
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Idl(e) => write!(f, "{e}"),
            BuildError::Gen(e) => write!(f, "{e}"),
            BuildError::Io(path, e) => write!(f, "{}: {e}", path.display()),
            BuildError::Other(m) => f.write_str(m),
        }
    }
}

impl fmt::Debug for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Idl(e) => Some(e),
            BuildError::Gen(e) => Some(e),
            BuildError::Io(_, e) => Some(e),
            BuildError::Other(_) => None,
        }
    }
}
