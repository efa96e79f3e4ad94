//! `#[rookery::service]` end to end: services defined by a trait alone, served by a real
//! rookery server on 127.0.0.1:0 and called by their generated clients, in both codecs; a
//! router with two macro services and an IDL one; layers, the lifecycle, the balanced client;
//! and every way a body can be wrong.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use rookery::codegen::{
    Bytes, DecodeError, ProtocolRead, ProtocolWrite, TType, ThriftDecode, ThriftEncode,
};
use rookery::{
    BalancedClient, Client, Code, Context, Framing, Layer, NamedService, Protocol, Router, Service,
    Status,
    codec::thrift::Protocol as P,
    core::{BoxService, layer_fn, service_fn},
    registry::embedded::Embedded,
    rpc::{Codec, MethodError},
    transport::{Server, ServerHandle, ThriftRequest, ThriftResponse},
};
use rookery_examples::echo::{Echo, EchoClient, EchoServer, FailError, MsgArgs};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Shape {
    Circle { center: Point, radius: f64 },
    Polygon(Vec<Point>),
    Nothing,
}

/// A recursive type, for nesting limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Tree {
    Leaf,
    Node(Vec<Tree>),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum BankError {
    Insufficient { balance: u64 },
    NoAccount(String),
}

/// A service that exercises every shape of method.
#[rookery::service]
trait Kitchen {
    /// One argument, with the context.
    async fn hello(&self, cx: &mut Context, name: String) -> Result<String, Status>;
    /// Several arguments.
    async fn add(&self, a: i64, b: i64, scale: Option<u8>) -> Result<i64, Status>;
    /// No arguments.
    async fn count(&self) -> Result<u64, Status>;
    /// No value back.
    async fn reset(&self) -> Result<(), Status>;
    /// A declared error.
    async fn withdraw(&self, account: String, amount: u64) -> Result<u64, MethodError<BankError>>;
    /// A status, on request.
    async fn fail(&self, code: i32, message: String) -> Result<(), Status>;
    /// Structs, enums, vectors and maps from serde derive.
    async fn survey(
        &self,
        shapes: Vec<Shape>,
        named: HashMap<String, Point>,
        tags: BTreeMap<u32, Vec<String>>,
    ) -> Result<(f64, Vec<(String, Point)>, BTreeMap<u32, usize>), Status>;
    /// Fire and forget.
    #[oneway]
    async fn record(&self, cx: &mut Context, event: String);
    /// What the caller sent in its metadata.
    async fn whoami(&self, cx: &mut Context) -> Result<Option<String>, Status>;
    /// A method both test services have.
    async fn ping(&self) -> Result<String, Status>;
    /// How deep a tree is.
    async fn depth(&self, tree: Tree) -> Result<u32, Status>;
}

#[derive(Default)]
struct Cook {
    calls: AtomicU64,
    events: Mutex<Vec<String>>,
    accounts: Mutex<HashMap<String, u64>>,
}

