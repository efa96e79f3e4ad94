//! Errors a person can act on: every error names the file, line and column, says what was
//! expected and what was found, and shows the line with a caret under the column. Golden
//! strings: a change to a message shows up here.

use std::path::PathBuf;

use rookery_build::{
    ErrorKind, Severity,
    thrift::{parser::parse, resolve::Program},
};

/// Parses `source` as `idl.thrift` and checks the one error it gives, whole.
#[track_caller]
fn syntax(kind: ErrorKind, source: &str, expected: &str) {
    let error = parse("idl.thrift", source).unwrap_err();
    assert_eq!(
        error.to_string(),
        expected.strip_prefix('\n').unwrap_or(expected)
    );
    assert_eq!(error.diagnostics().len(), 1);
    assert_eq!(error.kind(), kind, "{error}");
}

/// Loads `tests/idl/thrift/errors/{name}` and checks every error it gives, whole, and their
/// kinds.
#[track_caller]
fn semantic(name: &str, include_dirs: &[&str], kinds: &[ErrorKind], expected: &str) {
    let dirs: Vec<PathBuf> = include_dirs.iter().map(PathBuf::from).collect();
    let error = Program::load(format!("tests/idl/thrift/errors/{name}"), &dirs).unwrap_err();
    assert_eq!(
        error.to_string(),
        expected.strip_prefix('\n').unwrap_or(expected)
    );
    let found: Vec<ErrorKind> = error.diagnostics().iter().map(|d| d.kind()).collect();
    assert_eq!(found, kinds);
    assert!(
        error
            .diagnostics()
            .iter()
            .all(|d| d.severity() == Severity::Error)
    );
}

/// What was expected, and what was found instead.
#[test]
fn expected_and_found() {
    syntax(
        ErrorKind::Syntax,
        "struct Echo {\n  1: required }\n",
        r#"
idl.thrift:2:15: expected a field type, found '}'
  |
2 |   1: required }
  |               ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "struct A { 1: i32 }\n",
        r#"
idl.thrift:1:19: expected a field name, found '}'
  |
1 | struct A { 1: i32 }
  |                   ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "struct A { 1: void v }\n",
        r#"
idl.thrift:1:15: expected a field type, found keyword 'void' (only a function returns void)
  |
1 | struct A { 1: void v }
  |               ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "typedef map<string i32> M\n",
        r#"
idl.thrift:1:20: expected ',' between the key and value types of the map, found keyword 'i32'
  |
1 | typedef map<string i32> M
  |                    ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "struct A { 1: list<i32 a }\n",
        r#"
idl.thrift:1:24: expected '>' to close 'list<', found identifier 'a'
  |
1 | struct A { 1: list<i32 a }
  |                        ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "const i32 X 5\n",
        r#"
idl.thrift:1:13: expected '=' and the value of 'X', found integer 5
  |
1 | const i32 X 5
  |             ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "const i32 X = }\n",
        r#"
idl.thrift:1:15: expected a value (a number, a string, true, false, a constant, [a list] or {a map}), found '}'
  |
1 | const i32 X = }
  |               ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "const map<i32, i32> M = {1 2}\n",
        r#"
idl.thrift:1:28: expected ':' between a key and its value, found integer 2
  |
1 | const map<i32, i32> M = {1 2}
  |                            ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "enum E { A = B }\n",
        r#"
idl.thrift:1:14: expected an integer for 'E.A', found identifier 'B'
  |
1 | enum E { A = B }
  |              ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "strct A {}\n",
        r#"
idl.thrift:1:1: expected a definition (const, typedef, enum, struct, union, exception or service), found identifier 'strct'
  |
1 | strct A {}
  | ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "service S { void f }\n",
        r#"
idl.thrift:1:20: expected '(' and the arguments of 'f', found '}'
  |
1 | service S { void f }
  |                    ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "service S { oneway }\n",
        r#"
idl.thrift:1:20: expected the return type of the oneway function ('void'), found '}'
  |
1 | service S { oneway }
  |                    ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "namespace rs\n",
        r#"
idl.thrift:1:13: expected a namespace name after 'namespace rs', found the end of the file
  |
1 | namespace rs
  |             ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "struct A {} (a = b)\n",
        r#"
idl.thrift:1:18: expected the value of annotation 'a', in quotes, found identifier 'b'
  |
