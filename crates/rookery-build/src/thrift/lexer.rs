//! The tokens of Thrift IDL, read one at a time so that a syntax error early in a file is
//! reported before a bad token later in it.
//!
//! What it reads, as Apache Thrift's lexer does:
//! - identifiers `[A-Za-z_]` then letters, digits, `_` and single dots
//!   (`shared.Thing`, `py.twisted`); keywords are identifiers here, told apart by the parser;
//! - integers (`42`, `-7`, `+3`, `0x1F`, `-0x10`), in the range of `i64`;
//! - doubles (`1.5`, `-.5`, `1e10`, `2.5E-3`);
//! - string literals in `"` or `'`, on one line, with the escapes `\n \r \t \" \' \\`;
//! - the symbols `: ; , { } ( ) = < > [ ] * &`;
//! - comments `// ...`, `# ...` and `/* ... */`, skipped, and doc comments `/** ... */` and
//!   runs of `/// ...` lines, handed to the next token (see [`Token::doc`]).

use std::{path::PathBuf, sync::Arc};

use crate::{
    error::{Diagnostic, ErrorKind, IdlError},
    thrift::ast::Span,
};

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub enum TokenKind {
    /// An identifier or keyword, possibly dotted.
    Ident(String),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Double(f64),
    /// A string literal, escapes resolved.
    Literal(String),
    /// `:`
    Colon,
    /// `;`
    Semicolon,
    /// `,`
    Comma,
    /// `{`
    LeftBrace,
    /// `}`
    RightBrace,
    /// `(`
    LeftParen,
    /// `)`
    RightParen,
    /// `=`
    Equals,
    /// `<`
    Less,
    /// `>`
    Greater,
    /// `[`
    LeftBracket,
    /// `]`
    RightBracket,
    /// `*`
    Star,
    /// `&`
    Ampersand,
    /// The end of the file.
    Eof,
}

/// One token, with where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Where its first character is.
    pub span: Span,
    /// The doc comment written before it (after the previous token), cleaned: the last one
    /// when there are several.
    pub doc: Option<String>,
}

