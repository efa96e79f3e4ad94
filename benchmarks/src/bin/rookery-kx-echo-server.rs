//! rookery's echo server for the Kitex comparison: the echo service of
//! `interop/kitex/idl/echo.thrift` as `rookery_interop::kitex::serve` serves it to the
//! interoperability tests (the same semantics as the Kitex peer's server: the request's
//! message and payload back, `echoed-by` in the response metadata), on every framing
//! rookery detects, TTHeader among them.

use rookery::Address;
use rookery_benchmarks::serve;
use rookery_interop::kitex::{self, EchoHandler};

#[tokio::main]
async fn main() {
    let addr = serve::addr_from_env_or_exit("rookery-kx-echo-server");
    let running = match kitex::serve(&EchoHandler::new(), &addr.to_string()).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("rookery-kx-echo-server: cannot serve on {addr}: {e}");
            std::process::exit(1);
        }
    };
    match running.local_addr() {
        Address::Tcp(bound) => serve::announce_listening(*bound),
        other => println!("{}{other}", serve::LISTENING),
    }
    if let Err(e) = serve::shutdown_signal().await {
        eprintln!("rookery-kx-echo-server: cannot wait for signals: {e}");
        std::process::exit(1);
    }
    if let Err(e) = running.stop().await {
        eprintln!("rookery-kx-echo-server: stopping: {e}");
        std::process::exit(1);
    }
}
