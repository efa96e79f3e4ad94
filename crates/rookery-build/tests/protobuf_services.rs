//! Generated services: a handler served by the generated server, called by the generated
//! client through the two contracts a transport implements (unary over `ProtoRequest`, all
//! four kinds over `ProtoStreamRequest`), here with the server itself as the transport.

use std::pin::Pin;

use rookery::codegen::{
    BoxStream, MethodKind, ProtoRequest, ProtoStreamRequest, Service, Stream, Streaming,
};
use rookery::{Code, Context, Status};
use rookery_build_proto_fixtures::{grpc_gen::grpc::testing as grpc, rookery_gen::fixtures};

use fixtures::common::{Count, Text};
use fixtures::services::{Echo, EchoClient, EchoServer, echo_descriptor};

struct Handler;

impl Echo for Handler {
    async fn say(&self, cx: &mut Context, request: Text) -> Result<Text, Status> {
        if request.text == "fail" {
            return Err(Status::invalid_argument("asked to fail"));
        }
        Ok(Text {
            text: format!("{}: {}", cx.method(), request.text).into(),
        })
    }

    async fn collect(
        &self,
        _: &mut Context,
        mut requests: Streaming<Text>,
    ) -> Result<Count, Status> {
        let mut n = 0;
        while requests.message().await?.is_some() {
            n += 1;
        }
        Ok(Count { n })
    }

    async fn repeat(&self, _: &mut Context, request: Count) -> Result<BoxStream<Text>, Status> {
        let texts = (0..request.n).map(|i| {
            Ok(Text {
                text: i.to_string().into(),
            })
        });
        Ok(Streaming::iter(texts.collect::<Vec<_>>()).into_inner())
    }

    async fn chat(
        &self,
        _: &mut Context,
        requests: Streaming<Text>,
    ) -> Result<BoxStream<Text>, Status> {
        struct Upper(Streaming<Text>);
        impl Stream for Upper {
            type Item = Result<Text, Status>;
            fn poll_next(
                mut self: Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Self::Item>> {
                Pin::new(&mut self.0).poll_next(cx).map(|item| {
                    item.map(|r| {
                        r.map(|t| Text {
                            text: t.text.to_uppercase().into(),
                        })
                    })
                })
            }
        }
        Ok(Box::pin(Upper(requests)))
    }
}

async fn collect<T: Send + 'static>(mut s: Streaming<T>) -> Result<Vec<T>, Status> {
    let mut out = Vec::new();
    while let Some(m) = s.message().await? {
        out.push(m);
    }
    Ok(out)
}

#[tokio::test]
async fn every_kind_of_method_through_the_generated_server_and_client() {
    let client = EchoClient::new(EchoServer::new(Handler));
    let mut cx = Context::new();

    let reply = client
        .say(&mut cx, Text { text: "hi".into() })
        .await
        .unwrap();
    assert_eq!(
        &reply.text[..],
        "Say: hi",
        "the client names the method in the context"
    );

    let err = client
        .say(
            &mut Context::new(),
            Text {
                text: "fail".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let texts = Streaming::iter((0..3).map(|i| {
        Ok(Text {
            text: i.to_string().into(),
        })
    }));
    let count = client.collect(&mut Context::new(), texts).await.unwrap();
    assert_eq!(count.n, 3);

    let repeated = client
        .repeat(&mut Context::new(), Count { n: 4 })
        .await
        .unwrap();
    let texts: Vec<String> = collect(repeated)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.text.to_string())
        .collect();
    assert_eq!(texts, ["0", "1", "2", "3"]);

    let chat = Streaming::iter(["a", "b"].map(|t| Ok(Text { text: t.into() })));
    let answers = client.chat(&mut Context::new(), chat).await.unwrap();
    let answers: Vec<String> = collect(answers)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.text.to_string())
        .collect();
    assert_eq!(answers, ["A", "B"]);
}

