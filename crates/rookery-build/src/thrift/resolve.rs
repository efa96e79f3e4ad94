//! A whole Thrift program: the root file and every file it includes, parsed, resolved and
//! checked, ready for the code generator.
//!
//! ```no_run
//! use std::path::PathBuf;
//! use rookery_build::thrift::{ast::Definition, resolve::{Program, ResolvedType}};
//!
//! let program = Program::load("idl/echo.thrift", &[PathBuf::from("idl/common")])?;
//! let root = program.file(program.root());
//! for definition in &root.document.definitions {
//!     if let Definition::Struct(s) = definition {
//!         for field in &s.fields {
//!             // `UserId` (a typedef of i64) is an I64 on the wire.
//!             let wire: ResolvedType = program.resolve_type(root.id, &field.ty);
//!             if let Some(default) = &field.default {
//!                 let value = program.const_value(root.id, &field.ty, default)?;
//!                 println!("{}.{}: {wire} = {value:?}", s.name, field.name);
//!             }
//!         }
//!     }
//! }
//! # Ok::<(), rookery_build::IdlError>(())
//! ```
//!
//! # Finding included files
//!
//! `include "path"` is looked for as Apache Thrift looks for it: an absolute path is taken as
//! it is; a relative one is looked for first in the directory of the file that includes it,
//! then in each include directory in the order given. The first file that exists wins. When
//! none does, the error lists every path tried. A file reached by two routes (two files
//! include `shared.thrift`) is loaded once.
//!
//! # Names
//!
//! A file sees its own definitions by their names, and those of each file it includes as
//! `alias.Name`, where the alias is the included file's name without directories and
//! extension ([`Include::alias`](crate::thrift::ast::Include::alias)). Inclusion is not
//! transitive. Enum values are named `Enum.VALUE` (or `alias.Enum.VALUE`). Definitions may be
//! used before they are defined, constants included.
//!
//! # Errors
//!
//! [`Program::load`] first reads every file it can reach; it reports one syntax error per file
//! that does not parse, every include it cannot find, and every include cycle, and stops there.
//! When every file parses, it checks everything and reports every semantic error, in file
//! order, then line and column. A `Program` that loaded is fully valid: every named type
//! resolves, every constant and default fits its type, every `throws` names exceptions, every
//! `extends` names a service.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fmt,
    path::{Path, PathBuf},
    sync::Arc,
};

use crate::{
    error::{Diagnostic, ErrorKind, IdlError},
    thrift::{
        ast::{ConstValue, Definition, Document, Enum, Field, Service, Span, StructKind, TypeRef},
        parser::parse_with_warnings,
    },
};

/// Which file of a [`Program`]: an index into [`Program::files`]. The root is 0.
pub type FileId = usize;

/// How long a chain of includes may be.
pub const MAX_INCLUDE_DEPTH: usize = 64;

/// How deep a type may nest once typedefs are followed, and how long a chain of constants
/// naming constants may be.
pub const MAX_RESOLVED_DEPTH: usize = 128;

/// How many nodes (numbers, strings, elements) all constant values may hold together once
/// references are expanded, so that `[A, A]` of `[B, B]` of ... cannot eat the memory.
pub const MAX_CONST_NODES: usize = 1 << 20;

/// Every file of a Thrift program, the root first, resolved and checked.
#[derive(Clone, Debug)]
pub struct Program {
    files: Vec<File>,
    roots: Vec<FileId>,
    warnings: Vec<Diagnostic>,
    consts: HashMap<(FileId, usize), Value>,
}

/// One file of a [`Program`].
#[derive(Clone, Debug)]
pub struct File {
    /// Which file it is.
    pub id: FileId,
    /// What it says.
    pub document: Document,
    /// Where it was found: the root as given to [`Program::load`], an included file as the
    /// search found it (the including file's directory or an include directory, joined with
    /// the path as written).
    pub path: PathBuf,
    /// Its `rs` namespace, or else its `*` namespace, if it has either.
    pub namespace: Option<String>,
    /// The files it includes, by the name it calls them (`"shared"` for
    /// `include "shared.thrift"`).
    pub includes: BTreeMap<String, FileId>,
    source: Arc<str>,
    /// Definition name to index in `document.definitions` (the first, when doubled).
    index: HashMap<String, usize>,
}

impl File {
    /// The name other files call it by: its file name without the extension (`shared` for
    /// `idl/shared.thrift`).
    pub fn name(&self) -> &str {
        self.path.file_stem().and_then(|s| s.to_str()).unwrap_or("")
    }

    /// Its definition named `name` (not qualified).
    pub fn get(&self, name: &str) -> Option<&Definition> {
        self.index.get(name).map(|&i| &self.document.definitions[i])
    }

    /// Its text.
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// A type as it is on the wire: typedefs followed, named types resolved to the file that
/// defines them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ResolvedType {
    /// `bool`.
    Bool,
    /// `i8` (or `byte`).
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `double`.
    Double,
    /// `string`.
    String,
    /// `binary`.
    Binary,
    /// `uuid`.
    Uuid,
    /// `list<T>`.
    List(Box<ResolvedType>),
    /// `set<T>`.
    Set(Box<ResolvedType>),
    /// `map<K, V>`.
    Map(Box<ResolvedType>, Box<ResolvedType>),
    /// An enum, struct, union or exception: the file that defines it, which it is, and its
    /// name in that file.
    Named {
        /// The file that defines it.
        file: FileId,
        /// Which kind of definition.
        kind: NamedKind,
        /// Its name, unqualified.
        name: String,
    },
}

/// What a [`ResolvedType::Named`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NamedKind {
    /// An `enum` (an `i32` on the wire).
    Enum,
    /// A `struct`.
    Struct,
    /// A `union`.
    Union,
    /// An `exception`.
    Exception,
}

impl From<StructKind> for NamedKind {
    fn from(kind: StructKind) -> NamedKind {
        match kind {
            StructKind::Struct => NamedKind::Struct,
            StructKind::Union => NamedKind::Union,
            StructKind::Exception => NamedKind::Exception,
        }
    }
}

/// The type as IDL would write it, named types by their unqualified names.
impl fmt::Display for ResolvedType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolvedType::Bool => f.write_str("bool"),
            ResolvedType::I8 => f.write_str("i8"),
            ResolvedType::I16 => f.write_str("i16"),
            ResolvedType::I32 => f.write_str("i32"),
            ResolvedType::I64 => f.write_str("i64"),
            ResolvedType::Double => f.write_str("double"),
            ResolvedType::String => f.write_str("string"),
            ResolvedType::Binary => f.write_str("binary"),
            ResolvedType::Uuid => f.write_str("uuid"),
            ResolvedType::List(t) => write!(f, "list<{t}>"),
            ResolvedType::Set(t) => write!(f, "set<{t}>"),
            ResolvedType::Map(k, v) => write!(f, "map<{k}, {v}>"),
            ResolvedType::Named { name, .. } => f.write_str(name),
        }
    }
}

