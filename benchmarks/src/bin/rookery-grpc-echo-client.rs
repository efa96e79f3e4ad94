//! rookery's gRPC Echo client for the benchmark: a `GrpcClient` per connection (one HTTP/2
//! connection, calls multiplexed on it as streams), `--connections N` of them (default 1)
//! with caller `i` on connection `i % N`, no deadlines; the `EchoClient` generated from
//! `benchmarks/idl/echo.proto` by `rookery-build` calls through it. Each call is a unary
//! `Echo` whose reply must equal the request, or with `--mode stream` a `Stream` of
//! `--stream-count` responses, each of which must equal the request's payload.

use bytes::Bytes;
use rookery_benchmarks::grpc::echo::{EchoClient, EchoRequest, StreamRequest};
use rookery_benchmarks::load::{self, Caller, ClientOptions, Mode};
use rookery_core::Context;
use rookery_grpc::GrpcClient;

struct GrpcCaller {
    client: EchoClient<GrpcClient>,
    payload: Bytes,
    mode: Mode,
    stream_count: u32,
}

impl GrpcCaller {
    fn check(&self, reply: &Bytes) -> Result<(), String> {
        if *reply == self.payload {
            Ok(())
        } else {
            Err(format!(
                "reply of {} bytes differs from the {}-byte request",
                reply.len(),
                self.payload.len()
            ))
        }
    }

    async fn unary(&self) -> Result<(), String> {
        let reply = self
            .client
            .echo(
                &mut Context::new(),
                EchoRequest {
                    payload: self.payload.clone(),
                },
            )
            .await
            .map_err(|status| status.to_string())?;
        self.check(&reply.payload)
    }

    async fn stream(&self) -> Result<(), String> {
        let mut responses = self
            .client
            .stream(
                &mut Context::new(),
                StreamRequest {
                    payload: self.payload.clone(),
                    count: self.stream_count,
                },
            )
            .await
            .map_err(|status| status.to_string())?;
        let mut received = 0;
        while let Some(reply) = responses
            .message()
            .await
            .map_err(|status| status.to_string())?
        {
            self.check(&reply.payload)?;
            received += 1;
        }
        if received == self.stream_count {
            Ok(())
        } else {
            Err(format!(
                "{received} responses, {} asked for",
                self.stream_count
            ))
        }
    }
}

impl Caller for GrpcCaller {
    async fn call(&mut self) -> Result<(), String> {
        match self.mode {
            Mode::Unary => self.unary().await,
            Mode::Stream => self.stream().await,
        }
    }
}

#[tokio::main]
async fn main() {
    let options = ClientOptions::from_env_or_exit("rookery-grpc-echo-client");
    let mut channels = Vec::new();
    for _ in 0..options.connections.unwrap_or(1) {
        match GrpcClient::connect(options.addr.as_str()).await {
            Ok(channel) => channels.push(channel),
            Err(e) => {
                eprintln!(
                    "rookery-grpc-echo-client: cannot connect to {}: {e}",
                    options.addr
                );
                std::process::exit(1);
            }
        }
    }
    let payload = load::payload(options.payload);
    let callers = (0..options.concurrency)
        .map(|i| GrpcCaller {
            client: EchoClient::new(channels[i % channels.len()].clone()),
            payload: payload.clone(),
            mode: options.mode,
            stream_count: options.stream_count,
        })
        .collect();
    let report = load::drive("rookery-grpc", &options, callers).await;
    println!("{}", report.to_json_line());
}
