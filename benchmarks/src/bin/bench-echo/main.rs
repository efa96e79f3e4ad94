//! `bench-echo`: the echo benchmark, rookery side by side with volo-thrift and the raw
//! tokio ceiling over Thrift, with Kitex (client and server, each against either side's
//! counterpart) over Thrift, and rookery's gRPC side by side with tonic.
//!
//! For each payload, each concurrency level, and each framework in turn (so the machine's noise
//! hits all of them alike; every other round in the reverse order), it starts a fresh server process on a free loopback port,
//! runs that framework's client against it, samples the server's CPU time at the edges
//! of the measured window and its peak RSS, stops the server with SIGTERM, and finally
//! prints a markdown table and the ratios. See `benchmarks/README.md`.

mod kitex;
mod procfs;
mod report;
mod run;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rookery_benchmarks::flags::Flags;
use rookery_benchmarks::load::Mode;

use run::{ClientFlags, Load, Measurement, Peer, Program};

const USAGE: &str = "\
usage: bench-echo [--frameworks rookery,volo,raw] [--concurrency 1,100,1000]
                  [--duration SECS] [--warmup SECS] [--payload BYTES,...] [--connections N]
                  [--stream-concurrency C,...] [--stream-count N] [--stream-payload BYTES]
                  [--rounds R] [--bin-dir DIR] [--volo-bin-dir DIR] [--tonic-bin-dir DIR]
                  [--kitex-bin FILE] [--json FILE]

Runs the echo benchmark for every framework at every payload and concurrency level and
prints a markdown table with ratios. Frameworks: rookery, volo, raw (Thrift) and
rookery-grpc, tonic (gRPC); and the Kitex pairs over the IDL of interop/kitex, named
CLIENT[@SERVER] with CLIENT one of kitex-pooled, kitex-mux, rookery-kx-pooled,
rookery-kx-mux and SERVER the other framework's server (kitex-pooled@rookery,
rookery-kx-mux@kitex); kitex-matrix stands for all eight. The Kitex peer is built with Go
from interop/kitex unless --kitex-bin names it. Defaults: rookery,volo,raw, concurrency 1,100,1000,
--duration 10, --warmup 2, --payload 1024, --connections 1 (for the clients that take
it: rookery, raw, rookery-grpc and tonic; volo's pool opens one connection per call in
flight), --rounds 1. --stream-concurrency adds, for the frameworks that stream
(rookery-grpc, tonic), server-streaming runs at those levels: each call a `Stream` of
--stream-count responses (default 100) of --stream-payload bytes (default 1024).
With --rounds R the whole interleaved sweep runs R times (every other round with the
frameworks in reverse order) and the table shows, for each framework and level, the round
with the median QPS, and the QPS range over the rounds.
--bin-dir defaults to this binary's directory (target/release); --volo-bin-dir to
benchmarks/volo/target/release, --tonic-bin-dir to benchmarks/tonic/target/release.
--json also writes the measurements as JSON.";

const FLAGS: &[&str] = &[
    "frameworks",
    "concurrency",
    "duration",
    "warmup",
    "payload",
    "connections",
    "rounds",
    "bin-dir",
    "volo-bin-dir",
    "tonic-bin-dir",
    "kitex-bin",
    "stream-concurrency",
    "stream-count",
    "stream-payload",
    "json",
];

const KNOWN_FRAMEWORKS: &[&str] = &["rookery", "volo", "raw", "rookery-grpc", "tonic"];

struct Plan {
    frameworks: Vec<String>,
    levels: Vec<usize>,
    duration: Duration,
    warmup: Duration,
    payloads: Vec<usize>,
    connections: usize,
    /// The levels of the server-streaming runs; none when empty.
    stream_levels: Vec<usize>,
    stream_count: u32,
    stream_payload: usize,
    rounds: usize,
    bin_dir: PathBuf,
    volo_bin_dir: PathBuf,
    tonic_bin_dir: PathBuf,
    /// The Kitex peer's program, if given; built from `interop/kitex` otherwise.
    kitex_bin: Option<PathBuf>,
    json: Option<PathBuf>,
}

