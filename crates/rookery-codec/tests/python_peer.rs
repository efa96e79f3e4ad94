//! Cross-check with a real peer: Apache Thrift's Python library, with code generated at test
//! time from `tests/idl/alltypes.thrift` by the `thrift` compiler.
//!
//! For each protocol one Python process (`tests/python/alltypes_peer.py --batch`) answers a
//! batch of requests:
//!
//! - rookery encodes a value; Python decodes it, checks it against a JSON description of the
//!   same value, re-encodes it; rookery decodes Python's bytes and compares;
//! - Python builds a value from its JSON description alone and encodes it; rookery decodes
//!   bytes it did not write and compares;
//! - the same through message envelopes (call in, reply back) and application exceptions.
//!
//! Needs `thrift` (Debian: `apt-get install thrift-compiler`) and Python's `thrift` package
//! (`pip install thrift`). Without them the test fails and says what is missing, unless
//! `ROOKERY_SKIP_PYTHON=1` is set.
//!
//! Run it alone with `cargo test -p rookery-codec --test python_peer`.

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
};

use bytes::{Bytes, BytesMut};
use common::*;
use faststr::FastStr;
use proptest::{
    strategy::{Strategy, ValueTree},
    test_runner::TestRunner,
};
use rookery_codec::thrift::{
    ApplicationException, ApplicationExceptionKind, MessageHeader, MessageType, Protocol,
};
use serde_json::{Value, json};

const CRATE_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Where the generated Python code is, generated once per test run.
fn generated_python() -> Option<&'static Path> {
    static GEN: OnceLock<Option<PathBuf>> = OnceLock::new();
    GEN.get_or_init(|| {
        if std::env::var_os("ROOKERY_SKIP_PYTHON").is_some_and(|v| v == "1") {
            // Straight to stderr, past the test harness's capture, so that it is seen.
            let _ = writeln!(
                std::io::stderr(),
                "ROOKERY_SKIP_PYTHON=1: SKIPPED the cross-check with Python's thrift"
            );
            return None;
        }
        let hint = "(or set ROOKERY_SKIP_PYTHON=1 to skip this cross-check)";
        match Command::new("thrift").arg("--version").output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "`thrift --version` failed: {}; the Python cross-check needs the Thrift compiler \
                 (Debian package thrift-compiler: apt-get install -y thrift-compiler) {hint}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => panic!(
                "the Python cross-check needs the `thrift` compiler, which is missing ({e}): \
                 apt-get install -y thrift-compiler {hint}"
            ),
        }
        match Command::new("python3")
            .args(["-c", "import thrift"])
            .output()
        {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "`python3 -c 'import thrift'` failed: the Python cross-check needs Python's \
                 thrift package (pip install thrift) {hint}\n{}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => {
                panic!("the Python cross-check needs `python3`, which is missing ({e}) {hint}")
            }
        }

        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("python-peer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let idl = Path::new(CRATE_DIR).join("tests/idl/alltypes.thrift");
        let out = Command::new("thrift")
            .args(["--allow-neg-keys", "--gen", "py", "-out"])
            .arg(&dir)
            .arg(&idl)
            .output()
            .expect("running thrift");
        assert!(
            out.status.success(),
            "thrift --gen py {} failed:\n{}",
            idl.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Some(dir)
    })
    .as_deref()
}

