//! The resolved program the code generator consumes: files and includes, names, types with
//! typedefs followed, constant values, service chains, and where includes are found.

use std::path::{Path, PathBuf};

use rookery_build::{
    ErrorKind,
    thrift::{
        ast::{ConstValue, Definition, Span, TypeRef},
        resolve::{FieldValue, FileId, NamedKind, Program, ResolvedType, Value},
    },
};

const IDL: &str = "tests/idl/thrift";

fn everything() -> Program {
    Program::load(
        format!("{IDL}/everything.thrift"),
        &[PathBuf::from(format!("{IDL}/inc"))],
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn named(file: FileId, kind: NamedKind, name: &str) -> ResolvedType {
    ResolvedType::Named {
        file,
        kind,
        name: name.into(),
    }
}

fn enum_value(file: FileId, enum_name: &str, name: &str, value: i32) -> Value {
    Value::Enum {
        file,
        enum_name: enum_name.into(),
        name: name.into(),
        value,
    }
}

fn field_value(id: i16, name: &str, value: Value) -> FieldValue {
    FieldValue {
        id,
        name: name.into(),
        value,
    }
}

fn point(x: i64, y: i64) -> Value {
    Value::Struct {
        file: 0,
        name: "Point".into(),
        fields: vec![
            field_value(1, "x", Value::Int(x)),
            field_value(2, "y", Value::Int(y)),
        ],
    }
}

fn span() -> Span {
    Span {
        file: PathBuf::from("outside.thrift").into(),
        line: 1,
        column: 1,
    }
}

fn ty(name: &str) -> TypeRef {
    TypeRef::Named(name.into(), span())
}

/// The type of field `field` of struct `name` in `file`, resolved.
fn field_type(program: &Program, file: FileId, name: &str, field: &str) -> ResolvedType {
    let Some(Definition::Struct(s)) = program.file(file).get(name) else {
        panic!("{name}")
    };
    let f = s.fields.iter().find(|f| f.name == field).unwrap();
    program.resolve_type(file, &f.ty)
}

/// The default of field `field` of struct `name` in `file`, evaluated.
fn default(program: &Program, file: FileId, name: &str, field: &str) -> Value {
    let Some(Definition::Struct(s)) = program.file(file).get(name) else {
        panic!("{name}")
    };
    let f = s.fields.iter().find(|f| f.name == field).unwrap();
    program
        .const_value(file, &f.ty, f.default.as_ref().unwrap())
        .unwrap()
}

#[test]
fn apache_thrift_test_idl_loads() {
    let program = Program::load(format!("{IDL}/ThriftTest.thrift"), &[]).unwrap();
    assert!(program.warnings().is_empty());
    assert_eq!(program.files().len(), 1);
    let root = program.file(program.root());
    assert_eq!(root.namespace.as_deref(), Some("thrift.test"));
    assert_eq!(root.name(), "ThriftTest");

    let numberz = named(0, NamedKind::Enum, "Numberz");
    assert_eq!(
        field_type(&program, 0, "Insanity", "userMap"),
        ResolvedType::Map(Box::new(numberz.clone()), Box::new(ResolvedType::I64))
    );
    assert_eq!(
        field_type(&program, 0, "Xtruct2", "struct_thing"),
        named(0, NamedKind::Struct, "Xtruct")
    );
    assert_eq!(
        field_type(&program, 0, "SomeUnion", "insanity_thing"),
        named(0, NamedKind::Struct, "Insanity")
    );
    assert_eq!(
        program.resolve_type(0, &ty("MapType")),
        ResolvedType::Map(
            Box::new(ResolvedType::String),
            Box::new(named(0, NamedKind::Struct, "Bonk"))
        )
    );
    assert_eq!(
        program.const_of(0, "myNumberz"),
        Some(&enum_value(0, "Numberz", "ONE", 1))
    );
    assert_eq!(default(&program, 0, "BoolTest", "b"), Value::Bool(true));
    assert_eq!(
        default(&program, 0, "BoolTest", "s"),
        Value::String("true".into())
    );
    assert_eq!(
        default(&program, 0, "OptionalSetDefaultTest", "with_default"),
        Value::Set(vec![Value::String("test".into())])
    );
    assert_eq!(
        default(&program, 0, "OptionalBinary", "bin_set"),
        Value::Set(vec![])
    );
    assert_eq!(
        default(&program, 0, "OptionalBinary", "bin_map"),
        Value::Map(vec![])
    );

    let chain = program.service_chain(0, "ThriftTest");
    assert_eq!(chain.len(), 1);
    let (file, service) = chain[0];
    assert_eq!(file, 0);
    let multi = service
        .functions
        .iter()
        .find(|f| f.name == "testMultiException")
        .unwrap();
    for exception in &multi.throws {
        assert!(matches!(
            program.resolve_type(0, &exception.ty),
            ResolvedType::Named {
                kind: NamedKind::Exception,
                ..
            }
        ));
    }
    let typedef = service
        .functions
        .iter()
        .find(|f| f.name == "testTypedef")
        .unwrap();
    assert_eq!(
        program.resolve_type(0, typedef.returns.as_ref().unwrap()),
        ResolvedType::I64
    );
}

#[test]
fn files_and_includes() {
    let program = everything();
    let files: Vec<(FileId, String, Option<&str>)> = program
        .files()
        .iter()
        .map(|f| (f.id, f.path.display().to_string(), f.namespace.as_deref()))
        .collect();
    assert_eq!(
        files,
        [
            (
                0,
                format!("{IDL}/everything.thrift"),
                Some("rookery.everything")
            ),
            (1, format!("{IDL}/inc/shared.thrift"), Some("shared")),
            (2, format!("{IDL}/inc/../common/types.thrift"), None),
            (3, format!("{IDL}/common/base.thrift"), Some("rookery.base")),
        ]
    );
    let includes = |id: FileId| -> Vec<(&str, FileId)> {
        program
            .file(id)
            .includes
            .iter()
            .map(|(a, &f)| (a.as_str(), f))
            .collect()
    };
    assert_eq!(includes(0), [("base", 3), ("shared", 1)]);
    // Reached from two files, loaded once.
    assert_eq!(includes(1), [("types", 2)]);
    assert_eq!(includes(3), [("types", 2)]);
    assert_eq!(program.file(1).name(), "shared");
    assert!(matches!(
        program.file(1).get("MAX"),
        Some(Definition::Const(_))
    ));
    assert!(program.file(0).source().starts_with("/**"));

    let warned: Vec<(ErrorKind, u32)> = program
        .warnings()
        .iter()
        .map(|w| (w.kind(), w.span().unwrap().line))
        .collect();
    assert_eq!(
        warned,
        [
            (ErrorKind::ImplicitFieldId, 101),
            (ErrorKind::ImplicitFieldId, 102)
        ]
    );
}

#[test]
fn lookup() {
    let program = everything();
    let kind = |from: FileId, name: &str| {
        program
            .lookup(from, name)
            .map(|(file, d)| (file, d.kind_name(), d.name().to_owned()))
    };
    assert_eq!(kind(0, "Color"), Some((0, "enum", "Color".into())));
    assert_eq!(
        kind(0, "shared.Payload"),
        Some((1, "struct", "Payload".into()))
    );
    assert_eq!(kind(0, "base.Base"), Some((3, "service", "Base".into())));
    assert_eq!(kind(3, "types.Text"), Some((2, "typedef", "Text".into())));
    // Includes are not transitive, and a file sees only what it includes.
    assert_eq!(kind(0, "base.types.Text"), None);
    assert_eq!(kind(0, "types.Text"), None);
    assert_eq!(kind(1, "Color"), None);
    assert_eq!(kind(0, "Nope"), None);
    assert_eq!(kind(0, "nope.Color"), None);
    // Enum values are not definitions.
    assert_eq!(kind(0, "Color.RED"), None);
}

#[test]
fn types() {
    let program = everything();
    let resolve = |name: &str| program.resolve_type(0, &ty(name));
    assert_eq!(resolve("Id"), ResolvedType::I64);
    assert_eq!(resolve("UserId"), ResolvedType::I64);
    assert_eq!(resolve("Payload"), named(1, NamedKind::Struct, "Payload"));
    assert_eq!(resolve("shared.Level"), named(1, NamedKind::Enum, "Level"));
    assert_eq!(
        resolve("shared.SharedError"),
        named(1, NamedKind::Exception, "SharedError")
    );
    assert_eq!(resolve("Shape"), named(0, NamedKind::Union, "Shape"));
    assert_eq!(
        resolve("NotFound"),
        named(0, NamedKind::Exception, "NotFound")
    );
    assert_eq!(
        resolve("Nested"),
        ResolvedType::List(Box::new(ResolvedType::Map(
            Box::new(ResolvedType::String),
            Box::new(ResolvedType::Set(Box::new(ResolvedType::I64)))
        )))
    );
    assert_eq!(resolve("Nested").to_string(), "list<map<string, set<i64>>>");
    assert_eq!(
        field_type(&program, 0, "Defaults", "aliased"),
        named(1, NamedKind::Struct, "Payload")
    );
    assert_eq!(
        field_type(&program, 0, "Defaults", "legacy_byte"),
        ResolvedType::I8
    );
    assert_eq!(
        field_type(&program, 0, "Defaults", "blob"),
        ResolvedType::Binary
    );
    assert_eq!(
        field_type(&program, 0, "Defaults", "id"),
        ResolvedType::Uuid
    );
    // A typedef is followed in the file that defines it.
    assert_eq!(
        program.resolve_type(3, &ty("types.Text")),
        ResolvedType::String
    );

    let error = program.try_resolve_type(0, &ty("Nope")).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnknownType);
    assert_eq!(
        error.to_string(),
        format!("outside.thrift:1:1: unknown type 'Nope' (looked in {IDL}/everything.thrift)")
    );
    assert_eq!(
        program
            .try_resolve_type(0, &ty("Store"))
            .unwrap_err()
            .kind(),
        ErrorKind::NotAType
    );
}

#[test]
fn constants() {
    let program = everything();
    let value = |name: &str| {
        program
            .const_of(0, name)
            .unwrap_or_else(|| panic!("{name}"))
            .clone()
    };
    assert_eq!(value("ZERO"), Value::Int(0));
    assert_eq!(value("BIG"), Value::Int(i64::MAX));
    assert_eq!(value("NEG"), Value::Int(-16));
    assert_eq!(value("SHORT"), Value::Int(-32768));
    assert_eq!(value("TINY"), Value::Int(127));
    assert_eq!(value("TINY8"), Value::Int(-128));
    assert_eq!(value("RATIO"), Value::Double(2.5));
    assert_eq!(value("AVOGADRO"), Value::Double(6.022e23));
    assert_eq!(value("SMALL"), Value::Double(-1.5e-3));
    assert_eq!(value("FROM_INT"), Value::Double(2.0));
    assert_eq!(value("DOUBLE_QUOTED"), Value::String("say \"hi\"\n".into()));
    assert_eq!(value("SINGLE_QUOTED"), Value::String("it's\t\\".into()));
    assert_eq!(value("YES"), Value::Bool(true));
    assert_eq!(value("NO"), Value::Bool(false));
    // Constants naming constants and enum values.
    assert_eq!(value("ALIAS"), Value::Int(0));
    assert_eq!(value("WIDER"), Value::Int(127));
    assert_eq!(value("FAVOURITE"), enum_value(0, "Color", "GREEN", 2));
    assert_eq!(value("GREEN_NUMBER"), Value::Int(2));
    assert_eq!(value("LEVEL"), enum_value(1, "Level", "HIGH", 1));
    assert_eq!(value("BY_NUMBER"), enum_value(0, "Color", "GREEN", 2));
    assert_eq!(value("SHARED_MAX"), Value::Int(100));
    assert_eq!(value("LATER"), Value::Int(42));
    assert_eq!(value("ROOT_USER"), Value::Int(1));
    assert_eq!(
        value("NAMES"),
        Value::List(vec![
            Value::String("a".into()),
            Value::String("b".into()),
            Value::String("say \"hi\"\n".into())
        ])
    );
    assert_eq!(
        value("PRIMES"),
        Value::Set([2, 3, 5, 7].map(Value::Int).to_vec())
    );
    assert_eq!(
        value("COLORS"),
        Value::Map(vec![
            (
                Value::String("red".into()),
                enum_value(0, "Color", "RED", 1)
            ),
            (
                Value::String("green".into()),
                enum_value(0, "Color", "GREEN", 2)
            ),
        ])
    );
    assert_eq!(
        value("NESTED"),
        Value::Map(vec![
            (
                Value::Int(1),
                Value::List(vec![enum_value(0, "Color", "RED", 1)])
            ),
            (Value::Int(2), Value::List(vec![])),
        ])
    );
    assert_eq!(value("ORIGIN"), point(0, 0));
    assert_eq!(
        value("DIAGONAL"),
        Value::Struct {
            file: 0,
            name: "Line".into(),
            fields: vec![
                field_value(1, "start", point(0, 0)),
                field_value(2, "end", point(1, 1)),
                field_value(3, "label", Value::String("d".into())),
            ]
        }
    );
    assert_eq!(value("MAGIC"), Value::Binary(b"rook".to_vec()));
    assert_eq!(value("NIL"), Value::Uuid([0; 16]));
    assert_eq!(
        program.const_of(0, "shared.GREETING"),
        Some(&Value::String("hello".into()))
    );
    assert_eq!(program.const_of(2, "LIMIT"), Some(&Value::Int(10)));
    assert_eq!(program.const_of(0, "Color"), None);
    assert_eq!(program.const_of(0, "Nope"), None);
}

#[test]
fn defaults() {
    let program = everything();
    let value = |name: &str| default(&program, 0, "Defaults", name);
    assert_eq!(value("b"), Value::Bool(true));
    assert_eq!(value("byte_field"), Value::Int(-1));
    assert_eq!(value("s"), Value::Int(0x7fff));
    assert_eq!(value("d"), Value::Double(1e-3));
    assert_eq!(value("text"), Value::String("quoted \"text\"".into()));
    assert_eq!(value("blob"), Value::Binary(b"blob".to_vec()));
    assert_eq!(
        value("id"),
        Value::Uuid([
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff
        ])
    );
    assert_eq!(
        value("numbers"),
        Value::List([1, 2, 3].map(Value::Int).to_vec())
    );
    assert_eq!(
        value("shapes"),
        Value::Map(vec![(
            Value::String("triangle".into()),
            Value::List(vec![point(0, 0), point(0, 0)])
        )])
    );
    assert_eq!(value("color"), enum_value(0, "Color", "BLUE", 16));
    assert_eq!(value("user"), Value::Int(1));
    assert_eq!(
        value("payload"),
        Value::Struct {
            file: 1,
            name: "Payload".into(),
            fields: vec![field_value(1, "body", Value::String("x".into()))]
        }
    );
    assert_eq!(value("empty_set"), Value::Set(vec![]));
    assert_eq!(
        default(&program, 1, "Payload", "level"),
        enum_value(1, "Level", "LOW", 0)
    );

    // Values from outside the program are checked the same way.
    let error = program
        .const_value(0, &TypeRef::I8, &ConstValue::Int(300))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConstType);
    assert_eq!(
        error.to_string(),
        "300 is out of range for i8 (-128 to 127)"
    );
    assert_eq!(
        program
            .const_value(
                0,
                &ty("UserId"),
                &ConstValue::Identifier("Color.VIOLET".into(), span())
            )
            .unwrap(),
        Value::Int(17)
    );
    let error = program
        .const_value(
            0,
            &ty("Color"),
            &ConstValue::Identifier("shared.Level.LOW".into(), span()),
        )
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "outside.thrift:1:1: expected a value of enum 'Color', found 'shared.Level.LOW' (a value of enum 'Level')"
    );
}