/// A constant value, checked against its type, with names replaced by what they name.
///
/// Which variant comes for which type: `bool` gives [`Value::Bool`]; `i8` to `i64` give
/// [`Value::Int`] (in the type's range); `double` gives [`Value::Double`]; `string` gives
/// [`Value::String`]; `binary` gives [`Value::Binary`] (the literal's UTF-8 bytes); `uuid`
/// gives [`Value::Uuid`]; an enum gives [`Value::Enum`]; `list`, `set` and `map` give
/// [`Value::List`], [`Value::Set`] and [`Value::Map`] (in the order written, duplicates kept);
/// a struct, union or exception gives [`Value::Struct`].
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A `bool`.
    Bool(bool),
    /// An `i8`, `i16`, `i32` or `i64`.
    Int(i64),
    /// A `double`.
    Double(f64),
    /// A `string`.
    String(String),
    /// A `binary`.
    Binary(Vec<u8>),
    /// A `uuid`, in the byte order it is written (and sent) in.
    Uuid([u8; 16]),
    /// A value of an enum.
    Enum {
        /// The file that defines the enum.
        file: FileId,
        /// The enum's name.
        enum_name: String,
        /// The value's name.
        name: String,
        /// The value's number.
        value: i32,
    },
    /// A `list`.
    List(Vec<Value>),
    /// A `set`.
    Set(Vec<Value>),
    /// A `map`, entries in the order written.
    Map(Vec<(Value, Value)>),
    /// A struct, union or exception: the fields written, in the order written.
    Struct {
        /// The file that defines the struct.
        file: FileId,
        /// The struct's name.
        name: String,
        /// The fields given a value.
        fields: Vec<FieldValue>,
    },
}

/// One field of a [`Value::Struct`].
#[derive(Clone, Debug, PartialEq)]
pub struct FieldValue {
    /// The field's id.
    pub id: i16,
    /// The field's name.
    pub name: String,
    /// Its value, of the field's type.
    pub value: Value,
}

impl Value {
    /// How many nodes it holds, itself included.
    fn size(&self) -> usize {
        1 + match self {
            Value::List(items) | Value::Set(items) => items.iter().map(Value::size).sum(),
            Value::Map(entries) => entries.iter().map(|(k, v)| k.size() + v.size()).sum(),
            Value::Struct { fields, .. } => fields.iter().map(|f| f.value.size()).sum(),
            _ => 0,
        }
    }
}

impl Program {
    /// Loads the program rooted at `root`: parses it, follows its includes (see the
    /// [module documentation](self) for where they are looked for), resolves every name and
    /// checks everything.
    ///
    /// # Errors
    ///
    /// Every file that cannot be read or parsed, every include not found or in a cycle; or,
    /// when all files parse, every semantic error (see the [module documentation](self)).
    pub fn load(root: impl AsRef<Path>, include_dirs: &[PathBuf]) -> Result<Program, IdlError> {
        Program::load_all(&[root], include_dirs)
    }

    /// Loads the program rooted at several files at once (a build that generates code for
    /// several IDL files, which may include each other): as [`Program::load`], with each file
    /// loaded once however many roots reach it. The first root is file 0; see
    /// [`Program::roots`].
    ///
    /// # Errors
    ///
    /// As [`Program::load`]; also when `roots` is empty.
    pub fn load_all(
        roots: &[impl AsRef<Path>],
        include_dirs: &[PathBuf],
    ) -> Result<Program, IdlError> {
        if roots.is_empty() {
            return Err(Diagnostic::error(ErrorKind::Io, "no IDL file to load").into());
        }
        let mut loader = Loader {
            include_dirs,
            files: Vec::new(),
            by_canonical: HashMap::new(),
            stack: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
        };
        let mut root_ids = Vec::new();
        for root in roots {
            let root = root.as_ref().to_path_buf();
            match std::fs::canonicalize(&root) {
                Ok(canonical) => {
                    let id = match loader.by_canonical.get(&canonical) {
                        Some(&id) => id,
                        None => loader.load(root, canonical, None),
                    };
                    if !root_ids.contains(&id) {
                        root_ids.push(id);
                    }
                }
                Err(error) => {
                    loader.errors.push(Diagnostic::error(
                        ErrorKind::Io,
                        format!("cannot read {}: {error}", root.display()),
                    ));
                }
            }
        }
        let Loader {
            files,
            errors,
            warnings,
            ..
        } = loader;
        let files: Vec<File> = files
            .into_iter()
            .enumerate()
            .map(|(id, f)| {
                let document = f.document.unwrap_or_else(|| Document {
                    path: Arc::new(f.path.clone()),
                    doc: None,
                    includes: Vec::new(),
                    cpp_includes: Vec::new(),
                    namespaces: Vec::new(),
                    definitions: Vec::new(),
                });
                let mut index = HashMap::new();
                for (i, d) in document.definitions.iter().enumerate() {
                    index.entry(d.name().to_owned()).or_insert(i);
                }
                let namespace = ["rs", "*"].iter().find_map(|scope| {
                    document
                        .namespaces
                        .iter()
                        .rev()
                        .find(|n| n.scope == *scope)
                        .map(|n| n.name.clone())
                });
                File {
                    id,
                    document,
                    path: f.path,
                    namespace,
                    includes: f.includes,
                    source: f.source,
                    index,
                }
            })
            .collect();
        let mut program = Program {
            files,
            roots: root_ids,
            warnings,
            consts: HashMap::new(),
        };
        if !errors.is_empty() {
            return Err(program.finish(errors));
        }
        let mut checker = Checker::new(&program);
        checker.check();
        let Checker {
            diagnostics,
            warnings,
            evaluator,
            ..
        } = checker;
        let mut errors = diagnostics;
        errors.extend(evaluator.errors);
        let mut seen = HashSet::new();
        errors.retain(|d| seen.insert((d.span().cloned(), d.message().to_owned())));
        let consts: HashMap<(FileId, usize), Value> = evaluator
            .memo
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
            .collect();
        if !errors.is_empty() {
            return Err(program.finish(errors));
        }
        program.consts = consts;
        let mut all = std::mem::take(&mut program.warnings);
        all.extend(warnings);
        program.warnings = program.sorted(all);
        Ok(program)
    }

    /// Sorts diagnostics by file, line and column and gives them their source lines.
    fn sorted(&self, diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
        let mut diagnostics: Vec<Diagnostic> = diagnostics
            .into_iter()
            .map(
                |d| match d.span().and_then(|s| self.file_of_path(&s.file)) {
                    Some(file) => d.with_source(&self.files[file].source),
                    None => d,
                },
            )
            .collect();
        diagnostics.sort_by_key(|d| {
            d.span().map(|s| {
                (
                    self.file_of_path(&s.file).unwrap_or(usize::MAX),
                    s.line,
                    s.column,
                )
            })
        });
        diagnostics
    }

    fn finish(&self, errors: Vec<Diagnostic>) -> IdlError {
        IdlError::new(self.sorted(errors))
    }

    fn file_of_path(&self, path: &Path) -> Option<FileId> {
        self.files.iter().position(|f| f.path == path)
    }

    /// The root file: 0 (the first root, when loaded with [`Program::load_all`]).
    pub fn root(&self) -> FileId {
        0
    }

    /// The files given to load, in the order given (without repeats): `[0]` for
    /// [`Program::load`].
    pub fn roots(&self) -> &[FileId] {
        &self.roots
    }

    /// Every file: the root first, then the files it includes, depth first in the order of
    /// their includes (then the next root, if it is new, and the new files it includes).
    pub fn files(&self) -> &[File] {
        &self.files
    }

    /// One file.
    ///
    /// # Panics
    ///
    /// If `id` is not a file of this program.
    pub fn file(&self, id: FileId) -> &File {
        &self.files[id]
    }

    /// The warnings loading gave (fields without ids, deprecated spellings, enum values that
    /// share a number), in file order.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// The definition `name` names, seen from file `from`: a definition of `from`, or
    /// `alias.Name` for a definition of a file `from` includes.
    ///
    /// ```no_run
    /// # use rookery_build::thrift::{ast::Definition, resolve::Program};
    /// let program = Program::load("idl/echo.thrift", &[])?;
    /// let (file, definition) = program.lookup(program.root(), "shared.SharedStruct").unwrap();
    /// assert_eq!(program.file(file).name(), "shared");
    /// assert!(matches!(definition, Definition::Struct(_)));
    /// # Ok::<(), rookery_build::IdlError>(())
    /// ```
    pub fn lookup(&self, from: FileId, name: &str) -> Option<(FileId, &Definition)> {
        self.lookup_index(from, name)
            .map(|(f, i)| (f, &self.files[f].document.definitions[i]))
    }

