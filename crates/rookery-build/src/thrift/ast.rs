//! The syntax tree of a Thrift IDL file, as the parser produces it and the resolver checks it.
//!
//! Every node that a person may need pointed at carries a [`Span`]. Names are kept as written;
//! a [`TypeRef::Named`] may be qualified by an include (`shared.SharedStruct`) and is resolved
//! by [`crate::thrift::resolve`].
//!
//! What the tree keeps of the syntax, and what it drops:
//! - doc comments (`/** ... */`, and runs of `///` lines) on the definition, field, enum value
//!   or function that follows them, cleaned of their markers and common indentation as Apache
//!   Thrift cleans them; the first doc comment of a file, when a header (`include`,
//!   `namespace`, `cpp_include`) follows it, is the document's [`Document::doc`];
//! - annotations `( key = "value", flag )` on definitions, fields, enum values, functions,
//!   namespaces, and on the outermost type of a field ([`Field::type_annotations`]), of a
//!   function's return ([`Function::returns_annotations`]) and of a typedef (merged into
//!   [`Typedef::annotations`]). Annotations on a type nested inside a container
//!   (`list<set<i32> (x = "y")>`) and on the type of a `const` are parsed and dropped: they
//!   only ever steer other languages' containers;
//! - the C++-only and XSD-only syntax (`cpp_type "..."` on containers, `&` before a field's
//!   type, `xsd_all`, `xsd_optional`, `xsd_nillable`, `xsd_attrs { ... }`) is parsed and
//!   dropped.

use std::{fmt, path::PathBuf, sync::Arc};

/// Where something is in an IDL file: the file, and the 1-based line and column of its first
/// character.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// The file, as it was found (relative to the include path it was found on, or as given).
    pub file: Arc<PathBuf>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

/// `file:line:column`, as compilers print a place.
impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// One parsed `.thrift` file.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The file.
    pub path: Arc<PathBuf>,
    /// The doc comment of the whole file: its first doc comment, when a header (`include`,
    /// `namespace`, `cpp_include`) follows it rather than a definition.
    pub doc: Option<String>,
    /// `include "..."` statements, in order.
    pub includes: Vec<Include>,
    /// `cpp_include "..."` statements (kept, unused by Rust).
    pub cpp_includes: Vec<String>,
    /// `namespace LANG NAME` statements.
    pub namespaces: Vec<Namespace>,
    /// Everything else, in order.
    pub definitions: Vec<Definition>,
}

/// `include "path.thrift"`: its definitions are named `path.Name` in this file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Include {
    /// The path as written.
    pub path: String,
    /// Where the path's string literal is written.
    pub span: Span,
}

impl Include {
    /// The name this file calls the included file by: the file name without its directories
    /// and its last extension (`include "../common/shared.thrift"` gives `shared`).
    ///
    /// ```
    /// # use rookery_build::thrift::ast::Include;
    /// # let span = rookery_build::thrift::ast::Span {
    /// #     file: std::sync::Arc::new("a.thrift".into()), line: 1, column: 9 };
    /// let include = Include { path: "../common/shared.thrift".into(), span };
    /// assert_eq!(include.alias(), "shared");
    /// ```
    pub fn alias(&self) -> &str {
        let name = self.path.rsplit(['/', '\\']).next().unwrap_or(&self.path);
        match name.rfind('.') {
            Some(dot) if dot > 0 => &name[..dot],
            _ => name,
        }
    }
}

/// `namespace rs my.module` (the scope is `*` for every language).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    /// The language (`rs`, `py`, `go`, `*`, ...).
    pub scope: String,
    /// The namespace.
    pub name: String,
    /// Annotations (`namespace xsd test (uri = "...")`).
    pub annotations: Annotations,
    /// Where it is written.
    pub span: Span,
}

/// Annotations in parentheses after a type, field, definition or function:
/// `(key = "value", flag)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Annotations(pub Vec<(String, Option<String>)>);

impl Annotations {
    /// The value of `key`, if present (an annotation without a value gives `Some("")`).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }
}

/// A top-level definition.
#[derive(Clone, Debug, PartialEq)]
pub enum Definition {
    /// `const TYPE NAME = VALUE`.
    Const(Const),
    /// `typedef TYPE NAME`.
    Typedef(Typedef),
    /// `enum NAME { ... }`.
    Enum(Enum),
    /// `struct`, `union` or `exception`.
    Struct(Struct),
    /// `service NAME [extends BASE] { ... }`.
    Service(Service),
}

