use std::future::Future;

use rookery_core::{Code, Context, Layer, Service, Status, service_fn};
use rookery_transport::{ThriftRequest, ThriftResponse};

use super::RecoverLayer;
use crate::testing::{thrift_request as request, thrift_response};

/// A handler that panics when called `boom`, with a message the caller must not see.
fn handler() -> impl Service<ThriftRequest, Response = ThriftResponse> {
    service_fn(|_cx: &mut Context, req: ThriftRequest| async move {
        if &*req.method == "boom" {
            panic!("secret: the database password is hunter2");
        }
        Ok::<_, Status>(thrift_response())
    })
}

#[tokio::test]
async fn a_panicking_handler_answers_internal_and_the_next_call_succeeds() {
    let service = RecoverLayer::new().layer(handler());
    let mut cx = Context::new();
    cx.callee_mut().service = "Bank".into();
    let status = service.call(&mut cx, request("boom")).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert!(status.message().contains("Bank.boom"), "{status}");
    assert!(
        !status.message().contains("secret"),
        "the panic's text was sent: {status}"
    );
    // The service goes on serving, the panicking method included.
    service
        .call(&mut Context::new(), request("get"))
        .await
        .unwrap();
    let again = service
        .call(&mut Context::new(), request("boom"))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::Internal);
    service
        .call(&mut Context::new(), request("get"))
        .await
        .unwrap();
}

/// A service that panics as it starts a call, before making a future.
struct PanicsAtOnce;

impl Service<ThriftRequest> for PanicsAtOnce {
    type Response = ThriftResponse;

    fn call(
        &self,
        _cx: &mut Context,
        req: ThriftRequest,
    ) -> impl Future<Output = Result<ThriftResponse, Status>> + Send {
        assert_ne!(&*req.method, "boom", "refusing to start");
        async { Ok(thrift_response()) }
    }
}

#[tokio::test]
async fn a_panic_before_the_call_runs_is_caught_too() {
    let service = RecoverLayer::new().layer(PanicsAtOnce);
    let status = service
        .call(&mut Context::new(), request("boom"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert!(status.message().starts_with("boom:"), "{status}");
    service
        .call(&mut Context::new(), request("get"))
        .await
        .unwrap();
}
