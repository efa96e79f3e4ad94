//! Protobuf IDL: compilation and code generation, in pure Rust.
//!
//! `.proto` files are compiled by [protox](https://docs.rs/protox), a pure-Rust Protobuf
//! compiler by one of prost's maintainers: no `protoc` on the machine or in CI, the same
//! `FileDescriptorSet` that `protoc` produces, and the well-known types built in. proto3 and
//! the common proto2 forms are generated: packages and imports, nested messages and enums,
//! oneofs, maps, proto3 `optional`, proto2 `required`, `optional` and `[default = …]`,
//! packed and unpacked repeated fields, the well-known types, and services with unary,
//! client-streaming, server-streaming and bidirectional methods.
//!
//! In `build.rs`:
//!
//! ```no_run
//! rookery_build::protobuf::Builder::new()
//!     .include_dir("proto")
//!     .compile(&["proto/greeter.proto"])
//!     .unwrap();
//! ```
//!
//! and in the crate, where the generated modules belong (one module per package part):
//!
//! ```ignore
//! include!(concat!(env!("OUT_DIR"), "/rookery_protobuf.rs"));
//! ```
//!
//! What is generated, for each message, enum and service (names follow prost's conventions):
//!
//! - **messages**: a struct with `pub` fields: strings are `FastStr`, bytes are `Bytes`
//!   (both share the decoded input's memory), `repeated` is a `Vec`, a map is a
//!   `ProtoMap` (a `HashMap` with foldhash), a oneof is an `Option` of an enum in the
//!   message's module, a message field is an `Option` (boxed where the type contains itself),
//!   proto3 `optional` and proto2 `optional` are `Option`s (with accessors that give the
//!   default). Each implements `rookery::codec::protobuf::ProtoMessage`: bytes identical to
//!   prost's, and faster.
//! - **enums**: `#[repr(transparent)] struct Color(pub i32)` with a constant per value
//!   (`Color::RED`), so numbers a newer schema adds pass through unchanged.
//! - **services**: a handler trait (`Greeter`) with an async method per RPC, whose
//!   streaming requests are `Streaming<T>` and streaming responses `BoxStream<T>`; a module
//!   of static method descriptions (`greeter_descriptor::SAY_HELLO`, with the gRPC path and
//!   kind); a server (`GreeterServer<T>`) that is a `Service` of encoded calls; and a
//!   typed client (`GreeterClient<S>`) over any `Service` of encoded calls. See
//!   `rookery::codec::protobuf::rpc` for that contract.
//!
//! Errors name the file, line and column, and show the line:
//!
//! ```text
//! broken.proto:4:15: expected ';', but found '}'
//!   |
//! 4 |   string name = 1 }
//!   |               ^
//! ```

mod code;
mod error;
mod fields;
mod generate;
mod message;
mod names;
mod service;
pub mod stubs;
mod types;

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
};

pub use error::{Error, ErrorKind, Location};
pub use prost_types::FileDescriptorSet;

/// The name of the root file [`Builder::compile`] writes unless told otherwise.
pub const ROOT_FILE: &str = "rookery_protobuf.rs";

/// Compiles `.proto` files and generates Rust for them, for `build.rs`.
#[derive(Clone, Debug)]
pub struct Builder {
    includes: Vec<PathBuf>,
    out_dir: Option<PathBuf>,
    root_file: String,
    codegen: String,
    external_wkt: bool,
    services: bool,
    descriptor_set: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

/// What [`Builder::compile`] wrote.
#[derive(Clone, Debug)]
pub struct Output {
    /// The root file, to `include!`.
    pub root: PathBuf,
    /// One file per package, by package name (empty for files without a package).
    pub packages: BTreeMap<String, PathBuf>,
    /// The `.proto` files read (imports included, the well-known types not).
    pub inputs: Vec<PathBuf>,
}

impl Builder {
    /// A builder that writes into `$OUT_DIR` and names the facade as `::rookery`.
    pub fn new() -> Builder {
        Builder {
            includes: Vec::new(),
            out_dir: None,
            root_file: ROOT_FILE.to_string(),
            codegen: "::rookery::codegen".to_string(),
            external_wkt: true,
            services: true,
            descriptor_set: true,
        }
    }