/// A comma-separated list of numbers, each checked by `valid`.
fn number_list(
    flags: &Flags,
    name: &str,
    default: &str,
    valid: fn(usize) -> bool,
) -> Result<Vec<usize>, String> {
    flags
        .raw(name)
        .unwrap_or(default)
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .ok()
                .filter(|&n| valid(n))
                .ok_or_else(|| format!("--{name}: `{s}` is not a valid number here"))
        })
        .collect()
}

fn plan_from(flags: &Flags) -> Result<Plan, String> {
    let mut frameworks: Vec<String> = Vec::new();
    for name in flags
        .raw("frameworks")
        .unwrap_or("rookery,volo,raw")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let names = if name == kitex::MATRIX_ALIAS {
            kitex::MATRIX
        } else {
            std::slice::from_ref(&name)
        };
        for &name in names {
            if !KNOWN_FRAMEWORKS.contains(&name) && kitex::pair(name).is_none() {
                return Err(format!(
                    "unknown framework `{name}`; known: {}, the Kitex pairs {} and {}",
                    KNOWN_FRAMEWORKS.join(", "),
                    kitex::MATRIX.join(", "),
                    kitex::MATRIX_ALIAS
                ));
            }
            if !frameworks.iter().any(|f| f == name) {
                frameworks.push(name.to_owned());
            }
        }
    }
    let levels = number_list(flags, "concurrency", "1,100,1000", |c| c > 0)?;
    let payloads = number_list(flags, "payload", "1024", |_| true)?;
    let stream_levels = number_list(flags, "stream-concurrency", "", |c| c > 0)?;
    let own_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target/release"));
    let default_volo_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("volo/target/release");
    let default_tonic_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tonic/target/release");
    let plan = Plan {
        frameworks,
        levels,
        duration: Duration::from_secs_f64(flags.get_or("duration", 10.0)?),
        warmup: Duration::from_secs_f64(flags.get_or("warmup", 2.0)?),
        payloads,
        connections: flags.get_or("connections", 1)?,
        stream_levels,
        stream_count: flags.get_or("stream-count", 100)?,
        stream_payload: flags.get_or("stream-payload", 1024)?,
        rounds: flags.get_or("rounds", 1)?,
        bin_dir: flags.get("bin-dir")?.unwrap_or(own_dir),
        volo_bin_dir: flags.get("volo-bin-dir")?.unwrap_or(default_volo_dir),
        tonic_bin_dir: flags.get("tonic-bin-dir")?.unwrap_or(default_tonic_dir),
        kitex_bin: flags.get("kitex-bin")?,
        json: flags.get("json")?,
    };
    if plan.duration.is_zero() {
        return Err("--duration must be positive".into());
    }
    if plan.rounds == 0 {
        return Err("--rounds must be at least 1".into());
    }
    if plan.connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    if plan.payloads.is_empty() {
        return Err("--payload needs at least one size".into());
    }
    if plan.stream_count == 0 {
        return Err("--stream-count must be at least 1".into());
    }
    Ok(plan)
}

impl Plan {
    /// Every load of one round, in the order they run: each payload at each level (unary),
    /// then the server-streaming levels.
    fn loads(&self) -> Vec<Load> {
        let load = |mode, payload, concurrency| Load {
            concurrency,
            duration: self.duration,
            warmup: self.warmup,
            payload,
            connections: self.connections,
            mode,
            stream_count: self.stream_count,
        };
        let mut loads = Vec::new();
        for &payload in &self.payloads {
            for &c in &self.levels {
                loads.push(load(Mode::Unary, payload, c));
            }
        }
        for &c in &self.stream_levels {
            loads.push(load(Mode::Stream, self.stream_payload, c));
        }
        loads
    }
}

