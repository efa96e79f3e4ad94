//! A scripted inner service, to test layers step by step (as tower-test's mock does): the
//! layer under test wraps a [`Mock`], and the test, holding its [`Handle`], sees each call
//! that reached the inner service (request and context) and answers it when and how it likes.
//!
//! ```
//! use rookery_core::{Context, Service, Status};
//! use rookery_middleware::testing::mock;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let (service, mut handle) = mock::<&'static str, &'static str>();
//! let call = tokio::spawn(async move { service.call(&mut Context::new(), "ping").await });
//! let pending = handle.next().await.expect("a call reached the inner service");
//! assert_eq!(pending.request, "ping");
//! pending.respond(Err(Status::unavailable("scripted fault")));
//! assert_eq!(call.await.unwrap().unwrap_err().message(), "scripted fault");
//! assert!(handle.try_next().is_none(), "nothing else reached it");
//! # }
//! ```

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use rookery_core::{Context, Endpoint, Metadata, Service, Status};
use tokio::sync::{mpsc, oneshot};

/// A Thrift call of `method` with a few bytes of arguments, for tests that need a request and
/// do not care what is in it.
pub fn thrift_request(method: &'static str) -> rookery_transport::ThriftRequest {
    rookery_transport::ThriftRequest {
        method: method.into(),
        oneway: false,
        protocol: rookery_codec::thrift::Protocol::Binary,
        body: bytes::Bytes::from_static(b"args"),
        limits: Default::default(),
    }
}

/// The empty Thrift reply, for scripted answers.
pub fn thrift_response() -> rookery_transport::ThriftResponse {
    rookery_transport::ThriftResponse::empty(rookery_codec::thrift::Protocol::Binary)
}

/// The inner service: every call is handed to the [`Handle`] and waits for its answer.
#[derive(Debug)]
pub struct Mock<Req, Resp> {
    calls: mpsc::UnboundedSender<Pending<Req, Resp>>,
    count: Arc<AtomicUsize>,
}

impl<Req, Resp> Clone for Mock<Req, Resp> {
    fn clone(&self) -> Self {
        Mock {
            calls: self.calls.clone(),
            count: Arc::clone(&self.count),
        }
    }
}

/// The test's end: the calls that reached the inner service, in order.
#[derive(Debug)]
pub struct Handle<Req, Resp> {
    calls: mpsc::UnboundedReceiver<Pending<Req, Resp>>,
    count: Arc<AtomicUsize>,
}

/// What the inner service saw of a call's context.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The deadline, if any.
    pub deadline: Option<Instant>,
    /// The time that was left before it when the call arrived.
    pub remaining: Option<Duration>,
    /// The request metadata.
    pub metadata: Metadata,
    /// The callee (service, method, address).
    pub callee: Endpoint,
    /// The caller.
    pub caller: Endpoint,
    /// The typed values layers attached to the call (an identity, say).
    pub extensions: http::Extensions,
}

/// One call that reached the inner service, waiting for its answer.
#[derive(Debug)]
pub struct Pending<Req, Resp> {
    /// The request as it arrived.
    pub request: Req,
    /// The context as it arrived.
    pub seen: Seen,
    answer: oneshot::Sender<Answer<Resp>>,
}

#[derive(Debug)]
struct Answer<Resp> {
    result: Result<Resp, Status>,
    response_metadata: Metadata,
}

/// A scripted service and the handle that scripts it.
pub fn mock<Req, Resp>() -> (Mock<Req, Resp>, Handle<Req, Resp>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let count = Arc::new(AtomicUsize::new(0));
    (
        Mock {
            calls: tx,
            count: Arc::clone(&count),
        },
        Handle { calls: rx, count },
    )
}

impl<Req, Resp> Handle<Req, Resp> {
    /// The next call to reach the inner service, or `None` once every [`Mock`] is gone.
    pub async fn next(&mut self) -> Option<Pending<Req, Resp>> {
        self.calls.recv().await
    }

    /// A call that has already reached the inner service, if one has.
    pub fn try_next(&mut self) -> Option<Pending<Req, Resp>> {
        self.calls.try_recv().ok()
    }

    /// How many calls have reached the inner service so far.
    pub fn calls(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Answers every call from now on with `script`, given the call's number (from 1) and
    /// what it saw; runs on a task of its own, so the calls need no stepping.
    pub fn answer_with<F>(mut self, mut script: F) -> tokio::task::JoinHandle<()>
    where
        Req: Send + 'static,
        Resp: Send + 'static,
        F: FnMut(usize, &Req, &Seen) -> Result<Resp, Status> + Send + 'static,
    {
        tokio::spawn(async move {
            let mut n = 0;
            while let Some(pending) = self.next().await {
                n += 1;
                let result = script(n, &pending.request, &pending.seen);
                pending.respond(result);
            }
        })
    }
}

impl<Req, Resp> Pending<Req, Resp> {
    /// Answers the call.
    pub fn respond(self, result: Result<Resp, Status>) {
        self.respond_with_metadata(result, Metadata::default());
    }

    /// Answers the call, with response metadata.
    pub fn respond_with_metadata(self, result: Result<Resp, Status>, metadata: Metadata) {
        // The caller may have gone (cancelled by a deadline): then nobody wants the answer.
        let _ = self.answer.send(Answer {
            result,
            response_metadata: metadata,
        });
    }

    /// Waits until the caller stops waiting for this call (its future was dropped: a
    /// deadline passed, a backup request won, the caller went away).
    pub async fn cancelled(&mut self) {
        self.answer.closed().await
    }

    /// Whether the caller has stopped waiting for this call.
    pub fn is_cancelled(&self) -> bool {
        self.answer.is_closed()
    }
}

impl<Req, Resp> Service<Req> for Mock<Req, Resp>
where
    Req: Send + 'static,
    Resp: Send + 'static,
{
    type Response = Resp;

    async fn call(&self, cx: &mut Context, request: Req) -> Result<Resp, Status> {
        self.count.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = oneshot::channel();
        let seen = Seen {
            deadline: cx.deadline(),
            remaining: cx.remaining(),
            metadata: cx.metadata().clone(),
            callee: cx.callee().clone(),
            caller: cx.caller().clone(),
            extensions: cx.extensions().clone(),
        };
        let pending = Pending {
            request,
            seen,
            answer: tx,
        };
        if self.calls.send(pending).is_err() {
            return Err(Status::internal("the mock's handle was dropped"));
        }
        match rx.await {
            Ok(answer) => {
                for (k, v) in answer.response_metadata.iter() {
                    cx.response_metadata_mut().insert(k.clone(), v.clone());
                }
                answer.result
            }
            Err(_) => Err(Status::internal("the test dropped the call unanswered")),
        }
    }
}
