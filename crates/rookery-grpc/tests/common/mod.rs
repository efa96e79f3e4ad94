//! A rookery interop server on an ephemeral loopback port, for the tests.

#![allow(dead_code)]

use std::{net::SocketAddr, time::Duration};

use rookery_grpc::interop::{self, InteropService};
use tokio::{net::TcpListener, sync::oneshot};

pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    pub(crate) service: InteropService,
    stop: Option<oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub(crate) async fn start() -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = InteropService::new();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(interop::server(service.clone()).serve_with_shutdown(
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    Running {
        addr,
        service,
        stop: Some(stop),
        served,
    }
}

impl Running {
    /// Asks the server to stop, without waiting.
    pub(crate) fn signal_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits for the server to have drained and stopped.
    pub(crate) async fn stopped(self) {
        tokio::time::timeout(Duration::from_secs(10), self.served)
            .await
            .expect("the server drains")
            .unwrap()
            .unwrap();
    }

    /// Waits until a call is in progress on the server.
    pub(crate) async fn busy(&self) {
        let busy = async {
            while self.service.in_flight() == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), busy)
            .await
            .expect("a call reaches the handler");
    }

    /// Waits until no call is in progress on the server: every handler, and every response
    /// stream, finished or dropped.
    pub(crate) async fn idle(&self) {
        tokio::time::timeout(Duration::from_secs(10), self.service.idle())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{} calls still in progress on the server",
                    self.service.in_flight()
                )
            });
    }

    pub(crate) async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.served)
            .await
            .expect("the server drains")
            .unwrap()
            .unwrap();
    }
}
