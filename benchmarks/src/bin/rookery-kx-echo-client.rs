//! rookery's echo client for the Kitex comparison: C callers sharing one `rookery::Client`
//! (TTHeader, Thrift binary) through the client generated from
//! `interop/kitex/idl/echo.thrift`, set up the way the Kitex peer's `bench` sets up Kitex's
//! client, so that the two differ only in whose code runs:
//!
//! - `--connection-mode mux`: every call multiplexed on one connection (Kitex's
//!   `WithMuxConnection(1)`);
//! - `--connection-mode pooled`: one call at a time per connection, from a pool that opens
//!   as many as there are calls in flight (`--connections`, by default the concurrency; Kitex's
//!   long-connection pool likewise opens one per call in flight and keeps up to 1000).
//!
//! Each call sends `EchoRequest { message: "bench", payload }` and checks that the reply
//! carries both back. As the Kitex peer's client does, every call has a 30 s timeout (which
//! TTHeader carries to the server) and connections a 5 s connect timeout.

use std::time::Duration;

use rookery::{
    Client, Context, Framing,
    codegen::{Bytes, FastStr},
};
use rookery_benchmarks::flags::Flags;
use rookery_benchmarks::load::{self, CLIENT_FLAGS, Caller, ClientOptions};
use rookery_interop::echo::{EchoClient, EchoRequest};

const BINARY: &str = "rookery-kx-echo-client";

struct KxCaller {
    client: EchoClient<Client>,
    message: FastStr,
    payload: Bytes,
}

impl Caller for KxCaller {
    async fn call(&mut self) -> Result<(), String> {
        let request = EchoRequest {
            message: self.message.clone(),
            payload: self.payload.clone(),
            ..EchoRequest::default()
        };
        let reply = self
            .client
            .echo(&mut Context::new(), request)
            .await
            .map_err(|e| format!("{e:?}"))?;
        if reply.message == self.message && reply.payload == self.payload {
            Ok(())
        } else {
            Err(format!(
                "reply ({:?}, {} bytes) differs from the request ({:?}, {} bytes)",
                reply.message,
                reply.payload.len(),
                self.message,
                self.payload.len()
            ))
        }
    }
}

/// How the client uses its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnectionMode {
    Pooled,
    Mux,
}

impl std::str::FromStr for ConnectionMode {
    type Err = String;

    fn from_str(text: &str) -> Result<ConnectionMode, String> {
        match text {
            "pooled" => Ok(ConnectionMode::Pooled),
            "mux" => Ok(ConnectionMode::Mux),
            other => Err(format!("`{other}` is neither `pooled` nor `mux`")),
        }
    }
}

fn exit_with(message: &str, usage: &str) -> ! {
    eprintln!("error: {message}\n\n{usage}");
    std::process::exit(2);
}

#[tokio::main]
async fn main() {
    let usage = format!(
        "{}\n\n--connection-mode pooled|mux (default mux): one multiplexed connection, or a \
         pool of up to\n--connections connections (default: the concurrency), one call on each \
         at a time.\n--call-timeout-ms N (default 30000, as the Kitex peer's client): each call's \
         timeout, sent to the server in TTHeader; 0 for none.",
        load::client_usage(BINARY)
    );
    let mut known = CLIENT_FLAGS.to_vec();
    known.push("connection-mode");
    known.push("call-timeout-ms");
    let flags = Flags::from_env_or_exit(&known, &usage);
    let options = ClientOptions::from_flags(&flags).unwrap_or_else(|m| exit_with(&m, &usage));
    options.require_unary(BINARY);
    let mode: ConnectionMode = flags
        .get_or("connection-mode", ConnectionMode::Mux)
        .unwrap_or_else(|m| exit_with(&m, &usage));
    let addr = options
        .addr
        .parse()
        .unwrap_or_else(|e| exit_with(&format!("bad address {}: {e}", options.addr), &usage));

    // The Kitex peer's client settings: a 30 s RPC timeout (sent to the server in TTHeader,
    // so both sides keep a deadline per call) and a 5 s connect timeout.
    let call_timeout_ms: u64 = flags
        .get_or("call-timeout-ms", 30_000)
        .unwrap_or_else(|m| exit_with(&m, &usage));
    let builder = Client::builder(addr)
        .framing(Framing::TTHeader)
        .connect_timeout(Duration::from_secs(5));
    let builder = if call_timeout_ms > 0 {
        builder.timeout(Duration::from_millis(call_timeout_ms))
    } else {
        builder
    };
    let builder = match mode {
        ConnectionMode::Mux => builder.multiplexed(options.connections.unwrap_or(1)),
        ConnectionMode::Pooled => {
            builder.pooled(options.connections.unwrap_or(options.concurrency))
        }
    };
    let client = EchoClient::new(builder.build());
    let payload = load::payload(options.payload);
    let callers = (0..options.concurrency)
        .map(|_| KxCaller {
            client: client.clone(),
            message: FastStr::from_static_str("bench"),
            payload: payload.clone(),
        })
        .collect();
    let name = match mode {
        ConnectionMode::Mux => "rookery-kx-mux",
        ConnectionMode::Pooled => "rookery-kx-pooled",
    };
    let report = load::drive(name, &options, callers).await;
    println!("{}", report.to_json_line());
}
