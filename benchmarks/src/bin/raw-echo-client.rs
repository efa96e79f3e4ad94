//! The ceiling's client: C callers pipelined over N connections (default 1).
//!
//! Caller `i` uses connection `i % N` and keeps one request in flight under its own
//! request id. Per connection, a writer task drains every queued request into one
//! buffer and sends it with a single `write_all`; a reader task splits replies off the
//! read buffer without copying and hands each to its caller by id. There is nothing
//! to look up and nothing to allocate per call beyond the queue entry.

use std::io;

use bytes::{Bytes, BytesMut};
use rookery_benchmarks::load::{self, Caller, ClientOptions};
use rookery_benchmarks::raw::{self, READ_CHUNK};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

/// The most requests a writer packs into one `write_all`.
const MAX_BATCH: usize = 1024;

type Request = (u32, Bytes);

struct RawCaller {
    id: u32,
    requests: mpsc::UnboundedSender<Request>,
    replies: mpsc::Receiver<Bytes>,
    payload: Bytes,
}

impl Caller for RawCaller {
    async fn call(&mut self) -> Result<(), String> {
        self.requests
            .send((self.id, self.payload.clone()))
            .map_err(|_| "connection closed".to_owned())?;
        let reply = self
            .replies
            .recv()
            .await
            .ok_or_else(|| "connection closed".to_owned())?;
        if reply == self.payload {
            Ok(())
        } else {
            Err(format!(
                "reply of {} bytes differs from the {}-byte request",
                reply.len(),
                self.payload.len()
            ))
        }
    }
}

async fn write_requests(
    mut socket: OwnedWriteHalf,
    mut requests: mpsc::UnboundedReceiver<Request>,
) -> io::Result<()> {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    while requests.recv_many(&mut batch, MAX_BATCH).await > 0 {
        for (id, payload) in batch.drain(..) {
            raw::put_frame(&mut buf, id, &payload);
        }
        socket.write_all(&buf).await?;
        buf.clear();
    }
    Ok(())
}

async fn read_replies(
    mut socket: OwnedReadHalf,
    callers: Vec<mpsc::Sender<Bytes>>,
) -> io::Result<()> {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        buf.reserve(READ_CHUNK);
        if socket.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
        while let Some((id, payload)) = raw::take_frame(&mut buf)? {
            let caller = callers.get(id as usize).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("reply for unknown id {id}"),
                )
            })?;
            // A full slot means a reply nobody asked for; the caller will see the mismatch.
            let _ = caller.try_send(payload);
        }
    }
}

/// Opens one connection and returns the callers that share it.
async fn connect(addr: &str, callers: usize, payload: &Bytes) -> io::Result<Vec<RawCaller>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (read_half, write_half) = stream.into_split();
    let (request_tx, request_rx) = mpsc::unbounded_channel();
    let mut reply_senders = Vec::with_capacity(callers);
    let mut handles = Vec::with_capacity(callers);
    for id in 0..callers {
        let (reply_tx, reply_rx) = mpsc::channel(1);
        reply_senders.push(reply_tx);
        handles.push(RawCaller {
            id: id as u32,
            requests: request_tx.clone(),
            replies: reply_rx,
            payload: payload.clone(),
        });
    }
    tokio::spawn(async move {
        if let Err(e) = write_requests(write_half, request_rx).await {
            eprintln!("raw-echo-client: write failed: {e}");
        }
    });
    tokio::spawn(async move {
        if let Err(e) = read_replies(read_half, reply_senders).await {
            eprintln!("raw-echo-client: read failed: {e}");
        }
    });
    Ok(handles)
}

#[tokio::main]
async fn main() {
    let options = ClientOptions::from_env_or_exit("raw-echo-client");
    options.require_unary("raw-echo-client");
    let connections = options.connections.unwrap_or(1).min(options.concurrency);
    let payload = load::payload(options.payload);

    // Connection `k` carries callers k, k + N, k + 2N, ...
    let mut per_connection = Vec::with_capacity(connections);
    for k in 0..connections {
        let callers = (options.concurrency - k).div_ceil(connections);
        match connect(&options.addr, callers, &payload).await {
            Ok(handles) => per_connection.push(handles.into_iter()),
            Err(e) => {
                eprintln!("raw-echo-client: cannot connect to {}: {e}", options.addr);
                std::process::exit(1);
            }
        }
    }
    let callers: Vec<RawCaller> = (0..options.concurrency)
        .map(|i| {
            per_connection[i % connections]
                .next()
                .expect("each connection got its share of callers")
        })
        .collect();

    let report = load::drive("raw", &options, callers).await;
    println!("{}", report.to_json_line());
}