impl Kitchen for Cook {
    async fn hello(&self, cx: &mut Context, name: String) -> Result<String, Status> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        cx.response_metadata_mut().insert("served-by", "cook");
        Ok(format!("hello, {name}"))
    }

    async fn add(&self, a: i64, b: i64, scale: Option<u8>) -> Result<i64, Status> {
        let sum = a
            .checked_add(b)
            .ok_or_else(|| Status::out_of_range("overflow"))?;
        Ok(sum * i64::from(scale.unwrap_or(1)))
    }

    async fn count(&self) -> Result<u64, Status> {
        Ok(self.calls.load(Ordering::Relaxed))
    }

    async fn reset(&self) -> Result<(), Status> {
        self.calls.store(0, Ordering::Relaxed);
        Ok(())
    }

    async fn withdraw(&self, account: String, amount: u64) -> Result<u64, MethodError<BankError>> {
        if account.is_empty() {
            return Err(Status::invalid_argument("no account named").into());
        }
        let mut accounts = self.accounts.lock().unwrap();
        let Some(balance) = accounts.get_mut(&account) else {
            return Err(MethodError::Declared(BankError::NoAccount(account)));
        };
        if *balance < amount {
            return Err(MethodError::Declared(BankError::Insufficient {
                balance: *balance,
            }));
        }
        *balance -= amount;
        Ok(*balance)
    }

    async fn fail(&self, code: i32, message: String) -> Result<(), Status> {
        Err(Status::new(Code::from_i32(code), message))
    }

    async fn survey(
        &self,
        shapes: Vec<Shape>,
        named: HashMap<String, Point>,
        tags: BTreeMap<u32, Vec<String>>,
    ) -> Result<(f64, Vec<(String, Point)>, BTreeMap<u32, usize>), Status> {
        let area = shapes
            .iter()
            .map(|s| match s {
                Shape::Circle { radius, .. } => 3.0 * radius * radius,
                Shape::Polygon(points) => points.len() as f64,
                Shape::Nothing => 0.0,
            })
            .sum();
        let mut named: Vec<_> = named.into_iter().collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let tags = tags.into_iter().map(|(k, v)| (k, v.len())).collect();
        Ok((area, named, tags))
    }

    async fn record(&self, cx: &mut Context, event: String) {
        let from = cx.metadata().get("from").unwrap_or("?").to_string();
        self.events.lock().unwrap().push(format!("{from}: {event}"));
    }

    async fn whoami(&self, cx: &mut Context) -> Result<Option<String>, Status> {
        Ok(cx.metadata().get("user").map(str::to_string))
    }

    async fn ping(&self) -> Result<String, Status> {
        Ok("kitchen".into())
    }

    async fn depth(&self, tree: Tree) -> Result<u32, Status> {
        fn depth(t: &Tree) -> u32 {
            match t {
                Tree::Leaf => 1,
                Tree::Node(children) => 1 + children.iter().map(depth).max().unwrap_or(0),
            }
        }
        Ok(depth(&tree))
    }
}

/// A second service for the router, under a name of its own; it shares `ping` with Kitchen.
#[rookery::service(name = "test.Counter")]
trait Counter {
    async fn bump(&self, by: u32) -> Result<u32, Status>;
    async fn ping(&self) -> Result<String, Status>;
}

#[derive(Default)]
struct Tally(AtomicUsize);

impl Counter for Tally {
    async fn bump(&self, by: u32) -> Result<u32, Status> {
        Ok((self.0.fetch_add(by as usize, Ordering::Relaxed) + by as usize) as u32)
    }

    async fn ping(&self) -> Result<String, Status> {
        Ok("counter".into())
    }
}

/// The IDL-generated service of the examples, beside the macro ones.
struct Echoer;

impl Echo for Echoer {
    async fn echo(
        &self,
        _cx: &mut Context,
        msg: rookery::codegen::FastStr,
    ) -> Result<rookery::codegen::FastStr, Status> {
        Ok(msg)
    }

    async fn fail(
        &self,
        _cx: &mut Context,
        _code: i32,
        message: rookery::codegen::FastStr,
    ) -> Result<rookery::codegen::FastStr, FailError> {
        Ok(message)
    }

    async fn notify(
        &self,
        _cx: &mut Context,
        _msg: rookery::codegen::FastStr,
    ) -> Result<(), Status> {
        Ok(())
    }
}

fn cook() -> Arc<Cook> {
    let cook = Cook::default();
    cook.accounts.lock().unwrap().insert("alice".into(), 100);
    Arc::new(cook)
}

async fn serve(router: Router) -> (ServerHandle, std::net::SocketAddr) {
    let handle = Server::builder()
        .build(router)
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = handle.local_socket_addr().unwrap();
    (handle, addr)
}

fn client(addr: std::net::SocketAddr) -> Client {
    Client::builder(addr.into())
        .timeout(Duration::from_secs(10))
        .build()
}

async fn wait_for(mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("waited 5 s in vain");
}

