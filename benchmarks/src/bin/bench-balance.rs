//! The cost of discovery and balancing per call, from the cached set: what a
//! `BalancedClient` pays before the transport, for each balancer over 3, 10 and 100
//! endpoints.
//!
//! - `pick`: the picker alone (`Selector::select`), no key except for consistent hashing;
//! - `per call`: what a call pays around the transport (`BalancedClient::start`, then
//!   `InFlight::answered`): load the current set (arc-swap), pick, count the call in flight
//!   (on the endpoint and its client), and record its latency when it ends (one peak-EWMA
//!   update); the clock is read twice, at the pick (reused as the start) and at the end;
//! - and, apart, the atomic swap of the set against an `RwLock<Arc<_>>`, on one thread and
//!   on two threads at once.
//!
//! Each figure is the median of `--runs` runs of `--iters` iterations, in ns per iteration.
//! Prints a markdown table.

use std::{
    hint::black_box,
    sync::{Arc, Barrier, RwLock},
    time::{Duration, Instant},
};

use arc_swap::ArcSwap;
use rookery_balance::{Balance, BalanceKey, BalancedClient, ConsistentHash, EndpointSet, Selector};
use rookery_benchmarks::flags::Flags;
use rookery_registry::{Instance, Query, Watch, protocol};

const USAGE: &str = "bench-balance [--iters N (1000000)] [--runs N (5)] [--sizes 3,10,100]";

fn instances(n: usize) -> Vec<Instance> {
    (0..n)
        .map(|i| {
            let mut instance = Instance::new("bench", "1.0.0".parse().unwrap())
                .with_address(protocol::THRIFT, format!("127.0.0.1:{}", 20_000 + i));
            instance.id = format!("instance-{i:04}");
            // Weights from 50 to 200, so weighted balancing has something to do.
            instance.weight = 50 + (i as u32 * 37) % 151;
            instance
        })
        .collect()
}

/// Gives every endpoint a latency sample, from 1 to 3 ms, as after some traffic.
fn warm(set: &EndpointSet) {
    for (i, e) in set.endpoints().iter().enumerate() {
        e.record_latency(Duration::from_micros(1000 + (i as u64 * 211) % 2000));
    }
}

fn balances() -> Vec<(&'static str, Balance)> {
    vec![
        ("random", Balance::random()),
        ("round_robin", Balance::round_robin()),
        ("weighted", Balance::weighted()),
        ("least_request", Balance::least_request()),
        ("p2c_ewma (default)", Balance::p2c_ewma()),
        (
            "consistent_hash",
            Balance::from(ConsistentHash::new().load_factor(1.25)),
        ),
    ]
}

/// 1024 keys, cycled through, for consistent hashing.
fn keys(balance: &Balance) -> Vec<Option<u64>> {
    (0..1024u64)
        .map(|k| {
            (balance.name() == "consistent_hash").then(|| BalanceKey::of(format!("user-{k}")).0)
        })
        .collect()
}

/// The median over `runs` runs of `f(iters)`, in ns per iteration.
fn median_ns(runs: usize, iters: usize, mut f: impl FnMut(usize)) -> f64 {
    f(iters / 10); // warm-up
    let mut samples: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f(iters);
            start.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn bench_pick(balance: &Balance, n: usize, runs: usize, iters: usize) -> f64 {
    let set = EndpointSet::new(instances(n));
    warm(&set);
    let selector = Selector::new(&set, balance, None);
    let keys = keys(balance);
    median_ns(runs, iters, |iters| {
        for i in 0..iters {
            let picked = selector.select(keys[i & 1023], &[]);
            black_box(picked);
        }
    })
}

fn bench_per_call(balance: &Balance, n: usize, runs: usize, iters: usize) -> f64 {
    let (tx, watch, _stop) = Watch::channel(Query::service("bench"));
    tx.publish(instances(n));
    let client = BalancedClient::builder("bench")
        .balance(balance.clone())
        .watch(watch);
    warm(&client.endpoints());
    let keys: Vec<Option<BalanceKey>> = keys(balance)
        .into_iter()
        .map(|k| k.map(BalanceKey))
        .collect();
    median_ns(runs, iters, |iters| {
        for i in 0..iters {
            let flight = client.start(keys[i & 1023]).unwrap();
            black_box(&flight);
            flight.answered();
        }
    })
}

/// ns per load of a shared snapshot, by `threads` threads at once.
fn bench_snapshot(threads: usize, runs: usize, iters: usize) -> [f64; 3] {
    let set = Arc::new(EndpointSet::new(instances(10)));
    let swap = Arc::new(ArcSwap::new(Arc::clone(&set)));
    let lock = Arc::new(RwLock::new(Arc::clone(&set)));
    let run = |f: &(dyn Fn(usize) + Sync)| {
        median_ns(runs, iters, |iters| {
            let barrier = Barrier::new(threads);
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| {
                        barrier.wait();
                        f(iters);
                    });
                }
            });
        })
    };
    let arc_swap_load = run(&|iters| {
        for _ in 0..iters {
            black_box(swap.load().len());
        }
    });
    let arc_swap_full = run(&|iters| {
        for _ in 0..iters {
            black_box(swap.load_full().len());
        }
    });
    let rwlock = run(&|iters| {
        for _ in 0..iters {
            let snapshot = Arc::clone(&lock.read().unwrap());
            black_box(snapshot.len());
        }
    });
    [arc_swap_load, arc_swap_full, rwlock]
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

fn main() {
    let flags = Flags::from_env_or_exit(&["iters", "runs", "sizes"], USAGE);
    let iters: usize = flags
        .get_or("iters", 1_000_000)
        .unwrap_or_else(|e| exit(&e));
    let runs: usize = flags.get_or("runs", 5).unwrap_or_else(|e| exit(&e));
    let sizes: Vec<usize> = flags
        .raw("sizes")
        .unwrap_or("3,10,100")
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .unwrap_or_else(|_| exit(&format!("bad size {s:?}")))
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();

    println!(
        "machine: {}; {runs} runs of {iters} iterations, median, ns per iteration\n",
        machine()
    );
    print!("| balancer | measure |");
    for n in &sizes {
        print!(" {n} endpoints |");
    }
    println!();
    print!("|---|---|");
    for _ in &sizes {
        print!("---:|");
    }
    println!();
    for (label, balance) in balances() {
        for (measure, f) in [
            (
                "pick",
                bench_pick as fn(&Balance, usize, usize, usize) -> f64,
            ),
            ("per call", bench_per_call),
        ] {
            print!("| {label} | {measure} |");
            for &n in &sizes {
                print!(" {:.1} |", f(&balance, n, runs, iters));
            }
            println!();
        }
    }

    println!("\n| loading the current set | 1 thread | 2 threads at once |");
    println!("|---|---:|---:|");
    let one = bench_snapshot(1, runs, iters);
    let two = bench_snapshot(2, runs, iters);
    for (i, name) in [
        "`ArcSwap::load` (guard; what a call uses)",
        "`ArcSwap::load_full` (Arc clone)",
        "`RwLock<Arc<_>>` read + Arc clone",
    ]
    .iter()
    .enumerate()
    {
        println!("| {name} | {:.1} | {:.1} |", one[i], two[i]);
    }
}

fn exit(message: &str) -> ! {
    eprintln!("{message}\n{USAGE}");
    std::process::exit(2)
}