    /// Adds a directory that imports (and the files to compile) are found in. With none, the
    /// directory of each file compiled is used. The well-known types
    /// (`google/protobuf/*.proto`) are always found.
    pub fn include_dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.includes.push(dir.into());
        self
    }

    /// Where generated files go (`$OUT_DIR` by default).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.out_dir = Some(dir.into());
        self
    }

    /// The name of the root file ([`ROOT_FILE`] by default).
    pub fn root_file(mut self, name: impl Into<String>) -> Builder {
        self.root_file = name.into();
        self
    }

    /// Whether services get a handler trait, a server and a client (yes by default).
    pub fn services(mut self, yes: bool) -> Builder {
        self.services = yes;
        self
    }

    /// Whether [`compile`](Builder::compile) embeds the descriptors of the files compiled
    /// and their imports (yes by default): the root file then holds
    /// `pub const FILE_DESCRIPTOR_SET: &[u8]`, an encoded `google.protobuf.FileDescriptorSet`
    /// without source information, for server reflection (`rookery_grpc::reflection`) and
    /// anything else that reads descriptors at run time. It is written beside the root file
    /// (`rookery_protobuf.rs` has `rookery_protobuf.bin`) and included with `include_bytes!`.
    pub fn descriptor_set(mut self, yes: bool) -> Builder {
        self.descriptor_set = yes;
        self
    }

    /// The path generated code names the support module by (`::rookery::codegen`): for code
    /// inside rookery itself.
    #[doc(hidden)]
    pub fn codegen_path(mut self, path: impl Into<String>) -> Builder {
        self.codegen = path.into();
        self
    }

    /// Generates the well-known types instead of naming rookery's: for rookery itself.
    #[doc(hidden)]
    pub fn generate_well_known_types(mut self, yes: bool) -> Builder {
        self.external_wkt = !yes;
        self
    }

    fn include_dirs(&self, files: &[PathBuf]) -> Vec<PathBuf> {
        if !self.includes.is_empty() {
            return self.includes.clone();
        }
        let mut dirs: Vec<PathBuf> = Vec::new();
        for f in files {
            let dir = f
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf();
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        dirs
    }

    /// Compiles `files` and their imports into descriptors (with source locations), as
    /// `protoc --include_imports --include_source_info` would: for prost-build's
    /// `compile_fds`, reflection, or anything else that reads descriptors.
    pub fn file_descriptor_set(
        &self,
        files: &[impl AsRef<Path>],
    ) -> Result<FileDescriptorSet, Error> {
        Ok(self.compile_roots(files)?.0)
    }

    /// The descriptors of `files` and their imports, and the names of `files` among them (as
    /// imports name them), in the order given.
    fn compile_roots(
        &self,
        files: &[impl AsRef<Path>],
    ) -> Result<(FileDescriptorSet, Vec<String>), Error> {
        let files: Vec<PathBuf> = files.iter().map(|f| f.as_ref().to_path_buf()).collect();
        let includes = self.include_dirs(&files);
        let mut compiler =
            protox::Compiler::new(&includes).map_err(|e| Error::from_protox(&e, &includes))?;
        compiler.include_imports(true).include_source_info(true);
        let mut roots: Vec<String> = Vec::new();
        for file in &files {
            compiler
                .open_file(file)
                .map_err(|e| Error::from_protox(&e, &includes))?;
            // The file just opened is the one root not seen yet (none when given twice).
            let opened = compiler
                .files()
                .find(|f| !f.is_import() && !roots.iter().any(|r| r == f.name()));
            if let Some(opened) = opened {
                roots.push(opened.name().to_string());
            }
        }
        Ok((compiler.file_descriptor_set(), roots))
    }

    /// Compiles `files` and returns the generated Rust by package, without writing anything.
    pub fn generate(&self, files: &[impl AsRef<Path>]) -> Result<BTreeMap<String, String>, Error> {
        Ok(self.compile_and_generate(files)?.code)
    }

    /// Compiles and generates `files`.
    pub(crate) fn compile_and_generate(
        &self,
        files: &[impl AsRef<Path>],
    ) -> Result<Compiled, Error> {
        let paths: Vec<PathBuf> = files.iter().map(|f| f.as_ref().to_path_buf()).collect();
        let includes = self.include_dirs(&paths);
        let (set, roots) = self.compile_roots(files)?;
        let mut sources = HashMap::new();
        let mut inputs = Vec::new();
        for file in &set.file {
            if let Some(path) = includes
                .iter()
                .map(|dir| dir.join(file.name()))
                .find(|p| p.is_file())
            {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    sources.insert(file.name().to_string(), text);
                }
                inputs.push(path);
            }
        }
        let options = generate::Options {
            codegen: self.codegen.clone(),
            external_wkt: self.external_wkt,
            services: self.services,
        };
        let code = generate::generate(&set.file, &sources, &options)?;
        Ok(Compiled {
            files: set.file,
            roots,
            code,
            inputs,
        })
    }

    /// Compiles `files`, writes one `.rs` per package and the root file into the output
    /// directory, and tells Cargo to run the build script again when a `.proto` read
    /// changes. Files whose content did not change are not rewritten.
    pub fn compile(self, files: &[impl AsRef<Path>]) -> Result<Output, Error> {
        let Compiled {
            code,
            inputs,
            files: descriptors,
            ..
        } = self.compile_and_generate(files)?;
        let env_out = std::env::var_os("OUT_DIR").map(PathBuf::from);
        let out_dir = match (&self.out_dir, &env_out) {
            (Some(dir), _) => dir.clone(),
            (None, Some(dir)) => dir.clone(),
            (None, None) => {
                return Err(Error::new(
                    ErrorKind::Io,
                    "no output directory: OUT_DIR is not set (not in a build script) and out_dir was not given",
                ));
            }
        };
        std::fs::create_dir_all(&out_dir).map_err(|e| Error::io("cannot create", &out_dir, e))?;
        let in_out_dir = env_out.as_deref() == Some(out_dir.as_path());
        let mut packages = BTreeMap::new();
        for (package, text) in &code {
            let path = out_dir.join(generate::package_file(package));
            write_if_changed(&path, text)?;
            packages.insert(package.clone(), path);
        }
        let names: Vec<&str> = code.keys().map(String::as_str).collect();
        let include = |file: &str| {
            if in_out_dir {
                format!("concat!(env!(\"OUT_DIR\"), \"/{file}\")")
            } else {
                format!("{file:?}")
            }
        };
        let mut root = generate::root(&names, include);
        if self.descriptor_set {
            let name = descriptor_set_file(&self.root_file);
            let path = out_dir.join(&name);
            write_bytes_if_changed(&path, &encode_descriptor_set(descriptors))?;
            generate::descriptor_set_const(&mut root, &include(&name));
        }
        let root_path = out_dir.join(&self.root_file);
        write_if_changed(&root_path, &root)?;
        if env_out.is_some() {
            for input in &inputs {
                println!("cargo:rerun-if-changed={}", input.display());
            }
        }
        Ok(Output {
            root: root_path,
            packages,
            inputs,
        })
    }
}

