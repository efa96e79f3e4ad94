//! Pub/sub, publish to delivery: what rookery's broker adds over the engine's own client.
//!
//! Each run publishes `--messages` messages of `--size` bytes to a fresh topic, through
//! `--window` publishers at once (each waits for its publish to be accepted before the
//! next, so at most `--window` publishes are outstanding), to one subscriber that reads them,
//! records their latency and acknowledges each (acks overlap: each runs on its own task).
//! The first 8 bytes of the payload are the publish time (ns since the run began, same
//! process), so latency is publish call → delivery to the reader. Throughput is messages
//! over the time from the first publish to the last acknowledgement confirmed.
//!
//! Rows, all in one process, against one nats-server (JetStream on, file storage) that the
//! benchmark starts itself (`rookery_testkit::NatsServer`):
//! - `rookery embedded`: `rookery_broker::embedded::Embedded` (in process, no network);
//! - `rookery nats`: `rookery_broker::nats::Nats` — a JetStream stream per topic (interest
//!   retention, file storage), publish awaiting JetStream's ack, an ephemeral pull consumer
//!   with explicit acks and at most `--in-flight` unsettled, acks confirmed by the server
//!   (`double_ack`);
//! - `async-nats JetStream`: async-nats 0.46 used directly, doing the same: the same stream
//!   config, publish with a `Nats-Msg-Id` header awaiting the ack, an ephemeral pull consumer
//!   (explicit acks, `max_ack_pending` = `--in-flight`) read through `Consumer::stream` in
//!   batches of `--in-flight`, `double_ack`;
//! - `async-nats core`: core NATS publish/subscribe, no storage, no acks: the ceiling;
//!
//! and against one redis-server it starts (`rookery_testkit::RedisServer`):
//! - `rookery redis`: `rookery_broker::redis::Redis` — a stream per topic, `XADD ... MAXLEN ~`,
//!   a consumer group per subscriber read with `XREADGROUP` (`COUNT` = the room under
//!   `--in-flight`), `XACK` each;
//! - `redis direct`: the `redis` crate used directly, doing the same: `XADD` with the same
//!   `MAXLEN ~` and the same two fields (`id`, `payload`) on one multiplexed connection, a
//!   consumer group read by `XREADGROUP ... COUNT <room> BLOCK` on a connection of its own,
//!   at most `--in-flight` entries unacknowledged, `XACK` each.
//!
//! Rows are interleaved round by round (after a warm-up round of a tenth of the messages);
//! each figure is the median over `--rounds` rounds. Prints a markdown table with ratios
//! against the engine's own client used directly (`async-nats JetStream` for the NATS and
//! embedded rows, `redis direct` for the Redis rows).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use async_nats::jetstream::{
    self,
    consumer::{AckPolicy, DeliverPolicy, pull},
    stream::{self, RetentionPolicy, StorageType},
};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use redis::{
    AsyncConnectionConfig,
    aio::MultiplexedConnection,
    streams::{StreamId, StreamReadReply},
};
use rookery_benchmarks::flags::Flags;
use rookery_broker::{
    Broker, Message, SubscribeOptions, embedded::Embedded, nats::Nats, redis::Redis,
};
use rookery_testkit::{NatsServer, RedisServer};
use tokio::{
    sync::{Semaphore, mpsc},
    task::JoinSet,
};

const USAGE: &str = "bench-broker [--messages N (20000)] [--size BYTES (256)] [--window N (64)] \
                     [--in-flight N (256)] [--rounds N (5)]";

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone, Copy)]
struct Params {
    messages: usize,
    size: usize,
    window: usize,
    in_flight: usize,
}

/// One run's figures.
struct Sample {
    per_sec: f64,
    p50_us: f64,
    p99_us: f64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Row {
    Embedded,
    RookeryNats,
    RawJetStream,
    RawCore,
    RookeryRedis,
    RawRedis,
}

impl Row {
    const ALL: [Row; 6] = [
        Row::Embedded,
        Row::RookeryNats,
        Row::RawJetStream,
        Row::RawCore,
        Row::RookeryRedis,
        Row::RawRedis,
    ];

