//! The standalone embedded registry, served in this process on a loopback port and reached
//! through `RemoteRegistry`: registration, watches, expiry, removal, errors and their codes,
//! garbage from the server, and a restart of the server on the same port and state file.

mod embedded_support;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use embedded_support::{
    TempDir, eventually, ids, init_tracing, inst, saved_entry, serve, sorted_ids, stop, within,
};
use rookery_codec::thrift::Protocol;
use rookery_core::{Context, Service, Status};
use rookery_registry::{
    Discover, Query, Registration, Registry, RegistryErrorKind,
    embedded::{
        Embedded, RemoteRegistry,
        wire::{self, Reply},
    },
};
use rookery_transport::{Client, NamedService, Router, Server, ThriftRequest, ThriftResponse};

fn port_of(handle: &rookery_transport::ServerHandle) -> u16 {
    handle.local_socket_addr().unwrap().port()
}

#[tokio::test]
async fn register_watch_expire_and_deregister_over_the_wire() {
    init_tracing();
    let (server, handle) = serve(Embedded::new(), "127.0.0.1:0").await;
    let addr = format!("127.0.0.1:{}", port_of(&handle));
    let remote = RemoteRegistry::connect(&addr).unwrap();
    let mut watch = remote.watch(&Query::service("s")).await.unwrap();
    assert!(watch.current().is_empty());

    let a = remote
        .register(&inst("s", "a", 1), Duration::from_secs(60))
        .await
        .unwrap();
    let set = within(30, "a seen", watch.changed()).await.unwrap();
    assert_eq!(ids(set.instances()), ["a"]);
    // b is registered for a second and never renewed.
    remote
        .register(&inst("s", "b", 2), Duration::from_secs(1))
        .await
        .unwrap();
    let set = within(30, "b seen", watch.changed()).await.unwrap();
    assert_eq!(ids(set.instances()), ["a", "b"]);
    let set = within(30, "b expires", watch.changed()).await.unwrap();
    assert_eq!(ids(set.instances()), ["a"]);

    remote.heartbeat(&a).await.unwrap();
    let mut newer = inst("s", "c", 3);
    newer.version = "2.1.0".parse().unwrap();
    let c = remote
        .register(&newer, Duration::from_secs(60))
        .await
        .unwrap();
    let found = remote
        .resolve(&Query::service("s").version(">=2").unwrap())
        .await
        .unwrap();
    assert_eq!(ids(&found), ["c"]);
    assert_eq!(found[0], newer, "every field travels");
    let set = within(30, "c seen", watch.changed()).await.unwrap();
    assert_eq!(ids(set.instances()), ["a", "c"]);

    remote.deregister(&a).await.unwrap();
    remote.deregister(&c).await.unwrap();
    eventually("both gone", || watch.current().is_empty()).await;
    let lost = remote.heartbeat(&a).await.unwrap_err();
    assert_eq!(lost.kind(), RegistryErrorKind::LeaseLost, "{lost}");
    // Deregistering what is gone is not an error.
    remote.deregister(&a).await.unwrap();
    assert_eq!(watch.errors(), 0);
    assert!(!watch.is_stale());
    stop(server, handle).await;
}

#[tokio::test]
async fn a_registration_heartbeats_over_the_wire_and_registers_again_when_forgotten() {
    init_tracing();
    let dir = TempDir::new("remote-reregister");
    let path = dir.join("state.json");
    let registry = Embedded::builder()
        .state_file(&path)
        .flush_interval(Duration::from_millis(20))
        .build();
    let (server, handle) = serve(registry.clone(), "127.0.0.1:0").await;
    let remote: Arc<dyn Registry> =
        Arc::new(RemoteRegistry::connect(&format!("127.0.0.1:{}", port_of(&handle))).unwrap());
    let mut watch = remote.watch(&Query::service("s")).await.unwrap();
    let registration = Registration::start(
        remote.clone(),
        inst("s", "kept", 1),
        Duration::from_millis(600),
    )
    .await
    .unwrap();
    within(30, "registered", watch.changed()).await.unwrap();
    // The lease token, as the registry saved it.
    let token = || saved_entry(&path, "kept").map(|(token, _)| token);
    eventually("registration saved", || token().is_some()).await;
    let first = token().unwrap();
    // The server forgets it (deregistered by someone else): the next heartbeat is told the
    // lease is lost (NOT_FOUND), and the registration registers again, under a new lease.
    registry
        .deregister_now(&rookery_registry::Lease {
            instance_id: "kept".into(),
            token: first,
            ttl: Duration::from_millis(600),
        })
        .unwrap();
    eventually("registered again", || token().is_some_and(|t| t != first)).await;
    registration.deregister().await.unwrap();
    eventually("deregistered", || watch.current().is_empty()).await;
    stop(server, handle).await;
}

