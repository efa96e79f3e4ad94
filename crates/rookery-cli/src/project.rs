//! What a scaffolded project records about itself (`[package.metadata.rookery]` in its
//! `Cargo.toml`), and the stubs its IDL asks for.

use std::path::{Path, PathBuf};

use rookery_build::{
    stubs::{ServiceStubs, StubOptions},
    thrift::{r#gen::stubs::stubs, resolve::Program},
};
use serde::Deserialize;

/// An error for people: what went wrong and, where it helps, what to do.
pub(crate) type Error = String;

/// The `[package.metadata.rookery]` table: the IDL files, relative to the project.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct Metadata {
    /// The root IDL files.
    pub(crate) idl: Vec<String>,
    /// Where includes are looked for besides the including file's directory.
    #[serde(default)]
    pub(crate) include_dirs: Vec<String>,
}

#[derive(Deserialize)]
struct Manifest {
    package: Option<Package>,
}

#[derive(Deserialize)]
struct Package {
    metadata: Option<PackageMetadata>,
}

#[derive(Deserialize)]
struct PackageMetadata {
    rookery: Option<Metadata>,
}

/// A project on disk.
#[derive(Debug)]
pub(crate) struct Project {
    /// Its directory.
    pub(crate) dir: PathBuf,
    /// What it records about its IDL.
    pub(crate) metadata: Metadata,
}

impl Project {
    /// Reads `dir/Cargo.toml`.
    pub(crate) fn open(dir: &Path) -> Result<Project, Error> {
        let path = dir.join("Cargo.toml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("reading {}: {e} (is it a rookery project?)", path.display()))?;
        let manifest: Manifest =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let package = manifest
            .package
            .ok_or_else(|| format!("{}: no [package] table", path.display()))?;
        let metadata = package.metadata.and_then(|m| m.rookery).ok_or_else(|| {
            format!(
                "{}: no [package.metadata.rookery] table naming the IDL \
                     (`idl = [\"idl/service.thrift\"]`); `rookery new` writes one",
                path.display()
            )
        })?;
        if metadata.idl.is_empty() {
            return Err(format!(
                "{}: [package.metadata.rookery] names no IDL file",
                path.display()
            ));
        }
        Ok(Project {
            dir: dir.to_path_buf(),
            metadata,
        })
    }

    /// Loads the project's IDL and returns the stubs of its services.
    pub(crate) fn stubs(&self) -> Result<Vec<ServiceStubs>, Error> {
        let roots: Vec<PathBuf> = self.metadata.idl.iter().map(|p| self.dir.join(p)).collect();
        let include_dirs: Vec<PathBuf> = self
            .metadata
            .include_dirs
            .iter()
            .map(|p| self.dir.join(p))
            .collect();
        load_stubs(&roots, &include_dirs)
    }

    /// The kind of IDL the project is generated from.
    pub(crate) fn idl(&self) -> Result<Idl, Error> {
        Idl::of(Path::new(&self.metadata.idl[0]))
    }
}

/// The kind of IDL a project is generated from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idl {
    /// Thrift: served over rookery's native transport (TTHeader, framed, buffered).
    Thrift,
    /// Protobuf: served over gRPC.
    Protobuf,
}

impl Idl {
    /// The kind of `path`, by its extension.
    pub(crate) fn of(path: &Path) -> Result<Idl, Error> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("thrift") => Ok(Idl::Thrift),
            Some("proto") => Ok(Idl::Protobuf),
            _ => Err(format!(
                "{}: not an IDL file rookery reads (.thrift or .proto)",
                path.display()
            )),
        }
    }
}

/// Loads the IDL rooted at `roots` and returns the stubs of its services.
pub(crate) fn load_stubs(
    roots: &[PathBuf],
    include_dirs: &[PathBuf],
) -> Result<Vec<ServiceStubs>, Error> {
    let first = roots.first().ok_or("no IDL file")?;
    match Idl::of(first)? {
        Idl::Thrift => {
            let program = Program::load_all(roots, include_dirs).map_err(|e| e.to_string())?;
            stubs(&program, &StubOptions::default()).map_err(|e| e.to_string())
        }
        Idl::Protobuf => {
            rookery_build::protobuf::stubs::stubs(roots, include_dirs, &StubOptions::default())
                .map_err(|e| e.to_string())
        }
    }
}
