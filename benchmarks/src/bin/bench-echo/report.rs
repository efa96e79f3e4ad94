//! The markdown the runner prints: the measurements, then the ratios between frameworks.

use std::fmt::Write;

use crate::run::Measurement;

/// The comparisons worth a ratio row, as (numerator, denominator).
const RATIOS: &[(&str, &str)] = &[
    ("rookery", "volo"),
    ("rookery", "raw"),
    ("volo", "raw"),
    ("rookery-grpc", "tonic"),
    // Kitex (see kitex.rs): both sides swapped, then only the server, then only the client.
    ("rookery-kx-pooled", "kitex-pooled"),
    ("kitex-pooled@rookery", "kitex-pooled"),
    ("rookery-kx-pooled@kitex", "kitex-pooled"),
    ("rookery-kx-mux", "kitex-mux"),
    ("kitex-mux@rookery", "kitex-mux"),
    ("rookery-kx-mux@kitex", "kitex-mux"),
    // Each at its usual setting: rookery multiplexed, Kitex pooled.
    ("rookery-kx-mux", "kitex-pooled"),
];

/// What the table shows for one framework at one level: the round with the median QPS,
/// and the QPS range over all rounds.
#[derive(Debug, Clone)]
pub(crate) struct Summary {
    pub(crate) row: Measurement,
    pub(crate) qps_min: f64,
    pub(crate) qps_max: f64,
}

/// The workload and level of each measurement, in the order first measured.
pub(crate) fn cells(rows: &[Measurement]) -> Vec<(String, usize)> {
    let mut cells: Vec<(String, usize)> = Vec::new();
    for r in rows {
        if !cells
            .iter()
            .any(|(w, c)| *w == r.workload && *c == r.concurrency)
        {
            cells.push((r.workload.clone(), r.concurrency));
        }
    }
    cells
}

/// One summary per framework, workload and level that has measurements: workload by
/// workload, level by level as first measured, and in the frameworks' order.
pub(crate) fn summarize(rows: &[Measurement], frameworks: &[&str]) -> Vec<Summary> {
    let mut summaries = Vec::new();
    for (workload, c) in cells(rows) {
        for &name in frameworks {
            let mut runs: Vec<&Measurement> = rows
                .iter()
                .filter(|r| r.workload == workload && r.concurrency == c && r.framework == name)
                .collect();
            if runs.is_empty() {
                continue;
            }
            runs.sort_by(|a, b| a.qps.total_cmp(&b.qps));
            summaries.push(Summary {
                row: runs[runs.len() / 2].clone(),
                qps_min: runs[0].qps,
                qps_max: runs[runs.len() - 1].qps,
            });
        }
    }
    summaries
}

/// One markdown table of the summaries; `with_range` adds the QPS range over rounds.
pub(crate) fn measurements_table(summaries: &[Summary], with_range: bool) -> String {
    let mut out = String::new();
    out.push_str("| framework | call | c | QPS |");
    if with_range {
        out.push_str(" QPS range |");
    }
    out.push_str(
        " p50 µs | p99 µs | p999 µs | server CPU µs/req | server peak RSS MiB | client CPU µs/req | errors |\n",
    );
    out.push_str("|---|---|---:|---:|");
    if with_range {
        out.push_str("---:|");
    }
    out.push_str("---:|---:|---:|---:|---:|---:|---:|\n");
    for Summary {
        row,
        qps_min,
        qps_max,
    } in summaries
    {
        let _ = write!(
            out,
            "| {} | {} | {} | {:.0} |",
            row.framework, row.workload, row.concurrency, row.qps
        );
        if with_range {
            let _ = write!(out, " {qps_min:.0}–{qps_max:.0} |");
        }
        let _ = writeln!(
            out,
            " {:.1} | {:.1} | {:.1} | {:.2} | {:.1} | {:.2} | {} |",
            row.p50_us,
            row.p99_us,
            row.p999_us,
            row.server_cpu_us_per_call,
            row.server_peak_rss_mib,
            row.client_cpu_us_per_call,
            row.errors,
        );
    }
    out
}