/// What [`Builder::compile_and_generate`] gives.
pub(crate) struct Compiled {
    /// The descriptors of the files compiled and their imports, imports first.
    pub(crate) files: Vec<prost_types::FileDescriptorProto>,
    /// The names of the files compiled (as imports name them), in the order given.
    pub(crate) roots: Vec<String>,
    /// The generated Rust, by package.
    pub(crate) code: BTreeMap<String, String>,
    /// The `.proto` files read (imports included, the well-known types not).
    pub(crate) inputs: Vec<PathBuf>,
}

fn write_if_changed(path: &Path, text: &str) -> Result<(), Error> {
    write_bytes_if_changed(path, text.as_bytes())
}

fn write_bytes_if_changed(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes).map_err(|e| Error::io("cannot write", path, e))
}

/// The file beside the root file that holds its descriptors: `rookery_protobuf.bin` for
/// `rookery_protobuf.rs`.
fn descriptor_set_file(root_file: &str) -> String {
    let stem = root_file.strip_suffix(".rs").unwrap_or(root_file);
    format!("{stem}.bin")
}

/// The encoded `FileDescriptorSet` of `files`, without source information (comments and
/// spans, which reflection does not need and which would triple its size).
fn encode_descriptor_set(mut files: Vec<prost_types::FileDescriptorProto>) -> Vec<u8> {
    use prost::Message;
    for file in &mut files {
        file.source_code_info = None;
    }
    FileDescriptorSet { file: files }.encode_to_vec()
}
