//! Apache Thrift's cross-language suite, rookery calling: the generated `ThriftTestClient`
//! and `SecondServiceClient` over `rookery::Client`, multiplexed and pooled, against a server
//! of Python's `thrift` package (`python/thrift_test_server.py`), binary and compact, framed
//! and buffered, plain and behind Apache's `TMultiplexedProcessor`.
//!
//! Every method is called with the values the Python client sends and every answer is
//! checked in Rust: declared exceptions as the right error variant with the right fields,
//! the application exception as a status, the oneway call by the server's count. Calls to
//! the multiplexed server name their service (`SecondService:secondtestString`) through
//! `ServicePrefix`. Without python3, its `thrift` package or the `thrift` compiler the tests
//! fail and say which, unless `ROOKERY_SKIP_PYTHON=1` is set.

mod common;

use common::{Connections, PyServer, client, named_clients, python};
use rookery::{Framing, Protocol};
use rookery_interop::{
    check_every_method,
    thrift_test::{SecondServiceClient, ThriftTestClient},
};

/// Runs every check against one Python server, with a multiplexed and then a pooled client.
/// (One client at a time: the oneway check reads the server's count before and after.)
async fn against(py_server: &PyServer, protocol: Protocol, framing: Framing, multiplexed: bool) {
    for connections in [Connections::Multiplexed, Connections::Pooled] {
        let what = format!(
            "rookery client ({connections:?}) to a Python server ({protocol:?}, {framing:?}, \
             multiplexed: {multiplexed})"
        );
        let client = client(&py_server.addr, protocol, framing, connections);
        let outcome = if multiplexed {
            let (thrift_test, second) = named_clients(&client);
            check_every_method(&thrift_test, Some(&second)).await
        } else {
            check_every_method(&ThriftTestClient::new(client), None::<&SecondServiceClient>).await
        };
        let lines = match outcome {
            Ok(lines) => lines.join("\n"),
            Err(e) => panic!(
                "{what}: {e}\nPython server's stderr:\n{}",
                py_server.stderr()
            ),
        };
        common::assert_every_method_ok(&lines, multiplexed, &what);
    }
}

/// A plain and a multiplexed Python server of one protocol and framing, checked at once.
async fn rookery_client_suite(protocol: Protocol, framing: Framing) {
    let Some(py) = python() else { return };
    let (plain, multiplexed) = tokio::join!(
        PyServer::start(py, protocol, framing, false),
        PyServer::start(py, protocol, framing, true),
    );
    common::within(300, "the rookery clients' checks", async {
        tokio::join!(
            against(&plain, protocol, framing, false),
            against(&multiplexed, protocol, framing, true),
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rookery_client_to_python_server_binary_framed() {
    rookery_client_suite(Protocol::Binary, Framing::Framed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rookery_client_to_python_server_binary_buffered() {
    rookery_client_suite(Protocol::Binary, Framing::Buffered).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rookery_client_to_python_server_compact_framed() {
    rookery_client_suite(Protocol::Compact, Framing::Framed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rookery_client_to_python_server_compact_buffered() {
    rookery_client_suite(Protocol::Compact, Framing::Buffered).await;
}
