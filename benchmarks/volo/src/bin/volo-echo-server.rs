//! volo-thrift Echo server at volo's defaults: `EchoServer::new(handler).run(addr)`,
//! which is TTHeader around framed Thrift binary, ping-pong (not multiplexed)
//! connections, on volo's own listener.

use pilota::FastStr;
use volo::net::incoming::MakeIncoming;
use volo_echo::echo::{Echo, EchoError, EchoFailException, EchoServer};
use volo_echo::serve;
use volo_thrift::{MaybeException, ServerError};

struct EchoHandler;

impl Echo for EchoHandler {
    async fn echo(&self, msg: FastStr) -> Result<FastStr, ServerError> {
        Ok(msg)
    }

    async fn fail(
        &self,
        code: i32,
        message: FastStr,
    ) -> Result<MaybeException<FastStr, EchoFailException>, ServerError> {
        Ok(MaybeException::Exception(EchoFailException::Err(
            EchoError {
                code: Some(code),
                message: Some(message),
            },
        )))
    }

    async fn notify(&self, _msg: FastStr) -> Result<(), ServerError> {
        Ok(())
    }
}

#[tokio::main]
async fn main() {
    let addr = serve::addr_from_env_or_exit("volo-echo-server");
    // Bind through volo's own `MakeIncoming` (what `run(addr)` does), so the listener
    // has volo's default options, and announce only once it is listening.
    let incoming = match volo::net::Address::from(addr).make_incoming().await {
        Ok(incoming) => incoming,
        Err(e) => {
            eprintln!("volo-echo-server: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    serve::announce_listening(addr);
    // volo's server handles SIGTERM, SIGINT and SIGHUP itself and drains gracefully.
    if let Err(e) = EchoServer::new(EchoHandler).run(incoming).await {
        eprintln!("volo-echo-server: {e}");
        std::process::exit(1);
    }
}
