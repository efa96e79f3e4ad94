//! Server reflection over loopback TCP, v1 and v1alpha, called by their generated clients
//! through rookery's `GrpcClient`: list_services, file_by_filename, file_containing_symbol
//! (a method, and a nested message whose file depends on others), extensions, and what is
//! not there. With `health` too, Python's grpcio asks a rookery server for its health and
//! its services (`python/grpc_interop_client.py --cases health_check,reflection_list`).

#![cfg(feature = "reflection")]

use rookery_testkit::within;
use std::{net::SocketAddr, time::Duration};

use bytes::Bytes;
use rookery_codec::protobuf::{DecodeLimits, Decoder, ProtoMessage};
use rookery_core::{Code, Context};
use rookery_grpc::{
    GrpcClient, Server,
    interop::{self, InteropService, proto::grpc::testing::TestServiceServer},
    reflection::{
        Reflection,
        proto::grpc::reflection::{v1, v1alpha},
    },
};
use tokio::net::TcpListener;

use v1::{
    server_reflection_request::MessageRequest as Q,
    server_reflection_response::MessageResponse as A,
};

const TEST_SERVICE: &str = "grpc.testing.TestService";
// ---------------------------------------------------------------------------------------------
// A file descriptor written by hand, for what the interop protos lack: a nested message, in a
// file that imports test.proto (which imports empty.proto and messages.proto).

fn varint(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out
}

fn field(number: u8, bytes: &[u8]) -> Vec<u8> {
    [&[number << 3 | 2][..], &varint(bytes.len()), bytes].concat()
}

fn varint_field(number: u8, value: u8) -> Vec<u8> {
    vec![number << 3, value]
}

/// A `FieldDescriptorProto`: optional, of `ty` (5 is int32, 11 a message named `type_name`).
fn field_descriptor(name: &[u8], number: u8, ty: u8, type_name: Option<&[u8]>) -> Vec<u8> {
    [
        field(1, name),
        varint_field(3, number),
        varint_field(4, 1),
        varint_field(5, ty),
        type_name.map(|t| field(6, t)).unwrap_or_default(),
    ]
    .concat()
}

/// `nested.proto` (proto2): `package fixture; import "test.proto"; message Outer { message
/// Inner { optional int32 n = 1; } optional Inner inner = 1; extensions 100; extend Outer {
/// optional int32 tag = 100; } }`.
fn nested_proto() -> Vec<u8> {
    let inner = [
        field(1, b"Inner"),
        field(2, &field_descriptor(b"n", 1, 5, None)),
    ]
    .concat();
    let extension = [
        field_descriptor(b"tag", 100, 5, None),
        field(2, b".fixture.Outer"),
    ]
    .concat();
    let outer = [
        field(1, b"Outer"),
        field(
            2,
            &field_descriptor(b"inner", 1, 11, Some(b".fixture.Outer.Inner")),
        ),
        field(3, &inner),
        field(5, &[varint_field(1, 100), varint_field(2, 101)].concat()),
        field(6, &extension),
    ]
    .concat();
    [
        field(1, b"nested.proto"),
        field(2, b"fixture"),
        field(3, b"test.proto"),
        field(4, &outer),
    ]
    .concat()
}

/// The `name` (field 1) of an encoded `FileDescriptorProto`.
fn file_name(encoded: &Bytes) -> String {
    let mut d = Decoder::new(encoded.clone(), DecodeLimits::default());
    while !d.is_done() {
        let key = d.read_key().unwrap();
        if key >> 3 == 1 {
            return d.read_string().unwrap().to_string();
        }
        d.skip(key).unwrap();
    }
    panic!("a file descriptor without a name")
}

// ---------------------------------------------------------------------------------------------
// The server, and the two clients asked the same things.

fn reflection() -> Reflection {
    Reflection::new()
        .register_file_descriptor_set(interop::proto::FILE_DESCRIPTOR_SET)
        .unwrap()
        .register_encoded_file_descriptor(nested_proto())
        .unwrap()
        .list_services([TEST_SERVICE])
}

async fn start() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .add_reflection(reflection())
        .add_service(
            TestServiceServer::<InteropService>::SERVICE,
            TestServiceServer::new(InteropService::new()),
        )
        .build();
    tokio::spawn(server.serve(listener));
    addr
}

#[derive(Clone, Copy, Debug)]
enum Version {
    V1,
    V1alpha,
}