    /// The row of the engine's own client that this row is compared with.
    fn baseline(self) -> Row {
        match self {
            Row::RookeryRedis | Row::RawRedis => Row::RawRedis,
            _ => Row::RawJetStream,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Row::Embedded => "rookery embedded",
            Row::RookeryNats => "rookery nats (JetStream)",
            Row::RawJetStream => "async-nats JetStream (direct)",
            Row::RawCore => "async-nats core pub/sub (ceiling, no acks)",
            Row::RookeryRedis => "rookery redis (Streams)",
            Row::RawRedis => "redis crate (direct)",
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Row::Embedded => "embedded",
            Row::RookeryNats => "rookery",
            Row::RawJetStream => "rawjs",
            Row::RawCore => "core",
            Row::RookeryRedis => "rookeryredis",
            Row::RawRedis => "rawredis",
        }
    }
}

/// Measures one run: the clock, the histogram, and the payload stamped with the publish time.
struct Clock {
    epoch: Instant,
    size: usize,
}

impl Clock {
    fn payload(&self) -> Bytes {
        let mut buf = BytesMut::zeroed(self.size.max(8));
        let now = self.epoch.elapsed().as_nanos() as u64;
        buf[..8].copy_from_slice(&now.to_le_bytes());
        buf.freeze()
    }