/// Sends every request to one Python process and returns its replies, in order.
fn ask_python(gen_dir: &Path, protocol: Protocol, requests: &[Value]) -> Vec<Value> {
    let script = Path::new(CRATE_DIR).join("tests/python/alltypes_peer.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(protocol_name(protocol))
        .arg("--gen-dir")
        .arg(gen_dir)
        .arg("--batch")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting python3");
    let mut input = String::new();
    for req in requests {
        input.push_str(&req.to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    // Write from another thread so that a full stdout pipe cannot stall both sides.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("waiting for python3");
    writer.join().unwrap().expect("writing to python3");
    assert!(
        output.status.success(),
        "{} failed: {}\n{}",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let replies: Vec<Value> = BufReader::new(&output.stdout[..])
        .lines()
        .map(|line| serde_json::from_str(&line.unwrap()).expect("a JSON reply"))
        .collect();
    assert_eq!(replies.len(), requests.len(), "one reply per request");
    for (req, reply) in requests.iter().zip(&replies) {
        assert_eq!(
            reply["ok"],
            json!(true),
            "Python ({protocol:?}) refused {}:\n{}",
            req["op"],
            reply["error"].as_str().unwrap_or_default()
        );
    }
    replies
}

fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Binary => "binary",
        Protocol::Compact => "compact",
    }
}

fn to_hex_plain(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn reply_bytes(reply: &Value) -> Bytes {
    Bytes::from(hex(reply["hex"].as_str().expect("hex in the reply")))
}

// ---- JSON descriptions (the format is documented in alltypes_peer.py) ----

fn inner_json(v: &Inner) -> Value {
    json!({ "id": v.id, "name": &*v.name, "flag": v.flag })
}

fn choice_json(v: &Choice) -> Value {
    match v {
        Choice::Num(n) => json!({ "num": n }),
        Choice::Text(s) => json!({ "text": &**s }),
        Choice::Inner(i) => json!({ "inner": inner_json(i) }),
        Choice::Flag(b) => json!({ "flag": b }),
    }
}

fn all_types_json(v: &AllTypes) -> Value {
    assert!(v.a_uuid.is_none(), "the Python peer's IDL has no uuid");
    json!({
        "a_bool": v.a_bool,
        "a_byte": v.a_byte,
        "an_i16": v.an_i16,
        "an_i32": v.an_i32,
        "an_i64": v.an_i64,
        "a_double": to_hex_plain(&v.a_double.to_bits().to_be_bytes()),
        "a_string": &*v.a_string,
        "a_binary": to_hex_plain(&v.a_binary),
        "inner": inner_json(&v.inner),
        "choice": choice_json(&v.choice),
        "string_to_i64": v.string_to_i64.iter().map(|(k, v)| json!([&**k, v])).collect::<Vec<_>>(),
        "i32_set": v.i32_set.iter().collect::<Vec<_>>(),
        "string_lists": v.string_lists.iter()
            .map(|l| l.iter().map(|s| &**s).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
        "bools": v.bools,
        "inners": v.inners.iter().map(|(k, v)| json!([k, inner_json(v)])).collect::<Vec<_>>(),
        "color": v.color.0,
        "opt_i32": v.opt_i32,
        "opt_string": v.opt_string.as_deref(),
        "opt_list": v.opt_list,
        "opt_bool": v.opt_bool,
        "far_i64": v.far_i64,
        "far_string": &*v.far_string,
        "back_i32": v.back_i32,
        "neg_i16": v.neg_i16,
        "neg_bool": v.neg_bool,
        "max_id": v.max_id,
    })
}

// ---- the values exchanged ----

/// Hand-picked edge cases, then arbitrary values from a fixed seed; none has a uuid.
fn values() -> Vec<AllTypes> {
    let mut out = vec![
        AllTypes {
            a_uuid: None,
            ..sample_all_types()
        },
        AllTypes::default(),
        AllTypes {
            a_bool: true,
            a_byte: i8::MIN,
            an_i16: i16::MIN,
            an_i32: i32::MIN,
            an_i64: i64::MIN,
            a_double: f64::NEG_INFINITY,
            a_string: FastStr::from("\u{0}\u{7f}\u{80}\u{ffff}\u{10ffff}"),
            a_binary: Bytes::from((0..=255u8).collect::<Vec<_>>()),
            choice: Choice::Flag(false),
            bools: vec![false; 15],
            color: Color(i32::MAX),
            opt_list: Some(vec![]),
            opt_bool: Some(false),
            neg_i16: i16::MAX,
            max_id: i8::MIN,
            ..AllTypes::default()
        },
        AllTypes {
            a_double: -0.0,
            an_i64: i64::MAX,
            an_i32: i32::MAX,
            choice: Choice::Text(FastStr::from("")),
            string_lists: vec![vec![]; 20],
            i32_set: (-10..10).collect(),
            color: Color::GREEN,
            far_i64: i64::MIN,
            ..AllTypes::default()
        },
    ];
    let mut runner = TestRunner::deterministic();
    let strategy = all_types();
    for _ in 0..40 {
        let mut value = strategy.new_tree(&mut runner).unwrap().current();
        value.a_uuid = None;
        out.push(value);
    }
    out
}

/// Asserts that `got` is `want`, doubles compared by their bits.
#[track_caller]
fn assert_same(got: &AllTypes, want: &AllTypes, what: &str) {
    assert_eq!(
        got.a_double.to_bits(),
        want.a_double.to_bits(),
        "{what}: a_double"
    );
    assert_eq!(got, want, "{what}");
}

fn cross_check(protocol: Protocol) {
    let Some(gen_dir) = generated_python() else {
        return;
    };
    let values = values();
    let mut requests = Vec::new();
    // rookery writes, Python reads and checks, Python writes, rookery reads.
    for v in &values {
        requests.push(json!({
            "op": "decode",
            "hex": to_hex_plain(&encode(protocol, v)),
            "value": all_types_json(v),
        }));
    }
    // Python writes a value described to it; rookery reads bytes it did not write.
    for v in &values {
        requests.push(json!({ "op": "build", "value": all_types_json(v) }));
    }
    // Messages: a call from rookery, a reply from Python.
    let calls = [
        ("ping", 1),
        ("Service:method", -1),
        ("", i32::MAX),
        ("名前", i32::MIN),
    ];
    for (i, (name, seq_id)) in calls.iter().enumerate() {
        let mut buf = BytesMut::new();
        protocol.write_message_header(&mut buf, name, MessageType::Call, *seq_id);
        protocol.encode(&values[i], &mut buf);
        requests.push(json!({
            "op": "message",
            "hex": to_hex_plain(&buf),
            "value": all_types_json(&values[i]),
        }));
    }
    // Application exceptions, both ways.
    requests.push(json!({
        "op": "write_exception", "name": "ping", "seqid": 77, "type": 1,
        "message": "unknown method ping",
    }));
    let exc = ApplicationException::new(ApplicationExceptionKind::InternalError, "boom: ☠");
    let mut buf = BytesMut::new();
    protocol.write_message_header(&mut buf, "explode", MessageType::Exception, 78);
    protocol.encode(&exc, &mut buf);
    requests.push(json!({ "op": "read_exception", "hex": to_hex_plain(&buf) }));

    let replies = ask_python(gen_dir, protocol, &requests);
    let mut replies = replies.iter();

    for v in &values {
        let bytes = reply_bytes(replies.next().unwrap());
        let back: AllTypes = protocol
            .decode(bytes.clone())
            .unwrap_or_else(|e| panic!("{protocol:?}: Python's re-encoding does not decode: {e}"));
        assert_same(&back, v, "re-encoded by Python");
        assert_eq!(skip_struct(protocol, &bytes).unwrap(), bytes.len());
    }
    for v in &values {
        let bytes = reply_bytes(replies.next().unwrap());
        let built: AllTypes = protocol
            .decode(bytes.clone())
            .unwrap_or_else(|e| panic!("{protocol:?}: Python's encoding does not decode: {e}"));
        assert_same(&built, v, "built by Python");
        // Python writes fields in id order, rookery in declaration order: the bytes differ,
        // but in the binary protocol (no deltas) their sizes agree.
        if protocol == Protocol::Binary {
            assert_eq!(bytes.len(), protocol.encoded_len(v), "binary size");
        }
    }
    for (i, (name, seq_id)) in calls.iter().enumerate() {
        let reply = replies.next().unwrap();
        assert_eq!(reply["name"], json!(name));
        assert_eq!(reply["seqid"], json!(seq_id));
        assert_eq!(reply["type"], json!(MessageType::Call as u8));
        let mut bytes = reply_bytes(reply);
        assert_eq!(
            protocol.measure_message(&bytes, Default::default()),
            Ok(Some(bytes.len()))
        );
        let header = protocol.read_message_header(&mut bytes).unwrap();
        assert_eq!(
            header,
            MessageHeader {
                name: FastStr::from(*name),
                kind: MessageType::Reply,
                seq_id: *seq_id,
            }
        );
        assert_same(&protocol.decode(bytes).unwrap(), &values[i], "reply body");
    }
    let mut bytes = reply_bytes(replies.next().unwrap());
    let header = protocol.read_message_header(&mut bytes).unwrap();
    assert_eq!((header.kind, header.seq_id), (MessageType::Exception, 77));
    assert_eq!(
        protocol.decode::<ApplicationException>(bytes).unwrap(),
        ApplicationException::new(
            ApplicationExceptionKind::UnknownMethod,
            "unknown method ping"
        )
    );
    let reply = replies.next().unwrap();
    assert_eq!(
        (
            &reply["name"],
            &reply["seqid"],
            &reply["type"],
            &reply["message"]
        ),
        (&json!("explode"), &json!(78), &json!(6), &json!("boom: ☠"))
    );
    assert!(replies.next().is_none());
}

#[test]
fn binary_protocol_agrees_with_python_thrift() {
    cross_check(Protocol::Binary);
}

#[test]
fn compact_protocol_agrees_with_python_thrift() {
    cross_check(Protocol::Compact);
}
