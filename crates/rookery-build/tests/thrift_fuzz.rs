//! No input panics the lexer, the parser or the resolver, and no nesting exhausts the stack:
//! nesting beyond the bounds is a clear error.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use rookery_build::{
    ErrorKind,
    thrift::{
        ast::Definition,
        lexer::{Lexer, TokenKind},
        parser::{MAX_NESTING, parse},
        resolve::{MAX_CONST_NODES, MAX_INCLUDE_DEPTH, MAX_RESOLVED_DEPTH, Program},
    },
};

/// A directory of its own for each test, under cargo's scratch directory.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("thrift_fuzz")
        .join(test);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Everything a loaded program offers, used on every definition: none of it may panic.
fn exercise(program: &Program) {
    for file in program.files() {
        for definition in &file.document.definitions {
            match definition {
                Definition::Const(c) => {
                    program.resolve_type(file.id, &c.ty);
                    program.const_value(file.id, &c.ty, &c.value).unwrap();
                    assert!(program.const_of(file.id, &c.name).is_some());
                }
                Definition::Typedef(t) => {
                    program.resolve_type(file.id, &t.ty);
                }
                Definition::Struct(s) => {
                    for field in &s.fields {
                        program.resolve_type(file.id, &field.ty);
                        if let Some(default) = &field.default {
                            program.const_value(file.id, &field.ty, default).unwrap();
                        }
                    }
                }
                Definition::Service(s) => {
                    let chain = program.service_chain(file.id, &s.name);
                    assert_eq!(chain.last().unwrap().1.name, s.name);
                    for (id, service) in chain {
                        for function in &service.functions {
                            if let Some(returns) = &function.returns {
                                program.resolve_type(id, returns);
                            }
                        }
                    }
                }
                Definition::Enum(_) => {}
            }
        }
    }
}

#[test]
fn types_nest_at_most_max_nesting_deep() {
    let deep = |n: usize| format!("typedef {}i32{} T", "list<".repeat(n), ">".repeat(n));
    // MAX_NESTING levels: MAX_NESTING - 1 lists around an i32.
    parse("deep.thrift", &deep(MAX_NESTING - 1)).unwrap();
    let error = parse("deep.thrift", &deep(MAX_NESTING)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NestingTooDeep);
    assert_eq!(
        error.first().to_string().lines().next().unwrap(),
        "deep.thrift:1:329: types nest deeper than 64 levels"
    );
    // Far deeper input gives the same error, not a stack overflow.
    let error = parse("deep.thrift", &deep(1_000_000)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NestingTooDeep);
}

#[test]
fn values_nest_at_most_max_nesting_deep() {
    let deep = |n: usize| format!("const i32 X = {}{}", "[".repeat(n), "]".repeat(n));
    parse("deep.thrift", &deep(MAX_NESTING)).unwrap();
    let error = parse("deep.thrift", &deep(MAX_NESTING + 1)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NestingTooDeep);
    assert_eq!(
        error.first().message(),
        "constant values nest deeper than 64 levels"
    );
    assert_eq!(
        error.first().span().unwrap().column,
        15 + MAX_NESTING as u32
    );
    let error = parse(
        "deep.thrift",
        &format!("const i32 X = {}", "{1: ".repeat(1_000_000)),
    )
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NestingTooDeep);
}

#[test]
fn typedefs_nest_at_most_max_resolved_depth_deep() {
    let dir = scratch("typedefs");
    let mut source = String::from("typedef list<i32> T0\n");
    for i in 1..=MAX_RESOLVED_DEPTH {
        source.push_str(&format!("typedef list<T{}> T{i}\n", i - 1));
    }
    let path = dir.join("typedefs.thrift");
    std::fs::write(&path, &source).unwrap();
    let error = Program::load(&path, &[]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NestingTooDeep);
    assert!(
        error.first().message().ends_with(&format!(
            "nests deeper than {MAX_RESOLVED_DEPTH} levels once its typedefs are followed"
        )),
        "{error}"
    );
}

