//! One server connection: a reader that cuts frames and starts calls, a writer task that sends
//! replies in batches, and the drain logic of shutdown.

use std::{
    any::Any,
    future::{Future, poll_fn},
    net::SocketAddr,
    panic::{AssertUnwindSafe, catch_unwind},
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    task::{Context as TaskContext, Poll, Waker},
    time::{Duration, Instant},
};

use bytes::BytesMut;
use faststr::FastStr;
use rookery_codec::thrift::{ApplicationException, MessageType, Protocol};
use rookery_core::{Context, Service, Status};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::Notify,
};

use super::{IdlService, Shared, http};
use crate::{
    KitexProtobufRequest, Stream, ThriftRequest, ThriftResponse,
    addr::{ReadHalf, WriteHalf},
    frame::{Frame, FrameDecoder, FrameError, Framing, write_frame},
    health, kitex_protobuf,
    metainfo::{self, BizStatus},
    queue::WriteQueue,
    ttheader::{Header, HeaderWriter, InfoEntry, int_key, str_key},
};

/// How long a drained connection whose client understands control frames may stay idle
/// before the server closes it anyway.
const CONTROL_GRACE: Duration = Duration::from_millis(500);
const READ_RESERVE: usize = 8 * 1024;
/// How long a drained connection keeps reading (and dropping) input after its last reply, so
/// the client reads the replies before the socket closes...
const LINGER: Duration = Duration::from_secs(2);
/// ...unless the client sends nothing for this long.
const LINGER_QUIET: Duration = Duration::from_millis(250);

/// The decimal strings of the status codes, so an error reply allocates nothing for them.
const CODE_STRINGS: [&str; 17] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
];

struct Conn<S> {
    service: Arc<S>,
    shared: Arc<Shared>,
    queue: WriteQueue,
    in_flight: AtomicUsize,
    idle: Notify,
    draining: AtomicBool,
    /// The client said it understands control frames.
    control: AtomicBool,
    peer: Option<FastStr>,
    /// What every call of the connection carries in its context's extensions: the client's
    /// TLS certificates, when it presented some.
    extensions: ::http::Extensions,
}

/// How to address a reply: the framing, protocol, name and sequence id of its call.
struct ReplyTo {
    framing: Framing,
    protocol: Protocol,
    seq_id: i32,
    name: FastStr,
}

/// Why the read loop ended.
enum Close {
    /// The client closed its side.
    Eof,
    /// Shutdown drained this connection.
    Drained,
    /// The drain deadline passed.
    HardStop,
    /// The client sent something that is not a valid message.
    Bad(FrameError),
    /// The socket failed.
    Io(std::io::Error),
}

