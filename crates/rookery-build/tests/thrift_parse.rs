//! The Thrift parser: Apache's ThriftTest.thrift parses, and every construct of the IDL turns
//! into the syntax tree it should.

use rookery_build::{
    ErrorKind, Severity,
    thrift::{
        ast::{
            Annotations, ConstValue, Definition, Document, Enum, Field, Requiredness, Service,
            Struct, StructKind, TypeRef,
        },
        parser::{parse, parse_with_warnings},
    },
};

fn read(name: &str) -> (String, String) {
    let path = format!("tests/idl/thrift/{name}");
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

fn definition<'d>(document: &'d Document, name: &str) -> &'d Definition {
    document
        .definitions
        .iter()
        .find(|d| d.name() == name)
        .unwrap_or_else(|| panic!("no definition {name}"))
}

fn structure<'d>(document: &'d Document, name: &str) -> &'d Struct {
    match definition(document, name) {
        Definition::Struct(s) => s,
        other => panic!("{name} is {other:?}"),
    }
}

fn enumeration<'d>(document: &'d Document, name: &str) -> &'d Enum {
    match definition(document, name) {
        Definition::Enum(e) => e,
        other => panic!("{name} is {other:?}"),
    }
}

fn service<'d>(document: &'d Document, name: &str) -> &'d Service {
    match definition(document, name) {
        Definition::Service(s) => s,
        other => panic!("{name} is {other:?}"),
    }
}

fn const_value<'d>(document: &'d Document, name: &str) -> &'d ConstValue {
    match definition(document, name) {
        Definition::Const(c) => &c.value,
        other => panic!("{name} is {other:?}"),
    }
}

fn field<'s>(s: &'s Struct, name: &str) -> &'s Field {
    s.fields
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no field {name}"))
}

fn named(name: &str) -> impl Fn(&TypeRef) -> bool + '_ {
    move |ty| matches!(ty, TypeRef::Named(n, _) if n == name)
}

fn list(t: TypeRef) -> TypeRef {
    TypeRef::List(Box::new(t))
}

fn set(t: TypeRef) -> TypeRef {
    TypeRef::Set(Box::new(t))
}

fn map(k: TypeRef, v: TypeRef) -> TypeRef {
    TypeRef::Map(Box::new(k), Box::new(v))
}

fn annotations(pairs: &[(&str, Option<&str>)]) -> Annotations {
    Annotations(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_owned)))
            .collect(),
    )
}

fn ident(value: &ConstValue) -> &str {
    match value {
        ConstValue::Identifier(name, _) => name,
        other => panic!("{other:?} is not an identifier"),
    }
}

