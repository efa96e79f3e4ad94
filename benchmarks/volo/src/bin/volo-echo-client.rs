//! volo-thrift Echo client at volo's defaults: `EchoClientBuilder::new(..).address(..)
//! .build()`, which is TTHeader around framed Thrift binary over ping-pong connections
//! from volo's pool (one connection per call in flight, kept for reuse), no timeouts.
//! volo does not let the caller fix the number of connections, so `--connections` is
//! accepted and ignored.

use pilota::FastStr;
use volo_echo::echo::{EchoClient, EchoClientBuilder};
use volo_echo::load::{self, Caller, ClientOptions};

struct VoloCaller {
    client: EchoClient,
    msg: FastStr,
}

impl Caller for VoloCaller {
    async fn call(&mut self) -> Result<(), String> {
        let reply = self
            .client
            .echo(self.msg.clone())
            .await
            .map_err(|e| e.to_string())?;
        if reply == self.msg {
            Ok(())
        } else {
            Err(format!(
                "reply of {} bytes differs from the {}-byte request",
                reply.len(),
                self.msg.len()
            ))
        }
    }
}

#[tokio::main]
async fn main() {
    let options = ClientOptions::from_env_or_exit("volo-echo-client");
    options.require_unary("volo-echo-client");
    if let Some(n) = options.connections {
        eprintln!(
            "volo-echo-client: --connections {n} ignored: volo's pool opens one connection per call in flight"
        );
    }
    let addr: std::net::SocketAddr = match options.addr.parse() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("volo-echo-client: --addr {}: {e}", options.addr);
            std::process::exit(2);
        }
    };
    let client = EchoClientBuilder::new("echo").address(addr).build();
    let msg = FastStr::from_bytes(load::payload(options.payload)).expect("the payload is ASCII");
    let callers = (0..options.concurrency)
        .map(|_| VoloCaller {
            client: client.clone(),
            msg: msg.clone(),
        })
        .collect();
    let report = load::drive("volo", &options, callers).await;
    println!("{}", report.to_json_line());
}
