//! A running server against bad input sent over raw TCP sockets.
//!
//! Each case sends something malformed — truncated frames, lying lengths, oversized frames,
//! negative sizes, wrong magic, garbage, a header size past the frame, absurd nesting, thousands
//! of garbage connections — and checks three things: the server answers it the right way (an
//! error reply on the same connection, or closing that one connection), it logs why it closed
//! the connection (the log of the server is captured and searched for the reason, on the line
//! naming the peer), and a well-behaved client is served right after. A handler counter shows
//! which bad calls never reached the handler.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use faststr::FastStr;
use rookery_codec::{
    DecodeError,
    thrift::{
        ApplicationException, ApplicationExceptionKind, DecodeLimits, MessageHeader, MessageType,
        Protocol, ProtocolRead, ProtocolWrite, TType, ThriftDecode, ThriftEncode,
    },
};
use rookery_core::{Code, Context, Service, Status};
use rookery_transport::{
    Address, Client, Framing, Server, ServerHandle, ThriftRequest, ThriftResponse,
    ttheader::{self, HeaderWriter},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    task::JoinSet,
};

// ---------------------------------------------------------------------------------------------
// A tiny service: `string echo(1: string msg)`.

#[derive(Debug, Default, PartialEq)]
struct Msg {
    msg: FastStr,
}

impl ThriftEncode for Msg {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        w.write_field_begin(TType::Binary, 1);
        w.write_string(&self.msg);
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for Msg {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = Msg::default();
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::Binary, 1) => out.msg = r.read_string()?,
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        Ok(out)
    }
}

/// The result struct of `echo`: field 0.
#[derive(Debug, Default, PartialEq)]
struct EchoResult(FastStr);

impl ThriftEncode for EchoResult {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        w.write_field_begin(TType::Binary, 0);
        w.write_string(&self.0);
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for EchoResult {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = EchoResult::default();
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::Binary, 0) => out.0 = r.read_string()?,
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        Ok(out)
    }
}

#[derive(Clone, Default)]
struct Tiny {
    /// Calls that reached the handler.
    calls: Arc<AtomicUsize>,
}

impl Service<ThriftRequest> for Tiny {
    type Response = ThriftResponse;

    async fn call(&self, _cx: &mut Context, req: ThriftRequest) -> Result<ThriftResponse, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match &*req.method {
            "echo" => {
                let args: Msg = req.decode()?;
                Ok(ThriftResponse::new(req.protocol, &EchoResult(args.msg)))
            }
            other => Err(Status::unimplemented(format!("no method {other}"))),
        }
    }
}

struct TestServer {
    handle: ServerHandle,
    addr: SocketAddr,
    calls: Arc<AtomicUsize>,
    /// Calls made by `assert_serves`, not counted by `calls`.
    good: AtomicUsize,
}

impl TestServer {
    /// Calls that reached the handler, other than the good ones of `assert_serves`.
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst) - self.good.load(Ordering::SeqCst)
    }

    /// A well-behaved client, on a fresh connection, is served.
    async fn assert_serves(&self, after: &str) {
        for framing in [Framing::TTHeader, Framing::Framed, Framing::Buffered] {
            let client = Client::builder(Address::Tcp(self.addr))
                .framing(framing)
                .timeout(Duration::from_secs(30))
                .build();
            let msg = format!("good call after {after}");
            let reply: Result<EchoResult, Status> = within(
                60,
                "a good call",
                client.call(
                    &mut Context::new(),
                    "echo",
                    &Msg {
                        msg: msg.clone().into(),
                    },
                ),
            )
            .await;
            self.good.fetch_add(1, Ordering::SeqCst);
            match reply {
                Ok(EchoResult(got)) => assert_eq!(&*got, msg),
                Err(e) => panic!("good call ({framing:?}) after {after} failed: {e}"),
            }
        }
    }

    async fn stop(self) {
        within(60, "stopping the server", self.handle.stop()).await;
    }
}

async fn start_server(max_frame: Option<usize>) -> TestServer {
    logs(); // capture the server's log from the start
    let tiny = Tiny::default();
    let calls = Arc::clone(&tiny.calls);
    let mut builder = Server::builder().drain_timeout(Duration::from_secs(10));
    if let Some(max) = max_frame {
        builder = builder.max_frame_size(max);
    }
    let handle = builder
        .build(tiny)
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .expect("server binds");
    let addr = handle.local_socket_addr().unwrap();
    TestServer {
        handle,
        addr,
        calls,
        good: AtomicUsize::new(0),
    }
}

