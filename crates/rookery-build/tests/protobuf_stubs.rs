//! Handler stubs of Protobuf services, compiled and called. The fixture crate's build script
//! writes a handler from the stubs of `services.proto`, `scaffold/clock.proto` and
//! `scaffold/bare.proto` (every kind of call, nested messages, imported packages, two
//! packages ending in `common`, the well-known types, an rpc named like a keyword, a file
//! without a package), as `rookery new` writes `src/handler.rs`: that crate compiles, without
//! a warning, only if every stub has the signature of the generated trait. Here the handler
//! is checked against a golden file and rustfmt, and every stub answers `UNIMPLEMENTED`
//! through the generated client and server.

use std::{
    fs,
    path::{Path, PathBuf},
};

use rookery::{
    Code, Context, Status,
    codec::protobuf::{rpc::Streaming, wkt},
};
use rookery_build::protobuf::stubs::{StubOptions, stubs};
use rookery_build_proto_fixtures::scaffold::{HANDLER_SOURCE, handler::Handler, idl};

use idl::fixtures::{common, scaffold, services};

fn proto_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/idl/proto")
}

const FILES: [&str; 3] = [
    "services.proto",
    "scaffold/clock.proto",
    "scaffold/bare.proto",
];

#[test]
fn the_handler_matches_the_golden_file() {
    let golden =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/stubs/protobuf_handler.rs");
    if std::env::var_os("ROOKERY_BLESS").is_some_and(|v| v == "1") {
        fs::write(&golden, HANDLER_SOURCE).unwrap();
    }
    let expected = fs::read_to_string(&golden).unwrap_or_default();
    assert!(
        expected == HANDLER_SOURCE,
        "the handler the stubs give differs from tests/golden/stubs/protobuf_handler.rs (run with \
         ROOKERY_BLESS=1 to accept):\n{HANDLER_SOURCE}"
    );
}

/// rustfmt leaves the handler as the stubs wrote it, so a scaffolded project starts
/// formatted.
#[test]
fn the_handler_is_as_rustfmt_writes_it() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    let child = Command::new(std::env::var_os("RUSTFMT").unwrap_or("rustfmt".into()))
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("no rustfmt to run: the layout of the handler is not checked");
        return;
    };
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(HANDLER_SOURCE.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(HANDLER_SOURCE, String::from_utf8(out.stdout).unwrap());
}

/// The stubs of the same files, made here, are those the compiled handler holds; the server
/// and client are named from the crate's root (the test below calls them there).
#[test]
fn the_stubs_are_those_the_handler_holds() {
    let dir = proto_dir();
    let files: Vec<PathBuf> = FILES.iter().map(|f| dir.join(f)).collect();
    let options = StubOptions {
        idl_module: "crate::scaffold::idl".to_string(),
    };
    let all = stubs(&files, &[dir], &options).unwrap();
    let paths: Vec<(&str, &str, &str)> = all
        .iter()
        .map(|s| {
            (
                s.trait_path.as_str(),
                s.server_path.as_str(),
                s.client_path.as_str(),
            )
        })
        .collect();
    assert_eq!(
        paths,
        [
            (
                "services::Echo",
                "scaffold::idl::fixtures::services::EchoServer",
                "scaffold::idl::fixtures::services::EchoClient"
            ),
            (
                "scaffold::Clock",
                "scaffold::idl::fixtures::scaffold::ClockServer",
                "scaffold::idl::fixtures::scaffold::ClockClient"
            ),
            (
                "idl::Bare",
                "scaffold::idl::BareServer",
                "scaffold::idl::BareClient"
            ),
        ]
    );
    for service in &all {
        assert!(
            HANDLER_SOURCE.contains(&service.impl_block("Handler")),
            "{}",
            service.impl_block("Handler")
        );
    }
}

#[track_caller]
fn assert_unimplemented<T>(result: Result<T, Status>, message: &str) {
    let Some(status) = result.err() else {
        panic!("{message}: the stub answered");
    };
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    assert_eq!(status.message(), message);
}

#[tokio::test]
async fn every_stub_answers_unimplemented_through_the_generated_client_and_server() {
    let text = || common::Text { text: "hi".into() };
    let texts = || Streaming::iter([Ok(text()), Ok(text())]);

    let echo = services::EchoClient::new(services::EchoServer::new(Handler));
    let cx = &mut Context::new();
    assert_unimplemented(
        echo.say(cx, text()).await,
        "Echo.Say is not implemented yet",
    );
    assert_unimplemented(
        echo.collect(cx, texts()).await,
        "Echo.Collect is not implemented yet",
    );
    assert_unimplemented(
        echo.repeat(cx, common::Count { n: 2 }).await,
        "Echo.Repeat is not implemented yet",
    );
    assert_unimplemented(
        echo.chat(cx, texts()).await,
        "Echo.Chat is not implemented yet",
    );

    let clock = scaffold::ClockClient::new(scaffold::ClockServer::new(Handler));
    assert_unimplemented(
        clock.now(cx, wkt::Empty::default()).await,
        "Clock.Now is not implemented yet",
    );
    assert_unimplemented(
        clock.set(cx, scaffold::alarm::Ring::default()).await,
        "Clock.Set is not implemented yet",
    );
    let snoozes = Streaming::iter([Ok(scaffold::alarm::ring::Snooze::default())]);
    assert_unimplemented(
        clock.snooze(cx, snoozes).await,
        "Clock.Snooze is not implemented yet",
    );
    assert_unimplemented(
        clock.ticks(cx, common::Count { n: 3 }).await,
        "Clock.Ticks is not implemented yet",
    );
    let zones = Streaming::iter([Ok(scaffold::common::Zone::default())]);
    assert_unimplemented(
        clock.mirror(cx, zones).await,
        "Clock.Mirror is not implemented yet",
    );
    assert_unimplemented(
        clock.r#type(cx, text()).await,
        "Clock.Type is not implemented yet",
    );

    let bare = idl::BareClient::new(idl::BareServer::new(Handler));
    assert_unimplemented(
        bare.ping(cx, idl::Ping::default()).await,
        "Bare.Ping is not implemented yet",
    );
}