    /// ns from the publish stamped in `payload` until now.
    fn latency(&self, payload: &[u8]) -> Result<u64, Error> {
        let stamp: [u8; 8] = payload
            .get(..8)
            .and_then(|s| s.try_into().ok())
            .ok_or("payload shorter than its timestamp")?;
        let now = self.epoch.elapsed().as_nanos() as u64;
        Ok(now.saturating_sub(u64::from_le_bytes(stamp)).max(1))
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

fn sample(p: Params, elapsed: Duration, hist: &Histogram<u64>) -> Sample {
    Sample {
        per_sec: p.messages as f64 / elapsed.as_secs_f64(),
        p50_us: hist.value_at_quantile(0.50) as f64 / 1000.0,
        p99_us: hist.value_at_quantile(0.99) as f64 / 1000.0,
    }
}

/// Spreads `p.messages` over `p.window` publisher tasks; `publish(i)` publishes message `i`.
fn publishers<F, Fut>(p: Params, publish: F) -> JoinSet<Result<(), Error>>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), Error>> + Send,
{
    let mut set = JoinSet::new();
    let window = p.window.clamp(1, p.messages.max(1));
    for w in 0..window {
        let publish = publish.clone();
        let messages = p.messages;
        set.spawn(async move {
            let mut i = w;
            while i < messages {
                publish(i).await?;
                i += window;
            }
            Ok(())
        });
    }
    set
}

async fn join_all(mut set: JoinSet<Result<(), Error>>) -> Result<(), Error> {
    while let Some(r) = set.join_next().await {
        r??;
    }
    Ok(())
}

/// rookery's broker, through `dyn Broker` as a service holds it.
async fn run_rookery(broker: Arc<dyn Broker>, topic: &str, p: Params) -> Result<Sample, Error> {
    let mut sub = broker
        .subscribe(topic, SubscribeOptions::new().max_in_flight(p.in_flight))
        .await?;
    let clock = Arc::new(Clock {
        epoch: Instant::now(),
        size: p.size,
    });
    let start = Instant::now();
    let pubs = {
        let (broker, clock, topic) = (Arc::clone(&broker), Arc::clone(&clock), topic.to_owned());
        publishers(p, move |_| {
            let (broker, clock, topic) = (Arc::clone(&broker), Arc::clone(&clock), topic.clone());
            async move {
                broker
                    .publish(Message::new(topic, clock.payload()))
                    .await
                    .map_err(Error::from)
            }
        })
    };
    let mut hist = histogram();
    let mut acks = JoinSet::new();
    for _ in 0..p.messages {
        let delivery = sub.next().await.ok_or("subscription ended early")??;
        hist.record(clock.latency(&delivery.message().payload)?)?;
        acks.spawn(async move { delivery.ack().await.map_err(Error::from) });
    }
    join_all(acks).await?;
    let elapsed = start.elapsed();
    join_all(pubs).await?;
    sub.unsubscribe().await?;
    Ok(sample(p, elapsed, &hist))
}

/// async-nats JetStream used directly, configured as rookery's NATS backend configures it.
async fn run_raw_jetstream(
    client: async_nats::Client,
    topic: &str,
    p: Params,
) -> Result<Sample, Error> {
    let js = jetstream::new(client);
    let name = format!("RAW_{}", topic.replace('.', "_"));
    let stream = js
        .get_or_create_stream(stream::Config {
            name: name.clone(),
            subjects: vec![topic.to_owned()],
            retention: RetentionPolicy::Interest,
            storage: StorageType::File,
            ..Default::default()
        })
        .await?;
    let consumer = stream
        .create_consumer(pull::Config {
            ack_policy: AckPolicy::Explicit,
            deliver_policy: DeliverPolicy::New,
            filter_subject: topic.to_owned(),
            max_ack_pending: p.in_flight as i64,
            ..Default::default()
        })
        .await?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(p.in_flight)
        .messages()
        .await?;
    let clock = Arc::new(Clock {
        epoch: Instant::now(),
        size: p.size,
    });
    let start = Instant::now();
    let pubs = {
        let (js, clock, topic) = (js.clone(), Arc::clone(&clock), topic.to_owned());
        publishers(p, move |i| {
            let (js, clock, topic) = (js.clone(), Arc::clone(&clock), topic.clone());
            async move {
                // The same header rookery sends (its message id, for JetStream's dedup).
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Nats-Msg-Id", format!("{topic}-{i}").as_str());
                js.publish_with_headers(topic, headers, clock.payload())
                    .await?
                    .await?;
                Ok(())
            }
        })
    };
    let mut hist = histogram();
    let mut acks = JoinSet::new();
    for _ in 0..p.messages {
        let message = messages.next().await.ok_or("consumer ended early")??;
        hist.record(clock.latency(&message.payload)?)?;
        acks.spawn(async move { message.double_ack().await });
    }
    join_all(acks).await?;
    let elapsed = start.elapsed();
    join_all(pubs).await?;
    drop(messages);
    js.delete_stream(&name).await?;
    Ok(sample(p, elapsed, &hist))
}

/// Core NATS: publish and subscribe, nothing stored, nothing acknowledged.
async fn run_raw_core(client: async_nats::Client, topic: &str, p: Params) -> Result<Sample, Error> {
    let mut sub = client.subscribe(topic.to_owned()).await?;
    client.flush().await?;
    let clock = Arc::new(Clock {
        epoch: Instant::now(),
        size: p.size,
    });
    let start = Instant::now();
    let pubs = {
        let (client, clock, topic) = (client.clone(), Arc::clone(&clock), topic.to_owned());
        publishers(p, move |_| {
            let (client, clock, topic) = (client.clone(), Arc::clone(&clock), topic.clone());
            async move {
                client.publish(topic, clock.payload()).await?;
                Ok(())
            }
        })
    };
    let mut hist = histogram();
    for _ in 0..p.messages {
        let message = tokio::time::timeout(Duration::from_secs(30), sub.next())
            .await
            .map_err(|_| "core NATS: a message was lost (slow consumer?)")?
            .ok_or("subscription ended early")?;
        hist.record(clock.latency(&message.payload)?)?;
    }
    let elapsed = start.elapsed();
    join_all(pubs).await?;
    sub.unsubscribe().await?;
    Ok(sample(p, elapsed, &hist))
}

/// The `redis` crate used directly, doing what rookery's Redis backend does.
async fn run_raw_redis(client: redis::Client, topic: &str, p: Params) -> Result<Sample, Error> {
    let key = format!("rawredis:{topic}");
    let group = "bench";
    let config = AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(10)));
    let mut conn: MultiplexedConnection = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    // The blocking reads get a connection of their own, as in the backend.
    let mut reader = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&key)
        .arg(group)
        .arg("$")
        .arg("MKSTREAM")
        .query_async::<()>(&mut conn)
        .await?;
    let room = Arc::new(Semaphore::new(p.in_flight));
    let (tx, mut rx) = mpsc::unbounded_channel::<(StreamId, tokio::sync::OwnedSemaphorePermit)>();
    let read = {
        let (room, key) = (Arc::clone(&room), key.clone());
        let messages = p.messages;
        tokio::spawn(async move {
            let mut read = 0;
            while read < messages {
                // Wait for room for one, then read as many as there is room for.
                let mut permits = vec![Arc::clone(&room).acquire_owned().await?];
                while let Ok(permit) = Arc::clone(&room).try_acquire_owned() {
                    permits.push(permit);
                }
                let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
                    .arg("GROUP")
                    .arg(group)
                    .arg("bench-consumer")
                    .arg("COUNT")
                    .arg(permits.len())
                    .arg("BLOCK")
                    .arg(250)
                    .arg("STREAMS")
                    .arg(&key)
                    .arg(">")
                    .query_async(&mut reader)
                    .await?;
                for entry in reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids) {
                    let permit = permits.pop().ok_or("XREADGROUP read past its COUNT")?;
                    read += 1;
                    if tx.send((entry, permit)).is_err() {
                        return Ok(());
                    }
                }
            }
            Ok::<(), Error>(())
        })
    };
    let clock = Arc::new(Clock {
        epoch: Instant::now(),
        size: p.size,
    });
    let start = Instant::now();
    let pubs = {
        let (conn, clock, key) = (conn.clone(), Arc::clone(&clock), key.clone());
        publishers(p, move |i| {
            let (mut conn, clock, key) = (conn.clone(), Arc::clone(&clock), key.clone());
            async move {
                // The same fields rookery writes: its message id and the payload.
                let _: String = redis::cmd("XADD")
                    .arg(&key)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(rookery_broker::redis::DEFAULT_MAX_LEN)
                    .arg("*")
                    .arg("id")
                    .arg(format!("{key}-{i}"))
                    .arg("payload")
                    .arg(clock.payload().as_ref())
                    .query_async(&mut conn)
                    .await?;
                Ok(())
            }
        })
    };
    let mut hist = histogram();
    let mut acks = JoinSet::new();
    for _ in 0..p.messages {
        let (entry, permit) = rx.recv().await.ok_or("the reader ended early")?;
        let payload = match entry.map.get("payload") {
            Some(redis::Value::BulkString(b)) => b.as_slice(),
            _ => return Err("an entry without its payload".into()),
        };
        hist.record(clock.latency(payload)?)?;
        let (mut conn, key) = (conn.clone(), key.clone());
        acks.spawn(async move {
            let _: i64 = redis::cmd("XACK")
                .arg(&key)
                .arg(group)
                .arg(&entry.id)
                .query_async(&mut conn)
                .await?;
            drop(permit);
            Ok(())
        });
    }
    join_all(acks).await?;
    let elapsed = start.elapsed();
    join_all(pubs).await?;
    read.await??;
    let _: i64 = redis::cmd("DEL").arg(&key).query_async(&mut conn).await?;
    Ok(sample(p, elapsed, &hist))
}