impl Definition {
    /// The name defined.
    pub fn name(&self) -> &str {
        match self {
            Definition::Const(d) => &d.name,
            Definition::Typedef(d) => &d.name,
            Definition::Enum(d) => &d.name,
            Definition::Struct(d) => &d.name,
            Definition::Service(d) => &d.name,
        }
    }

    /// Where the name is written.
    pub fn span(&self) -> &Span {
        match self {
            Definition::Const(d) => &d.span,
            Definition::Typedef(d) => &d.span,
            Definition::Enum(d) => &d.span,
            Definition::Struct(d) => &d.span,
            Definition::Service(d) => &d.span,
        }
    }

    /// Its doc comment.
    pub fn doc(&self) -> Option<&str> {
        match self {
            Definition::Const(d) => d.doc.as_deref(),
            Definition::Typedef(d) => d.doc.as_deref(),
            Definition::Enum(d) => d.doc.as_deref(),
            Definition::Struct(d) => d.doc.as_deref(),
            Definition::Service(d) => d.doc.as_deref(),
        }
    }

    /// What it is, in words (`const`, `typedef`, `enum`, `struct`, `union`, `exception`,
    /// `service`), for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Definition::Const(_) => "const",
            Definition::Typedef(_) => "typedef",
            Definition::Enum(_) => "enum",
            Definition::Struct(d) => d.kind.keyword(),
            Definition::Service(_) => "service",
        }
    }
}

/// A type as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TypeRef {
    /// `bool`.
    Bool,
    /// `byte` or `i8`.
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
    List(Box<TypeRef>),
    /// `set<T>`.
    Set(Box<TypeRef>),
    /// `map<K, V>`.
    Map(Box<TypeRef>, Box<TypeRef>),
    /// A struct, union, exception, enum or typedef, possibly qualified by an include
    /// (`shared.Thing`), with where it is written.
    Named(String, Span),
}

/// The type as it is written in IDL (`map<string, list<Bonk>>`).
impl fmt::Display for TypeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeRef::Bool => f.write_str("bool"),
            TypeRef::I8 => f.write_str("i8"),
            TypeRef::I16 => f.write_str("i16"),
            TypeRef::I32 => f.write_str("i32"),
            TypeRef::I64 => f.write_str("i64"),
            TypeRef::Double => f.write_str("double"),
            TypeRef::String => f.write_str("string"),
            TypeRef::Binary => f.write_str("binary"),
            TypeRef::Uuid => f.write_str("uuid"),
            TypeRef::List(t) => write!(f, "list<{t}>"),
            TypeRef::Set(t) => write!(f, "set<{t}>"),
            TypeRef::Map(k, v) => write!(f, "map<{k}, {v}>"),
            TypeRef::Named(name, _) => f.write_str(name),
        }
    }
}

/// A constant value as written.
///
/// The places of its nodes are kept beside it (in [`Const::value_spans`] and
/// [`Field::default_spans`]) rather than in it, so that values compare by what they say.
#[derive(Clone, Debug, PartialEq)]
pub enum ConstValue {
    /// An integer (decimal, or hexadecimal with `0x`).
    Int(i64),
    /// A floating-point number.
    Double(f64),
    /// A string literal (escapes resolved).
    String(String),
    /// `true` or `false` (which Apache Thrift reads as 1 and 0: an integer type accepts them,
    /// and `bool` accepts 0 and 1).
    Bool(bool),
    /// A reference to a constant or an enum value (`Color.RED`, `shared.MAX`).
    Identifier(String, Span),
    /// `[a, b, c]`.
    List(Vec<ConstValue>),
    /// `{k: v, ...}` (also the literal form of a struct).
    Map(Vec<(ConstValue, ConstValue)>),
}

/// `const TYPE NAME = VALUE`.
#[derive(Clone, Debug, PartialEq)]
pub struct Const {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: TypeRef,
    /// Its value.
    pub value: ConstValue,
    /// Where each node of `value` is written, in the order of a depth-first walk: a node
    /// before its elements, a map entry's key before its value. The resolver points its
    /// errors with these.
    pub value_spans: Vec<Span>,
    /// Doc comment (`/** ... */` or `///`) before it, without the markers.
    pub doc: Option<String>,
    /// Where the name is written.
    pub span: Span,
}