#[test]
fn apache_thrift_test_idl_parses() {
    let (path, text) = read("ThriftTest.thrift");
    let (document, warnings) = parse_with_warnings(&path, &text).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(document.includes.is_empty());

    let namespaces: Vec<(&str, &str)> = document
        .namespaces
        .iter()
        .map(|n| (n.scope.as_str(), n.name.as_str()))
        .collect();
    assert_eq!(namespaces.len(), 18);
    assert_eq!(namespaces[0], ("c_glib", "TTest"));
    assert!(namespaces.contains(&("py.twisted", "ThriftTest")));
    assert!(namespaces.contains(&("cpp.noexist", "ThriftTest")));
    assert_eq!(namespaces[17], ("*", "thrift.test"));
    let xsd = document
        .namespaces
        .iter()
        .find(|n| n.scope == "xsd")
        .unwrap();
    assert_eq!(
        xsd.annotations.get("uri"),
        Some("http://thrift.apache.org/ns/ThriftTest")
    );

    let numberz = enumeration(&document, "Numberz");
    assert_eq!(numberz.doc.as_deref(), Some("Docstring!"));
    let values: Vec<(&str, i32)> = numberz
        .values
        .iter()
        .map(|v| (v.name.as_str(), v.value))
        .collect();
    assert_eq!(
        values,
        [
            ("ONE", 1),
            ("TWO", 2),
            ("THREE", 3),
            ("FIVE", 5),
            ("SIX", 6),
            ("EIGHT", 8)
        ]
    );
    assert_eq!(ident(const_value(&document, "myNumberz")), "Numberz.ONE");
    match definition(&document, "UserId") {
        Definition::Typedef(t) => assert_eq!(t.ty, TypeRef::I64),
        other => panic!("{other:?}"),
    }
    match definition(&document, "MapType") {
        Definition::Typedef(t) => {
            assert!(
                matches!(&t.ty, TypeRef::Map(k, v) if **k == TypeRef::String && named("Bonk")(v))
            )
        }
        other => panic!("{other:?}"),
    }

    // `2: i32 type`: a keyword of other languages is a field name here.
    let bonk = structure(&document, "Bonk");
    assert_eq!(field(bonk, "type").ty, TypeRef::I32);

    let xtruct = structure(&document, "Xtruct");
    let ids: Vec<(i16, &str)> = xtruct
        .fields
        .iter()
        .map(|f| (f.id, f.name.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            (1, "string_thing"),
            (4, "byte_thing"),
            (9, "i32_thing"),
            (11, "i64_thing")
        ]
    );
    assert_eq!(field(xtruct, "byte_thing").ty, TypeRef::I8);
    assert!(
        xtruct
            .fields
            .iter()
            .all(|f| f.explicit_id && f.requiredness == Requiredness::Default)
    );

    let insanity = structure(&document, "Insanity");
    assert_eq!(
        insanity.annotations,
        annotations(&[("python.immutable", Some(""))])
    );

    // 3: required list<map<set<i32> (python.immutable = ""), map<i32,set<list<map<Insanity,string>(python.immutable = "")> (python.immutable = "")>>>> list_field,
    let crazy = structure(&document, "CrazyNesting");
    let list_field = field(crazy, "list_field");
    assert_eq!(list_field.requiredness, Requiredness::Required);
    let TypeRef::List(inner) = &list_field.ty else {
        panic!("{:?}", list_field.ty)
    };
    let TypeRef::Map(key, value) = &**inner else {
        panic!("{inner:?}")
    };
    assert_eq!(**key, set(TypeRef::I32));
    let TypeRef::Map(value_key, value_value) = &**value else {
        panic!("{value:?}")
    };
    assert_eq!(**value_key, TypeRef::I32);
    let TypeRef::Set(lists) = &**value_value else {
        panic!("{value_value:?}")
    };
    let TypeRef::List(maps) = &**lists else {
        panic!("{lists:?}")
    };
    assert!(
        matches!(&**maps, TypeRef::Map(k, v) if named("Insanity")(k) && **v == TypeRef::String)
    );
    assert_eq!(
        field(crazy, "set_field").requiredness,
        Requiredness::Optional
    );
    assert_eq!(field(crazy, "binary_field").ty, TypeRef::Binary);

    let union = structure(&document, "SomeUnion");
    assert_eq!(union.kind, StructKind::Union);
    assert_eq!(union.fields.len(), 5);
    assert_eq!(structure(&document, "Xception").kind, StructKind::Exception);
    assert_eq!(
        structure(&document, "Xception2").kind,
        StructKind::Exception
    );
    assert!(structure(&document, "EmptyStruct").fields.is_empty());

    let thrift_test = service(&document, "ThriftTest");
    assert_eq!(thrift_test.extends, None);
    let names: Vec<&str> = thrift_test
        .functions
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names.len(), 22);
    assert_eq!(names[0], "testVoid");
    assert_eq!(names[21], "testOneway");
    let test_void = &thrift_test.functions[0];
    assert_eq!(test_void.returns, None);
    assert_eq!(
        test_void.doc.as_deref(),
        Some("Prints \"testVoid()\" and returns nothing.")
    );
    let test_string = &thrift_test.functions[1];
    assert_eq!(
        test_string.doc.as_deref(),
        Some(
            "Prints 'testString(\"%s\")' with thing as '%s'\n\
             @param string thing - the string to print\n\
             @return string - returns the string 'thing'"
        )
    );
    let multi = thrift_test
        .functions
        .iter()
        .find(|f| f.name == "testMulti")
        .unwrap();
    assert_eq!(multi.args.len(), 6);
    assert!(named("UserId")(&multi.args[5].ty));
    let multi_exception = thrift_test
        .functions
        .iter()
        .find(|f| f.name == "testMultiException")
        .unwrap();
    let throws: Vec<(i16, &str)> = multi_exception
        .throws
        .iter()
        .map(|f| (f.id, f.name.as_str()))
        .collect();
    assert_eq!(throws, [(1, "err1"), (2, "err2")]);
    assert!(named("Xception2")(&multi_exception.throws[1].ty));
    let oneway = &thrift_test.functions[21];
    assert!(oneway.oneway);
    assert_eq!(oneway.returns, None);
    assert_eq!(oneway.args[0].ty, TypeRef::I32);
    let insanity_fn = thrift_test
        .functions
        .iter()
        .find(|f| f.name == "testInsanity")
        .unwrap();
    assert!(matches!(
        insanity_fn.returns.as_ref().unwrap(),
        TypeRef::Map(k, v) if named("UserId")(k)
            && matches!(&**v, TypeRef::Map(k, v) if named("Numberz")(k) && named("Insanity")(v))
    ));
    assert_eq!(service(&document, "SecondService").functions.len(), 1);

    let bool_test = structure(&document, "BoolTest");
    assert_eq!(field(bool_test, "b").default, Some(ConstValue::Bool(true)));
    assert_eq!(
        field(bool_test, "s").default,
        Some(ConstValue::String("true".into()))
    );
    let with_default = field(
        structure(&document, "OptionalSetDefaultTest"),
        "with_default",
    );
    assert_eq!(
        with_default.default,
        Some(ConstValue::List(vec![ConstValue::String("test".into())]))
    );
    let optional_binary = structure(&document, "OptionalBinary");
    assert_eq!(field(optional_binary, "bin_set").ty, set(TypeRef::Binary));
    assert_eq!(
        field(optional_binary, "bin_set").default,
        Some(ConstValue::Map(vec![]))
    );
    let large = structure(&document, "LargeDeltas");
    let ids: Vec<i16> = large.fields.iter().map(|f| f.id).collect();
    assert_eq!(ids, [1, 10, 100, 500, 1000, 1500, 2000, 2500, 3000, 4000]);
    let nested = structure(&document, "NestedListsI32x3");
    assert_eq!(nested.fields[0].ty, list(list(list(TypeRef::I32))));
    let v2 = structure(&document, "VersioningTestV2");
    assert_eq!(v2.fields.len(), 12);
    assert_eq!(document.definitions.len(), 34);
}

