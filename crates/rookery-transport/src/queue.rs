//! The write side of a connection: callers append whole frames to a shared buffer and one
//! writer task sends everything that accumulated in a single write, so the frames of
//! concurrent calls leave together (one syscall for many calls under load, no added latency
//! when idle).

use std::{
    io,
    sync::{
        Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
};

use bytes::BytesMut;
use tokio::{io::AsyncWriteExt, sync::Notify};

use crate::addr::WriteHalf;

/// Above this many buffered bytes, [`WriteQueue::push_wait`] waits for the writer.
const HIGH_WATER: usize = 4 * 1024 * 1024;
/// A spare buffer that grew past this is dropped after use, so one large frame does not pin
/// its memory for the life of the connection.
const SHRINK_ABOVE: usize = 1024 * 1024;
const INITIAL_CAPACITY: usize = 16 * 1024;

#[derive(Debug)]
struct State {
    buf: BytesMut,
    /// The number of the batch being filled; batches are numbered from 1.
    batch: u64,
    closing: bool,
    aborted: bool,
    /// Someone is writing: a caller inline, or the writer task. Only the holder writes, and it
    /// keeps writing until the buffer is empty before it lets go.
    lease: bool,
    /// A batch a caller could not finish without waiting, handed to the writer task with the
    /// lease.
    handoff: Option<Handoff>,
    /// The spare buffer the lease holder swaps with, while nobody holds the lease.
    spare: Option<BytesMut>,
}

/// A batch being written: its bytes, how many are written, its number.
#[derive(Debug)]
struct Handoff {
    data: BytesMut,
    offset: usize,
    batch: u64,
}

/// How many batches a caller writes inline, for itself and others, before it hands the lease
/// to the writer task: enough to batch under load, few enough to keep its own latency low.
const INLINE_ROUNDS: usize = 4;

/// The queue was closed: the connection is going away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

/// A buffer of frames waiting for the writer task.
#[derive(Debug)]
pub(crate) struct WriteQueue {
    state: Mutex<State>,
    wake_writer: Notify,
    drained: Notify,
    /// The last batch the writer started to write: batches after it never left.
    taken: AtomicU64,
    /// The last batch written to the socket in full.
    written: AtomicU64,
    flushed: Notify,
}

impl WriteQueue {
    pub(crate) fn new() -> Self {
        WriteQueue {
            state: Mutex::new(State {
                buf: BytesMut::with_capacity(INITIAL_CAPACITY),
                batch: 1,
                closing: false,
                aborted: false,
                lease: false,
                handoff: None,
                spare: Some(BytesMut::with_capacity(INITIAL_CAPACITY)),
            }),
            wake_writer: Notify::new(),
            drained: Notify::new(),
            taken: AtomicU64::new(0),
            written: AtomicU64::new(0),
            flushed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the buffer consistent (appends only), so a
        // poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a frame written by `write`, which also learns the number of the batch the frame
    /// goes into, and wakes the writer. Returns what `write` returned.
    pub(crate) fn push<R>(&self, write: impl FnOnce(&mut BytesMut, u64) -> R) -> Result<R, Closed> {
        let mut st = self.lock();
        if st.closing {
            return Err(Closed);
        }
        let was_empty = st.buf.is_empty();
        let batch = st.batch;
        let out = write(&mut st.buf, batch);
        let now_empty = st.buf.is_empty();
        drop(st);
        // The writer re-checks the buffer after every write, so it only needs waking when the
        // buffer goes from empty to not.
        if was_empty && !now_empty {
            self.wake_writer.notify_one();
        }
        Ok(out)
    }

    /// Like [`push`](WriteQueue::push), but first waits while the buffer is over its high-water
    /// mark, so a peer that does not read slows its own producers down instead of growing
    /// memory.
    pub(crate) async fn push_wait<R>(
        &self,
        write: impl FnOnce(&mut BytesMut, u64) -> R,
    ) -> Result<R, Closed> {
        loop {
            let drained = self.drained.notified();
            {
                let st = self.lock();
                if st.closing {
                    return Err(Closed);
                }
                if st.buf.len() < HIGH_WATER {
                    break;
                }
            }
            drained.await;
        }
        self.push(write)
    }

    /// Stops accepting frames; the writer sends what is buffered, then shuts the socket's
    /// write side.
    pub(crate) fn close(&self) {
        self.lock().closing = true;
        self.wake_writer.notify_one();
        self.drained.notify_waiters();
    }

    /// Stops accepting frames and drops what is buffered; the writer stops.
    pub(crate) fn abort(&self) {
        let mut st = self.lock();
        st.closing = true;
        st.aborted = true;
        st.buf.clear();
        drop(st);
        self.wake_writer.notify_one();
        self.drained.notify_waiters();
        self.flushed.notify_waiters();
    }

    /// Waits until `batch` has been written to the socket; fails if the connection went away
    /// first.
    pub(crate) async fn written(&self, batch: u64) -> Result<(), Closed> {
        loop {
            let flushed = self.flushed.notified();
            if self.written.load(Ordering::Acquire) >= batch {
                return Ok(());
            }
            if self.lock().aborted {
                return Err(Closed);
            }
            flushed.await;
        }
    }

    /// Whether a frame pushed into `batch` is known never to have been written, once the
    /// queue is closed or aborted.
    pub(crate) fn never_sent(&self, batch: u64) -> bool {
        batch > self.taken.load(Ordering::Acquire)
    }

    /// Writes everything buffered so far to `io`, batch after batch, until the buffer is
    /// empty: for a connection task that writes itself. Returns whether the queue is closing
    /// (so nothing more will come).
    pub(crate) async fn flush(&self, io: &mut WriteHalf, spare: &mut BytesMut) -> io::Result<bool> {
        loop {
            match self.take(spare) {
                Take::Batch(batch) => self.write_batch(io, spare, batch).await?,
                Take::Empty { closing } => return Ok(closing),
                Take::Aborted => return Ok(true),
            }
        }
    }

    /// Waits until a frame is pushed into an empty buffer (or the queue closes).
    pub(crate) async fn pushed(&self) {
        self.wake_writer.notified().await;
    }

    fn take(&self, spare: &mut BytesMut) -> Take {
        let mut st = self.lock();
        if st.aborted {
            return Take::Aborted;
        }
        if st.buf.is_empty() {
            return Take::Empty {
                closing: st.closing,
            };
        }
        Take::Batch(self.swap_locked(&mut st, spare))
    }

    async fn write_batch(
        &self,
        io: &mut WriteHalf,
        spare: &mut BytesMut,
        batch: u64,
    ) -> io::Result<()> {
        io.write_all(spare).await?;
        // A no-op on a socket; over TLS, sends what the session still holds.
        io.flush().await?;
        self.written.store(batch, Ordering::Release);
        self.flushed.notify_waiters();
        if spare.capacity() > SHRINK_ABOVE {
            *spare = BytesMut::with_capacity(INITIAL_CAPACITY);
        } else {
            spare.clear();
        }
        Ok(())
    }

    /// Appends a frame and, unless someone is writing already, writes it at once from the
    /// caller's task (with whatever else is buffered), without waking the writer task. If the
    /// socket cannot take it all now, the rest is handed to the writer task; a socket error
    /// aborts the queue. For connections whose frames come from many tasks.
    pub(crate) async fn push_and_write<R>(
        &self,
        io: &WriteHalf,
        write: impl FnOnce(&mut BytesMut, u64) -> R,
    ) -> Result<R, Closed> {
        self.below_high_water().await?;
        let mut st = self.lock();
        if st.closing {
            return Err(Closed);
        }
        let batch = st.batch;
        let out = write(&mut st.buf, batch);
        if st.lease || st.buf.is_empty() {
            // The holder of the lease writes it before it lets go.
            return Ok(out);
        }
        st.lease = true;
        let mut data = st.spare.take().unwrap_or_default();
        let batch = self.swap_locked(&mut st, &mut data);
        drop(st);
        self.write_inline(io, data, batch);
        Ok(out)
    }

    async fn below_high_water(&self) -> Result<(), Closed> {
        loop {
            let drained = self.drained.notified();
            {
                let st = self.lock();
                if st.closing {
                    return Err(Closed);
                }
                if st.buf.len() < HIGH_WATER {
                    return Ok(());
                }
            }
            drained.await;
        }
    }

    fn swap_locked(&self, st: &mut State, data: &mut BytesMut) -> u64 {
        std::mem::swap(&mut st.buf, data);
        let batch = st.batch;
        self.taken.store(batch, Ordering::Release);
        st.batch += 1;
        self.drained.notify_waiters();
        batch
    }

    fn mark_written(&self, batch: u64) {
        self.written.store(batch, Ordering::Release);
        self.flushed.notify_waiters();
    }

    /// Writes batches with non-blocking writes while the lease is held by the caller.
    fn write_inline(&self, io: &WriteHalf, mut data: BytesMut, mut batch: u64) {
        let mut offset = 0;
        let mut rounds = 0;
        loop {
            match io.try_write(&data[offset..]) {
                Ok(n) => offset += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    tracing::debug!(error = %e, "write failed");
                    self.abort();
                    return;
                }
            }
            // Over TLS the session may hold bytes the socket did not take: the writer task
            // sends them, as it sends a batch the socket did not take whole.
            let held = if offset == data.len() {
                match io.try_flush() {
                    Ok(flushed) => !flushed,
                    Err(e) => {
                        tracing::debug!(error = %e, "write failed");
                        self.abort();
                        return;
                    }
                }
            } else {
                false
            };
            let mut st = self.lock();
            if offset < data.len() || held || rounds + 1 >= INLINE_ROUNDS {
                // The socket is full, or this caller wrote enough for others: the writer task
                // takes over, lease and all.
                st.handoff = Some(Handoff {
                    data,
                    offset,
                    batch,
                });
                drop(st);
                self.wake_writer.notify_one();
                return;
            }
            self.mark_written(batch);
            rounds += 1;
            data.clear();
            if st.aborted || st.buf.is_empty() {
                st.lease = false;
                st.spare = Some(data);
                let closing = st.closing;
                drop(st);
                if closing {
                    self.wake_writer.notify_one();
                }
                return;
            }
            batch = self.swap_locked(&mut st, &mut data);
            offset = 0;
        }
    }

    /// Runs the writer task of a connection written through
    /// [`push_and_write`](WriteQueue::push_and_write): it finishes batches callers hand over,
    /// writes what accumulates while it holds the lease, and shuts the socket's write side
    /// once the queue is closed and empty. Aborts the queue when it returns.
    pub(crate) async fn run_writer(&self, io: &WriteHalf) -> io::Result<()> {
        let result = self.writer_loop(io).await;
        self.abort();
        result
    }

    async fn writer_loop(&self, io: &WriteHalf) -> io::Result<()> {
        loop {
            let next = {
                let mut st = self.lock();
                if st.aborted {
                    return Ok(());
                }
                if let Some(job) = st.handoff.take() {
                    Next::Write(job)
                } else if !st.lease && !st.buf.is_empty() {
                    st.lease = true;
                    let mut data = st.spare.take().unwrap_or_default();
                    let batch = self.swap_locked(&mut st, &mut data);
                    Next::Write(Handoff {
                        data,
                        offset: 0,
                        batch,
                    })
                } else if !st.lease && st.closing {
                    Next::Close
                } else {
                    Next::Wait
                }
            };
            let mut job = match next {
                Next::Write(job) => job,
                Next::Close => {
                    let _ = io.close().await;
                    return Ok(());
                }
                Next::Wait => {
                    self.wake_writer.notified().await;
                    continue;
                }
            };
            // Holding the lease: write until the buffer is empty, then let go.
            loop {
                while job.offset < job.data.len() {
                    match io.try_write(&job.data[job.offset..]) {
                        Ok(n) => job.offset += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => io.writable().await?,
                        Err(e) => return Err(e),
                    }
                }
                io.flushed().await?;
                self.mark_written(job.batch);
                job.data.clear();
                let mut st = self.lock();
                if st.aborted || st.buf.is_empty() {
                    st.lease = false;
                    st.spare = Some(if job.data.capacity() > SHRINK_ABOVE {
                        BytesMut::with_capacity(INITIAL_CAPACITY)
                    } else {
                        job.data
                    });
                    break;
                }
                job.batch = self.swap_locked(&mut st, &mut job.data);
                job.offset = 0;
            }
        }
    }
}

/// What the writer task does next.
enum Next {
    Write(Handoff),
    Close,
    Wait,
}

enum Take {
    Batch(u64),
    Empty { closing: bool },
    Aborted,
}
