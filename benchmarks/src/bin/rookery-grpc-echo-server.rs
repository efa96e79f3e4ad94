//! rookery's gRPC Echo server for the benchmark: `rookery_grpc::Server` at its defaults,
//! HTTP/2 over plain TCP (TCP_NODELAY on), serving the `Echo` service generated from
//! `benchmarks/idl/echo.proto` by `rookery-build`, the proto tonic's peer serves.

use rookery_benchmarks::grpc::echo::{Echo, EchoRequest, EchoResponse, EchoServer, StreamRequest};
use rookery_benchmarks::serve;
use rookery_codec::protobuf::rpc::{BoxStream, Streaming};
use rookery_core::{Context, Status};
use rookery_grpc::Server;

/// The most responses one `Stream` call may ask for (as tonic's peer).
const MAX_STREAM_COUNT: u32 = 1_000_000;

struct EchoHandler;

impl Echo for EchoHandler {
    async fn echo(&self, _cx: &mut Context, request: EchoRequest) -> Result<EchoResponse, Status> {
        Ok(EchoResponse {
            payload: request.payload,
        })
    }

    async fn stream(
        &self,
        _cx: &mut Context,
        request: StreamRequest,
    ) -> Result<BoxStream<EchoResponse>, Status> {
        let StreamRequest { payload, count } = request;
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
        Ok(Streaming::iter(responses).into_inner())
    }
}

#[tokio::main]
async fn main() {
    let addr = serve::addr_from_env_or_exit("rookery-grpc-echo-server");
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("rookery-grpc-echo-server: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    serve::announce_listening(listener.local_addr().unwrap_or(addr));
    let shutdown = async {
        if let Err(e) = serve::shutdown_signal().await {
            eprintln!("rookery-grpc-echo-server: cannot watch signals: {e}");
            std::process::exit(1);
        }
    };
    let server = Server::builder()
        .add_service(
            EchoServer::<EchoHandler>::SERVICE,
            EchoServer::new(EchoHandler),
        )
        .build();
    if let Err(e) = server.serve_with_shutdown(listener, shutdown).await {
        eprintln!("rookery-grpc-echo-server: {e}");
        std::process::exit(1);
    }
}
