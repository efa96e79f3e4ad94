//! rookery's echo client for the benchmark: C callers sharing one `rookery::Client` at its
//! defaults (TTHeader, binary, multiplexed), spread over `--connections` connections
//! (default 1).

use rookery::{Client, Context, codegen::FastStr};
use rookery_benchmarks::load::{self, Caller, ClientOptions};
use rookery_examples::echo::EchoClient;

struct RookeryCaller {
    client: EchoClient,
    payload: FastStr,
}

impl Caller for RookeryCaller {
    async fn call(&mut self) -> Result<(), String> {
        let mut cx = Context::new();
        let reply = self
            .client
            .echo(&mut cx, self.payload.clone())
            .await
            .map_err(|e| e.to_string())?;
        if reply == self.payload {
            Ok(())
        } else {
            Err(format!(
                "reply of {} bytes differs from the {}-byte request",
                reply.len(),
                self.payload.len()
            ))
        }
    }
}

#[tokio::main]
async fn main() {
    let options = ClientOptions::from_env_or_exit("rookery-echo-client");
    options.require_unary("rookery-echo-client");
    let addr = match options.addr.parse() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("rookery-echo-client: bad address {}: {e}", options.addr);
            std::process::exit(2);
        }
    };
    let client = EchoClient::new(
        Client::builder(addr)
            .multiplexed(options.connections.unwrap_or(1))
            .build(),
    );
    let payload = match FastStr::from_bytes(load::payload(options.payload)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rookery-echo-client: payload is not UTF-8: {e}");
            std::process::exit(2);
        }
    };
    let callers = (0..options.concurrency)
        .map(|_| RookeryCaller {
            client: client.clone(),
            payload: payload.clone(),
        })
        .collect();
    let report = load::drive("rookery", &options, callers).await;
    println!("{}", report.to_json_line());
}
