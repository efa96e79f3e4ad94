//! `rookery new`: a project that builds, runs and answers from the first `cargo run`.

use std::{
    fmt::Write as _,
    path::{Component, Path, PathBuf},
};

use rookery_build::thrift::resolve::Program;

use crate::{
    project::{Error, Idl, load_stubs},
    rustfmt,
    templates::{self, RookerySource},
};

/// What `rookery new` was asked for.
#[derive(Debug)]
pub(crate) struct NewOptions {
    pub(crate) name: String,
    pub(crate) idl: PathBuf,
    pub(crate) include_dirs: Vec<PathBuf>,
    pub(crate) parent: PathBuf,
    pub(crate) rookery_path: Option<PathBuf>,
}

/// Creates the project and returns what to tell the user.
pub(crate) fn new_project(options: &NewOptions) -> Result<String, Error> {
    check_name(&options.name)?;
    let kind = Idl::of(&options.idl)?;
    let dir = options.parent.join(&options.name);
    if dir.exists() {
        return Err(format!(
            "{} exists already; to add stubs for what its IDL gained, run `rookery update {}`",
            dir.display(),
            dir.display()
        ));
    }

    // Load the IDL where it is first: its errors name the user's files.
    let copies = match kind {
        Idl::Thrift => {
            let program =
                Program::load(&options.idl, &options.include_dirs).map_err(|e| e.to_string())?;
            idl_copies(&program, &options.idl, &options.include_dirs)?
        }
        Idl::Protobuf => proto_copies(&options.idl, &options.include_dirs)?,
    };
    let root_rel = copies[0].1.clone();
    let idl = vec![format!("idl/{}", slash_path(&root_rel))];

    let source = rookery_source(options.rookery_path.as_deref())?;

    // Write everything into a directory beside the target and rename it at the end, so that a
    // failure leaves nothing half made under the project's name.
    let staging = options.parent.join(format!(
        ".{}.rookery-new-{}",
        options.name,
        std::process::id()
    ));
    let result = write_project(&staging, kind, options, &copies, &idl, &source).and_then(|()| {
        std::fs::rename(&staging, &dir)
            .map_err(|e| format!("renaming {} to {}: {e}", staging.display(), dir.display()))
    });
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }

    let mut report = format!("created {}\n", dir.display());
    for (_, rel) in &copies {
        let _ = writeln!(report, "  idl/{}", slash_path(rel));
    }
    for file in [
        "Cargo.toml",
        "build.rs",
        "src/main.rs",
        "src/services.rs",
        "src/handler.rs",
    ] {
        let _ = writeln!(report, "  {file}");
    }
    let _ = writeln!(
        report,
        "\nnext: cd {} && cargo run   (every function answers UNIMPLEMENTED until written in \
         src/handler.rs)",
        dir.display()
    );
    Ok(report)
}

fn write_project(
    dir: &Path,
    kind: Idl,
    options: &NewOptions,
    copies: &[(PathBuf, PathBuf)],
    idl: &[String],
    source: &RookerySource,
) -> Result<(), Error> {
    let write = |rel: &str, text: &str| -> Result<(), Error> {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        // Rust as `cargo fmt` leaves it (the templates are, the stubs may not be).
        let text = if rel.ends_with(".rs") {
            rustfmt::file(text)
        } else {
            text.to_owned()
        };
        std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))
    };
    for (from, rel) in copies {
        let text = std::fs::read_to_string(from)
            .map_err(|e| format!("reading {}: {e}", from.display()))?;
        write(&format!("idl/{}", slash_path(rel)), &text)?;
    }

    // The stubs come from the copies, as `rookery update` will read them: if the copies do
    // not load (an include the layout under idl/ cannot reach), say so now.
    let roots = [dir.join(&idl[0])];
    let services = load_stubs(&roots, &[dir.join("idl")])
        .map_err(|e| format!("the IDL copied into the project does not load from there:\n{e}"))?;

    write(
        "Cargo.toml",
        &templates::cargo_toml(kind, &options.name, idl, source),
    )?;
    write("build.rs", &templates::build_rs(kind, idl))?;
    write("src/main.rs", &templates::main_rs(kind, &options.name, idl))?;
    write(
        "src/services.rs",
        &templates::services_rs(kind, idl, &services),
    )?;
    write(
        "src/handler.rs",
        &templates::handler_rs(&options.name, idl, &services),
    )?;
    write(".gitignore", templates::GITIGNORE)?;
    Ok(())
}

/// A package name cargo takes, which is also a fine service name.
fn check_name(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(format!(
            "{name:?} cannot name a project: use ASCII letters, digits, - and _, starting \
             with a letter"
        ));
    }
    const RESERVED: &[&str] = &[
        "test", "build", "deps", "examples", "benches", "self", "crate",
    ];
    if RESERVED.contains(&name) {
        return Err(format!("{name:?} is a name cargo reserves; pick another"));
    }
    Ok(())
}

