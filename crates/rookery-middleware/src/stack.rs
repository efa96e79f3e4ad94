//! Whole stacks: every governance layer in the order it belongs, as one [`Layer`], built in
//! code or from a [`Config`](crate::config::Config).
//!
//! A client stack, outermost first: tracing (the span covers the whole call, retries
//! included), metrics, the access log, the call's timeout, retries and backup requests, the
//! circuit breaker, the concurrency limit, and the token attached to each attempt. A server
//! stack: tracing, metrics, the access log, the rate limit, the concurrency limit (shedding),
//! JWT authentication (feature `jwt`), the timeout, and panic recovery next to the handler.
//! So a refusal by a limit or by authentication is counted, logged and traced, and a panic is
//! answered `INTERNAL` before any of them see it.
//!
//! Layers left out cost one branch per call.
//!
//! ```
//! use std::time::Duration;
//! use rookery_core::Layer;
//! use rookery_middleware::{metrics::Metrics, stack::ClientStack, testing, timeout::TimeoutLayer};
//!
//! let metrics = Metrics::new();
//! let stack = ClientStack::recommended(&metrics).timeout(TimeoutLayer::new(Duration::from_secs(1)));
//! let (inner, _handle) = testing::mock::<rookery_transport::ThriftRequest, rookery_transport::ThriftResponse>();
//! let _client = stack.layer(inner); // a BalancedClient in a real program
//! ```

use rookery_core::{Context, Layer, Service, Status};

#[cfg(feature = "jwt")]
use crate::auth::{Jwt, JwtLayer};
use crate::{
    Side,
    auth::{AddAuthorization, AddAuthorizationLayer},
    breaker::{BreakerPolicy, CircuitBreaker, CircuitBreakerLayer},
    config::{ClientConfig, ConfigError, ServerConfig},
    limit::{
        concurrency::{ConcurrencyLimit, ConcurrencyLimitLayer},
        rate::{RateLimit, RateLimitLayer},
    },
    log::{AccessLog, AccessLogLayer},
    metrics::{Metered, Metrics, MetricsLayer},
    recover::{Recover, RecoverLayer},
    retry::{Retry, RetryLayer},
    timeout::{Timeout, TimeoutLayer},
    trace::{Trace, TraceLayer},
};

/// One service or the other: what a layer that may be left out makes.
#[derive(Clone, Debug)]
pub enum Either<A, B> {
    /// The layer's service.
    Left(A),
    /// The service as it was.
    Right(B),
}

impl<A, B, Req> Service<Req> for Either<A, B>
where
    A: Service<Req>,
    B: Service<Req, Response = A::Response>,
    Req: Send,
{
    type Response = A::Response;

    async fn call(&self, cx: &mut Context, req: Req) -> Result<A::Response, Status> {
        match self {
            Either::Left(a) => a.call(cx, req).await,
            Either::Right(b) => b.call(cx, req).await,
        }
    }
}

/// `inner` in `layer` if there is one.
fn maybe<L: Layer<S>, S>(layer: &Option<L>, inner: S) -> Either<L::Service, S> {
    match layer {
        Some(layer) => Either::Left(layer.layer(inner)),
        None => Either::Right(inner),
    }
}

fn config_error(what: &str, e: impl std::fmt::Display) -> ConfigError {
    crate::config::error(format!("{what}: {e}"))
}

/// The layers of a client, in their order; see [the module](self).
#[derive(Clone, Debug, Default)]
pub struct ClientStack {
    trace: Option<TraceLayer>,
    metrics: Option<MetricsLayer>,
    access_log: Option<AccessLogLayer>,
    timeout: Option<TimeoutLayer>,
    retry: Option<RetryLayer>,
    circuit_breaker: Option<CircuitBreakerLayer>,
    concurrency_limit: Option<ConcurrencyLimitLayer>,
    authorization: Option<AddAuthorizationLayer>,
}

impl ClientStack {
    /// No layer at all.
    pub fn new() -> Self {
        ClientStack::default()
    }

