//! `rookery new` and `rookery update` for real: a project scaffolded from
//! `tests/idl/v1/calc.thrift` (which includes `shared.thrift`) is built by cargo, run, and
//! called over TCP by a client generated from the IDL; every function answers UNIMPLEMENTED.
//! Then a person writes one method, the IDL gains functions and a service
//! (`tests/idl/v2/`), `rookery update` adds their stubs without touching a byte that was
//! there, and the rebuilt program answers the written method and UNIMPLEMENTED for the rest.
//!
//! The project is built with the workspace's `Cargo.lock` copied in and `--offline` (the
//! same crates the workspace built, nothing fetched), into a target directory kept under
//! `CARGO_TARGET_TMPDIR` so that later runs rebuild only what changed.

mod common;

use common::{
    Running, assert_formatted, cargo_build, fresh_dir, lines_kept_in_order, manifest_dir, rookery,
    run_err, run_ok,
};
use rookery::{Client, Code, Context, Status};

#[allow(dead_code, unreachable_pub)] // the test calls some of what is generated, from here
mod idl {
    include!(concat!(env!("OUT_DIR"), "/rookery_thrift.rs"));
}

use idl::calc::{CalcClient, DivideError, StatsClient};

fn assert_unimplemented(status: &Status, what: &str) {
    assert_eq!(status.code(), Code::Unimplemented, "{what}: {status:?}");
    assert_eq!(
        status.message(),
        format!("{what} is not implemented yet"),
        "{what}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_project_builds_runs_answers_and_keeps_its_code_through_updates() {
    let parent = fresh_dir("scaffold");
    let v1 = manifest_dir().join("tests/idl/v1");
    let v2 = manifest_dir().join("tests/idl/v2");

    // rookery new: the files, and the IDL with its include copied in.
    let report = run_ok(
        rookery()
            .args(["new", "calc", "--idl"])
            .arg(v1.join("calc.thrift"))
            .arg("--dir")
            .arg(&parent),
        "rookery new",
    );
    let project = parent.join("calc");
    assert!(report.contains("created"), "{report}");
    for file in [
        "Cargo.toml",
        "build.rs",
        "src/main.rs",
        "src/services.rs",
        "src/handler.rs",
        "idl/calc.thrift",
        "idl/shared.thrift",
    ] {
        assert!(project.join(file).is_file(), "{file} was not written");
    }
    let handler_path = project.join("src/handler.rs");
    let handler = std::fs::read_to_string(&handler_path).expect("read handler.rs");
    for stub in [
        "Base.version",
        "Calc.add",
        "Calc.divide",
        "Calc.notes",
        "Calc.reset",
    ] {
        assert!(
            handler.contains(&format!("\"{stub} is not implemented yet\"")),
            "no stub for {stub}:\n{handler}"
        );
    }
    assert_formatted(&project, "of the new project");
    // A second `new` of the same name refuses, and points at `update`.
    let err = run_err(
        rookery()
            .args(["new", "calc", "--idl"])
            .arg(v1.join("calc.thrift"))
            .arg("--dir")
            .arg(&parent),
        "rookery new over an existing project",
    );
    assert!(
        err.contains("exists already") && err.contains("rookery update"),
        "{err}"
    );

    // It builds and runs as it is, and every function answers UNIMPLEMENTED.
    let program = cargo_build(&project, "calc");
    let running = Running::start(&program, "calc").await;
    let client = Client::builder(running.addr.clone()).build();
    let calc = CalcClient::new(client.clone());
    let err = calc
        .add(&mut Context::new(), 2, 3)
        .await
        .expect_err("a stub");
    assert_unimplemented(&err, "Calc.add");
    match calc.divide(&mut Context::new(), 1.0, 0.0).await {
        Err(DivideError::Status(s)) => assert_unimplemented(&s, "Calc.divide"),
        other => panic!("divide: {other:?}"),
    }
    let err = calc.version(&mut Context::new()).await.expect_err("a stub");
    assert_unimplemented(&err, "Base.version");
    running.stop().await;

    // A person writes `add`, and the IDL gains `sub`, `export` and the service `Stats`.
    let written = handler.replace(
        "    async fn add(&self, _cx: &mut Context, _a: i64, _b: i64) -> Result<i64, Status> {\n        \
         Err(Status::unimplemented(\"Calc.add is not implemented yet\"))\n    }",
        "    async fn add(&self, _cx: &mut Context, a: i64, b: i64) -> Result<i64, Status> {\n        \
         // Written by a person: `rookery update` keeps it as it is.\n        \
         a.checked_add(b)\n            .ok_or_else(|| Status::invalid_argument(\"overflow\"))\n    }",
    );
    assert_ne!(
        written, handler,
        "the stub of add was not where the test expected it"
    );
    std::fs::write(&handler_path, &written).expect("write handler.rs");
    for file in ["calc.thrift", "shared.thrift"] {
        std::fs::copy(v2.join(file), project.join("idl").join(file)).expect("copy the new IDL");
    }

    let report = run_ok(rookery().arg("update").arg(&project), "rookery update");
    for line in [
        "added Calc.sub",
        "added Calc.export",
        "added impl calc::Stats for Handler",
        "rewrote src/services.rs",
    ] {
        assert!(report.contains(line), "{line:?} not in:\n{report}");
    }
    let updated = std::fs::read_to_string(&handler_path).expect("read handler.rs");
    assert!(
        lines_kept_in_order(&written, &updated),
        "update changed what was written:\n--- before\n{written}\n--- after\n{updated}"
    );
    assert!(updated.contains("a.checked_add(b)"), "{updated}");
    for stub in ["Calc.sub", "Calc.export", "Stats.calls"] {
        assert!(
            updated.contains(&format!("\"{stub} is not implemented yet\"")),
            "no stub for {stub}:\n{updated}"
        );
    }
    // `export` returns `binary`: the `Bytes` it needs was imported.
    assert!(updated.contains("Bytes"), "{updated}");
    assert_formatted(&project, "after the update");
    // A second update finds nothing to do.
    let report = run_ok(
        rookery().arg("update").arg(&project),
        "rookery update again",
    );
    assert!(report.contains("up to date"), "{report}");
    assert_eq!(
        std::fs::read_to_string(&handler_path).expect("read handler.rs"),
        updated
    );

    // Rebuilt, it answers what was written, and UNIMPLEMENTED for what was added.
    let program = cargo_build(&project, "calc");
    let running = Running::start(&program, "calc").await;
    let client = Client::builder(running.addr.clone()).build();
    let calc = CalcClient::new(client.clone());
    assert_eq!(calc.add(&mut Context::new(), 2, 3).await.expect("add"), 5);
    let err = calc
        .add(&mut Context::new(), i64::MAX, 1)
        .await
        .expect_err("overflow");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let err = calc
        .sub(&mut Context::new(), 5, 3)
        .await
        .expect_err("a stub");
    assert_unimplemented(&err, "Calc.sub");
    let err = calc.export(&mut Context::new()).await.expect_err("a stub");
    assert_unimplemented(&err, "Calc.export");
    let stats = StatsClient::new(client);
    let err = stats.calls(&mut Context::new()).await.expect_err("a stub");
    assert_unimplemented(&err, "Stats.calls");
    running.stop().await;
}

#[test]
fn update_refuses_a_handler_that_does_not_parse_and_changes_nothing() {
    let parent = fresh_dir("scaffold-broken");
    run_ok(
        rookery()
            .args(["new", "calc", "--idl"])
            .arg(manifest_dir().join("tests/idl/v1/calc.thrift"))
            .arg("--dir")
            .arg(&parent),
        "rookery new",
    );
    let handler_path = parent.join("calc/src/handler.rs");
    let mut broken = std::fs::read_to_string(&handler_path).expect("read handler.rs");
    broken.push_str("\nfn half_written( {\n");
    std::fs::write(&handler_path, &broken).expect("write handler.rs");
    let err = run_err(
        rookery().arg("update").arg(parent.join("calc")),
        "rookery update of a broken handler",
    );
    assert!(
        err.contains("handler.rs") && err.contains("does not parse"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&handler_path).expect("read handler.rs"),
        broken
    );
}

#[test]
fn new_explains_what_it_cannot_do() {
    let parent = fresh_dir("scaffold-errors");
    let v1 = manifest_dir().join("tests/idl/v1/calc.thrift");

    let err = run_err(
        rookery()
            .args(["new", "2calc", "--idl"])
            .arg(&v1)
            .arg("--dir")
            .arg(&parent),
        "a bad name",
    );
    assert!(err.contains("cannot name a project"), "{err}");

    // An IDL with an error: the file, line and column, and nothing created.
    let bad = parent.join("bad.thrift");
    std::fs::write(
        &bad,
        "service Calc {\n    i64 add(1: i64 a,, 2: i64 b),\n}\n",
    )
    .expect("write");
    let err = run_err(
        rookery()
            .args(["new", "bad", "--idl"])
            .arg(&bad)
            .arg("--dir")
            .arg(&parent),
        "an IDL that does not parse",
    );
    assert!(err.contains("bad.thrift:2:"), "{err}");
    assert!(!parent.join("bad").exists(), "a project was left behind");

    // A missing include names where it was looked for.
    let lonely = parent.join("lonely.thrift");
    std::fs::write(&lonely, "include \"nowhere.thrift\"\nservice S {}\n").expect("write");
    let err = run_err(
        rookery()
            .args(["new", "lonely", "--idl"])
            .arg(&lonely)
            .arg("--dir")
            .arg(&parent),
        "a missing include",
    );
    assert!(err.contains("nowhere.thrift"), "{err}");
    assert!(
        err.contains(&parent.display().to_string()),
        "no search path in:\n{err}"
    );
    assert!(!parent.join("lonely").exists(), "a project was left behind");
}