#[test]
fn service_chains() {
    let program = everything();
    let chain = |from: FileId, name: &str| -> Vec<(FileId, String)> {
        program
            .service_chain(from, name)
            .iter()
            .map(|(f, s)| (*f, s.name.clone()))
            .collect()
    };
    assert_eq!(
        chain(0, "Child"),
        [
            (3, "Base".to_owned()),
            (0, "Store".to_owned()),
            (0, "Child".to_owned())
        ]
    );
    assert_eq!(
        chain(0, "Store"),
        [(3, "Base".to_owned()), (0, "Store".to_owned())]
    );
    assert_eq!(chain(0, "base.Base"), [(3, "Base".to_owned())]);
    assert_eq!(chain(3, "Base"), [(3, "Base".to_owned())]);
    assert_eq!(chain(0, "Plain"), [(0, "Plain".to_owned())]);
    assert!(chain(0, "Nope").is_empty());
    assert!(chain(0, "Point").is_empty());

    // Every function a server of Child serves, the inherited first.
    let functions: Vec<&str> = program
        .service_chain(0, "Child")
        .iter()
        .flat_map(|(_, s)| s.functions.iter().map(|f| f.name.as_str()))
        .collect();
    assert_eq!(
        functions,
        ["ping", "get", "put", "forget", "points", "index", "child"]
    );
    // Types of inherited functions resolve in the file of the service that declares them.
    let (base_file, base) = program.service_chain(0, "Child")[0];
    let ping = &base.functions[0];
    assert_eq!(
        program.resolve_type(base_file, ping.returns.as_ref().unwrap()),
        ResolvedType::String
    );
}