/// The same encoding as another message type (v1alpha's messages are v1's on the wire).
fn recode<A: ProtoMessage, B: ProtoMessage>(message: &A) -> B {
    B::decode(message.encode_to_bytes()).unwrap()
}

/// Asks `questions` on one reflection stream and returns the answers.
async fn ask(
    addr: SocketAddr,
    version: Version,
    questions: Vec<Q>,
) -> Vec<v1::ServerReflectionResponse> {
    let channel = within(10, "connecting", GrpcClient::connect(addr))
        .await
        .unwrap();
    let requests: Vec<v1::ServerReflectionRequest> = questions
        .into_iter()
        .map(|q| v1::ServerReflectionRequest {
            host: "localhost".into(),
            message_request: Some(q),
        })
        .collect();
    let count = requests.len();
    let mut answers = Vec::new();
    match version {
        Version::V1 => {
            let client = v1::ServerReflectionClient::new(channel);
            let stream = futures_util::stream::iter(requests.into_iter().map(Ok));
            let mut responses = within(
                10,
                "ServerReflectionInfo",
                client.server_reflection_info(&mut Context::new(), stream),
            )
            .await
            .unwrap();
            while let Some(r) = within(10, "an answer", responses.message()).await.unwrap() {
                answers.push(r);
            }
        }
        Version::V1alpha => {
            let client = v1alpha::ServerReflectionClient::new(channel);
            let requests: Vec<v1alpha::ServerReflectionRequest> =
                requests.iter().map(recode).collect();
            let stream = futures_util::stream::iter(requests.into_iter().map(Ok));
            let mut responses = within(
                10,
                "ServerReflectionInfo",
                client.server_reflection_info(&mut Context::new(), stream),
            )
            .await
            .unwrap();
            while let Some(r) = within(10, "an answer", responses.message()).await.unwrap() {
                answers.push(recode(&r));
            }
        }
    }
    assert_eq!(answers.len(), count, "one answer per question");
    answers
}

async fn ask_one(addr: SocketAddr, version: Version, question: Q) -> A {
    let answer = ask(addr, version, vec![question.clone()]).await.remove(0);
    assert_eq!(answer.valid_host, "localhost");
    assert_eq!(
        answer.original_request.and_then(|r| r.message_request),
        Some(question),
        "the question comes back with its answer"
    );
    answer.message_response.expect("an answer")
}

fn files(answer: A) -> Vec<String> {
    match answer {
        A::FileDescriptorResponse(r) => r.file_descriptor_proto.iter().map(file_name).collect(),
        other => panic!("expected files, got {other:?}"),
    }
}