pub(super) async fn serve_connection<S>(
    stream: Stream,
    peer: Option<SocketAddr>,
    service: Arc<S>,
    shared: Arc<Shared>,
) where
    S: Service<ThriftRequest, Response = ThriftResponse> + 'static,
{
    let peer_name = peer.map(|p| FastStr::from(p.to_string()));
    #[allow(unused_mut)]
    let mut extensions = ::http::Extensions::new();
    // With TLS, the handshake comes first; the protocol is detected on what it decrypts.
    #[cfg(feature = "tls")]
    let stream = match &shared.config.tls {
        Some(acceptor) => match handshake(acceptor, stream, &shared, peer).await {
            Some((stream, from_tls)) => {
                extensions = from_tls;
                stream
            }
            None => return,
        },
        None => stream,
    };
    let mut stream = stream;
    let mut buf = BytesMut::with_capacity(READ_RESERVE);
    // HTTP (health checks) and Thrift share the port: tell them apart by the first bytes.
    loop {
        match http::sniff(&buf) {
            Some(http::Sniffed::Http1) => {
                http::serve(stream, buf.freeze(), shared, peer, extensions).await;
                return;
            }
            Some(http::Sniffed::Http2) => {
                serve_h2(stream, buf, shared, peer, extensions).await;
                return;
            }
            Some(http::Sniffed::Native) => break,
            None => {}
        }
        // A connection taken while the server drains gets a short grace for its first
        // bytes (its client may have sent a call already); an idle one is closed then.
        let grace = async {
            shared.draining.cancelled().await;
            tokio::time::sleep(CONTROL_GRACE).await;
        };
        tokio::select! {
            biased;
            _ = grace => return,
            read = stream.read_buf(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
        }
    }
    let (mut rd, mut wr) = stream.into_split();
    let conn = Arc::new(Conn {
        service,
        shared: Arc::clone(&shared),
        queue: WriteQueue::new(),
        in_flight: AtomicUsize::new(0),
        idle: Notify::new(),
        draining: AtomicBool::new(false),
        control: AtomicBool::new(false),
        peer: peer_name,
        extensions,
    });

    // One task reads, runs the calls that finish at once, and writes their replies together
    // after each read, the way a hand-written echo loop would: no hand-off to another task on
    // the common path. Replies of calls that had to wait arrive through the queue and wake it.
    let config = &shared.config;
    let mut decoder = FrameDecoder::detecting(config.max_frame_size, config.limits);
    let mut spare = BytesMut::with_capacity(READ_RESERVE);
    // A connection accepted after the drain began was never told to stop: it gets the grace a
    // client that can be told gets, for the calls it sends right away.
    let mut draining = shared.draining.is_cancelled();
    let late = draining;
    if late {
        conn.draining.store(true, Ordering::Release);
    }
    let mut last_read_done = false;
    let mut last_frame = Instant::now();
    let accepted = Instant::now();

    let close = 'read: loop {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    if draining {
                        last_frame = Instant::now();
                    }
                    if let Err(e) = dispatch(&conn, frame) {
                        break 'read Close::Bad(e);
                    }
                }
                Ok(None) => break,
                Err(e) => break 'read Close::Bad(e),
            }
        }
        if let Err(close) = flush(&conn, &mut wr, &mut spare).await {
            break close;
        }
        if draining {
            let control = conn.control.load(Ordering::Relaxed);
            let idle = conn.in_flight.load(Ordering::Acquire) == 0 && buf.is_empty();
            // A client that understands control frames was told to stop and closes when its
            // calls are answered: keep serving it until then (or until it is quiet for a
            // while). Any other client cannot be told: serve what it sent before the drain
            // began, then stop reading and finish.
            //
            // A connection accepted from the backlog after the drain began gets the grace of
            // a client that can be told, for the calls it sends right away; if its client
            // cannot be told (no control frames), the grace counts from the accept and ends
            // even while calls keep coming, or a client that never pauses (a pooled Apache
            // client under load) would hold the drain until its deadline.
            let take_last = if control {
                idle && last_frame.elapsed() >= CONTROL_GRACE
            } else if late {
                (idle && last_frame.elapsed() >= CONTROL_GRACE)
                    || accepted.elapsed() >= CONTROL_GRACE
            } else {
                true
            };
            if take_last {
                if last_read_done {
                    break Close::Drained;
                }
                // Take what already arrived before closing, so a call sent just before the
                // shutdown is served rather than lost.
                last_read_done = true;
                buf.reserve(READ_RESERVE);
                match rd.try_read_buf(&mut buf) {
                    Ok(0) => break Close::Eof,
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break Close::Drained,
                    Err(e) => break Close::Io(e),
                }
            }
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(READ_RESERVE);
        }
        // Built lazily: only polled (and only then timed) while draining.
        let grace = async move {
            tokio::time::sleep(CONTROL_GRACE.saturating_sub(last_frame.elapsed())).await;
        };
        tokio::select! {
            biased;
            _ = shared.hard_stop.cancelled() => break Close::HardStop,
            read = rd.read_buf(&mut buf) => match read {
                Ok(0) => break Close::Eof,
                Ok(_) => {}
                Err(e) => break Close::Io(e),
            },
            _ = conn.queue.pushed() => {}
            _ = shared.draining.cancelled(), if !draining => {
                draining = true;
                last_frame = Instant::now();
                start_drain(&conn, decoder.framing());
            }
            _ = conn.idle.notified(), if draining => {}
            _ = grace, if draining && (late || conn.control.load(Ordering::Relaxed)) => {}
        }
    };

    let peer = conn.peer.as_deref().unwrap_or("unix");
    let close = match close {
        Close::Eof => finish(&conn, &mut wr, &mut spare).await.err(),
        Close::Drained => {
            let outcome = finish(&conn, &mut wr, &mut spare).await.err();
            if outcome.is_none() {
                linger(&shared, &mut rd).await;
            }
            outcome
        }
        other => Some(other),
    };
    if !buf.is_empty() {
        tracing::debug!(peer, bytes = buf.len(), "connection closed inside a frame");
    }
    conn.queue.abort();
    match close {
        None => {}
        Some(Close::Bad(reason)) => tracing::warn!(peer, %reason, "closing connection"),
        Some(Close::Io(e)) => tracing::debug!(peer, error = %e, "connection failed"),
        Some(Close::HardStop) => tracing::warn!(peer, "closing connection: drain deadline passed"),
        Some(Close::Eof | Close::Drained) => {}
    }
}