/// Reads tokens from one file's text.
#[derive(Debug)]
pub struct Lexer<'a> {
    file: Arc<PathBuf>,
    source: &'a str,
    /// Byte offset of the next character.
    pos: usize,
    line: u32,
    column: u32,
    /// The doc comment waiting for the next token.
    doc: Option<String>,
    /// The line of the last `///` of the pending doc, when the pending doc is a run of them,
    /// so that the next line's `///` continues it.
    doc_slash_line: Option<u32>,
    /// The lines of a `///` run so far.
    doc_lines: Vec<String>,
    /// Where the last token ended: the end of the file is shown there, right after the
    /// last thing written, rather than on a blank line below it.
    last_end: Option<(u32, u32)>,
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `source`, which is the text of `file`.
    pub fn new(file: Arc<PathBuf>, source: &'a str) -> Lexer<'a> {
        Lexer {
            file,
            source,
            // A byte order mark some editors write is not text.
            pos: if source.starts_with('\u{feff}') { 3 } else { 0 },
            line: 1,
            column: 1,
            doc: None,
            doc_slash_line: None,
            doc_lines: Vec::new(),
            last_end: None,
        }
    }

    /// The file being read.
    pub fn file(&self) -> &Arc<PathBuf> {
        &self.file
    }

    /// The next token; [`TokenKind::Eof`] at the end, again and again.
    ///
    /// # Errors
    ///
    /// A [`ErrorKind::Syntax`] error for a character that starts no token, a string or comment
    /// left open, or an unknown escape; [`ErrorKind::OutOfRange`] for an integer beyond `i64`.
    pub fn next_token(&mut self) -> Result<Token, IdlError> {
        self.skip_trivia()?;
        let span = self.span();
        let start = self.pos;
        let Some(c) = self.peek() else {
            let mut span = span;
            if let Some((line, column)) = self.last_end {
                (span.line, span.column) = (line, column);
            }
            return Ok(self.token(TokenKind::Eof, span));
        };
        let kind = match c {
            'a'..='z' | 'A'..='Z' | '_' => TokenKind::Ident(self.identifier()),
            '0'..='9' => self.number(&span, start)?,
            '+' | '-' | '.' if self.starts_number() => self.number(&span, start)?,
            '"' | '\'' => TokenKind::Literal(self.literal(&span)?),
            _ => {
                self.bump();
                match c {
                    ':' => TokenKind::Colon,
                    ';' => TokenKind::Semicolon,
                    ',' => TokenKind::Comma,
                    '{' => TokenKind::LeftBrace,
                    '}' => TokenKind::RightBrace,
                    '(' => TokenKind::LeftParen,
                    ')' => TokenKind::RightParen,
                    '=' => TokenKind::Equals,
                    '<' => TokenKind::Less,
                    '>' => TokenKind::Greater,
                    '[' => TokenKind::LeftBracket,
                    ']' => TokenKind::RightBracket,
                    '*' => TokenKind::Star,
                    '&' => TokenKind::Ampersand,
                    _ => return Err(self.error(&span, unexpected_character(c))),
                }
            }
        };
        Ok(self.token(kind, span))
    }

    fn token(&mut self, kind: TokenKind, span: Span) -> Token {
        if kind != TokenKind::Eof {
            self.last_end = Some((self.line, self.column));
        }
        self.flush_slash_doc();
        self.doc_slash_line = None;
        Token {
            kind,
            span,
            doc: self.doc.take(),
        }
    }

    fn span(&self) -> Span {
        Span {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
        }
    }

    fn error(&self, span: &Span, message: String) -> IdlError {
        self.error_of(ErrorKind::Syntax, span, message)
    }

    fn error_of(&self, kind: ErrorKind, span: &Span, message: String) -> IdlError {
        Diagnostic::error(kind, message)
            .at(span)
            .with_source(self.source)
            .into()
    }

    fn peek(&self) -> Option<char> {
        self.source[self.pos..].chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.source[self.pos..].chars().nth(n)
    }

    fn rest(&self) -> &'a str {
        &self.source[self.pos..]
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    /// Skips whitespace and comments, keeping doc comments for the next token.
    fn skip_trivia(&mut self) -> Result<(), IdlError> {
        loop {
            let rest = self.rest();
            if rest.starts_with([' ', '\t', '\r', '\n']) {
                self.bump();
            } else if rest.starts_with("///") && !rest.starts_with("////") {
                let line = self.line;
                self.bump_n(3);
                let text = self.skip_line();
                if self.doc_slash_line.is_none_or(|l| l + 1 != line) {
                    // A new run: it replaces whatever doc was pending.
                    self.flush_slash_doc();
                    self.doc = None;
                    self.doc_lines.clear();
                }
                self.doc_lines.push(text.to_owned());
                self.doc_slash_line = Some(line);
            } else if rest.starts_with("//") || rest.starts_with('#') {
                self.skip_line();
            } else if rest.starts_with("/*") {
                let span = self.span();
                self.bump_n(2);
                let Some(end) = self.rest().find("*/") else {
                    return Err(self.error(
                        &span,
                        "this comment is never closed: expected '*/' before the end of the file"
                            .into(),
                    ));
                };
                let body = &self.rest()[..end];
                self.bump_n(body.chars().count() + 2);
                // `/**/` and `/***/` are plain comments; `/** text */` is a doc comment.
                if let Some(text) = body.strip_prefix('*') {
                    if !body.chars().all(|c| c == '*') {
                        self.flush_slash_doc();
                        self.doc_lines.clear();
                        self.doc_slash_line = None;
                        // `/** banner **/` ends in stars that are not text.
                        self.doc = clean_block_doc(text.trim_end_matches('*'));
                    }
                }
            } else {
                return Ok(());
            }
        }
    }

    /// Turns a finished run of `///` lines into the pending doc.
    fn flush_slash_doc(&mut self) {
        if !self.doc_lines.is_empty() {
            let lines = std::mem::take(&mut self.doc_lines);
            self.doc = clean_lines(lines.iter().map(String::as_str).collect());
        }
    }

    fn bump_n(&mut self, n: usize) {
        for _ in 0..n {
            self.bump();
        }
    }

    /// Skips to the end of the line (not past the newline) and returns what was skipped.
    fn skip_line(&mut self) -> &'a str {
        let rest = self.rest();
        let len = rest.find('\n').unwrap_or(rest.len());
        let text = &rest[..len];
        self.bump_n(text.chars().count());
        text
    }

    fn identifier(&mut self) -> String {
        let start = self.pos;
        let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
        // A dot joins two parts of a name only when a name character follows it.
        while let Some(c) = self.peek() {
            let joins = c == '.' && self.peek_at(1).is_some_and(name_char);
            if !(name_char(c) || joins) {
                break;
            }
            self.bump();
        }
        self.source[start..self.pos].to_owned()
    }

    /// Whether a `+`, `-` or `.` here starts a number.
    fn starts_number(&self) -> bool {
        let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
        match self.peek() {
            Some('+' | '-') => {
                digit(self.peek_at(1)) || (self.peek_at(1) == Some('.') && digit(self.peek_at(2)))
            }
            Some('.') => digit(self.peek_at(1)),
            _ => false,
        }
    }

    fn number(&mut self, span: &Span, start: usize) -> Result<TokenKind, IdlError> {
        let negative = self.peek() == Some('-');
        if matches!(self.peek(), Some('+' | '-')) {
            self.bump();
        }
        let kind = if self.rest().starts_with("0x") || self.rest().starts_with("0X") {
            self.bump_n(2);
            let hex_start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                self.bump();
            }
            let hex = &self.source[hex_start..self.pos];
            if hex.is_empty() {
                return Err(self.error(span, "expected hexadecimal digits after '0x'".into()));
            }
            let magnitude = u64::from_str_radix(hex, 16).ok();
            let value = magnitude.and_then(|m| {
                if negative {
                    0i64.checked_sub_unsigned(m)
                } else {
                    i64::try_from(m).ok()
                }
            });
            match value {
                Some(v) => TokenKind::Int(v),
                None => return Err(self.out_of_range(span, start)),
            }
        } else {
            self.skip_digits();
            let mut double = false;
            if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
                double = true;
                self.bump();
                self.skip_digits();
            }
            if matches!(self.peek(), Some('e' | 'E')) {
                let sign = usize::from(matches!(self.peek_at(1), Some('+' | '-')));
                if self.peek_at(1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                    double = true;
                    self.bump_n(1 + sign);
                    self.skip_digits();
                }
            }
            let text = &self.source[start..self.pos];
            if double {
                match text.parse::<f64>() {
                    Ok(v) if v.is_finite() => TokenKind::Double(v),
                    _ => {
                        return Err(self.error_of(
                            ErrorKind::OutOfRange,
                            span,
                            format!("the number {text} is too large for a double"),
                        ));
                    }
                }
            } else {
                match text.parse::<i64>() {
                    Ok(v) => TokenKind::Int(v),
                    Err(_) => return Err(self.out_of_range(span, start)),
                }
            }
        };
        // `1abc` is neither a number nor a name; say so rather than reading two tokens.
        if self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            let end = self
                .rest()
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
            let end = self.pos + end.unwrap_or(self.rest().len());
            return Err(self.error(
                span,
                format!(
                    "'{}' is not a number (nor a name: names start with a letter or '_')",
                    &self.source[start..end]
                ),
            ));
        }
        Ok(kind)
    }

    fn out_of_range(&self, span: &Span, start: usize) -> IdlError {
        self.error_of(
            ErrorKind::OutOfRange,
            span,
            format!(
                "the integer {} is out of range: integers are 64-bit ({} to {})",
                &self.source[start..self.pos],
                i64::MIN,
                i64::MAX
            ),
        )
    }

    fn skip_digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
    }

    fn literal(&mut self, span: &Span) -> Result<String, IdlError> {
        let Some(quote) = self.bump() else {
            return Err(self.error(span, "expected a string literal".into()));
        };
        let mut value = String::new();
        loop {
            let here = self.span();
            match self.bump() {
                None => {
                    return Err(self.error(
                        span,
                        format!("this string is never closed: expected '{quote}' before the end of the file"),
                    ));
                }
                Some('\n') => {
                    return Err(self.error(
                        span,
                        format!("this string is never closed: expected '{quote}' before the end of the line (strings cannot span lines)"),
                    ));
                }
                Some('\\') => {
                    let escaped = match self.bump() {
                        Some('n') => '\n',
                        Some('r') => '\r',
                        Some('t') => '\t',
                        Some('"') => '"',
                        Some('\'') => '\'',
                        Some('\\') => '\\',
                        other => {
                            let found = match other {
                                None => "the end of the file".to_owned(),
                                Some('\n') => "the end of the line".to_owned(),
                                Some(c) => format!("'\\{c}'"),
                            };
                            return Err(self.error(
                                &here,
                                format!(
                                    "expected an escape (\\n, \\r, \\t, \\\", \\' or \\\\), found {found}"
                                ),
                            ));
                        }
                    };
                    value.push(escaped);
                }
                Some(c) if c == quote => return Ok(value),
                Some(c) => value.push(c),
            }
        }
    }
}