    fn lookup_index(&self, from: FileId, name: &str) -> Option<(FileId, usize)> {
        let file = self.files.get(from)?;
        if let Some(&i) = file.index.get(name) {
            return Some((from, i));
        }
        let (alias, rest) = name.split_once('.')?;
        let &target = file.includes.get(alias)?;
        let &i = self.files[target].index.get(rest)?;
        Some((target, i))
    }

    /// What `ty`, written in file `from`, is on the wire: typedefs followed, named types
    /// resolved.
    ///
    /// # Panics
    ///
    /// If `ty` names a type that does not exist from `from`; never for a type taken from this
    /// program (use [`Program::try_resolve_type`] for types from elsewhere).
    pub fn resolve_type(&self, from: FileId, ty: &TypeRef) -> ResolvedType {
        match self.try_resolve_type(from, ty) {
            Ok(resolved) => resolved,
            Err(error) => panic!("{error}"),
        }
    }

    /// What `ty`, written in file `from`, is on the wire, or why it names nothing.
    ///
    /// # Errors
    ///
    /// An unknown type, a name that is not a type, or a type nested too deep.
    pub fn try_resolve_type(&self, from: FileId, ty: &TypeRef) -> Result<ResolvedType, IdlError> {
        resolve(self, from, ty, 0, &mut Vec::new()).map_err(|d| self.finish(vec![d]))
    }

    /// The value `value`, written in file `from` for a `ty`: constants and enum values it
    /// names replaced by what they are, checked against `ty`. See [`Value`] for what each type
    /// gives.
    ///
    /// # Errors
    ///
    /// When the value does not fit the type or names nothing; never for a constant or default
    /// taken from this program with its type.
    pub fn const_value(
        &self,
        from: FileId,
        ty: &TypeRef,
        value: &ConstValue,
    ) -> Result<Value, IdlError> {
        let target = self.try_resolve_type(from, ty)?;
        let mut evaluator = Evaluator::new(self, Some(&self.consts));
        match evaluator.eval(from, &target, value, &mut Cursor::none(), 0) {
            Ok(value) => Ok(value),
            Err(Failed) => Err(self.finish(evaluator.errors)),
        }
    }

    /// The value of the constant `name` (possibly `alias.NAME`) seen from file `from`.
    pub fn const_of(&self, from: FileId, name: &str) -> Option<&Value> {
        let key = self.lookup_index(from, name)?;
        self.consts.get(&key)
    }

    /// The service `service` (possibly `alias.Name`) seen from file `from`, and the services
    /// it extends: the base first, then each extension, the service itself last. Empty if it
    /// names no service.
    ///
    /// ```no_run
    /// # use rookery_build::thrift::resolve::Program;
    /// let program = Program::load("idl/echo.thrift", &[])?;
    /// let chain = program.service_chain(program.root(), "Echo");
    /// // Every function a server of Echo must have, the inherited ones first.
    /// let functions: Vec<&str> = chain
    ///     .iter()
    ///     .flat_map(|(_, service)| service.functions.iter().map(|f| f.name.as_str()))
    ///     .collect();
    /// # Ok::<(), rookery_build::IdlError>(())
    /// ```
    pub fn service_chain(&self, from: FileId, service: &str) -> Vec<(FileId, &Service)> {
        let mut chain = Vec::new();
        let mut next = Some((from, service.to_owned()));
        while let Some((at, name)) = next.take() {
            let Some((file, Definition::Service(s))) = self.lookup(at, &name) else {
                break;
            };
            if chain
                .iter()
                .any(|(f, c): &(FileId, &Service)| *f == file && c.name == s.name)
            {
                break;
            }
            chain.push((file, s));
            next = s.extends.as_ref().map(|(base, _)| (file, base.clone()));
        }
        chain.reverse();
        chain
    }
}

// ---- loading ----

struct LoadingFile {
    path: PathBuf,
    source: Arc<str>,
    document: Option<Document>,
    includes: BTreeMap<String, FileId>,
}

struct Loader<'a> {
    include_dirs: &'a [PathBuf],
    files: Vec<LoadingFile>,
    by_canonical: HashMap<PathBuf, FileId>,
    /// The files being loaded, outermost first.
    stack: Vec<(PathBuf, FileId)>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Loader<'_> {
    fn load(&mut self, path: PathBuf, canonical: PathBuf, included_at: Option<&Span>) -> FileId {
        let id = self.files.len();
        self.by_canonical.insert(canonical.clone(), id);
        let source: Arc<str> = match std::fs::read_to_string(&path) {
            Ok(source) => source.into(),
            Err(error) => {
                self.errors.push(
                    Diagnostic::error(
                        ErrorKind::Io,
                        format!("cannot read {}: {error}", path.display()),
                    )
                    .at_opt(included_at),
                );
                Arc::from("")
            }
        };
        self.files.push(LoadingFile {
            path: path.clone(),
            source: source.clone(),
            document: None,
            includes: BTreeMap::new(),
        });
        let document = match parse_with_warnings(path.clone(), &source) {
            Ok((document, warnings)) => {
                self.warnings.extend(warnings);
                document
            }
            Err(error) => {
                self.errors.extend(error.diagnostics().iter().cloned());
                return id;
            }
        };
        self.stack.push((canonical, id));
        let mut includes: BTreeMap<String, FileId> = BTreeMap::new();
        for include in &document.includes {
            let Some(target) = self.include(&path, &include.path, &include.span) else {
                continue;
            };
            match includes.get(include.alias()).copied() {
                Some(other) if other != target => self.errors.push(
                    Diagnostic::error(
                        ErrorKind::DuplicateInclude,
                        format!(
                            "two included files would both be called '{}': {} and {}; \
                             rename one of them",
                            include.alias(),
                            self.files[other].path.display(),
                            self.files[target].path.display()
                        ),
                    )
                    .at(&include.span),
                ),
                _ => {
                    includes.insert(include.alias().to_owned(), target);
                }
            }
        }
        self.stack.pop();
        self.files[id].document = Some(document);
        self.files[id].includes = includes;
        id
    }

    /// Finds, and loads if new, the file `written` that `including` includes.
    fn include(&mut self, including: &Path, written: &str, span: &Span) -> Option<FileId> {
        let written_path = Path::new(written);
        let candidates: Vec<PathBuf> = if written_path.is_absolute() {
            vec![written_path.to_path_buf()]
        } else {
            let here = including.parent().unwrap_or(Path::new(""));
            std::iter::once(here.join(written_path))
                .chain(self.include_dirs.iter().map(|dir| dir.join(written_path)))
                .collect()
        };
        let Some(found) = candidates.iter().find(|c| c.is_file()) else {
            let tried: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
            self.errors.push(
                Diagnostic::error(
                    ErrorKind::IncludeNotFound,
                    format!(
                        "included file \"{written}\" not found; tried {}",
                        tried.join(", ")
                    ),
                )
                .at(span),
            );
            return None;
        };
        let canonical = match std::fs::canonicalize(found) {
            Ok(canonical) => canonical,
            Err(error) => {
                self.errors.push(
                    Diagnostic::error(
                        ErrorKind::Io,
                        format!("cannot read {}: {error}", found.display()),
                    )
                    .at(span),
                );
                return None;
            }
        };
        if let Some(start) = self.stack.iter().position(|(c, _)| *c == canonical) {
            let mut chain: Vec<String> = self.stack[start..]
                .iter()
                .map(|(_, id)| self.files[*id].path.display().to_string())
                .collect();
            chain.push(found.display().to_string());
            self.errors.push(
                Diagnostic::error(
                    ErrorKind::IncludeCycle,
                    format!("include cycle: {}", chain.join(" -> ")),
                )
                .at(span),
            );
            return None;
        }
        if let Some(&id) = self.by_canonical.get(&canonical) {
            return Some(id);
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            self.errors.push(
                Diagnostic::error(
                    ErrorKind::NestingTooDeep,
                    format!("includes nest deeper than {MAX_INCLUDE_DEPTH} files"),
                )
                .at(span),
            );
            return None;
        }
        Some(self.load(found.clone(), canonical, Some(span)))
    }
}