#[test]
fn everything_headers() {
    let (path, text) = read("everything.thrift");
    let document = parse(&path, &text).unwrap();
    assert_eq!(
        document.doc.as_deref(),
        Some(
            "Every construct of the Thrift IDL, once: read by tests/thrift_parse.rs and\ntests/thrift_resolve.rs, which check what each line turns into."
        )
    );
    let namespaces: Vec<(&str, &str)> = document
        .namespaces
        .iter()
        .map(|n| (n.scope.as_str(), n.name.as_str()))
        .collect();
    assert_eq!(
        namespaces,
        [
            ("rs", "rookery.everything"),
            ("*", "everything"),
            ("py", "everything")
        ]
    );
    assert_eq!(
        document.namespaces[2].annotations,
        annotations(&[("python.option", Some("x")), ("flag", None)])
    );
    assert_eq!(document.namespaces[2].annotations.get("flag"), Some(""));
    assert_eq!(document.namespaces[0].span.line, 5);
    assert_eq!(document.cpp_includes, ["<vector>"]);
    let includes: Vec<(&str, &str, u32, u32)> = document
        .includes
        .iter()
        .map(|i| (i.path.as_str(), i.alias(), i.span.line, i.span.column))
        .collect();
    assert_eq!(
        includes,
        [
            ("shared.thrift", "shared", 9, 9),
            ("common/base.thrift", "base", 10, 9)
        ]
    );
}