// ---------------------------------------------------------------------------------------------
// Captured log.

/// The captured log of every server in this test binary: the tests run in parallel threads
/// and their servers on runtime worker threads, so the subscriber is global, and each test
/// looks for the lines that name its own connections.
struct Logs {
    text: Mutex<Vec<u8>>,
    /// Woken on every write, so a test can wait for a line instead of polling.
    written: tokio::sync::Notify,
}

#[derive(Clone)]
struct LogWriter(&'static Logs);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.text.lock().unwrap().extend_from_slice(buf);
        self.0.written.notify_waiters();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static Logs {
    static LOGS: OnceLock<&'static Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs: &'static Logs = Box::leak(Box::new(Logs {
            text: Mutex::new(Vec::new()),
            written: tokio::sync::Notify::new(),
        }));
        let writer = LogWriter(logs);
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "rookery_transport=debug",
            ))
            .try_init()
            .expect("no other subscriber is installed");
        logs
    })
}

/// How much has been logged so far: lines about a connection are looked for after the mark
/// taken when it opened (client ports are reused, by this binary's thousands of connections
/// too).
fn log_mark() -> usize {
    logs().text.lock().unwrap().len()
}

/// A client connection, as the server's log names it.
#[derive(Clone, Copy, Debug)]
struct Peer {
    addr: SocketAddr,
    /// The log's length when it connected.
    mark: usize,
}

/// The log lines logged since `mark` that satisfy `pick`.
fn log_lines_since(mark: usize, pick: impl Fn(&str) -> bool) -> Vec<String> {
    let text = logs().text.lock().unwrap();
    String::from_utf8_lossy(&text[mark.min(text.len())..])
        .lines()
        .filter(|l| pick(l))
        .map(str::to_owned)
        .collect()
}

/// The log lines about `peer`.
fn log_lines_for(peer: Peer) -> Vec<String> {
    let needle = format!("peer=\"{}\"", peer.addr);
    log_lines_since(peer.mark, |l| l.contains(&needle))
}

/// Waits until `done` holds for the log lines about `peer` (the server may log a reason just
/// after the socket closes), failing with `what` and the lines if it does not within 10 s.
async fn wait_for_log(peer: Peer, what: &str, done: impl Fn(&[String]) -> bool) {
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let written = logs().written.notified();
            tokio::pin!(written);
            written.as_mut().enable();
            if done(&log_lines_for(peer)) {
                return;
            }
            written.await;
        }
    })
    .await;
    if found.is_err() {
        panic!(
            "no log line about {} with {what}; its lines: {:#?}",
            peer.addr,
            log_lines_for(peer)
        );
    }
}

/// Waits for one log line about `peer` that contains every part of `expected`.
async fn assert_logged(peer: Peer, expected: &[&str]) {
    wait_for_log(peer, &format!("{expected:?}"), |lines| {
        lines
            .iter()
            .any(|l| expected.iter().all(|part| l.contains(part)))
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Raw wire helpers.

async fn within<F: std::future::Future>(secs: u64, what: &str, f: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(secs), f).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: nothing happened within {secs} s"),
    }
}

async fn connect(addr: SocketAddr) -> (TcpStream, Peer) {
    let mark = log_mark();
    let s = TcpStream::connect(addr).await.expect("connects");
    s.set_nodelay(true).unwrap();
    let local = s.local_addr().unwrap();
    (s, Peer { addr: local, mark })
}

/// Waits until the server closes the connection, without closing our side first; returns
/// what it sent before closing.
async fn expect_closed(s: &mut TcpStream, what: &str) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let read = within(
            30,
            &format!("the server closing the connection after {what}"),
            s.read(&mut buf),
        )
        .await;
        match read {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("reading after {what}: {e}"),
        }
    }
}

/// How a raw request is framed.
#[derive(Clone, Copy, Debug)]
enum Wire {
    TTHeader(Protocol),
    Framed(Protocol),
    Buffered(Protocol),
}

impl Wire {
    const ALL: [Wire; 6] = [
        Wire::TTHeader(Protocol::Binary),
        Wire::TTHeader(Protocol::Compact),
        Wire::Framed(Protocol::Binary),
        Wire::Framed(Protocol::Compact),
        Wire::Buffered(Protocol::Binary),
        Wire::Buffered(Protocol::Compact),
    ];

    fn protocol(self) -> Protocol {
        match self {
            Wire::TTHeader(p) | Wire::Framed(p) | Wire::Buffered(p) => p,
        }
    }

