//! The syntax tree of a Thrift IDL file, as the parser produces it and the resolver checks it.
//!
//! Every node that a person may need pointed at carries a [`Span`]. Names are kept as written;
//! a [`TypeRef::Named`] may be qualified by an include (`shared.SharedStruct`) and is resolved
//! by [`crate::thrift::resolve`].

use std::{path::PathBuf, sync::Arc};

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

/// One parsed `.thrift` file.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The file.
    pub path: Arc<PathBuf>,
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
    /// Where it is written.
    pub span: Span,
}

/// `namespace rs my.module` (the scope is `*` for every language).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    /// The language (`rs`, `py`, `go`, `*`, ...).
    pub scope: String,
    /// The namespace.
    pub name: String,
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

/// A constant value as written.
#[derive(Clone, Debug, PartialEq)]
pub enum ConstValue {
    /// An integer (decimal, or hexadecimal with `0x`).
    Int(i64),
    /// A floating-point number.
    Double(f64),
    /// A string literal (escapes resolved).
    String(String),
    /// `true` or `false`.
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
    /// Annotations on the type.
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
    /// `optional`: written only when set.
    Optional,
    /// Neither: always written; missing on read keeps the default.
    Default,
}

/// A field of a struct, union or exception, or an argument or exception of a function.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// Its id. Fields written without one get negative ids counting down from -1, as Apache
    /// Thrift assigns them (and the resolver warns).
    pub id: i16,
    /// Whether the id was written.
    pub explicit_id: bool,
    /// How it is required.
    pub requiredness: Requiredness,
    /// Its type.
    pub ty: TypeRef,
    /// Its name.
    pub name: String,
    /// Its default value, if written.
    pub default: Option<ConstValue>,
    /// Annotations.
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
