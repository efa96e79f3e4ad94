//! `Service::run` stops on SIGTERM: deregistration hooks run and the call returns. Alone in
//! its own test binary, because it signals its own process.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use rookery::{
    Context, Router, Service, Status,
    core::service_fn,
    transport::{ThriftRequest, ThriftResponse},
};

#[tokio::test]
async fn sigterm_stops_a_running_service() {
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let stopped = Arc::new(AtomicBool::new(false));
    let stopped_in_hook = Arc::clone(&stopped);
    let service = Service::builder("svc")
        .router(Router::new().add_service_named(
            "S",
            &["m"],
            service_fn(|_cx: &mut Context, req: ThriftRequest| async move {
                Ok::<_, Status>(ThriftResponse::empty(req.protocol))
            }),
        ))
        .after_start(move |info| async move {
            let _ = started_tx.send(info.address);
            Ok::<_, std::io::Error>(())
        })
        .before_stop(move |_| async move {
            stopped_in_hook.store(true, Ordering::SeqCst);
            Ok::<_, std::io::Error>(())
        })
        .build()
        .unwrap();
    let run = tokio::spawn(service.run());
    let addr = started_rx.await.unwrap();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .expect("kill(1) is available");
    assert!(status.success());
    let outcome = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("run returns after SIGTERM")
        .unwrap();
    outcome.unwrap();
    assert!(stopped.load(Ordering::SeqCst), "before_stop ran");
    let rookery::Address::Tcp(sock) = addr else {
        panic!("tcp expected")
    };
    assert!(
        tokio::net::TcpStream::connect(sock).await.is_err(),
        "listener closed"
    );
}
