//! rookery's echo server for the benchmark: the Echo service of `examples/idl/echo.thrift`
//! served by `rookery::Service` at its defaults (it answers TTHeader, framed and buffered,
//! binary and compact, on the one port).

use rookery::{Context, Service, Status, codegen::FastStr};
use rookery_benchmarks::serve;
use rookery_examples::echo::{Echo, EchoServer, FailError};

struct Handler;

impl Echo for Handler {
    async fn echo(&self, _cx: &mut Context, msg: FastStr) -> Result<FastStr, Status> {
        Ok(msg)
    }

    async fn fail(
        &self,
        _cx: &mut Context,
        _code: i32,
        _message: FastStr,
    ) -> Result<FastStr, FailError> {
        Err(FailError::Status(Status::unimplemented(
            "not in the benchmark",
        )))
    }

    async fn notify(&self, _cx: &mut Context, _msg: FastStr) -> Result<(), Status> {
        Ok(())
    }
}

#[tokio::main]
async fn main() {
    let addr = serve::addr_from_env_or_exit("rookery-echo-server");
    let service = Service::builder("echo")
        .addr(addr.to_string())
        .serve(EchoServer::new(Handler))
        .after_start(|info| async move {
            match info.address {
                rookery::Address::Tcp(bound) => serve::announce_listening(bound),
                other => println!("listening on {other}"),
            }
            Ok::<_, std::io::Error>(())
        })
        .build();
    let outcome = match service {
        Ok(service) => service.run().await,
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        eprintln!("rookery-echo-server: {e}");
        std::process::exit(1);
    }
}
