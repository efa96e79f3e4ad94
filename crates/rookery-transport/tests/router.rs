//! Several services on one server: calls are routed by service and method, over the wire.

use rookery_codec::thrift::{ApplicationException, ApplicationExceptionKind};
use rookery_core::{Code, Context, Status, service_fn};
use rookery_transport::{
    Client, Framing, Router, Server, ServerHandle, ThriftRequest, ThriftResponse,
};

/// A service that answers with its own name and the method it saw.
fn named(
    name: &'static str,
) -> impl rookery_core::Service<ThriftRequest, Response = ThriftResponse> + 'static {
    service_fn(move |cx: &mut Context, req: ThriftRequest| {
        let seen = format!("{name}.{}", req.method);
        let callee = cx.method().to_string();
        async move {
            assert_eq!(
                callee, &*req.method,
                "the context names the method without a prefix"
            );
            let reply = ApplicationException::new(ApplicationExceptionKind::Unknown, seen);
            Ok::<_, Status>(ThriftResponse::new(req.protocol, &reply))
        }
    })
}

async fn server() -> ServerHandle {
    let router = Router::new()
        .add_service_named("First", &["ping", "shared"], named("First"))
        .add_service_named("Second", &["pong", "shared"], named("Second"));
    Server::builder()
        .build(router)
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

async fn who(client: &Client, cx: &mut Context, method: &'static str) -> Result<String, Status> {
    let args = ApplicationException::new(ApplicationExceptionKind::Unknown, "");
    let reply: ApplicationException = client.call(cx, method, &args).await?;
    Ok(reply.message.to_string())
}

#[tokio::test]
async fn calls_reach_the_service_they_name() {
    let handle = server().await;
    for framing in [Framing::TTHeader, Framing::Framed, Framing::Buffered] {
        let client = Client::builder(handle.local_addr().clone())
            .framing(framing)
            .build();
        let cx = &mut Context::new();
        // By method, when one service has it.
        assert_eq!(who(&client, cx, "ping").await.unwrap(), "First.ping");
        assert_eq!(who(&client, cx, "pong").await.unwrap(), "Second.pong");
        // A method both have goes to the service added first...
        assert_eq!(who(&client, cx, "shared").await.unwrap(), "First.shared");
        // ...unless the call names its service, as Apache Thrift's multiplexed protocol does.
        assert_eq!(
            who(&client, cx, "Second:shared").await.unwrap(),
            "Second.shared"
        );
        let err = who(&client, cx, "Nope:ping").await.unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented, "{framing:?}: {err}");
        let err = who(&client, cx, "nothing").await.unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented, "{framing:?}: {err}");
        assert!(err.message().contains("unknown method nothing"), "{err}");
    }
    handle.stop().await;
}

#[tokio::test]
async fn the_idl_service_header_routes_over_ttheader() {
    let handle = server().await;
    let client = Client::builder(handle.local_addr().clone()).build();
    let mut cx = Context::new();
    // Kitex names the service in the `isn` string info; it does not reach the handler as
    // metadata.
    cx.metadata_mut().insert("isn", "Second");
    assert_eq!(
        who(&client, &mut cx, "shared").await.unwrap(),
        "Second.shared"
    );
    let mut cx = Context::new();
    cx.metadata_mut().insert("isn", "Third");
    let err = who(&client, &mut cx, "shared").await.unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    assert!(err.message().contains("unknown service Third"), "{err}");
    handle.stop().await;
}
