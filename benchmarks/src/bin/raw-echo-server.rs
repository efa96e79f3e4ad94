//! The ceiling's server: echoes `u32 length | u32 id | payload` frames.
//!
//! Each connection is one task that reads whatever the socket has, turns every whole
//! frame in it into a reply in one output buffer, and sends that buffer with a single
//! `write_all`: no codec, no per-request task, one write per read. What any framework
//! adds on top of this (decoding, dispatch, encoding, headers) is what the benchmark
//! shows.

use std::io;

use bytes::{Buf, BytesMut};
use rookery_benchmarks::raw::{self, HEADER_LEN, READ_CHUNK};
use rookery_benchmarks::serve;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn echo_frames(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut output = BytesMut::with_capacity(READ_CHUNK);
    loop {
        input.reserve(READ_CHUNK);
        if stream.read_buf(&mut input).await? == 0 {
            return Ok(());
        }
        while let Some((id, len)) = raw::peek_frame(&input)? {
            raw::put_frame(&mut output, id, &input[HEADER_LEN..HEADER_LEN + len]);
            input.advance(HEADER_LEN + len);
        }
        if !output.is_empty() {
            stream.write_all(&output).await?;
            output.clear();
        }
    }
}

#[tokio::main]
async fn main() {
    let addr = serve::addr_from_env_or_exit("raw-echo-server");
    let listener = match TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("raw-echo-server: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    serve::announce_listening(listener.local_addr().unwrap_or(addr));

    let accept_loop = async {
        loop {
            match listener.accept().await {
                Ok((stream, _peer)) => {
                    tokio::spawn(async move {
                        if let Err(e) = echo_frames(stream).await {
                            eprintln!("raw-echo-server: connection closed: {e}");
                        }
                    });
                }
                Err(e) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    eprintln!("raw-echo-server: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
    };
    tokio::select! {
        () = accept_loop => {}
        signal = serve::shutdown_signal() => {
            if let Err(e) = signal {
                eprintln!("raw-echo-server: cannot watch signals: {e}");
                std::process::exit(1);
            }
        }
    }
}