    /// A whole request: framing, envelope, and `args` (the arguments struct, as raw bytes that
    /// may be malformed).
    fn request(self, seq: i32, method: &str, args: &[u8]) -> Vec<u8> {
        let protocol = self.protocol();
        let mut message = BytesMut::new();
        protocol.write_message_header(&mut message, method, MessageType::Call, seq);
        message.extend_from_slice(args);
        let mut out = BytesMut::new();
        match self {
            Wire::TTHeader(_) => {
                let id = match protocol {
                    Protocol::Binary => ttheader::protocol_id::BINARY,
                    Protocol::Compact => ttheader::protocol_id::COMPACT,
                };
                let w = HeaderWriter::begin(&mut out, 0, seq, id);
                let start = w.finish_header().unwrap();
                out.extend_from_slice(&message);
                ttheader::finish_frame(&mut out, start);
            }
            Wire::Framed(_) => {
                out.extend_from_slice(&(message.len() as u32).to_be_bytes());
                out.extend_from_slice(&message);
            }
            Wire::Buffered(_) => out.extend_from_slice(&message),
        }
        out.to_vec()
    }

    /// A valid `echo(msg)` request.
    fn echo(self, seq: i32, msg: &str) -> Vec<u8> {
        let args = self.protocol().encode_to_bytes(&Msg {
            msg: FastStr::new(msg),
        });
        self.request(seq, "echo", &args)
    }
}

/// A reply read off a raw connection.
#[derive(Debug)]
struct Reply {
    header: Option<ttheader::Header>,
    envelope: MessageHeader,
    protocol: Protocol,
    body: Bytes,
}

impl Reply {
    fn echoed(&self) -> String {
        assert_eq!(self.envelope.kind, MessageType::Reply, "{self:?}");
        let EchoResult(msg) = self
            .protocol
            .decode(self.body.clone())
            .expect("result decodes");
        msg.to_string()
    }

    fn exception(&self) -> ApplicationException {
        assert_eq!(self.envelope.kind, MessageType::Exception, "{self:?}");
        self.protocol
            .decode(self.body.clone())
            .expect("exception decodes")
    }
}