#[tokio::test]
async fn failures_come_back_as_the_right_error_kinds() {
    init_tracing();
    let (server, handle) = serve(Embedded::new(), "127.0.0.1:0").await;
    let addr = format!("127.0.0.1:{}", port_of(&handle));
    let remote = RemoteRegistry::connect(&addr).unwrap();

    // Checked before sending.
    let mut no_address = inst("s", "a", 1);
    no_address.addresses.clear();
    let e = remote
        .register(&no_address, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), RegistryErrorKind::Invalid, "{e}");
    // A query the server cannot parse, and instances a client of another make could send:
    // INVALID_ARGUMENT with the reason, nothing registered.
    let client = Client::builder(addr.parse().unwrap()).build();
    let call = |method: &'static str, args: wire::RegisterArgs| {
        let client = client.clone();
        async move {
            let mut cx = Context::new();
            client
                .call::<_, Reply<wire::Lease>>(&mut cx, method, &args)
                .await
                .unwrap_err()
        }
    };
    let good = wire::Instance::from(&inst("s", "w", 1));
    let mut bad_version = good.clone();
    bad_version.version = "banana".into();
    let mut bad_weight = good.clone();
    bad_weight.weight = -3;
    let mut bad_address = good.clone();
    bad_address
        .addresses
        .insert("thrift".into(), "127.0.0.1:99999".into());
    for (instance, ttl_ms, why) in [
        (Some(bad_version), 1000, "version \"banana\""),
        (Some(bad_weight), 1000, "weight -3"),
        (Some(bad_address), 1000, "thrift address"),
        (Some(good.clone()), 0, "TTL of 0 ms"),
        (Some(good.clone()), -5, "TTL of -5 ms"),
        (
            Some(good.clone()),
            i64::MAX,
            "longer than the longest allowed",
        ),
        (None, 1000, "no instance"),
    ] {
        let status = call("register", wire::RegisterArgs { instance, ttl_ms }).await;
        assert_eq!(
            status.code(),
            rookery_core::Code::InvalidArgument,
            "{status}"
        );
        assert!(status.message().contains(why), "{status} should say {why}");
    }
    let mut cx = Context::new();
    let status = client
        .call::<_, Reply<wire::InstanceSet>>(
            &mut cx,
            "resolve",
            &wire::ResolveArgs {
                query: wire::Query {
                    version: Some("~> nonsense".into()),
                    ..wire::Query::default()
                },
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        rookery_core::Code::InvalidArgument,
        "{status}"
    );
    // Arguments that are not even Thrift.
    let mut cx = Context::new();
    let status = Service::call(
        &client,
        &mut cx,
        ThriftRequest {
            method: "register".into(),
            oneway: false,
            protocol: Protocol::Binary,
            body: bytes::Bytes::from_static(&[0x0c, 0x00, 0x01, 0xff, 0xff]),
            limits: Default::default(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        status.code(),
        rookery_core::Code::InvalidArgument,
        "{status}"
    );
    assert!(remote.resolve(&Query::all()).await.unwrap().is_empty());

    // An unknown lease: LEASE_LOST (NOT_FOUND on the wire).
    let e = remote
        .heartbeat(&rookery_registry::Lease {
            instance_id: "nobody".into(),
            token: 1,
            ttl: Duration::from_secs(1),
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), RegistryErrorKind::LeaseLost, "{e}");
    stop(server, handle).await;

    // Nobody listening: connecting succeeds (lazily); operations are unavailable.
    let e = remote
        .register(&inst("s", "a", 1), Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), RegistryErrorKind::Unavailable, "{e}");
    let e = remote.watch(&Query::all()).await.unwrap_err();
    assert_eq!(e.kind(), RegistryErrorKind::Unavailable, "{e}");
    // The URL form.
    let by_url = rookery_registry::from_url(&format!("registry://{addr}"))
        .await
        .unwrap();
    let e = by_url.resolve(&Query::all()).await.unwrap_err();
    assert!(e.is_unavailable(), "{e}");
    let Err(e) = rookery_registry::from_url("registry://not an address").await else {
        panic!("an address that does not parse is refused");
    };
    assert_eq!(e.kind(), RegistryErrorKind::Invalid, "{e}");
}

/// A registry server that answers every `resolve` and `watch` with the same, partly garbage,
/// set: what a watcher must survive from a buggy or hostile server.
#[derive(Clone)]
struct GarbageServer {
    set: wire::InstanceSet,
}

impl Service<ThriftRequest> for GarbageServer {
    type Response = ThriftResponse;

    async fn call(&self, _cx: &mut Context, req: ThriftRequest) -> Result<ThriftResponse, Status> {
        match &*req.method {
            "resolve" | "watch" => {
                if req.method == "watch" {
                    let args: wire::WatchArgs = req.decode()?;
                    if args.known_revision == self.set.revision {
                        // Long poll: nothing changes here.
                        tokio::time::sleep(Duration::from_millis(args.wait_ms as u64)).await;
                    }
                }
                Ok(ThriftResponse::new(req.protocol, &Reply(self.set.clone())))
            }
            other => Err(Status::unimplemented(other.to_string())),
        }
    }
}

impl NamedService for GarbageServer {
    const NAME: &'static str = "Registry";
    const METHODS: &'static [&'static str] = &["resolve", "watch"];
}