/// The TLS handshake with a client, within the server's handshake timeout (and cut off when
/// the drain deadline passes): the decrypted stream and what TLS told of the client, or
/// `None`, logged, when the handshake failed.
#[cfg(feature = "tls")]
async fn handshake(
    acceptor: &crate::tls::Acceptor,
    stream: Stream,
    shared: &Shared,
    peer: Option<SocketAddr>,
) -> Option<(Stream, ::http::Extensions)> {
    let peer = peer.map(|p| p.to_string());
    let peer = peer.as_deref().unwrap_or("unix");
    let timeout = shared.config.handshake_timeout;
    tokio::select! {
        biased;
        _ = shared.hard_stop.cancelled() => None,
        accepted = tokio::time::timeout(timeout, acceptor.accept(stream)) => match accepted {
            Ok(Ok(accepted)) => Some(accepted),
            Ok(Err(e)) => {
                tracing::debug!(peer, error = %e, "closing connection: TLS handshake failed");
                None
            }
            Err(_) => {
                tracing::debug!(peer, ?timeout, "closing connection: no TLS handshake in time");
                None
            }
        },
    }
}

/// Serves an HTTP/2 connection through the server's HTTP handler, or closes it, saying why,
/// when there is none.
async fn serve_h2(
    stream: Stream,
    buf: BytesMut,
    shared: Arc<Shared>,
    peer: Option<SocketAddr>,
    extensions: ::http::Extensions,
) {
    #[cfg(feature = "http2")]
    if shared.config.http.is_some() {
        http::serve_h2(stream, buf.freeze(), shared, peer, extensions).await;
        return;
    }
    let _ = (stream, buf, shared, extensions);
    // The peer as every other line about a connection names it, `peer="ADDR"`.
    let peer = peer.map(|p| p.to_string());
    tracing::warn!(
        peer = peer.as_deref().unwrap_or("unix"),
        "closing connection: HTTP/2 (gRPC?) on a server with no HTTP/2 handler"
    );
}

/// Writes the replies queued so far, unless the drain deadline passes first.
async fn flush<S>(conn: &Conn<S>, wr: &mut WriteHalf, spare: &mut BytesMut) -> Result<(), Close> {
    tokio::select! {
        biased;
        _ = conn.shared.hard_stop.cancelled() => Err(Close::HardStop),
        flushed = conn.queue.flush(wr, spare) => flushed.map(|_| ()).map_err(Close::Io),
    }
}

/// After the write side is shut, reads and drops what the client still sends until it closes
/// too, goes quiet, or [`LINGER`] passes: closing a socket with unread input makes the kernel
/// reset the connection and throw away replies still queued for sending.
async fn linger(shared: &Shared, rd: &mut ReadHalf) {
    let mut sink = [0u8; 8 * 1024];
    let deadline = tokio::time::sleep(LINGER);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return,
            _ = tokio::time::sleep(LINGER_QUIET) => return,
            _ = shared.hard_stop.cancelled() => return,
            read = rd.read(&mut sink) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
        }
    }
}

/// Finishes the calls already started, writes their replies, and closes the write side.
async fn finish<S>(conn: &Conn<S>, wr: &mut WriteHalf, spare: &mut BytesMut) -> Result<(), Close> {
    loop {
        flush(conn, wr, spare).await?;
        if conn.in_flight.load(Ordering::Acquire) == 0 {
            break;
        }
        tokio::select! {
            _ = conn.idle.notified() => {}
            _ = conn.queue.pushed() => {}
            _ = conn.shared.hard_stop.cancelled() => return Err(Close::HardStop),
        }
    }
    conn.queue.close();
    flush(conn, wr, spare).await?;
    let _ = wr.shutdown().await;
    Ok(())
}