async fn read_reply(s: &mut TcpStream, wire: Wire) -> Reply {
    let protocol = wire.protocol();
    let mut message = match wire {
        Wire::TTHeader(_) | Wire::Framed(_) => {
            let len = within(30, "a reply", s.read_u32()).await.expect("a reply");
            let mut frame = vec![0u8; len as usize];
            s.read_exact(&mut frame).await.expect("the whole reply");
            Bytes::from(frame)
        }
        Wire::Buffered(_) => {
            let mut buf = Vec::new();
            loop {
                if let Some(len) = protocol
                    .measure_message(&buf, DecodeLimits::default())
                    .expect("a reply")
                {
                    assert_eq!(len, buf.len(), "more than one reply");
                    break Bytes::from(buf);
                }
                let mut chunk = [0u8; 4096];
                let n = within(30, "a reply", s.read(&mut chunk))
                    .await
                    .expect("a reply");
                assert!(n > 0, "connection closed instead of a reply");
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    };
    let header = match wire {
        Wire::TTHeader(_) => {
            let (header, payload) = ttheader::decode(message).expect("reply header");
            message = payload;
            Some(header)
        }
        _ => None,
    };
    let envelope = protocol
        .read_message_header(&mut message)
        .expect("reply envelope");
    Reply {
        header,
        envelope,
        protocol,
        body: message,
    }
}

/// Bytes of an arguments struct whose field 1 is a string of `len` (a raw, possibly negative,
/// size) followed by nothing.
fn string_of_size(protocol: Protocol, len: i32) -> Vec<u8> {
    match protocol {
        Protocol::Binary => {
            let mut v = vec![TType::Binary as u8, 0, 1];
            v.extend_from_slice(&len.to_be_bytes());
            v.push(0); // field stop
            v
        }
        Protocol::Compact => {
            let mut v = vec![0x18]; // field delta 1, type binary
            let mut n = len as u32;
            loop {
                let b = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    v.push(b);
                    break;
                }
                v.push(b | 0x80);
            }
            v.push(0);
            v
        }
    }
}

/// Bytes of an arguments struct whose field 1 is a list of i32 with a raw size of `len`.
fn list_of_size(protocol: Protocol, len: i32) -> Vec<u8> {
    match protocol {
        Protocol::Binary => {
            let mut v = vec![TType::List as u8, 0, 1, TType::I32 as u8];
            v.extend_from_slice(&len.to_be_bytes());
            v.push(0);
            v
        }
        Protocol::Compact => {
            // Long form: size nibble 15, then the size as a varint of 5 bytes.
            let n = len as u32;
            let mut v = vec![0x19, 0xf5];
            v.extend_from_slice(&[
                (n & 0x7f) as u8 | 0x80,
                ((n >> 7) & 0x7f) as u8 | 0x80,
                ((n >> 14) & 0x7f) as u8 | 0x80,
                ((n >> 21) & 0x7f) as u8 | 0x80,
                (n >> 28) as u8,
            ]);
            v.push(0);
            v
        }
    }
}

/// Bytes of an arguments struct that nests `depth` structs in field 1, each closed properly.
fn nested(protocol: Protocol, depth: usize) -> Vec<u8> {
    let open: &[u8] = match protocol {
        Protocol::Binary => &[TType::Struct as u8, 0, 1],
        Protocol::Compact => &[0x1c], // field delta 1, type struct
    };
    let mut v = Vec::with_capacity(depth * (open.len() + 1) + 1);
    for _ in 0..depth {
        v.extend_from_slice(open);
    }
    v.extend(std::iter::repeat_n(0u8, depth + 1)); // one stop per struct, and the arguments'
    v
}

// ---------------------------------------------------------------------------------------------
// The cases.

/// A request cut short anywhere, then the connection closed: the server closes its side, logs
/// that the connection ended inside a frame, never calls the handler, and keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_frames_then_close() {
    let server = start_server(None).await;
    for wire in Wire::ALL {
        let request = wire.echo(1, "truncated");
        let cuts = [1, 3, 5, 6, 9, request.len() / 2, request.len() - 1];
        for cut in cuts {
            let (mut s, peer) = connect(server.addr).await;
            s.write_all(&request[..cut]).await.unwrap();
            s.shutdown().await.unwrap(); // no more bytes will come
            let sent = expect_closed(&mut s, &format!("{cut} bytes of {wire:?}")).await;
            assert!(sent.is_empty(), "a reply to a truncated request: {sent:?}");
            assert_logged(
                peer,
                &["connection closed inside a frame", &format!("bytes={cut}")],
            )
            .await;
            server
                .assert_serves(&format!("{cut} bytes of {wire:?}"))
                .await;
        }
    }
    assert_eq!(server.calls(), 0, "a truncated request reached the handler");
    server.assert_serves("truncated frames").await;
    server.stop().await;
}

/// A length prefix of 1 GiB against a 64 KiB limit is refused as soon as the prefix arrives:
/// the server closes the connection while the client has sent nothing but the first bytes
/// and is still waiting, so it neither waited for nor buffered the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_the_limit_is_refused_before_its_body() {
    const LIMIT: usize = 64 * 1024;
    let server = start_server(Some(LIMIT)).await;
    let one_gib = 1u32 << 30;
    let prefixes: [(&str, Vec<u8>); 3] = [
        (
            "ttheader",
            [&one_gib.to_be_bytes()[..], &[0x10, 0x00, 0, 0, 0, 0, 0, 1]].concat(),
        ),
        (
            "framed binary",
            [&one_gib.to_be_bytes()[..], &[0x80, 0x01, 0x00, 0x01]].concat(),
        ),
        (
            "framed compact",
            [&one_gib.to_be_bytes()[..], &[0x82, 0x21]].concat(),
        ),
    ];
    for (what, prefix) in prefixes {
        let (mut s, peer) = connect(server.addr).await;
        s.write_all(&prefix).await.unwrap();
        // Our write side stays open: the body could still come, and the server must not wait.
        let sent = expect_closed(&mut s, &format!("a 1 GiB {what} length")).await;
        assert!(sent.is_empty());
        assert_logged(
            peer,
            &[
                "closing connection",
                "frame of 1073741824 bytes is over the 65536-byte limit",
            ],
        )
        .await;
        server
            .assert_serves(&format!("a 1 GiB {what} length"))
            .await;
    }

    // The limit itself is allowed; one byte more is not.
    let args_overhead = Wire::Framed(Protocol::Binary).echo(1, "").len();
    let exact = "x".repeat(LIMIT + 4 - args_overhead);
    let request = Wire::Framed(Protocol::Binary).echo(1, &exact);
    assert_eq!(request.len(), LIMIT + 4);
    let (mut s, _) = connect(server.addr).await;
    s.write_all(&request).await.unwrap();
    let reply = read_reply(&mut s, Wire::Framed(Protocol::Binary)).await;
    assert_eq!(
        reply.echoed(),
        exact,
        "a frame of exactly the limit is served"
    );

    let over = Wire::Framed(Protocol::Binary).echo(1, &format!("{exact}x"));
    let (mut s, peer) = connect(server.addr).await;
    s.write_all(&over[..8]).await.unwrap();
    expect_closed(&mut s, "a frame one byte over the limit").await;
    assert_logged(
        peer,
        &["closing connection", "65537 bytes is over the 65536"],
    )
    .await;

    assert_eq!(
        server.calls(),
        1,
        "only the frame within the limit was handled"
    );
    server.assert_serves("oversized frames").await;
    server.stop().await;
}