    /// What most clients want: tracing, metrics into `metrics`, access logs, retries with a
    /// budget (only what is safe to retry), and a circuit breaker per method; no timeout of
    /// its own (add one) and no limit.
    pub fn recommended(metrics: &Metrics) -> Self {
        ClientStack::new()
            .trace(TraceLayer::client())
            .metrics(metrics.client_layer())
            .access_log(AccessLogLayer::client())
            .retry(RetryLayer::new())
            .circuit_breaker(CircuitBreakerLayer::new(BreakerPolicy::default()))
    }

    /// The layers `config` sets (a layer whose table is absent is left out); metrics go to
    /// `metrics` when given.
    pub fn from_config(
        config: &ClientConfig,
        metrics: Option<&Metrics>,
    ) -> Result<Self, ConfigError> {
        let mut stack = ClientStack::new();
        stack.trace = config
            .trace
            .as_ref()
            .map(|c| TraceLayer::from_config(Side::Client, c));
        stack.metrics = metrics.map(Metrics::client_layer);
        stack.access_log = config
            .access_log
            .as_ref()
            .map(|c| AccessLogLayer::from_config(Side::Client, c));
        stack.timeout = config.timeout.as_ref().map(TimeoutLayer::from_config);
        stack.retry = match &config.retry {
            Some(c) => {
                Some(RetryLayer::from_config(c).map_err(|e| config_error("client.retry", e))?)
            }
            None => None,
        };
        stack.circuit_breaker = config
            .circuit_breaker
            .as_ref()
            .map(CircuitBreakerLayer::from_config);
        stack.concurrency_limit = config
            .concurrency_limit
            .as_ref()
            .map(ConcurrencyLimitLayer::client_from_config);
        stack.authorization = match &config.authorization {
            Some(c) => Some(
                AddAuthorizationLayer::from_config(c)
                    .map_err(|e| config_error("client.authorization", e))?,
            ),
            None => None,
        };
        Ok(stack)
    }

    /// Traces calls.
    pub fn trace(mut self, layer: TraceLayer) -> Self {
        self.trace = Some(layer);
        self
    }

    /// Counts calls.
    pub fn metrics(mut self, layer: MetricsLayer) -> Self {
        self.metrics = Some(layer);
        self
    }

    /// Logs calls.
    pub fn access_log(mut self, layer: AccessLogLayer) -> Self {
        self.access_log = Some(layer);
        self
    }

    /// Bounds each call, retries included.
    pub fn timeout(mut self, layer: TimeoutLayer) -> Self {
        self.timeout = Some(layer);
        self
    }

    /// Retries and sends backup requests.
    pub fn retry(mut self, layer: RetryLayer) -> Self {
        self.retry = Some(layer);
        self
    }

    /// Breaks the circuit of failing methods.
    pub fn circuit_breaker(mut self, layer: CircuitBreakerLayer) -> Self {
        self.circuit_breaker = Some(layer);
        self
    }

    /// Bounds the calls in flight.
    pub fn concurrency_limit(mut self, layer: ConcurrencyLimitLayer) -> Self {
        self.concurrency_limit = Some(layer);
        self
    }

    /// Attaches a token to every attempt.
    pub fn authorization(mut self, layer: AddAuthorizationLayer) -> Self {
        self.authorization = Some(layer);
        self
    }
}

type C1<S> = Either<AddAuthorization<S>, S>;
type C2<S> = Either<ConcurrencyLimit<C1<S>>, C1<S>>;
type C3<S> = Either<CircuitBreaker<C2<S>>, C2<S>>;
type C4<S> = Either<Retry<C3<S>>, C3<S>>;
type C5<S> = Either<Timeout<C4<S>>, C4<S>>;
type C6<S> = Either<AccessLog<C5<S>>, C5<S>>;
type C7<S> = Either<Metered<C6<S>>, C6<S>>;
type C8<S> = Either<Trace<C7<S>>, C7<S>>;

