//! Calls every method of Apache Thrift's `ThriftTest` on a server (rookery's or any of
//! Thrift's test servers) with rookery's generated client, and checks every answer.
//!
//! ```text
//! thrift-test-client [--addr HOST:PORT] [--protocol binary|compact]
//!                    [--transport framed|buffered|header] [--connections mux|pool]
//!                    [--multiplexed]
//! ```
//!
//! Defaults: `127.0.0.1:9090`, binary, buffered, one multiplexed connection. `--multiplexed`
//! names the service of every call (`ThriftTest:testVoid`), as Apache's
//! `TMultiplexedProtocol` does, and calls `SecondService` too. Prints `ok METHOD` per method
//! and `all ok`, or the first wrong answer, and exits 1.
//!
//! The server must answer `testString("oneway count")` with how many oneway calls it
//! received, as rookery's `thrift-test-server` and the suite's Python server do.

use std::{process::ExitCode, time::Duration};

use rookery::{Client, Framing, Protocol};
use rookery_interop::{
    ServicePrefix, check_every_method,
    thrift_test::{SecondServiceClient, ThriftTestClient},
};

const USAGE: &str = "usage: thrift-test-client [--addr HOST:PORT] [--protocol binary|compact] \
                     [--transport framed|buffered|header] [--connections mux|pool] [--multiplexed]";

#[tokio::main]
async fn main() -> ExitCode {
    let mut addr = "127.0.0.1:9090".to_owned();
    let mut protocol = Protocol::Binary;
    let mut framing = Framing::Buffered;
    let mut pooled = false;
    let mut multiplexed = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let ok = match arg.as_str() {
            "--multiplexed" => {
                multiplexed = true;
                true
            }
            flag => match (flag, args.next().as_deref()) {
                ("--addr", Some(value)) => {
                    addr = value.to_owned();
                    true
                }
                ("--protocol", Some("binary")) => {
                    protocol = Protocol::Binary;
                    true
                }
                ("--protocol", Some("compact")) => {
                    protocol = Protocol::Compact;
                    true
                }
                ("--transport", Some("framed")) => {
                    framing = Framing::Framed;
                    true
                }
                ("--transport", Some("buffered")) => {
                    framing = Framing::Buffered;
                    true
                }
                ("--transport", Some("header")) => {
                    framing = Framing::TTHeader;
                    true
                }
                ("--connections", Some("mux")) => {
                    pooled = false;
                    true
                }
                ("--connections", Some("pool")) => {
                    pooled = true;
                    true
                }
                _ => false,
            },
        };
        if !ok {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    let addr = match addr.parse() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("thrift-test-client: bad address {addr:?}: {e}");
            return ExitCode::from(2);
        }
    };

    let builder = Client::builder(addr)
        .protocol(protocol)
        .framing(framing)
        .timeout(Duration::from_secs(30));
    let client = if pooled {
        builder.pooled(4)
    } else {
        builder.multiplexed(1)
    }
    .build();
    let outcome = if multiplexed {
        let thrift_test = ThriftTestClient::with_service(
            ServicePrefix::new("ThriftTest", client.clone()),
            protocol,
        );
        let second = SecondServiceClient::with_service(
            ServicePrefix::new("SecondService", client),
            protocol,
        );
        check_every_method(&thrift_test, Some(&second)).await
    } else {
        check_every_method(&ThriftTestClient::new(client), None::<&SecondServiceClient>).await
    };
    match outcome {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            println!("all ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("FAIL {e}");
            ExitCode::FAILURE
        }
    }
}