/// The framework's binaries, or why it is skipped and how to build them.
fn find_peer(name: &str, plan: &Plan) -> Result<Peer, String> {
    let (dir, build_hint, takes_connections) = match name {
        "volo" => (
            &plan.volo_bin_dir,
            "build them with `cargo build --release --manifest-path benchmarks/volo/Cargo.toml` \
             (or point --volo-bin-dir at them)",
            false,
        ),
        "tonic" => (
            &plan.tonic_bin_dir,
            "build them with `cargo build --release --manifest-path benchmarks/tonic/Cargo.toml` \
             (or point --tonic-bin-dir at them)",
            true,
        ),
        "rookery" => (
            &plan.bin_dir,
            "they are the `rookery-benchmarks` bins `rookery-echo-server` and \
             `rookery-echo-client`; build them with `cargo build --release -p rookery-benchmarks` \
             (or point --bin-dir at them)",
            true,
        ),
        _ => (
            &plan.bin_dir,
            "build them with `cargo build --release -p rookery-benchmarks` (or point --bin-dir at them)",
            true,
        ),
    };
    let server = dir.join(format!("{name}-echo-server"));
    let client = dir.join(format!("{name}-echo-client"));
    let missing: Vec<String> = [&server, &client]
        .into_iter()
        .filter(|path| !path.is_file())
        .map(|path| path.display().to_string())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "skipping {name}: {} not found; {build_hint}",
            missing.join(" and ")
        ));
    }
    Ok(Peer {
        name: name.to_owned(),
        server: Program::bare(server),
        client: Program::bare(client),
        client_flags: ClientFlags::Contract { takes_connections },
        streams: matches!(name, "rookery-grpc" | "tonic"),
    })
}