/// Buffered Thrift has no length prefix: a string that claims 1 GiB makes the server read on,
/// but only up to its frame limit; past it, the connection is closed. The client sends a bit
/// more than the limit and then waits, so the server closing it shows memory stayed bounded
/// by the limit, not by the claimed size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buffered_message_over_the_limit_is_refused() {
    const LIMIT: usize = 64 * 1024;
    let server = start_server(Some(LIMIT)).await;
    for protocol in [Protocol::Binary, Protocol::Compact] {
        let wire = Wire::Buffered(protocol);
        let mut request = wire.request(1, "echo", &string_of_size(protocol, 1 << 30));
        request.pop(); // the field stop: the string's bytes would come first
        let (mut s, peer) = connect(server.addr).await;
        // The server may close while this is being written: that is the expected outcome.
        let _ = s.write_all(&request).await;
        let _ = s.write_all(&vec![b'a'; LIMIT + 16 * 1024]).await;
        expect_closed(&mut s, &format!("{protocol:?}: a buffered 1 GiB string")).await;
        assert_logged(
            peer,
            &["closing connection", "is over the 65536-byte limit"],
        )
        .await;
        server
            .assert_serves(&format!("a buffered {protocol:?} 1 GiB string"))
            .await;
    }
    assert_eq!(server.calls(), 0);
    server.assert_serves("buffered oversize").await;
    server.stop().await;
}

/// A frame whose length promises more than is sent, then the connection closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_length_larger_than_what_follows_then_close() {
    let server = start_server(None).await;
    for wire in [
        Wire::TTHeader(Protocol::Binary),
        Wire::Framed(Protocol::Binary),
        Wire::Framed(Protocol::Compact),
    ] {
        let mut request = wire.echo(1, "short");
        let real = request.len() - 4;
        request[..4].copy_from_slice(&((real + 1000) as u32).to_be_bytes());
        let (mut s, peer) = connect(server.addr).await;
        s.write_all(&request).await.unwrap();
        s.shutdown().await.unwrap();
        let sent = expect_closed(&mut s, &format!("{wire:?} with a lying length")).await;
        assert!(sent.is_empty());
        assert_logged(
            peer,
            &[
                "connection closed inside a frame",
                &format!("bytes={}", request.len()),
            ],
        )
        .await;
        server
            .assert_serves(&format!("a lying length ({wire:?})"))
            .await;
    }
    assert_eq!(server.calls(), 0);
    server.assert_serves("lying lengths").await;
    server.stop().await;
}

/// Negative string and list sizes inside a frame: the frame is whole, so the server answers
/// the call with an error (INVALID_ARGUMENT, "negative size") and the connection stays usable;
/// on buffered connections, where the size is needed to find the message's end, the
/// connection is closed with the reason logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_sizes_inside_a_frame() {
    let server = start_server(None).await;
    let mut handled = 0;
    for wire in Wire::ALL {
        let protocol = wire.protocol();
        let cases = [
            ("string -5", string_of_size(protocol, -5)),
            ("string -1", string_of_size(protocol, -1)),
            ("string i32::MIN", string_of_size(protocol, i32::MIN)),
            ("list -1", list_of_size(protocol, -1)),
        ];
        for (what, args) in cases {
            let request = wire.request(7, "echo", &args);
            let (mut s, peer) = connect(server.addr).await;
            s.write_all(&request).await.unwrap();
            match wire {
                Wire::Buffered(_) => {
                    let sent = expect_closed(&mut s, &format!("{wire:?} {what}")).await;
                    assert!(sent.is_empty());
                    assert_logged(peer, &["closing connection", "negative size"]).await;
                }
                _ => {
                    let reply = read_reply(&mut s, wire).await;
                    handled += 1;
                    assert_eq!(reply.envelope.seq_id, 7);
                    let exception = reply.exception();
                    assert_eq!(
                        exception.kind,
                        ApplicationExceptionKind::ProtocolError,
                        "{wire:?} {what}: {exception:?}"
                    );
                    assert!(
                        exception.message.contains("negative size"),
                        "{wire:?} {what}: {exception:?}"
                    );
                    if let Some(header) = &reply.header {
                        let code = header.string("rookery-status").map(|c| c.to_string());
                        assert_eq!(
                            code,
                            Some(Code::InvalidArgument.as_i32().to_string()),
                            "{wire:?} {what}"
                        );
                    }
                    // The same connection still serves calls.
                    s.write_all(&wire.echo(8, "after")).await.unwrap();
                    let reply = read_reply(&mut s, wire).await;
                    handled += 1;
                    assert_eq!(reply.echoed(), "after");
                }
            }
            server.assert_serves(&format!("{what} ({wire:?})")).await;
        }
    }
    assert_eq!(server.calls(), handled);
    server.assert_serves("negative sizes").await;
    server.stop().await;
}

