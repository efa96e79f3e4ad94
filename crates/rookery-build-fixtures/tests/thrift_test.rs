//! Apache Thrift's `ThriftTest` service (its `test/ThriftTest.thrift`), generated, served by a
//! handler with the suite's semantics and called through the generated client over a real
//! server, every method, in both protocols. The cross-language suite runs the same service
//! against Python's `thrift` package.

use std::time::Duration;

use rookery::{
    Address, Client, Code, Context, Framing, Protocol, Router, Status,
    codegen::{Bytes, FastStr, HashMap, HashSet},
    transport::Server,
};
use rookery_build_fixtures::thrift_test::{
    Insanity, Numberz, SecondService, SecondServiceServer, TestExceptionError,
    TestMultiExceptionError, ThriftTest, ThriftTestClient, ThriftTestServer, UserId, Xception,
    Xception2, Xtruct, Xtruct2,
};
use tokio::sync::mpsc;

struct Handler {
    oneway: mpsc::UnboundedSender<i32>,
}

type Out<T> = Result<T, Status>;

impl ThriftTest for Handler {
    async fn test_void(&self, _: &mut Context) -> Out<()> {
        Ok(())
    }
    async fn test_string(&self, _: &mut Context, thing: FastStr) -> Out<FastStr> {
        Ok(thing)
    }
    async fn test_bool(&self, _: &mut Context, thing: bool) -> Out<bool> {
        Ok(thing)
    }
    async fn test_byte(&self, _: &mut Context, thing: i8) -> Out<i8> {
        Ok(thing)
    }
    async fn test_i32(&self, _: &mut Context, thing: i32) -> Out<i32> {
        Ok(thing)
    }
    async fn test_i64(&self, _: &mut Context, thing: i64) -> Out<i64> {
        Ok(thing)
    }
    async fn test_double(&self, _: &mut Context, thing: f64) -> Out<f64> {
        Ok(thing)
    }
    async fn test_binary(&self, _: &mut Context, thing: Bytes) -> Out<Bytes> {
        Ok(thing)
    }
    async fn test_struct(&self, _: &mut Context, thing: Xtruct) -> Out<Xtruct> {
        Ok(thing)
    }
    async fn test_nest(&self, _: &mut Context, thing: Xtruct2) -> Out<Xtruct2> {
        Ok(thing)
    }
    async fn test_map(&self, _: &mut Context, thing: HashMap<i32, i32>) -> Out<HashMap<i32, i32>> {
        Ok(thing)
    }
    async fn test_string_map(
        &self,
        _: &mut Context,
        thing: HashMap<FastStr, FastStr>,
    ) -> Out<HashMap<FastStr, FastStr>> {
        Ok(thing)
    }
    async fn test_set(&self, _: &mut Context, thing: HashSet<i32>) -> Out<HashSet<i32>> {
        Ok(thing)
    }
    async fn test_list(&self, _: &mut Context, thing: Vec<i32>) -> Out<Vec<i32>> {
        Ok(thing)
    }
    async fn test_enum(&self, _: &mut Context, thing: Numberz) -> Out<Numberz> {
        Ok(thing)
    }
    async fn test_typedef(&self, _: &mut Context, thing: UserId) -> Out<UserId> {
        Ok(thing)
    }
    async fn test_map_map(
        &self,
        _: &mut Context,
        hello: i32,
    ) -> Out<HashMap<i32, HashMap<i32, i32>>> {
        let pos = (1..=4).map(|i| (i, i)).collect();
        let neg = (1..=4).map(|i| (-i, -i)).collect();
        let _ = hello;
        Ok(HashMap::from_iter([(4, pos), (-4, neg)]))
    }
    async fn test_insanity(
        &self,
        _: &mut Context,
        argument: Insanity,
    ) -> Out<HashMap<UserId, HashMap<Numberz, Insanity>>> {
        let first =
            HashMap::from_iter([(Numberz::TWO, argument.clone()), (Numberz::THREE, argument)]);
        let second = HashMap::from_iter([(Numberz::SIX, Insanity::default())]);
        Ok(HashMap::from_iter([(1, first), (2, second)]))
    }
    async fn test_multi(
        &self,
        _: &mut Context,
        arg0: i8,
        arg1: i32,
        arg2: i64,
        _arg3: HashMap<i16, FastStr>,
        _arg4: Numberz,
        _arg5: UserId,
    ) -> Out<Xtruct> {
        Ok(Xtruct {
            string_thing: "Hello2".into(),
            byte_thing: arg0,
            i32_thing: arg1,
            i64_thing: arg2,
        })
    }
    async fn test_exception(
        &self,
        _: &mut Context,
        arg: FastStr,
    ) -> Result<(), TestExceptionError> {
        match &*arg {
            "Xception" => Err(Xception {
                error_code: 1001,
                message: arg,
            }
            .into()),
            "TException" => Err(Status::internal("This is a TException").into()),
            _ => Ok(()),
        }
    }
    async fn test_multi_exception(
        &self,
        _: &mut Context,
        arg0: FastStr,
        arg1: FastStr,
    ) -> Result<Xtruct, TestMultiExceptionError> {
        match &*arg0 {
            "Xception" => Err(TestMultiExceptionError::Err1(Xception {
                error_code: 1001,
                message: "This is an Xception".into(),
            })),
            "Xception2" => Err(TestMultiExceptionError::Err2(Xception2 {
                error_code: 2002,
                struct_thing: Xtruct {
                    string_thing: "This is an Xception2".into(),
                    ..Default::default()
                },
            })),
            _ => Ok(Xtruct {
                string_thing: arg1,
                ..Default::default()
            }),
        }
    }
    async fn test_oneway(&self, _: &mut Context, seconds_to_sleep: i32) -> Out<()> {
        let _ = self.oneway.send(seconds_to_sleep);
        Ok(())
    }
}

