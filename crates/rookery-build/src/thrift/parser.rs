//! The Thrift IDL parser: text of one file in, a [`Document`] out, or the first syntax error
//! with its file, line, column, what was expected and what was found.
//!
//! The grammar, as Apache Thrift reads it (`[x]` optional, `x*` repeated, `|` either; `Sep` is
//! an optional `,` or `;`):
//!
//! ```text
//! Document    = Header* (Definition Sep)*
//! Header      = "include" Literal | "cpp_include" Literal
//!             | "namespace" (Scope | "*") Name [Annotations]
//! Definition  = "const" Type Name "=" Value
//!             | "typedef" Type Name [Annotations]
//!             | "enum" Name "{" (Name ["=" Int] [Annotations] Sep)* "}" [Annotations]
//!             | ("struct" | "union") Name ["xsd_all"] "{" Field* "}" [Annotations]
//!             | "exception" Name "{" Field* "}" [Annotations]
//!             | "service" Name ["extends" Name] "{" Function* "}" [Annotations]
//! Function    = ["oneway" | "async"] ("void" | Type) Name "(" Field* ")"
//!               ["throws" "(" Field* ")"] [Annotations] Sep
//! Field       = [Int ":"] ["required" | "optional"] ["&"] Type FieldName ["=" Value]
//!               ["xsd_optional"] ["xsd_nillable"] ["xsd_attrs" "{" Field* "}"]
//!               [Annotations] Sep
//! Type        = ("bool" | "byte" | "i8" | "i16" | "i32" | "i64" | "double" | "string"
//!               | "binary" | "uuid" | Name
//!               | "map" [CppType] "<" Type "," Type ">"
//!               | "set" [CppType] "<" Type ">"
//!               | "list" [CppType] "<" Type ">" [CppType]) [Annotations]
//! CppType     = "cpp_type" Literal
//! Value       = Int | Double | Literal | "true" | "false" | Name
//!             | "[" (Value Sep)* "]" | "{" (Value ":" Value Sep)* "}"
//! Annotations = "(" (Name ["=" Literal] Sep)* ")"
//! ```
//!
//! Names of definitions, enum values and functions are identifiers that are not keywords and
//! have no dot; a field's name may be a keyword (`1: string type`, `2: i32 list`) as Apache
//! Thrift allows. Where Apache Thrift is stricter than it needs to be, this parser is a little
//! more forgiving (a `,` or `;` after any definition, annotations after a named type and on
//! `namespace *`, an integer as an annotation's value, `0X` as well as `0x`, names that other
//! languages reserve); it means to accept every file Apache Thrift accepts, except the syntax
//! Apache Thrift itself dropped (`senum`, `slist`, the one-word namespaces), which gets an
//! error that says what to write instead.
//!
//! Types and values nest at most [`MAX_NESTING`] deep, so that no input can exhaust the
//! stack.

use std::{path::PathBuf, sync::Arc};

use crate::{
    error::{Diagnostic, ErrorKind, IdlError},
    thrift::{
        ast::{
            Annotations, Const, ConstValue, Definition, Document, Enum, EnumValue, Field, Function,
            Include, Namespace, Requiredness, Service, Span, Struct, StructKind, TypeRef, Typedef,
        },
        lexer::{Lexer, Token, TokenKind},
    },
};

/// How deep types (`list<list<...>>`) and constant values (`[[...]]`) may nest.
pub const MAX_NESTING: usize = 64;

/// Parses the text of one file (named `path` in messages), dropping warnings.
///
/// ```
/// use rookery_build::thrift::{ast::Definition, parser::parse};
///
/// let document = parse("echo.thrift", "struct Echo { 1: string message }").unwrap();
/// let Definition::Struct(echo) = &document.definitions[0] else { unreachable!() };
/// assert_eq!(echo.fields[0].name, "message");
/// ```
///
/// # Errors
///
/// The first syntax error in the file.
pub fn parse(path: impl Into<PathBuf>, source: &str) -> Result<Document, IdlError> {
    parse_with_warnings(path, source).map(|(document, _)| document)
}

