//! Golden files of generated code: the fixture crate's IDL (`crates/rookery-build-fixtures/idl`,
//! whose generated code that crate compiles and tests) is generated again into a temporary
//! directory and compared with `tests/golden/`. Run with `ROOKERY_BLESS=1` to rewrite them
//! after an intended change, and review the diff.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

use rookery_build::thrift::Builder;

fn fixture_idl() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rookery-build-fixtures/idl")
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn generated_code_matches_the_golden_files() {
    let idl = fixture_idl();
    let out = tempfile::tempdir().unwrap();
    let written = Builder::new()
        .include_dir(&idl)
        .out_dir(out.path())
        .emit_rerun_if_changed(false)
        .compile(&[idl.join("all_types.thrift"), idl.join("services.thrift")])
        .unwrap();
    let bless = std::env::var_os("ROOKERY_BLESS").is_some_and(|v| v == "1");
    let golden = golden_dir();
    fs::create_dir_all(&golden).unwrap();

    let mut names = BTreeSet::new();
    let mut stale = Vec::new();
    for path in &written {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let generated = fs::read_to_string(path).unwrap();
        let expected_path = golden.join(&name);
        names.insert(name.clone());
        if bless {
            fs::write(&expected_path, &generated).unwrap();
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != generated {
            stale.push(first_difference(&name, &expected, &generated));
        }
    }
    // Golden files of code that is no longer generated.
    for entry in fs::read_dir(&golden).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".rs") && !names.contains(&name) {
            if bless {
                fs::remove_file(golden.join(&name)).unwrap();
            } else {
                stale.push(format!("{name}: no longer generated"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "generated code differs from tests/golden (run with ROOKERY_BLESS=1 to accept):\n{}",
        stale.join("\n")
    );
}

fn first_difference(name: &str, expected: &str, generated: &str) -> String {
    let mut e = expected.lines();
    let mut g = generated.lines();
    let mut line = 1;
    loop {
        match (e.next(), g.next()) {
            (Some(a), Some(b)) if a == b => line += 1,
            (None, None) => return format!("{name}: differs"),
            (a, b) => {
                return format!(
                    "{name}:{line}:\n  golden:    {}\n  generated: {}",
                    a.unwrap_or("<end>"),
                    b.unwrap_or("<end>")
                );
            }
        }
    }
}

#[test]
fn generation_is_deterministic() {
    let idl = fixture_idl();
    let builder = Builder::new().include_dir(&idl);
    let roots = [idl.join("all_types.thrift"), idl.join("services.thrift")];
    let first = builder.generate(&roots).unwrap();
    for _ in 0..3 {
        assert_eq!(builder.generate(&roots).unwrap(), first);
    }
}

fn generate_one(text: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.thrift");
    fs::write(&path, text).unwrap();
    Builder::new()
        .generate(&[&path])
        .map(|files| files[0].code.clone())
        .map_err(|e| e.to_string())
}

#[test]
fn errors_name_the_place_and_the_problem() {
    let err = generate_one("struct A {\n  1: Missing m\n}\n").unwrap_err();
    assert!(err.contains("one.thrift:2:"), "{err}");
    assert!(err.contains("Missing"), "{err}");

    let err = generate_one("const i8 BIG = 300\n").unwrap_err();
    assert!(
        err.contains("one.thrift:1:") && err.contains("300"),
        "{err}"
    );

    let err = generate_one("enum Color { RED }\nconst Color C = Color.BLUE\n").unwrap_err();
    assert!(
        err.contains("one.thrift:2:") && err.contains("BLUE"),
        "{err}"
    );

    let err = generate_one("struct A {\n  1: i32 fooBar\n  2: i32 foo_bar\n}\n").unwrap_err();
    assert!(
        err.contains("one.thrift:3:") && err.contains("foo_bar"),
        "{err}"
    );

    let err = generate_one("include \"nowhere.thrift\"\n").unwrap_err();
    assert!(err.contains("nowhere.thrift"), "{err}");
}

#[test]
fn client_methods_do_not_clash_with_the_clients_own() {
    let code = generate_one("service S {\n  void new(),\n  i32 protocol()\n}\n").unwrap();
    assert!(code.contains("pub async fn new_("), "{code}");
    assert!(code.contains("pub async fn protocol_("), "{code}");
    assert!(code.contains("fn new(\n"), "{code}");
}

#[test]
fn module_paths_follow_namespaces_and_file_names() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("base.thrift"),
        "namespace rs deep.base\nstruct B { 1: i32 x }\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("UserService.thrift"),
        "include \"base.thrift\"\nstruct U { 1: base.B b }\n",
    )
    .unwrap();
    let files = Builder::new()
        .generate(&[dir.path().join("UserService.thrift")])
        .unwrap();
    assert_eq!(files[0].module, vec!["user_service"]);
    assert_eq!(files[1].module, vec!["deep", "base"]);
    assert!(
        files[0].code.contains("pub b: super::deep::base::B"),
        "{}",
        files[0].code
    );
}
