//! Formatting what the tool writes with rustfmt, when there is one, so that a new project and
//! the stubs `update` adds are as `cargo fmt` leaves them. Without rustfmt, or if it fails,
//! the text stays as it was made (it compiles either way).

use std::{
    io::Write as _,
    process::{Command, Stdio},
};

/// `source` (a whole file) formatted, or unchanged when rustfmt is missing or fails.
pub(crate) fn file(source: &str) -> String {
    run(source).unwrap_or_else(|| source.to_owned())
}

/// `items` (associated items, as they go inside an `impl` block, indented by four spaces)
/// formatted in that place, or unchanged when rustfmt is missing or fails.
pub(crate) fn impl_items(items: &str) -> String {
    const OPEN: &str = "impl Formatting for Stubs {\n";
    let Some(formatted) = run(&format!("{OPEN}{items}}}\n")) else {
        return items.to_owned();
    };
    match formatted
        .strip_prefix(OPEN)
        .and_then(|rest| rest.strip_suffix("}\n"))
    {
        Some(inner) => inner.to_owned(),
        None => items.to_owned(),
    }
}

fn run(source: &str) -> Option<String> {
    let rustfmt = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let mut child = Command::new(rustfmt)
        .args(["--edition", "2024", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let input = source.to_owned();
    // Write from another thread: rustfmt may fill its stdout before it has read all of ours.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().ok()?;
    writer.join().ok()?.ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_rustfmt_cannot_parse_comes_back_unchanged() {
        assert_eq!(file("fn broken( {"), "fn broken( {");
        assert_eq!(impl_items("    fn broken( {\n"), "    fn broken( {\n");
    }

    #[test]
    fn items_are_formatted_in_place_when_rustfmt_is_there() {
        let messy = "    fn   f(&self)->u8{1}\n";
        let formatted = impl_items(messy);
        if run("fn main() {}\n").is_some() {
            assert_eq!(formatted, "    fn f(&self) -> u8 {\n        1\n    }\n");
        } else {
            assert_eq!(formatted, messy);
        }
    }
}
