//! JWT over the wire: a real native server (TTHeader over TCP) whose handler sits behind the
//! JWT layer, called by a real client whose token the client layer attaches.

#![cfg(feature = "jwt")]

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use jsonwebtoken::{EncodingKey, Header, encode};
use rookery_codec::thrift::Protocol;
use rookery_core::{Code, Context, Layer, Service, Status, service_fn};
use rookery_middleware::auth::{
    AddAuthorizationLayer, Algorithm, Identity, JwtKey, JwtLayer, Refreshing, Token,
};
use rookery_transport::{
    Client, Framing, Server, ServerHandle, ThriftRequest, ThriftResponse,
    health::{NoArgs, StringResult},
};
use serde_json::json;

const SECRET: &[u8] = b"integration secret, long enough for HS256";

fn token(subject: &str, audience: &str) -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let claims = json!({ "sub": subject, "aud": audience, "exp": exp });
    encode(
        &Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

/// A server whose `whoami` answers the subject of the caller's token; it counts the calls
/// that reached it.
async fn server(reached: Arc<AtomicUsize>) -> ServerHandle {
    let whoami = service_fn(move |cx: &mut Context, req: ThriftRequest| {
        reached.fetch_add(1, Ordering::SeqCst);
        let subject = Identity::of(cx)
            .and_then(Identity::subject)
            .unwrap_or("nobody")
            .to_string();
        async move {
            req.decode::<NoArgs>()
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            Ok::<_, Status>(ThriftResponse::new(
                req.protocol,
                &StringResult(subject.into()),
            ))
        }
    });
    let key = JwtKey::hmac(Algorithm::HS256, SECRET).unwrap();
    let service = JwtLayer::new(key, ["orders"]).layer(whoami);
    Server::builder()
        .service_name("orders")
        .build(service)
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

async fn whoami<S>(client: &S) -> Result<String, Status>
where
    S: Service<ThriftRequest, Response = ThriftResponse>,
{
    let req = ThriftRequest::new("whoami", Protocol::Binary, &NoArgs);
    let resp = client.call(&mut Context::new(), req).await?;
    Ok(resp.decode::<StringResult>().unwrap().0.to_string())
}

#[tokio::test]
async fn the_clients_token_reaches_the_server_and_names_the_caller() {
    let reached = Arc::new(AtomicUsize::new(0));
    let handle = server(Arc::clone(&reached)).await;
    let connection = Client::builder(handle.local_addr().clone())
        .timeout(Duration::from_secs(10))
        .build();

    let alice = AddAuthorizationLayer::bearer(token("alice", "orders")).layer(connection.clone());
    assert_eq!(whoami(&alice).await.unwrap(), "alice");

    // A token source, fetched once for two calls.
    let fetched = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&fetched);
    let bob = AddAuthorizationLayer::source(Refreshing::new(move || {
        count.fetch_add(1, Ordering::SeqCst);
        async { Ok(Token::new(token("bob", "orders"))) }
    }))
    .layer(connection.clone());
    assert_eq!(whoami(&bob).await.unwrap(), "bob");
    assert_eq!(whoami(&bob).await.unwrap(), "bob");
    assert_eq!(fetched.load(Ordering::SeqCst), 1);
    assert_eq!(reached.load(Ordering::SeqCst), 3);

    // Refused over the wire: UNAUTHENTICATED arrives as the status, and the handler never ran.
    let anonymous = whoami(&connection).await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated, "{anonymous}");
    assert!(
        anonymous.message().contains("no bearer token"),
        "{anonymous}"
    );
    let elsewhere = AddAuthorizationLayer::bearer(token("mallory", "billing")).layer(connection);
    let refused = whoami(&elsewhere).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused}");
    assert!(refused.message().contains("aud"), "{refused}");
    assert_eq!(reached.load(Ordering::SeqCst), 3);

    // A framing without a header carries no metadata, so no token: refused too (as a Thrift
    // exception, which has no room for the exact code).
    let framed = Client::builder(handle.local_addr().clone())
        .framing(Framing::Framed)
        .build();
    let framed = AddAuthorizationLayer::bearer(token("alice", "orders")).layer(framed);
    let status = whoami(&framed).await.unwrap_err();
    assert!(status.message().contains("no bearer token"), "{status}");
    assert_eq!(reached.load(Ordering::SeqCst), 3);
    handle.stop().await;
}