1 | struct A {} (a = b)
  |                  ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "include shared\n",
        r#"
idl.thrift:1:9: expected the path of the file after 'include', in quotes, found identifier 'shared'
  |
1 | include shared
  |         ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "struct list {}\n",
        r#"
idl.thrift:1:8: expected the name of the struct, found keyword 'list' (a keyword cannot be a name)
  |
1 | struct list {}
  |        ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "struct a.b {}\n",
        r#"
idl.thrift:1:8: expected the name of the struct, found 'a.b': a name cannot contain '.'
  |
1 | struct a.b {}
  |        ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "struct A {}\ninclude \"b.thrift\"\n",
        r#"
idl.thrift:2:1: 'include' is not allowed after a definition: includes, cpp_includes and namespaces come before the first definition (line 1)
  |
2 | include "b.thrift"
  | ^"#,
    );
}

/// A file that ends too soon is pointed at right after its last token.
#[test]
fn the_end_of_the_file() {
    syntax(
        ErrorKind::Syntax,
        "struct A {\n  1: i32 a\n",
        r#"
idl.thrift:2:11: expected a field or '}' to close struct 'A' (opened at line 1), found the end of the file
  |
2 |   1: i32 a
  |           ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "const list<i32> L = [1, 2\n",
        r#"
idl.thrift:1:26: expected a value or ']' to close the list opened at line 1, found the end of the file
  |
1 | const list<i32> L = [1, 2
  |                          ^"#,
    );
}

/// Tokens that are not tokens.
#[test]
fn bad_tokens() {
    syntax(
        ErrorKind::Syntax,
        "const string S = \"abc\nconst i32 X = 1\n",
        r#"
idl.thrift:1:18: this string is never closed: expected '"' before the end of the line (strings cannot span lines)
  |
1 | const string S = "abc
  |                  ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "const string S = 'a\\qb'\n",
        r#"
idl.thrift:1:20: expected an escape (\n, \r, \t, \", \' or \\), found '\q'
  |
1 | const string S = 'a\qb'
  |                    ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "const string S = \"\\",
        r#"
idl.thrift:1:19: expected an escape (\n, \r, \t, \", \' or \\), found the end of the file
  |
1 | const string S = "\
  |                   ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "struct A {}\n/* never closed\n",
        r#"
idl.thrift:2:1: this comment is never closed: expected '*/' before the end of the file
  |
2 | /* never closed
  | ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "struct A { 1: i32 a @ }\n",
        r#"
idl.thrift:1:21: unexpected character '@'
  |
1 | struct A { 1: i32 a @ }
  |                     ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "const i32 X = -\n",
        r#"
idl.thrift:1:15: unexpected character '-': a sign must be followed by digits
  |
1 | const i32 X = -
  |               ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "struct A { 1: i32 a. }\n",
        r#"
idl.thrift:1:20: unexpected character '.': a dot must join two parts of a name, or come before digits
  |
1 | struct A { 1: i32 a. }
  |                    ^"#,
    );
    syntax(
        ErrorKind::Syntax,
        "struct A { 1abc: i32 a }\n",
        r#"
idl.thrift:1:12: '1abc' is not a number (nor a name: names start with a letter or '_')
  |
1 | struct A { 1abc: i32 a }
  |            ^"#,
    );
}

/// Numbers that do not fit where they are written.
#[test]
fn numbers_out_of_range() {
    syntax(
        ErrorKind::OutOfRange,
        "const i64 BIG = 99999999999999999999\n",
        r#"
idl.thrift:1:17: the integer 99999999999999999999 is out of range: integers are 64-bit (-9223372036854775808 to 9223372036854775807)
  |
1 | const i64 BIG = 99999999999999999999
  |                 ^"#,
    );
    syntax(
        ErrorKind::OutOfRange,
        "const i64 X = 0x8000000000000000\n",
        r#"
idl.thrift:1:15: the integer 0x8000000000000000 is out of range: integers are 64-bit (-9223372036854775808 to 9223372036854775807)
  |
1 | const i64 X = 0x8000000000000000
  |               ^"#,
    );
    syntax(
        ErrorKind::OutOfRange,
        "struct A { 40000: i32 a }\n",
        r#"
idl.thrift:1:12: field id 40000 is out of range: field ids go from 1 to 32767
  |
1 | struct A { 40000: i32 a }
  |            ^"#,
    );
    syntax(
        ErrorKind::OutOfRange,
        "enum E { A = 4294967296 }\n",
        r#"
idl.thrift:1:14: 4294967296 is out of range for 'E.A': enum values are 32-bit (-2147483648 to 2147483647)
  |
1 | enum E { A = 4294967296 }
  |              ^"#,
    );
    syntax(
        ErrorKind::OutOfRange,
        "enum E { A = 2147483647, B }\n",
        r#"
idl.thrift:1:26: 'E.B' would be 2147483648, past the largest enum value (2147483647): give it a value
  |
1 | enum E { A = 2147483647, B }
  |                          ^"#,
    );
}

/// Syntax Apache Thrift dropped, with what to write instead.
#[test]
fn syntax_thrift_no_longer_has() {
    syntax(
        ErrorKind::Unsupported,
        "php_namespace Foo\n",
        r#"
idl.thrift:1:1: 'php_namespace' is no longer supported: write 'namespace php NAME'
  |
1 | php_namespace Foo
  | ^"#,
    );
    syntax(
        ErrorKind::Unsupported,
        "senum S { \"a\" }\n",
        r#"
idl.thrift:1:1: 'senum' was removed from Thrift: use an enum, or a string
  |
1 | senum S { "a" }
  | ^"#,
    );
    syntax(
        ErrorKind::Unsupported,
        "struct A { 1: slist s }\n",
        r#"
idl.thrift:1:15: 'slist' was removed from Thrift: use 'string'
  |
1 | struct A { 1: slist s }
  |               ^"#,
    );
}

/// Tabs before the column stay tabs under it.
#[test]
fn tabs_keep_the_caret_aligned() {
    syntax(
        ErrorKind::Syntax,
        "struct A {\n\t1:\ti32\t}\n",
        "idl.thrift:2:9: expected a field name, found '}'\n  |\n2 | \t1:\ti32\t}\n  | \t  \t   \t^",
    );
}

/// Unknown types, with where they were looked for; several errors come together.
#[test]
fn unknown_type() {
    semantic(
        "unknown_type.thrift",
        &[],
        &[
            ErrorKind::UnknownType,
            ErrorKind::UnknownType,
            ErrorKind::UnknownType,
            ErrorKind::UnknownType,
            ErrorKind::UnknownType,
        ],
        r#"
tests/idl/thrift/errors/unknown_type.thrift:4:6: unknown type 'Customer' (looked in tests/idl/thrift/errors/unknown_type.thrift)
  |
4 |   1: Customer customer
  |      ^

tests/idl/thrift/errors/unknown_type.thrift:5:6: unknown type 'shared.Paylod' (looked in tests/idl/thrift/errors/../inc/shared.thrift, included as 'shared')
  |
5 |   2: shared.Paylod payload
  |      ^

tests/idl/thrift/errors/unknown_type.thrift:6:6: unknown type 'nope.Thing': tests/idl/thrift/errors/unknown_type.thrift includes no file named 'nope' (it includes 'shared')
  |
6 |   3: nope.Thing thing
  |      ^

tests/idl/thrift/errors/unknown_type.thrift:7:23: unknown type 'Missing' (looked in tests/idl/thrift/errors/unknown_type.thrift)
  |
7 |   4: list<map<string, Missing>> nested
  |                       ^

tests/idl/thrift/errors/unknown_type.thrift:8:6: unknown type 'Payload' (looked in tests/idl/thrift/errors/unknown_type.thrift); did you mean 'shared.Payload'?
  |
8 |   5: Payload unqualified
  |      ^

5 errors"#,
    );
}

/// A constant or a service where a type should be.
#[test]
fn not_a_type() {
    semantic(
        "not_a_type.thrift",
        &[],
        &[ErrorKind::NotAType, ErrorKind::NotAType],
        r#"
tests/idl/thrift/errors/not_a_type.thrift:5:6: 'LIMIT' is a const, not a type
  |
5 |   1: LIMIT limit
  |      ^

tests/idl/thrift/errors/not_a_type.thrift:6:6: 'Echo' is a service, not a type
  |
6 |   2: Echo echo
  |      ^

2 errors"#,
    );
}

/// Definitions that share a name, whatever their kinds.
#[test]
fn duplicate_definition() {
    semantic(
        "duplicate_definition.thrift",
        &[],
        &[
            ErrorKind::DuplicateDefinition,
            ErrorKind::DuplicateDefinition,
        ],
        r#"
tests/idl/thrift/errors/duplicate_definition.thrift:2:6: 'Thing' is already defined, as a struct at line 1
  |
2 | enum Thing { A }
  |      ^

tests/idl/thrift/errors/duplicate_definition.thrift:3:11: 'Thing' is already defined, as a struct at line 1
  |
3 | const i32 Thing = 1
  |           ^

2 errors"#,
    );
}

/// Fields, arguments and exceptions that share an id or a name.
#[test]
fn duplicate_field() {
    semantic(
        "duplicate_field.thrift",
        &[],
        &[
            ErrorKind::DuplicateFieldId,
            ErrorKind::DuplicateField,
            ErrorKind::DuplicateFieldId,
            ErrorKind::DuplicateFieldId,
        ],
        r#"
tests/idl/thrift/errors/duplicate_field.thrift:5:10: field id 1 of 'right' is already used by 'left' (line 4) in struct 'Pair'
  |
5 |   1: i32 right
  |          ^

tests/idl/thrift/errors/duplicate_field.thrift:6:13: struct 'Pair' already has a field named 'left' (line 4)
  |
6 |   2: string left
  |             ^

tests/idl/thrift/errors/duplicate_field.thrift:10:30: field id 1 of 'b' is already used by 'a' (line 10) in the arguments of 'call'
   |
10 |   void call(1: i32 a, 1: i32 b) throws (1: Oops first, 1: Oops second)
   |                              ^

tests/idl/thrift/errors/duplicate_field.thrift:10:64: field id 1 of 'second' is already used by 'first' (line 10) in the exceptions of 'call'
   |
10 |   void call(1: i32 a, 1: i32 b) throws (1: Oops first, 1: Oops second)
   |                                                                ^

4 errors"#,
    );
}

/// Enum values that share a name.
#[test]
fn duplicate_enum_value() {
    semantic(
        "duplicate_enum_value.thrift",
        &[],
        &[ErrorKind::DuplicateEnumValue],
        r#"
tests/idl/thrift/errors/duplicate_enum_value.thrift:4:3: enum 'Color' already has a value named 'RED' (line 2)
  |
4 |   RED = 7,
  |   ^"#,
    );
}

/// Functions that share a name, in a service or with a service it extends.
#[test]
fn duplicate_function() {
    semantic(
        "duplicate_function.thrift",
        &[],
        &[ErrorKind::DuplicateFunction, ErrorKind::DuplicateFunction],
        r#"
tests/idl/thrift/errors/duplicate_function.thrift:7:8: service 'Child' already has a function named 'pong' (line 6)
  |
7 |   void pong(1: i32 twice)
  |        ^

tests/idl/thrift/errors/duplicate_function.thrift:8:8: function 'ping' is already defined by service 'Base' (tests/idl/thrift/errors/duplicate_function.thrift:2:8), which 'Child' extends
  |
8 |   void ping()
  |        ^

2 errors"#,
    );
}

/// Constant values that do not fit their types, each pointed at where it is written.
#[test]
fn const_type() {
    semantic(
        "const_type.thrift",
        &[],
        &[
            ErrorKind::ConstType,
            ErrorKind::ConstType,
            ErrorKind::ConstType,
            ErrorKind::ConstType,
            ErrorKind::ConstType,
            ErrorKind::ConstType,
            ErrorKind::ConstType,
            ErrorKind::ConstType,
            ErrorKind::ConstType,
            ErrorKind::ConstType,
            ErrorKind::ConstType,
            ErrorKind::ConstType,
        ],
        r#"
tests/idl/thrift/errors/const_type.thrift:4:19: expected an i32, found the string "ten"
  |
4 | const i32 COUNT = "ten"
  |                   ^

tests/idl/thrift/errors/const_type.thrift:5:18: 2147483648 is out of range for i32 (-2147483648 to 2147483647)
  |
5 | const i32 WIDE = 2147483648
  |                  ^

tests/idl/thrift/errors/const_type.thrift:6:20: 300 is out of range for i8 (-128 to 127)
  |
6 | const byte SMALL = 300
  |                    ^

tests/idl/thrift/errors/const_type.thrift:7:19: -40000 is out of range for i16 (-32768 to 32767)
  |
7 | const i16 SHORT = -40000
  |                   ^

tests/idl/thrift/errors/const_type.thrift:8:19: expected an i64, found the number 1.5
  |
8 | const i64 WHOLE = 1.5
  |                   ^

tests/idl/thrift/errors/const_type.thrift:9:31: 128 is out of range for i8 (-128 to 127)
  |
9 | const list<i8> BYTES = [1, 2, 128]
  |                               ^

tests/idl/thrift/errors/const_type.thrift:10:42: expected a string, found the integer 2
   |
10 | const map<string, i32> LIMITS = {"a": 1, 2: 2}
   |                                          ^

tests/idl/thrift/errors/const_type.thrift:11:27: 3 is not a value of enum 'Color' (its values: RED = 1, GREEN = 2)
   |
11 | const Color NOT_A_COLOR = 3
   |                           ^

tests/idl/thrift/errors/const_type.thrift:12:31: struct 'Point' has no field 'z' (its fields: x, y)
   |
12 | const Point ORIGIN = {"x": 0, "z": 0}
   |                               ^

tests/idl/thrift/errors/const_type.thrift:13:20: constant 'COUNT_OK': 1000 is out of range for i8 (-128 to 127)
   |
13 | const i8 TOO_BIG = COUNT_OK
   |                    ^

tests/idl/thrift/errors/const_type.thrift:15:17: expected a uuid ("00112233-4455-6677-8899-aabbccddeeff"), found the string "not-a-uuid"
   |
15 | const uuid ID = "not-a-uuid"
   |                 ^

tests/idl/thrift/errors/const_type.thrift:16:20: expected a bool, found the integer 2
   |
16 | const bool MAYBE = 2
   |                    ^

12 errors"#,
    );
}

/// Names in values that name no constant or enum value.
#[test]
fn unknown_const() {
    semantic(
        "unknown_const.thrift",
        &[],
        &[
            ErrorKind::UnknownConst,
            ErrorKind::UnknownConst,
            ErrorKind::UnknownConst,
            ErrorKind::UnknownConst,
            ErrorKind::UnknownConst,
            ErrorKind::UnknownConst,
        ],
        r#"
tests/idl/thrift/errors/unknown_const.thrift:5:15: unknown constant 'NOPE' (looked in tests/idl/thrift/errors/unknown_const.thrift)
  |
5 | const i32 A = NOPE
  |               ^

tests/idl/thrift/errors/unknown_const.thrift:6:19: unknown constant 'ONE' (looked in tests/idl/thrift/errors/unknown_const.thrift); did you mean 'Numberz.ONE'?
  |
6 | const Numberz B = ONE
  |                   ^

tests/idl/thrift/errors/unknown_const.thrift:7:19: enum 'Numberz' has no value 'TEN' (its values: ONE, TWO)
  |
7 | const Numberz C = Numberz.TEN
  |                   ^

tests/idl/thrift/errors/unknown_const.thrift:8:15: unknown constant 'shared.MIN' (looked in tests/idl/thrift/errors/../inc/shared.thrift, included as 'shared')
  |
8 | const i32 D = shared.MIN
  |               ^

tests/idl/thrift/errors/unknown_const.thrift:9:18: 'Numberz' is an enum, not a constant or an enum value
  |
9 | const string E = Numberz
  |                  ^

tests/idl/thrift/errors/unknown_const.thrift:11:15: 'Point.X' names nothing: 'Point' is a struct, not an enum
   |
11 | const i32 F = Point.X
   |               ^

6 errors"#,
    );
}

/// `throws` of something that is not an exception (a typedef of one is fine).
#[test]
fn not_an_exception() {
    semantic(
        "not_an_exception.thrift",
        &[],
        &[ErrorKind::NotAnException, ErrorKind::NotAnException],
        r#"
tests/idl/thrift/errors/not_an_exception.thrift:6:23: 'Plain' is a struct, not an exception: 'a' can only throw exceptions
  |
6 |   void a() throws (1: Plain plain)
  |                       ^

tests/idl/thrift/errors/not_an_exception.thrift:7:43: 'i32' is not an exception: 'b' can only throw exceptions
  |
7 |   void b() throws (1: Alias alias, 2: i32 code)
  |                                           ^

2 errors"#,
    );
}

/// A oneway function that returns something or throws.
#[test]
fn oneway() {
    semantic(
        "oneway.thrift",
        &[],
        &[ErrorKind::Oneway, ErrorKind::Oneway],
        r#"
tests/idl/thrift/errors/oneway.thrift:4:14: oneway function 'count' must return void, not i32: its caller never hears back
  |
4 |   oneway i32 count()
  |              ^

tests/idl/thrift/errors/oneway.thrift:5:40: oneway function 'forget' cannot throw: its caller never hears back
  |
5 |   oneway void forget() throws (1: Oops oops)
  |                                        ^

2 errors"#,
    );
}

/// `extends` of something that is not a service, of nothing, and in a circle (told once).
#[test]
fn extends() {
    semantic(
        "extends.thrift",
        &[],
        &[
            ErrorKind::NotAService,
            ErrorKind::UnknownService,
            ErrorKind::ExtendsCycle,
            ErrorKind::ExtendsCycle,
        ],
        r#"
tests/idl/thrift/errors/extends.thrift:3:19: 'NotAService' is a struct, not a service: only a service can be extended
  |
3 | service A extends NotAService {}
  |                   ^

tests/idl/thrift/errors/extends.thrift:4:19: unknown service 'Missing' (looked in tests/idl/thrift/errors/extends.thrift)
  |
4 | service B extends Missing {}
  |                   ^

tests/idl/thrift/errors/extends.thrift:5:19: services extend each other in a cycle: 'C' -> 'D' -> 'C'
  |
5 | service C extends D {}
  |                   ^

tests/idl/thrift/errors/extends.thrift:7:19: service 'E' extends itself
  |
7 | service E extends E {}
  |                   ^

4 errors"#,
    );
}

/// Typedefs that name each other in a circle (told once, at the first).
#[test]
fn typedef_cycle() {
    semantic(
        "typedef_cycle.thrift",
        &[],
        &[ErrorKind::TypedefCycle, ErrorKind::TypedefCycle],
        r#"
tests/idl/thrift/errors/typedef_cycle.thrift:1:16: typedef cycle: 'First' -> 'Second' -> 'First'
  |
1 | typedef Second First
  |                ^

tests/idl/thrift/errors/typedef_cycle.thrift:3:16: typedef cycle: 'Itself' names itself
  |
3 | typedef Itself Itself
  |                ^

2 errors"#,
    );
}

/// Constants whose values name each other in a circle.
#[test]
fn const_cycle() {
    semantic(
        "const_cycle.thrift",
        &[],
        &[ErrorKind::ConstCycle, ErrorKind::ConstCycle],
        r#"
tests/idl/thrift/errors/const_cycle.thrift:2:15: constant cycle: 'A' -> 'B' -> 'A'
  |
2 | const i32 B = A
  |               ^

tests/idl/thrift/errors/const_cycle.thrift:3:18: constant 'SELF' is defined by itself
  |
3 | const i32 SELF = SELF
  |                  ^

2 errors"#,
    );
}

/// Files that include each other.
#[test]
fn include_cycle() {
    semantic(
        "cycle_a.thrift",
        &[],
        &[ErrorKind::IncludeCycle],
        r#"
tests/idl/thrift/errors/cycle_b.thrift:1:9: include cycle: tests/idl/thrift/errors/cycle_a.thrift -> tests/idl/thrift/errors/cycle_b.thrift -> tests/idl/thrift/errors/cycle_a.thrift
  |
1 | include "cycle_a.thrift"
  |         ^"#,
    );
}

/// A missing include names every path it tried: beside the including file, then each include directory.
#[test]
fn missing_include() {
    semantic(
        "missing_include.thrift",
        &["tests/idl/thrift/inc", "tests/idl/thrift/common"],
        &[ErrorKind::IncludeNotFound, ErrorKind::IncludeNotFound],
        r#"
tests/idl/thrift/errors/missing_include.thrift:1:9: included file "nowhere.thrift" not found; tried tests/idl/thrift/errors/nowhere.thrift, tests/idl/thrift/inc/nowhere.thrift, tests/idl/thrift/common/nowhere.thrift
  |
1 | include "nowhere.thrift"
  |         ^

tests/idl/thrift/errors/missing_include.thrift:3:9: included file "also/missing.thrift" not found; tried tests/idl/thrift/errors/also/missing.thrift, tests/idl/thrift/inc/also/missing.thrift, tests/idl/thrift/common/also/missing.thrift
  |
3 | include "also/missing.thrift"
  |         ^

2 errors"#,
    );
}

/// A syntax error in each of two included files: both are told.
#[test]
fn broken_includes() {
    semantic(
        "broken_includes.thrift",
        &[],
        &[ErrorKind::Syntax, ErrorKind::Syntax],
        r#"
tests/idl/thrift/errors/broken_one.thrift:3:1: expected a field name, found '}'
  |
3 | }
  | ^

tests/idl/thrift/errors/broken_two.thrift:1:16: expected an integer for 'Two.A', found string "a"
  |
1 | enum Two { A = "a" }
  |                ^

2 errors"#,
    );
}

/// Tabs before the column stay tabs under it.
#[test]
fn tabs_in_a_loaded_file() {
    semantic(
        "tabs.thrift",
        &[],
        &[ErrorKind::UnknownType],
        "tests/idl/thrift/errors/tabs.thrift:2:5: unknown type 'Unknown' (looked in tests/idl/thrift/errors/tabs.thrift)\n  |\n2 | \t1:\tUnknown\tfield\n  | \t  \t^",
    );
}

/// Warnings do not stop loading; they come in file order with the same form as errors.
#[test]
fn warnings() {
    let program = Program::load("tests/idl/thrift/warnings.thrift", &[]).unwrap();
    let warnings: Vec<String> = program.warnings().iter().map(|w| w.to_string()).collect();
    assert_eq!(
        warnings.join("\n\n"),
        r#"tests/idl/thrift/warnings.thrift:3:3: warning: 'Color.CRIMSON' has the same number (1) as 'Color.RED'
  |
3 |   CRIMSON = 1
  |   ^

tests/idl/thrift/warnings.thrift:7:10: warning: field 'no_id' of struct 'Loose' has no id: it gets -1, as Apache Thrift assigns, which changes if fields are added before it; give it an id
  |
7 |   string no_id
  |          ^

tests/idl/thrift/warnings.thrift:8:3: warning: field id 0 is not positive: Apache Thrift ignores it and assigns -2, as if no id were written
  |
8 |   0: i32 zero_id
  |   ^

tests/idl/thrift/warnings.thrift:12:3: warning: 'async' is the old spelling of 'oneway'
   |
12 |   async void fire(1: optional i32 ignored)
   |   ^

tests/idl/thrift/warnings.thrift:12:22: warning: 'optional' is ignored on an argument: arguments are always sent
   |
12 |   async void fire(1: optional i32 ignored)
   |                      ^"#
    );
    let kinds: Vec<(ErrorKind, Severity)> = program
        .warnings()
        .iter()
        .map(|w| (w.kind(), w.severity()))
        .collect();
    assert_eq!(
        kinds,
        [
            (ErrorKind::DuplicateEnumNumber, Severity::Warning),
            (ErrorKind::ImplicitFieldId, Severity::Warning),
            (ErrorKind::ImplicitFieldId, Severity::Warning),
            (ErrorKind::Deprecated, Severity::Warning),
            (ErrorKind::Deprecated, Severity::Warning),
        ]
    );
}

/// A diagnostic's parts are there for tools, beside its text for people.
#[test]
fn diagnostic_parts() {
    let error = parse("idl.thrift", "struct Echo {\n  1: required }\n").unwrap_err();
    let diagnostic = error.first();
    let span = diagnostic.span().unwrap();
    assert_eq!(
        (span.file.display().to_string(), span.line, span.column),
        ("idl.thrift".to_owned(), 2, 15)
    );
    assert_eq!(diagnostic.message(), "expected a field type, found '}'");
    assert_eq!(diagnostic.source_line(), Some("  1: required }"));
    assert_eq!(diagnostic.severity(), Severity::Error);
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(error);
    assert!(boxed.to_string().starts_with("idl.thrift:2:15: "));
}

/// A root that cannot be read is an I/O error that names it.
#[test]
fn unreadable_root() {
    let error = Program::load("tests/idl/thrift/nope.thrift", &[]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Io);
    assert!(error.first().span().is_none());
    assert!(
        error
            .to_string()
            .starts_with("cannot read tests/idl/thrift/nope.thrift: "),
        "{error}"
    );
}
