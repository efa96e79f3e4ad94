//! Rust code from Thrift IDL.
//!
//! Code is built as tokens with `quote` and printed with `prettyplease`: what is generated is
//! parsed back as Rust before it is written (a generator bug is reported here, not as a
//! confusing error inside an `include!`), it is formatted the same way on every machine
//! without running `rustfmt`, and paths and identifiers are tokens rather than text pasted
//! together.
//!
//! One `.rs` file is written per IDL file, into a module named after its `namespace rs` (or
//! its file name in snake case); definitions of included files are reached through `super::`
//! paths between those modules, so the generated modules work wherever they are included
//! together. A mod file declares the module tree; see [`Builder`].
//!
//! # Type mapping
//!
//! | IDL | Rust |
//! |---|---|
//! | `bool`, `i8`, `i16`, `i32`, `i64`, `double` | `bool`, `i8`, `i16`, `i32`, `i64`, `f64` |
//! | `string` | `FastStr` (decoded without copying, shares the received buffer) |
//! | `binary` | `Bytes` (likewise) |
//! | `uuid` | `[u8; 16]` |
//! | `list<T>` | `Vec<T>` |
//! | `set<T>` | `HashSet<T>` (foldhash), or `Vec<T>` when `T` cannot be hashed |
//! | `map<K, V>` | `HashMap<K, V>` (foldhash), or `Vec<(K, V)>` when `K` cannot be hashed |
//! | `enum` | an open newtype `struct E(pub i32)` with a constant per value |
//! | `struct`, `exception` | a struct; exceptions implement `std::error::Error` |
//! | `union` | an enum with one variant per field |
//! | `typedef` | a type alias |
//! | `const` | a `const`, or a `LazyLock` static for containers and structs |
//!
//! A type cannot be hashed when it contains a `double`, a set or a map (Rust's hash maps
//! are not `Hash`), or a struct that does. A field that is `optional` is an `Option`; a
//! `required` one or one of default requiredness is the value itself, except that a field
//! whose struct contains itself (directly or through other structs, not through a
//! container) is an `Option<Box<T>>`, and a field of default requiredness whose type has
//! no default (a union, or a struct with such a required field) is an `Option<T>`.

mod builder;
mod codec;
mod consts;
mod items;
mod model;
mod names;
mod service;
pub mod stubs;

use std::{fmt, path::PathBuf};

use proc_macro2::TokenStream;
use quote::quote;

pub use builder::{BuildError, Builder};

use crate::thrift::{
    ast::{Definition, Document, Span, StructKind},
    resolve::Program,
};

/// A file of a program, by its index.
pub type FileId = usize;

/// What the generator needs of a parsed and resolved program.
pub trait Source {
    /// Every file of the program.
    fn file_ids(&self) -> Vec<FileId>;
    /// The syntax tree of a file.
    fn document(&self, id: FileId) -> &Document;
    /// The definition `name` (possibly qualified by an include, `shared.Thing`) names in file
    /// `from`, and the file that defines it.
    fn lookup(&self, from: FileId, name: &str) -> Option<(FileId, &Definition)>;
}

impl Source for Program {
    fn file_ids(&self) -> Vec<FileId> {
        self.files().iter().map(|f| f.id).collect()
    }

    fn document(&self, id: FileId) -> &Document {
        &self.file(id).document
    }

    fn lookup(&self, from: FileId, name: &str) -> Option<(FileId, &Definition)> {
        Program::lookup(self, from, name)
    }
}

/// Something the generator cannot generate: an unknown name, a constant of the wrong type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenError {
    /// What is wrong.
    pub message: String,
    /// Where, when known.
    pub span: Option<Span>,
}

impl GenError {
    pub(crate) fn at(span: &Span, message: impl Into<String>) -> Self {
        GenError {
            message: message.into(),
            span: Some(span.clone()),
        }
    }

    pub(crate) fn new(message: impl Into<String>) -> Self {
        GenError {
            message: message.into(),
            span: None,
        }
    }
}

impl fmt::Display for GenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.span {
            Some(span) => write!(f, "{span}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for GenError {}

/// The generated code of one IDL file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedFile {
    /// The IDL file.
    pub idl: PathBuf,
    /// The module it is generated into (`["echo"]`, or the parts of `namespace rs a.b`).
    pub module: Vec<String>,
    /// The name of the generated file, unique among the files of one build.
    pub file_name: String,
    /// The Rust source.
    pub code: String,
}

/// Options of the generator.
#[derive(Clone, Debug)]
pub struct Options {
    /// The path generated code reaches rookery's runtime through (`::rookery::codegen`).
    pub runtime: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            runtime: "::rookery::codegen".to_string(),
        }
    }
}