#[test]
fn everything_typedefs_and_consts() {
    let (path, text) = read("everything.thrift");
    let document = parse(&path, &text).unwrap();
    let Definition::Typedef(id) = definition(&document, "Id") else {
        panic!()
    };
    assert_eq!(
        (id.ty.clone(), id.doc.as_deref()),
        (TypeRef::I64, Some("An id."))
    );
    let Definition::Typedef(user_id) = definition(&document, "UserId") else {
        panic!()
    };
    assert!(named("Id")(&user_id.ty));
    assert_eq!(
        user_id.doc.as_deref(),
        Some("A user's id: a typedef of a typedef.")
    );
    let Definition::Typedef(payload) = definition(&document, "Payload") else {
        panic!()
    };
    assert!(named("shared.Payload")(&payload.ty));
    let Definition::Typedef(nested) = definition(&document, "Nested") else {
        panic!()
    };
    assert!(
        matches!(&nested.ty, TypeRef::List(m) if matches!(&**m, TypeRef::Map(k, v)
        if **k == TypeRef::String && matches!(&**v, TypeRef::Set(u) if named("UserId")(u))))
    );
    // Annotations after the type, then after the name.
    assert_eq!(
        nested.annotations,
        annotations(&[
            ("cpp.template", Some("std::list")),
            ("rust.alias", Some("yes"))
        ])
    );
    assert_eq!(nested.span.line, 17);

    let int = |name| match const_value(&document, name) {
        ConstValue::Int(v) => *v,
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(int("ZERO"), 0);
    assert_eq!(int("BIG"), i64::MAX);
    assert_eq!(int("NEG"), -16);
    assert_eq!(int("SHORT"), -32768);
    assert_eq!(int("TINY"), 127);
    assert_eq!(int("NO"), 0);
    assert_eq!(int("BY_NUMBER"), 2);
    let double = |name| match const_value(&document, name) {
        ConstValue::Double(v) => *v,
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(double("RATIO"), 2.5);
    assert_eq!(double("AVOGADRO"), 6.022e23);
    assert_eq!(double("SMALL"), -1.5e-3);
    assert_eq!(const_value(&document, "FROM_INT"), &ConstValue::Int(2));
    assert_eq!(
        const_value(&document, "DOUBLE_QUOTED"),
        &ConstValue::String("say \"hi\"\n".into())
    );
    assert_eq!(
        const_value(&document, "SINGLE_QUOTED"),
        &ConstValue::String("it's\t\\".into())
    );
    assert_eq!(const_value(&document, "YES"), &ConstValue::Bool(true));
    assert_eq!(ident(const_value(&document, "ALIAS")), "ZERO");
    assert_eq!(ident(const_value(&document, "FAVOURITE")), "Color.GREEN");
    assert_eq!(ident(const_value(&document, "LEVEL")), "shared.Level.HIGH");
    assert_eq!(ident(const_value(&document, "SHARED_MAX")), "shared.MAX");
    let ConstValue::List(names) = const_value(&document, "NAMES") else {
        panic!()
    };
    assert_eq!(
        names[..2],
        [
            ConstValue::String("a".into()),
            ConstValue::String("b".into())
        ]
    );
    assert_eq!(ident(&names[2]), "DOUBLE_QUOTED");
    // `[2, 3; 5 7]`: separators are `,`, `;` or nothing.
    assert_eq!(
        const_value(&document, "PRIMES"),
        &ConstValue::List([2, 3, 5, 7].map(ConstValue::Int).to_vec())
    );
    let ConstValue::Map(colors) = const_value(&document, "COLORS") else {
        panic!()
    };
    assert_eq!(colors[0].0, ConstValue::String("red".into()));
    assert_eq!(ident(&colors[0].1), "Color.RED");
    assert_eq!(colors[1].1, ConstValue::Int(2));
    let ConstValue::Map(nested) = const_value(&document, "NESTED") else {
        panic!()
    };
    assert_eq!(nested[1], (ConstValue::Int(2), ConstValue::List(vec![])));
    // A struct literal is a map with string keys.
    let ConstValue::Map(diagonal) = const_value(&document, "DIAGONAL") else {
        panic!()
    };
    assert_eq!(diagonal.len(), 3);
    assert_eq!(diagonal[0].0, ConstValue::String("start".into()));
    assert_eq!(ident(&diagonal[0].1), "ORIGIN");
    assert!(matches!(&diagonal[1].1, ConstValue::Map(m) if m.len() == 2));

    // Each node of a value has its place, a node before its elements, a key before its value.
    let Definition::Const(diagonal) = definition(&document, "DIAGONAL") else {
        panic!()
    };
    let places: Vec<(u32, u32)> = diagonal
        .value_spans
        .iter()
        .map(|s| (s.line, s.column))
        .collect();
    let line = diagonal.span.line;
    assert_eq!(
        places,
        [
            (line, 23),
            (line, 24),
            (line, 33),
            (line, 41),
            (line, 48),
            (line, 49),
            (line, 54),
            (line, 57),
            (line, 62),
            (line, 66),
            (line, 75)
        ]
    );
}

#[test]
fn everything_enums_and_structs() {
    let (path, text) = read("everything.thrift");
    let (document, warnings) = parse_with_warnings(&path, &text).unwrap();

    let color = enumeration(&document, "Color");
    let values: Vec<(&str, i32)> = color
        .values
        .iter()
        .map(|v| (v.name.as_str(), v.value))
        .collect();
    assert_eq!(
        values,
        [
            ("RED", 1),
            ("GREEN", 2),
            ("BLUE", 16),
            ("VIOLET", 17),
            ("NEGATIVE", -5),
            ("AFTER_NEGATIVE", -4)
        ]
    );
    assert_eq!(
        color.values[3].doc.as_deref(),
        Some("After an explicit value.")
    );
    assert_eq!(
        color.values[4].annotations.get("deprecated"),
        Some("use RED")
    );
    assert_eq!(color.annotations.get("rust.repr"), Some("open"));
    assert!(enumeration(&document, "Empty").values.is_empty());

    let point = structure(&document, "Point");
    assert_eq!(point.doc.as_deref(), Some("A point.\n\n  On a plane."));
    assert_eq!(point.annotations.get("rust.derive"), Some("Copy"));
    assert!(
        point
            .fields
            .iter()
            .all(|f| f.requiredness == Requiredness::Required)
    );
    assert_eq!(field(point, "y").default, Some(ConstValue::Int(0)));
    assert_eq!((point.span.line, point.span.column), (67, 8));
    assert_eq!(
        (point.fields[0].span.line, point.fields[0].span.column),
        (68, 19)
    );

    let line = structure(&document, "Line");
    let label = field(line, "label");
    assert_eq!(label.requiredness, Requiredness::Optional);
    assert_eq!(label.default, Some(ConstValue::String("line".into())));
    assert_eq!(label.annotations.get("doc.note"), Some("shown"));
    assert_eq!(label.doc.as_deref(), Some("Shown beside the line."));
    assert!(named("Point")(&field(line, "end").ty));

    let defaults = structure(&document, "Defaults");
    assert_eq!(defaults.fields.len(), 18);
    let numbers = field(defaults, "numbers");
    assert_eq!(numbers.ty, list(TypeRef::I32));
    assert_eq!(
        numbers.type_annotations.get("cpp.template"),
        Some("std::vector")
    );
    assert_eq!(
        field(defaults, "byte_field").default,
        Some(ConstValue::Int(-1))
    );
    assert_eq!(field(defaults, "s").default, Some(ConstValue::Int(0x7fff)));
    assert_eq!(field(defaults, "d").default, Some(ConstValue::Double(1e-3)));
    assert_eq!(field(defaults, "blob").ty, TypeRef::Binary);
    assert_eq!(field(defaults, "id").ty, TypeRef::Uuid);
    assert_eq!(field(defaults, "legacy_byte").ty, TypeRef::I8);
    assert_eq!(
        field(defaults, "empty_set").default,
        Some(ConstValue::Map(vec![]))
    );
    assert!(matches!(&field(defaults, "shapes").ty, TypeRef::Map(k, v)
        if **k == TypeRef::String && matches!(&**v, TypeRef::List(p) if named("Point")(p))));
    assert!(named("shared.Payload")(&field(defaults, "payload").ty));
    assert_eq!(field(defaults, "type").ty, TypeRef::I32);
    assert_eq!(field(defaults, "list").ty, TypeRef::String);
    let default_spans: Vec<(u32, u32)> = field(defaults, "numbers")
        .default_spans
        .iter()
        .map(|s| (s.line, s.column))
        .collect();
    assert_eq!(default_spans, [(87, 57), (87, 58), (87, 61), (87, 64)]);

    // Fields without ids count down from -1, as Apache Thrift assigns them, with a warning.
    let no_ids = structure(&document, "NoIds");
    let ids: Vec<(i16, bool)> = no_ids
        .fields
        .iter()
        .map(|f| (f.id, f.explicit_id))
        .collect();
    assert_eq!(ids, [(-1, false), (-2, false), (3, true)]);
    let warned: Vec<(ErrorKind, Severity, u32)> = warnings
        .iter()
        .map(|w| (w.kind(), w.severity(), w.span().unwrap().line))
        .collect();
    assert_eq!(
        warned,
        [
            (ErrorKind::ImplicitFieldId, Severity::Warning, 101),
            (ErrorKind::ImplicitFieldId, Severity::Warning, 102)
        ]
    );
    assert_eq!(
        warnings[0].message(),
        "field 'first' of struct 'NoIds' has no id: it gets -1, as Apache Thrift assigns, which \
         changes if fields are added before it; give it an id"
    );

    assert_eq!(structure(&document, "Shape").kind, StructKind::Union);
    let not_found = structure(&document, "NotFound");
    assert_eq!(not_found.kind, StructKind::Exception);
    assert_eq!(not_found.annotations.get("rust.error"), Some("true"));
}

#[test]
fn everything_services() {
    let (path, text) = read("everything.thrift");
    let document = parse(&path, &text).unwrap();
    let store = service(&document, "Store");
    let (base, span) = store.extends.as_ref().unwrap();
    assert_eq!(
        (base.as_str(), span.line, span.column),
        ("base.Base", 116, 23)
    );
    let names: Vec<&str> = store.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["get", "put", "forget", "points", "index"]);

    let get = &store.functions[0];
    assert_eq!(get.doc.as_deref(), Some("Gets a payload."));
    assert!(!get.oneway);
    assert!(named("Payload")(get.returns.as_ref().unwrap()));
    let args: Vec<(i16, &str, Requiredness)> = get
        .args
        .iter()
        .map(|f| (f.id, f.name.as_str(), f.requiredness))
        .collect();
    assert_eq!(
        args,
        [
            (1, "id", Requiredness::Default),
            (2, "fresh", Requiredness::Default)
        ]
    );
    assert_eq!(get.args[1].default, Some(ConstValue::Bool(false)));
    let throws: Vec<(i16, &str)> = get.throws.iter().map(|f| (f.id, f.name.as_str())).collect();
    assert_eq!(throws, [(1, "missing"), (2, "failed")]);
    assert!(named("shared.SharedError")(&get.throws[1].ty));

    let put = &store.functions[1];
    assert_eq!(put.returns, None);
    assert_eq!(put.args[0].requiredness, Requiredness::Required);

    let forget = &store.functions[2];
    assert!(forget.oneway);
    assert_eq!(forget.returns, None);

    let points = &store.functions[3];
    assert!(points.args.is_empty());
    assert_eq!(
        points.returns_annotations.get("cpp.template"),
        Some("std::list")
    );
    assert_eq!(points.annotations.get("rust.name"), Some("all_points"));

    let index = &store.functions[4];
    assert!(index.throws.is_empty());
    assert!(matches!(index.returns.as_ref().unwrap(), TypeRef::Map(k, v)
        if named("Color")(k) && matches!(&**v, TypeRef::Set(u) if named("UserId")(u))));

    assert!(service(&document, "Plain").functions.is_empty());
    let child = service(&document, "Child");
    assert_eq!(child.extends.as_ref().unwrap().0, "Store");
}

#[test]
fn comments_and_docs() {
    let source = "\
// line comment
# shell comment
/* block
   comment */
/**/ /***/
/**
 * The file.
 */
namespace rs docs

/** Dropped: nothing follows it but a header? no: a definition follows. */
/// Replaces the block above: the last doc comment wins.
///   Indented second line.
struct A {
  /** id */ 1: i32 id, // trailing comment
  /// name
  2: string name # trailing
  /* not a doc */ 3: i32 plain
  /** dropped: no field follows */
}

/** B's doc */
// a plain comment between the doc and its definition keeps it
enum B { X /* inline */ = 1 }
";
    let document = parse("docs.thrift", source).unwrap();
    assert_eq!(document.doc.as_deref(), Some("The file."));
    let a = structure(&document, "A");
    assert_eq!(
        a.doc.as_deref(),
        Some("Replaces the block above: the last doc comment wins.\n  Indented second line.")
    );
    let docs: Vec<Option<&str>> = a.fields.iter().map(|f| f.doc.as_deref()).collect();
    assert_eq!(docs, [Some("id"), Some("name"), None]);
    assert_eq!(enumeration(&document, "B").doc.as_deref(), Some("B's doc"));
    assert_eq!(enumeration(&document, "B").values[0].value, 1);

    // Without a header after it, the first doc comment is the first definition's.
    let document = parse("docs.thrift", "/** Mine. */\nstruct A {}").unwrap();
    assert_eq!(document.doc, None);
    assert_eq!(structure(&document, "A").doc.as_deref(), Some("Mine."));
}

#[test]
fn syntax_forms() {
    let source = r#"
struct Forms xsd_all {
  1: optional i32 a = 1 xsd_optional xsd_nillable (x = "y"),
  2: required &Forms self_ref;
  3: list cpp_type "std::deque<int>" <i32> cpp_type "old" deque
  4: map cpp_type "std::unordered_map" <string, set<i32> (inner = "dropped")> (outer = "kept") m
  5: i32 attrs xsd_attrs { 1: i32 attribute }
  6: i32 (annotated = "type") number (annotated = "field")
  0: i32 zero
  -3: i32 negative
  7: i32 numeric_annotation (answer = 42)
  8: set<uuid> ids
  9: Forms (named = "type") me
}

service S {
  async void legacy(1: optional i32 ignored),
  void twice() throws (1: E e) (a = "b"); i32 next()
}

const list<list<i32>> LISTS = [[], [1], [1, 2,], [1; 2;]];
const map<string, map<string, i32>> MAPS = {'a': {}, "b": {"c": 1,}}
typedef i32 Int;
enum E2 { A; B, C } (x)
enum Flags { OFF = false, ON = true }
"#;
    let (document, warnings) = parse_with_warnings("forms.thrift", source).unwrap();
    let forms = structure(&document, "Forms");
    let a = field(forms, "a");
    assert_eq!(
        (a.requiredness, a.annotations.get("x")),
        (Requiredness::Optional, Some("y"))
    );
    assert!(named("Forms")(&field(forms, "self_ref").ty));
    assert_eq!(field(forms, "deque").ty, list(TypeRef::I32));
    let m = field(forms, "m");
    assert_eq!(m.ty, map(TypeRef::String, set(TypeRef::I32)));
    assert_eq!(m.type_annotations, annotations(&[("outer", Some("kept"))]));
    assert_eq!(field(forms, "attrs").id, 5);
    let number = field(forms, "number");
    assert_eq!(number.type_annotations.get("annotated"), Some("type"));
    assert_eq!(number.annotations.get("annotated"), Some("field"));
    // Ids that are not positive are ignored, as Apache Thrift ignores them.
    assert_eq!(
        (field(forms, "zero").id, field(forms, "zero").explicit_id),
        (-1, false)
    );
    assert_eq!(field(forms, "negative").id, -2);
    assert_eq!(
        field(forms, "numeric_annotation").annotations.get("answer"),
        Some("42")
    );
    assert_eq!(field(forms, "ids").ty, set(TypeRef::Uuid));
    assert_eq!(
        field(forms, "me").type_annotations.get("named"),
        Some("type")
    );

    let s = service(&document, "S");
    let legacy = &s.functions[0];
    assert!(legacy.oneway);
    // `optional` means nothing on an argument.
    assert_eq!(legacy.args[0].requiredness, Requiredness::Default);
    assert_eq!(s.functions[1].annotations.get("a"), Some("b"));
    assert_eq!(s.functions[2].name, "next");

    let ConstValue::List(lists) = const_value(&document, "LISTS") else {
        panic!()
    };
    let lengths: Vec<usize> = lists
        .iter()
        .map(|l| match l {
            ConstValue::List(items) => items.len(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(lengths, [0, 1, 2, 2]);
    let ConstValue::Map(maps) = const_value(&document, "MAPS") else {
        panic!()
    };
    assert_eq!(
        maps[0],
        (ConstValue::String("a".into()), ConstValue::Map(vec![]))
    );
    let e2 = enumeration(&document, "E2");
    assert_eq!(
        e2.values.iter().map(|v| v.value).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_eq!(e2.annotations.get("x"), Some(""));
    let flags = enumeration(&document, "Flags");
    assert_eq!(
        flags.values.iter().map(|v| v.value).collect::<Vec<_>>(),
        [0, 1]
    );

    let warned: Vec<(ErrorKind, u32, &str)> = warnings
        .iter()
        .map(|w| (w.kind(), w.span().unwrap().line, w.message()))
        .collect();
    assert_eq!(
        warned,
        [
            (
                ErrorKind::ImplicitFieldId,
                9,
                "field id 0 is not positive: Apache Thrift ignores it and assigns -1, as if no id were written"
            ),
            (
                ErrorKind::ImplicitFieldId,
                10,
                "field id -3 is not positive: Apache Thrift ignores it and assigns -2, as if no id were written"
            ),
            (
                ErrorKind::Deprecated,
                17,
                "'async' is the old spelling of 'oneway'"
            ),
            (
                ErrorKind::Deprecated,
                17,
                "'optional' is ignored on an argument: arguments are always sent"
            ),
        ]
    );
}

#[test]
fn line_endings_and_tabs() {
    let document = parse("crlf.thrift", "struct A {\r\n\t1: i32 a\r\n}\r\n").unwrap();
    let a = structure(&document, "A");
    assert_eq!((a.fields[0].span.line, a.fields[0].span.column), (2, 9));
    let error = parse("crlf.thrift", "struct A {\r\n\t1: i32\r\n}\r\n").unwrap_err();
    assert_eq!(
        error.to_string(),
        "crlf.thrift:3:1: expected a field name, found '}'\n  |\n3 | }\n  | ^"
    );
}