/// A service inside a [`ClientStack`].
#[derive(Clone, Debug)]
pub struct ClientStackService<S>(C8<S>);

impl<S> Layer<S> for ClientStack {
    type Service = ClientStackService<S>;

    fn layer(&self, inner: S) -> ClientStackService<S> {
        let s = maybe(&self.authorization, inner);
        let s = maybe(&self.concurrency_limit, s);
        let s = maybe(&self.circuit_breaker, s);
        let s = maybe(&self.retry, s);
        let s = maybe(&self.timeout, s);
        let s = maybe(&self.access_log, s);
        let s = maybe(&self.metrics, s);
        ClientStackService(maybe(&self.trace, s))
    }
}

impl<S, Req> Service<Req> for ClientStackService<S>
where
    C8<S>: Service<Req>,
    Req: Send,
{
    type Response = <C8<S> as Service<Req>>::Response;

    async fn call(&self, cx: &mut Context, req: Req) -> Result<Self::Response, Status> {
        self.0.call(cx, req).await
    }
}

/// The layers of a server, in their order; see [the module](self).
#[derive(Clone, Debug, Default)]
pub struct ServerStack {
    trace: Option<TraceLayer>,
    metrics: Option<MetricsLayer>,
    access_log: Option<AccessLogLayer>,
    rate_limit: Option<RateLimitLayer>,
    concurrency_limit: Option<ConcurrencyLimitLayer>,
    #[cfg(feature = "jwt")]
    jwt: Option<JwtLayer>,
    timeout: Option<TimeoutLayer>,
    recover: Option<RecoverLayer>,
}

impl ServerStack {
    /// No layer at all.
    pub fn new() -> Self {
        ServerStack::default()
    }

    /// What most servers want: tracing, metrics into `metrics`, access logs, the callers'
    /// deadlines enforced, and panics answered; no limit and no authentication (add them).
    pub fn recommended(metrics: &Metrics) -> Self {
        ServerStack::new()
            .trace(TraceLayer::server())
            .metrics(metrics.server_layer())
            .access_log(AccessLogLayer::server())
            .timeout(TimeoutLayer::inherited())
            .recover(RecoverLayer::new())
    }

    /// The layers `config` sets (a layer whose table is absent is left out; panic recovery
    /// is always on); metrics go to `metrics` when given.
    pub fn from_config(
        config: &ServerConfig,
        metrics: Option<&Metrics>,
    ) -> Result<Self, ConfigError> {
        let mut stack = ServerStack::new().recover(RecoverLayer::new());
        stack.trace = config
            .trace
            .as_ref()
            .map(|c| TraceLayer::from_config(Side::Server, c));
        stack.metrics = metrics.map(Metrics::server_layer);
        stack.access_log = config
            .access_log
            .as_ref()
            .map(|c| AccessLogLayer::from_config(Side::Server, c));
        stack.rate_limit = config.rate_limit.as_ref().map(RateLimitLayer::from_config);
        stack.concurrency_limit = config
            .concurrency_limit
            .as_ref()
            .map(ConcurrencyLimitLayer::from_config);
        #[cfg(feature = "jwt")]
        {
            stack.jwt = match &config.jwt {
                Some(c) => {
                    Some(JwtLayer::from_config(c).map_err(|e| config_error("server.jwt", e))?)
                }
                None => None,
            };
        }
        stack.timeout = Some(
            config
                .timeout
                .as_ref()
                .map_or_else(TimeoutLayer::inherited, TimeoutLayer::from_config),
        );
        Ok(stack)
    }

    /// Traces calls.
    pub fn trace(mut self, layer: TraceLayer) -> Self {
        self.trace = Some(layer);
        self
    }

    /// Counts calls.
    pub fn metrics(mut self, layer: MetricsLayer) -> Self {
        self.metrics = Some(layer);
        self
    }

    /// Logs calls.
    pub fn access_log(mut self, layer: AccessLogLayer) -> Self {
        self.access_log = Some(layer);
        self
    }