fn main() {
    let flags = Flags::from_env_or_exit(FLAGS, USAGE);
    let plan = match plan_from(&flags) {
        Ok(plan) => plan,
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            std::process::exit(2);
        }
    };

    // The Kitex peer is built (or found) once, and only when a Kitex pair is asked for.
    let mut kitex_peer: Option<Result<PathBuf, String>> = None;
    let mut peers = Vec::new();
    for name in &plan.frameworks {
        let found = match kitex::pair(name) {
            Some(pair) => {
                let program = kitex_peer
                    .get_or_insert_with(|| kitex::peer_program(plan.kitex_bin.as_deref()));
                match program {
                    Ok(program) => kitex::peer(name, pair, program, &plan.bin_dir),
                    Err(message) => Err(format!("skipping {name}: {message}")),
                }
            }
            None => find_peer(name, &plan),
        };
        match found {
            Ok(peer) => peers.push(peer),
            Err(message) => eprintln!("{message}"),
        }
    }
    let kitex_peer = kitex_peer.and_then(Result::ok);
    if peers.is_empty() {
        eprintln!("nothing to run: no framework's binaries were found");
        std::process::exit(1);
    }

    let mut rows: Vec<Measurement> = Vec::new();
    let mut failures = Vec::new();
    // Interleaved: every framework at one level before the next level, and every level
    // before the next round, so that the machine's noise hits all frameworks alike.
    let loads = plan.loads();
    for round in 1..=plan.rounds {
        for load in &loads {
            let concurrency = load.concurrency;
            let workload = load.workload();
            // Every other round runs the frameworks in reverse, so that none always runs
            // right after the same neighbour (or first, on a machine just idle).
            let order: Vec<&Peer> = if round % 2 == 0 {
                peers.iter().rev().collect()
            } else {
                peers.iter().collect()
            };
            for peer in order {
                if load.mode == Mode::Stream && !peer.streams {
                    continue;
                }
                eprintln!(
                    "round {round}/{}: {} {workload} at c={concurrency} ...",
                    plan.rounds, peer.name
                );
                match run::measure(peer, load) {
                    Ok(row) => {
                        eprintln!(
                            "  {:.0} QPS, p50 {:.1} µs, p99 {:.1} µs, server {:.2} µs CPU/req, {:.1} MiB peak, {} errors",
                            row.qps,
                            row.p50_us,
                            row.p99_us,
                            row.server_cpu_us_per_call,
                            row.server_peak_rss_mib,
                            row.errors
                        );
                        rows.push(row);
                    }
                    Err(message) => {
                        eprintln!("  failed: {message}");
                        failures.push(format!(
                            "{} {workload} c={concurrency} round {round}: {message}",
                            peer.name
                        ));
                    }
                }
            }
        }
    }

    print_report(&plan, &peers, kitex_peer.as_deref(), &rows, &failures);
    if let Some(path) = &plan.json {
        if let Err(e) = std::fs::write(path, rows_json(&rows)) {
            eprintln!("cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
    if !failures.is_empty() {
        std::process::exit(1);
    }
}

fn print_report(
    plan: &Plan,
    peers: &[Peer],
    kitex_peer: Option<&Path>,
    rows: &[Measurement],
    failures: &[String],
) {
    let machine = procfs::Machine::describe();
    let command: Vec<String> = std::env::args().skip(1).collect();
    let names: Vec<&str> = peers.iter().map(|p| p.name.as_str()).collect();
    let payloads: Vec<String> = plan.payloads.iter().map(|p| p.to_string()).collect();
    println!(
        "### Echo, {} bytes, {}",
        payloads.join(", "),
        procfs::utc_now()
    );
    println!();
    println!("- command: `bench-echo {}`", command.join(" "));
    println!(
        "- machine: {}, {} CPUs (nproc), {:.0} GiB, Linux {}; servers and clients share it",
        machine.cpu_model, machine.cpus, machine.memory_gib, machine.kernel
    );
    println!(
        "- each run: a fresh server, {} s warm-up, {} s measured window; frameworks run: {}; \
         connections: {} for rookery, raw, rookery-grpc and tonic, volo's pool for volo",
        plan.warmup.as_secs_f64(),
        plan.duration.as_secs_f64(),
        names.join(", "),
        plan.connections
    );
    if let Some(kitex_peer) = kitex_peer {
        println!(
            "- Kitex pairs ({}): Thrift binary over TTHeader, `interop/kitex/idl/echo.thrift`, \
             each call `EchoRequest {{message: \"bench\", payload}}`; `CLIENT@SERVER` is CLIENT's \
             client on SERVER's server; pooled clients open one connection per call in flight, \
             mux clients share one multiplexed connection (the Kitex server runs with `--mux` \
             for them); --connections does not apply",
            kitex::describe(kitex_peer)
        );
    }
    println!();
    if !plan.stream_levels.is_empty() {
        println!(
            "- `stream×N`: one call is a server-streaming `Stream` of N responses, all read; \
             QPS counts calls (messages per second = N × QPS), latency is the whole call, \
             CPU is per call"
        );
        println!();
    }
    let summaries = report::summarize(rows, &names);
    if plan.rounds > 1 {
        println!(
            "Each row is the round with the median QPS of {} rounds; \"QPS range\" spans all rounds.",
            plan.rounds
        );
        println!();
    }
    print!(
        "{}",
        report::measurements_table(&summaries, plan.rounds > 1)
    );
    let ratios = report::ratios_table(&summaries);
    if !ratios.is_empty() {
        println!();
        print!("{ratios}");
    }
    if !failures.is_empty() {
        println!();
        println!("Failed runs:");
        for failure in failures {
            println!("- {failure}");
        }
    }
}

fn rows_json(rows: &[Measurement]) -> String {
    let list: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "framework": r.framework,
                "workload": r.workload,
                "concurrency": r.concurrency,
                "calls": r.calls,
                "errors": r.errors,
                "qps": r.qps,
                "p50_us": r.p50_us,
                "p99_us": r.p99_us,
                "p999_us": r.p999_us,
                "server_cpu_us_per_call": r.server_cpu_us_per_call,
                "client_cpu_us_per_call": r.client_cpu_us_per_call,
                "server_peak_rss_mib": r.server_peak_rss_mib,
            })
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}
