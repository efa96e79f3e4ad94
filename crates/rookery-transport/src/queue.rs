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
}

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
        std::mem::swap(&mut st.buf, spare);
        let batch = st.batch;
        self.taken.store(batch, Ordering::Release);
        st.batch += 1;
        drop(st);
        self.drained.notify_waiters();
        Take::Batch(batch)
    }

    async fn write_batch(
        &self,
        io: &mut WriteHalf,
        spare: &mut BytesMut,
        batch: u64,
    ) -> io::Result<()> {
        io.write_all(spare).await?;
        self.written.store(batch, Ordering::Release);
        self.flushed.notify_waiters();
        if spare.capacity() > SHRINK_ABOVE {
            *spare = BytesMut::with_capacity(INITIAL_CAPACITY);
        } else {
            spare.clear();
        }
        Ok(())
    }

    /// Runs a writer task until the queue is closed and flushed, or the socket fails. Aborts
    /// the queue when it returns, so producers see the connection is gone.
    pub(crate) async fn run_writer(&self, mut io: WriteHalf) -> io::Result<()> {
        let result = self.write_loop(&mut io).await;
        self.abort();
        result
    }

    async fn write_loop(&self, io: &mut WriteHalf) -> io::Result<()> {
        let mut spare = BytesMut::with_capacity(INITIAL_CAPACITY);
        loop {
            match self.take(&mut spare) {
                Take::Batch(batch) => self.write_batch(io, &mut spare, batch).await?,
                Take::Empty { closing: true } => {
                    let _ = io.shutdown().await;
                    return Ok(());
                }
                Take::Empty { closing: false } => self.wake_writer.notified().await,
                Take::Aborted => return Ok(()),
            }
        }
    }
}

enum Take {
    Batch(u64),
    Empty { closing: bool },
    Aborted,
}
