//! The service lifecycle: hooks run in order with the right addresses, a failing hook stops
//! the start, and stopping drains before the last hooks run.

use std::sync::{Arc, Mutex};

use rookery::{
    Address, Context, Router, Service, Status,
    core::service_fn,
    transport::{ThriftRequest, ThriftResponse},
};

fn router() -> Router {
    Router::new().add_service_named(
        "S",
        &["m"],
        service_fn(|_cx: &mut Context, req: ThriftRequest| async move {
            Ok::<_, Status>(ThriftResponse::empty(req.protocol))
        }),
    )
}

type Log = Arc<Mutex<Vec<String>>>;

fn record(
    log: &Log,
    stage: &'static str,
) -> impl FnOnce(rookery::ServiceInfo) -> std::future::Ready<Result<(), std::io::Error>> + Send + 'static
{
    let log = Arc::clone(log);
    move |info| {
        log.lock()
            .unwrap()
            .push(format!("{stage} {} {}", info.name, info.address));
        std::future::ready(Ok(()))
    }
}

#[tokio::test]
async fn hooks_run_in_order_around_serving() {
    let log: Log = Arc::default();
    let running = Service::builder("svc")
        .version("1.2.3")
        .router(router())
        .before_start(record(&log, "before_start"))
        .after_start(record(&log, "after_start"))
        .before_stop(record(&log, "before_stop"))
        .after_stop(record(&log, "after_stop"))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let bound = running.local_addr().clone();
    let Address::Tcp(sock) = bound else {
        panic!("expected a TCP address, got {bound}");
    };
    assert_ne!(sock.port(), 0, "after start the bound port is known");
    assert_eq!(running.info().version, "1.2.3");
    // It serves: a connection is accepted.
    let stream = tokio::net::TcpStream::connect(sock).await.unwrap();
    drop(stream);
    running.stop().await.unwrap();
    // After stop, nothing listens any more.
    assert!(tokio::net::TcpStream::connect(sock).await.is_err());

    let log = log.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            "before_start svc 127.0.0.1:0".to_string(),
            format!("after_start svc {sock}"),
            format!("before_stop svc {sock}"),
            format!("after_stop svc {sock}"),
        ]
    );
}

#[tokio::test]
async fn a_failing_start_hook_stops_the_service() {
    let log: Log = Arc::default();
    let err = Service::builder("svc")
        .router(router())
        .before_start(|_| async { Err::<(), _>(std::io::Error::other("no registry")) })
        .after_start(record(&log, "after_start"))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("before start hook failed: no registry"),
        "{err}"
    );
    assert!(
        log.lock().unwrap().is_empty(),
        "nothing after a failed before_start"
    );

    let stopped: Log = Arc::default();
    let err = Service::builder("svc")
        .router(router())
        .after_start(|_| async { Err::<(), _>(std::io::Error::other("register failed")) })
        .before_stop(record(&stopped, "before_stop"))
        .after_stop(record(&stopped, "after_stop"))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("register failed"), "{err}");
    // The server that did start is stopped, with its stop hooks.
    assert_eq!(stopped.lock().unwrap().len(), 2);
}

#[test]
fn building_checks_the_configuration() {
    let err = Service::builder("svc").build().unwrap_err();
    assert!(err.to_string().contains("serves nothing"), "{err}");
    let err = Service::builder("").router(router()).build().unwrap_err();
    assert!(err.to_string().contains("needs a name"), "{err}");
    let err = Service::builder("svc")
        .router(router())
        .addr("not an address")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("bad address"), "{err}");
}