struct Peers {
    embedded: Arc<dyn Broker>,
    nats: Arc<Nats>,
    client: async_nats::Client,
    redis: Arc<Redis>,
    redis_client: redis::Client,
}

async fn run(peers: &Peers, row: Row, round: usize, p: Params) -> Result<Sample, Error> {
    let topic = format!("bench.{}.r{round}", row.slug());
    match row {
        Row::Embedded => run_rookery(Arc::clone(&peers.embedded), &topic, p).await,
        Row::RookeryNats => {
            let broker: Arc<dyn Broker> = peers.nats.clone();
            let sample = run_rookery(broker, &topic, p).await?;
            // Leave the server as empty as the other rows do.
            jetstream::new(peers.nats.client().clone())
                .delete_stream(peers.nats.stream_name(&topic))
                .await?;
            Ok(sample)
        }
        Row::RawJetStream => run_raw_jetstream(peers.client.clone(), &topic, p).await,
        Row::RawCore => run_raw_core(peers.client.clone(), &topic, p).await,
        Row::RookeryRedis => {
            let broker: Arc<dyn Broker> = peers.redis.clone();
            let sample = run_rookery(broker, &topic, p).await?;
            // Leave the server as empty as the other rows do.
            let mut conn = peers
                .redis
                .client()
                .get_multiplexed_async_connection()
                .await?;
            let _: i64 = redis::cmd("DEL")
                .arg(peers.redis.stream_key(&topic))
                .query_async(&mut conn)
                .await?;
            Ok(sample)
        }
        Row::RawRedis => run_raw_redis(peers.redis_client.clone(), &topic, p).await,
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} CPUs available")
}

