//! Panic recovery: the panic's text is logged and not sent; on a real gRPC server (which
//! catches no panic itself) the layer turns a panicking handler into an `INTERNAL` answer,
//! and the server keeps serving either way.

#![cfg(feature = "protobuf")]

use std::{
    io::Write,
    sync::{Arc, Mutex, OnceLock},
};

use bytes::Bytes;
use rookery_codec::protobuf::rpc::{
    MethodDescriptor, MethodKind, ProtoRequest, ProtoResponse, ProtoStreamRequest,
    ServiceDescriptor, Streaming,
};
use rookery_core::{Code, Context, Layer, Service, Status, service_fn};
use rookery_grpc::{GrpcClient, GrpcService, Server};
use rookery_middleware::{recover::RecoverLayer, testing};
use rookery_transport::ThriftRequest;

/// What every test of this binary logged: one subscriber for the process, so no test
/// depends on which thread first meets a log statement.
fn log() -> &'static Mutex<Vec<u8>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        #[derive(Clone)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink(Arc::clone(&log));
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        log
    })
}

fn logged() -> String {
    String::from_utf8_lossy(&log().lock().unwrap()).into_owned()
}

#[tokio::test]
async fn the_panic_text_is_logged_and_not_sent() {
    log();
    let handler = service_fn(|_cx: &mut Context, _req: ThriftRequest| async {
        panic!("the vault code is 4711");
        #[allow(unreachable_code)]
        Ok::<_, Status>(testing::thrift_response())
    });
    let service = RecoverLayer::new().layer(handler);
    let status = service
        .call(&mut Context::new(), testing::thrift_request("open_vault"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert!(status.message().contains("open_vault"), "{status}");
    assert!(!status.message().contains("4711"), "{status}");
    let log = logged();
    let line = log
        .lines()
        .find(|l| l.contains("4711"))
        .unwrap_or_else(|| panic!("the panic was not logged: {log}"));
    assert!(
        line.contains("ERROR") && line.contains("open_vault"),
        "{line}"
    );
}

const fn unary(name: &'static str, path: &'static str) -> MethodDescriptor {
    MethodDescriptor {
        service: "test.Bank",
        name,
        path,
        kind: MethodKind::Unary,
        request: "test.Request",
        response: "test.Response",
    }
}

static METHODS: [MethodDescriptor; 2] = [
    unary("Get", "/test.Bank/Get"),
    unary("Boom", "/test.Bank/Boom"),
];
static BANK: ServiceDescriptor = ServiceDescriptor {
    name: "test.Bank",
    package: "test",
    methods: &METHODS,
};

/// Echoes `Get`; panics on `Boom`.
struct Bank;

impl Service<ProtoRequest> for Bank {
    type Response = ProtoResponse;

    async fn call(&self, _cx: &mut Context, req: ProtoRequest) -> Result<ProtoResponse, Status> {
        if req.method.name == "Boom" {
            panic!("the ledger is corrupt at row 12");
        }
        Ok(ProtoResponse { body: req.body })
    }
}

impl Service<ProtoStreamRequest> for Bank {
    type Response = Streaming<Bytes>;

    async fn call(
        &self,
        _cx: &mut Context,
        req: ProtoStreamRequest,
    ) -> Result<Streaming<Bytes>, Status> {
        Err(Status::unimplemented(req.method.path))
    }
}

async fn serve(service: impl GrpcService) -> GrpcClient {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder().add_service(&BANK, service).build();
    tokio::spawn(server.serve(listener));
    GrpcClient::connect(addr).await.unwrap()
}

async fn call(client: &GrpcClient, method: usize) -> Result<ProtoResponse, Status> {
    let req = ProtoRequest {
        method: &METHODS[method],
        body: Bytes::from_static(b"\x08\x01"),
    };
    client.call(&mut Context::new(), req).await
}

#[tokio::test]
async fn on_a_real_grpc_server_a_panicking_handler_answers_internal_and_the_next_call_succeeds() {
    log();
    let client = serve(RecoverLayer::new().layer(Bank)).await;
    let status = call(&client, 1).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal, "{status}");
    assert!(status.message().contains("test.Bank.Boom"), "{status}");
    assert!(!status.message().contains("ledger"), "{status}");
    let reply = call(&client, 0).await.unwrap();
    assert_eq!(&reply.body[..], b"\x08\x01");
    assert!(logged().contains("the ledger is corrupt"));
}

/// What the gRPC server does by itself: the panic ends the stream's task, the call fails
/// without a status of the handler's, and the server and connection keep serving.
#[tokio::test]
async fn without_the_layer_the_grpc_server_survives_but_the_call_gets_no_answer() {
    log();
    let client = serve(Bank).await;
    let status = call(&client, 1).await.unwrap_err();
    // The HTTP/2 stream is reset (`CANCEL`), which the client reads as `CANCELLED`.
    assert_eq!(status.code(), Code::Cancelled, "{status}");
    call(&client, 0).await.unwrap();
}