    /// Limits the rate of calls.
    pub fn rate_limit(mut self, layer: RateLimitLayer) -> Self {
        self.rate_limit = Some(layer);
        self
    }

    /// Limits the calls running at once.
    pub fn concurrency_limit(mut self, layer: ConcurrencyLimitLayer) -> Self {
        self.concurrency_limit = Some(layer);
        self
    }

    /// Authenticates callers by their JWT.
    #[cfg(feature = "jwt")]
    pub fn jwt(mut self, layer: JwtLayer) -> Self {
        self.jwt = Some(layer);
        self
    }

    /// Bounds each call by its deadline and the method's timeout.
    pub fn timeout(mut self, layer: TimeoutLayer) -> Self {
        self.timeout = Some(layer);
        self
    }

    /// Answers a handler's panic with `INTERNAL`.
    pub fn recover(mut self, layer: RecoverLayer) -> Self {
        self.recover = Some(layer);
        self
    }
}

type S1<S> = Either<Recover<S>, S>;
type S2<S> = Either<Timeout<S1<S>>, S1<S>>;
#[cfg(feature = "jwt")]
type S3<S> = Either<Jwt<S2<S>>, S2<S>>;
#[cfg(not(feature = "jwt"))]
type S3<S> = S2<S>;
type S4<S> = Either<ConcurrencyLimit<S3<S>>, S3<S>>;
type S5<S> = Either<RateLimit<S4<S>>, S4<S>>;
type S6<S> = Either<AccessLog<S5<S>>, S5<S>>;
type S7<S> = Either<Metered<S6<S>>, S6<S>>;
type S8<S> = Either<Trace<S7<S>>, S7<S>>;

/// A service inside a [`ServerStack`].
#[derive(Clone, Debug)]
pub struct ServerStackService<S>(S8<S>);

impl<S> Layer<S> for ServerStack {
    type Service = ServerStackService<S>;

    fn layer(&self, inner: S) -> ServerStackService<S> {
        let s = maybe(&self.recover, inner);
        let s = maybe(&self.timeout, s);
        #[cfg(feature = "jwt")]
        let s = maybe(&self.jwt, s);
        let s = maybe(&self.concurrency_limit, s);
        let s = maybe(&self.rate_limit, s);
        let s = maybe(&self.access_log, s);
        let s = maybe(&self.metrics, s);
        ServerStackService(maybe(&self.trace, s))
    }
}

impl<S, Req> Service<Req> for ServerStackService<S>
where
    S8<S>: Service<Req>,
    Req: Send,
{
    type Response = <S8<S> as Service<Req>>::Response;

    async fn call(&self, cx: &mut Context, req: Req) -> Result<Self::Response, Status> {
        self.0.call(cx, req).await
    }
}

#[cfg(test)]
mod tests {
    use rookery_core::{Code, Context, Layer, Service, Status};
    use rookery_transport::{ThriftRequest, ThriftResponse};

    use super::{ClientStack, ServerStack};
    use crate::{
        config::Config,
        metrics::Metrics,
        testing::{mock, thrift_request, thrift_response},
        trace::TRACEPARENT,
    };