/// `typedef TYPE NAME`.
#[derive(Clone, Debug, PartialEq)]
pub struct Typedef {
    /// Its name.
    pub name: String,
    /// The type it names.
    pub ty: TypeRef,
    /// Annotations on the type: those written after the type (`typedef i32 (a = "b") Id`)
    /// then those after the name (`typedef i32 Id (a = "b")`).
    pub annotations: Annotations,
    /// Doc comment.
    pub doc: Option<String>,
    /// Where the name is written.
    pub span: Span,
}

/// `enum NAME { A = 1, B, ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Enum {
    /// Its name.
    pub name: String,
    /// Its values, with explicit or implicit (previous + 1, starting at 0) numbers.
    pub values: Vec<EnumValue>,
    /// Annotations.
    pub annotations: Annotations,
    /// Doc comment.
    pub doc: Option<String>,
    /// Where the name is written.
    pub span: Span,
}

/// One value of an enum.
#[derive(Clone, Debug, PartialEq)]
pub struct EnumValue {
    /// Its name.
    pub name: String,
    /// Its number, explicit or implicit.
    pub value: i32,
    /// Annotations.
    pub annotations: Annotations,
    /// Doc comment.
    pub doc: Option<String>,
    /// Where the name is written.
    pub span: Span,
}

/// Which of the struct-like definitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StructKind {
    /// `struct`.
    Struct,
    /// `union`: exactly one field set.
    Union,
    /// `exception`: a struct a method may throw.
    Exception,
}

impl StructKind {
    /// The keyword that introduces it.
    pub fn keyword(self) -> &'static str {
        match self {
            StructKind::Struct => "struct",
            StructKind::Union => "union",
            StructKind::Exception => "exception",
        }
    }
}

/// A `struct`, `union` or `exception`.
#[derive(Clone, Debug, PartialEq)]
pub struct Struct {
    /// Which kind.
    pub kind: StructKind,
    /// Its name.
    pub name: String,
    /// Its fields, in the order written.
    pub fields: Vec<Field>,
    /// Annotations.
    pub annotations: Annotations,
    /// Doc comment.
    pub doc: Option<String>,
    /// Where the name is written.
    pub span: Span,
}

/// How a field is required.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Requiredness {
    /// `required`: always written; missing on read is an error.
    Required,
    /// `optional`: written only when set. (Never on an argument: `optional` is ignored
    /// there, as Apache Thrift ignores it, and the argument is [`Requiredness::Default`].)
    Optional,
    /// Neither: always written; missing on read keeps the default.
    Default,
}

/// A field of a struct, union or exception, or an argument or exception of a function.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// Its id. Fields written without one get negative ids counting down from -1, as Apache
    /// Thrift assigns them (and the parser warns).
    pub id: i16,
    /// Whether the id was written. An id of 0 or less counts as not written: Apache Thrift
    /// ignores it and assigns one as above (and the parser warns).
    pub explicit_id: bool,
    /// How it is required.
    pub requiredness: Requiredness,
    /// Its type.
    pub ty: TypeRef,
    /// Annotations written right after its type (`1: list<i32> (cpp.template = "x") ids`).
    pub type_annotations: Annotations,
    /// Its name.
    pub name: String,
    /// Its default value, if written.
    pub default: Option<ConstValue>,
    /// Where each node of `default` is written (see [`Const::value_spans`]); empty without
    /// a default.
    pub default_spans: Vec<Span>,
    /// Annotations written after the field (after its default, if any).
    pub annotations: Annotations,
    /// Doc comment.
    pub doc: Option<String>,
    /// Where the name is written.
    pub span: Span,
}

/// `service NAME [extends BASE] { functions }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    /// Its name.
    pub name: String,
    /// The service it extends, possibly qualified, with where it is written.
    pub extends: Option<(String, Span)>,
    /// Its functions.
    pub functions: Vec<Function>,
    /// Annotations.
    pub annotations: Annotations,
    /// Doc comment.
    pub doc: Option<String>,
    /// Where the name is written.
    pub span: Span,
}

/// A function of a service.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    /// Its name.
    pub name: String,
    /// `oneway`.
    pub oneway: bool,
    /// What it returns; `None` for `void`.
    pub returns: Option<TypeRef>,
    /// Annotations written right after the return type.
    pub returns_annotations: Annotations,
    /// Its arguments.
    pub args: Vec<Field>,
    /// The exceptions it declares (`throws (...)`).
    pub throws: Vec<Field>,
    /// Annotations.
    pub annotations: Annotations,
    /// Doc comment.
    pub doc: Option<String>,
    /// Where the name is written.
    pub span: Span,
}