/// Parses the text of one file (named `path` in messages), with the warnings it gave
/// (fields without ids, deprecated spellings).
///
/// # Errors
///
/// The first syntax error in the file.
pub fn parse_with_warnings(
    path: impl Into<PathBuf>,
    source: &str,
) -> Result<(Document, Vec<Diagnostic>), IdlError> {
    let path = Arc::new(path.into());
    let mut parser = Parser {
        lexer: Lexer::new(path.clone(), source),
        source,
        peeked: None,
        depth: 0,
        warnings: Vec::new(),
    };
    let document = parser.document(path)?;
    Ok((document, parser.warnings))
}

/// Words the grammar gives a meaning to: they cannot name definitions, enum values or
/// functions.
const KEYWORDS: &[&str] = &[
    "async",
    "binary",
    "bool",
    "byte",
    "const",
    "cpp_include",
    "cpp_namespace",
    "cpp_type",
    "csharp_namespace",
    "delphi_namespace",
    "double",
    "enum",
    "exception",
    "extends",
    "false",
    "i16",
    "i32",
    "i64",
    "i8",
    "include",
    "java_package",
    "list",
    "map",
    "namespace",
    "oneway",
    "optional",
    "perl_package",
    "php_namespace",
    "py_module",
    "required",
    "ruby_namespace",
    "senum",
    "service",
    "set",
    "slist",
    "smalltalk_category",
    "smalltalk_prefix",
    "string",
    "struct",
    "throws",
    "true",
    "typedef",
    "union",
    "uuid",
    "void",
    "xsd_all",
    "xsd_attrs",
    "xsd_namespace",
    "xsd_nillable",
    "xsd_optional",
];

/// Whether `word` is a keyword of Thrift IDL.
pub fn is_keyword(word: &str) -> bool {
    KEYWORDS.binary_search(&word).is_ok()
}

/// The old one-word namespace declarations, and the scope `namespace` takes for each.
const OLD_NAMESPACES: &[(&str, &str)] = &[
    ("cocoa_prefix", "cocoa"),
    ("cpp_namespace", "cpp"),
    ("csharp_namespace", "csharp"),
    ("delphi_namespace", "delphi"),
    ("java_package", "java"),
    ("perl_package", "perl"),
    ("php_namespace", "php"),
    ("py_module", "py"),
    ("ruby_namespace", "rb"),
    ("smalltalk_category", "st"),
    ("smalltalk_prefix", "st"),
    ("xsd_namespace", "xsd"),
];