impl SecondService for Handler {
    async fn secondtest_string(&self, _: &mut Context, thing: FastStr) -> Out<FastStr> {
        Ok(format!("testString(\"{thing}\")").into())
    }
}

#[tokio::test]
async fn every_thrift_test_method() {
    let (tx, mut oneway) = mpsc::unbounded_channel();
    let router = Router::new()
        .add_service(ThriftTestServer::new(Handler { oneway: tx.clone() }))
        .add_service(SecondServiceServer::new(Handler { oneway: tx }));
    let addr: Address = "127.0.0.1:0".parse().unwrap();
    let server = Server::builder().build(router).bind(&addr).await.unwrap();

    for (protocol, framing) in [
        (Protocol::Binary, Framing::Buffered),
        (Protocol::Compact, Framing::Framed),
        (Protocol::Binary, Framing::TTHeader),
    ] {
        let client = Client::builder(server.local_addr().clone())
            .protocol(protocol)
            .framing(framing)
            .timeout(Duration::from_secs(10))
            .build();
        let c = ThriftTestClient::new(client);
        let cx = &mut Context::new();

        c.test_void(cx).await.unwrap();
        assert_eq!(c.test_string(cx, "Test").await.unwrap(), "Test");
        assert!(c.test_bool(cx, true).await.unwrap());
        assert!(!c.test_bool(cx, false).await.unwrap());
        assert_eq!(c.test_byte(cx, -1).await.unwrap(), -1);
        assert_eq!(c.test_i32(cx, i32::MIN).await.unwrap(), i32::MIN);
        assert_eq!(c.test_i64(cx, -34359738368).await.unwrap(), -34359738368);
        assert_eq!(c.test_double(cx, -5.2098523).await.unwrap(), -5.2098523);
        let bin = Bytes::from((0..=255u8).collect::<Vec<_>>());
        assert_eq!(c.test_binary(cx, bin.clone()).await.unwrap(), bin);
        let xtruct = Xtruct {
            string_thing: "Zero".into(),
            byte_thing: 1,
            i32_thing: -3,
            i64_thing: -5,
        };
        assert_eq!(c.test_struct(cx, xtruct.clone()).await.unwrap(), xtruct);
        let nest = Xtruct2 {
            byte_thing: 1,
            struct_thing: xtruct.clone(),
            i32_thing: 5,
        };
        assert_eq!(c.test_nest(cx, nest.clone()).await.unwrap(), nest);
        let map: HashMap<i32, i32> = (0..5).map(|i| (i, i - 10)).collect();
        assert_eq!(c.test_map(cx, map.clone()).await.unwrap(), map);
        let smap: HashMap<FastStr, FastStr> =
            HashMap::from_iter([("a".into(), "2".into()), ("b".into(), "blah".into())]);
        assert_eq!(c.test_string_map(cx, smap.clone()).await.unwrap(), smap);
        let set: HashSet<i32> = (-2..3).collect();
        assert_eq!(c.test_set(cx, set.clone()).await.unwrap(), set);
        let list: Vec<i32> = (-2..3).collect();
        assert_eq!(c.test_list(cx, list.clone()).await.unwrap(), list);
        assert_eq!(c.test_enum(cx, Numberz::FIVE).await.unwrap(), Numberz::FIVE);
        assert_eq!(c.test_enum(cx, Numberz(42)).await.unwrap(), Numberz(42));
        assert_eq!(
            c.test_typedef(cx, 309858235082523).await.unwrap(),
            309858235082523
        );
        let mm = c.test_map_map(cx, 1).await.unwrap();
        assert_eq!(mm[&4][&4], 4);
        assert_eq!(mm[&-4][&-4], -4);
        let insanity = Insanity {
            user_map: HashMap::from_iter([(Numberz::FIVE, 5), (Numberz::EIGHT, 8)]),
            xtructs: vec![xtruct.clone()],
        };
        let crazy = c.test_insanity(cx, insanity.clone()).await.unwrap();
        assert_eq!(crazy[&1][&Numberz::TWO], insanity);
        assert_eq!(crazy[&2][&Numberz::SIX], Insanity::default());
        let multi = c
            .test_multi(cx, 9, 10, 11, HashMap::default(), Numberz::ONE, 12)
            .await
            .unwrap();
        assert_eq!(
            (&*multi.string_thing, multi.byte_thing, multi.i64_thing),
            ("Hello2", 9, 11)
        );

        match c.test_exception(cx, "Xception").await {
            Err(TestExceptionError::Err1(x)) => {
                assert_eq!((x.error_code, &*x.message), (1001, "Xception"))
            }
            other => panic!("{other:?}"),
        }
        match c.test_exception(cx, "TException").await {
            Err(TestExceptionError::Status(s)) => assert_eq!(s.code(), Code::Internal, "{s}"),
            other => panic!("{other:?}"),
        }
        c.test_exception(cx, "success").await.unwrap();
        match c.test_multi_exception(cx, "Xception2", "x").await {
            Err(TestMultiExceptionError::Err2(x)) => assert_eq!(x.error_code, 2002),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            c.test_multi_exception(cx, "Xception", "x").await,
            Err(TestMultiExceptionError::Err1(_))
        ));
        let ok = c.test_multi_exception(cx, "no", "thing").await.unwrap();
        assert_eq!(ok.string_thing, "thing");

        c.test_oneway(cx, 1).await.unwrap();
        let slept = tokio::time::timeout(Duration::from_secs(10), oneway.recv())
            .await
            .unwrap();
        assert_eq!(slept, Some(1));
    }
    server.stop().await;
}