fn load_from(root: &str, dirs: &[&str]) -> Result<Program, rookery_build::IdlError> {
    let dirs: Vec<PathBuf> = dirs
        .iter()
        .map(|d| PathBuf::from(format!("{IDL}/order/{d}")))
        .collect();
    Program::load(format!("{IDL}/order/{root}"), &dirs)
}

fn from(program: &Program) -> Value {
    program.const_of(0, "FROM").unwrap().clone()
}

#[test]
fn includes_are_found_beside_the_including_file_first() {
    let program = load_from("root.thrift", &["dir_a", "dir_b"]).unwrap();
    assert_eq!(from(&program), Value::String("beside".into()));
    let paths: Vec<String> = program
        .files()
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    assert_eq!(
        paths,
        [
            format!("{IDL}/order/root.thrift"),
            format!("{IDL}/order/pick.thrift"),
            format!("{IDL}/order/dir_b/only_b.thrift"),
        ]
    );
}

#[test]
fn then_in_the_include_directories_in_order() {
    let program = load_from("elsewhere/root.thrift", &["dir_a", "dir_b"]).unwrap();
    assert_eq!(from(&program), Value::String("dir_a".into()));
    let program = load_from("elsewhere/root.thrift", &["dir_b", "dir_a"]).unwrap();
    assert_eq!(from(&program), Value::String("dir_b".into()));
    let program = load_from("elsewhere/root.thrift", &["missing_dir", "dir_b"]).unwrap();
    assert_eq!(from(&program), Value::String("dir_b".into()));

    let error = load_from("elsewhere/root.thrift", &["missing_dir"]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::IncludeNotFound);
    assert_eq!(
        error.first().message(),
        format!(
            "included file \"pick.thrift\" not found; tried {IDL}/order/elsewhere/pick.thrift, \
             {IDL}/order/missing_dir/pick.thrift"
        )
    );
}