/// A TTHeader magic that is wrong: on the first frame nothing is recognised; after a good
/// frame, the framing is known and the magic itself is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_ttheader_magic() {
    let server = start_server(None).await;
    let wire = Wire::TTHeader(Protocol::Binary);
    let mut bad = wire.echo(1, "bad magic");
    bad[4..6].copy_from_slice(&0x0fffu16.to_be_bytes());

    let (mut s, peer) = connect(server.addr).await;
    s.write_all(&bad).await.unwrap();
    expect_closed(&mut s, "a wrong magic first").await;
    assert_logged(
        peer,
        &["closing connection", "unrecognised protocol", "0f ff"],
    )
    .await;
    server.assert_serves("a wrong magic first").await;

    let (mut s, peer) = connect(server.addr).await;
    s.write_all(&wire.echo(1, "good")).await.unwrap();
    assert_eq!(read_reply(&mut s, wire).await.echoed(), "good");
    s.write_all(&bad).await.unwrap();
    expect_closed(&mut s, "a wrong magic after a good frame").await;
    assert_logged(peer, &["closing connection", "bad magic 0x0fff"]).await;

    assert_eq!(server.calls(), 1);
    server.assert_serves("wrong magic").await;
    server.stop().await;
}

/// TTHeader frames that lie inside the header: a header size past the end of the frame, a
/// string that overruns the header, an unknown info id, transforms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttheader_header_lies() {
    let server = start_server(None).await;
    let good = Wire::TTHeader(Protocol::Binary).echo(1, "x");
    // [len 4][magic 2][flags 2][seq 4][header words 2][protocol 1][transforms 1][pad 2]...
    let mut past_end = good.clone();
    past_end[12..14].copy_from_slice(&100u16.to_be_bytes());

    let mut huge_words = good.clone();
    huge_words[12..14].copy_from_slice(&u16::MAX.to_be_bytes());

    let mut with_transform = good.clone();
    with_transform[15] = 1;

    let header_with = |info: &[u8]| {
        // A header of 8 words holding `info`, padded, then the message.
        let mut header = vec![ttheader::protocol_id::BINARY, 0];
        header.extend_from_slice(info);
        header.resize(32, 0);
        let mut message = BytesMut::new();
        Protocol::Binary.write_message_header(&mut message, "echo", MessageType::Call, 1);
        Protocol::Binary.encode(&Msg { msg: "x".into() }, &mut message);
        let mut frame = vec![0x10, 0x00, 0, 0, 0, 0, 0, 1, 0, 8];
        frame.extend_from_slice(&header);
        frame.extend_from_slice(&message);
        [&(frame.len() as u32).to_be_bytes()[..], &frame].concat()
    };
    let overrun = header_with(&[0x01, 0, 1, 0, 200, b'k']);
    let unknown_info = header_with(&[0x42]);
    let huge_count = header_with(&[0x10, 0xff, 0xff]);

    let cases: [(&str, Vec<u8>, &str); 6] = [
        (
            "header size past the frame",
            past_end,
            "header size 400 with",
        ),
        (
            "header size of 65535 words",
            huge_words,
            "header size 262140",
        ),
        (
            "a transform",
            with_transform,
            "transforms (1) are not supported",
        ),
        (
            "a string overrunning the header",
            overrun,
            "overruns the header",
        ),
        ("an unknown info id", unknown_info, "unknown info id 0x42"),
        (
            "65535 int pairs in a tiny header",
            huge_count,
            "header ends inside",
        ),
    ];
    for (what, frame, reason) in cases {
        let (mut s, peer) = connect(server.addr).await;
        s.write_all(&frame).await.unwrap();
        let sent = expect_closed(&mut s, what).await;
        assert!(sent.is_empty(), "{what}: {sent:?}");
        assert_logged(peer, &["closing connection", reason]).await;
        server.assert_serves(what).await;
    }
    assert_eq!(server.calls(), 0);
    server.assert_serves("ttheader lies").await;
    server.stop().await;
}