fn error_code(answer: A) -> i32 {
    match answer {
        A::ErrorResponse(e) => {
            assert!(!e.error_message.is_empty());
            e.error_code
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

const VERSIONS: [Version; 2] = [Version::V1, Version::V1alpha];

#[tokio::test]
async fn list_services_names_the_services_served_and_reflection() {
    let addr = start().await;
    for version in VERSIONS {
        let answer = ask_one(addr, version, Q::ListServices(String::new().into())).await;
        let A::ListServicesResponse(list) = answer else {
            panic!("{version:?}: {answer:?}");
        };
        let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                TEST_SERVICE,
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection"
            ],
            "{version:?}"
        );
    }
}

#[tokio::test]
async fn file_containing_symbol_answers_the_file_and_its_dependencies() {
    let addr = start().await;
    for version in VERSIONS {
        for symbol in [
            "grpc.testing.TestService",
            "grpc.testing.TestService.UnaryCall",
            ".grpc.testing.TestService.FullDuplexCall",
        ] {
            let answer = ask_one(addr, version, Q::FileContainingSymbol(symbol.into())).await;
            assert_eq!(
                files(answer),
                ["test.proto", "empty.proto", "messages.proto"],
                "{version:?} {symbol}"
            );
        }
        let answer = ask_one(
            addr,
            version,
            Q::FileContainingSymbol("grpc.testing.SimpleRequest".into()),
        )
        .await;
        assert_eq!(files(answer), ["messages.proto"], "{version:?}");

        // A nested message, a field of it, and its parent: the file, then what it imports,
        // transitively.
        for symbol in [
            "fixture.Outer.Inner",
            "fixture.Outer.Inner.n",
            "fixture.Outer",
        ] {
            let answer = ask_one(addr, version, Q::FileContainingSymbol(symbol.into())).await;
            assert_eq!(
                files(answer),
                [
                    "nested.proto",
                    "test.proto",
                    "empty.proto",
                    "messages.proto"
                ],
                "{version:?} {symbol}"
            );
        }
        // Reflection's own.
        let answer = ask_one(
            addr,
            version,
            Q::FileContainingSymbol("grpc.reflection.v1alpha.ServerReflection".into()),
        )
        .await;
        assert_eq!(
            files(answer),
            ["grpc/reflection/v1alpha/reflection.proto"],
            "{version:?}"
        );
    }
}

#[tokio::test]
async fn file_by_filename_answers_the_file_and_its_dependencies() {
    let addr = start().await;
    for version in VERSIONS {
        let answer = ask_one(addr, version, Q::FileByFilename("test.proto".into())).await;
        assert_eq!(
            files(answer),
            ["test.proto", "empty.proto", "messages.proto"],
            "{version:?}"
        );
        let answer = ask_one(addr, version, Q::FileByFilename("empty.proto".into())).await;
        assert_eq!(files(answer), ["empty.proto"], "{version:?}");
    }
}

#[tokio::test]
async fn what_is_not_there_is_not_found_and_the_stream_carries_on() {
    let addr = start().await;
    for version in VERSIONS {
        let answers = ask(
            addr,
            version,
            vec![
                Q::FileContainingSymbol("grpc.testing.NoSuchThing".into()),
                Q::FileByFilename("nowhere.proto".into()),
                Q::FileContainingExtension(v1::ExtensionRequest {
                    containing_type: "grpc.testing.SimpleRequest".into(),
                    extension_number: 1000,
                }),
                Q::AllExtensionNumbersOfType("grpc.testing.NoSuchMessage".into()),
                // Still answered after the errors.
                Q::FileByFilename("empty.proto".into()),
            ],
        )
        .await;
        let mut answers = answers.into_iter().map(|a| a.message_response.unwrap());
        for _ in 0..4 {
            assert_eq!(
                error_code(answers.next().unwrap()),
                Code::NotFound as i32,
                "{version:?}"
            );
        }
        assert_eq!(files(answers.next().unwrap()), ["empty.proto"]);
    }
}

#[tokio::test]
async fn extensions_are_found_by_type_and_number() {
    let addr = start().await;
    for version in VERSIONS {
        let answer = ask_one(
            addr,
            version,
            Q::FileContainingExtension(v1::ExtensionRequest {
                containing_type: "fixture.Outer".into(),
                extension_number: 100,
            }),
        )
        .await;
        assert_eq!(files(answer)[0], "nested.proto", "{version:?}");

        let answer = ask_one(
            addr,
            version,
            Q::AllExtensionNumbersOfType("fixture.Outer".into()),
        )
        .await;
        let A::AllExtensionNumbersResponse(numbers) = answer else {
            panic!("{version:?}: {answer:?}");
        };
        assert_eq!(numbers.base_type_name, "fixture.Outer");
        assert_eq!(numbers.extension_number, [100]);

        // A message no extension extends: none.
        let answer = ask_one(
            addr,
            version,
            Q::AllExtensionNumbersOfType("grpc.testing.SimpleRequest".into()),
        )
        .await;
        let A::AllExtensionNumbersResponse(numbers) = answer else {
            panic!("{version:?}: {answer:?}");
        };
        assert!(numbers.extension_number.is_empty());
    }
}

#[tokio::test]
async fn a_request_that_asks_nothing_is_invalid() {
    let addr = start().await;
    let channel = GrpcClient::connect(addr).await.unwrap();
    let client = v1::ServerReflectionClient::new(channel);
    let stream = futures_util::stream::iter([Ok(v1::ServerReflectionRequest::default())]);
    let mut responses = client
        .server_reflection_info(&mut Context::new(), stream)
        .await
        .unwrap();
    let answer = within(10, "an answer", responses.message())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        error_code(answer.message_response.unwrap()),
        Code::InvalidArgument as i32
    );
}

// ---------------------------------------------------------------------------------------------
// Python's grpcio against a rookery server of TestService, health and reflection.