#[tokio::test]
async fn garbage_entries_from_the_server_are_skipped_and_counted() {
    init_tracing();
    let good = wire::Instance::from(&inst("s", "good", 1));
    let mut bad_version = wire::Instance::from(&inst("s", "bad-version", 2));
    bad_version.version = "1.x".into();
    let mut zero_weight = wire::Instance::from(&inst("s", "zero-weight", 3));
    zero_weight.weight = 0;
    let mut no_address = wire::Instance::from(&inst("s", "no-address", 4));
    no_address.addresses.clear();
    let mut unreachable = wire::Instance::from(&inst("s", "unreachable", 5));
    unreachable
        .addresses
        .insert("thrift".into(), "not-a-host-or-port".into());
    let set = wire::InstanceSet {
        instances: vec![
            good.clone(),
            bad_version,
            zero_weight,
            no_address,
            unreachable,
            good.clone(),
        ],
        revision: 42,
    };
    let handle = Server::builder()
        .drain_timeout(Duration::from_secs(1))
        .build(Router::new().add_service(GarbageServer { set }))
        .bind(&"127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let remote = RemoteRegistry::connect(&format!("127.0.0.1:{}", port_of(&handle))).unwrap();
    let watch = remote.watch(&Query::service("s")).await.unwrap();
    assert_eq!(ids(watch.current().instances()), ["good"]);
    // Bad version, zero weight, no address, a bad address, the second "good".
    assert_eq!(watch.skipped(), 5);
    assert_eq!(watch.errors(), 0);
    assert_eq!(
        ids(&remote.resolve(&Query::service("s")).await.unwrap()),
        ["good"]
    );
    drop(watch);
    handle.stop().await;
}

#[tokio::test]
async fn a_restarted_server_restores_its_state_and_watches_catch_up() {
    init_tracing();
    let dir = TempDir::new("remote-restart");
    let path = dir.join("state.json");
    let (server, handle) = serve(Embedded::with_state_file(&path), "127.0.0.1:0").await;
    let addr = format!("127.0.0.1:{}", port_of(&handle));
    let remote = Arc::new(
        RemoteRegistry::builder(&addr)
            .backoff(rookery_transport::client::Backoff {
                base: Duration::from_millis(20),
                max: Duration::from_millis(200),
            })
            .build()
            .unwrap(),
    );
    let watch = remote.watch(&Query::service("s")).await.unwrap();
    // One instance with a lease of its own, one kept by a Registration.
    let lease = remote
        .register(&inst("s", "leased", 1), Duration::from_secs(60))
        .await
        .unwrap();
    let registration =
        Registration::start(remote.clone(), inst("s", "kept", 2), Duration::from_secs(3))
            .await
            .unwrap();
    eventually("both seen", || watch.current().len() == 2).await;
    let before = watch.current();

    // Every set the watch shows from now on.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = {
        let mut watch = watch.clone();
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Ok(set) = watch.changed().await {
                let ids: Vec<String> = set.instances().iter().map(|i| i.id.clone()).collect();
                seen.lock().unwrap().push(ids);
            }
        })
    };

    stop(server, handle).await;
    // Down: the watch keeps its set, marks it stale, counts the failures.
    eventually("stale", || watch.is_stale() && watch.errors() >= 1).await;
    assert_eq!(watch.current(), before);
    let (token, _) = saved_entry(&path, "kept").unwrap();

    let (server, handle) = serve(Embedded::with_state_file(&path), &addr).await;
    eventually("fresh again", || !watch.is_stale()).await;
    assert_eq!(sorted_ids(watch.current().instances()), ["kept", "leased"]);
    // The old lease works on the new server: tokens were saved.
    remote.heartbeat(&lease).await.unwrap();
    // The registration heartbeats on under the same lease: its saved expiry moves on while
    // its token stays.
    let (_, restored_expiry) = saved_entry(&path, "kept").unwrap();
    eventually("a heartbeat after the restart", || {
        saved_entry(&path, "kept").is_some_and(|(t, at)| t == token && at > restored_expiry)
    })
    .await;
    // At no point did the watch lose an instance.
    for set in seen.lock().unwrap().iter() {
        assert_eq!(set, &["kept", "leased"], "the watch showed {set:?}");
    }
    assert_eq!(
        server.registry().len(),
        2,
        "nothing expired or was registered again"
    );

    registration.deregister().await.unwrap();
    remote.deregister(&lease).await.unwrap();
    eventually("all gone", || watch.current().is_empty()).await;
    recorder.abort();
    stop(server, handle).await;
}