#[test]
fn long_chains_of_constants() {
    let dir = scratch("constants");
    // In order, any length is fine: each names one already known.
    let mut source = String::from("const i32 C0 = 1\n");
    for i in 1..10_000 {
        source.push_str(&format!("const i32 C{i} = C{}\n", i - 1));
    }
    let path = dir.join("forward.thrift");
    std::fs::write(&path, &source).unwrap();
    let program = Program::load(&path, &[]).unwrap();
    assert_eq!(
        program.const_of(0, "C9999"),
        Some(&rookery_build::thrift::resolve::Value::Int(1))
    );

    // Named before they are defined, the chain is followed at most MAX_RESOLVED_DEPTH deep.
    let mut source = String::new();
    for i in 0..1_000 {
        source.push_str(&format!("const i32 C{i} = C{}\n", i + 1));
    }
    source.push_str("const i32 C1000 = 1\n");
    let path = dir.join("backward.thrift");
    std::fs::write(&path, &source).unwrap();
    let error = Program::load(&path, &[]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NestingTooDeep);
    assert_eq!(
        error.first().message(),
        format!("constants name constants more than {MAX_RESOLVED_DEPTH} deep")
    );

    // Values that double at each step are stopped before they fill the memory.
    let mut source = String::from("typedef list<i32> L0\nconst L0 D0 = [1, 1]\n");
    for i in 1..40 {
        source.push_str(&format!(
            "typedef list<L{}> L{i}\nconst L{i} D{i} = [D{}, D{}]\n",
            i - 1,
            i - 1,
            i - 1
        ));
    }
    let path = dir.join("doubling.thrift");
    std::fs::write(&path, &source).unwrap();
    let error = Program::load(&path, &[]).unwrap_err();
    assert!(
        error
            .diagnostics()
            .iter()
            .any(|d| d.kind() == ErrorKind::NestingTooDeep
                && d.message().contains(&MAX_CONST_NODES.to_string())),
        "{error}"
    );
}

#[test]
fn include_chains_are_bounded() {
    let dir = scratch("includes");
    let files = MAX_INCLUDE_DEPTH + 5;
    for i in 0..files {
        let text = if i + 1 < files {
            format!("include \"f{}.thrift\"\n", i + 1)
        } else {
            String::new()
        };
        std::fs::write(dir.join(format!("f{i}.thrift")), text).unwrap();
    }
    let error = Program::load(dir.join("f0.thrift"), &[]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NestingTooDeep);
    assert_eq!(
        error.first().message(),
        format!("includes nest deeper than {MAX_INCLUDE_DEPTH} files")
    );
    // Within the bound, a chain loads.
    let program = Program::load(
        dir.join(format!("f{}.thrift", files - MAX_INCLUDE_DEPTH)),
        &[],
    );
    assert_eq!(program.unwrap().files().len(), MAX_INCLUDE_DEPTH);
}

/// Pieces of Thrift, so that random input gets deep into the parser rather than stopping at
/// its first character.
const PIECES: &[&str] = &[
    "struct",
    "union",
    "exception",
    "service",
    "enum",
    "const",
    "typedef",
    "include",
    "namespace",
    "cpp_include",
    "extends",
    "throws",
    "oneway",
    "async",
    "void",
    "required",
    "optional",
    "bool",
    "byte",
    "i8",
    "i16",
    "i32",
    "i64",
    "double",
    "string",
    "binary",
    "uuid",
    "list",
    "set",
    "map",
    "true",
    "false",
    "senum",
    "slist",
    "xsd_all",
    "xsd_attrs",
    "cpp_type",
    "A",
    "B",
    "shared.A",
    "A.X",
    "X",
    "1",
    "-1",
    "0x1F",
    "1.5e3",
    "99999999999999999999",
    "\"s\"",
    "'t'",
    "\"a\\qb\"",
    "\"open",
    ":",
    ";",
    ",",
    "{",
    "}",
    "(",
    ")",
    "=",
    "<",
    ">",
    "[",
    "]",
    "*",
    "&",
    "/** doc */",
    "/// doc\n",
    "// c\n",
    "# c\n",
    "/* c */",
    "/* open",
    "\n",
    " ",
    "\t",
    "@",
    "-",
    ".",
    "é",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..80).prop_map(|pieces| {
        let mut text = String::new();
        for piece in pieces {
            text.push_str(piece);
            text.push(' ');
        }
        text
    })
}

/// A reference to one of the (at most 12) definitions, which may come before or after it,
/// be itself, be of any kind, or not exist.
fn reference() -> impl Strategy<Value = String> {
    (0..14usize).prop_map(|i| format!("N{i}"))
}