#[tokio::test]
async fn every_kind_of_method_round_trips_in_both_codecs() {
    let cook = cook();
    let (server, addr) =
        serve(Router::new().add_service(KitchenServer::from_arc(cook.clone()))).await;
    for codec in Codec::ALL {
        let kitchen = KitchenClient::new(client(addr)).with_codec(codec);
        let mut cx = Context::new();

        // One argument, and the context both ways.
        assert_eq!(
            kitchen.hello(&mut cx, "rook".into()).await.unwrap(),
            "hello, rook"
        );
        assert_eq!(cx.response_metadata().get("served-by"), Some("cook"));
        // The client named its service for the call only.
        assert!(!cx.metadata().contains_key("isn"), "{codec}");

        // Several arguments, one optional.
        assert_eq!(kitchen.add(&mut cx, 2, 3, None).await.unwrap(), 5);
        assert_eq!(kitchen.add(&mut cx, -2, 3, Some(4)).await.unwrap(), 4);
        let err = kitchen.add(&mut cx, i64::MAX, 1, None).await.unwrap_err();
        assert_eq!(err.code(), Code::OutOfRange);

        // No arguments; no value back.
        assert!(kitchen.count(&mut cx).await.unwrap() >= 1);
        kitchen.reset(&mut cx).await.unwrap();
        assert_eq!(kitchen.count(&mut cx).await.unwrap(), 0);

        // Structs, enums, vectors, maps.
        let shapes = vec![
            Shape::Circle {
                center: Point { x: 1, y: -1 },
                radius: 2.0,
            },
            Shape::Polygon(vec![
                Point { x: 0, y: 0 },
                Point { x: 1, y: 0 },
                Point { x: 0, y: 1 },
            ]),
            Shape::Nothing,
        ];
        let named = HashMap::from([
            ("b".to_string(), Point { x: 2, y: 2 }),
            ("a".to_string(), Point { x: 1, y: 1 }),
        ]);
        let tags = BTreeMap::from([(7, vec!["x".into(), "y".into()]), (1, vec![])]);
        let (area, sorted, counts) = kitchen.survey(&mut cx, shapes, named, tags).await.unwrap();
        assert_eq!(area, 15.0);
        assert_eq!(
            sorted,
            [
                ("a".to_string(), Point { x: 1, y: 1 }),
                ("b".to_string(), Point { x: 2, y: 2 })
            ]
        );
        assert_eq!(counts, BTreeMap::from([(1, 0), (7, 2)]));

        // Metadata reaches a handler that takes the context.
        let mut cx = Context::new();
        cx.metadata_mut().insert("user", "carol");
        assert_eq!(
            kitchen.whoami(&mut cx).await.unwrap().as_deref(),
            Some("carol")
        );
        assert_eq!(kitchen.whoami(&mut Context::new()).await.unwrap(), None);
    }
    server.stop().await;
}

#[tokio::test]
async fn a_declared_error_is_a_value_and_a_status_is_a_status() {
    let (server, addr) = serve(Router::new().add_service(KitchenServer::from_arc(cook()))).await;
    for codec in Codec::ALL {
        let kitchen = KitchenClient::new(client(addr)).with_codec(codec);
        let cx = &mut Context::new();
        let left = kitchen.withdraw(cx, "alice".into(), 10).await.unwrap();
        match kitchen.withdraw(cx, "alice".into(), 1000).await {
            Err(MethodError::Declared(BankError::Insufficient { balance })) => {
                assert_eq!(balance, left)
            }
            other => panic!("expected Insufficient, got {other:?}"),
        }
        match kitchen.withdraw(cx, "bob".into(), 1).await {
            Err(MethodError::Declared(BankError::NoAccount(name))) => assert_eq!(name, "bob"),
            other => panic!("expected NoAccount, got {other:?}"),
        }
        // A handler's status travels as a status, with its code, beside declared errors.
        let err = kitchen.withdraw(cx, String::new(), 1).await.unwrap_err();
        let status = err.status().expect("a status");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "no account named");

        let err = kitchen
            .fail(cx, Code::PermissionDenied.as_i32(), "not you".into())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        assert_eq!(err.message(), "not you");
    }
    server.stop().await;
}

#[tokio::test]
async fn oneway_calls_arrive_and_return_at_once() {
    let cook = cook();
    let (server, addr) =
        serve(Router::new().add_service(KitchenServer::from_arc(cook.clone()))).await;
    for (i, codec) in Codec::ALL.into_iter().enumerate() {
        let kitchen = KitchenClient::new(client(addr)).with_codec(codec);
        let mut cx = Context::new();
        cx.metadata_mut().insert("from", codec.name());
        kitchen.record(&mut cx, format!("event {i}")).await.unwrap();
        wait_for(|| cook.events.lock().unwrap().len() == i + 1).await;
    }
    assert_eq!(
        *cook.events.lock().unwrap(),
        ["json: event 0", "postcard: event 1"]
    );
    server.stop().await;
}