#[tokio::test]
async fn a_long_poll_answers_on_a_change_after_its_wait_and_when_the_server_stops() {
    init_tracing();
    let registry = Embedded::new();
    let (server, handle) = serve(registry.clone(), "127.0.0.1:0").await;
    let client = Client::builder(format!("127.0.0.1:{}", port_of(&handle)).parse().unwrap())
        .timeout(Duration::from_secs(120))
        .build();
    let poll = |known: i64, wait_ms: i64| {
        let client = client.clone();
        async move {
            let args = wire::WatchArgs {
                query: wire::Query::from(&Query::service("s")),
                known_revision: known,
                wait_ms,
            };
            client
                .call::<_, Reply<wire::InstanceSet>>(&mut Context::new(), "watch", &args)
                .await
                .map(|Reply(set)| set)
        }
    };
    // Revision 0 knows nothing: the set comes at once, whatever the wait.
    let empty = within(30, "first poll", poll(0, 600_000)).await.unwrap();
    assert!(empty.instances.is_empty());
    assert_ne!(empty.revision, 0);
    // Knowing the current set, a poll waits for its wait and returns the same set.
    let same = within(30, "unchanged poll", poll(empty.revision, 50))
        .await
        .unwrap();
    assert_eq!(same, empty);
    // A change answers a waiting poll.
    let waiting = tokio::spawn(poll(empty.revision, 600_000));
    // Most likely waiting by now (if not, it sees the change at once: the same outcome).
    tokio::time::sleep(Duration::from_millis(50)).await;
    registry
        .register_now(&inst("s", "a", 1), Duration::from_secs(60))
        .unwrap();
    let changed = within(30, "poll woken by a change", waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.instances.len(), 1);
    assert_ne!(changed.revision, empty.revision);
    // A change elsewhere (another service) does not change this set's revision.
    registry
        .register_now(&inst("other", "x", 2), Duration::from_secs(60))
        .unwrap();
    let same = within(30, "unchanged poll", poll(changed.revision, 50))
        .await
        .unwrap();
    assert_eq!(same.revision, changed.revision);
    // Stopping the watches releases a waiting poll at once, with UNAVAILABLE.
    let waiting = tokio::spawn(poll(changed.revision, 600_000));
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.stop_watches();
    let status = within(30, "poll released by the stop", waiting)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(status.code(), rookery_core::Code::Unavailable, "{status}");
    stop(server, handle).await;
}
