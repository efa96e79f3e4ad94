//! tonic Echo server at tonic's defaults: `Server::builder().add_service(..)` on a listener
//! bound as `Server::serve` binds one (TCP_NODELAY on), HTTP/2 over plain TCP, each call
//! answered by the handler of the service generated from `benchmarks/idl/echo.proto`.

use std::pin::Pin;

use tokio_stream::Stream;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};
use tonic_echo::echo::echo_server::{Echo, EchoServer};
use tonic_echo::echo::{EchoRequest, EchoResponse, StreamRequest};
use tonic_echo::serve;

/// The most responses one `Stream` call may ask for.
const MAX_STREAM_COUNT: u32 = 1_000_000;

struct EchoHandler;

#[tonic::async_trait]
impl Echo for EchoHandler {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let payload = request.into_inner().payload;
        Ok(Response::new(EchoResponse { payload }))
    }

    type StreamStream = Pin<Box<dyn Stream<Item = Result<EchoResponse, Status>> + Send>>;

    async fn stream(
        &self,
        request: Request<StreamRequest>,
    ) -> Result<Response<Self::StreamStream>, Status> {
        let StreamRequest { payload, count } = request.into_inner();
        if count > MAX_STREAM_COUNT {
            return Err(Status::invalid_argument(format!(
                "count {count} is over {MAX_STREAM_COUNT}"
            )));
        }
        let responses = (0..count).map(move |_| {
            Ok(EchoResponse {
                payload: payload.clone(),
            })
        });
        Ok(Response::new(Box::pin(tokio_stream::iter(responses))))
    }
}

#[tokio::main]
async fn main() {
    let addr = serve::addr_from_env_or_exit("tonic-echo-server");
    // Bind here rather than in `serve`, so that the readiness line comes after the bind;
    // with the socket options `Server::serve` gives its own listener.
    let incoming = match TcpIncoming::bind(addr) {
        Ok(incoming) => incoming.with_nodelay(Some(true)),
        Err(e) => {
            eprintln!("tonic-echo-server: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    serve::announce_listening(incoming.local_addr().unwrap_or(addr));
    let shutdown = async {
        if let Err(e) = serve::shutdown_signal().await {
            eprintln!("tonic-echo-server: cannot watch signals: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = Server::builder()
        .add_service(EchoServer::new(EchoHandler))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
    {
        eprintln!("tonic-echo-server: {e}");
        std::process::exit(1);
    }
}