fn unexpected_character(c: char) -> String {
    match c {
        '-' | '+' => format!("unexpected character '{c}': a sign must be followed by digits"),
        '.' => {
            "unexpected character '.': a dot must join two parts of a name, or come before digits"
                .into()
        }
        c if c.is_control() || c.is_whitespace() => {
            format!("unexpected character U+{:04X}", u32::from(c))
        }
        c => format!("unexpected character '{c}'"),
    }
}

/// Cleans the text between `/**` and `*/` as Apache Thrift does: drops a leading ` * ` column
/// when every line after the first has one, then the indentation the lines share, then
/// trailing spaces and blank first and last lines.
fn clean_block_doc(text: &str) -> Option<String> {
    let text = text.replace('\r', "");
    let mut lines: Vec<&str> = text.split('\n').collect();
    // A ` * ` column, when every non-blank line after the first has one at the same place.
    let star_column = {
        let mut column = None;
        let mut consistent = true;
        for line in lines.iter().skip(1) {
            let trimmed = line.trim_start_matches([' ', '\t']);
            if trimmed.is_empty() {
                continue;
            }
            let at = line.len() - trimmed.len();
            if !trimmed.starts_with('*') || column.is_some_and(|c| c != at) {
                consistent = false;
                break;
            }
            column = Some(at);
        }
        if consistent { column } else { None }
    };
    if let Some(at) = star_column {
        for line in lines.iter_mut().skip(1) {
            if line.trim_start_matches([' ', '\t']).is_empty() {
                *line = "";
            } else {
                *line = &line[at + 1..];
            }
        }
    }
    let first = lines[0].trim_start_matches([' ', '\t']);
    let mut rest: Vec<&str> = lines.split_off(1);
    let common = rest
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    for line in &mut rest {
        *line = if line.trim().is_empty() {
            ""
        } else {
            &line[common..]
        };
    }
    let mut all = vec![first];
    all.extend(rest);
    finish(all)
}

