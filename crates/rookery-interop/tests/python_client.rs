//! Apache Thrift's cross-language suite, rookery serving: the generated `ThriftTest` and
//! `SecondService` on one rookery server, called by Python's `thrift` package
//! (`python/thrift_test_client.py`, on code `thrift --gen py` writes from `idl/`), binary and
//! compact, framed and buffered, plainly and through Apache's `TMultiplexedProtocol`.
//!
//! The Python client calls every method and checks every answer; the test checks that it
//! did and that its oneway calls reached the Rust handler. Without python3, its `thrift`
//! package or the `thrift` compiler the tests fail and say which, unless
//! `ROOKERY_SKIP_PYTHON=1` is set.

mod common;

use common::{assert_every_method_ok, port_of, python, run_python_client, start_rookery, within};
use rookery::{Framing, Protocol};
use rookery_interop::TestHandler;

/// One rookery server; the Python client runs against it twice at once, plainly and
/// multiplexed.
async fn python_client_suite(protocol: Protocol, framing: Framing) {
    let Some(py) = python() else { return };
    let handler = TestHandler::new();
    let running = start_rookery(&handler).await;
    let port = port_of(&running);

    let (plain, multiplexed) = tokio::join!(
        run_python_client(py, port, protocol, framing, false),
        run_python_client(py, port, protocol, framing, true),
    );
    for (out, named) in [(&plain, false), (&multiplexed, true)] {
        let what = format!("{protocol:?}, {framing:?}, multiplexed: {named}");
        assert!(
            out.lines().last() == Some("all ok"),
            "{what}: the Python client did not finish:\n{out}"
        );
        assert_every_method_ok(out, named, &what);
        // A TException thrown by the handler reaches Python as a TApplicationException with
        // the handler's message.
        assert!(
            out.contains("ok testException (TException: This is a TException)"),
            "{what}:\n{out}"
        );
    }

    // Each client's oneway call reached the handler, with its argument.
    let oneways = within(30, "the oneway calls reaching the handler", async {
        handler.wait_for_oneways(2).await
    })
    .await;
    assert_eq!(oneways, [1, 1]);

    within(30, "stopping the server", running.stop())
        .await
        .expect("server stops");
    assert_eq!(handler.oneways(), [1, 1], "no more oneway calls than sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_binary_framed() {
    python_client_suite(Protocol::Binary, Framing::Framed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_binary_buffered() {
    python_client_suite(Protocol::Binary, Framing::Buffered).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_compact_framed() {
    python_client_suite(Protocol::Compact, Framing::Framed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_compact_buffered() {
    python_client_suite(Protocol::Compact, Framing::Buffered).await;
}
