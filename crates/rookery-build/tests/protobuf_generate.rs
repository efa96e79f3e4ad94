//! The Protobuf builder: errors that name file, line and column, the files it writes, and the
//! well-known types rookery ships being exactly what it generates.

use std::path::{Path, PathBuf};

use rookery_build::protobuf::{Builder, ErrorKind};

fn idl() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/idl/proto")
}

fn error_of(file: &str) -> rookery_build::protobuf::Error {
    Builder::new()
        .include_dir(idl())
        .generate(&[idl().join(file)])
        .expect_err(file)
}

#[test]
fn a_syntax_error_names_file_line_and_column_and_shows_the_line() {
    let err = error_of("errors/syntax.proto");
    assert_eq!(err.kind(), ErrorKind::Syntax);
    let at = err.location().expect("a location");
    assert_eq!(
        (at.file.as_str(), at.line, at.column),
        ("errors/syntax.proto", 4, 19)
    );
    assert_eq!(
        err.to_string(),
        "errors/syntax.proto:4:19: expected ';' or '[', but found '}'\n  |\n4 |   string name = 1 }\n  |                   ^"
    );
}

#[test]
fn a_missing_import_names_the_paths_searched() {
    let err = error_of("errors/missing_import.proto");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let text = err.to_string();
    assert!(
        text.starts_with("errors/missing_import.proto:3:1: import 'nowhere/gone.proto' not found"),
        "{text}"
    );
    assert!(text.contains(&idl().display().to_string()), "{text}");
}

#[test]
fn a_file_not_on_the_include_paths_names_them() {
    let err = Builder::new()
        .include_dir(idl().join("common"))
        .generate(&[idl().join("kinds.proto")])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("common"), "{err}");
}

#[test]
fn an_unknown_type_is_located() {
    let err = error_of("errors/unknown_type.proto");
    assert_eq!(err.kind(), ErrorKind::Invalid);
    let text = err.to_string();
    assert!(
        text.starts_with("errors/unknown_type.proto:7:3: "),
        "{text}"
    );
    assert!(text.contains("Missing"), "{text}");
    assert!(text.contains("7 |   Missing bad = 2;"), "{text}");
}

#[test]
fn groups_are_refused_with_their_place() {
    let err = error_of("errors/group.proto");
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let text = err.to_string();
    assert!(
        text.starts_with("errors/group.proto:6:3: field `result`: proto2 groups are not supported"),
        "{text}"
    );
}

