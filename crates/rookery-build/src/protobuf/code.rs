//! A small writer of indented Rust source.

/// Rust source being written, four spaces per level.
#[derive(Default)]
pub(crate) struct Code {
    text: String,
    indent: usize,
}

impl Code {
    /// A line at the current indentation (an empty line stays empty).
    pub(crate) fn line(&mut self, line: impl AsRef<str>) {
        let line = line.as_ref();
        if !line.is_empty() {
            for _ in 0..self.indent {
                self.text.push_str("    ");
            }
            self.text.push_str(line);
        }
        self.text.push('\n');
    }

    /// A line that opens a block (it ends with `{`), indenting what follows.
    pub(crate) fn open(&mut self, line: impl AsRef<str>) {
        self.line(line);
        self.indent += 1;
    }

    /// Closes a block with `}` (or what `close` says: `},`, `});`).
    pub(crate) fn close_with(&mut self, close: &str) {
        self.indent -= 1;
        self.line(close);
    }

    /// A line between two blocks (`} else {`), at the indentation of the line that opened
    /// the first.
    pub(crate) fn middle(&mut self, line: &str) {
        self.indent -= 1;
        self.line(line);
        self.indent += 1;
    }

    /// Closes a block with `}`.
    pub(crate) fn close(&mut self) {
        self.close_with("}");
    }

    /// Doc comment lines from a `.proto` comment, made safe for rustdoc: code fences are
    /// marked as text, so that they are not run as doctests.
    pub(crate) fn doc(&mut self, comment: Option<&str>) {
        let Some(comment) = comment else { return };
        let mut in_fence = false;
        for line in comment.trim_end().lines().map(str::trim) {
            if line.is_empty() {
                self.line("///");
            } else if line.starts_with("```") {
                // An opening fence is marked as text; a closing one stays as it is.
                self.line(if in_fence { "/// ```" } else { "/// ```text" });
                in_fence = !in_fence;
            } else {
                self.line(format!("/// {line}"));
            }
        }
        if in_fence {
            self.line("/// ```");
        }
    }

    pub(crate) fn into_string(self) -> String {
        self.text
    }
}