/// Tells the client the connection is going away: a control frame to clients that understand
/// them (replies to the others carry the same header as they go).
fn start_drain<S>(conn: &Conn<S>, framing: Option<Framing>) {
    conn.draining.store(true, Ordering::Release);
    // Only TTHeader can carry a header-only frame, and only our own clients expect one.
    if !framing.is_some_and(Framing::has_header) || !conn.control.load(Ordering::Relaxed) {
        return;
    }
    let _ = conn.queue.push(|buf, _| {
        let mut w = HeaderWriter::begin(buf, 0, 0, 0);
        w.strings([(str_key::CONNECTION_READY_TO_RESET, "1")]);
        if let Ok(start) = w.finish_header() {
            crate::ttheader::finish_frame(buf, start);
        }
    });
}

/// Starts one call: builds its context from the frame, then runs it inline if it completes
/// at once, or in its own task if it waits.
fn dispatch<S>(conn: &Arc<Conn<S>>, frame: Frame) -> Result<(), FrameError>
where
    S: Service<ThriftRequest, Response = ThriftResponse> + 'static,
{
    if frame.kitex_protobuf {
        return dispatch_protobuf(conn, frame);
    }
    let Frame {
        framing,
        header,
        protocol,
        mut message,
        ..
    } = frame;
    let envelope = protocol.read_message_header(&mut message)?;
    let oneway = match envelope.kind {
        MessageType::Call => false,
        MessageType::Oneway => true,
        other => {
            return Err(FrameError::Malformed(format!(
                "a client sent a message of type {other:?}"
            )));
        }
    };
    let mut cx = Context::new();
    cx.set_seq_id(envelope.seq_id);
    let mut idl_service = None;
    // Apache Thrift's multiplexed protocol names the service before the method.
    let (method, name) = match envelope.name.find(':') {
        Some(i) => {
            idl_service = Some(envelope.name.slice_ref(&envelope.name[..i]));
            let method = envelope.name.slice_ref(&envelope.name[i + 1..]);
            (method.clone(), method)
        }
        None => (envelope.name.clone(), envelope.name),
    };
    cx.callee_mut().method = method.clone();
    cx.callee_mut().service = conn.shared.config.service_name.clone();
    cx.caller_mut().address = conn.peer.clone();
    if !conn.extensions.is_empty() {
        cx.extensions_mut().extend(conn.extensions.clone());
    }
    read_header(conn, header, &mut cx, &mut idl_service)?;
    if let Some(name) = idl_service {
        if name == health::SERVICE {
            answer_health(
                conn,
                framing,
                protocol,
                name,
                envelope.seq_id,
                &method,
                oneway,
            );
            return Ok(());
        }
        cx.extensions_mut().insert(IdlService(name));
    }
    let req = ThriftRequest {
        method,
        oneway,
        protocol,
        body: message,
        limits: conn.shared.config.limits,
    };
    let reply = ReplyTo {
        framing,
        protocol,
        seq_id: envelope.seq_id,
        name,
    };
    start_call(conn, move |guard| handle(guard, cx, req, reply));
    Ok(())
}

/// Takes a call's metadata, deadline, caller and IDL service name from its TTHeader.
fn read_header<S>(
    conn: &Conn<S>,
    header: Option<Header>,
    cx: &mut Context,
    idl_service: &mut Option<FastStr>,
) -> Result<(), FrameError> {
    let Some(header) = header else {
        return Ok(());
    };
    for entry in header.entries() {
        match entry? {
            InfoEntry::Str(k, v) => match &*k {
                str_key::CONTROL => conn.control.store(true, Ordering::Relaxed),
                str_key::IDL_SERVICE_NAME => *idl_service = Some(v),
                _ => metainfo::incoming(cx, k, v),
            },
            InfoEntry::Int(int_key::FROM_SERVICE, v) => cx.caller_mut().service = v,
            InfoEntry::Int(int_key::RPC_TIMEOUT, v) => {
                if let Ok(ms) = v.parse::<u64>() {
                    if ms > 0 {
                        cx.shorten_deadline(Duration::from_millis(ms));
                    }
                }
            }
            InfoEntry::Int(..) | InfoEntry::Token(_) => {}
        }
    }
    Ok(())
}