/// Each file of the program and where it goes under the project's `idl/`: its path relative
/// to the directory it was found from (the root's directory, or the include directory that
/// held it), so that the includes as written still reach it with `idl` as the include
/// directory. The root comes first.
fn idl_copies(
    program: &Program,
    root: &Path,
    include_dirs: &[PathBuf],
) -> Result<Vec<(PathBuf, PathBuf)>, Error> {
    let canonical = |p: &Path| {
        p.canonicalize()
            .map_err(|e| format!("resolving {}: {e}", p.display()))
    };
    let root_dir = canonical(
        root.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    )?;
    let mut bases = vec![root_dir.clone()];
    for dir in include_dirs {
        bases.push(canonical(dir)?);
    }
    let mut copies: Vec<(PathBuf, PathBuf)> = Vec::new();
    for file in program.files() {
        let path = canonical(&file.path)?;
        let rel = bases
            .iter()
            .find_map(|base| path.strip_prefix(base).ok())
            .filter(|rel| rel.components().all(|c| matches!(c, Component::Normal(_))))
            .ok_or_else(|| {
                format!(
                    "{} is outside {} and the include directories; pass the directory that \
                     holds it with --include",
                    path.display(),
                    root_dir.display()
                )
            })?
            .to_path_buf();
        if let Some((other, _)) = copies.iter().find(|(_, r)| *r == rel) {
            return Err(format!(
                "{} and {} would both be copied to idl/{}",
                other.display(),
                path.display(),
                slash_path(&rel)
            ));
        }
        copies.push((path, rel));
    }
    Ok(copies)
}

/// Each `.proto` file the root imports (and the root, first) and where it goes under the
/// project's `idl/`: its name as imports name it, found in the include directories (by
/// default the root's own directory). The well-known types (`google/protobuf/*.proto`) are
/// built into the compiler and are not copied unless they are files there.
fn proto_copies(root: &Path, include_dirs: &[PathBuf]) -> Result<Vec<(PathBuf, PathBuf)>, Error> {
    let includes: Vec<PathBuf> = if include_dirs.is_empty() {
        vec![
            root.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf(),
        ]
    } else {
        include_dirs.to_vec()
    };
    let mut builder = rookery_build::protobuf::Builder::new();
    for dir in &includes {
        builder = builder.include_dir(dir);
    }
    let set = builder
        .file_descriptor_set(&[root])
        .map_err(|e| e.to_string())?;
    let root_canonical = root
        .canonicalize()
        .map_err(|e| format!("resolving {}: {e}", root.display()))?;
    let mut copies: Vec<(PathBuf, PathBuf)> = Vec::new();
    for file in &set.file {
        let name = file.name();
        let Some(found) = includes.iter().map(|d| d.join(name)).find(|p| p.is_file()) else {
            if name.starts_with("google/protobuf/") {
                continue;
            }
            return Err(format!(
                "{name} was compiled but is not a file in {}; pass the directory that holds it \
                 with --include",
                includes
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        let rel = PathBuf::from(name);
        if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(format!(
                "{name}: an import name rookery cannot copy under idl/"
            ));
        }
        let is_root = found.canonicalize().is_ok_and(|c| c == root_canonical);
        if is_root {
            copies.insert(0, (found, rel));
        } else {
            copies.push((found, rel));
        }
    }
    match copies.first() {
        Some((path, _)) if path.canonicalize().is_ok_and(|c| c == root_canonical) => Ok(copies),
        _ => Err(format!(
            "{} is not inside the include directories {}; pass its directory with --include",
            root.display(),
            includes
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// `path` with `/` between its parts, as Cargo.toml and build.rs name it on every system.
fn slash_path(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// Where the project takes rookery from: the directory given, else this tool's own checkout
/// when it is still there, else the published version.
fn rookery_source(given: Option<&Path>) -> Result<RookerySource, Error> {
    let has_crates = |dir: &Path| {
        ["rookery", "rookery-build", "rookery-grpc"]
            .iter()
            .all(|c| dir.join(c).join("Cargo.toml").is_file())
    };
    if let Some(dir) = given {
        let dir = dir
            .canonicalize()
            .map_err(|e| format!("--rookery-path {}: {e}", dir.display()))?;
        if !has_crates(&dir) {
            return Err(format!(
                "--rookery-path {}: no rookery/ and rookery-build/ crates there (give the \
                 `crates` directory of a rookery checkout)",
                dir.display()
            ));
        }
        return Ok(RookerySource::Path(dir.to_string_lossy().into_owned()));
    }
    // This crate is `crates/rookery-cli` of the checkout it was built from.
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    match built_from.canonicalize() {
        Ok(dir) if has_crates(&dir) => Ok(RookerySource::Path(dir.to_string_lossy().into_owned())),
        _ => Ok(RookerySource::Version(env!("CARGO_PKG_VERSION").to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cargo_would_refuse_are_refused() {
        for bad in ["", "1calc", "calc service", "ca/lc", "test", "crate", "é"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["calc", "calc-service", "calc_2", "Calc"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn paths_are_written_with_slashes() {
        assert_eq!(slash_path(Path::new("a/b/c.thrift")), "a/b/c.thrift");
    }
}
