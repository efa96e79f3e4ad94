//! Export of the trace layers' spans to an OpenTelemetry collector over OTLP/HTTP (protobuf),
//! feature `otlp`.
//!
//! [`Otlp::builder`] sets up the OpenTelemetry SDK: a tracer provider that batches spans on
//! a thread of its own and posts them to the collector (`http://localhost:4318/v1/traces`
//! unless told otherwise, or as `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_ENDPOINT` say). [`install`](OtlpBuilder::install) makes it the global
//! provider, which trace layers use unless given a tracer of their own.
//!
//! The HTTP requests go out on the Tokio runtime the exporter was built on (through hyper,
//! plain HTTP: a collector beside the service, or a sidecar); flush or shut down with the
//! async [`Otlp::flush`] and [`Otlp::shutdown`], which wait without blocking that runtime.
//!
//! ```no_run
//! use rookery_middleware::trace::{TraceLayer, otlp::Otlp};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let otlp = Otlp::builder("greeter")
//!     .endpoint("http://127.0.0.1:4318/v1/traces")
//!     .install()?;
//! let layer = TraceLayer::server(); // spans go to the global provider: the collector
//! // ... serve ...
//! otlp.shutdown().await?; // sends the spans still batched
//! # Ok(())
//! # }
//! ```

use std::{collections::HashMap, fmt, time::Duration};

use bytes::Bytes;
use http::{Request, Response, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::{SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::{
    Resource,
    trace::{SdkTracer, SdkTracerProvider},
};

use super::INSTRUMENTATION;

/// The largest collector response read (the collector answers with a small status message).
const MAX_RESPONSE: usize = 64 * 1024;

/// A failure to set up, flush or shut down the export.
#[derive(Debug)]
pub struct OtlpError(String);

impl fmt::Display for OtlpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OtlpError {}

/// Builds an [`Otlp`] export.
#[derive(Debug)]
pub struct OtlpBuilder {
    service_name: String,
    endpoint: Option<String>,
    timeout: Duration,
    headers: HashMap<String, String>,
}

impl OtlpBuilder {
    /// The URL spans are posted to, `http://host:port/v1/traces` (by default the
    /// environment's `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// with `/v1/traces` added, or `http://localhost:4318/v1/traces`).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// How long one export may take (10 s by default).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A header sent with every export (a collector's API key, say).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Sets up the export, without making it the global provider: trace layers given its
    /// [`tracer`](Otlp::tracer) use it. Must be called on a Tokio runtime, which will carry
    /// the exports.
    pub fn build(self) -> Result<Otlp, OtlpError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            OtlpError("the OTLP export must be built on a Tokio runtime, which sends it".into())
        })?;
        let client = RuntimeHttp {
            runtime,
            timeout: self.timeout,
        };
        let mut exporter = SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_timeout(self.timeout)
            .with_headers(self.headers);
        if let Some(endpoint) = self.endpoint {
            exporter = exporter.with_endpoint(endpoint);
        }
        let exporter = exporter
            .build()
            .map_err(|e| OtlpError(format!("setting up the OTLP exporter: {e}")))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name(self.service_name)
                    .build(),
            )
            .build();
        Ok(Otlp { provider })
    }

    /// Sets up the export and makes it the global tracer provider, which trace layers use
    /// unless given a tracer of their own.
    pub fn install(self) -> Result<Otlp, OtlpError> {
        let otlp = self.build()?;
        opentelemetry::global::set_tracer_provider(otlp.provider.clone());
        Ok(otlp)
    }
}

/// Spans exported to an OpenTelemetry collector. See [the module](self).
#[derive(Clone, Debug)]
pub struct Otlp {
    provider: SdkTracerProvider,
}

impl Otlp {
    /// A builder for the export of the spans of `service_name` (the `service.name` the
    /// collector files them under).
    pub fn builder(service_name: impl Into<String>) -> OtlpBuilder {
        OtlpBuilder {
            service_name: service_name.into(),
            endpoint: None,
            timeout: Duration::from_secs(10),
            headers: HashMap::new(),
        }
    }

    /// The tracer provider (to make spans of the application's own).
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    /// A tracer whose spans are exported, for [`TraceLayer::tracer`](super::TraceLayer::tracer).
    pub fn tracer(&self) -> SdkTracer {
        self.provider.tracer(INSTRUMENTATION)
    }

    /// Sends the spans batched so far, and waits until the collector has them.
    pub async fn flush(&self) -> Result<(), OtlpError> {
        let provider = self.provider.clone();
        blocking(move || provider.force_flush()).await
    }

    /// Sends the spans still batched and stops exporting.
    pub async fn shutdown(self) -> Result<(), OtlpError> {
        blocking(move || self.provider.shutdown()).await
    }
}

/// Runs one of the SDK's blocking calls on a blocking thread: it waits for exports that run
/// on this runtime, which must stay free to run them.
async fn blocking(
    f: impl FnOnce() -> opentelemetry_sdk::error::OTelSdkResult + Send + 'static,
) -> Result<(), OtlpError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(OtlpError(format!("exporting spans: {e}"))),
        Err(e) => Err(OtlpError(format!("exporting spans: {e}"))),
    }
}

/// The exporter's HTTP client: each request runs on the runtime the export was built on
/// (the SDK calls it from its own thread), over one HTTP/1.1 connection.
#[derive(Debug)]
struct RuntimeHttp {
    runtime: tokio::runtime::Handle,
    timeout: Duration,
}

#[async_trait::async_trait]
impl HttpClient for RuntimeHttp {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let timeout = self.timeout;
        let sent = self
            .runtime
            .spawn(async move {
                match tokio::time::timeout(timeout, post(request)).await {
                    Ok(result) => result,
                    Err(_) => {
                        Err(format!("no answer from the collector within {timeout:?}").into())
                    }
                }
            })
            .await;
        sent.map_err(|e| HttpError::from(format!("the export task ended: {e}")))?
    }
}

/// Sends `request` on a new connection and reads the whole response.
async fn post(request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
    let uri = request.uri().clone();
    if uri.scheme_str() != Some("http") {
        return Err(format!("{uri}: the OTLP export speaks plain http only").into());
    }
    let host = uri.host().ok_or_else(|| format!("{uri}: no host"))?;
    let port = uri.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port)).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "OTLP connection ended");
        }
    });
    let (mut parts, body) = request.into_parts();
    // An origin server is sent the path, and the authority as the host.
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = path.parse::<Uri>()?;
    if let Some(authority) = uri.authority() {
        parts
            .headers
            .insert(header::HOST, authority.as_str().parse()?);
    }
    let response = sender
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await?;
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, MAX_RESPONSE).collect().await?.to_bytes();
    Ok(Response::from_parts(parts, body))
}
