//! What the tests share: instances, and real servers that say who they are.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use rookery_codec::thrift::{ApplicationException, ApplicationExceptionKind, Protocol};
use rookery_core::{Context, Service, Status, service_fn};
use rookery_registry::{Instance, protocol};
use rookery_transport::{Router, Server, ServerHandle, ThriftRequest, ThriftResponse};

/// An instance of `svc` with a fixed id, on a port nobody needs to listen on.
pub fn instance(id: &str) -> Instance {
    instance_at(id, "127.0.0.1:1")
}

pub fn instance_at(id: &str, address: &str) -> Instance {
    let mut i =
        Instance::new("svc", "1.0.0".parse().unwrap()).with_address(protocol::THRIFT, address);
    i.id = id.into();
    i
}

pub fn weighted(id: &str, weight: u32) -> Instance {
    let mut i = instance(id);
    i.weight = weight;
    i
}

pub fn in_region(id: &str, region: &str) -> Instance {
    let mut i = instance(id);
    i.region = region.into();
    i
}

/// A server whose one method `who` answers with `name`, after `delay`.
pub async fn server(name: &'static str, delay: Duration) -> ServerHandle {
    let who = service_fn(move |_cx: &mut Context, req: ThriftRequest| async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let reply = ApplicationException::new(ApplicationExceptionKind::Unknown, name);
        Ok::<_, Status>(ThriftResponse::new(req.protocol, &reply))
    });
    Server::builder()
        .drain_timeout(Duration::from_secs(5))
        .build(Router::new().add_service_named("Who", &["who"], who))
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// Calls `who` through `client`: the name of the server that answered.
pub async fn who<S>(client: &S, cx: &mut Context) -> Result<String, Status>
where
    S: Service<ThriftRequest, Response = ThriftResponse>,
{
    let args = ApplicationException::new(ApplicationExceptionKind::Unknown, "");
    let reply = client
        .call(cx, ThriftRequest::new("who", Protocol::Binary, &args))
        .await?;
    let reply: ApplicationException = reply
        .decode()
        .map_err(|e| Status::internal(e.to_string()))?;
    Ok(reply.message.to_string())
}

/// A loopback port nobody listens on: bound, learnt, closed.
pub fn dead_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr.to_string()
}

/// How many times each of `names` occurs in `picks`.
pub fn counts<'a>(names: &[&str], picks: impl IntoIterator<Item = &'a str>) -> Vec<usize> {
    let mut counts = vec![0; names.len()];
    for p in picks {
        let i = names
            .iter()
            .position(|n| *n == p)
            .unwrap_or_else(|| panic!("unknown {p}"));
        counts[i] += 1;
    }
    counts
}

/// Whether `count` of `n` draws is within 5 standard deviations of `n × p`.
pub fn within_5_sigma(count: usize, n: usize, p: f64) -> bool {
    let mean = n as f64 * p;
    let sigma = (n as f64 * p * (1.0 - p)).sqrt();
    (count as f64 - mean).abs() <= 5.0 * sigma
}
