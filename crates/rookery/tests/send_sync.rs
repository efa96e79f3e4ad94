//! Compile-time checks: the public futures and handles of rookery can cross threads, so they
//! can be spawned on a multi-threaded runtime and held across `.await` in `Send` futures.

use rookery::{
    Client, Context, Router, Service,
    codec::thrift::{ApplicationException, ApplicationExceptionKind},
    core::BoxService,
    transport::{Server, ServerHandle, ThriftRequest, ThriftResponse},
};

fn is_send<T: Send>(_: &T) {}
fn is_send_sync<T: Send + Sync>() {}

#[test]
fn handles_are_send_and_sync() {
    is_send_sync::<Client>();
    is_send_sync::<Router>();
    is_send_sync::<ServerHandle>();
    is_send_sync::<BoxService<ThriftRequest, ThriftResponse>>();
    is_send_sync::<rookery::Status>();
    is_send_sync::<Context>();
}

#[test]
fn futures_are_send() {
    let client = Client::builder("127.0.0.1:1".parse().unwrap()).build();
    let args = ApplicationException::new(ApplicationExceptionKind::Unknown, "x");
    let mut cx = Context::new();
    let call = client.call::<_, ApplicationException>(&mut cx, "m", &args);
    is_send(&call);
    drop(call);
    let mut cx = Context::new();
    let oneway = client.oneway(&mut cx, "m", &args);
    is_send(&oneway);
    drop(oneway);

    let service = Service::builder("s").router(Router::new().add_service_named(
        "S",
        &["m"],
        rookery::core::service_fn(|_cx: &mut Context, req: ThriftRequest| async move {
            Ok::<_, rookery::Status>(ThriftResponse::empty(req.protocol))
        }),
    ));
    let service = service.build().unwrap();
    let start = service.start();
    is_send(&start);
    drop(start);

    let server = Server::builder().build(Router::new());
    let addr = "127.0.0.1:0".parse().unwrap();
    let bind = server.bind(&addr);
    is_send(&bind);
}