/// Garbage: HTTP, TLS, zeros, 0xff, a bad binary version, and random bytes; each connection
/// is closed with "unrecognised protocol" or another logged reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_bytes() {
    let server = start_server(None).await;
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let mut cases: Vec<(String, Vec<u8>, &str)> = vec![
        // (HTTP is served on the port, for health checks: see tests/health.rs.)
        (
            "http/2 preface".into(),
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
            "no HTTP/2 handler",
        ),
        (
            "tls hello".into(),
            vec![
                0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
            ],
            "unrecognised protocol",
        ),
        ("zeros".into(), vec![0; 64], "unrecognised protocol"),
        ("0xff".into(), vec![0xff; 64], "unrecognised protocol"),
        (
            "binary version 2".into(),
            vec![0x80, 0x02, 0x00, 0x01, 0, 0, 0, 0],
            "unrecognised protocol",
        ),
        (
            "compact version 3".into(),
            vec![0x82, 0x23, 0x01, 0x04, b'e', b'c', b'h', b'o', 0x00],
            "closing connection",
        ),
    ];
    for i in 0..40 {
        let len = rng.usize(1..512);
        let bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        cases.push((format!("random #{i}"), bytes, "closing connection"));
    }
    for (what, bytes, reason) in &cases {
        let (mut s, peer) = connect(server.addr).await;
        s.write_all(bytes).await.unwrap();
        // Random bytes may be a plausible prefix that waits for more: end our side so the
        // server sees the whole input.
        s.shutdown().await.unwrap();
        let sent = expect_closed(&mut s, what).await;
        assert!(sent.is_empty(), "{what}: the server answered {sent:?}");
        let reason = *reason;
        wait_for_log(
            peer,
            &format!("a reason for {what} ({bytes:02x?})"),
            |lines| {
                lines
                    .iter()
                    .any(|l| l.contains("closing connection") && l.contains(reason))
                    || lines
                        .iter()
                        .any(|l| l.contains("connection closed inside a frame"))
            },
        )
        .await;
        server.assert_serves(what).await;
    }
    assert_eq!(server.calls(), 0);
    server.assert_serves("garbage").await;
    server.stop().await;
}

/// A struct nested 100 000 levels deep, in a whole frame: the server neither crashes nor
/// overflows its stack. Framed, the call gets an error reply (the depth limit stops decoding);
/// buffered, where the message is walked to find its end, the connection is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_struct_nested_100_000_deep() {
    let server = start_server(None).await;
    let mut handled = 0;
    for wire in Wire::ALL {
        let request = wire.request(3, "echo", &nested(wire.protocol(), 100_000));
        let (mut s, peer) = connect(server.addr).await;
        // Buffered, the server may close before all of it is written.
        let written = s.write_all(&request).await;
        if !matches!(wire, Wire::Buffered(_)) {
            written.unwrap();
        }
        match wire {
            Wire::Buffered(_) => {
                expect_closed(&mut s, &format!("{wire:?} nested 100 000 deep")).await;
                assert_logged(peer, &["closing connection", "nesting too deep"]).await;
            }
            _ => {
                let reply = read_reply(&mut s, wire).await;
                handled += 1;
                let exception = reply.exception();
                assert_eq!(exception.kind, ApplicationExceptionKind::ProtocolError);
                assert!(
                    exception.message.contains("nesting too deep"),
                    "{wire:?}: {exception:?}"
                );
                s.write_all(&wire.echo(4, "after")).await.unwrap();
                assert_eq!(read_reply(&mut s, wire).await.echoed(), "after");
                handled += 1;
            }
        }
        server
            .assert_serves(&format!("nesting 100 000 deep ({wire:?})"))
            .await;
    }
    assert_eq!(server.calls(), handled);
    server.assert_serves("deep nesting").await;
    server.stop().await;
}

