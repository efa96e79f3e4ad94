//! The RedisServer harness against a real redis-server: it starts ready, answers commands,
//! and keeps its data across a stop and a crash.

use std::net::TcpStream;

use rookery_testkit::{RedisServer, Reply};

fn entry_count(redis: &RedisServer, key: &str) -> i64 {
    redis.xlen(key).expect("XLEN")
}

#[test]
fn starts_answers_and_restarts_with_its_data() {
    let Some(mut redis) = RedisServer::start_or_skip() else {
        return;
    };
    let endpoint = redis.endpoint();
    assert!(redis.is_running());
    assert_eq!(redis.url(), format!("redis://{endpoint}"));
    assert_eq!(
        redis.command(&["PING"]).unwrap(),
        Reply::Status("PONG".into())
    );
    for i in 0..3 {
        let id = redis
            .command(&["XADD", "orders", "*", "n", &i.to_string()])
            .unwrap();
        assert!(id.as_text().is_some_and(|id| id.contains('-')), "{id:?}");
    }
    assert_eq!(entry_count(&redis, "orders"), 3);
    let err = redis.command(&["XADD", "orders"]).unwrap();
    assert!(
        matches!(err, Reply::Error(ref e) if e.contains("wrong number")),
        "{err:?}"
    );
    let range = redis.command(&["XRANGE", "orders", "-", "+"]).unwrap();
    assert_eq!(range.items().len(), 3);
    assert_eq!(
        range.items()[2].items()[1].items()[1].as_text().as_deref(),
        Some("2"),
        "fields come back"
    );

    redis.stop().unwrap();
    assert!(!redis.is_running());
    assert!(
        TcpStream::connect(&endpoint).is_err(),
        "stopped server answered"
    );
    redis.restart().unwrap();
    assert_eq!(redis.endpoint(), endpoint);
    assert_eq!(entry_count(&redis, "orders"), 3, "kept across a stop");

    // A crash (SIGKILL) loses nothing the server acknowledged: every write is synced.
    redis.command(&["XADD", "orders", "*", "n", "3"]).unwrap();
    redis.kill().unwrap();
    redis.restart().unwrap();
    assert_eq!(entry_count(&redis, "orders"), 4, "kept across a crash");

    let dir = redis.data_dir();
    assert!(dir.exists());
    drop(redis);
    assert!(!dir.exists(), "data removed on drop");
}