#[tokio::test]
async fn one_server_routes_to_two_macro_services_and_an_idl_one() {
    let tally = Arc::new(Tally::default());
    let router = Router::new()
        .add_service(KitchenServer::from_arc(cook()))
        .add_service(CounterServer::from_arc(tally.clone()))
        .add_service(EchoServer::new(Echoer));
    assert_eq!(
        router.service_names().collect::<Vec<_>>(),
        ["Kitchen", "test.Counter", "Echo"]
    );
    let (server, addr) = serve(router).await;
    let transport = client(addr);
    let kitchen = KitchenClient::new(transport.clone());
    let counter = CounterClient::new(transport.clone()).with_codec(Codec::Json);
    let echo = EchoClient::new(transport.clone());
    let cx = &mut Context::new();

    assert_eq!(kitchen.hello(cx, "a".into()).await.unwrap(), "hello, a");
    assert_eq!(counter.bump(cx, 2).await.unwrap(), 2);
    assert_eq!(counter.bump(cx, 3).await.unwrap(), 5);
    assert_eq!(&*echo.echo(cx, "idl").await.unwrap(), "idl");
    // Both macro services have `ping`: each call names its service and reaches it.
    assert_eq!(kitchen.ping(cx).await.unwrap(), "kitchen");
    assert_eq!(counter.ping(cx).await.unwrap(), "counter");
    // Without the name, the router goes by method alone: the first service with it.
    let unnamed = CounterClient::new(transport.clone()).with_service_name(None);
    assert_eq!(unnamed.ping(cx).await.unwrap(), "kitchen");
    assert_eq!(unnamed.bump(cx, 1).await.unwrap(), 6);

    // Over framed Thrift, which has no header, methods unique to a service still route.
    let framed = Client::builder(addr.into())
        .framing(Framing::Framed)
        .build();
    let counter = CounterClient::new(framed);
    assert_eq!(counter.bump(cx, 1).await.unwrap(), 7);
    assert_eq!(tally.0.load(Ordering::Relaxed), 7);
    server.stop().await;
}