#[test]
fn an_absolute_include_is_taken_as_it_is() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("thrift_absolute_include");
    std::fs::create_dir_all(&dir).unwrap();
    let pick = std::fs::canonicalize(format!("{IDL}/order/dir_a/pick.thrift")).unwrap();
    let root = dir.join("root.thrift");
    std::fs::write(
        &root,
        format!(
            "include \"{}\"\nconst string FROM = pick.WHERE\n",
            pick.display()
        ),
    )
    .unwrap();
    // The include directories are not searched for an absolute path.
    let program = Program::load(&root, &[PathBuf::from(format!("{IDL}/order/dir_b"))]).unwrap();
    assert_eq!(from(&program), Value::String("dir_a".into()));
    assert_eq!(program.file(1).path, pick);
}

#[test]
fn several_roots_load_each_file_once() {
    let program = Program::load_all(
        &[
            format!("{IDL}/order/root.thrift"),
            // Already reached from the first root.
            format!("{IDL}/order/pick.thrift"),
            format!("{IDL}/common/base.thrift"),
            format!("{IDL}/order/root.thrift"),
        ],
        &[PathBuf::from(format!("{IDL}/order/dir_b"))],
    )
    .unwrap();
    assert_eq!(program.roots(), [0, 1, 3]);
    assert_eq!(program.root(), 0);
    let names: Vec<&str> = program.files().iter().map(|f| f.name()).collect();
    assert_eq!(names, ["root", "pick", "only_b", "base", "types"]);
    assert_eq!(program.service_chain(3, "Base").len(), 1);

    let error = Program::load_all(&[] as &[PathBuf], &[]).unwrap_err();
    assert_eq!(error.to_string(), "no IDL file to load");
}

#[test]
fn a_byte_order_mark_is_not_text() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("thrift_bom");
    std::fs::create_dir_all(&dir).unwrap();
    let root = dir.join("bom.thrift");
    std::fs::write(&root, "\u{feff}const i32 A = 1\nconst i32 B = C\n").unwrap();
    let error = Program::load(&root, &[]).unwrap_err();
    let span = error.first().span().unwrap();
    assert_eq!((span.line, span.column), (2, 15));
    std::fs::write(&root, "\u{feff}const i32 A = 1\n").unwrap();
    assert_eq!(
        Program::load(&root, &[]).unwrap().const_of(0, "A"),
        Some(&Value::Int(1))
    );
}
