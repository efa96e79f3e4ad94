//! tonic Echo client at tonic's defaults: a `Channel` per connection (one HTTP/2
//! connection, calls multiplexed on it as streams), `--connections N` channels (default 1)
//! with caller `i` on channel `i % N`, no timeouts. Each call is a unary `Echo` whose
//! reply must equal the request, or with `--mode stream` a `Stream` of `--stream-count`
//! responses, each of which must equal the request's payload.

use bytes::Bytes;
use tonic::transport::{Channel, Endpoint};
use tonic_echo::echo::echo_client::EchoClient;
use tonic_echo::echo::{EchoRequest, StreamRequest};
use tonic_echo::load::{self, Caller, ClientOptions, Mode};

struct TonicCaller {
    client: EchoClient<Channel>,
    payload: Bytes,
    mode: Mode,
    stream_count: u32,
}

impl TonicCaller {
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

    async fn unary(&mut self) -> Result<(), String> {
        let reply = self
            .client
            .echo(EchoRequest {
                payload: self.payload.clone(),
            })
            .await
            .map_err(|status| status.to_string())?
            .into_inner();
        self.check(&reply.payload)
    }

    async fn stream(&mut self) -> Result<(), String> {
        let mut responses = self
            .client
            .stream(StreamRequest {
                payload: self.payload.clone(),
                count: self.stream_count,
            })
            .await
            .map_err(|status| status.to_string())?
            .into_inner();
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

impl Caller for TonicCaller {
    async fn call(&mut self) -> Result<(), String> {
        match self.mode {
            Mode::Unary => self.unary().await,
            Mode::Stream => self.stream().await,
        }
    }
}

/// An error and the chain of its sources, `outer: inner: ...` (tonic's transport error
/// says only "transport error" by itself).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[tokio::main]
async fn main() {
    let options = ClientOptions::from_env_or_exit("tonic-echo-client");
    let endpoint = match Endpoint::from_shared(format!("http://{}", options.addr)) {
        Ok(endpoint) => endpoint,
        Err(e) => {
            eprintln!("tonic-echo-client: --addr {}: {e}", options.addr);
            std::process::exit(2);
        }
    };
    let mut channels = Vec::new();
    for _ in 0..options.connections.unwrap_or(1) {
        match endpoint.connect().await {
            Ok(channel) => channels.push(channel),
            Err(e) => {
                eprintln!(
                    "tonic-echo-client: cannot connect to {}: {}",
                    options.addr,
                    with_causes(&e)
                );
                std::process::exit(1);
            }
        }
    }
    let payload = load::payload(options.payload);
    let callers = (0..options.concurrency)
        .map(|i| TonicCaller {
            client: EchoClient::new(channels[i % channels.len()].clone()),
            payload: payload.clone(),
            mode: options.mode,
            stream_count: options.stream_count,
        })
        .collect();
    let report = load::drive("tonic", &options, callers).await;
    println!("{}", report.to_json_line());
}