/// What a field list belongs to, for messages and for the rules that differ.
#[derive(Clone, Copy)]
enum FieldList<'n> {
    Struct(StructKind, &'n str),
    Args(&'n str),
    Throws(&'n str),
    XsdAttrs,
}

impl FieldList<'_> {
    fn closer(self) -> TokenKind {
        match self {
            FieldList::Struct(..) | FieldList::XsdAttrs => TokenKind::RightBrace,
            FieldList::Args(_) | FieldList::Throws(_) => TokenKind::RightParen,
        }
    }

    fn owner(self) -> String {
        match self {
            FieldList::Struct(kind, name) => format!("{} '{name}'", kind.keyword()),
            FieldList::Args(name) => format!("the arguments of '{name}'"),
            FieldList::Throws(name) => format!("the exceptions of '{name}'"),
            FieldList::XsdAttrs => "xsd_attrs".into(),
        }
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    source: &'a str,
    peeked: Option<Token>,
    depth: usize,
    warnings: Vec<Diagnostic>,
}

type Result<T, E = IdlError> = std::result::Result<T, E>;

impl<'a> Parser<'a> {
    // ---- tokens ----

    fn peek(&mut self) -> Result<&Token> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next_token()?);
        }
        Ok(self.peeked.as_ref().expect("just filled"))
    }

    fn next(&mut self) -> Result<Token> {
        match self.peeked.take() {
            Some(token) => Ok(token),
            None => self.lexer.next_token(),
        }
    }

    fn peek_is(&mut self, kind: &TokenKind) -> Result<bool> {
        Ok(&self.peek()?.kind == kind)
    }

    fn peek_word(&mut self, word: &str) -> Result<bool> {
        Ok(matches!(&self.peek()?.kind, TokenKind::Ident(w) if w == word))
    }

    /// Takes the next token if it is `kind`.
    fn eat(&mut self, kind: &TokenKind) -> Result<bool> {
        if self.peek_is(kind)? {
            self.next()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Takes the next token if it is the word `word`.
    fn eat_word(&mut self, word: &str) -> Result<bool> {
        if self.peek_word(word)? {
            self.next()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Takes a `,` or `;` if there is one.
    fn separator(&mut self) -> Result<()> {
        if matches!(self.peek()?.kind, TokenKind::Comma | TokenKind::Semicolon) {
            self.next()?;
        }
        Ok(())
    }

    fn expect(&mut self, kind: &TokenKind, expected: impl FnOnce() -> String) -> Result<Token> {
        let token = self.next()?;
        if &token.kind == kind {
            Ok(token)
        } else {
            Err(self.unexpected(&expected(), &token))
        }
    }

    // ---- errors ----

    fn error(&self, kind: ErrorKind, span: &Span, message: String) -> IdlError {
        Diagnostic::error(kind, message)
            .at(span)
            .with_source(self.source)
            .into()
    }

    fn unexpected(&self, expected: &str, found: &Token) -> IdlError {
        self.error(
            ErrorKind::Syntax,
            &found.span,
            format!("expected {expected}, found {}", describe(&found.kind)),
        )
    }

    fn warn(&mut self, kind: ErrorKind, span: &Span, message: String) {
        self.warnings.push(
            Diagnostic::warning(kind, message)
                .at(span)
                .with_source(self.source),
        );
    }

    fn enter(&mut self, span: &Span, what: &str) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.error(
                ErrorKind::NestingTooDeep,
                span,
                format!("{what} nest deeper than {MAX_NESTING} levels"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    // ---- the file ----

    fn document(&mut self, path: Arc<PathBuf>) -> Result<Document> {
        let mut document = Document {
            path,
            doc: None,
            includes: Vec::new(),
            cpp_includes: Vec::new(),
            namespaces: Vec::new(),
            definitions: Vec::new(),
        };
        let mut first_definition: Option<u32> = None;
        let mut first = true;
        loop {
            let token = self.peek()?.clone();
            let word = match &token.kind {
                TokenKind::Eof => break,
                TokenKind::Ident(word) => word.as_str(),
                _ => return Err(self.unexpected(EXPECTED_DEFINITION, &token)),
            };
            match word {
                "include" | "cpp_include" | "namespace" => {
                    if let Some(line) = first_definition {
                        return Err(self.error(
                            ErrorKind::Syntax,
                            &token.span,
                            format!(
                                "'{word}' is not allowed after a definition: includes, \
                                 cpp_includes and namespaces come before the first definition \
                                 (line {line})"
                            ),
                        ));
                    }
                    if first {
                        document.doc = token.doc.clone();
                    }
                    self.next()?;
                    match word {
                        "include" => {
                            let literal = self.header_literal("include")?;
                            document.includes.push(Include {
                                path: literal.0,
                                span: literal.1,
                            });
                        }
                        "cpp_include" => {
                            document
                                .cpp_includes
                                .push(self.header_literal("cpp_include")?.0);
                        }
                        _ => {
                            let namespace = self.namespace(token.span.clone())?;
                            document.namespaces.push(namespace);
                        }
                    }
                }
                "const" | "typedef" | "enum" | "struct" | "union" | "exception" | "service" => {
                    first_definition.get_or_insert(token.span.line);
                    let definition = self.definition()?;
                    document.definitions.push(definition);
                    self.separator()?;
                }
                "senum" => {
                    return Err(self.error(
                        ErrorKind::Unsupported,
                        &token.span,
                        "'senum' was removed from Thrift: use an enum, or a string".into(),
                    ));
                }
                _ => {
                    if let Some((_, scope)) = OLD_NAMESPACES.iter().find(|(old, _)| *old == word) {
                        return Err(self.error(
                            ErrorKind::Unsupported,
                            &token.span,
                            format!(
                                "'{word}' is no longer supported: write 'namespace {scope} NAME'"
                            ),
                        ));
                    }
                    return Err(self.unexpected(EXPECTED_DEFINITION, &token));
                }
            }
            first = false;
        }
        Ok(document)
    }

    fn header_literal(&mut self, keyword: &str) -> Result<(String, Span)> {
        let token = self.next()?;
        match token.kind {
            TokenKind::Literal(path) if path.is_empty() => Err(self.error(
                ErrorKind::Syntax,
                &token.span,
                format!("the path after '{keyword}' is empty"),
            )),
            TokenKind::Literal(path) => Ok((path, token.span)),
            _ => Err(self.unexpected(
                &format!("the path of the file after '{keyword}', in quotes"),
                &token,
            )),
        }
    }

    fn namespace(&mut self, span: Span) -> Result<Namespace> {
        let token = self.next()?;
        let scope = match token.kind {
            TokenKind::Star => "*".to_owned(),
            TokenKind::Ident(scope) => scope,
            _ => {
                return Err(self.unexpected(
                    "a namespace scope (a language such as 'rs' or 'py', or '*')",
                    &token,
                ));
            }
        };
        let token = self.next()?;
        let TokenKind::Ident(name) = token.kind else {
            return Err(self.unexpected(
                &format!("a namespace name after 'namespace {scope}'"),
                &token,
            ));
        };
        let annotations = self.annotations()?;
        Ok(Namespace {
            scope,
            name,
            annotations,
            span,
        })
    }

    fn definition(&mut self) -> Result<Definition> {
        let token = self.next()?;
        let doc = token.doc;
        let TokenKind::Ident(keyword) = token.kind else {
            unreachable!("checked by document")
        };
        Ok(match keyword.as_str() {
            "const" => {
                let (ty, _) = self.ty("the type of a constant")?;
                let (name, span) = self.name("the name of the constant")?;
                self.expect(&TokenKind::Equals, || {
                    format!("'=' and the value of '{name}'")
                })?;
                let mut value_spans = Vec::new();
                let value = self.value(&mut value_spans)?;
                Definition::Const(Const {
                    name,
                    ty,
                    value,
                    value_spans,
                    doc,
                    span,
                })
            }
            "typedef" => {
                let (ty, mut annotations) = self.ty("the type the typedef names")?;
                let (name, span) = self.name("the name of the typedef")?;
                annotations.0.extend(self.annotations()?.0);
                Definition::Typedef(Typedef {
                    name,
                    ty,
                    annotations,
                    doc,
                    span,
                })
            }
            "enum" => self.enumeration(doc)?,
            "struct" => self.structure(StructKind::Struct, doc)?,
            "union" => self.structure(StructKind::Union, doc)?,
            "exception" => self.structure(StructKind::Exception, doc)?,
            "service" => self.service(doc)?,
            _ => unreachable!("checked by document"),
        })
    }

    /// A name of a definition, enum value or function: an identifier, not a keyword, without
    /// a dot.
    fn name(&mut self, expected: &str) -> Result<(String, Span)> {
        let token = self.next()?;
        match &token.kind {
            TokenKind::Ident(word) if is_keyword(word) => Err(self.error(
                ErrorKind::Syntax,
                &token.span,
                format!("expected {expected}, found keyword '{word}' (a keyword cannot be a name)"),
            )),
            TokenKind::Ident(word) if word.contains('.') => Err(self.error(
                ErrorKind::Syntax,
                &token.span,
                format!("expected {expected}, found '{word}': a name cannot contain '.'"),
            )),
            TokenKind::Ident(word) => Ok((word.clone(), token.span)),
            _ => Err(self.unexpected(expected, &token)),
        }
    }

    fn enumeration(&mut self, doc: Option<String>) -> Result<Definition> {
        let (name, span) = self.name("the name of the enum")?;
        self.expect(&TokenKind::LeftBrace, || {
            format!("'{{' to open enum '{name}'")
        })?;
        let mut values = Vec::new();
        let mut next: i64 = 0;
        loop {
            if self.eat(&TokenKind::RightBrace)? {
                break;
            }
            let doc = self.peek()?.doc.clone();
            let (value_name, value_span) =
                self.name(&format!("a value of enum '{name}', or '}}'"))?;
            let value = if self.eat(&TokenKind::Equals)? {
                let token = self.next()?;
                // Apache Thrift reads `true` and `false` as 1 and 0 here too.
                let value = match &token.kind {
                    TokenKind::Int(value) => *value,
                    TokenKind::Ident(word) if word == "true" => 1,
                    TokenKind::Ident(word) if word == "false" => 0,
                    _ => {
                        return Err(self
                            .unexpected(&format!("an integer for '{name}.{value_name}'"), &token));
                    }
                };
                i32::try_from(value).map_err(|_| {
                    self.error(
                        ErrorKind::OutOfRange,
                        &token.span,
                        format!(
                            "{value} is out of range for '{name}.{value_name}': enum values are \
                             32-bit ({} to {})",
                            i32::MIN,
                            i32::MAX
                        ),
                    )
                })?
            } else {
                i32::try_from(next).map_err(|_| {
                    self.error(
                        ErrorKind::OutOfRange,
                        &value_span,
                        format!(
                            "'{name}.{value_name}' would be {next}, past the largest enum value \
                             ({}): give it a value",
                            i32::MAX
                        ),
                    )
                })?
            };
            next = i64::from(value) + 1;
            let annotations = self.annotations()?;
            self.separator()?;
            values.push(EnumValue {
                name: value_name,
                value,
                annotations,
                doc,
                span: value_span,
            });
        }
        let annotations = self.annotations()?;
        Ok(Definition::Enum(Enum {
            name,
            values,
            annotations,
            doc,
            span,
        }))
    }

    fn structure(&mut self, kind: StructKind, doc: Option<String>) -> Result<Definition> {
        let (name, span) = self.name(&format!("the name of the {}", kind.keyword()))?;
        if kind != StructKind::Exception {
            self.eat_word("xsd_all")?;
        }
        self.expect(&TokenKind::LeftBrace, || {
            format!("'{{' to open {} '{name}'", kind.keyword())
        })?;
        let fields = self.fields(FieldList::Struct(kind, &name), &span)?;
        let annotations = self.annotations()?;
        Ok(Definition::Struct(Struct {
            kind,
            name,
            fields,
            annotations,
            doc,
            span,
        }))
    }

    fn service(&mut self, doc: Option<String>) -> Result<Definition> {
        let (name, span) = self.name("the name of the service")?;
        let extends = if self.eat_word("extends")? {
            let token = self.next()?;
            match token.kind {
                TokenKind::Ident(base) if !is_keyword(&base) => Some((base, token.span)),
                _ => return Err(self.unexpected("the name of the service it extends", &token)),
            }
        } else {
            None
        };
        self.expect(&TokenKind::LeftBrace, || {
            format!("'{{' to open service '{name}'")
        })?;
        let mut functions = Vec::new();
        loop {
            if self.eat(&TokenKind::RightBrace)? {
                break;
            }
            functions.push(self.function(&name)?);
        }
        let annotations = self.annotations()?;
        Ok(Definition::Service(Service {
            name,
            extends,
            functions,
            annotations,
            doc,
            span,
        }))
    }

    fn function(&mut self, service: &str) -> Result<Function> {
        let first = self.peek()?.clone();
        let doc = first.doc.clone();
        let oneway = if self.eat_word("oneway")? {
            true
        } else if self.eat_word("async")? {
            self.warn(
                ErrorKind::Deprecated,
                &first.span,
                "'async' is the old spelling of 'oneway'".into(),
            );
            true
        } else {
            false
        };
        let (returns, returns_annotations) = if self.eat_word("void")? {
            (None, Annotations::default())
        } else if oneway {
            let (ty, annotations) = self.ty("the return type of the oneway function ('void')")?;
            (Some(ty), annotations)
        } else if first.kind == TokenKind::Eof {
            return Err(self.unexpected(
                &format!("a function of service '{service}', or '}}'"),
                &first,
            ));
        } else {
            let (ty, annotations) = self.ty(&format!(
                "a function of service '{service}' (its return type, or 'void'), or '}}'"
            ))?;
            (Some(ty), annotations)
        };
        let (name, span) = self.name("the name of the function")?;
        self.expect(&TokenKind::LeftParen, || {
            format!("'(' and the arguments of '{name}'")
        })?;
        let args = self.fields(FieldList::Args(&name), &span)?;
        let throws = if self.eat_word("throws")? {
            self.expect(&TokenKind::LeftParen, || {
                format!("'(' and the exceptions '{name}' throws")
            })?;
            self.fields(FieldList::Throws(&name), &span)?
        } else {
            Vec::new()
        };
        let annotations = self.annotations()?;
        self.separator()?;
        Ok(Function {
            name,
            oneway,
            returns,
            returns_annotations,
            args,
            throws,
            annotations,
            doc,
            span,
        })
    }

    /// Fields up to and including the closing `}` or `)`.
    fn fields(&mut self, list: FieldList<'_>, opened: &Span) -> Result<Vec<Field>> {
        let closer = list.closer();
        let close = if closer == TokenKind::RightBrace {
            '}'
        } else {
            ')'
        };
        let mut fields = Vec::new();
        let mut next_implicit: i32 = -1;
        loop {
            let first = self.peek()?.clone();
            if first.kind == closer {
                self.next()?;
                return Ok(fields);
            }
            if first.kind == TokenKind::Eof {
                return Err(self.unexpected(
                    &format!(
                        "a field or '{close}' to close {} (opened at line {})",
                        list.owner(),
                        opened.line
                    ),
                    &first,
                ));
            }
            let doc = first.doc.clone();
            let mut id = None;
            let mut warned = false;
            if let TokenKind::Int(written) = first.kind {
                self.next()?;
                self.expect(&TokenKind::Colon, || {
                    format!("':' after the field id {written}")
                })?;
                if written > i64::from(i16::MAX) {
                    return Err(self.error(
                        ErrorKind::OutOfRange,
                        &first.span,
                        format!(
                            "field id {written} is out of range: field ids go from 1 to {}",
                            i16::MAX
                        ),
                    ));
                }
                if written <= 0 {
                    warned = true;
                    self.warn(
                        ErrorKind::ImplicitFieldId,
                        &first.span,
                        format!(
                            "field id {written} is not positive: Apache Thrift ignores it and \
                             assigns {next_implicit}, as if no id were written"
                        ),
                    );
                } else {
                    id = Some(written as i16);
                }
            }
            let requiredness = if self.eat_word("required")? {
                Requiredness::Required
            } else if self.peek_word("optional")? {
                let token = self.next()?;
                if matches!(list, FieldList::Args(_)) {
                    self.warn(
                        ErrorKind::Deprecated,
                        &token.span,
                        "'optional' is ignored on an argument: arguments are always sent".into(),
                    );
                    Requiredness::Default
                } else {
                    Requiredness::Optional
                }
            } else {
                Requiredness::Default
            };
            self.eat(&TokenKind::Ampersand)?;
            let expected = if id.is_some() || requiredness != Requiredness::Default {
                "a field type".to_owned()
            } else {
                format!("a field (its id, or its type) or '{close}'")
            };
            let (ty, type_annotations) = self.ty(&expected)?;
            let (name, span) = self.field_name()?;
            let mut default_spans = Vec::new();
            let default = if self.eat(&TokenKind::Equals)? {
                Some(self.value(&mut default_spans)?)
            } else {
                None
            };
            self.eat_word("xsd_optional")?;
            self.eat_word("xsd_nillable")?;
            if self.peek_word("xsd_attrs")? {
                let token = self.next()?;
                self.expect(&TokenKind::LeftBrace, || "'{' after 'xsd_attrs'".into())?;
                self.enter(&token.span, "field lists")?;
                self.fields(FieldList::XsdAttrs, &token.span)?;
                self.leave();
            }
            let annotations = self.annotations()?;
            self.separator()?;
            let (id, explicit_id) = match id {
                Some(id) => (id, true),
                None => {
                    let id = i16::try_from(next_implicit).map_err(|_| {
                        self.error(
                            ErrorKind::OutOfRange,
                            &span,
                            format!("too many fields without ids in {}", list.owner()),
                        )
                    })?;
                    next_implicit -= 1;
                    if !warned && !matches!(list, FieldList::XsdAttrs) {
                        self.warn(
                            ErrorKind::ImplicitFieldId,
                            &span,
                            format!(
                                "field '{name}' of {} has no id: it gets {id}, as Apache Thrift \
                                 assigns, which changes if fields are added before it; give it \
                                 an id",
                                list.owner()
                            ),
                        );
                    }
                    (id, false)
                }
            };
            fields.push(Field {
                id,
                explicit_id,
                requiredness,
                ty,
                type_annotations,
                name,
                default,
                default_spans,
                annotations,
                doc,
                span,
            });
        }
    }

    /// A field's name: an identifier without a dot, which may be a keyword (except the `xsd_`
    /// ones that may follow a name).
    fn field_name(&mut self) -> Result<(String, Span)> {
        let token = self.next()?;
        match &token.kind {
            TokenKind::Ident(word)
                if word.starts_with("xsd_") || word == "true" || word == "false" =>
            {
                Err(self.unexpected("a field name", &token))
            }
            TokenKind::Ident(word) if word.contains('.') => Err(self.error(
                ErrorKind::Syntax,
                &token.span,
                format!("expected a field name, found '{word}': a name cannot contain '.'"),
            )),
            TokenKind::Ident(word) => Ok((word.clone(), token.span)),
            _ => Err(self.unexpected("a field name", &token)),
        }
    }

    // ---- types ----

    /// A type and the annotations written right after it.
    fn ty(&mut self, expected: &str) -> Result<(TypeRef, Annotations)> {
        let token = self.next()?;
        self.enter(&token.span, "types")?;
        let TokenKind::Ident(word) = &token.kind else {
            return Err(self.unexpected(expected, &token));
        };
        let ty = match word.as_str() {
            "bool" => TypeRef::Bool,
            "byte" | "i8" => TypeRef::I8,
            "i16" => TypeRef::I16,
            "i32" => TypeRef::I32,
            "i64" => TypeRef::I64,
            "double" => TypeRef::Double,
            "string" => TypeRef::String,
            "binary" => TypeRef::Binary,
            "uuid" => TypeRef::Uuid,
            "map" => {
                self.cpp_type()?;
                self.expect(&TokenKind::Less, || "'<' after 'map'".into())?;
                let (key, _) = self.ty("the key type of the map")?;
                self.expect(&TokenKind::Comma, || {
                    "',' between the key and value types of the map".into()
                })?;
                let (value, _) = self.ty("the value type of the map")?;
                self.expect(&TokenKind::Greater, || "'>' to close 'map<'".into())?;
                TypeRef::Map(Box::new(key), Box::new(value))
            }
            "set" | "list" => {
                let word = word.clone();
                self.cpp_type()?;
                self.expect(&TokenKind::Less, || format!("'<' after '{word}'"))?;
                let (element, _) = self.ty(&format!("the element type of the {word}"))?;
                self.expect(&TokenKind::Greater, || format!("'>' to close '{word}<'"))?;
                if word == "set" {
                    TypeRef::Set(Box::new(element))
                } else {
                    self.cpp_type()?;
                    TypeRef::List(Box::new(element))
                }
            }
            "slist" => {
                return Err(self.error(
                    ErrorKind::Unsupported,
                    &token.span,
                    "'slist' was removed from Thrift: use 'string'".into(),
                ));
            }
            "void" => {
                return Err(self.error(
                    ErrorKind::Syntax,
                    &token.span,
                    format!(
                        "expected {expected}, found keyword 'void' (only a function returns void)"
                    ),
                ));
            }
            _ if is_keyword(word) => return Err(self.unexpected(expected, &token)),
            _ => TypeRef::Named(word.clone(), token.span.clone()),
        };
        let annotations = self.annotations()?;
        self.leave();
        Ok((ty, annotations))
    }

    /// `cpp_type "..."`, dropped.
    fn cpp_type(&mut self) -> Result<()> {
        if self.eat_word("cpp_type")? {
            let token = self.next()?;
            if !matches!(token.kind, TokenKind::Literal(_)) {
                return Err(self.unexpected("the C++ type after 'cpp_type', in quotes", &token));
            }
        }
        Ok(())
    }

    // ---- values ----

    /// A constant value; the place of each node goes into `spans`, a node before its
    /// elements.
    fn value(&mut self, spans: &mut Vec<Span>) -> Result<ConstValue> {
        let token = self.next()?;
        self.enter(&token.span, "constant values")?;
        spans.push(token.span.clone());
        let value = match token.kind {
            TokenKind::Int(v) => ConstValue::Int(v),
            TokenKind::Double(v) => ConstValue::Double(v),
            TokenKind::Literal(s) => ConstValue::String(s),
            TokenKind::Ident(word) if word == "true" => ConstValue::Bool(true),
            TokenKind::Ident(word) if word == "false" => ConstValue::Bool(false),
            TokenKind::Ident(ref word) if !is_keyword(word) => {
                ConstValue::Identifier(word.clone(), token.span.clone())
            }
            TokenKind::LeftBracket => {
                let mut elements = Vec::new();
                loop {
                    if self.eat(&TokenKind::RightBracket)? {
                        break;
                    }
                    if self.peek_is(&TokenKind::Eof)? {
                        let eof = self.next()?;
                        return Err(self.unexpected(
                            &format!(
                                "a value or ']' to close the list opened at line {}",
                                token.span.line
                            ),
                            &eof,
                        ));
                    }
                    elements.push(self.value(spans)?);
                    self.separator()?;
                }
                ConstValue::List(elements)
            }
            TokenKind::LeftBrace => {
                let mut entries = Vec::new();
                loop {
                    if self.eat(&TokenKind::RightBrace)? {
                        break;
                    }
                    if self.peek_is(&TokenKind::Eof)? {
                        let eof = self.next()?;
                        return Err(self.unexpected(
                            &format!(
                                "a key or '}}' to close the map opened at line {}",
                                token.span.line
                            ),
                            &eof,
                        ));
                    }
                    let key = self.value(spans)?;
                    self.expect(&TokenKind::Colon, || {
                        "':' between a key and its value".into()
                    })?;
                    let value = self.value(spans)?;
                    entries.push((key, value));
                    self.separator()?;
                }
                ConstValue::Map(entries)
            }
            _ => {
                return Err(self.unexpected(
                    "a value (a number, a string, true, false, a constant, [a list] or {a map})",
                    &token,
                ));
            }
        };
        self.leave();
        Ok(value)
    }

    // ---- annotations ----

    /// `( key = "value", flag )`, or nothing.
    fn annotations(&mut self) -> Result<Annotations> {
        let mut annotations = Annotations::default();
        if !self.peek_is(&TokenKind::LeftParen)? {
            return Ok(annotations);
        }
        let opened = self.next()?;
        loop {
            let token = self.next()?;
            let key = match token.kind {
                TokenKind::RightParen => return Ok(annotations),
                TokenKind::Ident(key) => key,
                TokenKind::Eof => {
                    return Err(self.unexpected(
                        &format!(
                            "an annotation or ')' to close the annotations opened at line {}",
                            opened.span.line
                        ),
                        &token,
                    ));
                }
                _ => return Err(self.unexpected("an annotation name or ')'", &token)),
            };
            let value = if self.eat(&TokenKind::Equals)? {
                let token = self.next()?;
                match token.kind {
                    TokenKind::Literal(value) => Some(value),
                    TokenKind::Int(value) => Some(value.to_string()),
                    _ => {
                        return Err(self.unexpected(
                            &format!("the value of annotation '{key}', in quotes"),
                            &token,
                        ));
                    }
                }
            } else {
                None
            };
            annotations.0.push((key, value));
            self.separator()?;
        }
    }
}

const EXPECTED_DEFINITION: &str =
    "a definition (const, typedef, enum, struct, union, exception or service)";

/// How a token is named in "found ..." messages.
fn describe(kind: &TokenKind) -> String {
    match kind {
        TokenKind::Ident(word) if is_keyword(word) => format!("keyword '{word}'"),
        TokenKind::Ident(word) => format!("identifier '{word}'"),
        TokenKind::Int(v) => format!("integer {v}"),
        TokenKind::Double(v) => format!("number {v}"),
        TokenKind::Literal(s) => {
            let shown: String = s.chars().take(40).collect();
            let more = if shown.len() < s.len() { "..." } else { "" };
            format!("string {shown:?}{more}")
        }
        TokenKind::Colon => "':'".into(),
        TokenKind::Semicolon => "';'".into(),
        TokenKind::Comma => "','".into(),
        TokenKind::LeftBrace => "'{'".into(),
        TokenKind::RightBrace => "'}'".into(),
        TokenKind::LeftParen => "'('".into(),
        TokenKind::RightParen => "')'".into(),
        TokenKind::Equals => "'='".into(),
        TokenKind::Less => "'<'".into(),
        TokenKind::Greater => "'>'".into(),
        TokenKind::LeftBracket => "'['".into(),
        TokenKind::RightBracket => "']'".into(),
        TokenKind::Star => "'*'".into(),
        TokenKind::Ampersand => "'&'".into(),
        TokenKind::Eof => "the end of the file".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_sorted() {
        assert!(KEYWORDS.windows(2).all(|w| w[0] < w[1]));
    }
}