#[tokio::test]
async fn the_server_answers_unimplemented_for_other_methods_and_bad_requests() {
    let server = EchoServer::new(Handler);
    // A streaming method is not served over the unary contract.
    let req = ProtoRequest {
        method: echo_descriptor::COLLECT,
        body: Default::default(),
    };
    let err = server.call(&mut Context::new(), req).await.unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    // A method of another service.
    let req = ProtoRequest {
        method: grpc::test_service_descriptor::EMPTY_CALL,
        body: Default::default(),
    };
    let err = server.call(&mut Context::new(), req).await.unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented, "{err:?}");
    // A request that does not decode.
    let req = ProtoRequest {
        method: echo_descriptor::SAY,
        body: bytes::Bytes::from_static(&[0x0a, 0x05]),
    };
    let err = server.call(&mut Context::new(), req).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // A unary method over the streaming contract needs exactly one request.
    let req = ProtoStreamRequest {
        method: echo_descriptor::SAY,
        messages: Streaming::empty(),
    };
    let err = server.call(&mut Context::new(), req).await.unwrap_err();
    assert_eq!(err.code(), Code::Internal);
    // A streaming request that does not decode ends the handler's stream with the error.
    let bad = Streaming::iter([Ok(bytes::Bytes::from_static(&[0x0a, 0x05]))]);
    let req = ProtoStreamRequest {
        method: echo_descriptor::COLLECT,
        messages: bad,
    };
    let err = server.call(&mut Context::new(), req).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[test]
fn descriptors_name_paths_kinds_and_types() {
    let service = EchoServer::<Handler>::SERVICE;
    assert_eq!(service.name, "fixtures.services.Echo");
    assert_eq!(service.package, "fixtures.services");
    let kinds: Vec<(&str, &str, MethodKind)> = service
        .methods
        .iter()
        .map(|m| (m.name, m.path, m.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("Say", "/fixtures.services.Echo/Say", MethodKind::Unary),
            (
                "Collect",
                "/fixtures.services.Echo/Collect",
                MethodKind::ClientStreaming
            ),
            (
                "Repeat",
                "/fixtures.services.Echo/Repeat",
                MethodKind::ServerStreaming
            ),
            (
                "Chat",
                "/fixtures.services.Echo/Chat",
                MethodKind::BidiStreaming
            ),
        ]
    );
    assert_eq!(echo_descriptor::SAY.request, "fixtures.common.Text");
    assert_eq!(echo_descriptor::COLLECT.response, "fixtures.common.Count");
    assert_eq!(
        service.method_by_path("/fixtures.services.Echo/Chat"),
        Some(echo_descriptor::CHAT)
    );

    // The grpc.testing protos generate, with every method of the interop suite's services.
    let test = grpc::test_service_descriptor::SERVICE;
    assert_eq!(test.name, "grpc.testing.TestService");
    let names: Vec<&str> = test.methods.iter().map(|m| m.name).collect();
    assert_eq!(
        names,
        [
            "EmptyCall",
            "UnaryCall",
            "CacheableUnaryCall",
            "StreamingOutputCall",
            "StreamingInputCall",
            "FullDuplexCall",
            "HalfDuplexCall",
            "UnimplementedCall",
        ]
    );
    assert_eq!(
        grpc::test_service_descriptor::FULL_DUPLEX_CALL.kind,
        MethodKind::BidiStreaming
    );
    assert_eq!(
        grpc::unimplemented_service_descriptor::SERVICE
            .methods
            .len(),
        1
    );
}

/// Generated servers, clients and the futures of their methods can cross threads.
#[test]
fn servers_clients_and_calls_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let client = EchoClient::new(EchoServer::new(Handler));
    send_sync(&client);
    let mut cx = Context::new();
    send(client.say(&mut cx, Text::default()));
    let mut cx = Context::new();
    send(client.chat(&mut cx, Streaming::empty()));
}
