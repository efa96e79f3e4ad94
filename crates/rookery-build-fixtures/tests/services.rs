//! A generated server and client over a real rookery server: a service that extends a service
//! of another file (which extends a third), void and oneway methods, declared exceptions,
//! statuses, unknown methods, in both protocols and several framings.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use rookery::{
    Address, Client, Code, Context, Framing, NamedService, Protocol, Router, Status,
    codegen::{FastStr, HashMap, HashSet, Service, ThriftRequest},
    transport::Server,
};
use rookery_build_fixtures::fixtures::{
    services::{
        Account, Bank, BankClient, Branch, BranchClient, BranchServer, FreezeError, Frozen,
        GetError, Overdrawn, WithdrawError,
    },
    shared::{Base, Level, Point},
};
use tokio::sync::mpsc;

struct Handler {
    accounts: Mutex<HashMap<FastStr, i64>>,
    audits: mpsc::UnboundedSender<FastStr>,
}

impl Base for Handler {
    async fn name(&self, _cx: &mut Context) -> Result<FastStr, Status> {
        Ok("branch".into())
    }

    async fn ping(&self, _cx: &mut Context) -> Result<(), Status> {
        Ok(())
    }
}

impl Bank for Handler {
    async fn open(&self, _cx: &mut Context, owner: FastStr, deposit: i64) -> Result<(), Status> {
        if deposit < 0 {
            return Err(Status::invalid_argument("negative deposit"));
        }
        self.accounts.lock().unwrap().insert(owner, deposit);
        Ok(())
    }

    async fn get(&self, _cx: &mut Context, owner: FastStr) -> Result<Account, GetError> {
        if owner == "frozen" {
            return Err(Frozen {
                reason: "by order".into(),
            }
            .into());
        }
        let balance = *self
            .accounts
            .lock()
            .unwrap()
            .get(&owner)
            .ok_or_else(|| Status::not_found(format!("no account {owner}")))?;
        Ok(Account {
            owner,
            balance,
            history: Some(vec!["opened".into()]),
        })
    }

    async fn withdraw(
        &self,
        _cx: &mut Context,
        owner: FastStr,
        amount: i64,
    ) -> Result<i64, WithdrawError> {
        if owner == "frozen" {
            return Err(WithdrawError::Frozen(Frozen {
                reason: "frozen".into(),
            }));
        }
        let mut accounts = self.accounts.lock().unwrap();
        let balance = accounts
            .get_mut(&owner)
            .ok_or(Status::not_found("no account"))?;
        if *balance < amount {
            return Err(Overdrawn {
                balance: *balance,
                message: "not enough".into(),
            }
            .into());
        }
        *balance -= amount;
        Ok(*balance)
    }

    async fn freeze(&self, _cx: &mut Context, owner: FastStr) -> Result<(), FreezeError> {
        Err(Frozen {
            reason: format!("{owner} is already frozen").into(),
        }
        .into())
    }