/// Starts a call's future: counts it in flight, runs it inline if it completes at once, or
/// in its own task if it waits.
fn start_call<S, F>(conn: &Arc<Conn<S>>, call: impl FnOnce(InFlight<S>) -> F)
where
    S: 'static,
    F: Future<Output = ()> + Send + 'static,
{
    conn.in_flight.fetch_add(1, Ordering::AcqRel);
    let guard = InFlight(Arc::clone(conn));
    let mut call = Box::pin(call(guard));
    // Most handlers finish without waiting; running them here saves a task per call. The
    // no-op waker is fine: a call that is not finished is spawned, and its task polls it again
    // with a real waker.
    let mut task_cx = TaskContext::from_waker(Waker::noop());
    if call.as_mut().poll(&mut task_cx).is_pending() {
        let hard_stop = conn.shared.hard_stop.clone();
        conn.shared.tasks.spawn(async move {
            tokio::select! {
                _ = call => {}
                _ = hard_stop.cancelled() => {}
            }
        });
    }
}

/// Starts one Kitex Protobuf call: the server's Protobuf service answers it, or, when the
/// server has none, an `UNIMPLEMENTED` exception does.
fn dispatch_protobuf<S>(conn: &Arc<Conn<S>>, frame: Frame) -> Result<(), FrameError>
where
    S: Service<ThriftRequest, Response = ThriftResponse> + 'static,
{
    let Frame {
        framing,
        header,
        mut message,
        ..
    } = frame;
    let protocol_id = header
        .as_ref()
        .map_or(crate::ttheader::protocol_id::PROTOBUF, |h| h.protocol_id);
    let envelope = kitex_protobuf::read_envelope(&mut message)?;
    let oneway = match envelope.kind {
        MessageType::Call => false,
        MessageType::Oneway => true,
        other => {
            return Err(FrameError::Malformed(format!(
                "a client sent a protobuf message of type {other:?}"
            )));
        }
    };
    let mut cx = Context::new();
    cx.set_seq_id(envelope.seq_id);
    cx.callee_mut().method = envelope.name.clone();
    cx.callee_mut().service = conn.shared.config.service_name.clone();
    cx.caller_mut().address = conn.peer.clone();
    if !conn.extensions.is_empty() {
        cx.extensions_mut().extend(conn.extensions.clone());
    }
    let mut idl_service = None;
    read_header(conn, header, &mut cx, &mut idl_service)?;
    if let Some(name) = idl_service {
        cx.extensions_mut().insert(IdlService(name));
    }
    let reply = ProtobufReplyTo {
        framing,
        protocol_id,
        seq_id: envelope.seq_id,
        name: envelope.name.clone(),
    };
    let req = KitexProtobufRequest {
        method: envelope.name,
        body: message,
    };
    start_call(conn, move |guard| {
        handle_protobuf(guard, cx, req, reply, oneway)
    });
    Ok(())
}

/// How to address a Kitex Protobuf reply.
struct ProtobufReplyTo {
    framing: Framing,
    protocol_id: u8,
    seq_id: i32,
    name: FastStr,
}

