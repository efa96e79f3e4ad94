//! The suite with rookery on both sides: the generated clients, multiplexed and pooled,
//! against the generated servers, in both protocols over every framing, TTHeader included;
//! plainly (the router finds the service by method) and with every call naming its service
//! (`SecondService:secondtestString`). Also the two programs, `thrift-test-server` and
//! `thrift-test-client`, as they are run by hand.

mod common;

use std::process::Stdio;

use common::{
    Connections, PROTOCOLS, THRIFT_TEST_METHODS, client, named_clients, start_rookery, within,
};
use rookery::{Framing, NamedService};
use rookery_interop::{
    TestHandler, check_every_method,
    thrift_test::{SecondServiceClient, SecondServiceServer, ThriftTestClient, ThriftTestServer},
};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

/// Every protocol, both kinds of connection, plain and named, over `framing`: every check
/// passes, and every oneway call reaches the handler once.
async fn rookery_suite(framing: Framing) {
    let handler = TestHandler::new();
    let running = start_rookery(&handler).await;
    let mut runs = 0;
    for protocol in PROTOCOLS {
        for connections in [Connections::Multiplexed, Connections::Pooled] {
            for named in [false, true] {
                let what = format!("{protocol:?}, {framing:?}, {connections:?}, named: {named}");
                let client = client(running.local_addr(), protocol, framing, connections);
                let outcome = within(120, &what, async {
                    if named {
                        let (thrift_test, second) = named_clients(&client);
                        check_every_method(&thrift_test, Some(&second)).await
                    } else {
                        let second = SecondServiceClient::new(client.clone());
                        check_every_method(&ThriftTestClient::new(client), Some(&second)).await
                    }
                })
                .await;
                let lines = outcome.unwrap_or_else(|e| panic!("{what}: {e}"));
                common::assert_every_method_ok(&lines.join("\n"), true, &what);
                runs += 1;
            }
        }
    }
    within(30, "stopping the server", running.stop())
        .await
        .expect("server stops");
    assert_eq!(handler.oneways(), vec![1; runs]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rookery_to_rookery_framed() {
    rookery_suite(Framing::Framed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rookery_to_rookery_buffered() {
    rookery_suite(Framing::Buffered).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rookery_to_rookery_ttheader() {
    rookery_suite(Framing::TTHeader).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rookery_to_rookery_ttheader_framed() {
    rookery_suite(Framing::TTHeaderFramed).await;
}

/// The generated server has every method of the IDL, which the checks call.
#[test]
fn generated_services_have_every_method() {
    assert_eq!(
        <ThriftTestServer<TestHandler> as NamedService>::METHODS,
        THRIFT_TEST_METHODS
    );
    assert_eq!(
        <ThriftTestServer<TestHandler> as NamedService>::NAME,
        "ThriftTest"
    );
    assert_eq!(
        <SecondServiceServer<TestHandler> as NamedService>::METHODS,
        ["secondtestString"]
    );
    assert_eq!(
        <SecondServiceServer<TestHandler> as NamedService>::NAME,
        "SecondService"
    );
}

/// `thrift-test-server` serves until SIGTERM and `thrift-test-client` checks it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_programs_run_the_suite() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_thrift-test-server"))
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("thrift-test-server runs");
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let line = within(60, "the server's readiness line", lines.next_line())
        .await
        .unwrap();
    let addr = line
        .as_deref()
        .and_then(|l| l.strip_prefix("listening on "))
        .unwrap_or_else(|| panic!("the server said {line:?}"))
        .to_owned();

    for args in [
        &["--protocol", "binary", "--transport", "buffered"][..],
        &[
            "--protocol",
            "compact",
            "--transport",
            "header",
            "--connections",
            "pool",
            "--multiplexed",
        ],
    ] {
        let out = within(
            120,
            "thrift-test-client",
            Command::new(env!("CARGO_BIN_EXE_thrift-test-client"))
                .args(["--addr", &addr])
                .args(args)
                .output(),
        )
        .await
        .expect("thrift-test-client runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "thrift-test-client {args:?}: {}\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout.lines().last(), Some("all ok"), "{stdout}");
    }

    let pid = server.id().expect("the server is running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = within(60, "the server stopping", server.wait())
        .await
        .unwrap();
    assert!(status.success(), "thrift-test-server: {status}");
    let last = within(10, "the server's last line", lines.next_line())
        .await
        .unwrap();
    assert_eq!(last.as_deref(), Some("stopped after 2 oneway calls"));
}