    /// The value of the sample `series` in `text`, if exposed.
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
    }

    #[tokio::test]
    async fn the_recommended_client_stack_traces_counts_and_retries_what_is_safe() {
        let metrics = Metrics::new();
        let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
        // The first attempt never left (a refused connection): retried; then answered.
        handle.answer_with(|n, _, seen| {
            assert!(
                seen.metadata.get(TRACEPARENT).is_some(),
                "traceparent travels"
            );
            if n == 1 {
                Err(Status::unavailable("connection refused").with_unsent())
            } else {
                Ok(thrift_response())
            }
        });
        let client = ClientStack::recommended(&metrics).layer(inner);
        let mut cx = Context::new();
        cx.callee_mut().service = "bank".into();
        client.call(&mut cx, thrift_request("get")).await.unwrap();

        let text = metrics.encode();
        let series = r#"rookery_calls_total{side="client",service="bank",method="get",code="OK""#;
        let line = text.lines().find(|l| l.starts_with(series)).expect(&text);
        assert!(
            line.ends_with(" 1"),
            "one call counted, its retry inside: {line}"
        );
    }

    #[tokio::test]
    async fn a_server_stack_from_a_file_limits_counts_and_answers_panics() {
        let config = Config::from_toml(
            r#"
            [server.rate_limit]
            methods.get = { per_second = 0.001, burst = 1 }
            [server.timeout]
            default = "5s"
            "#,
        )
        .unwrap();
        let metrics = Metrics::new();
        let stack = ServerStack::from_config(&config.server, Some(&metrics)).unwrap();
        let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
        let server = stack.layer(inner);

        let call = async |method| {
            let mut cx = Context::new();
            cx.callee_mut().service = "bank".into();
            let result = server.call(&mut cx, thrift_request(method)).await;
            (result, cx)
        };
        let (answered, _) = tokio::join!(call("get"), async {
            let pending = handle.next().await.unwrap();
            assert!(
                pending.seen.remaining.is_some(),
                "the server's timeout applies"
            );
            pending.respond(Ok(thrift_response()));
        });
        answered.0.unwrap();
        let (refused, cx) = call("get").await;
        let status = refused.unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted, "{status}");
        assert!(
            cx.response_metadata()
                .get(crate::limit::RETRY_PUSHBACK)
                .is_some()
        );
        assert_eq!(
            handle.calls(),
            1,
            "the refused call never reached the handler"
        );

        let text = metrics.encode();
        let refused_series = r#"rookery_calls_total{side="server",service="bank",method="get",code="RESOURCE_EXHAUSTED",peer="#;
        assert!(
            text.lines()
                .any(|l| l.starts_with(refused_series) && l.ends_with(" 1")),
            "{text}"
        );
        assert_eq!(
            sample(
                &text,
                "rookery_calls_in_flight{side=\"server\",service=\"bank\"}"
            ),
            Some(0.0)
        );
    }

    #[tokio::test]
    async fn a_panicking_handler_is_answered_internal_inside_the_server_stack() {
        let metrics = Metrics::new();
        let panicking = rookery_core::service_fn(|_cx: &mut Context, _req: ThriftRequest| async {
            if true {
                panic!("scripted panic");
            }
            Ok::<_, Status>(thrift_response())
        });
        let server = ServerStack::recommended(&metrics).layer(panicking);
        let status = server
            .call(&mut Context::new(), thrift_request("get"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Internal);
        assert!(metrics.encode().contains(r#"code="INTERNAL""#));
    }

    #[test]
    fn a_bad_client_table_is_an_error_naming_it() {
        let config = Config::from_toml("[client.retry]\ndefault = { max_attempts = 0 }\n").unwrap();
        let err = ClientStack::from_config(&config.client, None).unwrap_err();
        assert!(err.to_string().contains("client.retry"), "{err}");
    }
}

#[cfg(test)]
mod readme {
    use super::{ClientStack, ServerStack};
    use crate::{config::Config, metrics::Metrics};

    /// The configuration the README shows builds both stacks.
    #[test]
    fn the_readme_configuration_builds() {
        let config = Config::from_toml_with_env(
            r#"
            [client.timeout]
            default = "1s"
            [client.retry]
            default = { max_attempts = 3 }
            methods."Inventory.get" = { idempotent = true, backup = { percentile = 99.0 } }
            [client.circuit_breaker]
            [server.rate_limit]
            default = { per_second = 500 }
            "#,
            [("ROOKERY__CLIENT__TIMEOUT__DEFAULT", "250ms")],
        )
        .unwrap();
        assert_eq!(
            config.client.timeout.as_ref().unwrap().default,
            Some(std::time::Duration::from_millis(250))
        );
        let metrics = Metrics::new();
        ClientStack::from_config(&config.client, Some(&metrics)).unwrap();
        ServerStack::from_config(&config.server, Some(&metrics)).unwrap();
    }
}