/// Whether python3 with grpcio, grpcio-tools, grpcio-health-checking and grpcio-reflection
/// is here: `false` with ROOKERY_SKIP_PYTHON=1, a failure naming what is missing otherwise.
fn python_ready() -> bool {
    if std::env::var("ROOKERY_SKIP_PYTHON").is_ok_and(|v| v == "1") {
        eprintln!("ROOKERY_SKIP_PYTHON=1: skipping a Python gRPC interoperability test");
        return false;
    }
    let probe = std::process::Command::new("python3")
        .args([
            "-c",
            "import grpc, grpc_tools, grpc_health.v1.health_pb2, grpc_reflection.v1alpha.reflection_pb2",
        ])
        .output();
    match probe {
        Ok(out) if out.status.success() => true,
        Ok(out) => panic!(
            "the Python packages grpcio, grpcio-tools, grpcio-health-checking and \
             grpcio-reflection are missing: run .ci/install, or set ROOKERY_SKIP_PYTHON=1 to \
             skip the Python gRPC interoperability tests\n({})",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!(
            "python3 is missing ({e}): install it (Debian: apt-get install python3), or set \
             ROOKERY_SKIP_PYTHON=1 to skip the Python gRPC interoperability tests"
        ),
    }
}

/// Runs `cmd` to its end (killed after 60 s), failing the test with its output unless it
/// succeeds; returns its stdout.
async fn run_python(mut cmd: tokio::process::Command, what: &str) -> String {
    cmd.env("PYTHONDONTWRITEBYTECODE", "1").kill_on_drop(true);
    let out = match tokio::time::timeout(Duration::from_secs(60), cmd.output()).await {
        Ok(out) => out.unwrap_or_else(|e| panic!("{what}: python3 could not run: {e}")),
        Err(_) => panic!("{what}: python3 did not finish within 60 s"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what}: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[cfg(feature = "health")]
#[tokio::test]
async fn grpcio_checks_health_lists_services_and_resolves_symbols_by_reflection() {
    use rookery_grpc::health::HealthReporter;

    if !python_ready() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let health = HealthReporter::new();
    health.add_service(TEST_SERVICE);
    let reflection = reflection()
        .register_file_descriptor_set(rookery_grpc::health::FILE_DESCRIPTOR_SET)
        .unwrap()
        .list_services([TEST_SERVICE, "grpc.health.v1.Health"]);
    let server = Server::builder()
        .add_health(&health)
        .add_reflection(reflection)
        .add_service(
            TestServiceServer::<InteropService>::SERVICE,
            TestServiceServer::new(InteropService::new()),
        )
        .build();
    let serving = health.clone();
    tokio::spawn(async move {
        server
            .serve_with_health(listener, &serving, std::future::pending())
            .await
    });

    // The interop client's own cases.
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let gen_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("rookery-grpc-standard-{}", std::process::id()));
    let mut client = tokio::process::Command::new("python3");
    client
        .arg(manifest.join("python/grpc_interop_client.py"))
        .arg("--gen-dir")
        .arg(&gen_dir)
        .arg("--proto-dir")
        .arg(manifest.join("proto/grpc/testing"))
        .args(["--port", &port.to_string()])
        .args(["--cases", "health_check,reflection_list"]);
    let out = run_python(client, "grpc_interop_client.py").await;
    let _ = std::fs::remove_dir_all(&gen_dir);
    assert!(out.contains("ok health_check"), "{out}");
    assert!(out.contains("ok reflection_list"), "{out}");

    // grpcio-reflection's descriptor database builds a descriptor pool from what rookery
    // answers: the files parse, and their imports are there.
    const RESOLVE: &str = r#"
import sys, grpc
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
channel = grpc.insecure_channel("127.0.0.1:" + sys.argv[1])
db = ProtoReflectionDescriptorDatabase(channel)
print("services", ",".join(sorted(db.get_services())))
pool = DescriptorPool(db)
method = pool.FindMethodByName("grpc.testing.TestService.UnaryCall")
print("method", method.input_type.full_name, method.output_type.full_name)
inner = pool.FindMessageTypeByName("fixture.Outer.Inner")
print("nested", inner.full_name, inner.file.name, ",".join(d.name for d in inner.file.dependencies))
health = pool.FindServiceByName("grpc.health.v1.Health")
print("health", ",".join(m.name for m in health.methods))
"#;
    let mut resolve = tokio::process::Command::new("python3");
    resolve.args(["-c", RESOLVE, &port.to_string()]);
    let out = run_python(resolve, "grpcio-reflection's descriptor database").await;
    for line in [
        "services grpc.health.v1.Health,grpc.reflection.v1.ServerReflection,grpc.reflection.v1alpha.ServerReflection,grpc.testing.TestService",
        "method grpc.testing.SimpleRequest grpc.testing.SimpleResponse",
        "nested fixture.Outer.Inner nested.proto test.proto",
        "health Check,List,Watch",
    ] {
        assert!(out.lines().any(|l| l == line), "{line:?} not in:\n{out}");
    }
}