/// The soft limit on open files of this process, from /proc (Linux), if known.
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// 2 400 connections sending garbage, many at once: each is closed with a logged reason, and
/// the server still answers a good client afterwards. Batches are sized to the open-file limit
/// (each connection costs this process two descriptors, the client's and the server's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_garbage_connections() {
    const TOTAL: usize = 2_400;
    let server = start_server(None).await;
    let limit = open_files_limit().unwrap_or(1024);
    let batch = ((limit.saturating_sub(256)) / 4).clamp(16, 300);
    eprintln!("open files limit {limit}: batches of {batch}");

    let start = log_mark();
    let mut peers = Vec::with_capacity(TOTAL);
    let mut opened = 0;
    while opened < TOTAL {
        let n = batch.min(TOTAL - opened);
        let mut set = JoinSet::new();
        for i in opened..opened + n {
            let addr = server.addr;
            set.spawn(async move {
                let (mut s, peer) = connect(addr).await;
                let garbage = format!("GARBAGE {i} \x01\x02\x03 not thrift at all");
                s.write_all(garbage.as_bytes()).await.unwrap();
                let sent = expect_closed(&mut s, "garbage").await;
                assert!(sent.is_empty());
                peer
            });
        }
        while let Some(peer) = within(120, "a batch of garbage connections", set.join_next()).await
        {
            peers.push(peer.expect("a garbage connection task"));
        }
        opened += n;
    }
    assert_eq!(peers.len(), TOTAL);

    // Every one of them was closed for a logged reason.
    let missing = |peers: &[Peer]| -> Vec<SocketAddr> {
        let lines = log_lines_since(start, |l| {
            l.contains("closing connection") && l.contains("unrecognised protocol")
        });
        let closed: std::collections::HashSet<&str> = lines
            .iter()
            .filter_map(|l| l.split("peer=\"").nth(1)?.split('"').next())
            .collect();
        peers
            .iter()
            .map(|p| p.addr)
            .filter(|a| !closed.contains(a.to_string().as_str()))
            .collect()
    };
    let all_logged = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let written = logs().written.notified();
            tokio::pin!(written);
            written.as_mut().enable();
            if missing(&peers).is_empty() {
                return;
            }
            written.await;
        }
    })
    .await;
    assert!(
        all_logged.is_ok(),
        "no reason logged for {:?}",
        missing(&peers)
    );

    assert_eq!(server.calls(), 0);
    server
        .assert_serves("thousands of garbage connections")
        .await;
    server.stop().await;
}

/// A client that sends a valid request one byte at a time, in every framing, gets its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_sending_one_byte_at_a_time() {
    let server = start_server(None).await;
    for wire in Wire::ALL {
        let (mut s, _) = connect(server.addr).await;
        for seq in [1, 2] {
            let msg = format!("slow {seq} {wire:?}");
            for byte in wire.echo(seq, &msg) {
                s.write_all(&[byte]).await.unwrap();
                // Give the server a chance to read each byte on its own.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let reply = read_reply(&mut s, wire).await;
            assert_eq!(reply.envelope.seq_id, seq);
            assert_eq!(reply.echoed(), msg);
        }
    }
    assert_eq!(server.calls(), 12);
    server.stop().await;
}

/// `ServerBuilder::max_depth` bounds nesting in every framing. Buffered connections enforce
/// it while cutting messages; framed and TTHeader ones should too, when the handler decodes
/// the arguments.
///
/// (Until the request carried the server's limits, `ThriftRequest::decode` used the default
/// 64 levels, so a framed call nested 20 deep reached a server configured for 8 and was
/// answered as valid.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_max_depth_applies_to_every_framing() {
    logs();
    let tiny = Tiny::default();
    let handle = Server::builder()
        .max_depth(8)
        .build(tiny)
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = handle.local_socket_addr().unwrap();
    for wire in Wire::ALL {
        let request = wire.request(1, "echo", &nested(wire.protocol(), 20));
        let (mut s, peer) = connect(addr).await;
        s.write_all(&request).await.unwrap();
        match wire {
            Wire::Buffered(_) => {
                expect_closed(&mut s, &format!("{wire:?} nested 20 deep")).await;
                assert_logged(peer, &["closing connection", "nesting too deep"]).await;
            }
            _ => {
                let reply = read_reply(&mut s, wire).await;
                assert_eq!(
                    reply.envelope.kind,
                    MessageType::Exception,
                    "{wire:?}: 20 levels of nesting passed a server configured for 8"
                );
                assert!(reply.exception().message.contains("nesting too deep"));
            }
        }
    }
    within(60, "stopping", handle.stop()).await;
}