    async fn audit(&self, _cx: &mut Context, note: FastStr) -> Result<(), Status> {
        let _ = self.audits.send(note);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn report(
        &self,
        _cx: &mut Context,
        owners: Vec<FastStr>,
        level: Level,
        at: Point,
        codes: HashSet<i32>,
        verbose: bool,
        factor: f64,
    ) -> Result<HashMap<FastStr, i64>, Status> {
        let mut out = HashMap::default();
        for owner in owners {
            out.insert(owner, i64::from(level.0) + i64::from(at.x));
        }
        out.insert("codes".into(), codes.len() as i64);
        out.insert("verbose".into(), i64::from(verbose));
        out.insert("factor".into(), factor as i64);
        Ok(out)
    }

    async fn echo(&self, cx: &mut Context, cx_: FastStr) -> Result<FastStr, Status> {
        let _ = cx.method();
        Ok(cx_)
    }
}

impl Branch for Handler {
    async fn staff(&self, _cx: &mut Context) -> Result<i32, Status> {
        Ok(12)
    }
}

async fn start() -> (
    rookery::transport::ServerHandle,
    mpsc::UnboundedReceiver<FastStr>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handler = Handler {
        accounts: Mutex::new(HashMap::default()),
        audits: tx,
    };
    let router = Router::new().add_service(BranchServer::new(handler));
    let addr: Address = "127.0.0.1:0".parse().unwrap();
    let handle = Server::builder().build(router).bind(&addr).await.unwrap();
    (handle, rx)
}

#[test]
fn the_server_names_every_method_of_the_chain() {
    type S = BranchServer<Handler>;
    assert_eq!(<S as NamedService>::NAME, "Branch");
    assert_eq!(
        <S as NamedService>::METHODS,
        &[
            "name", "ping", "open", "get", "withdraw", "freeze", "audit", "report", "echo", "staff"
        ]
    );
}

#[tokio::test]
async fn every_method_over_a_real_server() {
    let (server, mut audits) = start().await;
    for (protocol, framing) in [
        (Protocol::Binary, Framing::TTHeader),
        (Protocol::Compact, Framing::TTHeader),
        (Protocol::Binary, Framing::Framed),
        (Protocol::Compact, Framing::Buffered),
    ] {
        let client = Client::builder(server.local_addr().clone())
            .protocol(protocol)
            .framing(framing)
            .timeout(Duration::from_secs(10))
            .build();
        let branch = BranchClient::new(client);
        let cx = &mut Context::new();
        let who = format!("{protocol:?}-{framing:?}");

        // Inherited from the base service of another file.
        assert_eq!(branch.name(cx).await.unwrap(), "branch");
        branch.ping(cx).await.unwrap();
        // Void with arguments; a status travels back as a status.
        branch.open(cx, who.clone(), 100).await.unwrap();
        let err = branch.open(cx, "x", -1).await.unwrap_err();
        assert!(err.message().contains("negative deposit"), "{err}");
        // A declared exception, and a status through the same error type.
        let account = branch.get(cx, who.clone()).await.unwrap();
        assert_eq!(account.balance, 100);
        assert_eq!(account.history, Some(vec![FastStr::from("opened")]));
        match branch.get(cx, "frozen").await {
            Err(GetError::Frozen(f)) => assert_eq!(f.reason, "by order"),
            other => panic!("{other:?}"),
        }
        match branch.get(cx, "nobody").await {
            // The exact code travels in TTHeader; plain Thrift has only its exception kinds.
            Err(GetError::Status(s)) if framing.has_header() => {
                assert_eq!(s.code(), Code::NotFound, "{s}")
            }
            Err(GetError::Status(s)) => assert!(s.message().contains("no account"), "{s}"),
            other => panic!("{other:?}"),
        }
        // Two declared exceptions.
        assert_eq!(branch.withdraw(cx, who.clone(), 30).await.unwrap(), 70);
        match branch.withdraw(cx, who.clone(), 1000).await {
            Err(WithdrawError::Overdrawn(o)) => {
                assert_eq!(o.balance, 70);
                assert_eq!(o.to_string(), "Overdrawn: not enough");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            branch.withdraw(cx, "frozen", 1).await,
            Err(WithdrawError::Frozen(_))
        ));
        // Void that throws.
        match branch.freeze(cx, who.clone()).await {
            Err(FreezeError::Frozen(f)) => assert!(f.reason.contains("already frozen")),
            other => panic!("{other:?}"),
        }
        // Oneway: nothing comes back, the handler still runs.
        branch.audit(cx, who.clone()).await.unwrap();
        let note = tokio::time::timeout(Duration::from_secs(10), audits.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(note, who);
        // Many arguments, sets and maps.
        let report = branch
            .report(
                cx,
                vec!["a".into()],
                Level::HIGH,
                Point { x: 5, y: 0 },
                HashSet::from_iter([1, 2]),
                true,
                2.9,
            )
            .await
            .unwrap();
        assert_eq!(report["a"], 15);
        assert_eq!(report["codes"], 2);
        assert_eq!(report["factor"], 2);
        assert_eq!(branch.echo(cx, "back").await.unwrap(), "back");
        // The child's own method.
        assert_eq!(branch.staff(cx).await.unwrap(), 12);
    }
    server.stop().await;
}

#[tokio::test]
async fn a_parent_client_calls_the_child_server_and_unknown_methods_are_unimplemented() {
    let (server, _audits) = start().await;
    let client = Client::builder(server.local_addr().clone()).build();
    let bank = BankClient::new(client.clone());
    let cx = &mut Context::new();
    assert_eq!(bank.name(cx).await.unwrap(), "branch");

    let req = ThriftRequest::new(
        "nope",
        Protocol::Binary,
        &rookery_build_fixtures::all_types::Empty {},
    );
    let err = Service::call(&client, cx, req).await.unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented, "{err}");
    server.stop().await;
}

#[tokio::test]
async fn the_server_is_a_service_without_a_network() {
    let (tx, _rx) = mpsc::unbounded_channel();
    let server = BranchServer::from_arc(Arc::new(Handler {
        accounts: Mutex::new(HashMap::default()),
        audits: tx,
    }));
    // The typed client works over any Thrift service, here the server itself.
    let branch = BranchClient::with_service(server.clone(), Protocol::Compact);
    let cx = &mut Context::new();
    assert_eq!(branch.staff(cx).await.unwrap(), 12);
    let req = ThriftRequest::new(
        "staff",
        Protocol::Compact,
        &rookery_build_fixtures::all_types::Empty {},
    );
    let resp = server.call(cx, req).await.unwrap();
    assert!(!resp.body.is_empty());
}

/// Generated futures are `Send`, so handlers and clients run on a multi-threaded runtime.
#[allow(dead_code)]
fn futures_are_send() {
    fn send<T: Send>(_: T) {}
    let client: BranchClient =
        BranchClient::new(Client::builder("127.0.0.1:1".parse().unwrap()).build());
    let mut cx = Context::new();
    send(client.withdraw(&mut cx, "x", 1));
    let (tx, _rx) = mpsc::unbounded_channel();
    let server = BranchServer::new(Handler {
        accounts: Mutex::new(HashMap::default()),
        audits: tx,
    });
    let req = ThriftRequest::new(
        "staff",
        Protocol::Binary,
        &rookery_build_fixtures::all_types::Empty {},
    );
    send(server.call(&mut cx, req));
}
