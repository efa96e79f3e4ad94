//! The NATS harness against a real nats-server: it starts ready with JetStream on, and a
//! restart (or a crash and a start) keeps the streams on the same port. The test speaks
//! NATS's text protocol itself, so it trusts no client library.

use std::{
    io::{BufRead, BufReader, Write},
    net::TcpStream,
    thread,
    time::{Duration, Instant},
};

use rookery_testkit::NatsServer;

/// Sends `lines` over a new connection, then PING, and returns what came back up to the
/// line after the first that starts with `until` (a MSG's payload, or PONG's nothing).
fn converse(server: &NatsServer, lines: &[String], until: &str) -> String {
    let stream = TcpStream::connect(server.endpoint()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut info = String::new();
    reader.read_line(&mut info).unwrap();
    assert!(info.starts_with("INFO "), "greeting: {info:?}");
    let mut out = String::from("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
    for line in lines {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("PING\r\n");
    writer.write_all(out.as_bytes()).unwrap();
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "closed: {seen}");
        let done = line.starts_with(until);
        seen.push_str(&line);
        if done {
            if until != "PONG" {
                reader.read_line(&mut seen).unwrap();
            }
            return seen;
        }
    }
}

/// Waits until the stream holds `n` messages (JetStream stores a plain PUB after it acks
/// the PING, so the count is polled).
fn wait_for_messages(server: &NatsServer, stream: &str, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let held = server.stream_messages(stream).unwrap();
        if held == Some(n) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "stream {stream} holds {held:?}, not {n}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn starts_with_jetstream_and_restarts_with_its_store() {
    let Some(mut nats) = NatsServer::start_or_skip() else {
        return;
    };
    let endpoint = nats.endpoint();
    assert!(nats.is_running());
    assert_eq!(nats.url(), format!("nats://{endpoint}"));

    let config = r#"{"name":"T","subjects":["t.>"],"storage":"file"}"#;
    let reply = converse(
        &nats,
        &[
            "SUB _INBOX.harness 1".into(),
            format!(
                "PUB $JS.API.STREAM.CREATE.T _INBOX.harness {}",
                config.len()
            ),
            config.into(),
        ],
        "MSG _INBOX.harness",
    );
    assert!(
        reply.contains("MSG _INBOX.harness"),
        "no API reply: {reply}"
    );
    assert!(!reply.contains("\"error\""), "stream not created: {reply}");
    let mut pubs = Vec::new();
    for i in 0..3 {
        pubs.push(format!("PUB t.{i} 1"));
        pubs.push(i.to_string());
    }
    converse(&nats, &pubs, "PONG");
    wait_for_messages(&nats, "T", 3);
    assert_eq!(nats.stream_names().unwrap(), ["T"]);

    nats.stop().unwrap();
    assert!(!nats.is_running());
    assert!(
        TcpStream::connect(&endpoint).is_err(),
        "stopped server answered"
    );
    nats.restart().unwrap();
    assert_eq!(nats.endpoint(), endpoint);
    wait_for_messages(&nats, "T", 3);

    // A crash (SIGKILL) loses nothing JetStream stored either.
    nats.kill().unwrap();
    nats.restart().unwrap();
    wait_for_messages(&nats, "T", 3);
    assert_eq!(nats.stream_messages("none").unwrap(), None);

    let store = nats.store_dir();
    assert!(store.exists());
    drop(nats);
    assert!(!store.exists(), "store removed on drop");
}
