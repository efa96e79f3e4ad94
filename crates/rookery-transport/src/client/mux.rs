//! Multiplexed connections: many calls in flight, replies matched by sequence id.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicUsize, Ordering},
    },
};

use bytes::BytesMut;
use rookery_core::{Context, Status};
use tokio::{io::AsyncReadExt, sync::oneshot};

use super::{Config, dial::DialState, read_reply, write_request};
use crate::{
    Stream, ThriftRequest, ThriftResponse,
    addr::{ReadHalf, WriteHalf},
    frame::{Frame, FrameDecoder},
    queue::WriteQueue,
    ttheader::str_key,
};

const OPEN: u8 = 0;
const DRAINING: u8 = 1;
const CLOSED: u8 = 2;

#[derive(Debug)]
struct Slot {
    current: Mutex<Option<Arc<MuxConn>>>,
    dial: tokio::sync::Mutex<DialState>,
}

#[derive(Debug)]
pub(crate) struct MuxClient {
    config: Arc<Config>,
    slots: Vec<Slot>,
    next: AtomicUsize,
}

impl MuxClient {
    pub(crate) fn new(config: Arc<Config>, connections: usize) -> Self {
        let slots = (0..connections.max(1))
            .map(|_| Slot {
                current: Mutex::new(None),
                dial: tokio::sync::Mutex::new(DialState::default()),
            })
            .collect();
        MuxClient {
            config,
            slots,
            next: AtomicUsize::new(0),
        }
    }

    pub(crate) async fn call(
        &self,
        cx: &mut Context,
        req: ThriftRequest,
    ) -> Result<ThriftResponse, Status> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let conn = self.connection(&self.slots[i], cx).await?;
        conn.call(cx, req).await
    }

    async fn connection(&self, slot: &Slot, cx: &Context) -> Result<Arc<MuxConn>, Status> {
        if let Some(conn) = lock(&slot.current).as_ref().filter(|c| c.accepts_calls()) {
            return Ok(Arc::clone(conn));
        }
        let mut dial = slot.dial.lock().await;
        // Another call may have connected while this one waited.
        if let Some(conn) = lock(&slot.current).as_ref().filter(|c| c.accepts_calls()) {
            return Ok(Arc::clone(conn));
        }
        let timeout = match cx.remaining() {
            Some(left) => left.min(self.config.connect_timeout),
            None => self.config.connect_timeout,
        };
        let stream = dial.connect(&self.config, timeout).await?;
        let conn = MuxConn::start(Arc::clone(&self.config), stream);
        *lock(&slot.current) = Some(Arc::clone(&conn));
        Ok(conn)
    }
}