async fn handle_protobuf<S>(
    guard: InFlight<S>,
    mut cx: Context,
    req: KitexProtobufRequest,
    reply: ProtobufReplyTo,
    oneway: bool,
) {
    let conn = &guard.0;
    let result = match conn.shared.config.protobuf.clone() {
        Some(service) => guarded(cx.deadline(), service.0.call(&mut cx, req)).await,
        None => Err(Status::unimplemented(format!(
            "this server serves no Protobuf over TTHeader (method {})",
            req.method
        ))),
    };
    if oneway {
        if let Err(status) = result {
            tracing::debug!(%status, method = cx.method(), "oneway call failed");
        }
        return;
    }
    let max_frame = conn.shared.config.max_frame_size;
    let draining = conn.draining.load(Ordering::Acquire);
    let write = |buf: &mut BytesMut, status: Option<&Status>, body: &dyn Fn(&mut BytesMut)| {
        // A business status is a reply (with an empty message) carrying it in the header.
        let biz = status.and_then(BizStatus::of);
        let biz_code = biz.map(|b| b.code.to_string()).unwrap_or_default();
        let (status, biz) = match biz {
            Some(biz) => (None, Some((biz, biz_code.as_str()))),
            None => (status, None),
        };
        let info = |w: &mut HeaderWriter<'_>| w.strings(reply_strings(&cx, status, biz, draining));
        let kind = if status.is_some() {
            MessageType::Exception
        } else {
            MessageType::Reply
        };
        kitex_protobuf::write_frame(
            buf,
            reply.framing,
            reply.protocol_id,
            max_frame,
            reply.seq_id,
            &reply.name,
            kind,
            &info,
            body,
        )
    };
    let written = conn
        .queue
        .push_wait(|buf, _| {
            let ok = match &result {
                Ok(resp) => write(buf, None, &|b| b.extend_from_slice(&resp.body)),
                Err(status) if BizStatus::of(status).is_some() => write(buf, Some(status), &|_| {}),
                Err(status) => write(buf, Some(status), &|b| {
                    kitex_protobuf::encode_error(b, status)
                }),
            };
            if let Err(e) = ok {
                let status = Status::resource_exhausted(format!("reply not sent: {e}"));
                tracing::warn!(method = cx.method(), %status, "reply too large");
                let _ = write(buf, Some(&status), &|b| {
                    kitex_protobuf::encode_error(b, &status)
                });
            }
        })
        .await;
    if written.is_err() {
        tracing::debug!(
            method = cx.method(),
            "connection closed before the reply was sent"
        );
    }
}

/// Runs a handler's call within the call's deadline, turning a panic into `INTERNAL`.
async fn guarded<T>(
    deadline: Option<Instant>,
    call: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    let timed = async {
        match deadline {
            Some(d) => tokio::time::timeout_at(d.into(), call)
                .await
                .unwrap_or_else(|_| {
                    Err(Status::deadline_exceeded("deadline passed on the server"))
                }),
            None => call.await,
        }
    };
    let mut timed = pin!(timed);
    poll_fn(
        |task| match catch_unwind(AssertUnwindSafe(|| timed.as_mut().poll(task))) {
            Ok(Poll::Ready(result)) => Poll::Ready(result),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => {
                let message = panic_message(&*panic);
                // The text is for the operator's log: it may say more about the server than
                // its callers should read.
                tracing::error!(panic = message, "handler panicked");
                Poll::Ready(Err(Status::internal("the handler panicked")))
            }
        },
    )
    .await
}

/// Answers a call of the built-in health service from the server's health, without the
/// router: every server has it, whatever it serves.
fn answer_health<S>(
    conn: &Conn<S>,
    framing: Framing,
    protocol: Protocol,
    name: FastStr,
    seq_id: i32,
    method: &str,
    oneway: bool,
) {
    if oneway {
        return;
    }
    let state = conn.shared.config.health.get();
    let reply: Result<&'static str, Status> = match method {
        "ping" => Ok("pong"),
        "check" => Ok(state.as_str()),
        other => Err(Status::unimplemented(format!(
            "{} has no method {other}",
            health::SERVICE
        ))),
    };
    let draining = conn.draining.load(Ordering::Acquire);
    let max_frame = conn.shared.config.max_frame_size;
    let to = ReplyTo {
        framing,
        protocol,
        seq_id,
        name,
    };
    let cx = Context::new();
    let _ = conn.queue.push(|buf, _| match &reply {
        Ok(text) => {
            let info =
                |w: &mut HeaderWriter<'_>| w.strings(reply_strings(&cx, None, None, draining));
            let result = health::StringResult(FastStr::from_static_str(text));
            let _ = write_frame(
                buf,
                framing,
                protocol,
                max_frame,
                seq_id,
                &to.name,
                MessageType::Reply,
                &info,
                |b| protocol.encode(&result, b),
            );
        }
        Err(status) => {
            let _ = write_exception(buf, &cx, &to, status, max_frame, draining);
        }
    });
}

/// Counts a call in flight until dropped, whether the call finished, panicked or was cut off.
struct InFlight<S>(Arc<Conn<S>>);

impl<S> Drop for InFlight<S> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_one();
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string panic")
}

