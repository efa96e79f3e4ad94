//! `bench-echo`: the 1 KiB echo benchmark, rookery side by side with volo-thrift and the
//! raw tokio ceiling.
//!
//! For each concurrency level, and for each framework in turn (so the machine's noise
//! hits all of them alike), it starts a fresh server process on a free loopback port,
//! runs that framework's client against it, samples the server's CPU time at the edges
//! of the measured window and its peak RSS, stops the server with SIGTERM, and finally
//! prints a markdown table and the ratios. See `benchmarks/README.md`.

mod procfs;
mod report;
mod run;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rookery_benchmarks::flags::Flags;

use run::{Load, Measurement, Peer};

const USAGE: &str = "\
usage: bench-echo [--frameworks rookery,volo,raw] [--concurrency 1,100,1000]
                  [--duration SECS] [--warmup SECS] [--payload BYTES] [--connections N]
                  [--rounds R] [--bin-dir DIR] [--volo-bin-dir DIR] [--json FILE]

Runs the echo benchmark for every framework at every concurrency level and prints a
markdown table with ratios. Defaults: all three frameworks, concurrency 1,100,1000,
--duration 10, --warmup 2, --payload 1024, --connections 1 (for the clients that take
it: rookery and raw; volo's pool opens one connection per call in flight), --rounds 1.
With --rounds R the whole interleaved sweep runs R times and the table shows, for each
framework and level, the round with the median QPS, and the QPS range over the rounds.
--bin-dir defaults to this binary's directory (target/release); --volo-bin-dir to
benchmarks/volo/target/release. --json also writes the measurements as JSON.";

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
    "json",
];

const KNOWN_FRAMEWORKS: &[&str] = &["rookery", "volo", "raw"];

struct Plan {
    frameworks: Vec<String>,
    levels: Vec<usize>,
    duration: Duration,
    warmup: Duration,
    payload: usize,
    connections: usize,
    rounds: usize,
    bin_dir: PathBuf,
    volo_bin_dir: PathBuf,
    json: Option<PathBuf>,
}

fn plan_from(flags: &Flags) -> Result<Plan, String> {
    let frameworks: Vec<String> = flags
        .raw("frameworks")
        .unwrap_or("rookery,volo,raw")
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(unknown) = frameworks
        .iter()
        .find(|f| !KNOWN_FRAMEWORKS.contains(&f.as_str()))
    {
        return Err(format!(
            "unknown framework `{unknown}`; known: {}",
            KNOWN_FRAMEWORKS.join(", ")
        ));
    }
    let levels = flags
        .raw("concurrency")
        .unwrap_or("1,100,1000")
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<usize>()
                .ok()
                .filter(|&c| c > 0)
                .ok_or_else(|| format!("--concurrency: `{s}` is not a positive number"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let own_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target/release"));
    let default_volo_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("volo/target/release");
    let plan = Plan {
        frameworks,
        levels,
        duration: Duration::from_secs_f64(flags.get_or("duration", 10.0)?),
        warmup: Duration::from_secs_f64(flags.get_or("warmup", 2.0)?),
        payload: flags.get_or("payload", 1024)?,
        connections: flags.get_or("connections", 1)?,
        rounds: flags.get_or("rounds", 1)?,
        bin_dir: flags.get("bin-dir")?.unwrap_or(own_dir),
        volo_bin_dir: flags.get("volo-bin-dir")?.unwrap_or(default_volo_dir),
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
    Ok(plan)
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
        server,
        client,
        takes_connections,
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

    let mut peers = Vec::new();
    for name in &plan.frameworks {
        match find_peer(name, &plan) {
            Ok(peer) => peers.push(peer),
            Err(message) => eprintln!("{message}"),
        }
    }
    if peers.is_empty() {
        eprintln!("nothing to run: no framework's binaries were found");
        std::process::exit(1);
    }

    let mut rows: Vec<Measurement> = Vec::new();
    let mut failures = Vec::new();
    // Interleaved: every framework at one level before the next level, and every level
    // before the next round, so that the machine's noise hits all frameworks alike.
    for round in 1..=plan.rounds {
        for &concurrency in &plan.levels {
            for peer in &peers {
                let load = Load {
                    concurrency,
                    duration: plan.duration,
                    warmup: plan.warmup,
                    payload: plan.payload,
                    connections: plan.connections,
                };
                eprintln!(
                    "round {round}/{}: {} at c={concurrency} ...",
                    plan.rounds, peer.name
                );
                match run::measure(peer, &load) {
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
                            "{} c={concurrency} round {round}: {message}",
                            peer.name
                        ));
                    }
                }
            }
        }
    }

    print_report(&plan, &peers, &rows, &failures);
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

fn print_report(plan: &Plan, peers: &[Peer], rows: &[Measurement], failures: &[String]) {
    let machine = procfs::Machine::describe();
    let command: Vec<String> = std::env::args().skip(1).collect();
    let names: Vec<&str> = peers.iter().map(|p| p.name.as_str()).collect();
    println!("### Echo, {} bytes, {}", plan.payload, procfs::utc_now());
    println!();
    println!("- command: `bench-echo {}`", command.join(" "));
    println!(
        "- machine: {}, {} CPUs (nproc), {:.0} GiB, Linux {}; servers and clients share it",
        machine.cpu_model, machine.cpus, machine.memory_gib, machine.kernel
    );
    println!(
        "- each run: a fresh server, {} s warm-up, {} s measured window; frameworks run: {}; \
         connections: {} for rookery and raw, volo's pool for volo",
        plan.warmup.as_secs_f64(),
        plan.duration.as_secs_f64(),
        names.join(", "),
        plan.connections
    );
    println!();
    let summaries = report::summarize(rows, &plan.levels, &names);
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
    let ratios = report::ratios_table(&summaries, &plan.levels);
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