impl Drop for MuxClient {
    /// The last clone of a client is gone: its connections finish the calls in flight (none
    /// can be left, since calls borrow the client) and close.
    fn drop(&mut self) {
        for slot in &self.slots {
            if let Some(conn) = lock(&slot.current).take() {
                conn.queue.close();
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug)]
struct Waiter {
    reply: oneshot::Sender<Result<Frame, Status>>,
    batch: u64,
}

#[derive(Debug, Default)]
struct Pending {
    calls: HashMap<i32, Waiter>,
}

/// One multiplexed connection.
#[derive(Debug)]
struct MuxConn {
    config: Arc<Config>,
    queue: WriteQueue,
    wr: WriteHalf,
    pending: Mutex<Pending>,
    next_seq: AtomicI32,
    state: AtomicU8,
    announced: AtomicBool,
}

impl MuxConn {
    fn start(config: Arc<Config>, stream: Stream) -> Arc<Self> {
        let (rd, wr) = stream.into_split();
        let conn = Arc::new(MuxConn {
            config,
            queue: WriteQueue::new(),
            wr,
            pending: Mutex::new(Pending::default()),
            next_seq: AtomicI32::new(1),
            state: AtomicU8::new(OPEN),
            announced: AtomicBool::new(false),
        });
        let writer = Arc::clone(&conn);
        tokio::spawn(async move {
            if let Err(e) = writer.queue.run_writer(&writer.wr).await {
                writer.fail_all(Status::unavailable(format!(
                    "writing to {} failed: {e}",
                    writer.config.addr
                )));
            }
        });
        let reader = Arc::clone(&conn);
        tokio::spawn(async move {
            let status = reader.read_loop(rd).await;
            reader.fail_all(status);
        });
        conn
    }

    fn accepts_calls(&self) -> bool {
        self.state.load(Ordering::Acquire) == OPEN
    }

    async fn call(&self, cx: &mut Context, req: ThriftRequest) -> Result<ThriftResponse, Status> {
        let mut seq_id = self.next_seq.fetch_add(1, Ordering::Relaxed);
        if seq_id == 0 {
            seq_id = self.next_seq.fetch_add(1, Ordering::Relaxed);
        }
        let announce = !self.announced.load(Ordering::Relaxed)
            && !self.announced.swap(true, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let mut tx = (!req.oneway).then_some(tx);
        let pushed = self
            .queue
            .push_and_write(&self.wr, |buf, batch| {
                write_request(buf, &self.config, cx, &req, seq_id, announce)?;
                if let Some(reply) = tx.take() {
                    // Registered before the writer can send the frame, so no reply can beat it.
                    lock(&self.pending)
                        .calls
                        .insert(seq_id, Waiter { reply, batch });
                }
                Ok::<_, crate::FrameError>(batch)
            })
            .await;
        let batch = match pushed {
            Err(_) => {
                return Err(Status::unavailable(format!(
                    "connection to {} closed",
                    self.config.addr
                ))
                .with_unsent());
            }
            Ok(Err(e)) => {
                return Err(
                    Status::resource_exhausted(format!("request not sent: {e}")).with_unsent()
                );
            }
            Ok(Ok(batch)) => batch,
        };
        if req.oneway {
            // A oneway call is done when its bytes are on the socket.
            return match self.queue.written(batch).await {
                Ok(()) => Ok(ThriftResponse::empty(req.protocol)),
                Err(_) => Err(Status::unavailable(format!(
                    "connection to {} closed before the oneway call was written",
                    self.config.addr
                ))),
            };
        }
        // Forget the call if the caller gives up, so a reply that never comes leaks nothing.
        let guard = Forget { conn: self, seq_id };
        let outcome = match cx.deadline() {
            Some(deadline) => match tokio::time::timeout_at(deadline.into(), rx).await {
                Ok(r) => r,
                Err(_) => {
                    drop(guard);
                    return Err(Status::deadline_exceeded(format!(
                        "no reply from {} in time",
                        self.config.addr
                    )));
                }
            },
            None => rx.await,
        };
        std::mem::forget(guard);
        match outcome {
            Ok(Ok(frame)) => read_reply(cx, frame, seq_id, self.config.limits),
            Ok(Err(status)) => Err(status),
            Err(_) => Err(Status::unavailable(format!(
                "connection to {} closed",
                self.config.addr
            ))),
        }
    }

    fn forget(&self, seq_id: i32) {
        let mut pending = lock(&self.pending);
        pending.calls.remove(&seq_id);
        let empty = pending.calls.is_empty();
        drop(pending);
        if empty && self.state.load(Ordering::Acquire) == DRAINING {
            self.queue.close();
        }
    }

    /// The server asked for no new calls: finish the ones in flight, then close.
    fn drain(&self) {
        if self
            .state
            .compare_exchange(OPEN, DRAINING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            tracing::debug!(addr = %self.config.addr, "server is draining this connection");
            if lock(&self.pending).calls.is_empty() {
                self.queue.close();
            }
        }
    }

    async fn read_loop(&self, mut rd: ReadHalf) -> Status {
        let config = &self.config;
        let mut decoder = FrameDecoder::fixed(
            config.framing,
            config.protocol,
            config.max_frame_size,
            config.limits,
        );
        let mut buf = BytesMut::with_capacity(16 * 1024);
        loop {
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Some(frame)) => self.deliver(frame),
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(addr = %config.addr, reason = %e, "closing connection");
                        return Status::internal(format!("bad reply from {}: {e}", config.addr));
                    }
                }
            }
            if buf.capacity() - buf.len() < 1024 {
                buf.reserve(16 * 1024);
            }
            match rd.read_buf(&mut buf).await {
                Ok(0) => {
                    return Status::unavailable(format!("{} closed the connection", config.addr));
                }
                Ok(_) => {}
                Err(e) => {
                    return Status::unavailable(format!("reading from {}: {e}", config.addr));
                }
            }
        }
    }

    fn deliver(&self, frame: Frame) {
        let reset = frame
            .header
            .as_ref()
            .is_some_and(|h| h.string(str_key::CONNECTION_READY_TO_RESET).is_some());
        if frame.message.is_empty() {
            // A control frame: nothing to deliver.
            if reset {
                self.drain();
            }
            return;
        }
        let seq_id = match &frame.header {
            Some(h) => h.seq_id,
            None => {
                let mut message = frame.message.clone();
                match frame.protocol.read_message_header(&mut message) {
                    Ok(envelope) => envelope.seq_id,
                    Err(e) => {
                        tracing::warn!(addr = %self.config.addr, error = %e, "reply envelope does not decode");
                        return;
                    }
                }
            }
        };
        let waiter = lock(&self.pending).calls.remove(&seq_id);
        match waiter {
            Some(w) => {
                let _ = w.reply.send(Ok(frame));
            }
            None => tracing::debug!(
                seq_id,
                "reply to a call that is gone (timed out or cancelled)"
            ),
        }
        if reset {
            self.drain();
        } else if self.state.load(Ordering::Acquire) == DRAINING
            && lock(&self.pending).calls.is_empty()
        {
            self.queue.close();
        }
    }

    /// The connection is gone: fail every waiting call, marking as unsent those whose frames
    /// never reached the socket.
    fn fail_all(&self, status: Status) {
        self.state.store(CLOSED, Ordering::Release);
        self.queue.abort();
        let calls = std::mem::take(&mut lock(&self.pending).calls);
        if !calls.is_empty() {
            tracing::debug!(addr = %self.config.addr, calls = calls.len(), %status, "failing calls in flight");
        }
        for (_, waiter) in calls {
            let status = if self.queue.never_sent(waiter.batch) {
                status.clone().with_unsent()
            } else {
                status.clone()
            };
            let _ = waiter.reply.send(Err(status));
        }
    }
}

struct Forget<'a> {
    conn: &'a MuxConn,
    seq_id: i32,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.conn.forget(self.seq_id);
    }
}