async fn handle<S>(guard: InFlight<S>, mut cx: Context, req: ThriftRequest, reply: ReplyTo)
where
    S: Service<ThriftRequest, Response = ThriftResponse> + 'static,
{
    let conn = &guard.0;
    let oneway = req.oneway;
    let deadline = cx.deadline();
    let result = guarded(deadline, conn.service.call(&mut cx, req)).await;
    if oneway {
        if let Err(status) = result {
            tracing::debug!(%status, method = cx.method(), "oneway call failed");
        }
        return;
    }
    write_reply(conn, &cx, &reply, result).await;
}

async fn write_reply<S>(
    conn: &Conn<S>,
    cx: &Context,
    reply: &ReplyTo,
    result: Result<ThriftResponse, Status>,
) {
    let max_frame = conn.shared.config.max_frame_size;
    let draining = conn.draining.load(Ordering::Acquire);
    let written = conn
        .queue
        .push_wait(|buf, _| {
            let ok = match &result {
                Ok(resp) => {
                    debug_assert_eq!(resp.protocol, reply.protocol, "a reply in another protocol");
                    let info = |w: &mut HeaderWriter<'_>| {
                        w.strings(reply_strings(cx, None, None, draining));
                    };
                    write_frame(
                        buf,
                        reply.framing,
                        reply.protocol,
                        max_frame,
                        reply.seq_id,
                        &reply.name,
                        MessageType::Reply,
                        &info,
                        |b| b.extend_from_slice(&resp.body),
                    )
                }
                Err(status) => match BizStatus::of(status) {
                    Some(biz) => write_biz_status(buf, cx, reply, biz, max_frame, draining),
                    None => write_exception(buf, cx, reply, status, max_frame, draining),
                },
            };
            if let Err(e) = ok {
                // Only a reply over the frame limit fails to encode: say so instead.
                let status = Status::resource_exhausted(format!("reply not sent: {e}"));
                tracing::warn!(method = cx.method(), %status, "reply too large");
                let _ = write_exception(buf, cx, reply, &status, max_frame, draining);
            }
        })
        .await;
    if written.is_err() {
        tracing::debug!(
            method = cx.method(),
            "connection closed before the reply was sent"
        );
    }
}

fn write_exception(
    buf: &mut BytesMut,
    cx: &Context,
    reply: &ReplyTo,
    status: &Status,
    max_frame: usize,
    draining: bool,
) -> Result<(), FrameError> {
    let exception = ApplicationException::from_status(status);
    let info = |w: &mut HeaderWriter<'_>| {
        w.strings(reply_strings(cx, Some(status), None, draining));
    };
    write_frame(
        buf,
        reply.framing,
        reply.protocol,
        max_frame,
        reply.seq_id,
        &reply.name,
        MessageType::Exception,
        &info,
        |b| reply.protocol.encode(&exception, b),
    )
}

/// Writes a business status as Kitex does: a reply whose result struct is empty, with the
/// status in the header's string info (a Kitex client returns it as a `BizStatusError`).
fn write_biz_status(
    buf: &mut BytesMut,
    cx: &Context,
    reply: &ReplyTo,
    biz: &BizStatus,
    max_frame: usize,
    draining: bool,
) -> Result<(), FrameError> {
    let code = biz.code.to_string();
    let info = |w: &mut HeaderWriter<'_>| {
        w.strings(reply_strings(cx, None, Some((biz, &code)), draining));
    };
    write_frame(
        buf,
        reply.framing,
        reply.protocol,
        max_frame,
        reply.seq_id,
        &reply.name,
        MessageType::Reply,
        &info,
        // An empty struct: its stop field, the same byte in binary and compact.
        |b| bytes::BufMut::put_u8(b, 0),
    )
}

/// The string info of a reply: the handler's response metadata, the exact status code of an
/// error, a business status, and the drain notice.
fn reply_strings<'a>(
    cx: &'a Context,
    status: Option<&Status>,
    biz: Option<(&'a BizStatus, &'a str)>,
    draining: bool,
) -> impl Iterator<Item = (&'a str, &'a str)> {
    let code = status.map(|s| {
        (
            str_key::STATUS_CODE,
            CODE_STRINGS[s.code().as_i32() as usize],
        )
    });
    let reset = draining.then_some((str_key::CONNECTION_READY_TO_RESET, "1"));
    cx.response_metadata()
        .iter()
        .map(|(k, v)| (&**k, &**v))
        .chain(code)
        .chain(biz.into_iter().flat_map(|(biz, code)| biz.entries(code)))
        .chain(reset)
}