/// Generates the code of the files `files` of `src` (every file of a program when all of
/// them are needed).
pub fn generate(
    src: &dyn Source,
    files: &[FileId],
    options: &Options,
) -> Result<Vec<GeneratedFile>, GenError> {
    let runtime: TokenStream = options
        .runtime
        .parse()
        .map_err(|_| GenError::new(format!("{:?} is not a Rust path", options.runtime)))?;
    let model = model::Model::new(src, runtime)?;
    let mut out: Vec<GeneratedFile> = Vec::new();
    for &id in files {
        let doc = src.document(id);
        let tokens = model.gen_file(id)?;
        let code = format_file(doc, tokens)?;
        let module = model.modules[&id].clone();
        let mut file_name = format!("{}.rs", module.join("."));
        let mut n = 2;
        while out.iter().any(|f| f.file_name == file_name) {
            file_name = format!("{}.{n}.rs", module.join("."));
            n += 1;
        }
        out.push(GeneratedFile {
            idl: doc.path.to_path_buf(),
            module,
            file_name,
            code,
        });
    }
    Ok(out)
}

fn format_file(doc: &Document, tokens: TokenStream) -> Result<String, GenError> {
    let file: syn::File = syn::parse2(tokens).map_err(|e| {
        GenError::new(format!(
            "generated code for {} does not parse ({e}); this is a bug in rookery-build",
            doc.path.display()
        ))
    })?;
    let name = doc
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(format!(
        "// Generated by rookery-build from {name}. Do not edit: changes are lost when it is \
         generated again.\n\n{}",
        prettyplease::unparse(&file)
    ))
}

impl model::Model<'_> {
    fn gen_file(&self, id: FileId) -> Result<TokenStream, GenError> {
        let doc = self.src.document(id);
        let mut out = TokenStream::new();
        for def in &doc.definitions {
            out.extend(match def {
                Definition::Const(c) => self.gen_const(id, c)?,
                Definition::Typedef(t) => self.gen_typedef(id, t)?,
                Definition::Enum(e) => self.gen_enum(id, e),
                Definition::Struct(s) => match s.kind {
                    StructKind::Union => self.gen_union(id, s)?,
                    StructKind::Struct => {
                        self.gen_struct(id, s, &format!("`struct {}`", s.name), false)?
                    }
                    StructKind::Exception => {
                        self.gen_struct(id, s, &format!("`exception {}`", s.name), false)?
                    }
                },
                Definition::Service(s) => self.gen_service(id, s)?,
            });
        }
        Ok(out)
    }
}

/// The mod file: the module tree of `files`, each module including its generated files
/// (by paths relative to the mod file, which is written beside them).
pub fn mod_file(files: &[GeneratedFile]) -> String {
    #[derive(Default)]
    struct Node {
        files: Vec<String>,
        idl: Vec<String>,
        children: std::collections::BTreeMap<String, Node>,
    }
    let mut root = Node::default();
    for f in files {
        let mut node = &mut root;
        for part in &f.module {
            node = node.children.entry(part.clone()).or_default();
        }
        node.files.push(f.file_name.clone());
        node.idl.push(
            f.idl
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
    }
    fn emit(node: &Node) -> TokenStream {
        let includes = node.files.iter().map(|f| quote!(include!(#f);));
        let children = node.children.iter().map(|(name, child)| {
            let ident = names::ident(name);
            let body = emit(child);
            let doc = if child.idl.is_empty() {
                format!(" The modules of `{name}`.")
            } else {
                let files: Vec<String> = child.idl.iter().map(|f| format!("`{f}`")).collect();
                format!(" Generated from {}.", files.join(", "))
            };
            // IDL comments are prose, not Markdown: `map<K, V>` is not an HTML tag. IDL types
            // nest as deep as their authors like.
            quote! {
                #[doc = #doc]
                #[allow(rustdoc::invalid_html_tags, rustdoc::broken_intra_doc_links)]
                #[allow(clippy::type_complexity)]
                pub mod #ident {
                    #body
                }
            }
        });
        quote!(#(#includes)* #(#children)*)
    }
    let file: syn::File = syn::parse2(emit(&root)).expect("module tree parses");
    format!(
        "// Generated by rookery-build: the modules of the Thrift IDL files. Do not edit.\n\n{}",
        prettyplease::unparse(&file)
    )
}