// ---- types ----

/// Resolves `ty` written in `from`; `stack` holds the typedefs being followed.
fn resolve(
    program: &Program,
    from: FileId,
    ty: &TypeRef,
    depth: usize,
    stack: &mut Vec<(FileId, usize)>,
) -> Result<ResolvedType, Diagnostic> {
    let nested = |t: &TypeRef, stack: &mut Vec<(FileId, usize)>| {
        resolve(program, from, t, depth + 1, stack).map(Box::new)
    };
    Ok(match ty {
        TypeRef::Bool => ResolvedType::Bool,
        TypeRef::I8 => ResolvedType::I8,
        TypeRef::I16 => ResolvedType::I16,
        TypeRef::I32 => ResolvedType::I32,
        TypeRef::I64 => ResolvedType::I64,
        TypeRef::Double => ResolvedType::Double,
        TypeRef::String => ResolvedType::String,
        TypeRef::Binary => ResolvedType::Binary,
        TypeRef::Uuid => ResolvedType::Uuid,
        TypeRef::List(t) => ResolvedType::List(nested(t, stack)?),
        TypeRef::Set(t) => ResolvedType::Set(nested(t, stack)?),
        TypeRef::Map(k, v) => ResolvedType::Map(nested(k, stack)?, nested(v, stack)?),
        TypeRef::Named(name, span) => {
            if depth > MAX_RESOLVED_DEPTH {
                return Err(Diagnostic::error(
                    ErrorKind::NestingTooDeep,
                    format!("type '{name}' nests deeper than {MAX_RESOLVED_DEPTH} levels once its typedefs are followed"),
                )
                .at(span));
            }
            let Some((file, index)) = program.lookup_index(from, name) else {
                return Err(unknown(program, from, name, "type", ErrorKind::UnknownType).at(span));
            };
            match &program.files[file].document.definitions[index] {
                Definition::Struct(s) => ResolvedType::Named {
                    file,
                    kind: s.kind.into(),
                    name: s.name.clone(),
                },
                Definition::Enum(e) => ResolvedType::Named {
                    file,
                    kind: NamedKind::Enum,
                    name: e.name.clone(),
                },
                Definition::Typedef(t) => {
                    if let Some(start) = stack.iter().position(|&k| k == (file, index)) {
                        return Err(typedef_cycle(program, &stack[start..]));
                    }
                    stack.push((file, index));
                    let resolved = resolve(program, file, &t.ty, depth + 1, stack);
                    stack.pop();
                    resolved?
                }
                other => {
                    return Err(Diagnostic::error(
                        ErrorKind::NotAType,
                        format!("'{name}' is {}, not a type", a_kind(other)),
                    )
                    .at(span));
                }
            }
        }
    })
}

/// The error for a cycle of typedefs, told the same whichever member it was found from: it
/// starts at, and points at, the member defined first.
fn typedef_cycle(program: &Program, cycle: &[(FileId, usize)]) -> Diagnostic {
    let first = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
    let rotated: Vec<(FileId, usize)> = cycle[first..]
        .iter()
        .chain(&cycle[..first])
        .copied()
        .collect();
    let names: Vec<&str> = rotated
        .iter()
        .map(|&(f, i)| program.files[f].document.definitions[i].name())
        .collect();
    let (f, i) = rotated[0];
    let definition = &program.files[f].document.definitions[i];
    let path = if names.len() == 1 {
        format!("'{}' names itself", names[0])
    } else {
        let mut chain: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
        chain.push(format!("'{}'", names[0]));
        chain.join(" -> ")
    };
    Diagnostic::error(ErrorKind::TypedefCycle, format!("typedef cycle: {path}"))
        .at(definition.span())
}

/// The error for a name (of a `what`) that names nothing, saying where it was looked for.
fn unknown(program: &Program, from: FileId, name: &str, what: &str, kind: ErrorKind) -> Diagnostic {
    let file = &program.files[from];
    if let Some((alias, rest)) = name.split_once('.') {
        if let Some(&target) = file.includes.get(alias) {
            if !rest.contains('.') {
                return Diagnostic::error(
                    kind,
                    format!(
                        "unknown {what} '{name}' (looked in {}, included as '{alias}')",
                        program.files[target].path.display()
                    ),
                );
            }
        } else if what != "constant" {
            let includes = if file.includes.is_empty() {
                "it includes no files".to_owned()
            } else {
                let names: Vec<String> = file.includes.keys().map(|k| format!("'{k}'")).collect();
                format!("it includes {}", names.join(", "))
            };
            return Diagnostic::error(
                kind,
                format!(
                    "unknown {what} '{name}': {} includes no file named '{alias}' ({includes})",
                    file.path.display()
                ),
            );
        }
    }
    let mut message = format!(
        "unknown {what} '{name}' (looked in {})",
        file.path.display()
    );
    // The same name in an included file, or as an enum value, is likely what was meant.
    let mut hints = Vec::new();
    for (alias, &target) in &file.includes {
        if program.files[target].index.contains_key(name) {
            hints.push(format!("'{alias}.{name}'"));
        }
    }
    if what == "constant" {
        for id in std::iter::once(from).chain(file.includes.values().copied()) {
            for definition in &program.files[id].document.definitions {
                if let Definition::Enum(e) = definition {
                    if e.values.iter().any(|v| v.name == name) {
                        let prefix = if id == from {
                            String::new()
                        } else {
                            format!("{}.", alias_of(file, id))
                        };
                        hints.push(format!("'{prefix}{}.{name}'", e.name));
                    }
                }
            }
        }
    }
    if !hints.is_empty() {
        message.push_str(&format!("; did you mean {}?", hints.join(" or ")));
    }
    Diagnostic::error(kind, message)
}

fn alias_of(file: &File, target: FileId) -> &str {
    file.includes
        .iter()
        .find(|&(_, &id)| id == target)
        .map(|(a, _)| a.as_str())
        .unwrap_or("")
}

// ---- constant values ----

/// A constant or default failed to evaluate; the error is already recorded.
#[derive(Debug)]
struct Failed;

/// Hands out the places of a value's nodes in the order the parser recorded them.
struct Cursor<'s> {
    spans: &'s [Span],
    next: usize,
}

impl<'s> Cursor<'s> {
    fn new(spans: &'s [Span]) -> Cursor<'s> {
        Cursor { spans, next: 0 }
    }

    fn none() -> Cursor<'static> {
        Cursor {
            spans: &[],
            next: 0,
        }
    }

    fn take(&mut self) -> Option<Span> {
        let span = self.spans.get(self.next).cloned();
        self.next += 1;
        span
    }
}

/// What a constant's identifier names.
enum Named {
    Const(FileId, usize),
    EnumValue {
        file: FileId,
        enum_name: String,
        name: String,
        value: i32,
    },
}

struct Evaluator<'p> {
    program: &'p Program,
    /// Values known already (after loading).
    stored: Option<&'p HashMap<(FileId, usize), Value>>,
    /// Values computed here; `None` for a constant that failed.
    memo: HashMap<(FileId, usize), Option<Value>>,
    in_progress: Vec<(FileId, usize)>,
    nodes: usize,
    errors: Vec<Diagnostic>,
}