#[test]
fn compile_writes_a_file_per_package_and_a_root() {
    let out = std::env::temp_dir().join(format!("rookery-proto-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let output = Builder::new()
        .include_dir(idl())
        .out_dir(&out)
        .compile(&[idl().join("services.proto")])
        .unwrap();
    let packages: Vec<&str> = output.packages.keys().map(String::as_str).collect();
    assert_eq!(packages, ["fixtures.common", "fixtures.services"]);
    let root = std::fs::read_to_string(&output.root).unwrap();
    assert!(root.contains("pub mod fixtures {"), "{root}");
    assert!(root.contains("pub mod common {"), "{root}");
    assert!(
        root.contains("include!(\"fixtures.services.rs\");"),
        "{root}"
    );
    let services = std::fs::read_to_string(out.join("fixtures.services.rs")).unwrap();
    assert!(services.contains("pub trait Echo:"), "{services}");
    assert!(services.contains("pub struct EchoClient<S>"), "{services}");
    assert!(
        services.contains("super::common::Text"),
        "types of other packages by relative path"
    );
    // The inputs are what Cargo is told to watch (the well-known types are not files).
    let inputs: Vec<String> = output
        .inputs
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(inputs.len(), 2, "{inputs:?}");
    // Writing the same again leaves the files as they were.
    let before = std::fs::metadata(&output.root).unwrap().modified().unwrap();
    Builder::new()
        .include_dir(idl())
        .out_dir(&out)
        .compile(&[idl().join("services.proto")])
        .unwrap();
    assert_eq!(
        std::fs::metadata(&output.root).unwrap().modified().unwrap(),
        before
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn generated_code_reads_like_the_proto() {
    let code = Builder::new()
        .include_dir(idl())
        .generate(&[idl().join("kinds.proto")])
        .unwrap();
    let kinds = &code["fixtures.kinds"];
    for expected in [
        "pub struct Scalars {",
        "pub f_string: ::rookery::codegen::FastStr,",
        "pub f_bytes: ::rookery::codegen::Bytes,",
        "pub r_int32: ::std::vec::Vec<i32>,",
        "pub string_string: ::rookery::codegen::ProtoMap<::rookery::codegen::FastStr, ::rookery::codegen::FastStr>,",
        "pub choice: ::core::option::Option<oneofs::Choice>,",
        "OSelf(::std::boxed::Box<super::Oneofs>),",
        "pub child: ::core::option::Option<::std::boxed::Box<Nested>>,",
        "pub inner: ::core::option::Option<nested::Inner>,",
        "pub o_int32: ::core::option::Option<i32>,",
        "pub struct Color(pub i32);",
        "pub const BLUE: Color = Color(-3);",
        "pub r#type: i32,",
        "pub self_: ::rookery::codegen::FastStr,",
        "pub r#async: keywords::Box,",
        "/// One of each scalar.",
        "/// Keys of two and five bytes.",
    ] {
        assert!(kinds.contains(expected), "missing {expected:?}");
    }
}

/// `rookery::codec::protobuf::wkt` is what the generator writes for the well-known types;
/// `ROOKERY_BLESS=1` rewrites it.
#[test]
fn the_well_known_types_rookery_ships_are_generated() {
    let files = [
        "google/protobuf/any.proto",
        "google/protobuf/duration.proto",
        "google/protobuf/empty.proto",
        "google/protobuf/field_mask.proto",
        "google/protobuf/struct.proto",
        "google/protobuf/timestamp.proto",
        "google/protobuf/wrappers.proto",
    ];
    let empty = std::env::temp_dir().join(format!("rookery-wkt-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let code = Builder::new()
        .include_dir(&empty)
        .codegen_path("crate::protobuf::codegen")
        .generate_well_known_types(true)
        .generate(&files)
        .unwrap();
    let _ = std::fs::remove_dir_all(&empty);
    assert_eq!(code.keys().collect::<Vec<_>>(), ["google.protobuf"]);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rookery-codec/src/protobuf/wkt.rs");
    let shipped = std::fs::read_to_string(&path).unwrap();
    let header_end = shipped.find("// @generated").expect("the generated part");
    let expected = format!("{}{}", &shipped[..header_end], code["google.protobuf"]);
    if std::env::var_os("ROOKERY_BLESS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    } else {
        assert!(
            shipped == expected,
            "{} is stale: run with ROOKERY_BLESS=1",
            path.display()
        );
    }
}

#[test]
fn compile_embeds_the_descriptors_of_the_files_and_their_imports() {
    use prost::Message;

    let out = std::env::temp_dir().join(format!("rookery-proto-fds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let output = Builder::new()
        .include_dir(idl())
        .out_dir(&out)
        .compile(&[idl().join("services.proto")])
        .unwrap();
    let root = std::fs::read_to_string(&output.root).unwrap();
    assert!(
        root.contains(
            "pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(\"rookery_protobuf.bin\");"
        ),
        "{root}"
    );
    let bytes = std::fs::read(out.join("rookery_protobuf.bin")).unwrap();
    let set = prost_types::FileDescriptorSet::decode(&bytes[..]).unwrap();
    let names: Vec<&str> = set.file.iter().map(|f| f.name()).collect();
    // Imports first, then the file compiled.
    assert_eq!(names, ["common/types.proto", "services.proto"]);
    assert!(set.file.iter().all(|f| f.source_code_info.is_none()));
    assert_eq!(set.file[1].service[0].name(), "Echo");

    // Turned off, neither the constant nor the file is written.
    let off = out.join("off");
    let output = Builder::new()
        .include_dir(idl())
        .out_dir(&off)
        .descriptor_set(false)
        .compile(&[idl().join("services.proto")])
        .unwrap();
    let root = std::fs::read_to_string(&output.root).unwrap();
    assert!(!root.contains("FILE_DESCRIPTOR_SET"), "{root}");
    assert!(!off.join("rookery_protobuf.bin").exists());
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_service_of_streaming_methods_only_leaves_no_unused_context() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stream.proto"),
        "syntax = \"proto3\";\npackage s;\nmessage M {}\nservice S { rpc Chat(stream M) returns (stream M); }\n",
    )
    .unwrap();
    let code = Builder::new()
        .include_dir(dir.path())
        .generate(&[dir.path().join("stream.proto")])
        .unwrap();
    let s = &code["s"];
    assert!(
        s.contains("async fn call(&self, _cx: &mut ::rookery::codegen::Context, req: ::rookery::codegen::ProtoRequest)"),
        "{s}"
    );
}