#[tokio::test]
async fn both_thrift_protocols_and_every_framing_carry_calls() {
    let (server, addr) = serve(Router::new().add_service(KitchenServer::from_arc(cook()))).await;
    for protocol in [P::Binary, P::Compact] {
        for framing in [
            Framing::TTHeader,
            Framing::TTHeaderFramed,
            Framing::Framed,
            Framing::Buffered,
        ] {
            let transport = Client::builder(addr.into())
                .protocol(protocol)
                .framing(framing)
                .pooled(2)
                .build();
            let kitchen = KitchenClient::new(transport);
            let reply = kitchen.add(&mut Context::new(), 20, 22, None).await;
            assert_eq!(reply.unwrap(), 42, "{protocol:?} {framing:?}");
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn layers_wrap_macro_servers_and_clients() {
    // Server side: a layer that refuses calls without a token, and counts the rest.
    let seen = Arc::new(AtomicUsize::new(0));
    let server_seen = seen.clone();
    let guard = layer_fn(move |inner: KitchenServer<Cook>| {
        let seen = server_seen.clone();
        let inner = Arc::new(inner);
        service_fn(move |cx: &mut Context, req: ThriftRequest| {
            let authorised = cx.metadata().get("token") == Some("secret");
            let (inner, seen) = (inner.clone(), seen.clone());
            // The handler's future borrows the context, so the layer takes it over here.
            let mut owned = std::mem::take(cx);
            async move {
                if !authorised {
                    return Err(Status::unauthenticated("no token"));
                }
                seen.fetch_add(1, Ordering::Relaxed);
                rookery::core::Service::call(&*inner, &mut owned, req).await
            }
        })
    });
    let layered = guard.layer(KitchenServer::new(Cook::default()));
    let router = Router::new().add_service_named(
        <KitchenServer<Cook> as NamedService>::NAME,
        <KitchenServer<Cook> as NamedService>::METHODS,
        layered,
    );
    let (server, addr) = serve(router).await;

    // Client side: a layer that adds the token to every call.
    let add_token = layer_fn(|inner: Client| {
        service_fn(move |cx: &mut Context, req: ThriftRequest| {
            let inner = inner.clone();
            let mut owned = std::mem::take(cx);
            owned.metadata_mut().insert("token", "secret");
            async move { rookery::core::Service::call(&inner, &mut owned, req).await }
        })
    });
    let with_token = KitchenClient::with_service(add_token.layer(client(addr)), P::Binary);
    assert_eq!(
        with_token
            .add(&mut Context::new(), 1, 1, None)
            .await
            .unwrap(),
        2
    );
    let boxed: BoxService<ThriftRequest, ThriftResponse> = BoxService::new(client(addr));
    let without = KitchenClient::with_service(boxed, P::Binary);
    let err = without
        .add(&mut Context::new(), 1, 1, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(seen.load(Ordering::Relaxed), 1);
    server.stop().await;
}

#[tokio::test]
async fn the_lifecycle_serves_it_and_a_balanced_client_finds_it_by_name() {
    let registry = Arc::new(Embedded::new());
    let mut running = Vec::new();
    for _ in 0..2 {
        running.push(
            Service::builder("kitchen")
                .version("1.0.0")
                .registry(registry.clone())
                .serve(KitchenServer::from_arc(cook()))
                .serve(CounterServer::new(Tally::default()))
                .build()
                .unwrap()
                .start()
                .await
                .unwrap(),
        );
    }
    let balanced = BalancedClient::builder("kitchen")
        .discover(&*registry)
        .await
        .unwrap();
    assert_eq!(balanced.endpoints().len(), 2);
    let kitchen = KitchenClient::with_service(balanced.clone(), Protocol::Binary);
    let counter = CounterClient::with_service(balanced, Protocol::Binary).with_codec(Codec::Json);
    let mut addresses = std::collections::BTreeSet::new();
    for i in 0..20 {
        let mut cx = Context::new();
        assert_eq!(
            kitchen.hello(&mut cx, format!("{i}")).await.unwrap(),
            format!("hello, {i}")
        );
        addresses.insert(cx.callee().address.clone().unwrap());
        counter.bump(&mut Context::new(), 1).await.unwrap();
    }
    assert!(!addresses.is_empty());
    for r in running {
        r.stop().await.unwrap();
    }
}

/// `struct { 1: binary value }` in the binary protocol: the envelope of a serde value.
fn wrap(value: &[u8]) -> Bytes {
    struct Body<'a>(&'a [u8]);
    impl ThriftEncode for Body<'_> {
        fn encode<W: ProtocolWrite>(&self, w: &mut W) {
            w.write_struct_begin();
            w.write_field_begin(TType::Binary, 1);
            w.write_binary(self.0);
            w.write_field_stop();
            w.write_struct_end();
        }
    }
    P::Binary.encode_to_bytes(&Body(value))
}

/// Sends `body` as a call of `method` and returns the status it fails with.
async fn raw_call(client: &Client, method: &'static str, body: Bytes) -> Status {
    let req = ThriftRequest {
        method: method.into(),
        oneway: false,
        protocol: client.protocol(),
        body,
        limits: Default::default(),
    };
    let mut cx = Context::new();
    rookery::core::Service::call(client, &mut cx, req)
        .await
        .expect_err("the call fails")
}

#[tokio::test]
async fn bad_bodies_get_invalid_argument_saying_why() {
    let (server, addr) =
        serve(Router::new().add_service(KitchenServer::from_arc(cook()).max_depth(32))).await;
    let transport = client(addr);

    let err = raw_call(&transport, "hello", Bytes::new()).await;
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message()
            .starts_with("Kitchen.hello: the request body is empty"),
        "{err}"
    );

    let err = raw_call(
        &transport,
        "hello",
        Bytes::from_static(b"\x0b\x00\x01\xff\xff"),
    )
    .await;
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message()
            .contains("the request body is not a Thrift struct"),
        "{err}"
    );

    let err = raw_call(&transport, "hello", wrap(b"\x0b\x00\x01garbage")).await;
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message()
            .contains("starts with byte 0x0b, not a codec tag"),
        "{err}"
    );

    // A Thrift IDL client's arguments struct: `1: string msg`, the field a body has.
    let idl = ThriftRequest::new("hello", P::Binary, &MsgArgs { msg: "rook".into() });
    let err = rookery::core::Service::call(&transport, &mut Context::new(), idl)
        .await
        .unwrap_err();
    assert!(
        err.message().contains("byte 0x72, not a codec tag"),
        "{err}"
    );
    assert!(
        err.message().contains("does not speak #[rookery::service]"),
        "{err}"
    );

    // Truncated postcard: a string of 5 bytes with 2 present.
    let err = raw_call(&transport, "hello", wrap(b"P\x05ro")).await;
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("do not decode from postcard"),
        "{err}"
    );
    assert!(err.message().contains("end of buffer"), "{err}");

    // JSON with a field missing, or of the wrong type.
    let err = raw_call(&transport, "add", wrap(br#"J{"a":1,"scale":null}"#)).await;
    assert!(err.message().contains("missing field `b`"), "{err}");
    let err = raw_call(
        &transport,
        "add",
        wrap(br#"J{"a":1,"b":"two","scale":null}"#),
    )
    .await;
    assert!(
        err.message().contains("invalid type: string \"two\""),
        "{err}"
    );

    // A postcard enum variant that does not exist: serde's reason survives postcard.
    let err = raw_call(&transport, "depth", wrap(b"P\x09")).await;
    assert!(err.message().contains("variant index"), "{err}");

    // Hostile nesting stops at the server's limit, in both codecs.
    let mut json = br#"J{"tree":"#.to_vec();
    json.extend(std::iter::repeat_n(&b"{\"Node\":["[..], 10_000).flatten());
    let err = raw_call(&transport, "depth", wrap(&json)).await;
    assert!(err.message().contains("deeper than 32 levels"), "{err}");
    let mut postcard = b"P".to_vec();
    postcard.extend(std::iter::repeat_n([1u8, 1], 100_000).flatten());
    let err = raw_call(&transport, "depth", wrap(&postcard)).await;
    assert!(err.message().contains("deeper than 32 levels"), "{err}");
    // Within the limit, the same shape decodes.
    let mut postcard = b"P".to_vec();
    postcard.extend(std::iter::repeat_n([1u8, 1], 10).flatten());
    postcard.push(0);
    let depth = KitchenClient::new(transport.clone());
    let tree = (0..10).fold(Tree::Leaf, |t, _| Tree::Node(vec![t]));
    assert_eq!(depth.depth(&mut Context::new(), tree).await.unwrap(), 11);

    // Trailing bytes are refused: the value is the arguments and nothing else.
    let err = raw_call(&transport, "count", wrap(b"P\x00")).await;
    assert!(err.message().contains("1 bytes follow the value"), "{err}");

    // An unknown method.
    let err = raw_call(&transport, "nope", wrap(b"P")).await;
    assert_eq!(err.code(), Code::Unimplemented);
    assert_eq!(err.message(), "Kitchen has no method nope");

    // The server still serves.
    let kitchen = KitchenClient::new(transport);
    assert_eq!(kitchen.count(&mut Context::new()).await.unwrap(), 0);
    server.stop().await;
}

#[tokio::test]
async fn a_codec_the_server_does_not_accept_is_refused_by_name() {
    let (server, addr) =
        serve(Router::new().add_service(KitchenServer::from_arc(cook()).codecs(Codec::Json))).await;
    let postcard = KitchenClient::new(client(addr));
    let err = postcard.count(&mut Context::new()).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.message(),
        "Kitchen.count: the request is in postcard, and this server accepts json only"
    );
    let json = KitchenClient::new(client(addr)).with_codec(Codec::Json);
    assert_eq!(json.count(&mut Context::new()).await.unwrap(), 0);
    server.stop().await;
}

/// A scripted transport: records the request and answers with `reply`.
fn scripted(
    reply: Bytes,
    seen: Arc<Mutex<Vec<ThriftRequest>>>,
) -> BoxService<ThriftRequest, ThriftResponse> {
    BoxService::new(service_fn(move |_cx: &mut Context, req: ThriftRequest| {
        let protocol = req.protocol;
        seen.lock().unwrap().push(req);
        let body = reply.clone();
        async move {
            let mut resp = ThriftResponse::empty(protocol);
            resp.body = body;
            Ok::<_, Status>(resp)
        }
    }))
}

/// The serde value in a request body.
fn unwrap_body(body: &Bytes) -> Bytes {
    struct Body(Bytes);
    impl ThriftDecode for Body {
        fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
            r.read_struct_begin()?;
            let (ty, id) = r.read_field_begin()?;
            assert_eq!((ty, id), (TType::Binary, 1));
            let value = r.read_binary()?;
            assert_eq!(r.read_field_begin()?.0, TType::Stop);
            r.read_struct_end();
            Ok(Body(value))
        }
    }
    P::Binary.decode::<Body>(body.clone()).unwrap().0
}

