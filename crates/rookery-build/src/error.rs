//! Errors in IDL that a person can act on.
//!
//! An [`IdlError`] holds one or more [`Diagnostic`]s. Each names the file, line and column,
//! says what was expected and what was found, and shows the offending line with a caret under
//! the column:
//!
//! ```text
//! echo.thrift:12:17: expected a field type, found '}'
//!    |
//! 12 |   1: required }
//!    |               ^
//! ```
//!
//! Which errors come together: the parser stops at the first syntax error of a file (what
//! follows a syntax error is rarely worth reading), but [`Program::load`] parses every file it
//! can reach, so one error per broken file comes back together with every include that
//! cannot be found or closes a cycle. Once every file parses, the resolver checks everything
//! and reports every semantic error it finds, in file order, then line and column.
//!
//! [`Program::load`]: crate::thrift::resolve::Program::load

use std::{error::Error, fmt, sync::Arc};

use crate::thrift::ast::Span;

/// What went wrong, for code that wants to tell errors apart. Messages are for people; match
/// on this instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file could not be read.
    Io,
    /// The text does not follow the Thrift grammar (including bad tokens: an unterminated
    /// string, an unknown escape, a stray character).
    Syntax,
    /// Types, constant values or includes nest deeper than the parser or resolver follows.
    NestingTooDeep,
    /// A number does not fit where it is written (a field id beyond 32767, an enum value
    /// beyond `i32`, an integer beyond `i64`).
    OutOfRange,
    /// Syntax that Apache Thrift no longer accepts either (`php_namespace`, `senum`, `slist`).
    Unsupported,
    /// An `include` names a file that is on none of the paths searched.
    IncludeNotFound,
    /// A file includes itself, directly or through other files.
    IncludeCycle,
    /// Two includes of one file would be known by the same name.
    DuplicateInclude,
    /// A type name that names nothing.
    UnknownType,
    /// A name used as a type names a constant or a service.
    NotAType,
    /// `extends` names nothing.
    UnknownService,
    /// `extends` names something that is not a service.
    NotAService,
    /// A `throws` field whose type is not an exception.
    NotAnException,
    /// A constant value names a constant or enum value that does not exist.
    UnknownConst,
    /// A constant value does not fit its type.
    ConstType,
    /// Two definitions of one file share a name.
    DuplicateDefinition,
    /// Two fields (or arguments, or exceptions of a function) share a name.
    DuplicateField,
    /// Two fields (or arguments, or exceptions of a function) share an id.
    DuplicateFieldId,
    /// Two values of an enum share a name.
    DuplicateEnumValue,
    /// Two functions of a service, or of a service and a service it extends, share a name.
    DuplicateFunction,
    /// A `oneway` function returns something or declares exceptions.
    Oneway,
    /// Typedefs that name each other in a circle.
    TypedefCycle,
    /// Services that extend each other in a circle.
    ExtendsCycle,
    /// Constants whose values name each other in a circle.
    ConstCycle,
    /// (Warning) A field without an id, given a negative one as Apache Thrift does.
    ImplicitFieldId,
    /// (Warning) Syntax that still works but has a newer spelling (`async`, `optional` on an
    /// argument).
    Deprecated,
    /// (Warning) Two values of an enum share a number.
    DuplicateEnumNumber,
}

/// How bad a [`Diagnostic`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The IDL cannot be used.
    Error,
    /// The IDL works but probably not as meant.
    Warning,
}

/// One message about one place in an IDL file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    severity: Severity,
    kind: ErrorKind,
    message: String,
    span: Option<Span>,
    line: Option<Arc<str>>,
}