fn exit(message: &str) -> ! {
    eprintln!("bench-broker: {message}\n{USAGE}");
    std::process::exit(2)
}

fn main() {
    let flags = Flags::from_env_or_exit(
        &["messages", "size", "window", "in-flight", "rounds"],
        USAGE,
    );
    let get = |name: &str, default: usize| -> usize {
        let v = flags.get_or(name, default).unwrap_or_else(|e| exit(&e));
        if v == 0 {
            exit(&format!("--{name} must be at least 1"));
        }
        v
    };
    let p = Params {
        messages: get("messages", 20_000),
        size: get("size", 256).max(8),
        window: get("window", 64),
        in_flight: get("in-flight", 256),
    };
    let rounds = get("rounds", 5);
    let server = NatsServer::start().unwrap_or_else(|e| exit(&format!("nats-server: {e}")));
    let redis_server = RedisServer::start().unwrap_or_else(|e| exit(&format!("redis-server: {e}")));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Err(e) = runtime.block_on(bench(&server, &redis_server, p, rounds)) {
        eprintln!("bench-broker: {e}");
        eprintln!("nats-server log:\n{}", server.log().join("\n"));
        std::process::exit(1);
    }
}

async fn bench(
    server: &NatsServer,
    redis_server: &RedisServer,
    p: Params,
    rounds: usize,
) -> Result<(), Error> {
    let peers = Peers {
        embedded: Arc::new(Embedded::new()),
        nats: Arc::new(Nats::connect(server.url()).await?),
        client: async_nats::connect(server.url()).await?,
        redis: Arc::new(Redis::connect(redis_server.url()).await?),
        redis_client: redis::Client::open(redis_server.url())?,
    };
    let version = |binary: &str| {
        std::process::Command::new(binary)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|_| binary.into())
    };
    println!(
        "machine: {}; {}, JetStream file storage; {}; {} messages of {} B, publish window {}, \
         {} in flight, median of {rounds} rounds (after a warm-up round)\n",
        machine(),
        version("nats-server"),
        version("redis-server"),
        p.messages,
        p.size,
        p.window,
        p.in_flight
    );

    let warm = Params {
        messages: (p.messages / 10).max(1),
        ..p
    };
    for row in Row::ALL {
        run(&peers, row, 0, warm).await?;
    }
    let mut samples: Vec<Vec<Sample>> = Row::ALL.iter().map(|_| Vec::new()).collect();
    for round in 1..=rounds {
        for (i, row) in Row::ALL.into_iter().enumerate() {
            let s = run(&peers, row, round, p).await?;
            eprintln!(
                "round {round} {}: {:.0} msg/s, p50 {:.0} µs, p99 {:.0} µs",
                row.label(),
                s.per_sec,
                s.p50_us,
                s.p99_us
            );
            samples[i].push(s);
        }
    }

    let figures: Vec<[f64; 3]> = samples
        .iter()
        .map(|s| {
            [
                median(s.iter().map(|s| s.per_sec).collect()),
                median(s.iter().map(|s| s.p50_us).collect()),
                median(s.iter().map(|s| s.p99_us).collect()),
            ]
        })
        .collect();
    let figures_of = |row: Row| {
        Row::ALL
            .iter()
            .position(|r| *r == row)
            .map(|i| figures[i])
            .expect("every row is measured")
    };
    println!(
        "| backend | msg/s | p50 latency (µs) | p99 latency (µs) | msg/s vs direct client \
         | p99 vs direct client |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (row, f) in Row::ALL.iter().zip(&figures) {
        let raw = figures_of(row.baseline());
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.2}× | {:.2}× |",
            row.label(),
            f[0],
            f[1],
            f[2],
            f[0] / raw[0],
            f[2] / raw[2]
        );
    }
    Ok(())
}