#[tokio::test]
async fn the_json_body_is_what_a_person_or_a_browser_would_write() {
    let seen = Arc::default();
    let kitchen = KitchenClient::with_service(
        scripted(wrap(br#"J{"Ok":"hello, browser"}"#), Arc::clone(&seen)),
        P::Binary,
    )
    .with_codec(Codec::Json);
    let reply = kitchen
        .hello(&mut Context::new(), "rook".into())
        .await
        .unwrap();
    assert_eq!(reply, "hello, browser");
    let req = seen.lock().unwrap().pop().unwrap();
    assert_eq!(&*req.method, "hello");
    assert_eq!(&unwrap_body(&req.body)[..], br#"J{"name":"rook"}"#);

    // A declared error, in serde's form of `Result`.
    let kitchen = KitchenClient::with_service(
        scripted(
            wrap(br#"J{"Err":{"Insufficient":{"balance":3}}}"#),
            Arc::clone(&seen),
        ),
        P::Binary,
    )
    .with_codec(Codec::Json);
    let err = kitchen
        .withdraw(&mut Context::new(), "a".into(), 9)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        MethodError::Declared(BankError::Insufficient { balance: 3 })
    ));
    let req = seen.lock().unwrap().pop().unwrap();
    assert_eq!(
        &unwrap_body(&req.body)[..],
        br#"J{"account":"a","amount":9}"#
    );
}

#[tokio::test]
async fn replies_that_do_not_fit_the_call_are_internal_errors() {
    let seen: Arc<Mutex<Vec<ThriftRequest>>> = Arc::default();
    let cases = [
        (Bytes::new(), "the reply is empty"),
        (
            wrap(br#"J{"Ok":1}"#),
            "the reply is in json, the call was in postcard",
        ),
        (
            Bytes::from_static(b"\x0c\x00"),
            "the reply body is not a Thrift struct",
        ),
        (wrap(b"\x0c\x00"), "starts with byte 0x0c, not a codec tag"),
        (wrap(b"P\x00\x05ro"), "does not decode from postcard"),
        (wrap(b"P\x02"), "does not decode from postcard"),
    ];
    for (reply, expected) in cases {
        let kitchen = KitchenClient::with_service(scripted(reply, seen.clone()), P::Binary);
        let err = kitchen
            .hello(&mut Context::new(), "x".into())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Internal, "{expected}");
        assert!(err.message().contains(expected), "{err} / {expected}");
        assert!(err.message().starts_with("Kitchen.hello: "), "{err}");
    }
}

#[test]
fn futures_and_handles_cross_threads() {
    fn is_send<T: Send>(_: &T) {}
    fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<KitchenServer<Cook>>();
    is_send_sync::<KitchenClient>();
    is_send_sync::<KitchenClient<BalancedClient>>();
    let kitchen = KitchenClient::new(Client::builder("127.0.0.1:1".parse().unwrap()).build());
    let mut cx = Context::new();
    is_send(&kitchen.hello(&mut cx, "x".into()));
    is_send(&kitchen.withdraw(&mut cx, "x".into(), 1));
    is_send(&kitchen.record(&mut cx, "x".into()));
    let server = KitchenServer::new(Cook::default());
    let req = ThriftRequest::new("count", P::Binary, &MsgArgs::default());
    is_send(&rookery::core::Service::call(&server, &mut cx, req));
}
