//! The markdown the runner prints: the measurements, then the ratios between frameworks.

use std::fmt::Write;

use crate::run::Measurement;

/// The comparisons worth a ratio row, as (numerator, denominator).
const RATIOS: &[(&str, &str)] = &[("rookery", "volo"), ("rookery", "raw"), ("volo", "raw")];

/// One markdown table of every measurement, in the order they were taken.
pub(crate) fn measurements_table(rows: &[Measurement]) -> String {
    let mut out = String::new();
    out.push_str(
        "| framework | c | QPS | p50 µs | p99 µs | p999 µs | server CPU µs/req | server peak RSS MiB | client CPU µs/req | errors |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.2} | {:.1} | {:.2} | {} |",
            row.framework,
            row.concurrency,
            row.qps,
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

/// Ratio rows for every pair in [`RATIOS`] measured at the same concurrency; empty when
/// no pair was measured.
pub(crate) fn ratios_table(rows: &[Measurement], levels: &[usize]) -> String {
    let mut lines = Vec::new();
    for &c in levels {
        let at = |name: &str| {
            rows.iter()
                .find(|r| r.concurrency == c && r.framework == name)
        };
        for &(top, bottom) in RATIOS {
            let (Some(a), Some(b)) = (at(top), at(bottom)) else {
                continue;
            };
            lines.push(format!(
                "| {c} | {top}/{bottom} | {} | {} | {} | {} |",
                ratio(a.qps, b.qps),
                ratio(a.p99_us, b.p99_us),
                ratio(a.server_cpu_us_per_call, b.server_cpu_us_per_call),
                ratio(a.server_peak_rss_mib, b.server_peak_rss_mib),
            ));
        }
    }
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "| c | ratio | QPS | p99 latency | server CPU per req | server peak RSS |\n|---:|---|---:|---:|---:|---:|\n",
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
    fn ratios_pair_frameworks_at_the_same_level() {
        let rows = [
            row("volo", 1, 100.0),
            row("raw", 1, 400.0),
            row("raw", 100, 900.0),
        ];
        let table = ratios_table(&rows, &[1, 100]);
        assert!(table.contains("| 1 | volo/raw | 0.25× |"), "{table}");
        assert!(!table.contains("| 100 |"), "{table}");
        assert!(!table.contains("rookery"), "{table}");
        assert!(ratios_table(&rows[2..], &[100]).is_empty());
    }

    #[test]
    fn measurements_table_has_one_line_per_row() {
        let table = measurements_table(&[row("raw", 1, 1234.4)]);
        assert_eq!(table.lines().count(), 3);
        assert!(table.contains("| raw | 1 | 1234 |"), "{table}");
    }
}
