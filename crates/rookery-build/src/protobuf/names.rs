//! Rust names for Protobuf names: the conventions prost uses (snake case fields and modules,
//! upper camel case types), with keywords escaped.

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};

/// Words that are keywords in some edition; `r#` makes most of them usable.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where",
    "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv", "try",
    "typeof", "unsized", "virtual", "yield",
];

/// Keywords that cannot be raw identifiers: an underscore is added instead.
const NOT_RAW: &[&str] = &["self", "super", "crate", "Self", "extern", "_"];

/// An identifier usable in Rust for `name`.
pub(crate) fn escape(name: String) -> String {
    if NOT_RAW.contains(&name.as_str()) {
        format!("{name}_")
    } else if KEYWORDS.contains(&name.as_str()) {
        format!("r#{name}")
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name
    }
}

/// A field, method or module name: `snake_case`, escaped.
pub(crate) fn snake(name: &str) -> String {
    escape(name.to_snake_case())
}

/// A type or variant name: `UpperCamelCase`, escaped.
pub(crate) fn camel(name: &str) -> String {
    escape(name.to_upper_camel_case())
}

/// The names of an enum's values as constants: `COLOR_RED` in `enum Color` becomes `RED`
/// (prost strips the same prefix), unless stripping leaves nothing usable or two values with
/// one name.
pub(crate) fn enum_consts(enum_name: &str, values: &[&str]) -> Vec<String> {
    let prefix = format!("{}_", enum_name.to_shouty_snake_case());
    let stripped: Vec<String> = values
        .iter()
        .map(|v| match v.strip_prefix(&prefix) {
            Some(rest) if !rest.is_empty() && !rest.starts_with(|c: char| c.is_ascii_digit()) => {
                rest.to_string()
            }
            _ => v.to_string(),
        })
        .collect();
    let unique = {
        let mut seen = std::collections::HashSet::new();
        stripped.iter().all(|s| seen.insert(s.as_str()))
    };
    let names = if unique {
        stripped
    } else {
        values.iter().map(|v| v.to_string()).collect()
    };
    names
        .into_iter()
        .map(|n| if n == "Self" { "SELF_".to_string() } else { n })
        .collect()
}

/// A `"…"` Rust string literal for `s`.
pub(crate) fn string_literal(s: &str) -> String {
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prost() {
        assert_eq!(snake("fooBar"), "foo_bar");
        assert_eq!(snake("type"), "r#type");
        assert_eq!(snake("self"), "self_");
        assert_eq!(camel("foo_bar"), "FooBar");
        assert_eq!(camel("HTTPRequest"), "HttpRequest");
        assert_eq!(
            enum_consts("Color", &["COLOR_UNSPECIFIED", "COLOR_RED", "BLUE"]),
            ["UNSPECIFIED", "RED", "BLUE"]
        );
        assert_eq!(enum_consts("E", &["E_1", "E_X"]), ["E_1", "X"]);
        assert_eq!(enum_consts("E", &["E_A", "A"]), ["E_A", "A"]);
    }
}
