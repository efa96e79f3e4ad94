//! The rookery implementation of `ThriftTest` and `SecondService`, answering as Apache
//! Thrift's cross-language test servers do.

use std::sync::Arc;

use rookery::{
    Context, Router, Status,
    codegen::{Bytes, FastStr, HashMap, HashSet},
};
use tokio::sync::watch;

use crate::{
    checks::ONEWAY_COUNT,
    thrift_test::{
        Insanity, Numberz, SecondService, SecondServiceServer, TestExceptionError,
        TestMultiExceptionError, ThriftTest, ThriftTestServer, UserId, Xception, Xception2, Xtruct,
        Xtruct2,
    },
};

type Out<T> = Result<T, Status>;

/// Answers `ThriftTest` and `SecondService` calls as Apache's test servers do, and records
/// the oneway calls that arrive. Clones share the record.
///
/// Two differences from Apache's servers: `testString("oneway count")` answers how many
/// oneway calls arrived (the suite's clients use it to see that theirs did), and
/// `testOneway` returns at once instead of sleeping (a rookery server runs each call on its
/// own, so sleeping would only delay shutdown).
#[derive(Clone, Debug, Default)]
pub struct TestHandler {
    /// The arguments of the oneway calls, in arrival order.
    oneways: Arc<watch::Sender<Vec<i32>>>,
}

impl TestHandler {
    /// A handler that has seen no oneway call.
    pub fn new() -> Self {
        TestHandler::default()
    }

    /// The `secondsToSleep` of every `testOneway` call so far, in arrival order.
    pub fn oneways(&self) -> Vec<i32> {
        self.oneways.borrow().clone()
    }

    /// Waits until at least `n` oneway calls arrived, and returns their arguments.
    pub async fn wait_for_oneways(&self, n: usize) -> Vec<i32> {
        let mut rx = self.oneways.subscribe();
        let seen = rx.wait_for(|seen| seen.len() >= n).await;
        // The sender lives in `self`, so the channel cannot close while we wait.
        seen.map(|s| s.clone()).unwrap_or_default()
    }
}

/// A router with both services of `handler`: calls that name their service
/// (`ThriftTest:testVoid`) go to it, the others by method name.
pub fn router(handler: &TestHandler) -> Router {
    Router::new()
        .add_service(ThriftTestServer::new(handler.clone()))
        .add_service(SecondServiceServer::new(handler.clone()))
}

impl ThriftTest for TestHandler {
    async fn test_void(&self, _: &mut Context) -> Out<()> {
        Ok(())
    }

    async fn test_string(&self, _: &mut Context, thing: FastStr) -> Out<FastStr> {
        if thing == ONEWAY_COUNT {
            return Ok(self.oneways.borrow().len().to_string().into());
        }
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
        _hello: i32,
    ) -> Out<HashMap<i32, HashMap<i32, i32>>> {
        let positive = (1..=4).map(|i| (i, i)).collect();
        let negative = (1..=4).map(|i| (-i, -i)).collect();
        Ok(HashMap::from_iter([(4, positive), (-4, negative)]))
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
            "Xception" => Err(TestExceptionError::Err1(Xception {
                error_code: 1001,
                message: arg,
            })),
            // Apache's servers throw a plain TException, which reaches the client as a
            // TApplicationException: a status, here.
            "TException" => Err(TestExceptionError::Status(Status::internal(
                "This is a TException",
            ))),
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
                    ..Xtruct::default()
                },
            })),
            _ => Ok(Xtruct {
                string_thing: arg1,
                ..Xtruct::default()
            }),
        }
    }

    async fn test_oneway(&self, _: &mut Context, seconds_to_sleep: i32) -> Out<()> {
        self.oneways.send_modify(|seen| seen.push(seconds_to_sleep));
        Ok(())
    }
}

impl SecondService for TestHandler {
    async fn secondtest_string(&self, _: &mut Context, thing: FastStr) -> Out<FastStr> {
        Ok(format!("testString(\"{thing}\")").into())
    }
}
