//! Errors from compiling `.proto` files, rendered like the Thrift errors: `file:line:col:
//! message`, then the line and a caret under the column.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use miette::Diagnostic as _;

/// What went wrong, for code that wants to tell errors apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file could not be read or written.
    Io,
    /// The text is not valid Protobuf syntax.
    Syntax,
    /// An `import`, or a file to compile, is on none of the include paths.
    NotFound,
    /// The files parse but do not make sense: an unknown type, a duplicate name or number,
    /// an invalid option.
    Invalid,
    /// Something this generator does not support (proto2 groups, extensions' values).
    Unsupported,
}

/// One place in a `.proto` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file, as imports name it (relative to its include path).
    pub file: String,
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1, in characters.
    pub column: usize,
    /// The text of the line.
    pub text: String,
}

/// Why `.proto` files could not be compiled or generated.
#[derive(Debug)]
pub struct Error(Box<Inner>);

#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    message: String,
    location: Option<Location>,
    notes: Vec<String>,
    more: Vec<Error>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error(Box::new(Inner {
            kind,
            message: message.into(),
            location: None,
            notes: Vec::new(),
            more: Vec::new(),
        }))
    }

    pub(crate) fn io(what: impl fmt::Display, path: &Path, err: std::io::Error) -> Error {
        Error::new(ErrorKind::Io, format!("{what} {}: {err}", path.display()))
    }

    pub(crate) fn at(mut self, location: Option<Location>) -> Error {
        self.0.location = location;
        self
    }

    pub(crate) fn note(mut self, note: impl Into<String>) -> Error {
        self.0.notes.push(note.into());
        self
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// What was wrong, without the place.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Where, when the error is about a place in a file.
    pub fn location(&self) -> Option<&Location> {
        self.0.location.as_ref()
    }

    /// Further errors found with this one.
    pub fn others(&self) -> &[Error] {
        &self.0.more
    }

    /// Converts protox's error, reading the file it names (from `includes`) to find the line
    /// and column of its span.
    pub(crate) fn from_protox(err: &protox::Error, includes: &[PathBuf]) -> Error {
        let kind = if err.is_file_not_found() {
            ErrorKind::NotFound
        } else if err.is_parse() {
            ErrorKind::Syntax
        } else if err.is_io() {
            ErrorKind::Io
        } else {
            ErrorKind::Invalid
        };
        let mut error = Error::from_diagnostic(kind, err, err.file(), includes);
        if kind == ErrorKind::NotFound {
            let searched: Vec<String> = includes.iter().map(|p| p.display().to_string()).collect();
            error = error.note(format!(
                "searched the include paths: {} (and the well-known types google/protobuf/*.proto)",
                if searched.is_empty() {
                    "none".to_string()
                } else {
                    searched.join(", ")
                }
            ));
        }
        if let Some(related) = err.related() {
            for other in related {
                let more = Error::from_diagnostic(ErrorKind::Invalid, other, err.file(), includes);
                error.0.more.push(more);
            }
        }
        error
    }

    fn from_diagnostic(
        kind: ErrorKind,
        diag: &dyn miette::Diagnostic,
        file: Option<&str>,
        includes: &[PathBuf],
    ) -> Error {
        let mut error = Error::new(kind, diag.to_string());
        let offset = diag
            .labels()
            .and_then(|mut labels| labels.next())
            .map(|label| label.offset());
        if let (Some(file), Some(offset)) = (file, offset) {
            error.0.location = locate(file, offset, includes);
        }
        if let Some(help) = diag.help() {
            error.0.notes.push(help.to_string());
        }
        error
    }
}

/// Finds `file` on the include paths and the line and column of byte `offset` in it.
fn locate(file: &str, offset: usize, includes: &[PathBuf]) -> Option<Location> {
    let text = includes
        .iter()
        .find_map(|dir| std::fs::read_to_string(dir.join(file)).ok())?;
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    Some(Location {
        file: file.to_string(),
        line: before.matches('\n').count() + 1,
        column: text[line_start..offset].chars().count() + 1,
        text: text[line_start..line_end]
            .trim_end_matches('\r')
            .to_string(),
    })
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.location {
            Some(at) => {
                writeln!(
                    f,
                    "{}:{}:{}: {}",
                    at.file, at.line, at.column, self.0.message
                )?;
                let number = at.line.to_string();
                let pad = " ".repeat(number.len());
                writeln!(f, "{pad} |")?;
                writeln!(f, "{number} | {}", at.text)?;
                // The caret goes under the column, counting a tab as the line shows it.
                let lead: String = at
                    .text
                    .chars()
                    .take(at.column - 1)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                write!(f, "{pad} | {lead}^")?;
            }
            None => write!(f, "{}", self.0.message)?,
        }
        for note in &self.0.notes {
            write!(f, "\n  = note: {note}")?;
        }
        for more in &self.0.more {
            write!(f, "\n{more}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}
