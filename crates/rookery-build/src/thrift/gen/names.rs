//! Rust names for IDL names: types in `UpperCamelCase`, fields, methods and modules in
//! `snake_case`, constants and enum values in `SHOUTY_SNAKE_CASE`, keywords escaped.

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span};

/// Words Rust reserves in some edition: written as raw identifiers (`r#type`).
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Words that cannot even be raw identifiers: a `_` is appended.
const UNRAWABLE: &[&str] = &["crate", "self", "Self", "super", "_"];

/// An identifier for `name`, escaped if it is a keyword.
pub(crate) fn ident(name: &str) -> Ident {
    if UNRAWABLE.contains(&name) {
        Ident::new(&format!("{name}_"), Span::call_site())
    } else if KEYWORDS.contains(&name) {
        Ident::new_raw(name, Span::call_site())
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        Ident::new(&format!("_{name}"), Span::call_site())
    } else {
        Ident::new(name, Span::call_site())
    }
}

/// `snake_case` of an IDL name (fields, arguments, methods, modules). Names that are already
/// snake case are kept as written, so `i32_thing` stays `i32_thing`.
pub(crate) fn snake(name: &str) -> String {
    let trimmed = name.trim_matches('_');
    if trimmed.is_empty() {
        return "field".to_string();
    }
    if trimmed
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return trimmed.to_string();
    }
    trimmed.to_snake_case()
}

/// `UpperCamelCase` of an IDL name (types, variants).
pub(crate) fn camel(name: &str) -> String {
    let out = name.to_upper_camel_case();
    if out.is_empty() {
        "Unnamed".to_string()
    } else {
        out
    }
}

/// `SHOUTY_SNAKE_CASE` of an IDL name (constants, enum values).
pub(crate) fn shouty(name: &str) -> String {
    let out = name.to_shouty_snake_case();
    if out.is_empty() {
        "VALUE".to_string()
    } else {
        out
    }
}

/// The identifier of a field or argument.
pub(crate) fn field_ident(name: &str) -> Ident {
    ident(&snake(name))
}

/// The identifier of a type.
pub(crate) fn type_ident(name: &str) -> Ident {
    ident(&camel(name))
}

/// The identifier of a constant or enum value.
pub(crate) fn const_ident(name: &str) -> Ident {
    ident(&shouty(name))
}

/// A plain identifier that is known not to be a keyword.
pub(crate) fn raw(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        assert_eq!(snake("i32_thing"), "i32_thing");
        assert_eq!(snake("testI32"), "test_i32");
        assert_eq!(snake("userMap"), "user_map");
        assert_eq!(snake("secondsToSleep"), "seconds_to_sleep");
        assert_eq!(snake("errorCode"), "error_code");
        assert_eq!(snake("b1000"), "b1000");
        assert_eq!(camel("Xtruct2"), "Xtruct2");
        assert_eq!(camel("testMultiException"), "TestMultiException");
        assert_eq!(camel("err1"), "Err1");
        assert_eq!(shouty("myNumberz"), "MY_NUMBERZ");
        assert_eq!(shouty("ONE"), "ONE");
        assert_eq!(shouty("lightBlue"), "LIGHT_BLUE");
    }

    #[test]
    fn keywords_are_escaped() {
        assert_eq!(ident("type").to_string(), "r#type");
        assert_eq!(ident("gen").to_string(), "r#gen");
        assert_eq!(ident("self").to_string(), "self_");
        assert_eq!(ident("name").to_string(), "name");
    }
}
