//! Pooled connections: one call at a time on each, from a bounded pool.

use std::{
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicI32, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::BytesMut;
use rookery_core::{Context, Status};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::Semaphore,
};

use super::{Config, dial::DialState, read_reply, write_request};
use crate::{
    Stream, ThriftRequest, ThriftResponse,
    frame::{Frame, FrameDecoder},
    ttheader::str_key,
};

#[derive(Debug)]
struct PooledConn {
    stream: Stream,
    rbuf: BytesMut,
    wbuf: BytesMut,
    decoder: FrameDecoder,
    /// Whether a request on it told the server that this client understands control frames,
    /// so that a draining server warns it (the frame waits in the socket, and `take_idle`
    /// drops the connection) and serves what it sends meanwhile, instead of closing it idle.
    announced: bool,
}

#[derive(Debug)]
struct Idle {
    conn: PooledConn,
    since: Instant,
}

#[derive(Debug)]
pub(crate) struct PoolClient {
    config: Arc<Config>,
    permits: Semaphore,
    idle: Mutex<Vec<Idle>>,
    idle_timeout: Duration,
    dial: tokio::sync::Mutex<DialState>,
    next_seq: AtomicI32,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PoolClient {
    pub(crate) fn new(config: Arc<Config>, max_size: usize, idle_timeout: Duration) -> Self {
        PoolClient {
            config,
            permits: Semaphore::new(max_size),
            idle: Mutex::new(Vec::new()),
            idle_timeout,
            dial: tokio::sync::Mutex::new(DialState::default()),
            next_seq: AtomicI32::new(1),
        }
    }

    /// An idle connection that is still open, newest first; stale ones are dropped.
    fn take_idle(&self) -> Option<PooledConn> {
        let mut idle = lock(&self.idle);
        while let Some(Idle { mut conn, since }) = idle.pop() {
            if since.elapsed() > self.idle_timeout {
                continue;
            }
            // Bytes left over after a reply can only be a control frame: the server drains.
            if !conn.rbuf.is_empty() {
                continue;
            }
            // A server that closed an idle connection has left an end-of-stream to read, and
            // one that drains it, a control frame.
            match conn.stream.try_read_buf(&mut conn.rbuf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Some(conn),
                _ => continue,
            }
        }
        None
    }

    async fn connect(&self, cx: &Context) -> Result<PooledConn, Status> {
        let timeout = match cx.remaining() {
            Some(left) => left.min(self.config.connect_timeout),
            None => self.config.connect_timeout,
        };
        let stream = self
            .dial
            .lock()
            .await
            .connect(&self.config, timeout)
            .await?;
        let c = &self.config;
        Ok(PooledConn {
            stream,
            rbuf: BytesMut::with_capacity(8 * 1024),
            wbuf: BytesMut::with_capacity(8 * 1024),
            decoder: FrameDecoder::fixed(c.framing, c.protocol, c.max_frame_size, c.limits),
            announced: false,
        })
    }

    pub(crate) async fn call(
        &self,
        cx: &mut Context,
        req: ThriftRequest,
    ) -> Result<ThriftResponse, Status> {
        let deadline = cx.deadline();
        let permit = match deadline {
            Some(d) => tokio::time::timeout_at(d.into(), self.permits.acquire())
                .await
                .map_err(|_| {
                    Status::deadline_exceeded("no pooled connection free before the deadline")
                        .with_unsent()
                })?,
            None => self.permits.acquire().await,
        }
        .map_err(|_| Status::unavailable("client closed").with_unsent())?;
        let mut conn = match self.take_idle() {
            Some(conn) => conn,
            None => self.connect(cx).await?,
        };
        let seq_id = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let exchange = self.exchange(&mut conn, cx, &req, seq_id);
        let outcome = match deadline {
            Some(d) => tokio::time::timeout_at(d.into(), exchange)
                .await
                .unwrap_or_else(|_| {
                    Err(Status::deadline_exceeded(format!(
                        "no reply from {} in time",
                        self.config.addr
                    )))
                }),
            None => exchange.await,
        };
        // A connection goes back to the pool only after a clean exchange, and not if the
        // server asked for it to be reset.
        let result = match outcome {
            Ok(None) => {
                self.release(conn);
                Ok(ThriftResponse::empty(req.protocol))
            }
            Ok(Some(frame)) => {
                let reset = frame
                    .header
                    .as_ref()
                    .is_some_and(|h| h.string(str_key::CONNECTION_READY_TO_RESET).is_some());
                if !reset {
                    self.release(conn);
                }
                read_reply(cx, frame, seq_id, self.config.limits)
            }
            Err(status) => Err(status),
        };
        drop(permit);
        result
    }

    fn release(&self, conn: PooledConn) {
        lock(&self.idle).push(Idle {
            conn,
            since: Instant::now(),
        });
    }

    /// Writes the request and reads its reply (none for oneway calls).
    async fn exchange(
        &self,
        conn: &mut PooledConn,
        cx: &Context,
        req: &ThriftRequest,
        seq_id: i32,
    ) -> Result<Option<Frame>, Status> {
        let addr = &self.config.addr;
        conn.wbuf.clear();
        let announce = !conn.announced;
        write_request(&mut conn.wbuf, &self.config, cx, req, seq_id, announce).map_err(|e| {
            Status::resource_exhausted(format!("request not sent: {e}")).with_unsent()
        })?;
        let write = async {
            conn.stream.write_all(&conn.wbuf).await?;
            // A no-op on a socket; over TLS, sends what the session still holds.
            conn.stream.flush().await
        };
        write
            .await
            .map_err(|e| Status::unavailable(format!("writing to {addr}: {e}")))?;
        conn.announced = true;
        if req.oneway {
            return Ok(None);
        }
        loop {
            match conn.decoder.decode(&mut conn.rbuf) {
                Ok(Some(frame)) => {
                    if frame.message.is_empty() {
                        continue; // a control frame
                    }
                    return Ok(Some(frame));
                }
                Ok(None) => {}
                Err(e) => return Err(Status::internal(format!("bad reply from {addr}: {e}"))),
            }
            if conn.rbuf.capacity() - conn.rbuf.len() < 1024 {
                conn.rbuf.reserve(8 * 1024);
            }
            match conn.stream.read_buf(&mut conn.rbuf).await {
                Ok(0) => return Err(Status::unavailable(format!("{addr} closed the connection"))),
                Ok(_) => {}
                Err(e) => return Err(Status::unavailable(format!("reading from {addr}: {e}"))),
            }
        }
    }
}