impl<'p> Evaluator<'p> {
    fn new(
        program: &'p Program,
        stored: Option<&'p HashMap<(FileId, usize), Value>>,
    ) -> Evaluator<'p> {
        Evaluator {
            program,
            stored,
            memo: HashMap::new(),
            in_progress: Vec::new(),
            nodes: 0,
            errors: Vec::new(),
        }
    }

    fn fail<T>(&mut self, diagnostic: Diagnostic) -> Result<T, Failed> {
        self.errors.push(diagnostic);
        Err(Failed)
    }

    fn count(&mut self, nodes: usize, span: Option<&Span>) -> Result<(), Failed> {
        self.nodes += nodes;
        if self.nodes > MAX_CONST_NODES {
            return self.fail(
                Diagnostic::error(
                    ErrorKind::NestingTooDeep,
                    format!("constant values hold more than {MAX_CONST_NODES} elements once the constants they name are expanded"),
                )
                .at_opt(span),
            );
        }
        Ok(())
    }

    /// The value of the constant at `key`, evaluating it if needed.
    fn constant(&mut self, key: (FileId, usize), used_at: Option<&Span>) -> Result<Value, Failed> {
        if let Some(value) = self.stored.and_then(|s| s.get(&key)) {
            return Ok(value.clone());
        }
        if let Some(known) = self.memo.get(&key) {
            return known.clone().ok_or(Failed);
        }
        let program = self.program;
        let (file, index) = key;
        let Definition::Const(c) = &program.files[file].document.definitions[index] else {
            unreachable!("only constants are evaluated")
        };
        if let Some(start) = self.in_progress.iter().position(|&k| k == key) {
            let mut names: Vec<String> = self.in_progress[start..]
                .iter()
                .map(|&(f, i)| format!("'{}'", program.files[f].document.definitions[i].name()))
                .collect();
            names.push(format!("'{}'", c.name));
            return self.fail(
                Diagnostic::error(
                    ErrorKind::ConstCycle,
                    if names.len() == 2 {
                        format!("constant {} is defined by itself", names[0])
                    } else {
                        format!("constant cycle: {}", names.join(" -> "))
                    },
                )
                .at_opt(used_at),
            );
        }
        if self.in_progress.len() >= MAX_RESOLVED_DEPTH {
            return self.fail(
                Diagnostic::error(
                    ErrorKind::NestingTooDeep,
                    format!("constants name constants more than {MAX_RESOLVED_DEPTH} deep"),
                )
                .at_opt(used_at),
            );
        }
        self.in_progress.push(key);
        let result = match resolve(program, file, &c.ty, 0, &mut Vec::new()) {
            Ok(target) => self.eval(file, &target, &c.value, &mut Cursor::new(&c.value_spans), 0),
            // The type's error is reported where the type is checked.
            Err(_) => Err(Failed),
        };
        self.in_progress.pop();
        self.memo.insert(key, result.as_ref().ok().cloned());
        result
    }

    /// Evaluates `value`, written in `from`, as a `target`.
    fn eval(
        &mut self,
        from: FileId,
        target: &ResolvedType,
        value: &ConstValue,
        cursor: &mut Cursor<'_>,
        depth: usize,
    ) -> Result<Value, Failed> {
        let span = cursor.take();
        let span = span.as_ref();
        self.count(1, span)?;
        if depth > MAX_RESOLVED_DEPTH {
            return self.fail(
                Diagnostic::error(ErrorKind::NestingTooDeep, "constant values nest too deep")
                    .at_opt(span),
            );
        }
        let mismatch = |this: &mut Self| {
            this.fail(
                Diagnostic::error(
                    ErrorKind::ConstType,
                    format!("expected {}, found {}", expected(target), describe(value)),
                )
                .at_opt(span),
            )
        };
        match (value, target) {
            (ConstValue::Identifier(name, ident_span), _) => {
                let at = span.unwrap_or(ident_span);
                let named = match self.identifier(from, name) {
                    Ok(named) => named,
                    Err(diagnostic) => return self.fail(diagnostic.at(at)),
                };
                let (found, what) = match named {
                    Named::Const(file, index) => {
                        let value = self.constant((file, index), Some(at))?;
                        self.count(value.size(), Some(at))?;
                        (value, format!("constant '{name}'"))
                    }
                    Named::EnumValue {
                        file,
                        enum_name,
                        name: value_name,
                        value,
                    } => (
                        Value::Enum {
                            file,
                            enum_name,
                            name: value_name,
                            value,
                        },
                        format!("'{name}'"),
                    ),
                };
                let message = match convert(self.program, found, target) {
                    Ok(value) => return Ok(value),
                    Err(ConvertError::Mismatch(found)) => {
                        format!("expected {}, found {what} ({found})", expected(target))
                    }
                    Err(ConvertError::Other(why)) => format!("{what}: {why}"),
                };
                self.fail(Diagnostic::error(ErrorKind::ConstType, message).at(at))
            }
            (ConstValue::Int(v), ty) => match ty {
                ResolvedType::I8 | ResolvedType::I16 | ResolvedType::I32 | ResolvedType::I64 => {
                    match in_range(*v, ty) {
                        Ok(v) => Ok(Value::Int(v)),
                        Err(message) => {
                            self.fail(Diagnostic::error(ErrorKind::ConstType, message).at_opt(span))
                        }
                    }
                }
                ResolvedType::Double => Ok(Value::Double(*v as f64)),
                ResolvedType::Bool if *v == 0 || *v == 1 => Ok(Value::Bool(*v == 1)),
                ResolvedType::Named {
                    file,
                    kind: NamedKind::Enum,
                    name,
                } => match enum_value_of(self.program, *file, name, *v) {
                    Ok(value) => Ok(value),
                    Err(message) => {
                        self.fail(Diagnostic::error(ErrorKind::ConstType, message).at_opt(span))
                    }
                },
                _ => mismatch(self),
            },
            (ConstValue::Bool(b), ty) => match ty {
                ResolvedType::Bool => Ok(Value::Bool(*b)),
                // Apache Thrift reads `true` and `false` as 1 and 0.
                ResolvedType::I8 | ResolvedType::I16 | ResolvedType::I32 | ResolvedType::I64 => {
                    Ok(Value::Int(i64::from(*b)))
                }
                _ => mismatch(self),
            },
            (ConstValue::Double(v), ResolvedType::Double) => Ok(Value::Double(*v)),
            (ConstValue::String(s), ResolvedType::String) => Ok(Value::String(s.clone())),
            (ConstValue::String(s), ResolvedType::Binary) => {
                Ok(Value::Binary(s.as_bytes().to_vec()))
            }
            (ConstValue::String(s), ResolvedType::Uuid) => match parse_uuid(s) {
                Some(uuid) => Ok(Value::Uuid(uuid)),
                None => mismatch(self),
            },
            (ConstValue::List(items), ResolvedType::List(element) | ResolvedType::Set(element)) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push(self.eval(from, element, item, cursor, depth + 1)?);
                }
                Ok(if matches!(target, ResolvedType::Set(_)) {
                    Value::Set(values)
                } else {
                    Value::List(values)
                })
            }
            // `{}` is also an empty list or set (Apache's ThriftTest.thrift writes one).
            (ConstValue::Map(entries), ResolvedType::List(_)) if entries.is_empty() => {
                Ok(Value::List(Vec::new()))
            }
            (ConstValue::Map(entries), ResolvedType::Set(_)) if entries.is_empty() => {
                Ok(Value::Set(Vec::new()))
            }
            (ConstValue::Map(entries), ResolvedType::Map(key_type, value_type)) => {
                let mut values = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let k = self.eval(from, key_type, k, cursor, depth + 1)?;
                    let v = self.eval(from, value_type, v, cursor, depth + 1)?;
                    values.push((k, v));
                }
                Ok(Value::Map(values))
            }
            (
                ConstValue::Map(entries),
                ResolvedType::Named {
                    file,
                    kind: NamedKind::Struct | NamedKind::Union | NamedKind::Exception,
                    name,
                },
            ) => self.structure(from, *file, name, entries, cursor, depth, span),
            _ => mismatch(self),
        }
    }

    /// A struct literal `{"field": value, ...}` for struct `name` of `file`.
    #[allow(clippy::too_many_arguments)]
    fn structure(
        &mut self,
        from: FileId,
        file: FileId,
        name: &str,
        entries: &[(ConstValue, ConstValue)],
        cursor: &mut Cursor<'_>,
        depth: usize,
        span: Option<&Span>,
    ) -> Result<Value, Failed> {
        let program = self.program;
        let Some(Definition::Struct(s)) = program.files[file].get(name) else {
            unreachable!("resolved types name structs")
        };
        let mut fields: Vec<FieldValue> = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let key_span = cursor.take();
            let ConstValue::String(field_name) = key else {
                return self.fail(
                    Diagnostic::error(
                        ErrorKind::ConstType,
                        format!(
                            "expected the name of a field of {} '{name}', in quotes, found {}",
                            s.kind.keyword(),
                            describe(key)
                        ),
                    )
                    .at_opt(key_span.as_ref()),
                );
            };
            let Some(field) = s.fields.iter().find(|f| &f.name == field_name) else {
                let names: Vec<&str> = s.fields.iter().map(|f| f.name.as_str()).collect();
                return self.fail(
                    Diagnostic::error(
                        ErrorKind::ConstType,
                        format!(
                            "{} '{name}' has no field '{field_name}' (its fields: {})",
                            s.kind.keyword(),
                            if names.is_empty() {
                                "none".to_owned()
                            } else {
                                names.join(", ")
                            }
                        ),
                    )
                    .at_opt(key_span.as_ref()),
                );
            };
            if fields.iter().any(|f| f.id == field.id) {
                return self.fail(
                    Diagnostic::error(
                        ErrorKind::ConstType,
                        format!("field '{field_name}' is given twice"),
                    )
                    .at_opt(key_span.as_ref()),
                );
            }
            let field_type = match resolve(program, file, &field.ty, 0, &mut Vec::new()) {
                Ok(t) => t,
                Err(_) => return Err(Failed),
            };
            let value = self.eval(from, &field_type, value, cursor, depth + 1)?;
            fields.push(FieldValue {
                id: field.id,
                name: field.name.clone(),
                value,
            });
        }
        if s.kind == StructKind::Union && fields.len() > 1 {
            return self.fail(
                Diagnostic::error(
                    ErrorKind::ConstType,
                    format!(
                        "a value of union '{name}' sets one field, found {}",
                        fields.len()
                    ),
                )
                .at_opt(span),
            );
        }
        Ok(Value::Struct {
            file,
            name: name.to_owned(),
            fields,
        })
    }

    /// What identifier `name`, written in `from`, names.
    fn identifier(&self, from: FileId, name: &str) -> Result<Named, Diagnostic> {
        let program = self.program;
        if let Some((file, index)) = program.lookup_index(from, name) {
            return match &program.files[file].document.definitions[index] {
                Definition::Const(_) => Ok(Named::Const(file, index)),
                other => Err(Diagnostic::error(
                    ErrorKind::UnknownConst,
                    format!(
                        "'{name}' is {}, not a constant or an enum value",
                        a_kind(other)
                    ),
                )),
            };
        }
        if let Some((prefix, value_name)) = name.rsplit_once('.') {
            if let Some((file, Definition::Enum(e))) = program.lookup(from, prefix) {
                return match e.values.iter().find(|v| v.name == value_name) {
                    Some(v) => Ok(Named::EnumValue {
                        file,
                        enum_name: e.name.clone(),
                        name: v.name.clone(),
                        value: v.value,
                    }),
                    None => Err(Diagnostic::error(
                        ErrorKind::UnknownConst,
                        format!(
                            "enum '{prefix}' has no value '{value_name}' (its values: {})",
                            value_names(e)
                        ),
                    )),
                };
            }
            if let Some((_, other)) = program.lookup(from, prefix) {
                return Err(Diagnostic::error(
                    ErrorKind::UnknownConst,
                    format!(
                        "'{name}' names nothing: '{prefix}' is {}, not an enum",
                        a_kind(other)
                    ),
                ));
            }
        }
        Err(unknown(
            program,
            from,
            name,
            "constant",
            ErrorKind::UnknownConst,
        ))
    }
}

