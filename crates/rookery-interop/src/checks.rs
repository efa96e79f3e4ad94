//! Every method of `ThriftTest` (and `SecondService`) called through the generated clients,
//! with the values the Python client sends, and every answer checked.

use std::{
    fmt::{Debug, Display},
    time::{Duration, Instant},
};

use rookery::{
    Code, Context,
    codegen::{Bytes, FastStr, HashMap, HashSet, Service, ThriftRequest, ThriftResponse},
};

use crate::thrift_test::{
    Insanity, Numberz, SecondServiceClient, TestExceptionError, TestMultiExceptionError,
    ThriftTestClient, Xception, Xception2, Xtruct, Xtruct2,
};

/// The argument of `testString` that the suite's servers answer with how many oneway calls
/// they received, as a decimal number.
pub const ONEWAY_COUNT: &str = "oneway count";

/// How long a oneway call may take to show in the server's count: a guard against hangs.
const ONEWAY_PATIENCE: Duration = Duration::from_secs(30);

/// Calls every method of `ThriftTest` through `thrift_test`, and `secondtestString` through
/// `second` when given, with the values the Python client of the suite sends, checking every
/// answer against what Apache's test servers return.
///
/// The declared exceptions must arrive as the right error variant with the right fields;
/// `testException("TException")` as a status with code `INTERNAL` (a
/// `TApplicationException`); the oneway call must raise the server's oneway count (see
/// [`ONEWAY_COUNT`]) by one.
///
/// Returns one line per method that answered right (`ok testString`), or says which answer
/// was wrong and how.
pub async fn check_every_method<S, T>(
    thrift_test: &ThriftTestClient<S>,
    second: Option<&SecondServiceClient<T>>,
) -> Result<Vec<String>, String>
where
    S: Service<ThriftRequest, Response = ThriftResponse>,
    T: Service<ThriftRequest, Response = ThriftResponse>,
{
    let c = thrift_test;
    let mut log = Log::default();

    log.check("testVoid", c.test_void(&mut Context::new()).await, ())?;
    let long = "x".repeat(100_000);
    for s in [
        "",
        "hello",
        "unicode: h\u{e9}llo, \u{4e16}\u{754c}, \u{1f426}",
        &long,
    ] {
        let want = FastStr::new(s);
        log.check(
            "testString",
            c.test_string(&mut Context::new(), want.clone()).await,
            want,
        )?;
    }
    for b in [true, false] {
        log.check("testBool", c.test_bool(&mut Context::new(), b).await, b)?;
    }
    for b in [0, 1, -1, i8::MAX, i8::MIN] {
        log.check("testByte", c.test_byte(&mut Context::new(), b).await, b)?;
    }
    for i in [0, 1, -1, i32::MAX, i32::MIN] {
        log.check("testI32", c.test_i32(&mut Context::new(), i).await, i)?;
    }
    for i in [0, 1, -1, i64::MAX, i64::MIN, (1 << 40) + 7] {
        log.check("testI64", c.test_i64(&mut Context::new(), i).await, i)?;
    }
    for d in [0.0, -5.25, 1e300, -1e-300, 2.5] {
        log.check("testDouble", c.test_double(&mut Context::new(), d).await, d)?;
    }
    let blob = Bytes::from((0..=255u8).cycle().take(256 * 3).collect::<Vec<_>>());
    log.check(
        "testBinary",
        c.test_binary(&mut Context::new(), blob.clone()).await,
        blob,
    )?;
    log.check(
        "testBinary",
        c.test_binary(&mut Context::new(), Bytes::new()).await,
        Bytes::new(),
    )?;

    let x = Xtruct {
        string_thing: "Zero".into(),
        byte_thing: 1,
        i32_thing: -3,
        i64_thing: -5,
    };
    log.check(
        "testStruct",
        c.test_struct(&mut Context::new(), x.clone()).await,
        x.clone(),
    )?;
    let x2 = Xtruct2 {
        byte_thing: 1,
        struct_thing: x.clone(),
        i32_thing: 5,
    };
    log.check(
        "testNest",
        c.test_nest(&mut Context::new(), x2.clone()).await,
        x2,
    )?;
    let m: HashMap<i32, i32> = (0..5).map(|i| (i, i - 10)).collect();
    log.check(
        "testMap",
        c.test_map(&mut Context::new(), m.clone()).await,
        m,
    )?;
    log.check(
        "testMap",
        c.test_map(&mut Context::new(), HashMap::default()).await,
        HashMap::default(),
    )?;
    let sm: HashMap<FastStr, FastStr> = [
        ("a", "2"),
        ("b", "blah"),
        ("some", "thing"),
        ("", "empty key"),
        ("h\u{e9}llo", "w\u{f6}rld"),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), v.into()))
    .collect();
    log.check(
        "testStringMap",
        c.test_string_map(&mut Context::new(), sm.clone()).await,
        sm,
    )?;
    let set: HashSet<i32> = (-2..=3).collect();
    log.check(
        "testSet",
        c.test_set(&mut Context::new(), set.clone()).await,
        set,
    )?;
    let list = vec![-2, -1, 0, 1, 2, 3, 3];
    log.check(
        "testList",
        c.test_list(&mut Context::new(), list.clone()).await,
        list,
    )?;
    for e in [Numberz::ONE, Numberz::TWO, Numberz::FIVE, Numberz::EIGHT] {
        log.check("testEnum", c.test_enum(&mut Context::new(), e).await, e)?;
    }
    log.check(
        "testTypedef",
        c.test_typedef(&mut Context::new(), 309858235082523).await,
        309858235082523,
    )?;
    let map_map: HashMap<i32, HashMap<i32, i32>> = HashMap::from_iter([
        (-4, (1..=4).map(|i| (-i, -i)).collect()),
        (4, (1..=4).map(|i| (i, i)).collect()),
    ]);
    log.check(
        "testMapMap",
        c.test_map_map(&mut Context::new(), 1).await,
        map_map,
    )?;

    let insane = Insanity {
        user_map: HashMap::from_iter([(Numberz::FIVE, 5), (Numberz::EIGHT, 8)]),
        xtructs: vec![Xtruct {
            string_thing: "Goodbye4".into(),
            byte_thing: 4,
            i32_thing: 4,
            i64_thing: 4,
        }],
    };
    let want = HashMap::from_iter([
        (
            1,
            HashMap::from_iter([
                (Numberz::TWO, insane.clone()),
                (Numberz::THREE, insane.clone()),
            ]),
        ),
        (2, HashMap::from_iter([(Numberz::SIX, Insanity::default())])),
    ]);
    log.check(
        "testInsanity",
        c.test_insanity(&mut Context::new(), insane).await,
        want,
    )?;

    let arg3 = HashMap::from_iter([(1, "one".into()), (2, "two".into())]);
    log.check(
        "testMulti",
        c.test_multi(&mut Context::new(), 9, 5, 7, arg3, Numberz::FIVE, 12345)
            .await,
        Xtruct {
            string_thing: "Hello2".into(),
            byte_thing: 9,
            i32_thing: 5,
            i64_thing: 7,
        },
    )?;

    match c.test_exception(&mut Context::new(), "Xception").await {
        Err(TestExceptionError::Err1(e)) => log.same(
            "testException",
            e,
            Xception {
                error_code: 1001,
                message: "Xception".into(),
            },
        )?,
        other => return fail("testException(\"Xception\")", other, "Err1(Xception)"),
    }
    match c.test_exception(&mut Context::new(), "TException").await {
        Err(TestExceptionError::Status(s)) if s.code() == Code::Internal => {
            log.ok(format!("testException (TException: {s})"))
        }
        other => {
            return fail(
                "testException(\"TException\")",
                other,
                "a status with code INTERNAL",
            );
        }
    }
    log.check(
        "testException",
        c.test_exception(&mut Context::new(), "success").await,
        (),
    )?;

    match c
        .test_multi_exception(&mut Context::new(), "Xception", "ignored")
        .await
    {
        Err(TestMultiExceptionError::Err1(e)) => log.same(
            "testMultiException",
            e,
            Xception {
                error_code: 1001,
                message: "This is an Xception".into(),
            },
        )?,
        other => return fail("testMultiException(\"Xception\")", other, "Err1(Xception)"),
    }
    match c
        .test_multi_exception(&mut Context::new(), "Xception2", "ignored")
        .await
    {
        Err(TestMultiExceptionError::Err2(e)) => log.same(
            "testMultiException",
            e,
            Xception2 {
                error_code: 2002,
                struct_thing: Xtruct {
                    string_thing: "This is an Xception2".into(),
                    ..Xtruct::default()
                },
            },
        )?,
        other => {
            return fail(
                "testMultiException(\"Xception2\")",
                other,
                "Err2(Xception2)",
            );
        }
    }
    log.check(
        "testMultiException",
        c.test_multi_exception(&mut Context::new(), "success", "foobar")
            .await,
        Xtruct {
            string_thing: "foobar".into(),
            ..Xtruct::default()
        },
    )?;

    // Oneway: nothing comes back; the server's count goes up by one, and the connection
    // still works after it.
    let before = oneway_count(c).await?;
    if let Err(e) = c.test_oneway(&mut Context::new(), 1).await {
        return Err(format!("testOneway: {e}"));
    }
    let started = Instant::now();
    loop {
        let now = oneway_count(c).await?;
        if now == before + 1 {
            break;
        }
        if now > before + 1 || started.elapsed() > ONEWAY_PATIENCE {
            return Err(format!(
                "testOneway: the server's oneway count went from {before} to {now}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    log.ok("testOneway".into());
    log.check("testVoid", c.test_void(&mut Context::new()).await, ())?;

    if let Some(second) = second {
        log.check(
            "secondtestString",
            second.secondtest_string(&mut Context::new(), "two").await,
            FastStr::from_static_str("testString(\"two\")"),
        )?;
    }
    Ok(log.passed)
}

async fn oneway_count<S>(c: &ThriftTestClient<S>) -> Result<u64, String>
where
    S: Service<ThriftRequest, Response = ThriftResponse>,
{
    let answer = c
        .test_string(&mut Context::new(), ONEWAY_COUNT)
        .await
        .map_err(|e| format!("testString({ONEWAY_COUNT:?}): {e}"))?;
    answer
        .parse()
        .map_err(|_| format!("testString({ONEWAY_COUNT:?}) answered {answer:?}, not a count"))
}

#[derive(Default)]
struct Log {
    passed: Vec<String>,
}

impl Log {
    fn ok(&mut self, line: String) {
        self.passed.push(format!("ok {line}"));
    }

    fn check<T: PartialEq + Debug, E: Display>(
        &mut self,
        method: &str,
        got: Result<T, E>,
        want: T,
    ) -> Result<(), String> {
        match got {
            Ok(got) => self.same(method, got, want),
            Err(e) => Err(format!("{method}: failed: {e}, want {}", shown(&want))),
        }
    }

    fn same<T: PartialEq + Debug>(&mut self, method: &str, got: T, want: T) -> Result<(), String> {
        if got == want {
            self.ok(method.into());
            Ok(())
        } else {
            Err(format!(
                "{method}: got {}, want {}",
                shown(&got),
                shown(&want)
            ))
        }
    }
}

fn fail<T: Debug>(call: &str, got: T, want: &str) -> Result<Vec<String>, String> {
    Err(format!("{call}: got {}, want {want}", shown(&got)))
}

/// A value for a message, cut short if long (the 100 000-character string).
fn shown<T: Debug>(value: &T) -> String {
    let mut s = format!("{value:?}");
    if s.len() > 300 {
        let mut end = 300;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}