/// Cleans a run of `///` lines: drops the indentation they share and trailing spaces.
fn clean_lines(lines: Vec<&str>) -> Option<String> {
    let common = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    finish(
        lines
            .into_iter()
            .map(|l| {
                if l.trim().is_empty() {
                    ""
                } else {
                    &l[common..]
                }
            })
            .collect(),
    )
}

/// Trims trailing spaces of every line and blank lines at both ends; `None` when nothing is
/// left.
fn finish(lines: Vec<&str>) -> Option<String> {
    let lines: Vec<&str> = lines
        .into_iter()
        .map(|l| l.trim_end_matches([' ', '\t', '\r']))
        .collect();
    let start = lines.iter().position(|l| !l.is_empty())?;
    let end = lines.iter().rposition(|l| !l.is_empty())?;
    Some(lines[start..=end].join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        let mut lexer = Lexer::new(Arc::new("t.thrift".into()), source);
        let mut out = Vec::new();
        loop {
            let token = lexer.next_token().unwrap();
            if token.kind == TokenKind::Eof {
                return out;
            }
            out.push(token.kind);
        }
    }

    #[test]
    fn numbers() {
        use TokenKind::*;
        assert_eq!(
            kinds("1 -2 +3 0x1F -0x10 1.5 -.5 1e3 2.5E-2 e10"),
            vec![
                Int(1),
                Int(-2),
                Int(3),
                Int(31),
                Int(-16),
                Double(1.5),
                Double(-0.5),
                Double(1000.0),
                Double(0.025),
                Ident("e10".into())
            ]
        );
        assert_eq!(kinds("-0x8000000000000000"), vec![Int(i64::MIN)]);
        assert_eq!(kinds("9223372036854775807"), vec![Int(i64::MAX)]);
    }

    #[test]
    fn identifiers_and_symbols() {
        use TokenKind::*;
        assert_eq!(
            kinds("shared.Thing a_b:{}()=<>[]*&;,"),
            vec![
                Ident("shared.Thing".into()),
                Ident("a_b".into()),
                Colon,
                LeftBrace,
                RightBrace,
                LeftParen,
                RightParen,
                Equals,
                Less,
                Greater,
                LeftBracket,
                RightBracket,
                Star,
                Ampersand,
                Semicolon,
                Comma
            ]
        );
    }

    #[test]
    fn literals() {
        use TokenKind::*;
        assert_eq!(
            kinds(r#""a\"b" 'c\'d' "\n\r\t\\" 'x"y'"#),
            vec![
                Literal("a\"b".into()),
                Literal("c'd".into()),
                Literal("\n\r\t\\".into()),
                Literal("x\"y".into())
            ]
        );
    }

    #[test]
    fn docs() {
        let mut lexer = Lexer::new(
            Arc::new("t.thrift".into()),
            "/**\n * One.\n *\n * Two.\n */\na\n/// x\n///   y\nb /**/ c\n/// gone\n\n/// kept\nd",
        );
        let docs: Vec<Option<String>> = (0..4).map(|_| lexer.next_token().unwrap().doc).collect();
        assert_eq!(
            docs,
            vec![
                Some("One.\n\nTwo.".into()),
                Some("x\n  y".into()),
                None,
                Some("kept".into())
            ]
        );
    }
}