/// What a definition is, with its article (`a struct`, `an enum`), for messages.
fn a_kind(definition: &Definition) -> String {
    let kind = definition.kind_name();
    // "an enum", "an exception", but "a union".
    let article = if kind.starts_with(['a', 'e', 'i', 'o']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {kind}")
}

fn value_names(e: &Enum) -> String {
    if e.values.is_empty() {
        return "none".into();
    }
    e.values
        .iter()
        .map(|v| v.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `v` if it fits the integer type `ty`, or why not.
fn in_range(v: i64, ty: &ResolvedType) -> Result<i64, String> {
    let (min, max) = match ty {
        ResolvedType::I8 => (i64::from(i8::MIN), i64::from(i8::MAX)),
        ResolvedType::I16 => (i64::from(i16::MIN), i64::from(i16::MAX)),
        ResolvedType::I32 => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    };
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is out of range for {ty} ({min} to {max})"))
    }
}

/// The value numbered `v` of enum `name` of `file`, or why there is none.
fn enum_value_of(program: &Program, file: FileId, name: &str, v: i64) -> Result<Value, String> {
    let Some(Definition::Enum(e)) = program.files[file].get(name) else {
        unreachable!("resolved types name enums")
    };
    match e.values.iter().find(|x| i64::from(x.value) == v) {
        Some(x) => Ok(Value::Enum {
            file,
            enum_name: e.name.clone(),
            name: x.name.clone(),
            value: x.value,
        }),
        None => {
            let values: Vec<String> = e
                .values
                .iter()
                .map(|x| format!("{} = {}", x.name, x.value))
                .collect();
            Err(format!(
                "{v} is not a value of enum '{name}' (its values: {})",
                if values.is_empty() {
                    "none".to_owned()
                } else {
                    values.join(", ")
                }
            ))
        }
    }
}

/// `value` (the value of a constant, of that constant's type) as a `target`, or a description
/// of what it is when it does not fit.
/// Why a constant's value does not fit where it is used.
enum ConvertError {
    /// It is another kind of value, described.
    Mismatch(String),
    /// It is the right kind but not a right value: why.
    Other(String),
}

fn convert(program: &Program, value: Value, target: &ResolvedType) -> Result<Value, ConvertError> {
    use ResolvedType as T;
    let int_type = matches!(target, T::I8 | T::I16 | T::I32 | T::I64);
    match (value, target) {
        (Value::Int(v), t) if int_type => {
            in_range(v, t).map(Value::Int).map_err(ConvertError::Other)
        }
        (Value::Enum { value, .. }, t) if int_type => in_range(i64::from(value), t)
            .map(Value::Int)
            .map_err(ConvertError::Other),
        (Value::Bool(b), _) if int_type => Ok(Value::Int(i64::from(b))),
        (Value::Int(v), T::Double) => Ok(Value::Double(v as f64)),
        (Value::Double(v), T::Double) => Ok(Value::Double(v)),
        (Value::Bool(b), T::Bool) => Ok(Value::Bool(b)),
        (Value::Int(v @ (0 | 1)), T::Bool) => Ok(Value::Bool(v == 1)),
        (Value::String(s), T::String) => Ok(Value::String(s)),
        (Value::Binary(b), T::String) if std::str::from_utf8(&b).is_ok() => {
            Ok(Value::String(String::from_utf8(b).expect("checked")))
        }
        (Value::String(s), T::Binary) => Ok(Value::Binary(s.into_bytes())),
        (Value::Binary(b), T::Binary) => Ok(Value::Binary(b)),
        (Value::Uuid(u), T::Uuid) => Ok(Value::Uuid(u)),
        (Value::String(s), T::Uuid) => parse_uuid(&s)
            .map(Value::Uuid)
            .ok_or_else(|| ConvertError::Mismatch(format!("the string {s:?}"))),
        (
            Value::Enum {
                file,
                enum_name,
                name,
                value,
            },
            T::Named {
                file: f,
                kind: NamedKind::Enum,
                name: n,
            },
        ) if file == *f && enum_name == *n => Ok(Value::Enum {
            file,
            enum_name,
            name,
            value,
        }),
        (
            Value::Enum { enum_name, .. },
            T::Named {
                kind: NamedKind::Enum,
                ..
            },
        ) => Err(ConvertError::Mismatch(format!(
            "a value of enum '{enum_name}'"
        ))),
        (
            Value::Int(v),
            T::Named {
                file,
                kind: NamedKind::Enum,
                name,
            },
        ) => enum_value_of(program, *file, name, v).map_err(ConvertError::Other),
        (Value::List(items) | Value::Set(items), T::List(element) | T::Set(element)) => {
            let items = items
                .into_iter()
                .map(|item| convert(program, item, element))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(target, T::Set(_)) {
                Value::Set(items)
            } else {
                Value::List(items)
            })
        }
        (Value::Map(entries), T::Map(key_type, value_type)) => {
            let entries = entries
                .into_iter()
                .map(|(k, v)| {
                    Ok((
                        convert(program, k, key_type)?,
                        convert(program, v, value_type)?,
                    ))
                })
                .collect::<Result<Vec<_>, ConvertError>>()?;
            Ok(Value::Map(entries))
        }
        (
            Value::Struct { file, name, fields },
            T::Named {
                file: f, name: n, ..
            },
        ) if file == *f && name == *n => Ok(Value::Struct { file, name, fields }),
        (value, _) => Err(ConvertError::Mismatch(describe_value(&value))),
    }
}

/// What a value is, for messages.
fn describe_value(value: &Value) -> String {
    match value {
        Value::Bool(b) => format!("{b}"),
        Value::Int(v) => format!("the integer {v}"),
        Value::Double(v) => format!("the number {v}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Binary(_) => "a binary".into(),
        Value::Uuid(_) => "a uuid".into(),
        Value::Enum { enum_name, .. } => format!("a value of enum '{enum_name}'"),
        Value::List(_) => "a list".into(),
        Value::Set(_) => "a set".into(),
        Value::Map(_) => "a map".into(),
        Value::Struct { name, .. } => format!("a value of '{name}'"),
    }
}

/// What a written value is, for messages.
fn describe(value: &ConstValue) -> String {
    match value {
        ConstValue::Int(v) => format!("the integer {v}"),
        ConstValue::Double(v) => format!("the number {v}"),
        ConstValue::String(s) => {
            let shown: String = s.chars().take(40).collect();
            let more = if shown.len() < s.len() { "..." } else { "" };
            format!("the string {shown:?}{more}")
        }
        ConstValue::Bool(b) => format!("{b}"),
        ConstValue::Identifier(name, _) => format!("'{name}'"),
        ConstValue::List(_) => "a list".into(),
        ConstValue::Map(_) => "a map".into(),
    }
}

/// What a value of `ty` is, for "expected ..." messages.
fn expected(ty: &ResolvedType) -> String {
    match ty {
        ResolvedType::I8 => "an i8".into(),
        ResolvedType::I16 | ResolvedType::I32 | ResolvedType::I64 => format!("an {ty}"),
        ResolvedType::Uuid => "a uuid (\"00112233-4455-6677-8899-aabbccddeeff\")".into(),
        ResolvedType::Binary => "a binary (a string)".into(),
        ResolvedType::Named {
            kind: NamedKind::Enum,
            name,
            ..
        } => {
            format!("a value of enum '{name}'")
        }
        ResolvedType::Named { kind, name, .. } => {
            let keyword = match kind {
                NamedKind::Union => "union",
                NamedKind::Exception => "exception",
                _ => "struct",
            };
            format!("a value of {keyword} '{name}' ({{\"field\": value, ...}})")
        }
        _ => format!("a {ty}"),
    }
}

/// A uuid written `"00112233-4455-6677-8899-aabbccddeeff"`, braces allowed.
fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let text = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(text);
    let bytes = text.as_bytes();
    if bytes.len() != 36 || [8, 13, 18, 23].iter().any(|&i| bytes[i] != b'-') {
        return None;
    }
    let hex: Vec<u8> = bytes.iter().copied().filter(|&b| b != b'-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut uuid = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).ok()?;
        uuid[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(uuid)
}

// ---- checks ----

struct Checker<'p> {
    program: &'p Program,
    diagnostics: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    evaluator: Evaluator<'p>,
}

impl<'p> Checker<'p> {
    fn new(program: &'p Program) -> Checker<'p> {
        Checker {
            program,
            diagnostics: Vec::new(),
            warnings: Vec::new(),
            evaluator: Evaluator::new(program, None),
        }
    }

    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn check(&mut self) {
        let program = self.program;
        for file in &program.files {
            self.check_file(file);
        }
    }

    /// Resolves `ty` written in `from`, reporting why not.
    fn ty(&mut self, from: FileId, ty: &TypeRef) -> Option<ResolvedType> {
        match resolve(self.program, from, ty, 0, &mut Vec::new()) {
            Ok(resolved) => Some(resolved),
            Err(diagnostic) => {
                self.error(diagnostic);
                None
            }
        }
    }

    fn check_file(&mut self, file: &'p File) {
        let mut first: HashMap<&str, &Definition> = HashMap::new();
        for (index, definition) in file.document.definitions.iter().enumerate() {
            if let Some(previous) = first.get(definition.name()) {
                self.error(
                    Diagnostic::error(
                        ErrorKind::DuplicateDefinition,
                        format!(
                            "'{}' is already defined, as {} at line {}",
                            definition.name(),
                            a_kind(previous),
                            previous.span().line
                        ),
                    )
                    .at(definition.span()),
                );
            } else {
                first.insert(definition.name(), definition);
            }
            match definition {
                Definition::Typedef(t) => {
                    // Following it from itself finds the cycles it is part of.
                    let mut stack = vec![(file.id, index)];
                    if let Err(diagnostic) = resolve(self.program, file.id, &t.ty, 0, &mut stack) {
                        self.error(diagnostic);
                    }
                }
                Definition::Const(c) => {
                    if self.ty(file.id, &c.ty).is_some() {
                        let _ = self.evaluator.constant((file.id, index), None);
                    }
                }
                Definition::Enum(e) => self.check_enum(e),
                Definition::Struct(s) => {
                    self.check_fields(
                        file.id,
                        &s.fields,
                        &format!("{} '{}'", s.kind.keyword(), s.name),
                    );
                }
                Definition::Service(s) => self.check_service(file, s),
            }
        }
    }

    fn check_enum(&mut self, e: &Enum) {
        let mut names: HashMap<&str, u32> = HashMap::new();
        let mut numbers: HashMap<i32, &str> = HashMap::new();
        for value in &e.values {
            if let Some(line) = names.get(value.name.as_str()) {
                self.error(
                    Diagnostic::error(
                        ErrorKind::DuplicateEnumValue,
                        format!(
                            "enum '{}' already has a value named '{}' (line {line})",
                            e.name, value.name
                        ),
                    )
                    .at(&value.span),
                );
                continue;
            }
            names.insert(&value.name, value.span.line);
            if let Some(other) = numbers.get(&value.value) {
                self.warnings.push(
                    Diagnostic::warning(
                        ErrorKind::DuplicateEnumNumber,
                        format!(
                            "'{}.{}' has the same number ({}) as '{}.{other}'",
                            e.name, value.name, value.value, e.name
                        ),
                    )
                    .at(&value.span),
                );
            } else {
                numbers.insert(value.value, &value.name);
            }
        }
    }

    /// Checks a struct's fields, a function's arguments or its exceptions; `owner` names them
    /// in messages (`struct 'Foo'`).
    fn check_fields(
        &mut self,
        from: FileId,
        fields: &[Field],
        owner: &str,
    ) -> Vec<Option<ResolvedType>> {
        let mut ids: HashMap<i16, &Field> = HashMap::new();
        let mut names: HashMap<&str, &Field> = HashMap::new();
        let mut types = Vec::with_capacity(fields.len());
        for field in fields {
            if let Some(other) = ids.get(&field.id) {
                self.error(
                    Diagnostic::error(
                        ErrorKind::DuplicateFieldId,
                        format!(
                            "field id {} of '{}' is already used by '{}' (line {}) in {owner}",
                            field.id, field.name, other.name, other.span.line
                        ),
                    )
                    .at(&field.span),
                );
            } else {
                ids.insert(field.id, field);
            }
            if let Some(other) = names.get(field.name.as_str()) {
                self.error(
                    Diagnostic::error(
                        ErrorKind::DuplicateField,
                        format!(
                            "{owner} already has a field named '{}' (line {})",
                            field.name, other.span.line
                        ),
                    )
                    .at(&field.span),
                );
            } else {
                names.insert(&field.name, field);
            }
            let resolved = self.ty(from, &field.ty);
            if let (Some(target), Some(default)) = (&resolved, &field.default) {
                let mut cursor = Cursor::new(&field.default_spans);
                let _ = self.evaluator.eval(from, target, default, &mut cursor, 0);
            }
            types.push(resolved);
        }
        types
    }

    fn check_service(&mut self, file: &'p File, service: &'p Service) {
        let program = self.program;
        // What it extends, and the functions it inherits.
        let mut inherited: HashMap<&str, (&str, &Span)> = HashMap::new();
        if let Some((base, span)) = &service.extends {
            match program.lookup_index(file.id, base) {
                None => self.error(
                    unknown(program, file.id, base, "service", ErrorKind::UnknownService).at(span),
                ),
                Some((f, i)) => match &program.files[f].document.definitions[i] {
                    Definition::Service(_) => {
                        let mut seen = vec![(file.id, service.name.as_str())];
                        let mut next = Some((f, i));
                        while let Some((f, i)) = next.take() {
                            let Definition::Service(s) = &program.files[f].document.definitions[i]
                            else {
                                break;
                            };
                            if seen.contains(&(f, s.name.as_str())) {
                                // A cycle is told once, at the member defined first (all
                                // its members are in one file: files cannot include each
                                // other).
                                let first = seen.iter().all(|(_, n)| {
                                    file.index.get(*n) >= file.index.get(service.name.as_str())
                                });
                                if f == file.id && s.name == service.name && first {
                                    let mut chain: Vec<String> =
                                        seen.iter().map(|(_, n)| format!("'{n}'")).collect();
                                    chain.push(format!("'{}'", service.name));
                                    self.error(
                                        Diagnostic::error(
                                            ErrorKind::ExtendsCycle,
                                            if chain.len() == 2 {
                                                format!("service {} extends itself", chain[0])
                                            } else {
                                                format!(
                                                    "services extend each other in a cycle: {}",
                                                    chain.join(" -> ")
                                                )
                                            },
                                        )
                                        .at(span),
                                    );
                                }
                                break;
                            }
                            seen.push((f, s.name.as_str()));
                            for function in &s.functions {
                                inherited
                                    .entry(function.name.as_str())
                                    .or_insert((s.name.as_str(), &function.span));
                            }
                            next = s
                                .extends
                                .as_ref()
                                .and_then(|(b, _)| program.lookup_index(f, b))
                                .filter(|&(f, i)| {
                                    matches!(
                                        program.files[f].document.definitions[i],
                                        Definition::Service(_)
                                    )
                                });
                        }
                    }
                    other => self.error(
                        Diagnostic::error(
                            ErrorKind::NotAService,
                            format!(
                                "'{base}' is {}, not a service: only a service can be extended",
                                a_kind(other)
                            ),
                        )
                        .at(span),
                    ),
                },
            }
        }
        let mut functions: HashMap<&str, u32> = HashMap::new();
        for function in &service.functions {
            if let Some(line) = functions.get(function.name.as_str()) {
                self.error(
                    Diagnostic::error(
                        ErrorKind::DuplicateFunction,
                        format!(
                            "service '{}' already has a function named '{}' (line {line})",
                            service.name, function.name
                        ),
                    )
                    .at(&function.span),
                );
            } else if let Some((base, at)) = inherited.get(function.name.as_str()) {
                self.error(
                    Diagnostic::error(
                        ErrorKind::DuplicateFunction,
                        format!(
                            "function '{}' is already defined by service '{base}' ({at}), which '{}' extends",
                            function.name, service.name
                        ),
                    )
                    .at(&function.span),
                );
            }
            functions
                .entry(function.name.as_str())
                .or_insert(function.span.line);
            if function.oneway {
                if let Some(returns) = &function.returns {
                    self.error(
                        Diagnostic::error(
                            ErrorKind::Oneway,
                            format!(
                                "oneway function '{}' must return void, not {returns}: its caller \
                                 never hears back",
                                function.name
                            ),
                        )
                        .at(&function.span),
                    );
                }
                if !function.throws.is_empty() {
                    self.error(
                        Diagnostic::error(
                            ErrorKind::Oneway,
                            format!(
                                "oneway function '{}' cannot throw: its caller never hears back",
                                function.name
                            ),
                        )
                        .at(&function.throws[0].span),
                    );
                }
            }
            if let Some(returns) = &function.returns {
                let _ = self.ty(file.id, returns);
            }
            self.check_fields(
                file.id,
                &function.args,
                &format!("the arguments of '{}'", function.name),
            );
            let types = self.check_fields(
                file.id,
                &function.throws,
                &format!("the exceptions of '{}'", function.name),
            );
            for (field, resolved) in function.throws.iter().zip(types) {
                let Some(resolved) = resolved else { continue };
                if !matches!(
                    resolved,
                    ResolvedType::Named {
                        kind: NamedKind::Exception,
                        ..
                    }
                ) {
                    let what = match (&field.ty, &resolved) {
                        (
                            _,
                            ResolvedType::Named {
                                kind: NamedKind::Enum,
                                ..
                            },
                        ) => "an enum".to_owned(),
                        (
                            _,
                            ResolvedType::Named {
                                kind: NamedKind::Union,
                                ..
                            },
                        ) => "a union".to_owned(),
                        (_, ResolvedType::Named { .. }) => "a struct".to_owned(),
                        (TypeRef::Named(..), _) => format!("a typedef of {resolved}"),
                        _ => String::new(),
                    };
                    let what = if what.is_empty() {
                        "not an exception".to_owned()
                    } else {
                        format!("{what}, not an exception")
                    };
                    let span = match &field.ty {
                        TypeRef::Named(_, span) => span,
                        _ => &field.span,
                    };
                    self.error(
                        Diagnostic::error(
                            ErrorKind::NotAnException,
                            format!(
                                "'{}' is {what}: '{}' can only throw exceptions",
                                field.ty, function.name
                            ),
                        )
                        .at(span),
                    );
                }
            }
        }
    }
}