/// Ratio rows for every pair in [`RATIOS`] measured on the same workload at the same
/// concurrency; empty when no pair was measured.
pub(crate) fn ratios_table(summaries: &[Summary]) -> String {
    let rows: Vec<Measurement> = summaries.iter().map(|s| s.row.clone()).collect();
    let mut lines = Vec::new();
    for (workload, c) in cells(&rows) {
        let at = |name: &str| {
            rows.iter()
                .find(|r| r.workload == workload && r.concurrency == c && r.framework == name)
        };
        for &(top, bottom) in RATIOS {
            let (Some(a), Some(b)) = (at(top), at(bottom)) else {
                continue;
            };
            lines.push(format!(
                "| {workload} | {c} | {top}/{bottom} | {} | {} | {} | {} | {} | {} |",
                ratio(a.qps, b.qps),
                ratio(a.p50_us, b.p50_us),
                ratio(a.p99_us, b.p99_us),
                ratio(a.server_cpu_us_per_call, b.server_cpu_us_per_call),
                ratio(a.client_cpu_us_per_call, b.client_cpu_us_per_call),
                ratio(a.server_peak_rss_mib, b.server_peak_rss_mib),
            ));
        }
    }
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "| call | c | ratio | QPS | p50 latency | p99 latency | server CPU per req | client CPU per req | server peak RSS |\n|---|---:|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b > 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "–".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(framework: &str, concurrency: usize, qps: f64) -> Measurement {
        Measurement {
            framework: framework.into(),
            workload: "unary 1024 B".into(),
            concurrency,
            calls: 10,
            errors: 0,
            qps,
            p50_us: 10.0,
            p99_us: 20.0,
            p999_us: 30.0,
            server_cpu_us_per_call: 5.0,
            client_cpu_us_per_call: 4.0,
            server_peak_rss_mib: 8.0,
        }
    }

    #[test]
    fn summaries_take_the_median_round() {
        let rows = [
            row("raw", 1, 300.0),
            row("raw", 1, 100.0),
            row("raw", 1, 200.0),
            row("volo", 1, 50.0),
        ];
        let summaries = summarize(&rows, &["rookery", "volo", "raw"]);
        assert_eq!(summaries.len(), 2);
        assert_eq!(summaries[0].row.framework, "volo");
        assert_eq!(summaries[1].row.qps, 200.0);
        assert_eq!((summaries[1].qps_min, summaries[1].qps_max), (100.0, 300.0));
    }

    #[test]
    fn ratios_pair_frameworks_at_the_same_level() {
        let rows = [
            row("volo", 1, 100.0),
            row("raw", 1, 400.0),
            row("raw", 100, 900.0),
        ];
        let summaries = summarize(&rows, &["volo", "raw"]);
        let table = ratios_table(&summaries);
        assert!(
            table.contains("| unary 1024 B | 1 | volo/raw | 0.25× |"),
            "{table}"
        );
        assert!(!table.contains("| 100 |"), "{table}");
        assert!(!table.contains("rookery"), "{table}");
        assert!(ratios_table(&summaries[2..]).is_empty());
    }

    #[test]
    fn kitex_pairs_are_compared_with_kitex_alone() {
        let rows = [
            row("kitex-mux", 100, 100.0),
            row("rookery-kx-mux", 100, 130.0),
            row("rookery-kx-mux@kitex", 100, 110.0),
            row("kitex-pooled", 100, 50.0),
        ];
        let names = [
            "kitex-pooled",
            "rookery-kx-mux",
            "rookery-kx-mux@kitex",
            "kitex-mux",
        ];
        let table = ratios_table(&summarize(&rows, &names));
        assert!(
            table.contains("| unary 1024 B | 100 | rookery-kx-mux/kitex-mux | 1.30× |"),
            "{table}"
        );
        assert!(
            table.contains("| unary 1024 B | 100 | rookery-kx-mux@kitex/kitex-mux | 1.10× |"),
            "{table}"
        );
        assert!(
            table.contains("| unary 1024 B | 100 | rookery-kx-mux/kitex-pooled | 2.60× |"),
            "{table}"
        );
        assert_eq!(table.lines().count(), 5, "{table}");
    }

    #[test]
    fn workloads_are_summarized_and_compared_apart() {
        let mut stream = row("tonic", 1, 10.0);
        stream.workload = "stream×100 1024 B".into();
        let mut grpc_stream = row("rookery-grpc", 1, 20.0);
        grpc_stream.workload = stream.workload.clone();
        let rows = [
            row("tonic", 1, 100.0),
            row("rookery-grpc", 1, 150.0),
            stream,
            grpc_stream,
        ];
        let summaries = summarize(&rows, &["rookery-grpc", "tonic"]);
        assert_eq!(summaries.len(), 4);
        let table = ratios_table(&summaries);
        assert!(
            table.contains("| unary 1024 B | 1 | rookery-grpc/tonic | 1.50× |"),
            "{table}"
        );
        assert!(
            table.contains("| stream×100 1024 B | 1 | rookery-grpc/tonic | 2.00× |"),
            "{table}"
        );
    }

    #[test]
    fn measurements_table_has_one_line_per_row() {
        let summaries = summarize(&[row("raw", 1, 1234.4)], &["raw"]);
        let table = measurements_table(&summaries, false);
        assert_eq!(table.lines().count(), 3);
        assert!(
            table.contains("| raw | unary 1024 B | 1 | 1234 |"),
            "{table}"
        );
        let table = measurements_table(&summaries, true);
        assert!(
            table.contains("| raw | unary 1024 B | 1 | 1234 | 1234–1234 |"),
            "{table}"
        );
    }
}