fn type_name() -> impl Strategy<Value = String> {
    let base = prop::sample::select(
        &[
            "i32", "i8", "i64", "string", "binary", "uuid", "double", "bool",
        ][..],
    )
    .prop_map(str::to_owned);
    let leaf = prop_oneof![3 => base, 2 => reference()];
    leaf.prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| format!("list<{t}>")),
            inner.clone().prop_map(|t| format!("set<{t}>")),
            (inner.clone(), inner).prop_map(|(k, v)| format!("map<{k}, {v}>")),
        ]
    })
}

fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        prop::sample::select(
            &[
                "1",
                "-1",
                "0",
                "300",
                "2147483648",
                "1.5",
                "true",
                "\"s\"",
                "\"00112233-4455-6677-8899-aabbccddeeff\"",
                "{}",
            ][..],
        )
        .prop_map(str::to_owned),
        reference(),
        (reference(), prop::sample::select(&["X", "Y", "Z", "W"][..]))
            .prop_map(|(r, v)| format!("{r}.{v}")),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec((inner.clone(), inner), 0..3).prop_map(|v| {
                let entries: Vec<String> = v.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", entries.join(", "))
            }),
            prop::sample::select(&["x", "y"][..]).prop_map(|f| format!("{{\"{f}\": 1}}")),
        ]
    })
}

/// One definition, its name left as `@`: it is named `N{i}` by its place.
fn definition() -> impl Strategy<Value = String> {
    prop_oneof![
        type_name().prop_map(|t| format!("typedef {t} @")),
        (type_name(), value()).prop_map(|(t, v)| format!("const {t} @ = {v}")),
        (-3i64..3).prop_map(|v| format!("enum @ {{ X, Y = {v}, Z }}")),
        (type_name(), value(), type_name())
            .prop_map(|(t, v, u)| format!("struct @ {{ 1: {t} x = {v}, 2: optional {u} y }}")),
        type_name().prop_map(|t| format!("union @ {{ 1: {t} x, 2: i32 y }}")),
        Just("exception @ { 1: string m }".to_owned()),
        (
            prop::option::of(reference()),
            any::<bool>(),
            prop::option::of(type_name()),
            type_name(),
            prop::option::of(type_name()),
        )
            .prop_map(|(base, oneway, ret, arg, thrown)| {
                let extends = base.map(|b| format!(" extends {b}")).unwrap_or_default();
                let oneway = if oneway { "oneway " } else { "" };
                let ret = ret.unwrap_or_else(|| "void".into());
                let throws = thrown
                    .map(|t| format!(" throws (1: {t} e)"))
                    .unwrap_or_default();
                format!("service @{extends} {{ {oneway}{ret} f@(1: {arg} a){throws} }}")
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_lexer_never_panics(text in any::<String>()) {
        let mut lexer = Lexer::new(PathBuf::from("fuzz.thrift").into(), &text);
        for _ in 0..text.len() + 1 {
            match lexer.next_token() {
                Ok(token) if token.kind == TokenKind::Eof => break,
                Ok(_) => {}
                Err(error) => {
                    prop_assert!(error.first().span().is_some());
                    break;
                }
            }
        }
    }

    #[test]
    fn the_parser_never_panics_on_any_text(text in any::<String>()) {
        if let Err(error) = parse("fuzz.thrift", &text) {
            // Every syntax error points somewhere and renders.
            prop_assert!(error.first().span().is_some());
            prop_assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn the_parser_never_panics_on_thrift_soup(text in soup()) {
        if let Err(error) = parse("fuzz.thrift", &text) {
            prop_assert!(error.first().span().is_some());
            prop_assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn the_resolver_never_panics(definitions in prop::collection::vec(definition(), 0..12)) {
        let dir = scratch("resolver");
        let path = dir.join("fuzz.thrift");
        let text: Vec<String> = definitions
            .iter()
            .enumerate()
            .map(|(i, d)| d.replace('@', &format!("N{i}")))
            .collect();
        std::fs::write(&path, text.join("\n")).unwrap();
        match Program::load(&path, &[]) {
            // A program that loaded is fully usable.
            Ok(program) => exercise(&program),
            Err(error) => {
                for diagnostic in error.diagnostics() {
                    prop_assert!(diagnostic.span().is_some(), "{}", diagnostic);
                }
            }
        }
    }
}
