//! `rookery new` and `rookery update` for a `.proto` IDL, for real: a project scaffolded
//! from `tests/idl/proto/v1/greeter.proto` (which imports `common.proto` and a well-known
//! type, and has all four kinds of rpc) is built by cargo, serves gRPC, and answers each kind
//! of call from rookery's gRPC client with UNIMPLEMENTED. Then a person writes one rpc, the
//! IDL gains an rpc and a service (`tests/idl/proto/v2/`), `rookery update` adds their stubs
//! and keeps every line that was there, and the rebuilt program answers the written rpc.

mod common;

use common::{
    Running, assert_formatted, cargo_build, fresh_dir, lines_kept_in_order, manifest_dir, rookery,
    run_ok,
};
use rookery::{Code, Context, Status};
use rookery_grpc::GrpcClient;

#[allow(dead_code, unreachable_pub)] // the test calls some of what is generated, from here
mod idl {
    include!(concat!(env!("OUT_DIR"), "/rookery_protobuf.rs"));
}

use idl::{
    common::Name,
    greeter::{GreeterClient, Hello, StatsClient},
};

fn assert_unimplemented(status: &Status, what: &str) {
    assert_eq!(status.code(), Code::Unimplemented, "{what}: {status:?}");
    assert_eq!(
        status.message(),
        format!("{what} is not implemented yet"),
        "{what}"
    );
}

fn ada() -> Name {
    Name {
        first: "Ada".into(),
        last: "Lovelace".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_grpc_project_builds_serves_answers_and_keeps_its_code_through_updates() {
    let parent = fresh_dir("scaffold-grpc");
    let v1 = manifest_dir().join("tests/idl/proto/v1");
    let v2 = manifest_dir().join("tests/idl/proto/v2");

    let report = run_ok(
        rookery()
            .args(["new", "greeter", "--idl"])
            .arg(v1.join("greeter.proto"))
            .arg("--dir")
            .arg(&parent),
        "rookery new",
    );
    let project = parent.join("greeter");
    assert!(report.contains("idl/common.proto"), "{report}");
    assert!(project.join("idl/common.proto").is_file());
    let handler_path = project.join("src/handler.rs");
    let handler = std::fs::read_to_string(&handler_path).expect("read handler.rs");
    assert_formatted(&project, "of the new project");

    // It builds and serves gRPC as it is: every kind of call answers UNIMPLEMENTED.
    let program = cargo_build(&project, "greeter");
    let running = Running::start(&program, "greeter").await;
    let channel = GrpcClient::connect(running.addr.to_string())
        .await
        .expect("connect");
    let greeter = GreeterClient::new(channel.clone());
    let err = greeter
        .say_hello(&mut Context::new(), ada())
        .await
        .expect_err("a stub");
    assert_unimplemented(&err, "Greeter.SayHello");
    let err = greeter
        .ping(&mut Context::new(), Default::default())
        .await
        .expect_err("a stub");
    assert_unimplemented(&err, "Greeter.Ping");
    match greeter.repeat(&mut Context::new(), ada()).await {
        Err(err) => assert_unimplemented(&err, "Greeter.Repeat"),
        Ok(_) => panic!("Repeat answered a stream"),
    }
    running.stop().await;

    // A person writes SayHello; the IDL gains SayGoodbye and the service Stats.
    let written = handler.replace(
        "    async fn say_hello(\n        &self,\n        _cx: &mut Context,\n        \
         _request: common::Name,\n    ) -> Result<greeter::Hello, Status> {\n        \
         Err(Status::unimplemented(\n            \"Greeter.SayHello is not implemented yet\",\n        \
         ))\n    }",
        "    async fn say_hello(\n        &self,\n        _cx: &mut Context,\n        \
         request: common::Name,\n    ) -> Result<greeter::Hello, Status> {\n        \
         // Written by a person: `rookery update` keeps it as it is.\n        \
         let text = format!(\"hello, {} {}\", request.first, request.last);\n        \
         Ok(greeter::Hello { text: text.into() })\n    }",
    );
    assert_ne!(
        written, handler,
        "the stub of SayHello was not where the test expected it:\n{handler}"
    );
    std::fs::write(&handler_path, &written).expect("write handler.rs");
    for file in ["greeter.proto", "common.proto"] {
        std::fs::copy(v2.join(file), project.join("idl").join(file)).expect("copy the new IDL");
    }
    let report = run_ok(rookery().arg("update").arg(&project), "rookery update");
    for line in [
        "added Greeter.SayGoodbye",
        "added impl greeter::Stats for Handler",
        "rewrote src/services.rs",
    ] {
        assert!(report.contains(line), "{line:?} not in:\n{report}");
    }
    let updated = std::fs::read_to_string(&handler_path).expect("read handler.rs");
    assert!(
        lines_kept_in_order(&written, &updated),
        "update changed what was written:\n--- before\n{written}\n--- after\n{updated}"
    );
    assert_formatted(&project, "after the update");

    // Rebuilt: the written rpc answers, the new ones are stubs.
    let program = cargo_build(&project, "greeter");
    let running = Running::start(&program, "greeter").await;
    let channel = GrpcClient::connect(running.addr.to_string())
        .await
        .expect("connect");
    let greeter = GreeterClient::new(channel.clone());
    assert_eq!(
        greeter
            .say_hello(&mut Context::new(), ada())
            .await
            .expect("SayHello"),
        Hello {
            text: "hello, Ada Lovelace".into()
        }
    );
    let err = greeter
        .say_goodbye(&mut Context::new(), ada())
        .await
        .expect_err("a stub");
    assert_unimplemented(&err, "Greeter.SayGoodbye");
    let err = StatsClient::new(channel)
        .calls(&mut Context::new(), Default::default())
        .await
        .expect_err("a stub");
    assert_unimplemented(&err, "Stats.Calls");
    running.stop().await;
}