impl Diagnostic {
    /// An error of `kind` that says `message`, at no place yet.
    pub(crate) fn error(kind: ErrorKind, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            kind,
            message: message.into(),
            span: None,
            line: None,
        }
    }

    /// A warning of `kind` that says `message`, at no place yet.
    pub(crate) fn warning(kind: ErrorKind, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(kind, message)
        }
    }

    /// The same, at `span`.
    pub(crate) fn at(mut self, span: &Span) -> Diagnostic {
        self.span = Some(span.clone());
        self
    }

    /// The same, at `span` if there is one.
    pub(crate) fn at_opt(mut self, span: Option<&Span>) -> Diagnostic {
        self.span = span.cloned();
        self
    }

    /// Fills in the text of the line the span points into, from the file's source, so that
    /// the diagnostic can show it.
    pub(crate) fn with_source(mut self, source: &str) -> Diagnostic {
        if self.line.is_none() {
            if let Some(span) = &self.span {
                self.line = source_line(source, span.line).map(Arc::from);
            }
        }
        self
    }

    /// Whether this is an error or a warning.
    pub fn severity(&self) -> Severity {
        self.severity
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the place.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where, when the message is about a place in a file.
    pub fn span(&self) -> Option<&Span> {
        self.span.as_ref()
    }

    /// The text of the offending line, when known.
    pub fn source_line(&self) -> Option<&str> {
        self.line.as_deref()
    }
}

/// The `line`th (1-based) line of `source`, without its line ending.
fn source_line(source: &str, line: u32) -> Option<&str> {
    let text = source.split('\n').nth(line.checked_sub(1)? as usize)?;
    let text = text.strip_suffix('\r').unwrap_or(text);
    // The lexer skips a byte order mark; so does the snippet, to keep the caret in place.
    Some(if line == 1 {
        text.trim_start_matches('\u{feff}')
    } else {
        text
    })
}

/// `file:line:col: message`, then the line with a caret under the column:
///
/// ```text
/// echo.thrift:12:17: expected a field type, found '}'
///    |
/// 12 |   1: required }
///    |               ^
/// ```
///
/// A warning says `warning:` before its message. A message about no place in particular
/// is the message alone.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(span) = &self.span {
            write!(f, "{span}: ")?;
        }
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        f.write_str(&self.message)?;
        if let (Some(span), Some(line)) = (&self.span, &self.line) {
            let number = span.line.to_string();
            let pad = " ".repeat(number.len());
            // The caret goes under the column's character; tabs before it stay tabs so
            // that it lines up however wide the terminal draws them.
            let lead: String = line
                .chars()
                .take(span.column.saturating_sub(1) as usize)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let gap = if line.is_empty() { "" } else { " " };
            write!(f, "\n{pad} |\n{number} |{gap}{line}\n{pad} | {lead}^")?;
        }
        Ok(())
    }
}

/// Errors in IDL: one or more [`Diagnostic`]s (see the [module documentation](self) for which
/// come together).
///
/// ```
/// use rookery_build::{ErrorKind, thrift::parser::parse};
///
/// let error = parse("echo.thrift", "struct Echo {\n  1: required }\n").unwrap_err();
/// assert_eq!(error.kind(), ErrorKind::Syntax);
/// assert_eq!(
///     error.to_string(),
///     "echo.thrift:2:15: expected a field type, found '}'\n  |\n2 |   1: required }\n  |               ^"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdlError {
    diagnostics: Vec<Diagnostic>,
}

impl IdlError {
    /// An error made of these diagnostics (at least one).
    pub(crate) fn new(diagnostics: Vec<Diagnostic>) -> IdlError {
        debug_assert!(!diagnostics.is_empty());
        IdlError { diagnostics }
    }

    /// What went wrong first.
    pub fn kind(&self) -> ErrorKind {
        self.diagnostics[0].kind
    }

    /// The first diagnostic.
    pub fn first(&self) -> &Diagnostic {
        &self.diagnostics[0]
    }

    /// Every diagnostic, in file order then line and column (the order they are printed in).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }
}

impl From<Diagnostic> for IdlError {
    fn from(diagnostic: Diagnostic) -> IdlError {
        IdlError::new(vec![diagnostic])
    }
}

/// Every diagnostic, one after another with a blank line between them, and a count at the end
/// when there are several.
impl fmt::Display for IdlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{diagnostic}")?;
        }
        if self.diagnostics.len() > 1 {
            write!(f, "\n\n{} errors", self.diagnostics.len())?;
        }
        Ok(())
    }
}

impl Error for IdlError {}
